//! Writes to procfs through handles verified to be a real procfs.
//!
//! Defends against CVE-2019-16884 / CVE-2025-52881: a container can mount
//! something else over `/proc` (or plant symlinks in it) so that a write
//! meant for `/proc/self/attr/exec` or `/proc/sys/...` lands elsewhere. We
//! open every procfs file with O_NOFOLLOW relative to a directory fd whose
//! filesystem magic we checked with fstatfs, and check the file again.

use crate::error::{Context, Error, Result};
use crate::rootfs::resolve;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;

fn check_procfs(fd: &OwnedFd, what: &Path) -> Result<()> {
    // SAFETY: statfs is plain data written by a successful fstatfs.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and pointer.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(Error::from(std::io::Error::last_os_error()).context(what.display()));
    }
    if st.f_type as i64 != PROC_SUPER_MAGIC {
        return Err(Error::new(format!(
            "{}: not on procfs (f_type {:#x}); refusing to write",
            what.display(),
            st.f_type
        )));
    }
    Ok(())
}

/// After pivot_root: `/proc` must be a procfs for what goes through it
/// (`field`: masks and read-only binds of `/proc/self/fd/N`, sysctl writes).
/// Without this check a config with no proc mount fails later with "No such
/// file" naming the masked path or the key, which hides the cause.
pub fn require_mounted(field: &str) -> Result<()> {
    // SAFETY: statfs is plain data written by a successful statfs.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and pointer.
    let rc = unsafe { libc::statfs(c"/proc".as_ptr(), &mut st) };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        return Err(Error::new(format!(
            "{field}: /proc is missing in the container ({err}); add a \"proc\" mount at /proc"
        )));
    }
    if st.f_type as i64 != PROC_SUPER_MAGIC {
        return Err(Error::new(format!(
            "{field}: /proc is not mounted in the container (not on procfs: f_type {:#x}); add a \"proc\" mount at /proc",
            st.f_type
        )));
    }
    Ok(())
}

/// The mount id of `fd` (statx STATX_MNT_ID); `None` where the kernel
/// cannot tell (before 5.8).
fn mount_id(fd: &OwnedFd) -> Option<u64> {
    // SAFETY: statx is plain data, written by a successful statx.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd, empty C string with AT_EMPTY_PATH, valid pointer.
    let rc = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_MNT_ID,
            &mut stx,
        )
    };
    (rc == 0 && stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id)
}

/// The file must be on the very procfs mount we verified, not on another
/// mount stacked on top of it: a bind of another procfs file over it (say
/// the host's /proc/sys/kernel/core_pattern over /proc/sys/net/... or
/// /proc/self/attr/exec) passes the filesystem check but would redirect
/// the write (CVE-2025-52881).
fn check_same_mount(proc_fd: &OwnedFd, fd: &OwnedFd, what: &str) -> Result<()> {
    if let (Some(a), Some(b)) = (mount_id(proc_fd), mount_id(fd)) {
        if a != b {
            return Err(Error::new(format!(
                "{what}: another mount covers it (mount {b}, /proc is mount {a}); refusing to write"
            )));
        }
    }
    Ok(())
}

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
