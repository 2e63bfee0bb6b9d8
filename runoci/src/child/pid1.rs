//! `-i`: our own small init is PID 1: it forks the program, forwards every
//! signal to it, reaps every orphan, and exits with the program's status.

use crate::error::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow};
use std::convert::Infallible;
use std::os::fd::RawFd;
use std::path::Path;

/// `chan` is the creation channel's fd, closed in the init (see below).
pub fn run(chan: RawFd, program: &Path, args: &[String], env: &[String]) -> Result<Infallible> {
    let all = SigSet::all();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), None).ctx("block signals")?;
    // SAFETY: single-threaded; the child only execs.
    match unsafe { nix::unistd::fork() }.ctx("fork the program under our init")? {
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
            // SAFETY: close_range only closes fds of this process; nothing
            // in the init loop uses an fd above 2.
            let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
            if rc < 0 {
                // SAFETY: closing our own copy of the channel fd (old kernels).
                unsafe { libc::close(chan) };
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
        let mut sig: libc::c_int = 0;
        // SAFETY: a valid, fully blocked signal set and an out pointer.
        if unsafe { libc::sigwait(all.as_ref(), &mut sig) } != 0 {
            continue;
        }
        if sig != libc::SIGCHLD {
            // SAFETY: plain kill of our own child.
            unsafe { libc::kill(main, sig) };
            continue;
        }
        loop {
            let mut status = 0;
            // SAFETY: reaping any child with a valid status pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            if let Some(code) = exit_code(pid == main, status) {
                // SAFETY: leaving the process; nothing to unwind.
                unsafe { libc::_exit(code) }
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
