//! `runoci check` (alias `doctor`): what this host supports, and what that
//! means for config.json fields, one line each. Probes only; changes
//! nothing; always exits 0 (a missing feature is an answer, not an error).

use crate::error::{Error, Result};
use runoci_core::cgroups::Layout;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The namespace types of config.json and their /proc/self/ns names.
const NAMESPACES: &[(&str, &str)] = &[
    ("cgroup", "cgroup"),
    ("ipc", "ipc"),
    ("mount", "mnt"),
    ("network", "net"),
    ("pid", "pid"),
    ("time", "time"),
    ("user", "user"),
    ("uts", "uts"),
];

/// `linux.resources` fields and the controller each needs: (field, v1
/// controller, v2 controller; "" where that version has none).
const RESOURCE_CONTROLLERS: &[(&str, &str, &str)] = &[
    ("linux.resources.memory", "memory", "memory"),
    ("linux.resources.cpu", "cpu", "cpu"),
    ("linux.resources.cpu.cpus/mems", "cpuset", "cpuset"),
    ("linux.resources.pids", "pids", "pids"),
    ("linux.resources.blockIO", "blkio", "io"),
    ("linux.resources.hugepageLimits", "hugetlb", "hugetlb"),
    ("linux.resources.network", "net_cls", ""),
    ("linux.resources.rdma", "rdma", "rdma"),
];

