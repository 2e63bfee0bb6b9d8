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
    fd: std::os::fd::RawFd,
    signals: Option<&SignalFd>,
    deadline: Option<std::time::Instant>,
) -> Woke {
    use std::os::fd::AsRawFd;
    loop {
        let mut fds = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: signals.map_or(-1, |s| s.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = deadline.map_or(-1, |d| {
            let left = d.saturating_duration_since(std::time::Instant::now());
            left.as_millis().min(i32::MAX as u128) as i32
        });
        // SAFETY: two valid pollfds (poll ignores a negative fd).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Woke::Fd;
        }
        if fds[1].revents != 0 {
            if let Some(Ok(Some(info))) = signals.map(|s| s.read_signal()) {
                if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                    return Woke::Signal(sig);
                }
            }
        }
        if fds[0].revents != 0 {
            return Woke::Fd;
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Woke::Timeout;
        }
    }
}

/// `mask` plus SIGRTMIN..=SIGRTMAX: a supervisor's real-time signal goes
/// to the container like any other (nix's SigSet cannot name them).
fn with_realtime_signals(mask: SigSet) -> SigSet {
    let mut raw: libc::sigset_t = *mask.as_ref();
    for signo in libc::SIGRTMIN()..=libc::SIGRTMAX() {
        // SAFETY: a valid sigset_t and a signal number in range.
        unsafe { libc::sigaddset(&mut raw, signo) };
    }
    // SAFETY: `raw` was initialised from a valid SigSet.
    unsafe { SigSet::from_sigset_t_unchecked(raw) }
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
        let mask = with_realtime_signals(mask);
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
            let mut status = 0;
            // SAFETY: waitpid on our own child with a valid status pointer.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::from(e).context(format!("wait for {what}")));
            }
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
