//! pidfd_open(2) and pidfd_send_signal(2) (nix 0.29 has neither).

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

pub fn open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: integer arguments only; returns a new fd or -1.
    let fd = super::check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel just made this fd for us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `signal` as a raw number: real-time signals are allowed.
pub fn send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> std::io::Result<()> {
    // SAFETY: integer arguments and a NULL siginfo, which the kernel
    // replaces with the one kill(2) would send.
    super::check(unsafe {
        libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), signal, 0, 0)
    })?;
    Ok(())
}
