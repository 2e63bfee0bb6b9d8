//! The container's terminal: a pty from the container's own devpts, its
//! master sent to the engine over `--console-socket`, its slave the init's
//! stdio and controlling terminal, bind-mounted on /dev/console.
//!
//! Defends against CVE-2025-52565: the slave is opened from the master with
//! TIOCGPTPEER, never by resolving /dev/pts/N (which the container could
//! have replaced), and /dev/console is created with O_NOFOLLOW inside the
//! root before the slave is bound onto it.

use crate::error::{Context, Result};
use crate::resolve::{self, Kind};
use crate::sys::tty;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// Returns (master, slave). Call after pivot_root: /dev/ptmx is then the
/// container's.
fn open_pty() -> Result<(OwnedFd, OwnedFd)> {
    let root = std::fs::File::open("/").ctx("open /")?;
    let master = resolve::open_in_root(
        root.as_raw_fd(),
        Path::new("/dev/ptmx"),
        libc::O_RDWR | libc::O_NOCTTY,
    )
    .ctx("open /dev/ptmx in the container (process.terminal needs a devpts mount)")?;
    tty::unlock(master.as_fd()).ctx("unlock pty")?;
    let slave = tty::open_peer(
        master.as_fd(),
        libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
    )
    .ctx("TIOCGPTPEER")?;
    Ok((master, slave))
}

fn set_size(fd: &OwnedFd, size: Option<crate::spec::ConsoleSize>) {
    if let Some(s) = size {
        let _ = tty::set_size(fd.as_fd(), s.height, s.width);
    }
}

/// `process.terminal` (with a console socket to send the master to): a
/// new pty, its master to the runtime over `chan` (it forwards it to the
/// socket), its slave our controlling terminal and stdio. The init also
/// binds it onto /dev/console; an exec'd process leaves the container's
/// mounts alone.
pub fn attach(
    chan: &crate::sync::ChildChannel,
    process: &crate::spec::Process,
    bind_dev_console: bool,
) -> Result<()> {
    let (master, slave) = open_pty()?;
    set_size(&master, process.console_size);
    chan.send_with_fds(&crate::sync::ToParent::ConsoleMaster, &[master.as_raw_fd()])?;
    drop(master);
    attach_slave(&slave, bind_dev_console)
}

/// Make `slave` our controlling terminal and stdio, and /dev/console.
fn attach_slave(slave: &OwnedFd, bind_dev_console: bool) -> Result<()> {
    let root = std::fs::File::open("/").ctx("open /")?;
    let console = bind_dev_console
        .then(|| {
            resolve::mkdir_all_in_root(root.as_raw_fd(), Path::new("/dev/console"), Kind::File).ok()
        })
        .flatten();
    if let Some(console) = console {
        crate::rootfs::mounts::bind_onto(slave, &console).ctx("bind the pty onto /dev/console")?;
    }
    // The session is ours already (`child::session`, before this step).
    tty::set_controlling(slave.as_fd()).ctx("TIOCSCTTY")?;
    for fd in 0..3 {
        nix::unistd::dup2(slave.as_raw_fd(), fd).ctx("dup2 the pty onto stdio")?;
    }
    Ok(())
}

/// Send `master` to the engine's console socket (SCM_RIGHTS), as runc does.
pub fn send_master(socket: &Path, master: &OwnedFd) -> Result<()> {
    crate::fdpass::send_fd(socket, b"/dev/ptmx", master, "--console-socket")
}
