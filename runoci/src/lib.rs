//! runoci: a daemonless OCI container runtime.
pub mod cgroups;
pub mod lifecycle;
pub mod spec;
