//! The container's init joins its cgroups without anyone writing its pid
//! to `cgroup.procs`. Writing another task's pid (or a whole thread
//! group) takes the kernel's global `cgroup_threadgroup_rwsem` for
//! writing, which waits for an RCU grace period: milliseconds on a busy
//! host. A task moving itself as a single thread (`0` to a v1 `tasks`
//! file) does not, nor does clone3(CLONE_INTO_CGROUP), which places the
//! child in its cgroup2 directory at fork (tests/bench/README.md).
//!
//! The runtime opens the files before the clone ([`Cgroup::open_for_join`]);
//! the child, still single-threaded, writes through the fds it inherited
//! ([`join_self`]) and says which writes failed; the runtime then writes
//! the pid into every hierarchy the child is not in
//! ([`Cgroup::add_pid_except`]), as before.

use super::cgroup::{Cgroup, CgroupVersion};
use super::error::CgroupError;
use super::fs::open_regular;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

/// What the init is given to join its cgroups; indices are those of
/// [`Cgroup::hierarchies`].
#[derive(Debug, Default)]
pub struct JoinFds {
    /// Each v1 hierarchy's `tasks` file, open for writing. Opened by the
    /// runtime: the kernel checks a cgroup1 migration against the
    /// credentials the file was opened with (not the writer's, which in a
    /// new user namespace are unmapped yet), and the child needs no path.
    pub tasks: Vec<(usize, OwnedFd)>,
    /// The cgroup2 directory, for clone3(CLONE_INTO_CGROUP).
    pub unified: Option<(usize, OwnedFd)>,
}

impl Cgroup {
    /// Opens what the init needs to join this cgroup by itself. A file
    /// that does not open is left out: the runtime's own write to that
    /// hierarchy then reports why.
    pub fn open_for_join(&self) -> JoinFds {
        let mut fds = JoinFds::default();
        for (i, h) in self.hierarchies().iter().enumerate() {
            match h.version {
                CgroupVersion::V1 => {
                    if let Ok(f) = open_regular(&h.dir.join("tasks"), true) {
                        fds.tasks.push((i, f.into()));
                    }
                }
                CgroupVersion::V2 => {
                    let dir = std::fs::OpenOptions::new()
                        .read(true)
                        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
                        .open(&h.dir);
                    if let Ok(d) = dir {
                        fds.unified = Some((i, d.into()));
                    }
                }
            }
        }
        fds
    }

    /// Moves process `pid` into the cgroup in every hierarchy but those
    /// whose indices are in `joined` (the init is there already).
    pub fn add_pid_except(&self, pid: i32, joined: &[usize]) -> Result<(), CgroupError> {
        for (i, hierarchy) in self.hierarchies().iter().enumerate() {
            if !joined.contains(&i) {
                super::fs::write_file(&hierarchy.dir.join("cgroup.procs"), &pid.to_string())?;
            }
        }
        Ok(())
    }
}

/// In the child, single-threaded (so moving the calling thread moves the
/// whole process): writes `0` (itself) to each `tasks` file of `tasks`.
/// Returns the hierarchies it did not join, with the error.
pub fn join_self(tasks: &[(usize, OwnedFd)]) -> Vec<(usize, String)> {
    let mut failed = Vec::new();
    for (i, fd) in tasks {
        match nix::unistd::write(fd.as_fd(), b"0") {
            Ok(1) => {}
            Ok(n) => failed.push((*i, format!("short write ({n} of 1 byte)"))),
            Err(e) => failed.push((*i, e.to_string())),
        }
    }
    failed
}
