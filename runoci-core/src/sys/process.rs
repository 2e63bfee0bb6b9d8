//! Process creation and exit where std and nix need `unsafe`.

use std::process::Command;

/// fork(2). The callers are single-threaded (runoci's creation and start
/// paths start no thread), which is what makes the child's allocations
/// and non-async-signal-safe calls sound; do not call it once a thread
/// may exist.
pub fn fork() -> nix::Result<nix::unistd::ForkResult> {
    // SAFETY: single-threaded caller (see above).
    unsafe { nix::unistd::fork() }
}

/// _exit(2): leave at once, without atexit handlers or destructors (a
/// forked or cloned child's copy of its parent's state must not be torn
/// down twice). nix 0.29 has no wrapper.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: ends the process; no memory of ours is touched.
    unsafe { libc::_exit(code) }
}

/// The command's process gets SIGKILL when the thread that spawned it
/// (here: runoci, single-threaded) dies.
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec; prctl with integer
    // arguments is async-signal-safe and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            Ok(())
        })
    };
}
