//! Raw system calls creation needs that nix does not wrap (or wraps
//! returning a bare fd), each in a safe function with the invariants its
//! `unsafe` block relies on stated once. No other module of this crate
//! holds `unsafe` (`tests/tests/layout.rs` checks): they call these, or
//! `runoci_core::sys` for the calls the core makes too (fork, _exit,
//! signals by number).

pub mod fd;
pub mod fs;
pub mod ioprio;
pub mod keyring;
pub mod loopdev;
pub mod malloc;
pub mod mempolicy;
pub mod mount;
pub mod netlink;
pub mod prctl;
pub mod rlimit;
pub mod sched;
pub mod seccomp;
pub mod socket;
pub mod tty;
pub mod uts;

/// `Ok` for a syscall's non-negative return, else the errno it left.
fn check(ret: libc::c_long) -> std::io::Result<libc::c_long> {
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}
