//! `linux.readonlyPaths`: each path that exists in the container is bound
//! onto itself read-only. Applied after pivot_root and after
//! `linux.maskedPaths`.

use super::mounts::bind_fd;
use super::resolve;
use crate::error::{Context, Result};
use crate::spec::Spec;
use nix::mount::MsFlags;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

pub fn apply(spec: &Spec) -> Result<()> {
    let paths = spec.linux.as_ref().map(|l| l.readonly_paths.as_slice());
    let Some(root) = super::paths_root(paths, "linux.readonlyPaths")? else {
        return Ok(());
    };
    for p in paths.unwrap_or_default() {
        make_readonly(root.as_raw_fd(), p)?;
    }
    Ok(())
}

fn make_readonly(root: RawFd, path: &str) -> Result<()> {
    let fd = match resolve::open_in_root(root, Path::new(path), libc::O_PATH) {
        Ok(fd) => fd,
        Err(_) => return Ok(()),
    };
    bind_fd(root, &fd, path, true, MsFlags::MS_RDONLY).with_ctx(|| format!("make {path} read-only"))
}
