//! Writes to procfs through handles verified to be a real procfs
//! (`runoci_core::procfs` holds the checks and the `/proc/PID/stat` parser;
//! the write stays here because it resolves paths with `crate::resolve`).
//!
//! Defends against CVE-2019-16884 / CVE-2025-52881: a container can mount
//! something else over `/proc` (or plant symlinks in it) so that a write
//! meant for `/proc/self/attr/exec` or `/proc/sys/...` lands elsewhere. We
//! open every procfs file with O_NOFOLLOW relative to a directory fd whose
//! filesystem magic we checked with fstatfs, and check the file again.

use crate::error::{Context, Error, Result};
use crate::resolve;
use runoci_core::procfs::{check_procfs, check_same_mount};
// The check before writes through /proc in the container, next to them.
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Write `value` to `path` (absolute, under /proc) of the procfs mounted at
/// /proc in the current mount namespace. Each component is opened with
/// O_NOFOLLOW except `self`/`thread-self`, which are resolved by the kernel
/// to our own pid directory.
pub fn write(path: &str, value: &[u8]) -> Result<()> {
    let rel = path
        .strip_prefix("/proc/")
        .ok_or_else(|| Error::new(format!("{path}: not under /proc")))?;
    let proc_dir = std::fs::File::open("/proc").ctx("open /proc")?;
    let proc_fd: OwnedFd = proc_dir.into();
    check_procfs(&proc_fd, Path::new("/proc"))?;
    // `self` is a link the kernel answers with our pid in the pid
    // namespace of this procfs; read it from the verified fd and resolve
    // the rest inside the procfs (RESOLVE_IN_ROOT), so no symlink leaves it.
    let rel = match rel.split_once('/') {
        Some(("self", rest)) => {
            let pid = nix::fcntl::readlinkat(Some(proc_fd.as_raw_fd()), "self")
                .with_ctx(|| "readlink /proc/self")?;
            format!("{}/{rest}", pid.to_string_lossy())
        }
        _ => rel.to_string(),
    };
    let fd = resolve::open_in_root(
        proc_fd.as_raw_fd(),
        Path::new(&rel),
        libc::O_WRONLY | libc::O_NOFOLLOW,
    )
    .with_ctx(|| format!("open {path}"))?;
    check_procfs(&fd, Path::new(path))?;
    check_same_mount(&proc_fd, &fd, path)?;
    let mut f = std::fs::File::from(fd);
    f.write_all(value).with_ctx(|| format!("write {path}"))?;
    Ok(())
}
