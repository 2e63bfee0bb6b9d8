//! keyctl(2), which libc and nix do not wrap: the session keyring.

use std::ffi::{CStr, CString};

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_SETPERM: libc::c_long = 5;
const KEYCTL_DESCRIBE: libc::c_long = 6;

/// Joins the session keyring named `name`, made if none of that name is
/// searchable by the caller; returns its serial.
pub fn join_session(name: &CStr) -> std::io::Result<i32> {
    // SAFETY: `name` is a NUL-terminated string the kernel only reads.
    let serial = super::check(unsafe {
        libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr())
    })?;
    Ok(serial as i32)
}

/// The permission mask of key `serial` (the fourth field of its
/// description, `type;uid;gid;perm;name`).
pub fn permissions(serial: i32) -> std::io::Result<u32> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    let len = super::check(unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            serial,
            buf.as_mut_ptr(),
            buf.len(),
        )
    })? as usize;
    // Longer than the buffer: the kernel copied nothing.
    let text = buf
        .get(..len)
        .and_then(|d| CString::from_vec_with_nul(d.to_vec()).ok())
        .and_then(|c| c.into_string().ok())
        .unwrap_or_default();
    text.split(';')
        .nth(3)
        .and_then(|perm| u32::from_str_radix(perm, 16).ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("key description {text:?} has no permission field"),
            )
        })
}

/// Sets the permission mask of key `serial`.
pub fn set_permissions(serial: i32, perm: u32) -> std::io::Result<()> {
    // SAFETY: integer arguments only.
    super::check(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, serial, perm) })?;
    Ok(())
}
