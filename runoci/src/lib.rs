//! runoci: a daemonless OCI container runtime. This crate creates
//! containers; what the monitor shares with it is `runoci_core`.
// The error type and the config model are used in nearly every module.
pub use runoci_core::{debug, error, spec};
pub mod cgroup_setup;
pub mod child;
pub mod cli;
pub mod commands;
pub mod console;
pub mod container;
pub mod criu;
pub mod exec;
pub mod fdpass;
pub mod log;
pub mod namespaces;
pub mod netdev;
pub mod notify_socket;
pub mod options;
pub mod process;
pub mod procfs;
pub mod resolve;
pub mod rootfs;
pub mod seccomp;
pub mod seccomp_cache;
pub mod sync;
pub mod sys;
pub mod systemd;
