//! Handing an fd to another program over a Unix socket path (SCM_RIGHTS):
//! the pty master to `--console-socket`, the seccomp listener to
//! `listenerPath`.

use crate::error::{Context, Result};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Connect to `socket`, send `payload` with `fd` attached. `what` names
/// the socket in errors ("--console-socket", "linux.seccomp.listenerPath").
pub fn send_fd(socket: &Path, payload: &[u8], fd: &OwnedFd, what: &str) -> Result<()> {
    let stream = std::os::unix::net::UnixStream::connect(socket)
        .with_ctx(|| format!("{what} {}: connect", socket.display()))?;
    let iov = [std::io::IoSlice::new(payload)];
    let fds = [fd.as_raw_fd()];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .with_ctx(|| format!("{what} {}: send", socket.display()))?;
    Ok(())
}
