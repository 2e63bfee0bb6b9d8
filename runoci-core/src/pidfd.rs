//! pidfds: a handle on one process that a recycled pid can never alias.
//! Everything runoci signals or waits for, it does through one.

use std::os::fd::{AsFd, OwnedFd};

pub fn open(pid: i32) -> std::io::Result<OwnedFd> {
    crate::sys::pidfd::open(pid)
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
    crate::sys::pidfd::send_signal(pidfd.as_fd(), signal)
}

/// Wait until the process of `pidfd` has exited (a zombie counts), up to
/// `limit`. True if it has.
pub fn wait_exit(pidfd: &OwnedFd, limit: std::time::Duration) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ms = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut pfd = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(&mut pfd, ms) {
            Ok(n) if n > 0 => return true,
            Err(nix::errno::Errno::EINTR) => {}
            _ => return false,
        }
    }
}
