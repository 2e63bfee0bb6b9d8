//! `linux.readonlyPaths`: each path that exists in the container is bound
//! onto itself read-only. Applied after pivot_root and after
//! `linux.maskedPaths`.

use super::mounts::bind_fd;
use crate::error::{Context, Result};
use crate::resolve;
use crate::spec::Spec;
use nix::mount::MsFlags;
use std::os::fd::RawFd;
use std::path::Path;

pub fn apply(spec: &Spec) -> Result<()> {
    super::apply_paths(&super::plan::readonly_paths(spec), "linux.readonlyPaths")
}

pub(super) fn remount(root: RawFd, path: &str, recursive: bool, flags: MsFlags) -> Result<()> {
    let fd = match resolve::open_in_root(root, Path::new(path), libc::O_PATH) {
        Ok(fd) => fd,
        Err(_) => return Ok(()),
    };
    bind_fd(root, &fd, path, recursive, flags).with_ctx(|| format!("make {path} read-only"))
}
