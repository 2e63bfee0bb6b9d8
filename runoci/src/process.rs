//! The program itself: its environment (`process.env`), its lookup in the
//! container's PATH (`process.args`), the fds it may keep, and the execve. (Each other process field
//! is applied by its step in `child`.)

use crate::error::{Context, Error, Result};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// `KEY=VALUE` strings; values may contain '=' (split at the first one).
pub fn env_pairs(env: &[String]) -> Vec<(String, String)> {
    env.iter()
        .filter_map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Find `prog` the way execvp would, but with the container's PATH.
pub fn find_program(prog: &str, env: &[String]) -> Result<PathBuf> {
    if prog.is_empty() {
        return Err(Error::new("process.args[0] is empty"));
    }
    if prog.contains('/') {
        return Ok(PathBuf::from(prog));
    }
    let path = env_pairs(env)
        .into_iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v)
        .unwrap_or_else(|| DEFAULT_PATH.to_string());
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = Path::new(dir).join(prog);
        let c = CString::new(cand.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::new("NUL in PATH"))?;
        if nix::unistd::access(c.as_c_str(), nix::unistd::AccessFlags::X_OK).is_ok()
            && !cand.is_dir()
        {
            return Ok(cand);
        }
    }
    Err(Error::new(format!(
        "exec {prog:?}: executable file not found in $PATH ({path})"
    )))
}

/// execve the program. Returns only on failure.
pub fn exec(program: &Path, args: &[String], env: &[String]) -> Error {
    let to_c = |s: &str| CString::new(s).unwrap_or_default();
    let Ok(path) = CString::new(program.as_os_str().as_encoded_bytes()) else {
        return Error::new("program path contains NUL");
    };
    let argv: Vec<CString> = args.iter().map(|a| to_c(a)).collect();
    let envp: Vec<CString> = env.iter().map(|e| to_c(e)).collect();
    let e = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    Error::new(format!("exec {}: {}", program.display(), e.desc()))
}

/// Mark every fd from 3 up (past the preserved ones) close-on-exec.
/// Defends against CVE-2024-21626: no fd of runoci's — a directory handle
/// on the host, the state dir, the creation channel — reaches the program.
pub fn close_fds_on_exec(preserve: u32) -> Result<()> {
    let first = 3 + preserve;
    if crate::sys::fd::close_range(first, libc::CLOSE_RANGE_CLOEXEC).is_ok() {
        return Ok(());
    }
    // Older kernels: walk /proc/self/fd.
    let dir = std::fs::read_dir("/proc/self/fd").ctx("list /proc/self/fd")?;
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd: &i32| *fd >= first as i32)
        .collect();
    for fd in fds {
        // An fd we own, or one already gone.
        let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn env_values_may_contain_equals() {
        let env = ["A=b=c".to_string(), "EMPTY=".to_string()];
        // Split at the first '=': the value keeps the others, or is empty.
        assert_eq!(
            super::env_pairs(&env),
            [("A".into(), "b=c".into()), ("EMPTY".into(), String::new())]
        );
    }
}
