//! `runoci run`: create the container, wait for it, return its status.
//! runoci itself is the parent; signals it gets are forwarded to the init.

use crate::cli::{Cli, RunArgs};
use crate::container::{self, Created};
use crate::error::{Context, Error, Result};
use crate::hooks;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::AsRawFd;

/// Signals forwarded to the container (everything a terminal or a
/// supervisor sends); SIGCHLD tells us it exited.
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

pub fn run(cli: &Cli, args: &RunArgs) -> Result<i32> {
    if args.detach {
        // runc's `run -d`: create, then start; the caller (or init) is the
        // parent, as after `create`.
        super::create::create(cli, args)?;
        return super::create::start_created(&cli.root, &args.id);
    }
    let mut opts = super::container_options(args)?;
    opts.systemd_cgroup = cli.systemd_cgroup;
    opts.console_socket = args.console_socket.clone();
    let spec = super::load_spec(&opts)?;

    // Block before the clone: a signal that arrives during set-up waits in
    // the signalfd instead of killing us half-way (and leaking the child).
    let mut mask = SigSet::empty();
    for s in FORWARDED {
        mask.add(*s);
    }
    mask.add(Signal::SIGCHLD);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).ctx("block signals")?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).ctx("signalfd")?;

    let created =
        container::create(&spec, &opts).map_err(|e| e.context(format!("container {}", opts.id)))?;
    let hooks = spec.hooks.clone().unwrap_or_default();
    if let Err(e) = hooks::run_stage(
        "poststart",
        &hooks.poststart,
        &created.hook_state.json("running"),
    ) {
        let state = created.hook_state.json("stopped");
        created.abandon();
        let _ = hooks::run_stage("poststop", &hooks.poststop, &state);
        return Err(e.context(format!("container {}", opts.id)));
    }
    let code = wait_forwarding(&created, &sfd);
    let _ = hooks::run_stage(
        "poststop",
        &hooks.poststop,
        &created.hook_state.json("stopped"),
    )
    .map_err(|e| eprintln!("runoci: container {}: {e}", opts.id));
    if let Some(cg) = &created.cgroup {
        if let Err(e) = cg.destroy() {
            eprintln!("runoci: container {}: remove cgroup: {e}", opts.id);
        }
    }
    code
}

/// Forward signals until the init exits; its status as a shell would say
/// it (128+N for signal N).
fn wait_forwarding(c: &Created, sfd: &SignalFd) -> Result<i32> {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let pid = nix::unistd::Pid::from_raw(c.pid);
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => {}
            Err(nix::errno::Errno::ECHILD) => return Err(Error::new("container init vanished")),
            Err(e) => return Err(Error::from(e).context("wait for the container")),
        }
        match sfd.read_signal() {
            Ok(Some(info)) => {
                let sig = info.ssi_signo as i32;
                if sig != libc::SIGCHLD {
                    // SAFETY: signalling through the init's pidfd.
                    unsafe {
                        libc::syscall(libc::SYS_pidfd_send_signal, c.pidfd.as_raw_fd(), sig, 0, 0)
                    };
                }
            }
            Ok(None) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::from(e).context("read signalfd")),
        }
    }
}
