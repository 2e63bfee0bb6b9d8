//! Resolving paths inside the container's rootfs without ever leaving it.
//!
//! Defends against CVE-2021-30465 / CVE-2024-45310 style attacks: a rootfs
//! whose `/dev`, `/proc` or a mount target is a symlink to `/` or `..` (or
//! is swapped for one while we work) must resolve inside the rootfs. Every
//! lookup goes through `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//! from an fd of the rootfs; where the kernel lacks openat2 an equivalent
//! walk resolves one component at a time with O_NOFOLLOW and clamps `..`
//! and absolute symlinks to the root. Callers mount onto the resulting fd
//! (`/proc/self/fd/N`), never onto a joined path string.

use crate::error::{Context, Error, Result};
use crate::sys;
use nix::sys::stat::Mode;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Test hook and kernel fallback: use the component walk instead of openat2.
pub fn force_fallback(on: bool) {
    NO_OPENAT2.store(on, Ordering::Relaxed);
}

fn openat2_disabled() -> bool {
    NO_OPENAT2.load(Ordering::Relaxed) || std::env::var_os("RUNOCI_NO_OPENAT2").is_some()
}

/// Whether lookups go through openat2: the kernel lets us call it (probed
/// once, as runc does: any failure counts as "no", since a seccomp filter
/// around us, as in older Docker profiles, answers EPERM rather than
/// ENOSYS) and neither the test hook nor RUNOCI_NO_OPENAT2 turned it off.
/// `runoci check` reports this same answer.
pub fn uses_openat2() -> bool {
    static PROBED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    !openat2_disabled()
        && *PROBED
            .get_or_init(|| openat2_in_root(libc::AT_FDCWD, Path::new("/"), libc::O_PATH).is_ok())
}

const MAX_SYMLINKS: usize = 40;

/// Open `path` (absolute or relative, taken as inside `root`) with `flags`
/// (O_PATH, O_DIRECTORY, ...; O_CLOEXEC is always added).
pub fn open_in_root(root: RawFd, path: &Path, flags: i32) -> Result<OwnedFd> {
    if uses_openat2() {
        return openat2_in_root(root, path, flags).with_ctx(|| path.display());
    }
    walk_in_root(root, path, flags).with_ctx(|| path.display())
}

