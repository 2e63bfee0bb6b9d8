//! The pty ioctls of `console` (nix's ioctl macros generate unsafe
//! functions; these are the safe ones).

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const TIOCGPTPEER: libc::c_ulong = 0x5441;

/// TIOCSPTLCK 0: unlock the slave of the pty master `master`.
pub fn unlock(master: BorrowedFd<'_>) -> std::io::Result<()> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from a live pointer.
    super::check(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) }.into())?;
    Ok(())
}

/// TIOCGPTPEER: a new fd on the slave of `master`, opened with `flags`.
pub fn open_peer(master: BorrowedFd<'_>, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER takes the open flags by value.
    let fd = super::check(unsafe { libc::ioctl(master.as_raw_fd(), TIOCGPTPEER, flags) }.into())?;
    // SAFETY: the kernel just made this fd for us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// TIOCSWINSZ: the terminal's size in rows and columns.
pub fn set_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> std::io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize from a live pointer.
    super::check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) }.into())?;
    Ok(())
}

/// TIOCSCTTY 0: make the tty `fd` our controlling terminal.
pub fn set_controlling(fd: BorrowedFd<'_>) -> std::io::Result<()> {
    // SAFETY: TIOCSCTTY takes an int by value.
    super::check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) }.into())?;
    Ok(())
}
