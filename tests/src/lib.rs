//! Shared helpers for runoci integration tests.
