//! The foreground parent's wait (`run`, `exec` without `--detach`): every
//! signal a terminal or a supervisor sends runoci goes to the process, and
//! its status comes back as a shell would say it (128+N for signal N).

use crate::error::{Context, Error, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::OwnedFd;

const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGALRM,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGPWR,
];

pub struct Forwarder {
    sfd: SignalFd,
}

impl Forwarder {
    /// Block the forwarded signals (and SIGCHLD) before the process is
    /// made: one that arrives during set-up waits in the signalfd instead
    /// of killing runoci half-way and leaking the child. The child unblocks
    /// them before execve.
    pub fn block() -> Result<Forwarder> {
        let mut mask = SigSet::empty();
        for s in FORWARDED {
            mask.add(*s);
        }
        mask.add(Signal::SIGCHLD);
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)
            .ctx("block signals")?;
        let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).ctx("signalfd")?;
        Ok(Forwarder { sfd })
    }

    /// Forward signals to `pidfd` until `pid` (our child) exits.
    pub fn wait(&self, pid: i32, pidfd: &OwnedFd, what: &str) -> Result<i32> {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        let child = nix::unistd::Pid::from_raw(pid);
        loop {
            match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(code),
                Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
                Ok(_) => {}
                Err(e) => return Err(Error::from(e).context(format!("wait for {what}"))),
            }
            match self.sfd.read_signal() {
                Ok(Some(info)) if info.ssi_signo as i32 != libc::SIGCHLD => {
                    let _ = crate::pidfd::send_signal(pidfd, info.ssi_signo as i32);
                }
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(Error::from(e).context("read signalfd")),
            }
        }
    }
}