#[derive(Debug, Serialize)]
pub struct CgroupInfo {
    /// "v1", "v2", "hybrid" or "none".
    pub layout: String,
    pub v1_controllers: BTreeMap<String, String>,
    pub v2_root: Option<String>,
    /// Controllers the cgroup2 root offers (`cgroup.controllers`).
    pub v2_controllers: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SeccompInfo {
    /// The kernel has seccomp (`Seccomp:` in /proc/self/status).
    pub available: bool,
    /// BPF filters (SECCOMP_MODE_FILTER).
    pub filter: bool,
    /// SCMP_ACT_NOTIFY (SECCOMP_RET_USER_NOTIF).
    pub notify: bool,
    /// This process's mode (0 none, 1 strict, 2 filter).
    pub mode: Option<u32>,
    pub libseccomp: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Note {
    pub field: String,
    /// "ok", "limited" or "unavailable".
    pub status: &'static str,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub kernel: String,
    pub namespaces: BTreeMap<String, bool>,
    pub user_namespaces_max: Option<u64>,
    pub cgroups: CgroupInfo,
    pub seccomp: SeccompInfo,
    pub openat2: bool,
    pub pidfd_open: bool,
    pub loop_control: bool,
    pub device_mapper: bool,
    pub lsms: Vec<String>,
    pub apparmor: bool,
    pub selinux: bool,
    pub time_namespace: bool,
    /// `usable: <criu --version>` or `unusable: <why>` (`criu check`).
    pub criu: String,
    pub notes: Vec<Note>,
}

fn read_trim(p: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

fn cgroup_info() -> CgroupInfo {
    let mut info = CgroupInfo {
        layout: "none".into(),
        v1_controllers: BTreeMap::new(),
        v2_root: None,
        v2_controllers: Vec::new(),
        error: None,
    };
    let layout = match Layout::detect() {
        Ok(l) => l,
        Err(e) => {
            info.error = Some(e.to_string());
            return info;
        }
    };
    info.layout = match &layout {
        Layout::V1 { .. } => "v1",
        Layout::V2 { .. } => "v2",
        Layout::Hybrid { .. } => "hybrid",
    }
    .into();
    if let Some(c) = layout.v1_controllers() {
        info.v1_controllers = c
            .iter()
            .map(|(k, v)| (k.clone(), v.display().to_string()))
            .collect();
    }
    if let Some(root) = layout.unified_root() {
        info.v2_root = Some(root.display().to_string());
        info.v2_controllers = read_trim(root.join("cgroup.controllers"))
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
    }
    info
}

const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;

fn seccomp_info() -> SeccompInfo {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mode = status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .and_then(|v| v.trim().parse().ok());
    let prctl_mode = crate::sys::seccomp::mode();
    let filter = crate::sys::seccomp::has_filter_mode();
    let notify = crate::sys::seccomp::has_action(SECCOMP_RET_USER_NOTIF);
    let libseccomp = libseccomp::ScmpVersion::current()
        .ok()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro));
    SeccompInfo {
        available: mode.is_some() || prctl_mode.is_ok(),
        filter,
        notify,
        mode,
        libseccomp,
    }
}

fn has_pidfd_open() -> bool {
    runoci_core::pidfd::open(std::process::id() as i32).is_ok()
}

/// The active LSMs, and whether AppArmor and SELinux are enabled as the
/// child decides it (one probe: `lsm`), so `check` reports what `create` does.
fn lsms() -> (Vec<String>, bool, bool) {
    (
        runoci_core::lsm::active(),
        runoci_core::lsm::apparmor_enabled(),
        runoci_core::lsm::selinux_enabled(),
    )
}

pub fn probe() -> Report {
    let namespaces: BTreeMap<String, bool> = NAMESPACES
        .iter()
        .map(|(typ, file)| {
            (
                typ.to_string(),
                Path::new("/proc/self/ns").join(file).exists(),
            )
        })
        .collect();
    let (lsms, apparmor, selinux) = lsms();
    let mut r = Report {
        kernel: read_trim("/proc/sys/kernel/osrelease").unwrap_or_default(),
        time_namespace: namespaces.get("time").copied().unwrap_or(false),
        namespaces,
        user_namespaces_max: read_trim("/proc/sys/user/max_user_namespaces")
            .and_then(|s| s.parse().ok()),
        cgroups: cgroup_info(),
        seccomp: seccomp_info(),
        openat2: crate::resolve::uses_openat2(),
        pidfd_open: has_pidfd_open(),
        loop_control: Path::new("/dev/loop-control").exists(),
        device_mapper: Path::new("/dev/mapper/control").exists(),
        lsms,
        apparmor,
        selinux,
        criu: criu_status(),
        notes: Vec::new(),
    };
    r.notes = notes(&r);
    r
}

fn note(field: &str, status: &'static str, message: impl Into<String>) -> Note {
    Note {
        field: field.to_string(),
        status,
        message: message.into(),
    }
}

/// What the host means for config.json, one note per field.
pub fn notes(r: &Report) -> Vec<Note> {
    let mut n = Vec::new();
    if r.pidfd_open {
        n.push(note(
            "runtime",
            "ok",
            "pidfd_open available: signals and waits cannot hit a recycled pid",
        ));
    } else {
        n.push(note("runtime", "unavailable", "pidfd_open missing (Linux 5.3+ needed): runoci cannot create containers on this kernel"));
    }
    let missing: Vec<&str> = r
        .namespaces
        .iter()
        .filter(|(_, ok)| !**ok)
        .map(|(t, _)| t.as_str())
        .collect();
    if missing.is_empty() {
        n.push(note(
            "linux.namespaces",
            "ok",
            "every type available (cgroup ipc mount network pid time user uts)",
        ));
    } else {
        for t in missing {
            n.push(note(
                &format!("linux.namespaces[type={t}]"),
                "unavailable",
                format!("this kernel has no {t} namespace: a config that asks for one fails"),
            ));
        }
    }
    match r.user_namespaces_max {
        Some(0) => n.push(note("linux.uidMappings", "unavailable", "user namespaces disabled (user.max_user_namespaces = 0): uid/gid mappings, --rootless specs and -u fail")),
        Some(max) if r.namespaces.get("user") == Some(&true) => n.push(note("linux.uidMappings", "ok", format!("user namespaces available (at most {max})"))),
        _ => n.push(note("linux.uidMappings", "unavailable", "no user namespaces: uid/gid mappings, --rootless specs and -u fail")),
    }
    if r.time_namespace {
        n.push(note("linux.timeOffsets", "ok", "time namespace available"));
    } else {
        n.push(note(
            "linux.timeOffsets",
            "unavailable",
            "no time namespace (Linux 5.6+): timeOffsets fail",
        ));
    }
    cgroup_notes(r, &mut n);
    let s = &r.seccomp;
    let lib = s.libseccomp.as_deref().unwrap_or("not found");
    if s.filter {
        n.push(note(
            "linux.seccomp",
            "ok",
            format!("seccomp filters available (libseccomp {lib})"),
        ));
        if s.notify {
            n.push(note(
                "linux.seccomp SCMP_ACT_NOTIFY",
                "ok",
                "user notification available (needs listenerPath)",
            ));
        } else {
            n.push(note(
                "linux.seccomp SCMP_ACT_NOTIFY",
                "unavailable",
                "the kernel has no SECCOMP_RET_USER_NOTIF (Linux 5.0+)",
            ));
        }
    } else {
        n.push(note(
            "linux.seccomp",
            "unavailable",
            "the kernel has no seccomp filter mode: a config with linux.seccomp fails",
        ));
    }
    if r.apparmor {
        n.push(note("process.apparmorProfile", "ok", "AppArmor enabled"));
    } else {
        n.push(note(
            "process.apparmorProfile",
            "unavailable",
            "AppArmor not enabled: a config that sets process.apparmorProfile fails with \"AppArmor is not enabled on this host\"",
        ));
    }
    // As `child::lsm` applies them: a label for an LSM that is off is
    // refused, not dropped.
    for field in ["process.selinuxLabel", "linux.mountLabel"] {
        if r.selinux {
            n.push(note(field, "ok", "SELinux enabled"));
        } else {
            n.push(note(field, "unavailable", format!("SELinux not enabled: a config that sets {field} fails with \"SELinux is not enabled on this host\"")));
        }
    }
    if r.selinux {
        n.push(note(
            "linux.mountLabel",
            "ok",
            "SELinux enabled: the label goes to tmpfs, devpts and mqueue mounts",
        ));
    } else {
        n.push(note(
            "linux.mountLabel",
            "limited",
            "SELinux not enabled: a mountLabel is ignored with a warning, as crun does",
        ));
    }
    if r.openat2 {
        n.push(note(
            "mounts[].destination",
            "ok",
            "resolved in the rootfs with openat2(RESOLVE_IN_ROOT)",
        ));
    } else {
        n.push(note(
            "mounts[].destination",
            "limited",
            "no openat2 (Linux 5.6+): resolved by a component walk (same confinement, slower)",
        ));
    }
    if r.loop_control {
        n.push(note(
            "mounts[].options loop",
            "ok",
            "/dev/loop-control present: image files can be mounted",
        ));
    } else {
        n.push(note(
            "mounts[].options loop",
            "unavailable",
            "/dev/loop-control missing: mounts with the loop option fail",
        ));
    }
    // `rootfs::loopdev::verity_unsupported` refuses dm= either way.
    if r.device_mapper {
        n.push(note(
            "mounts[].options dm=",
            "unavailable",
            "device-mapper present, but runoci does not do dm-verity mounts yet: dm= fails",
        ));
    } else {
        n.push(note(
            "mounts[].options dm=",
            "unavailable",
            "no device-mapper (/dev/mapper/control missing): dm-verity mounts fail",
        ));
    }
    n
}

fn cgroup_notes(r: &Report, n: &mut Vec<Note>) {
    let c = &r.cgroups;
    if c.layout == "none" {
        n.push(note(
            "linux.resources",
            "unavailable",
            format!(
                "no cgroup filesystem mounted ({}): runoci cannot create containers",
                c.error
                    .as_deref()
                    .unwrap_or("mount cgroup2 on /sys/fs/cgroup")
            ),
        ));
        return;
    }
    let v2 = |ctl: &str| !ctl.is_empty() && c.v2_controllers.iter().any(|x| x == ctl);
    for (field, v1c, v2c) in RESOURCE_CONTROLLERS {
        if let Some(path) = c.v1_controllers.get(*v1c) {
            n.push(note(
                field,
                "ok",
                format!("{v1c} controller (cgroup v1, {path})"),
            ));
        } else if v2(v2c) {
            n.push(note(field, "ok", format!("{v2c} controller (cgroup v2)")));
        } else {
            n.push(note(
                field,
                "unavailable",
                format!("missing cgroup controller {v1c}: setting it fails (mount or enable the controller)"),
            ));
        }
    }
    if let Some(path) = c.v1_controllers.get("devices") {
        n.push(note(
            "linux.resources.devices",
            "ok",
            format!("enforced by the v1 devices controller ({path})"),
        ));
    } else if c.v2_root.is_some() {
        n.push(note("linux.resources.devices", "ok", "on cgroup v2: enforced by a BPF_PROG_TYPE_CGROUP_DEVICE program runoci attaches to the container's cgroup"));
    } else {
        n.push(note(
            "linux.resources.devices",
            "unavailable",
            "the devices controller is not mounted",
        ));
    }
    if c.v1_controllers.contains_key("freezer") || c.v2_root.is_some() {
        n.push(note("pause/resume", "ok", "freezer available"));
    } else {
        n.push(note("pause/resume", "unavailable", "no freezer controller"));
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Whether checkpoint/restore can work here, for `check` and `features`.
pub fn criu_status() -> String {
    match crate::criu::usable() {
        Ok(v) => format!("usable: {v}"),
        Err(why) => format!("unusable: {why}"),
    }
}

pub fn render_text(r: &Report) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: String| s.push_str(&format!("{k:<16} {v}\n"));
    line("kernel:", r.kernel.clone());
    line("criu:", r.criu.clone());
    let ns: Vec<String> = r
        .namespaces
        .iter()
        .map(|(t, ok)| {
            if *ok {
                t.clone()
            } else {
                format!("{t}(missing)")
            }
        })
        .collect();
    line("namespaces:", ns.join(" "));
    line(
        "user ns max:",
        r.user_namespaces_max
            .map_or("unknown".into(), |m| m.to_string()),
    );
    let c = &r.cgroups;
    let mut cg = c.layout.clone();
    if !c.v1_controllers.is_empty() {
        let names: Vec<&str> = c.v1_controllers.keys().map(String::as_str).collect();
        cg.push_str(&format!("; v1: {}", names.join(" ")));
    }
    if let Some(root) = &c.v2_root {
        cg.push_str(&format!(
            "; v2 at {root}: {}",
            if c.v2_controllers.is_empty() {
                "(no controllers)".to_string()
            } else {
                c.v2_controllers.join(" ")
            }
        ));
    }
    line("cgroups:", cg);
    let sc = &r.seccomp;
    line(
        "seccomp:",
        format!(
            "filter {}, notify {}, this process mode {}, libseccomp {}",
            yes(sc.filter),
            yes(sc.notify),
            sc.mode.map_or("?".into(), |m| m.to_string()),
            sc.libseccomp.as_deref().unwrap_or("not found")
        ),
    );
    line("openat2:", yes(r.openat2).into());
    line("pidfd_open:", yes(r.pidfd_open).into());
    line("loop devices:", yes(r.loop_control).into());
    line("device-mapper:", yes(r.device_mapper).into());
    line(
        "LSMs:",
        if r.lsms.is_empty() {
            format!(
                "(securityfs not readable) apparmor {}, selinux {}",
                yes(r.apparmor),
                yes(r.selinux)
            )
        } else {
            r.lsms.join(",")
        },
    );
    line("time namespace:", yes(r.time_namespace).into());
    s.push_str("\nWhat this means for config.json:\n");
    for n in &r.notes {
        let mark = match n.status {
            "ok" => "ok  ",
            "limited" => "warn",
            _ => "no  ",
        };
        s.push_str(&format!("  [{mark}] {}: {}\n", n.field, n.message));
    }
    s
}

pub fn check(format: &str) -> Result<i32> {
    let r = probe();
    match format {
        "json" => {
            let text = serde_json::to_string_pretty(&r).map_err(|e| Error::new(e.to_string()))?;
            println!("{text}");
        }
        "text" => print!("{}", render_text(&r)),
        other => {
            return Err(Error::new(format!(
                "check --format {other:?}: expected text or json"
            )))
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_and_render() {
        let r = probe();
        assert!(r.pidfd_open);
        assert_eq!(r.namespaces.len(), 8);
        let text = render_text(&r);
        assert!(text.contains("namespaces:"), "{text}");
        assert!(text.contains("process.apparmorProfile"), "{text}");
        assert!(text.contains("linux.resources.devices"), "{text}");
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert!(v["notes"].as_array().is_some_and(|a| !a.is_empty()));
    }
}
