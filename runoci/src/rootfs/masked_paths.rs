//! `linux.maskedPaths`: each path that exists in the container is hidden
//! under an empty read-only tmpfs (a directory) or the null device (any
//! other file). Applied after pivot_root, so the paths resolve in the
//! container's root, and before `linux.readonlyPaths`.

use crate::error::{Context, Error, Result};
use crate::resolve::{self, fd_path};
use crate::spec::Spec;
use nix::mount::{mount, MsFlags};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Open the container's /dev/null (resolved inside `root`, after pivot) and
/// prove it is the null device (char 1:3). Defends against CVE-2025-31133:
/// masking binds this verified fd, so a /dev/null swapped for a symlink or
/// another file cannot turn a mask into a bind of something writable.
pub(super) fn open_verified_devnull(root: RawFd) -> Result<OwnedFd> {
    let fd = resolve::open_in_root(
        root,
        Path::new("/dev/null"),
        libc::O_PATH | libc::O_NOFOLLOW,
    )?;
    let st = resolve::fstat(fd.as_raw_fd()).ctx("stat /dev/null")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR
        || libc::major(st.st_rdev) != 1
        || libc::minor(st.st_rdev) != 3
    {
        return Err(Error::new(
            "/dev/null is not the null device (char 1:3); refusing to mask with it",
        ));
    }
    Ok(fd)
}

/// How a masked path is hidden, from its file type (known only when the
/// path is opened, inside the container's root).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// A directory: an empty read-only tmpfs (`MASK_TMPFS_FLAGS`,
    /// `MASK_TMPFS_DATA`).
    Tmpfs,
    /// Anything else: the verified null device bound onto it.
    DevNull,
}

pub const MASK_TMPFS_FLAGS: MsFlags = MsFlags::MS_RDONLY
    .union(MsFlags::MS_NOSUID)
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);
pub const MASK_TMPFS_DATA: &str = "size=0,mode=0555";

pub fn mask_for(st_mode: u32) -> Mask {
    if st_mode & libc::S_IFMT == libc::S_IFDIR {
        Mask::Tmpfs
    } else {
        Mask::DevNull
    }
}

pub(super) fn mask(root: RawFd, path: &str, devnull: &OwnedFd) -> Result<()> {
    let fd = match resolve::open_in_root(root, Path::new(path), libc::O_PATH) {
        Ok(fd) => fd,
        Err(_) => return Ok(()), // nothing there to hide
    };
    let st = resolve::fstat(fd.as_raw_fd()).ctx("stat")?;
    match mask_for(st.st_mode) {
        Mask::Tmpfs => mount(
            Some("tmpfs"),
            &fd_path(&fd),
            Some("tmpfs"),
            MASK_TMPFS_FLAGS,
            Some(MASK_TMPFS_DATA),
        )
        .with_ctx(|| format!("mask {path}"))?,
        Mask::DevNull => {
            super::mounts::bind_onto(devnull, &fd).with_ctx(|| format!("mask {path}"))?
        }
    }
    Ok(())
}

/// Masking needs the container's own /proc (the usual targets are under
/// it): refused when it is not mounted rather than masking nothing.
pub fn apply(spec: &Spec) -> Result<()> {
    super::apply_paths(&super::plan::masked_paths(spec), "linux.maskedPaths")
}
