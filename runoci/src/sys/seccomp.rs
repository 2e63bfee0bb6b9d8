//! The seccomp(2) probes of `runoci check` (libseccomp has no API for
//! them) and the ownership of the filter's notification fd.

use libseccomp::ScmpFilterContext;
use std::os::fd::{FromRawFd, OwnedFd};

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_GET_ACTION_AVAIL: libc::c_ulong = 2;

/// PR_GET_SECCOMP: this process's seccomp mode (an error: no seccomp).
pub fn mode() -> std::io::Result<i32> {
    // SAFETY: integer arguments only.
    let mode = super::check(unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) }.into())?;
    Ok(mode as i32)
}

/// Whether the kernel has filter mode: with a NULL program it answers
/// EFAULT when it has (EINVAL without), the probe libseccomp itself uses.
pub fn has_filter_mode() -> bool {
    // SAFETY: the kernel checks the NULL program pointer before reading
    // through it and answers EFAULT; no filter is installed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            0,
            std::ptr::null::<u8>(),
        )
    };
    r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

/// Whether the kernel knows the filter return action `action`
/// (SECCOMP_GET_ACTION_AVAIL).
pub fn has_action(action: u32) -> bool {
    // SAFETY: the kernel reads one u32 from a live pointer.
    (unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    }) == 0
}

/// The notification listener of the loaded filter `ctx`, ours to close.
pub fn take_listener(ctx: &ScmpFilterContext) -> Result<OwnedFd, libseccomp::error::SeccompError> {
    let fd = ctx.get_notify_fd()?;
    // SAFETY: libseccomp hands us the listener fd the kernel made when
    // the filter was loaded; nothing else closes it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Installs the BPF program `bpf` (struct sock_filter, 8 bytes each) as a
/// seccomp filter with `flags` (SECCOMP_FILTER_FLAG_*), as libseccomp's
/// load does for a compiled one. Needs no_new_privs or CAP_SYS_ADMIN.
pub fn load_program(bpf: &[u8], flags: u32) -> std::io::Result<()> {
    if bpf.is_empty() || !bpf.len().is_multiple_of(8) || bpf.len() / 8 > u16::MAX as usize {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    // Aligned copies of the instructions (the bytes may not be).
    let program: Vec<libc::sock_filter> = bpf
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `program`, alive for the call; the kernel
    // copies the instructions and keeps no pointer into them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    super::check(r).map(drop)
}
