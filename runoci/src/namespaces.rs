//! Namespaces: which to create at clone, which to join by path, and the
//! user namespace's id maps.

use crate::error::{Context, Error, Result};
use crate::spec::{self, IdMapping, Spec};
use nix::sched::CloneFlags;
use std::os::fd::OwnedFd;

/// A namespace to join: its kind and an fd opened from `path` before the
/// clone (so a path inside a container cannot be swapped under us).
pub struct Join {
    pub flag: CloneFlags,
    pub fd: OwnedFd,
    pub path: String,
}

pub struct Plan {
    /// To create with clone() (user, mount, uts, ipc, net, pid).
    pub clone_flags: CloneFlags,
    /// To create in the child with unshare(), after the parent has placed
    /// it in its cgroups (a cgroup namespace's root is the cgroup the
    /// process is in when it is made).
    pub unshare_cgroup: bool,
    /// To create in the parent before the clone (time: applies to children).
    pub unshare_time: bool,
    pub joins: Vec<Join>,
}

impl Plan {
    pub fn new_user(&self) -> bool {
        self.clone_flags.contains(CloneFlags::CLONE_NEWUSER)
    }
    pub fn join_of(&self, flag: CloneFlags) -> Option<&Join> {
        self.joins.iter().find(|j| j.flag == flag)
    }
    /// A mount namespace of the container's own, new or joined by path:
    /// where the rootfs set-up happens.
    pub fn has_mount(&self) -> bool {
        self.clone_flags.contains(CloneFlags::CLONE_NEWNS)
            || self.join_of(CloneFlags::CLONE_NEWNS).is_some()
    }
}

/// Without a mount namespace the rootfs set-up would mount in the
/// runtime's namespace (the host's), where the mounts outlive the
/// container: runc and crun do that, runc refuses only masked and
/// read-only paths. The first field that needs one, refused before
/// anything is created; a config with none of them is chrooted.
pub fn check_mount_needed(spec: &Spec, extra_binds: bool) -> Result<()> {
    let linux = spec.linux.clone().unwrap_or_default();
    let needs = [
        ("mounts", !spec.mounts.is_empty()),
        ("-b", extra_binds),
        ("linux.maskedPaths", !linux.masked_paths.is_empty()),
        ("linux.readonlyPaths", !linux.readonly_paths.is_empty()),
        ("linux.devices", !linux.devices.is_empty()),
        (
            "linux.rootfsPropagation",
            linux.rootfs_propagation.is_some(),
        ),
        (
            "root.readonly",
            spec.root.as_ref().is_some_and(|r| r.readonly),
        ),
    ];
    match needs.iter().find(|(_, set)| *set) {
        Some((field, _)) => Err(Error::new(format!(
            "{field}: needs a mount namespace, and the container has none (its mounts would be made in the runtime's namespace and outlive it); add {{\"type\": \"mount\"}} to linux.namespaces"
        ))),
        None => Ok(()),
    }
}

pub fn plan(spec: &Spec) -> Result<Plan> {
    let mut p = Plan {
        clone_flags: CloneFlags::empty(),
        unshare_cgroup: false,
        unshare_time: false,
        joins: Vec::new(),
    };
    let Some(linux) = &spec.linux else {
        return Ok(p);
    };
    for (i, ns) in linux.namespaces.iter().enumerate() {
        let flag = spec::namespace_flag(&ns.typ).ok_or_else(|| {
            Error::new(format!(
                "linux.namespaces[{i}].type: unknown namespace {:?}",
                ns.typ
            ))
        })?;
        match &ns.path {
            Some(path) if !path.is_empty() => {
                let f = std::fs::File::open(path).with_ctx(|| {
                    format!("linux.namespaces[{i}]: open {} namespace {path}", ns.typ)
                })?;
                p.joins.push(Join {
                    flag,
                    fd: f.into(),
                    path: path.clone(),
                });
            }
            _ if flag == CloneFlags::CLONE_NEWCGROUP => p.unshare_cgroup = true,
            _ if flag.bits() == libc::CLONE_NEWTIME => p.unshare_time = true,
            _ => p.clone_flags |= flag,
        }
    }
    Ok(p)
}

