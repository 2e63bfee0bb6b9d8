//! Raw system calls the core makes that nix does not wrap (or wraps in a
//! way that changes behaviour, said where so), each in a safe function
//! with the invariants its `unsafe` block relies on stated once. No other
//! module of this crate holds `unsafe`: they call these. `runoci` uses
//! them too where it makes the same call.

pub mod bpf;
pub mod fs;
pub mod pidfd;
pub mod process;
pub mod signal;

/// `Ok` for a syscall's non-negative return, else the errno it left.
fn check(ret: libc::c_long) -> std::io::Result<libc::c_long> {
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}
