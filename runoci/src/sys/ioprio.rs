//! ioprio_set(2), which libc and nix do not wrap.

/// `IOPRIO_WHO_PROCESS` (`<linux/ioprio.h>`).
const WHO_PROCESS: libc::c_long = 1;
/// The class sits above 13 bits of level data.
const CLASS_SHIFT: u32 = 13;

/// Sets the calling thread's I/O class and level (`IOPRIO_CLASS_*`, 0..=7);
/// children forked after inherit it.
pub fn set_own(class: u16, level: u16) -> std::io::Result<()> {
    let prio = (libc::c_long::from(class) << CLASS_SHIFT) | libc::c_long::from(level);
    // SAFETY: integer arguments only; who 0 is the caller.
    super::check(unsafe { libc::syscall(libc::SYS_ioprio_set, WHO_PROCESS, 0, prio) })?;
    Ok(())
}
