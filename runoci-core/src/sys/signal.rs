//! Signals by raw number: nix's `Signal` has no real-time signals, so its
//! kill, waitpid and sigwait cannot carry one, and its `signal` is unsafe.

use nix::sys::signal::SigSet;

/// kill(2) with any signal number, real-time ones included.
pub fn kill(pid: i32, signal: i32) -> std::io::Result<()> {
    // SAFETY: integer arguments only; touches no memory of ours.
    super::check(unsafe { libc::kill(pid, signal) }.into())?;
    Ok(())
}

/// waitpid(2) returning the raw status: nix's fails on a death by a
/// real-time signal. `Ok((0, _))` under WNOHANG when nothing changed.
pub fn waitpid(pid: i32, flags: i32) -> std::io::Result<(i32, libc::c_int)> {
    let mut status = 0;
    // SAFETY: the kernel writes only the status, into a live int.
    let r = super::check(unsafe { libc::waitpid(pid, &mut status, flags) }.into())?;
    Ok((r as i32, status))
}

/// sigwait(3) returning the raw number (nix's would drop a real-time
/// signal). The signals of `set` must be blocked.
pub fn sigwait(set: &SigSet) -> std::io::Result<i32> {
    let mut sig: libc::c_int = 0;
    // SAFETY: a valid sigset_t and an out pointer to a live int.
    let rc = unsafe { libc::sigwait(set.as_ref(), &mut sig) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    Ok(sig)
}

/// `mask` plus SIGRTMIN..=SIGRTMAX (nix's SigSet cannot name them).
pub fn with_realtime_signals(mask: SigSet) -> SigSet {
    let mut raw: libc::sigset_t = *mask.as_ref();
    for signo in libc::SIGRTMIN()..=libc::SIGRTMAX() {
        // SAFETY: a valid sigset_t and a signal number in range.
        unsafe { libc::sigaddset(&mut raw, signo) };
    }
    // SAFETY: `raw` was initialised from a valid SigSet.
    unsafe { SigSet::from_sigset_t_unchecked(raw) }
}

/// Give `signal` its default disposition. No handler is installed, so
/// none of the hazards nix's unsafe `signal` guards against apply.
pub fn set_default(signal: i32) {
    // SAFETY: SIG_DFL runs no code of ours.
    unsafe { libc::signal(signal, libc::SIG_DFL) };
}
