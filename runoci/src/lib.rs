//! runoci: a daemonless OCI container runtime.
pub mod lifecycle;
pub mod spec;
