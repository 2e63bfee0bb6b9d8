//! File calls nix does not wrap as we need them.

use std::os::fd::{AsRawFd, BorrowedFd};

/// flock(2) on `fd` (`op`: LOCK_EX, LOCK_SH, LOCK_UN, with LOCK_NB).
/// Not nix's `Flock`: its drop unlocks, and a flock belongs to the open
/// file description, which a forked or cloned child shares; the creator's
/// parent dropping its copy must not release the lock its child holds.
pub fn flock(fd: BorrowedFd<'_>, op: i32) -> std::io::Result<()> {
    // SAFETY: integer arguments only.
    super::check(unsafe { libc::flock(fd.as_raw_fd(), op) }.into())?;
    Ok(())
}

/// The mount id of `fd` (statx STATX_MNT_ID); `None` where the kernel
/// cannot tell (before 5.8). nix 0.29 has no statx.
pub fn mount_id(fd: BorrowedFd<'_>) -> Option<u64> {
    // SAFETY: statx is plain data; all-zero is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: an empty C string with AT_EMPTY_PATH names `fd` itself; the
    // kernel writes only into `stx`, which outlives the call.
    let rc = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_MNT_ID,
            &mut stx,
        )
    };
    (rc == 0 && stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id)
}
