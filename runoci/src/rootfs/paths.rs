//! `linux.maskedPaths` and `linux.readonlyPaths`, applied after pivot_root.

use super::mounts::bind_fd;
use super::resolve::{self, fd_path};
use crate::error::{Context, Error, Result};
use nix::mount::{mount, MsFlags};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Open the container's /dev/null (resolved inside `root`, after pivot) and
/// prove it is the null device (char 1:3). Defends against CVE-2025-31133:
/// masking binds this verified fd, so a /dev/null swapped for a symlink or
/// another file cannot turn a mask into a bind of something writable.
pub fn open_verified_devnull(root: RawFd) -> Result<OwnedFd> {
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

pub fn mask(root: RawFd, path: &str, devnull: &OwnedFd) -> Result<()> {
    let fd = match resolve::open_in_root(root, Path::new(path), libc::O_PATH) {
        Ok(fd) => fd,
        Err(_) => return Ok(()), // nothing there to hide
    };
    let st = resolve::fstat(fd.as_raw_fd()).ctx("stat")?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        mount(
            Some("tmpfs"),
            &fd_path(&fd),
            Some("tmpfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("size=0,mode=0555"),
        )
        .with_ctx(|| format!("mask {path}"))?;
    } else {
        mount(
            Some(&fd_path(devnull)),
            &fd_path(&fd),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_ctx(|| format!("mask {path}"))?;
    }
    Ok(())
}

pub fn make_readonly(root: RawFd, path: &str) -> Result<()> {
    let fd = match resolve::open_in_root(root, Path::new(path), libc::O_PATH) {
        Ok(fd) => fd,
        Err(_) => return Ok(()),
    };
    bind_fd(root, &fd, path, true, MsFlags::MS_RDONLY).with_ctx(|| format!("make {path} read-only"))
}
