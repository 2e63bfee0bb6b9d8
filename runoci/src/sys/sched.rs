//! sched_setattr(2) (no libc or nix wrapper) and sched_setaffinity(2) with
//! a mask of any size (nix's `CpuSet` stops at 1024 CPUs).

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

/// clone(2) with `flags` and no new stack, which behaves like fork: the
/// child runs on a copy of our stack, calls `child` and never comes back
/// here. Returns the child's pid. Same contract as
/// `runoci_core::sys::process::fork`: the callers are single-threaded,
/// which is what lets the child allocate.
pub fn clone_like_fork(
    flags: libc::c_ulong,
    child: impl FnOnce() -> std::convert::Infallible,
) -> std::io::Result<i32> {
    // SAFETY: single-threaded caller (see above); with a NULL stack the
    // child gets a copy-on-write copy of ours, as after fork, and it
    // leaves only through `child`, which never returns.
    let pid = super::check(unsafe {
        libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize)
    })?;
    if pid == 0 {
        child();
    }
    Ok(pid as i32)
}
