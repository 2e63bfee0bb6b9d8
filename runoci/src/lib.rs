//! runoci: a daemonless OCI container runtime.
pub mod cgroups;
pub mod cli;
pub mod commands;
pub mod container;
pub mod error;
pub mod hooks;
pub mod ids;
pub mod init;
pub mod lifecycle;
pub mod log;
pub mod namespaces;
pub mod process;
pub mod procfs;
pub mod rootfs;
pub mod spec;
pub mod state;
pub mod sync;
