//! The new mount API calls nix does not wrap: mount_setattr(2) for the
//! recursive options and idmapped mounts, open_tree(2) and move_mount(2)
//! for a detached mount made in one process and attached by another.

use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What mount_setattr(2) changes on the mount `fd` names (and with
/// `recursive`, on every mount under it).
pub struct MountAttr<'a> {
    pub set: u64,
    pub clear: u64,
    /// With `MOUNT_ATTR_IDMAP` in `set`: the user namespace whose mappings
    /// the mount gets.
    pub userns: Option<BorrowedFd<'a>>,
}

/// mount_setattr(2) on the mount `fd` names (an O_PATH fd on its root,
/// or an open_tree fd). ENOSYS: Linux before 5.12.
pub fn mount_setattr(fd: BorrowedFd, recursive: bool, attr: &MountAttr) -> nix::Result<()> {
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    let mut kattr = libc::mount_attr {
        attr_set: attr.set,
        attr_clr: attr.clear,
        propagation: 0,
        userns_fd: attr.userns.map_or(0, |fd| fd.as_raw_fd() as u64),
    };
    // SAFETY: a valid fd, a NUL-terminated empty path, and a mount_attr
    // that lives across the call with its size passed alongside.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &mut kattr as *mut libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(rc).map(drop)
}

/// open_tree(OPEN_TREE_CLONE) of `path`: a detached copy of the mount
/// there (with `recursive`, of every mount under it too), attached
/// nowhere until move_mount. Close-on-exec.
pub fn open_tree_clone(path: &Path, recursive: bool) -> nix::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: a NUL-terminated path that lives across the call.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    let fd = Errno::result(fd)?;
    // SAFETY: open_tree returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// move_mount(2) the detached mount `from` onto the directory or file
/// `onto` names: both by fd, so no path is resolved between the checks
/// on the destination and the attach.
pub fn move_mount_onto(from: BorrowedFd, onto: BorrowedFd) -> nix::Result<()> {
    let flags = libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: valid fds and NUL-terminated empty paths.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            onto.as_raw_fd(),
            c"".as_ptr(),
            flags,
        )
    };
    Errno::result(rc).map(drop)
}
