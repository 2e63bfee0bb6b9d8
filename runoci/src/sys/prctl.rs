//! prctl(2) options nix::sys::prctl does not cover.

use std::ffi::CStr;

/// PR_ALT_SYSCALL / SET_SYSCALL_TABLE: Chromium OS's alternate syscall
/// table `table` (a prctl only its kernels have).
pub fn set_alt_syscall_table(table: &CStr) -> std::io::Result<()> {
    const PR_ALT_SYSCALL: libc::c_int = 0x4372_4f53;
    const PR_ALT_SYSCALL_SET_SYSCALL_TABLE: libc::c_ulong = 1;
    let (option, arg) = (PR_ALT_SYSCALL, PR_ALT_SYSCALL_SET_SYSCALL_TABLE);
    // SAFETY: the kernel reads a NUL-terminated string from `table`.
    let rc = unsafe { libc::prctl(option, arg, table.as_ptr(), 0, 0) };
    super::check(rc.into())?;
    Ok(())
}
