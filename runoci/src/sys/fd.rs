//! close_range(2) (nix 0.29 has none).

/// Close (flags 0) or mark close-on-exec (`CLOSE_RANGE_CLOEXEC`) every fd
/// from `first` up. Closing fds that live Rust objects own would leave
/// them dangling: the callers do it right before exec, or in a process
/// that uses no fd above the range's start from then on.
pub fn close_range(first: u32, flags: libc::c_uint) -> std::io::Result<()> {
    // SAFETY: integer arguments; it affects only this process's fd table,
    // on the terms above.
    super::check(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, flags) })?;
    Ok(())
}
