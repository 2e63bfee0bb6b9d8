//! `linux.altSyscall`: Chromium OS's alternate syscall table (a prctl only
//! its kernels have).

use crate::error::{Error, Result};
use crate::spec::Spec;

pub fn apply(spec: &Spec) -> Result<()> {
    let Some(table) = spec.linux.as_ref().and_then(|l| l.alt_syscall.as_deref()) else {
        return Ok(());
    };
    const PR_ALT_SYSCALL: libc::c_int = 0x4372_4f53;
    const PR_ALT_SYSCALL_SET_SYSCALL_TABLE: libc::c_ulong = 1;
    let c =
        std::ffi::CString::new(table).map_err(|_| Error::new("linux.altSyscall contains NUL"))?;
    // SAFETY: prctl with a valid C string pointer.
    let rc = unsafe {
        libc::prctl(
            PR_ALT_SYSCALL,
            PR_ALT_SYSCALL_SET_SYSCALL_TABLE,
            c.as_ptr(),
            0,
            0,
        )
    };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::new(format!(
            "linux.altSyscall {table:?}: this kernel has no alternate syscall tables (a Chromium OS kernel feature): {e}"
        )));
    }
    Ok(())
}
