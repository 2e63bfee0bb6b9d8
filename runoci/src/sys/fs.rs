//! The fd-returning file calls `resolve` builds on. nix 0.29 wraps
//! openat, openat2 and dup but returns a bare `RawFd`, which takes
//! `unsafe` to own; these return the `OwnedFd` directly.

use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// openat(2) of `name` under `dir` (any fd or AT_FDCWD).
pub fn openat(
    dir: RawFd,
    name: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> std::io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated name; an fd number the kernel checks.
    let fd = super::check(unsafe { libc::openat(dir, name.as_ptr(), flags, mode) }.into())?;
    // SAFETY: the kernel just made this fd for us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// openat2(2) of `path` under `dir` with `flags` and `resolve`
/// (RESOLVE_*). One attempt: EAGAIN and EINTR are the caller's to retry.
pub fn openat2(dir: RawFd, path: &CStr, flags: u64, resolve: u64) -> std::io::Result<OwnedFd> {
    // SAFETY: open_how is plain data; all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags;
    how.resolve = resolve;
    // SAFETY: valid pointers for the call's duration, `how` of the size
    // passed; the kernel copies both and writes nothing back.
    let fd = super::check(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    })?;
    // SAFETY: the kernel just made this fd for us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A close-on-exec duplicate of `fd` (F_DUPFD_CLOEXEC).
pub fn dup_cloexec(fd: RawFd) -> std::io::Result<OwnedFd> {
    // SAFETY: integer arguments only; returns a new fd or -1.
    let n = super::check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) }.into())?;
    // SAFETY: the kernel just made this fd for us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(n as RawFd) })
}
