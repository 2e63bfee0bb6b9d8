//! Container cgroups on cgroup v1, v2 and hybrid machines, managed through
//! cgroupfs (the systemd driver, which asks systemd for the cgroup over
//! D-Bus and then writes here too, is in the runoci crate).
//!
//! - `layout`: which hierarchies are mounted where (from mountinfo);
//! - `path`: where the container's cgroup goes (`resolve_path`);
//! - `cgroup`: creating, joining and removing it (`join`: the init
//!   joining by itself); `signal`: signalling
//!   and freezing it;
//! - `apply`: writing `linux.resources` to it, through `v1` / `v2`, with
//!   `validate`, `convert` (v1 ↔ v2 values), `devices` (v1 rules) and
//!   `devices_bpf` (the same rules as a cgroup2 BPF device program);
//! - `host`: what this host's hierarchies can take, checked at load;
//! - `fs`: the only place that opens control files (no symlinks, no FIFOs);
//! - `stats`: usage figures in runc's `events --stats` shape.

mod apply;
mod cgroup;
pub mod convert;
pub mod devices;
pub mod devices_bpf;
mod error;
mod fs;
mod host;
mod join;
mod layout;
mod path;
mod signal;
mod stats;
mod v1;
mod v2;
mod validate;

#[cfg(test)]
mod tests_fake_tree;
#[cfg(test)]
mod tests_real;
#[cfg(test)]
mod testutil;

pub use cgroup::{parse_oom_kill, Cgroup, CgroupRecord, CgroupVersion, Hierarchy};
pub use error::CgroupError;
pub use host::check_host;
pub use join::{join_self, JoinFds};
pub use layout::{pure_v2, Layout, CGROUP_ROOT};
pub use path::{
    parse_exec_sub_cgroups, parse_systemd_path, resolve_path, ExecSubCgroups, SystemdCgroupPath,
};
