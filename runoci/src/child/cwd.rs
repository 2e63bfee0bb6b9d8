//! `process.cwd`: created in the container, entered, and checked to be
//! inside it. Shared by the init and `exec`.

use crate::error::{Context, Error, Result};
use crate::resolve;
use std::os::fd::AsRawFd;
use std::path::{Component, Path};

/// What the path alone must pass: absolute, and not naming an fd of ours
/// (CVE-2024-21626: `/proc/self/fd/N` would leave the process holding a
/// directory of the host, through an fd of the runtime). A symlink in the
/// rootfs that leads there is caught after the chdir (`check_inside`).
pub fn check_path(cwd: &str) -> Result<()> {
    if !cwd.starts_with('/') {
        return Err(Error::new(format!("process.cwd {cwd:?}: must be absolute")));
    }
    if names_fd(cwd) {
        return Err(Error::new(format!(
            "process.cwd {cwd:?}: refusing a cwd under /proc/*/fd (it would reach the runtime's file descriptors)"
        )));
    }
    Ok(())
}

/// Any `/proc/<pid|self|thread-self>/{fd,fdinfo,cwd,root}...` or
/// `/proc/<pid>/task/<tid>/{...}`, after `.` and `..` are taken out.
pub fn names_fd(cwd: &str) -> bool {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(cwd).components() {
        match c {
            Component::Normal(n) => parts.push(n.to_str().unwrap_or("")),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let is_fd = |w: &str| w == "fd" || w == "fdinfo" || w == "cwd" || w == "root";
    parts.first() == Some(&"proc")
        && (parts.get(2).is_some_and(|w| is_fd(w))
            || (parts.get(2) == Some(&"task") && parts.get(4).is_some_and(|w| is_fd(w))))
}

/// The init's cwd step before the rootfs is finished: create the directory
/// inside the root (never following a link out of it).
pub fn create(cwd: &str) -> Result<()> {
    check_path(cwd)?;
    let root = std::fs::File::open("/").ctx("open /")?;
    resolve::mkdir_all_in_root(root.as_raw_fd(), Path::new(cwd), resolve::Kind::Dir)
        .with_ctx(|| format!("create process.cwd {cwd}"))?;
    Ok(())
}

/// chdir to `cwd` and make sure it is inside the container's root.
pub fn enter(cwd: &str) -> Result<()> {
    check_path(cwd)?;
    nix::unistd::chdir(Path::new(cwd)).with_ctx(|| format!("chdir to process.cwd {cwd}"))?;
    let now = nix::unistd::getcwd().ctx("getcwd")?;
    check_inside(cwd, &now.to_string_lossy())
}

/// After chdir: the kernel says "(unreachable)" for a cwd outside our root.
pub fn check_inside(cwd: &str, getcwd: &str) -> Result<()> {
    if !getcwd.starts_with('/') || getcwd.contains("(unreachable)") {
        return Err(Error::new(format!(
            "process.cwd {cwd:?}: resolves outside the container"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_cwd_is_refused() {
        let e = check_path("tmp").unwrap_err().to_string();
        assert!(e.contains("process.cwd") && e.contains("absolute"), "{e}");
        assert!(check_path("").is_err());
        check_path("/tmp").unwrap();
    }

    #[test]
    fn cwds_naming_an_fd_are_refused() {
        for p in [
            "/proc/self/fd/7",
            "/proc/1/fd",
            "/proc/thread-self/cwd",
            "/proc/self/root/etc",
            "/proc/12/task/12/fd/3",
            "/proc/./self/fdinfo",
            "/tmp/../proc/self/fd/3",
        ] {
            assert!(names_fd(p), "{p}");
            assert!(check_path(p).is_err(), "{p}");
        }
        for p in [
            "/proc",
            "/proc/self",
            "/proc/self/status",
            "/fd/proc",
            "/srv/proc/self/fd",
        ] {
            assert!(!names_fd(p), "{p}");
        }
        assert!(!names_fd("/proc/self/fd/../.."), "back out of it");
    }

    #[test]
    fn unreachable_or_relative_getcwd_is_outside() {
        check_inside("/x", "/x").unwrap();
        assert!(check_inside("/x", "(unreachable)/host/dir").is_err());
        assert!(check_inside("/x", "host/dir").is_err());
    }
}
