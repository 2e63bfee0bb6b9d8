//! Signal reset right before execve: undo what the runtime's process state
//! would leak into the program, its blocked signals and ignored SIGPIPE
//! (Rust ignores it at start).

use nix::sys::signal::{SigSet, SigmaskHow, Signal};

pub fn reset() {
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            runoci_core::sys::signal::set_default(sig as libc::c_int);
        }
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}
