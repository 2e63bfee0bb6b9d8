//! The parent/child protocol during container creation: a message enum per
//! direction over a SOCK_SEQPACKET socketpair that can also carry fds (console
//! master, seccomp listener). One message per packet, so no framing.

use crate::error::{Context, Error, Result};
use nix::sys::socket::{
    sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::IoSlice;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

/// Hook stages the child asks the parent to run in the runtime namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParentHooks {
    /// prestart then createRuntime: namespaces exist, before pivot_root.
    CreateRuntime,
    /// run_oci's prechroot: right before pivot_root.
    PreChroot,
}

/// parent → child. Only the parent's end ([`ParentChannel`]) sends these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToChild {
    /// First: id maps written, the child placed in its cgroups; its pid as
    /// the host sees it (for the state of the hooks it runs itself).
    Start { host_pid: i32 },
    /// Before `Start`: the detached idmapped mount of `mounts[mount]`, as
    /// the attached fd (made by the parent: setting an idmap needs
    /// privilege over the source's filesystem, which the child in its user
    /// namespace lacks).
    IdmappedMount { mount: usize },
    /// The hooks asked for ran; go on.
    Proceed,
    /// What failed, one line.
    Error(String),
}

/// child → parent. Only the child's end ([`ChildChannel`]) sends these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToParent {
    /// First, when given `tasks` fds: the child wrote itself into its v1
    /// cgroups, but for these hierarchies (index, why).
    CgroupsJoined { failed: Vec<(usize, String)> },
    /// Run these hooks now, then send [`ToChild::Proceed`].
    RunHooks(ParentHooks),
    /// The pty master, as the attached fd.
    ConsoleMaster,
    /// The seccomp notification listener, as the fd.
    SeccompListener,
    /// Set-up is done; the child waits for `start` (exec FIFO) or execs
    /// right away.
    Ready,
    /// What failed, one line.
    Error(String),
}

const MAX_MESSAGE: usize = 64 * 1024;
const MAX_FDS: usize = 4;

/// One end of the channel: it sends `S` and receives `R`, so a message
/// can only go the way its type says. The parent cannot send a child's
/// message:
///
/// ```compile_fail
/// let (parent, _child) = runoci::sync::pair().unwrap();
/// parent.send(&runoci::sync::ToParent::Ready).unwrap();
/// ```
pub struct Channel<S, R> {
    fd: OwnedFd,
    _direction: PhantomData<fn(S) -> R>,
}

/// The runtime's end.
pub type ParentChannel = Channel<ToChild, ToParent>;
/// The container process's end.
pub type ChildChannel = Channel<ToParent, ToChild>;

/// Two connected ends: (parent's, child's). Both close on exec, so the
/// parent sees EOF exactly when the child's execve succeeds.
pub fn pair() -> Result<(ParentChannel, ChildChannel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx("socketpair for the creation channel")?;
    Ok((Channel::new(a), Channel::new(b)))
}

impl<S: Serialize, R: DeserializeOwned> Channel<S, R> {
    fn new(fd: OwnedFd) -> Self {
        Channel {
            fd,
            _direction: PhantomData,
        }
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    pub fn send(&self, msg: &S) -> Result<()> {
        self.send_with_fds(msg, &[])
    }

    pub fn send_with_fds(&self, msg: &S, fds: &[RawFd]) -> Result<()> {
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
    pub fn recv(&self) -> Result<Option<(R, Vec<OwnedFd>)>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let (len, fds) = loop {
            match crate::sys::socket::recv_with_fds::<MAX_FDS>(self.fd.as_fd(), &mut buf) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::from(e).context("receive on the creation channel")),
                Ok(r) => break r,
            }
        };
        if len == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..len])
            .map_err(|e| Error::new(format!("malformed message on the creation channel: {e}")))?;
        Ok(Some((msg, fds)))
    }
}

impl ParentChannel {
    /// The child's report on the v1 cgroups it was to join itself
    /// (`ChildChannel::join_cgroups`): the hierarchies it failed to join
    /// are taken out of `joined` (the runtime writes its pid there, as
    /// without the fds).
    pub fn cgroups_joined(&self, joined: &mut Vec<usize>) -> Result<()> {
        match self.recv()? {
            Some((ToParent::CgroupsJoined { failed }, _)) => {
                for (i, why) in failed {
                    crate::debug!("cgroup hierarchy {i}: the process could not join it itself ({why}); the runtime moves it");
                    joined.retain(|j| *j != i);
                }
                Ok(())
            }
            Some((ToParent::Error(e), _)) => Err(Error::new(e)),
            Some((other, _)) => Err(Error::new(format!(
                "the child sent {other:?} before joining its cgroups"
            ))),
            None => Err(Error::new("the child exited before joining its cgroups")),
        }
    }
}

/// What the child gets before it goes on: its host pid and the idmapped
/// mounts the parent made, by `mounts[]` index.
#[derive(Debug)]
pub struct Started {
    pub host_pid: i32,
    pub idmapped: Vec<(usize, OwnedFd)>,
}

