//! Container cgroups on cgroup v1, v2 and hybrid machines, managed through
//! cgroupfs (no systemd D-Bus).
//!
//! - `layout`: which hierarchies are mounted where (from mountinfo);
//! - `path`: where the container's cgroup goes (`resolve_path`);
//! - `validate`, `convert` (v1 ↔ v2 values) and `devices` (v1 rules);
//! - `fs`: the only place that opens control files (no symlinks, no FIFOs).

pub mod convert;
pub mod devices;
mod error;
mod fs;
mod layout;
mod path;
mod validate;

#[cfg(test)]
mod testutil;

pub use error::CgroupError;
pub use layout::Layout;
pub use path::resolve_path;
