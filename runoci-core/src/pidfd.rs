//! pidfds: a handle on one process that a recycled pid can never alias.
//! Everything runoci signals or waits for, it does through one.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub fn open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: plain syscall returning a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A pidfd of `pid` if it is still the process that started at
/// `start_time` (/proc/PID/stat field 22). Checked after the pidfd exists:
/// a match then means the pidfd names that process, whatever becomes of
/// the pid later.
pub fn open_verified(pid: i32, start_time: u64) -> Option<OwnedFd> {
    if !crate::procfs::same_process(pid, start_time) {
        return None;
    }
    let fd = open(pid).ok()?;
    crate::procfs::same_process(pid, start_time).then_some(fd)
}

pub fn send_signal(pidfd: &OwnedFd, signal: i32) -> std::io::Result<()> {
    // SAFETY: pidfd_send_signal on an fd we own, no siginfo.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), signal, 0, 0) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Wait until the process of `pidfd` has exited (a zombie counts), up to
/// `limit`. True if it has.
pub fn wait_exit(pidfd: &OwnedFd, limit: std::time::Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        // SAFETY: one pollfd we own, for the given time.
        let rc = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if rc > 0 {
            return true;
        }
        if rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}
