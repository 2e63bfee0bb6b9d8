//! The parent/child protocol during container creation: a typed message
//! enum over a SOCK_SEQPACKET socketpair that can also carry fds (console
//! master, seccomp listener). One message per packet, so no framing.

use crate::error::{Context, Error, Result};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Hook stages the child asks the parent to run in the runtime namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParentHooks {
    /// prestart then createRuntime: namespaces exist, before pivot_root.
    CreateRuntime,
    /// run_oci's prechroot: right before pivot_root.
    PreChroot,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// parent → child, first: id maps written, the child placed in its
    /// cgroups; its pid as the host sees it (for the state of the hooks it
    /// runs itself).
    Start { host_pid: i32 },
    /// parent → child: the hooks asked for ran; go on.
    Proceed,
    /// child → parent: run these hooks now, then send `Proceed`.
    RunHooks(ParentHooks),
    /// child → parent: the pty master, as the attached fd.
    ConsoleMaster,
    /// child → parent: the seccomp notification listener, as the fd.
    SeccompListener,
    /// child → parent: set-up is done; the child waits for `start` (exec
    /// FIFO) or execs right away.
    Ready,
    /// either way: what failed, one line.
    Error(String),
}

const MAX_MESSAGE: usize = 64 * 1024;
const MAX_FDS: usize = 4;

pub struct Channel {
    fd: OwnedFd,
}

/// Two connected ends: (parent's, child's). Both close on exec, so the
/// parent sees EOF exactly when the child's execve succeeds.
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx("socketpair for the creation channel")?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn send(&self, msg: &Message) -> Result<()> {
        self.send_with_fds(msg, &[])
    }

    pub fn send_with_fds(&self, msg: &Message, fds: &[RawFd]) -> Result<()> {
        let bytes = serde_json::to_vec(msg).map_err(|e| Error::new(e.to_string()))?;
        let iov = [IoSlice::new(&bytes)];
        let cmsg = [ControlMessage::ScmRights(fds)];
        let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
        loop {
            match sendmsg::<()>(self.fd.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => {
                    r.ctx("send on the creation channel")?;
                    return Ok(());
                }
            }
        }
    }

    /// The next message, or None when the other end is closed (the child
    /// exec'd or died).
    pub fn recv(&self) -> Result<Option<(Message, Vec<OwnedFd>)>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let mut cmsg_buf = nix::cmsg_space!([RawFd; MAX_FDS]);
        let (len, fds) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg_buf),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::from(e).context("receive on the creation channel")),
                Ok(m) => {
                    let mut fds = Vec::new();
                    for c in m.cmsgs().map_err(Error::from)? {
                        if let ControlMessageOwned::ScmRights(raw) = c {
                            for fd in raw {
                                // SAFETY: the kernel just installed this fd
                                // for us (SCM_RIGHTS); we are its only owner.
                                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                            }
                        }
                    }
                    break (m.bytes, fds);
                }
            }
        };
        if len == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..len])
            .map_err(|e| Error::new(format!("malformed message on the creation channel: {e}")))?;
        Ok(Some((msg, fds)))
    }

    /// Wait for `Proceed`; an `Error` from the other side becomes ours.
    pub fn expect_proceed(&self) -> Result<()> {
        match self.recv()? {
            Some((Message::Proceed, _)) => Ok(()),
            Some((Message::Error(e), _)) => Err(Error::new(e)),
            Some((other, _)) => Err(Error::new(format!(
                "creation channel: expected Proceed, got {other:?}"
            ))),
            None => Err(Error::new("creation channel closed by the runtime")),
        }
    }
}
