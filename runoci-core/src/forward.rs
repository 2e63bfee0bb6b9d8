//! The foreground parent's wait (`run`, `exec` without `--detach`): every
//! signal a terminal or a supervisor sends runoci goes to the process, and
//! its status comes back as a shell would say it (128+N for signal N).

use crate::error::{Context, Error, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

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

/// The signals that mean "stop" (a terminal's Ctrl-C, a supervisor's TERM,
/// a hang-up, a quit): while runoci holds them blocked they end a hook or a
/// start that waits, rather than wait unseen behind it.
pub const STOP_SIGNALS: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// What ended a [`wait_fd_or_signal`].
pub enum Woke {
    /// The fd is readable (or cannot be polled: the caller's plain wait
    /// or read then decides).
    Fd,
    Signal(Signal),
    Timeout,
}

/// Waits until `fd` is readable, a signal arrives on `signals`, or
/// `deadline` passes.
pub fn wait_fd_or_signal(
    fd: BorrowedFd<'_>,
    signals: Option<&SignalFd>,
    deadline: Option<std::time::Instant>,
) -> Woke {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    // Any event counts, flags nix does not know included.
    let woke = |p: &PollFd| p.revents() != Some(PollFlags::empty());
    loop {
        let mut fds = vec![PollFd::new(fd, PollFlags::POLLIN)];
        if let Some(s) = signals {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
        }
        let ms = deadline.map_or(PollTimeout::NONE, |d| {
            let left = d.saturating_duration_since(std::time::Instant::now());
            PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)
        });
        match nix::poll::poll(&mut fds, ms) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return Woke::Fd,
            Ok(_) => {}
        }
        if fds.get(1).is_some_and(woke) {
            if let Some(Ok(Some(info))) = signals.map(|s| s.read_signal()) {
                if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                    return Woke::Signal(sig);
                }
            }
        }
        if woke(&fds[0]) {
            return Woke::Fd;
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Woke::Timeout;
        }
    }
}

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
        // Real-time ones too: a supervisor's goes to the container like
        // any other.
        let mask = crate::sys::signal::with_realtime_signals(mask);
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)
            .ctx("block signals")?;
        let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).ctx("signalfd")?;
        Ok(Forwarder { sfd })
    }

    /// Forward signals to `pidfd` until `pid` (our child) exits.
    pub fn wait(&self, pid: i32, pidfd: &OwnedFd, what: &str) -> Result<i32> {
        loop {
            // Raw: nix's waitpid fails on a death by a real-time signal
            // (its Signal has none), and the container would look lost.
            let (r, status) = match crate::sys::signal::waitpid(pid, libc::WNOHANG) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::from(e).context(format!("wait for {what}"))),
            };
            if r == pid && libc::WIFEXITED(status) {
                return Ok(libc::WEXITSTATUS(status));
            }
            if r == pid && libc::WIFSIGNALED(status) {
                return Ok(128 + libc::WTERMSIG(status));
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