fn openat2_in_root(root: RawFd, path: &Path, flags: i32) -> std::io::Result<OwnedFd> {
    let rel = relative(path);
    let c = CString::new(rel.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    loop {
        let err = match sys::fs::openat2(root, &c, (flags | libc::O_CLOEXEC) as u64, resolve) {
            Ok(fd) => return Ok(fd),
            Err(err) => err,
        };
        // EAGAIN: a rename raced the lookup; the kernel asks us to retry.
        if err.raw_os_error() != Some(libc::EAGAIN) && err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

/// The openat2-less walk: one component at a time, O_NOFOLLOW, symlinks
/// read and re-resolved from the root, `..` never above the root.
fn walk_in_root(root: RawFd, path: &Path, flags: i32) -> std::io::Result<OwnedFd> {
    let mut pending: Vec<std::ffi::OsString> = components(path);
    pending.reverse();
    let mut stack: Vec<OwnedFd> = vec![dup(root)?];
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let cur = stack.last().map(|f| f.as_raw_fd()).unwrap_or(root);
        let last = pending.is_empty();
        let c = CString::new(name.as_encoded_bytes())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        let fd = openat(cur, &c, libc::O_PATH | libc::O_NOFOLLOW)?;
        if is_symlink(&fd)? {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
            }
            let target = readlinkat(cur, &c)?;
            // A procfs magic link read this way is only a string, resolved
            // inside the root like any other: it is never followed.
            if target.is_absolute() {
                stack.truncate(1);
            }
            let mut more = components(&target);
            more.reverse();
            pending.extend(more);
            continue;
        }
        if last {
            // Reopen the final component with the caller's flags, still
            // without following: it is not a symlink (checked above).
            drop(fd);
            let f = openat(cur, &c, flags | libc::O_NOFOLLOW)?;
            return Ok(f);
        }
        stack.push(fd);
    }
    // The path resolved to a directory on the stack (root or via `..`).
    let top = stack.last().map(|f| f.as_raw_fd()).unwrap_or(root);
    openat(top, c".", flags)
}

fn components(path: &Path) -> Vec<std::ffi::OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

fn openat(dir: RawFd, name: &std::ffi::CStr, flags: i32) -> std::io::Result<OwnedFd> {
    sys::fs::openat(dir, name, flags | libc::O_CLOEXEC, 0)
}

fn dup(fd: RawFd) -> std::io::Result<OwnedFd> {
    sys::fs::dup_cloexec(fd)
}

fn is_symlink(fd: &OwnedFd) -> std::io::Result<bool> {
    Ok(fstat(fd.as_raw_fd())?.st_mode & libc::S_IFMT == libc::S_IFLNK)
}

pub fn fstat(fd: RawFd) -> std::io::Result<libc::stat> {
    nix::sys::stat::fstat(fd).map_err(std::io::Error::from)
}

fn readlinkat(dir: RawFd, name: &std::ffi::CStr) -> std::io::Result<PathBuf> {
    nix::fcntl::readlinkat(Some(dir), name)
        .map(PathBuf::from)
        .map_err(std::io::Error::from)
}

/// What to create when the destination is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// Open `path` inside `root` as O_PATH, creating missing directories (0755)
/// and, for `Kind::File`, an empty final file (0644). Each directory is made
/// with mkdirat from an fd already resolved inside the root, so a symlink
/// planted anywhere on the way cannot send the mkdir outside.
pub fn mkdir_all_in_root(root: RawFd, path: &Path, kind: Kind) -> Result<OwnedFd> {
    if let Ok(fd) = open_in_root(root, path, libc::O_PATH) {
        return Ok(fd);
    }
    let parts = components(path);
    let mut cur = dup(root).ctx("dup rootfs fd")?;
    let mut so_far = PathBuf::from("/");
    for (i, name) in parts.iter().enumerate() {
        so_far.push(name);
        let last = i + 1 == parts.len();
        if let Ok(fd) = open_in_root(root, &so_far, libc::O_PATH) {
            cur = fd;
            continue;
        }
        let c =
            CString::new(name.as_encoded_bytes()).map_err(|_| Error::new("path contains NUL"))?;
        let made = if last && kind == Kind::File {
            let flags =
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
            sys::fs::openat(cur.as_raw_fd(), &c, flags, 0o644).map(drop)
        } else {
            nix::sys::stat::mkdirat(
                Some(cur.as_raw_fd()),
                c.as_c_str(),
                Mode::from_bits_truncate(0o755),
            )
            .map_err(std::io::Error::from)
        };
        if let Err(e) = made {
            if e.raw_os_error() != Some(libc::EEXIST) {
                return Err(Error::from(e).context(format!("create {}", so_far.display())));
            }
        }
        cur = open_in_root(root, &so_far, libc::O_PATH)?;
    }
    Ok(cur)
}

/// A directory `name` (one component) made in `dir`, a filesystem this
/// process has just mounted in its own mount namespace (the tmpfs under a
/// container's /sys/fs/cgroup): nothing else can have put a symlink there
/// yet, so it is made and opened relative to `dir` instead of resolved
/// again from the rootfs.
pub fn mkdir_in_fresh(dir: &OwnedFd, name: &str) -> Result<OwnedFd> {
    let c = CString::new(name).map_err(|_| Error::new("path contains NUL"))?;
    nix::sys::stat::mkdirat(
        Some(dir.as_raw_fd()),
        c.as_c_str(),
        Mode::from_bits_truncate(0o755),
    )
    .map_err(std::io::Error::from)
    .with_ctx(|| format!("create {name}"))?;
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW;
    sys::fs::openat(dir.as_raw_fd(), &c, flags | libc::O_CLOEXEC, 0)
        .with_ctx(|| format!("open {name}"))
}

/// `/proc/self/fd/N`: the path through which mount(2) reaches an fd.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// An O_PATH handle on a host path: bind sources, device nodes and the exec
/// FIFO are the host's to name, so no resolution under the rootfs.
pub fn open_host_path(p: &Path) -> Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(p)
        .map_err(|e| Error::from(e).context(format!("open {}", p.display())))?;
    Ok(f.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("runoci-resolve-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    static MODE: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn check_escape(fallback: bool) {
        let _serial = MODE.lock().unwrap_or_else(|e| e.into_inner());
        let d = tmp(if fallback { "fb" } else { "o2" });
        let root = d.join("root");
        std::fs::create_dir_all(root.join("real")).unwrap();
        symlink("/", root.join("toroot")).unwrap();
        symlink("../../..", root.join("up")).unwrap();
        symlink("/real", root.join("abs")).unwrap();
        let rootfd = std::fs::File::open(&root).unwrap();
        force_fallback(fallback);
        let r = rootfd.as_raw_fd();
        // "/toroot/etc" must land inside root, where etc does not exist.
        assert!(open_in_root(r, Path::new("/toroot/etc/passwd"), libc::O_PATH).is_err());
        assert!(open_in_root(r, Path::new("/up/etc/passwd"), libc::O_PATH).is_err());
        let fd = open_in_root(r, Path::new("/abs"), libc::O_PATH).unwrap();
        let st = fstat(fd.as_raw_fd()).unwrap();
        let real = std::fs::metadata(root.join("real")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(st.st_ino, real.ino());
        // mkdir through a symlink to / creates inside the root.
        mkdir_all_in_root(r, Path::new("/toroot/made/here"), Kind::Dir).unwrap();
        assert!(
            root.join("made/here").is_dir(),
            "mkdir must stay in the root"
        );
        assert!(!Path::new("/made").exists());
        mkdir_all_in_root(r, Path::new("/up/file"), Kind::File).unwrap();
        assert!(root.join("file").is_file());
        force_fallback(false);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_fallback_switch_turns_openat2_off_and_back() {
        let _serial = MODE.lock().unwrap_or_else(|e| e.into_inner());
        force_fallback(true);
        let off = uses_openat2();
        force_fallback(false);
        assert!(!off);
        // This kernel (5.6+) has it, as `runoci check` then reports.
        assert!(uses_openat2());
    }

    #[test]
    fn symlinks_to_host_root_resolve_inside_with_openat2() {
        check_escape(false);
    }

    #[test]
    fn symlinks_to_host_root_resolve_inside_with_fallback_walk() {
        check_escape(true);
    }
}