/// Kernel id_map text: "containerID hostID size" per line.
pub fn id_map_text(maps: &[IdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

/// Write the child's uid/gid maps (from the parent, in the host's
/// namespace, through the verified procfs). An unprivileged caller may
/// write only a map of its own id, and only once setgroups is denied (the
/// kernel's rule, so that dropping a group cannot grant access); a map of
/// more ids is written by the setuid `newuidmap`/`newgidmap` (package
/// uidmap), which check it against `/etc/subuid` and `/etc/subgid`, as
/// runc and crun do. Root (of the initial namespace, or of a rootless
/// engine's) writes any map its namespace can.
pub fn write_id_maps(pid: i32, uid_maps: &[IdMapping], gid_maps: &[IdMapping]) -> Result<()> {
    let privileged = nix::unistd::geteuid().is_root();
    let uid_helper = !privileged && !only_own_id(uid_maps, nix::unistd::geteuid().as_raw());
    let gid_helper = !privileged && !only_own_id(gid_maps, nix::unistd::getegid().as_raw());
    if !privileged && !gid_helper {
        crate::procfs::write(&format!("/proc/{pid}/setgroups"), b"deny")?;
    }
    for (maps, helper, name, field) in [
        (uid_maps, uid_helper, "uid", "linux.uidMappings"),
        (gid_maps, gid_helper, "gid", "linux.gidMappings"),
    ] {
        if helper {
            run_id_map_helper(&format!("new{name}map"), pid, maps, field)?;
        } else {
            crate::procfs::write(
                &format!("/proc/{pid}/{name}_map"),
                id_map_text(maps).as_bytes(),
            )
            .with_ctx(|| format!("write {name}_map ({field})"))?;
        }
    }
    Ok(())
}

/// Whether `maps` maps only `id` (what an unprivileged process may write).
fn only_own_id(maps: &[IdMapping], id: u32) -> bool {
    matches!(maps, [m] if m.host_id == id && m.size == 1)
}

/// `newuidmap PID inside outside count...` (or newgidmap); `field` names
/// the mappings in the error, with the helper's own message.
fn run_id_map_helper(helper: &str, pid: i32, maps: &[IdMapping], field: &str) -> Result<()> {
    let mut cmd = std::process::Command::new(helper);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id.to_string(),
            m.host_id.to_string(),
            m.size.to_string(),
        ]);
    }
    let why = "an unprivileged caller maps more than its own id only through it (package uidmap, with /etc/subuid and /etc/subgid entries)";
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::new(format!("{field}: run {helper}: {e}; {why}")))?;
    if !out.status.success() {
        return Err(Error::new(format!(
            "{field}: {helper} {pid} {}failed ({}): {}",
            id_map_text(maps).replace('\n', " "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// clone() a child that runs `child` (fork semantics: no new stack) with
/// the namespaces of `flags`. With `pid_ns`, the child is born in that pid
/// namespace: joining one applies to children only, so this process
/// enters it for the clone and comes back right after, whatever the clone
/// did. `what` completes "clone ..." in the error. Shared by the
/// container's init and `exec`.
pub fn clone_child(
    flags: CloneFlags,
    pid_ns: Option<(&OwnedFd, &str)>,
    what: &str,
    child: impl FnOnce() -> std::convert::Infallible,
) -> Result<i32> {
    clone_child_into(flags, pid_ns, None, what, child).map(|(pid, _)| pid)
}

/// `clone_child`, the child born in the cgroup2 directory `cgroup` where
/// the kernel lets it (`sys::sched::clone_like_fork`); also returns
/// whether it was.
pub fn clone_child_into(
    flags: CloneFlags,
    pid_ns: Option<(&OwnedFd, &str)>,
    cgroup: Option<std::os::fd::BorrowedFd<'_>>,
    what: &str,
    child: impl FnOnce() -> std::convert::Infallible,
) -> Result<(i32, bool)> {
    let restore = match pid_ns {
        Some((fd, desc)) => {
            let own = std::fs::File::open("/proc/self/ns/pid").ctx("open own pid namespace")?;
            nix::sched::setns(fd, CloneFlags::CLONE_NEWPID)
                .with_ctx(|| format!("join pid namespace {desc}"))?;
            Some(own)
        }
        None => None,
    };
    let flags = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // The callers are single-threaded (the contract of clone_like_fork).
    let pid = crate::sys::sched::clone_like_fork(flags, cgroup, child);
    if let Some(own) = restore {
        let _ = nix::sched::setns(&own, CloneFlags::CLONE_NEWPID);
    }
    pid.with_ctx(|| format!("clone {what}"))
}

/// What a child cloned by [`clone_joining_cgroup`] joined by itself.
pub struct CgroupJoin {
    /// Indices (of `Cgroup::hierarchies`) the child is in or will write
    /// itself into.
    hierarchies: Vec<usize>,
    /// Whether the child reports on its v1 writes (it was given `tasks`).
    child_reports: bool,
}

impl CgroupJoin {
    /// After the clone, before the child goes on: its report on the v1
    /// cgroups it joined, then the runtime's pid write into every
    /// hierarchy of `cg` it is not in.
    pub fn finish(
        mut self,
        chan: &crate::sync::ParentChannel,
        cg: &runoci_core::cgroups::Cgroup,
        pid: i32,
    ) -> Result<()> {
        if self.child_reports {
            chan.cgroups_joined(&mut self.hierarchies)?;
        }
        cg.add_pid_except(pid, &self.hierarchies)?;
        Ok(())
    }
}

/// [`clone_child_into`] a child that joins `cgroup` by itself
/// (`runoci_core::cgroups::join`): born in its cgroup2 directory where the
/// kernel lets it, and handed the v1 `tasks` files it writes itself into
/// (`ChildChannel::join_cgroups`) instead of the runtime writing its pid to
/// every `cgroup.procs`. Without `cgroup`, a plain clone.
pub fn clone_joining_cgroup(
    flags: CloneFlags,
    pid_ns: Option<(&OwnedFd, &str)>,
    cgroup: Option<&runoci_core::cgroups::Cgroup>,
    what: &str,
    child: impl FnOnce(Vec<(usize, OwnedFd)>) -> std::convert::Infallible,
) -> Result<(i32, CgroupJoin)> {
    use std::os::fd::{AsFd, AsRawFd};
    let join = cgroup.map(|cg| cg.open_for_join()).unwrap_or_default();
    let unified = join.unified.as_ref().map(|(i, fd)| (*i, fd.as_fd()));
    let unified_raw = unified.map(|(_, fd)| fd.as_raw_fd());
    let tasks = join.tasks;
    let child_reports = !tasks.is_empty();
    let mut hierarchies: Vec<usize> = tasks.iter().map(|(i, _)| *i).collect();
    let (pid, in_unified) =
        clone_child_into(flags, pid_ns, unified.map(|(_, fd)| fd), what, move || {
            // The child does not hold the runtime's handle on the cgroup2
            // directory (never dropped here: the child does not return).
            if let Some(fd) = unified_raw {
                let _ = nix::unistd::close(fd);
            }
            child(tasks)
        })?;
    if let (true, Some((i, _))) = (in_unified, unified) {
        hierarchies.push(i);
    }
    Ok((
        pid,
        CgroupJoin {
            hierarchies,
            child_reports,
        },
    ))
}

/// A user namespace with the id maps `uid_maps` and `gid_maps`, for an
/// idmapped mount whose own mappings differ from the container's: a helper
/// process is cloned into a new user namespace, its maps written, the
/// namespace opened, and the helper killed and reaped (the fd keeps the
/// namespace).
pub fn userns_with_maps(uid_maps: &[IdMapping], gid_maps: &[IdMapping]) -> Result<OwnedFd> {
    let what = "a user namespace for an idmapped mount";
    let pid = clone_child(CloneFlags::CLONE_NEWUSER, None, what, || {
        // Gone with us should we die before killing it.
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
        loop {
            nix::unistd::pause();
        }
    })?;
    let opened = write_id_maps(pid, uid_maps, gid_maps).and_then(|()| {
        let path = format!("/proc/{pid}/ns/user");
        std::fs::File::open(&path)
            .with_ctx(|| format!("open {path}"))
            .map(OwnedFd::from)
    });
    let pid = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(pid, None);
    opened
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        crate::spec::parse(&json.to_string(), "test").expect("valid config")
    }

    #[test]
    fn without_a_mount_namespace_the_first_field_needing_one_is_refused() {
        let base = serde_json::json!({
            "ociVersion": "1.0.2", "root": {"path": "rootfs"},
            "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "linux": {"namespaces": [{"type": "pid"}]}
        });
        check_mount_needed(&spec(base.clone()), false).expect("nothing to mount: chroot");
        let err = check_mount_needed(&spec(base.clone()), true).unwrap_err();
        assert!(
            err.to_string().starts_with("-b: needs a mount namespace"),
            "{err}"
        );
        let mut with_mounts = base.clone();
        with_mounts["mounts"] =
            serde_json::json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
        with_mounts["linux"]["maskedPaths"] = serde_json::json!(["/proc/kcore"]);
        let err = check_mount_needed(&spec(with_mounts), false).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("mounts: needs a mount namespace")
                && err.to_string().ends_with("to linux.namespaces"),
            "{err}"
        );
        let mut readonly_root = base;
        readonly_root["root"]["readonly"] = serde_json::json!(true);
        let err = check_mount_needed(&spec(readonly_root), false).unwrap_err();
        assert!(err.to_string().starts_with("root.readonly: "), "{err}");
    }
}
