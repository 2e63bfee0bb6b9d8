//! `-i`: our own small init is PID 1: it forks the program, forwards every
//! signal to it, reaps every orphan, and exits with the program's status.

use crate::error::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow};
use runoci_core::sys;
use std::convert::Infallible;
use std::os::fd::RawFd;
use std::path::Path;

/// `chan` is the creation channel's fd, closed in the init (see below).
pub fn run(chan: RawFd, program: &Path, args: &[String], env: &[String]) -> Result<Infallible> {
    let all = SigSet::all();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), None).ctx("block signals")?;
    // Single-threaded (sys::process::fork's contract); the child only execs.
    match sys::process::fork().ctx("fork the program under our init")? {
        nix::unistd::ForkResult::Child => {
            super::signals::reset();
            Err(crate::process::exec(program, args, env))
        }
        nix::unistd::ForkResult::Parent { child } => {
            // The init needs no fd but stdio: close the rest, which never
            // exec's close-on-exec would. That includes the creation channel
            // (the program's exec closes its copy; ours must go too, or the
            // parent would wait for EOF forever) and whatever runoci held
            // or inherited (its signalfd, the verified /dev/null, fds of
            // runoci's caller): PID 1 must not keep them in the container.
            // Nothing in the init loop uses an fd above 2.
            if crate::sys::fd::close_range(3, 0).is_err() {
                // Old kernels: at least our own copy of the channel.
                let _ = nix::unistd::close(chan);
            }
            init_loop(child, &all)
        }
    }
}

/// Raw signal numbers and wait statuses throughout: nix's `Signal` has no
/// real-time signals, so its sigwait would swallow one unforwarded and its
/// waitpid would fail on a program killed by one, and the init would never
/// exit.
fn init_loop(main: nix::unistd::Pid, all: &SigSet) -> ! {
    let main = main.as_raw();
    loop {
        // The set is fully blocked.
        let Ok(sig) = sys::signal::sigwait(all) else {
            continue;
        };
        if sig != libc::SIGCHLD {
            let _ = sys::signal::kill(main, sig);
            continue;
        }
        loop {
            let (pid, status) = match sys::signal::waitpid(-1, libc::WNOHANG) {
                Ok((pid, status)) if pid > 0 => (pid, status),
                _ => break,
            };
            if let Some(code) = exit_code(pid == main, status) {
                // Leaving the process; nothing to unwind.
                sys::process::exit_now(code)
            }
        }
    }
}

/// The init's own exit code once the reaped child is the program and it
/// ended: its exit status, or 128 + the signal that killed it.
fn exit_code(is_main: bool, status: libc::c_int) -> Option<libc::c_int> {
    if !is_main {
        None
    } else if libc::WIFEXITED(status) {
        Some(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Some(128 + libc::WTERMSIG(status))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_follows_the_program_only() {
        // Wait statuses as the kernel encodes them.
        let exited = |c: i32| c << 8;
        let killed = |s: i32| s;
        assert_eq!(exit_code(true, exited(3)), Some(3));
        assert_eq!(exit_code(true, exited(0)), Some(0));
        assert_eq!(exit_code(true, killed(libc::SIGKILL)), Some(128 + 9));
        assert_eq!(
            exit_code(true, killed(34)),
            Some(128 + 34),
            "real-time signal"
        );
        assert_eq!(exit_code(false, exited(3)), None, "an orphan");
        // Stopped (0x7f low byte): not an end.
        assert_eq!(exit_code(true, 0x137f), None);
    }
}
