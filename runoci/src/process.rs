//! The container process's own attributes, applied in the child right
//! before execve: rlimits, user and groups, capabilities, no_new_privs,
//! umask, environment, and the program lookup.

use crate::error::{Context, Error, Result};
use crate::spec::{self, Process};
use caps::{CapSet, CapsHashSet};
use std::ffi::CString;
use std::path::{Path, PathBuf};

pub fn set_rlimits(process: &Process) -> Result<()> {
    for (i, r) in process.rlimits.iter().enumerate() {
        let res = spec::rlimit_resource(&r.typ).ok_or_else(|| {
            Error::new(format!("process.rlimits[{i}]: unknown rlimit {:?}", r.typ))
        })?;
        let lim = libc::rlimit {
            rlim_cur: r.soft,
            rlim_max: r.hard,
        };
        // SAFETY: plain syscall with a valid struct.
        if unsafe { libc::setrlimit(res, &lim) } < 0 {
            let e = std::io::Error::last_os_error();
            let hint = if e.raw_os_error() == Some(libc::EPERM) {
                " (a hard limit above the current one needs CAP_SYS_RESOURCE)"
            } else {
                ""
            };
            return Err(Error::new(format!(
                "process.rlimits[{i}]: setrlimit {} soft {} hard {}: {e}{hint}",
                r.typ, r.soft, r.hard
            )));
        }
    }
    Ok(())
}

fn cap_set(names: &[String], field: &str) -> Result<CapsHashSet> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            spec::capability(n).ok_or_else(|| {
                Error::new(format!(
                    "process.capabilities.{field}[{i}]: unknown capability {n:?}"
                ))
            })
        })
        .collect()
}

/// Switch to the configured user, keeping exactly the configured
/// capabilities. Order matters: the bounding set is dropped while we still
/// hold CAP_SETPCAP; KEEPCAPS carries the permitted set across setuid; the
/// other sets are set after it; ambient last (it needs permitted and
/// inheritable).
pub fn set_user_and_caps(process: &Process) -> Result<()> {
    let caps = process.capabilities.as_ref();
    let wanted = match caps {
        Some(c) => Some((
            cap_set(&c.bounding, "bounding")?,
            cap_set(&c.effective, "effective")?,
            cap_set(&c.permitted, "permitted")?,
            cap_set(&c.inheritable, "inheritable")?,
            cap_set(&c.ambient, "ambient")?,
        )),
        None => None,
    };
    if let Some((bounding, ..)) = &wanted {
        for cap in caps::all() {
            if !bounding.contains(&cap)
                && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false)
            {
                caps::drop(None, CapSet::Bounding, cap)
                    .with_ctx(|| format!("drop {cap} from the bounding set"))?;
            }
        }
    }
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } < 0 {
        return Err(Error::from(std::io::Error::last_os_error()).context("prctl(PR_SET_KEEPCAPS)"));
    }
    let user = &process.user;
    let gids: Vec<libc::gid_t> = user.additional_gids.clone();
    // SAFETY: valid pointer and length.
    if unsafe { libc::setgroups(gids.len(), gids.as_ptr()) } < 0 {
        let e = std::io::Error::last_os_error();
        // In a user namespace with setgroups denied, an empty list is fine.
        if !(gids.is_empty() && e.raw_os_error() == Some(libc::EPERM)) {
            return Err(
                Error::from(e).context(format!("setgroups {gids:?} (process.user.additionalGids)"))
            );
        }
    }
    // SAFETY: plain syscalls.
    if unsafe { libc::setresgid(user.gid, user.gid, user.gid) } < 0 {
        return Err(Error::from(std::io::Error::last_os_error())
            .context(format!("setresgid {} (process.user.gid)", user.gid)));
    }
    // SAFETY: plain syscall.
    if unsafe { libc::setresuid(user.uid, user.uid, user.uid) } < 0 {
        return Err(Error::from(std::io::Error::last_os_error())
            .context(format!("setresuid {} (process.user.uid)", user.uid)));
    }
    if let Some((_, effective, permitted, inheritable, ambient)) = wanted {
        // Inheritable while permitted is still full; effective before
        // permitted shrinks (the kernel wants effective ⊆ permitted).
        caps::set(None, CapSet::Inheritable, &inheritable).ctx("set inheritable capabilities")?;
        caps::set(None, CapSet::Effective, &effective).ctx("set effective capabilities")?;
        caps::set(None, CapSet::Permitted, &permitted).ctx(
            "set permitted capabilities (process.capabilities.effective must be within permitted)",
        )?;
        caps::clear(None, CapSet::Ambient).ctx("clear ambient capabilities")?;
        // The kernel only lets a capability be ambient when it is both
        // permitted and inheritable; like runc, others are skipped.
        for cap in ambient
            .into_iter()
            .filter(|c| permitted.contains(c) && inheritable.contains(c))
        {
            caps::raise(None, CapSet::Ambient, cap).with_ctx(|| {
                format!("raise ambient {cap} (it must be in permitted and inheritable)")
            })?;
        }
    }
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    Ok(())
}

pub fn set_no_new_privileges() -> Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
        return Err(
            Error::from(std::io::Error::last_os_error()).context("prctl(PR_SET_NO_NEW_PRIVS)")
        );
    }
    Ok(())
}

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
        // SAFETY: valid C string.
        if unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0 && !cand.is_dir() {
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
    // SAFETY: close_range with the CLOEXEC flag only changes fd flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    // Older kernels: walk /proc/self/fd.
    let dir = std::fs::read_dir("/proc/self/fd").ctx("list /proc/self/fd")?;
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd: &i32| *fd >= first as i32)
        .collect();
    for fd in fds {
        // SAFETY: setting FD_CLOEXEC on an fd we own or that is already gone.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}
