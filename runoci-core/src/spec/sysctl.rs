//! `linux.sysctl`: which keys a container may set (runc's rules), and
//! the file under /proc/sys each names.

use super::error::SpecError;
use super::types::{Linux, Namespace};

type Checked = Result<(), SpecError>;

/// The file under /proc/sys a sysctl key names, as runc and sysctl(8)
/// read keys: `net.ipv4.ip_forward`, or with `/` as the separator, where a
/// `.` is part of a name (`net/ipv4/conf/eth0.100/forwarding`). `None` for a
/// key with an empty, `.` or `..` component or a NUL: it could name a file
/// outside /proc/sys.
pub fn sysctl_file(key: &str) -> Option<String> {
    let separator = if key.contains('/') { '/' } else { '.' };
    let parts: Vec<&str> = key.split(separator).collect();
    let ok = !key.contains('\0')
        && parts
            .iter()
            .all(|part| !part.is_empty() && *part != "." && *part != "..");
    ok.then(|| parts.join("/"))
}

/// Keys of the ipc namespace (runc's list), besides `fs.mqueue.*`.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The namespace a sysctl belongs to, as the spec names it, or `None` when
/// it is not namespaced: writing it would change the host's kernel.
fn sysctl_namespace(file: &str) -> Option<&'static str> {
    let dotted = file.replace('/', ".");
    if file.starts_with("net/") {
        Some("network")
    } else if file.starts_with("fs/mqueue/") || IPC_SYSCTLS.contains(&dotted.as_str()) {
        Some("ipc")
    } else if matches!(dotted.as_str(), "kernel.hostname" | "kernel.domainname") {
        Some("uts")
    } else {
        None
    }
}

/// A sysctl is applied only inside a namespace of the container's own:
/// refused when its key is not namespaced (`vm.swappiness`,
/// `kernel.panic`), when the spec does not list its namespace (the
/// container would share the runtime's, the host's), or when the
/// namespace is joined by a path that is the runtime's own.
pub(crate) fn check_sysctl(linux: &Linux, key: &str) -> Checked {
    let path = format!("linux.sysctl.{key:?}");
    let Some(file) = sysctl_file(key) else {
        return Err(SpecError::invalid(
            path,
            "invalid key: empty, \".\" or \"..\" component, or NUL",
        ));
    };
    let Some(kind) = sysctl_namespace(&file) else {
        return Err(SpecError::invalid(
            path,
            "not namespaced: writing it would change the host's kernel",
        ));
    };
    let own = |ns: &Namespace| match ns.path.as_deref() {
        None => true,
        Some(ns_path) => !is_runtime_namespace(kind, ns_path),
    };
    if !linux.namespaces.iter().any(|ns| ns.typ == kind && own(ns)) {
        return Err(SpecError::invalid(
            path,
            format!("needs the container's own {kind} namespace"),
        ));
    }
    let new_mount_namespace = linux
        .namespaces
        .iter()
        .any(|ns| ns.typ == "mount" && ns.path.as_deref().unwrap_or("").is_empty());
    if !new_mount_namespace {
        // The keys are written through the container's /proc, after
        // pivot_root, which only a new mount namespace has.
        return Err(SpecError::invalid(
            path,
            "needs a new mount namespace (sysctls are written through the container's /proc)",
        ));
    }
    Ok(())
}

/// Whether the namespace file at `ns_path` is the runtime's own namespace
/// of `kind`, or PID 1's (the host's), compared by device and inode as runc
/// compares network namespaces. A path that cannot be stat'ed is not known
/// to be either: joining it fails at create with its own error, and a
/// bundle whose namespace file is gone must still load for `delete`.
fn is_runtime_namespace(kind: &str, ns_path: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let proc_name = match kind {
        "network" => "net",
        other => other,
    };
    let Ok(theirs) = std::fs::metadata(ns_path) else {
        return false;
    };
    ["self", "1"].iter().any(|pid| {
        std::fs::metadata(format!("/proc/{pid}/ns/{proc_name}"))
            .is_ok_and(|ours| ours.dev() == theirs.dev() && ours.ino() == theirs.ino())
    })
}
