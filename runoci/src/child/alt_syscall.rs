//! `linux.altSyscall`: Chromium OS's alternate syscall table (a prctl only
//! its kernels have).

use crate::error::{Error, Result};
use crate::spec::Spec;

pub fn apply(spec: &Spec) -> Result<()> {
    let Some(table) = spec.linux.as_ref().and_then(|l| l.alt_syscall.as_deref()) else {
        return Ok(());
    };
    let c =
        std::ffi::CString::new(table).map_err(|_| Error::new("linux.altSyscall contains NUL"))?;
    if let Err(e) = crate::sys::prctl::set_alt_syscall_table(&c) {
        return Err(Error::new(format!(
            "linux.altSyscall {table:?}: this kernel has no alternate syscall tables (a Chromium OS kernel feature): {e}"
        )));
    }
    Ok(())
}