impl ChildChannel {
    /// Wait for the parent's `Start`, collecting the idmapped mounts sent
    /// before it.
    pub fn wait_start(&self) -> Result<Started> {
        let mut idmapped = Vec::new();
        loop {
            match self.recv()? {
                Some((ToChild::Start { host_pid }, _)) => {
                    return Ok(Started { host_pid, idmapped })
                }
                Some((ToChild::IdmappedMount { mount }, mut fds)) if fds.len() == 1 => {
                    idmapped.push((mount, fds.remove(0)));
                }
                Some((ToChild::Error(e), _)) => return Err(Error::new(e)),
                _ => return Err(Error::new("creation channel: expected Start")),
            }
        }
    }

    /// Into the v1 cgroups of `tasks` (`runoci_core::cgroups::join_self`:
    /// single-threaded, so the whole process moves), reporting the
    /// hierarchies that failed; false when the runtime is gone.
    pub fn join_cgroups(&self, tasks: Vec<(usize, OwnedFd)>) -> bool {
        if tasks.is_empty() {
            return true;
        }
        let failed = runoci_core::cgroups::join_self(&tasks);
        drop(tasks);
        self.send(&ToParent::CgroupsJoined { failed }).is_ok()
    }

    /// Wait for `Proceed`; an `Error` from the other side becomes ours.
    pub fn expect_proceed(&self) -> Result<()> {
        match self.recv()? {
            Some((ToChild::Proceed, _)) => Ok(()),
            Some((ToChild::Error(e), _)) => Err(Error::new(e)),
            Some((other, _)) => Err(Error::new(format!(
                "creation channel: expected Proceed, got {other:?}"
            ))),
            None => Err(Error::new("creation channel closed by the runtime")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn start_then_hooks_then_ready_in_order() {
        let (parent, child) = pair().unwrap();
        parent.send(&ToChild::Start { host_pid: 42 }).unwrap();
        assert_eq!(child.wait_start().unwrap().host_pid, 42);
        child
            .send(&ToParent::RunHooks(ParentHooks::CreateRuntime))
            .unwrap();
        let (msg, fds) = parent.recv().unwrap().unwrap();
        assert_eq!(msg, ToParent::RunHooks(ParentHooks::CreateRuntime));
        assert!(fds.is_empty());
        parent.send(&ToChild::Proceed).unwrap();
        child.expect_proceed().unwrap();
        child.send(&ToParent::Ready).unwrap();
        assert_eq!(parent.recv().unwrap().unwrap().0, ToParent::Ready);
    }

    #[test]
    fn idmapped_mounts_arrive_with_start() {
        let (parent, child) = pair().unwrap();
        let (r, _w) = nix::unistd::pipe().unwrap();
        parent
            .send_with_fds(&ToChild::IdmappedMount { mount: 3 }, &[r.as_raw_fd()])
            .unwrap();
        parent.send(&ToChild::Start { host_pid: 7 }).unwrap();
        let started = child.wait_start().unwrap();
        assert_eq!(started.host_pid, 7);
        assert_eq!(started.idmapped.len(), 1);
        assert_eq!(started.idmapped[0].0, 3);
        // Without its fd, the message is out of protocol.
        parent.send(&ToChild::IdmappedMount { mount: 0 }).unwrap();
        assert!(child.wait_start().is_err());
    }

    #[test]
    fn an_fd_travels_with_its_message() {
        let (parent, child) = pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        child
            .send_with_fds(&ToParent::ConsoleMaster, &[w.as_raw_fd()])
            .unwrap();
        drop(w);
        let (msg, mut fds) = parent.recv().unwrap().unwrap();
        assert_eq!(msg, ToParent::ConsoleMaster);
        assert_eq!(fds.len(), 1);
        std::fs::File::from(fds.remove(0)).write_all(b"x").unwrap();
        let mut got = [0u8; 1];
        std::fs::File::from(r).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"x");
    }

    #[test]
    fn the_parents_error_or_a_wrong_message_fails_the_wait() {
        let (parent, child) = pair().unwrap();
        parent
            .send(&ToChild::Error(
                "prestart hook [0] /x: exited with status 1".into(),
            ))
            .unwrap();
        assert_eq!(
            child.expect_proceed().unwrap_err().to_string(),
            "prestart hook [0] /x: exited with status 1"
        );
        parent.send(&ToChild::Proceed).unwrap();
        assert_eq!(
            child.wait_start().unwrap_err().to_string(),
            "creation channel: expected Start"
        );
        parent.send(&ToChild::Start { host_pid: 1 }).unwrap();
        assert!(child
            .expect_proceed()
            .unwrap_err()
            .to_string()
            .contains("expected Proceed, got Start"));
    }

    #[test]
    fn a_closed_end_is_none_and_a_wait_on_it_fails() {
        let (parent, child) = pair().unwrap();
        drop(parent);
        assert_eq!(
            child.expect_proceed().unwrap_err().to_string(),
            "creation channel closed by the runtime"
        );
        let (parent, child) = pair().unwrap();
        drop(child);
        assert!(parent.recv().unwrap().is_none());
    }

    #[test]
    fn a_malformed_packet_is_refused() {
        let (parent, child) = pair().unwrap();
        // The child's end speaking the parent's language, as raw bytes.
        nix::unistd::write(&child.fd, b"{\"Start\":{\"host_pid\":1}}").unwrap();
        assert!(parent
            .recv()
            .unwrap_err()
            .to_string()
            .contains("malformed message on the creation channel"));
    }
}
