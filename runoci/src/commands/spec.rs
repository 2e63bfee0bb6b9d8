//! `runoci spec [--rootless] [--bundle DIR]`: write a starter config.json,
//! as `runc spec` does, for a busybox-style rootfs in `DIR/rootfs`.
//!
//! Differences from runc's template, on purpose: `process.terminal` is
//! false (`runoci run` hands the container runoci's own stdio; a terminal
//! needs `--console-socket`), and the hostname is "runoci". The rootless
//! variant follows runc's `--rootless`: a user namespace mapping the
//! caller's uid and gid to root, no network namespace (the host's network
//! stays), `/sys` bind-mounted (rbind) from the host because sysfs cannot
//! be mounted without a network namespace of one's own, no `uid=`/`gid=`
//! mount options (those ids are not mapped), and nothing that needs cgroup
//! write access (no `linux.resources`, no cgroup filesystem mount).

use crate::error::{Context, Error, Result};
use serde_json::{json, Value};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The capabilities of runc's template.
const CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// The starter configuration. `ids` = (uid, gid) of the caller for the
/// rootless variant.
pub fn template(rootless: Option<(u32, u32)>) -> Value {
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": CAPS,
                "effective": CAPS,
                "permitted": CAPS
            },
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "runoci",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "resources": { "devices": [ { "allow": false, "access": "rwm" } ] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    });
    if let Some((uid, gid)) = rootless {
        make_rootless(&mut spec, uid, gid);
    }
    spec
}

fn make_rootless(spec: &mut Value, uid: u32, gid: u32) {
    let linux = &mut spec["linux"];
    if let Some(o) = linux.as_object_mut() {
        o.remove("resources");
    }
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network" && n["type"] != "user");
        ns.push(json!({ "type": "user" }));
    }
    linux["uidMappings"] = json!([ { "containerID": 0, "hostID": uid, "size": 1 } ]);
    linux["gidMappings"] = json!([ { "containerID": 0, "hostID": gid, "size": 1 } ]);
    let Some(mounts) = spec["mounts"].as_array_mut() else {
        return;
    };
    mounts.retain(|m| m["destination"] != "/sys/fs/cgroup");
    for m in mounts.iter_mut() {
        if m["destination"] == "/sys" {
            *m = json!({ "destination": "/sys", "type": "none", "source": "/sys",
                         "options": ["rbind", "nosuid", "noexec", "nodev", "ro"] });
            continue;
        }
        // get_mut: indexing a missing key mutably would insert a null.
        if let Some(opts) = m.get_mut("options").and_then(Value::as_array_mut) {
            opts.retain(|o| {
                let o = o.as_str().unwrap_or("");
                !o.starts_with("uid=") && !o.starts_with("gid=")
            });
        }
    }
}

/// Keys in the order `runc spec` writes them (others after, sorted).
const KEY_ORDER: &[&str] = &[
    "ociVersion",
    "process",
    "terminal",
    "user",
    "uid",
    "gid",
    "args",
    "env",
    "cwd",
    "capabilities",
    "bounding",
    "effective",
    "permitted",
    "rlimits",
    "type",
    "hard",
    "soft",
    "noNewPrivileges",
    "root",
    "path",
    "readonly",
    "hostname",
    "mounts",
    "destination",
    "source",
    "options",
    "linux",
    "uidMappings",
    "gidMappings",
    "containerID",
    "hostID",
    "size",
    "resources",
    "devices",
    "allow",
    "access",
    "namespaces",
    "maskedPaths",
    "readonlyPaths",
];

/// A JSON value serialized with objects' keys in [`KEY_ORDER`], so the
/// file reads like runc's (serde_json's map sorts them).
struct Ordered<'a>(&'a Value);

impl serde::Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(map) => {
                let rank = |k: &str| KEY_ORDER.iter().position(|x| *x == k).unwrap_or(usize::MAX);
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by_key(|k| rank(k));
                let mut m = s.serialize_map(Some(keys.len()))?;
                for k in keys {
                    m.serialize_entry(k, &Ordered(&map[k]))?;
                }
                m.end()
            }
            Value::Array(items) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    q.serialize_element(&Ordered(v))?;
                }
                q.end()
            }
            other => other.serialize(s),
        }
    }
}

/// The template as config.json text (pretty, runc's key order, with a
/// final newline).
pub fn template_text(rootless: Option<(u32, u32)>) -> String {
    let mut s = serde_json::to_string_pretty(&Ordered(&template(rootless))).unwrap_or_default();
    s.push('\n');
    s
}

/// Write `bundle/config.json`; never overwrites one.
pub fn spec(bundle: &Path, rootless: bool) -> Result<i32> {
    if !bundle.is_dir() {
        return Err(Error::new(format!(
            "spec: bundle {}: not a directory (create it first, with the root filesystem in {}/rootfs)",
            bundle.display(),
            bundle.display()
        )));
    }
    let ids = rootless.then(|| {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    });
    let path = bundle.join(runoci_core::state::CONFIG_JSON);
    let text = template_text(ids);
    // create_new: O_EXCL, so an existing config.json (or a symlink there)
    // is refused, not replaced, even when two `spec`s race.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::new(format!(
                    "spec: {} already exists; remove it first to write a new one",
                    path.display()
                ))
            } else {
                Error::from(e).context(format!("spec: create {}", path.display()))
            }
        })?;
    f.write_all(text.as_bytes())
        .with_ctx(|| format!("spec: write {}", path.display()))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_passes_validation() {
        let spec = crate::spec::parse(&template_text(None), "template").expect("valid");
        assert!(!spec.process.as_ref().unwrap().terminal);
        assert_eq!(spec.process.as_ref().unwrap().args, vec!["sh".to_string()]);
        assert!(spec.has_namespace("network"));
        assert!(!spec.has_namespace("user"));
    }

    #[test]
    fn rootless_template_passes_validation() {
        let text = template_text(Some((1000, 1001)));
        let spec = crate::spec::parse(&text, "rootless template").expect("valid");
        assert!(spec.has_namespace("user"));
        assert!(!spec.has_namespace("network"));
        let linux = spec.linux.as_ref().unwrap();
        assert_eq!(linux.uid_mappings[0].host_id, 1000);
        assert_eq!(linux.gid_mappings[0].host_id, 1001);
        assert!(linux.resources.is_none());
        assert!(!text.contains("gid=5"));
        let sys = spec
            .mounts
            .iter()
            .find(|m| m.destination == "/sys")
            .unwrap();
        assert!(sys.options.iter().any(|o| o == "rbind"));
        assert!(!spec
            .mounts
            .iter()
            .any(|m| m.destination == "/sys/fs/cgroup"));
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = std::env::temp_dir().join(format!("runoci-spec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(spec(&dir, false).unwrap(), 0);
        let first = std::fs::read_to_string(dir.join("config.json")).unwrap();
        let err = spec(&dir, true).unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.join("config.json")).unwrap(),
            first
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
