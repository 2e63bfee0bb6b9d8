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
