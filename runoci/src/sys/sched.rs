//! sched_setattr(2) (no libc or nix wrapper) and sched_setaffinity(2) with
//! a mask of any size (nix's `CpuSet` stops at 1024 CPUs), and clone(2) /
//! clone3(2) with fork semantics.

use std::os::fd::{AsRawFd, BorrowedFd};

/// `struct sched_attr` as of `SCHED_ATTR_SIZE_VER1` (with the utilization
/// clamps, which `SCHED_FLAG_UTIL_CLAMP_*` need the kernel to read).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SchedAttr {
    /// Filled in by `set_own_attr`.
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

/// Sets the calling thread's scheduling policy and parameters.
pub fn set_own_attr(attr: &SchedAttr) -> std::io::Result<()> {
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        ..*attr
    };
    // SAFETY: `attr` is a valid sched_attr whose size field is its own
    // size; the kernel only reads it. pid 0 is the caller, flags 0.
    super::check(unsafe {
        libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0u32)
    })?;
    Ok(())
}

/// Sets the CPU affinity of thread `pid` (0: the caller) to `mask`, bit
/// `n` of word `n / 64` for CPU `n`; CPUs past the mask are not allowed.
pub fn set_affinity(pid: i32, mask: &[u64]) -> std::io::Result<()> {
    let bytes = std::mem::size_of_val(mask);
    // SAFETY: the kernel reads `bytes` bytes from `mask`, which holds
    // them; a mask of whole 64-bit words is the unit it expects.
    let ret = unsafe { libc::sched_setaffinity(pid, bytes, mask.as_ptr().cast()) };
    super::check(libc::c_long::from(ret))?;
    Ok(())
}

/// `struct clone_args` up to `cgroup` (`CLONE_ARGS_SIZE_VER2`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// clone(2) with `flags` (the exit signal in the low byte) and no new
/// stack, which behaves like fork: the child runs on a copy of our stack,
/// calls `child` and never comes back here. With `into_cgroup` (a cgroup2
/// directory), clone3(2) with `CLONE_INTO_CGROUP` first: the child is
/// born in that cgroup, without the global lock a later write of its pid
/// to `cgroup.procs` takes. Where that fails (no clone3, a cgroup that
/// takes no process, a seccomp filter) the plain clone follows: a failed
/// clone3 made nothing, and a failure that is not the cgroup's is the
/// plain clone's too. Returns the child's pid and whether it was born in
/// the cgroup. Same contract as `runoci_core::sys::process::fork`: the
/// callers are single-threaded, which is what lets the child allocate.
pub fn clone_like_fork(
    flags: libc::c_ulong,
    into_cgroup: Option<BorrowedFd<'_>>,
    child: impl FnOnce() -> std::convert::Infallible,
) -> std::io::Result<(i32, bool)> {
    let mut placed = None;
    if let Some(fd) = into_cgroup {
        let args = CloneArgs {
            flags: (flags & !0xff) | CLONE_INTO_CGROUP,
            exit_signal: flags & 0xff,
            cgroup: fd.as_raw_fd() as u64,
            ..CloneArgs::default()
        };
        // SAFETY: as the clone below (no stack: fork semantics); the
        // kernel reads `args`, which is valid for its size.
        placed = super::check(unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        })
        .ok();
    }
    let pid = match placed {
        Some(pid) => pid,
        // SAFETY: single-threaded caller (see above); with a NULL stack the
        // child gets a copy-on-write copy of ours, as after fork, and it
        // leaves only through `child`, which never returns.
        None => super::check(unsafe {
            libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize)
        })?,
    };
    if pid == 0 {
        child();
    }
    Ok((pid as i32, placed.is_some()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn clone_args_has_the_size_of_the_kernel_s_ver2() {
        // CLONE_ARGS_SIZE_VER2: the first size with the cgroup field.
        assert_eq!(std::mem::size_of::<super::CloneArgs>(), 88);
    }
}
