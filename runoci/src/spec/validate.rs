//! Checks a parsed `Spec` against the OCI runtime spec (and run_oci's
//! extensions) before anything is created. The first fault found is
//! returned, naming its JSON path and the bad value.
//!
//! Where the reference is lax and the spec is not (env values with `=`,
//! the uts namespace for a hostname, namespace paths, cwd), the spec wins.

use super::error::SpecError;
use super::names;
use super::types::*;
use std::collections::BTreeSet;
use std::path::{Component, Path};

type Checked = Result<(), SpecError>;

/// Validates `spec`. Errors carry no origin; `parse` adds it.
pub fn validate(spec: &Spec) -> Checked {
    check_oci_version(&spec.oci_version)?;
    check_root(spec.root.as_ref())?;
    let Some(process) = spec.process.as_ref() else {
        return Err(SpecError::invalid("process", "missing"));
    };
    check_process(process)?;
    check_names(spec)?;
    for (index, mount) in spec.mounts.iter().enumerate() {
        check_mount(&format!("mounts[{index}]"), mount)?;
    }
    if let Some(hooks) = spec.hooks.as_ref() {
        check_hooks(hooks)?;
    }
    if let Some(linux) = spec.linux.as_ref() {
        check_linux(linux)?;
    }
    Ok(())
}

fn check_oci_version(version: &str) -> Checked {
    if version.is_empty() {
        return Err(SpecError::invalid("ociVersion", "empty"));
    }
    if !version.starts_with("1.") {
        return Err(SpecError::invalid(
            "ociVersion",
            format!("unsupported version {version:?}; runoci implements 1.x"),
        ));
    }
    Ok(())
}

fn check_root(root: Option<&Root>) -> Checked {
    let Some(root) = root else {
        return Err(SpecError::invalid("root", "missing"));
    };
    if root.path.is_empty() {
        return Err(SpecError::invalid("root.path", "empty"));
    }
    no_nul("root.path", &root.path)
}

fn check_process(process: &Process) -> Checked {
    if process.args.is_empty() {
        return Err(SpecError::invalid(
            "process.args",
            "empty; give at least the program to run",
        ));
    }
    for (index, arg) in process.args.iter().enumerate() {
        no_nul(&format!("process.args[{index}]"), arg)?;
    }
    check_env("process.env", &process.env)?;
    absolute("process.cwd", &process.cwd)?;
    if let Some(capabilities) = process.capabilities.as_ref() {
        check_capabilities(capabilities)?;
    }
    check_rlimits(&process.rlimits)?;
    if let Some(adj) = process.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            return Err(SpecError::invalid(
                "process.oomScoreAdj",
                format!("{adj} outside -1000..=1000"),
            ));
        }
    }
    if let Some(io_priority) = process.io_priority.as_ref() {
        check_io_priority(io_priority)?;
    }
    Ok(())
}

/// `NAME=value` entries; the value may hold more `=`.
fn check_env(path: &str, env: &[String]) -> Checked {
    for (index, entry) in env.iter().enumerate() {
        let entry_path = format!("{path}[{index}]");
        no_nul(&entry_path, entry)?;
        match entry.split_once('=') {
            None => {
                return Err(SpecError::invalid(
                    entry_path,
                    format!("no '=' in {entry:?}; want NAME=value"),
                ))
            }
            Some(("", _)) => {
                return Err(SpecError::invalid(
                    entry_path,
                    format!("empty variable name in {entry:?}"),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn check_capabilities(capabilities: &Capabilities) -> Checked {
    let sets = [
        ("bounding", &capabilities.bounding),
        ("effective", &capabilities.effective),
        ("inheritable", &capabilities.inheritable),
        ("permitted", &capabilities.permitted),
        ("ambient", &capabilities.ambient),
    ];
    for (set, names_in_set) in sets {
        for (index, name) in names_in_set.iter().enumerate() {
            if names::capability(name).is_none() {
                return Err(SpecError::invalid(
                    format!("process.capabilities.{set}[{index}]"),
                    format!("unknown capability {name:?}"),
                ));
            }
        }
    }
    Ok(())
}

fn check_rlimits(rlimits: &[Rlimit]) -> Checked {
    let mut seen = BTreeSet::new();
    for (index, rlimit) in rlimits.iter().enumerate() {
        let path = format!("process.rlimits[{index}]");
        if names::rlimit_resource(&rlimit.typ).is_none() {
            return Err(SpecError::invalid(
                format!("{path}.type"),
                format!("unknown rlimit {:?}", rlimit.typ),
            ));
        }
        if !seen.insert(rlimit.typ.as_str()) {
            return Err(SpecError::invalid(
                format!("{path}.type"),
                format!("duplicate rlimit {:?}", rlimit.typ),
            ));
        }
        if rlimit.soft > rlimit.hard {
            return Err(SpecError::invalid(
                path,
                format!(
                    "soft limit {} above hard limit {} for {}",
                    rlimit.soft, rlimit.hard, rlimit.typ
                ),
            ));
        }
    }
    Ok(())
}

fn check_io_priority(io_priority: &IoPriority) -> Checked {
    const CLASSES: [&str; 3] = ["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"];
    if !CLASSES.contains(&io_priority.class.as_str()) {
        return Err(SpecError::invalid(
            "process.ioPriority.class",
            format!("unknown class {:?}", io_priority.class),
        ));
    }
    if !(0..=7).contains(&io_priority.priority) {
        return Err(SpecError::invalid(
            "process.ioPriority.priority",
            format!("{} outside 0..=7", io_priority.priority),
        ));
    }
    Ok(())
}

/// hostname and domainname: valid names, and a uts namespace to hold them.
fn check_names(spec: &Spec) -> Checked {
    let fields = [
        ("hostname", spec.hostname.as_deref()),
        ("domainname", spec.domainname.as_deref()),
    ];
    for (field, value) in fields {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            continue;
        };
        if !is_valid_hostname(value) {
            return Err(SpecError::invalid(
                field,
                format!("invalid {field} {value:?}"),
            ));
        }
        // No namespaces key at all is accepted, as the reference does; a
        // list without uts would change the host's name.
        let namespaces = spec.linux.as_ref().map(|linux| &linux.namespaces);
        let lists_namespaces = namespaces.is_some_and(|list| !list.is_empty());
        if lists_namespaces && !spec.has_namespace("uts") {
            return Err(SpecError::invalid(
                field,
                "set but no uts namespace; add {\"type\": \"uts\"} to linux.namespaces",
            ));
        }
    }
    Ok(())
}

/// RFC 1123 host name: dot-separated labels of letters, digits and `-`,
/// not starting or ending with `-`, 1–63 bytes each, 253 in all.
pub(crate) fn is_valid_hostname(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn check_mount(path: &str, mount: &Mount) -> Checked {
    let destination_path = format!("{path}.destination");
    absolute(&destination_path, &mount.destination)?;
    no_dot_dot(&destination_path, &mount.destination)?;
    if let Some(source) = mount.source.as_deref() {
        no_nul(&format!("{path}.source"), source)?;
    }
    for (index, option) in mount.options.iter().enumerate() {
        no_nul(&format!("{path}.options[{index}]"), option)?;
    }
    check_id_mappings(&format!("{path}.uidMappings"), &mount.uid_mappings)?;
    check_id_mappings(&format!("{path}.gidMappings"), &mount.gid_mappings)
}

fn check_hooks(hooks: &Hooks) -> Checked {
    let stages = [
        ("precreate", &hooks.precreate),
        ("prechroot", &hooks.prechroot),
        ("prestart", &hooks.prestart),
        ("createRuntime", &hooks.create_runtime),
        ("createContainer", &hooks.create_container),
        ("startContainer", &hooks.start_container),
        ("poststart", &hooks.poststart),
        ("poststop", &hooks.poststop),
    ];
    for (stage, stage_hooks) in stages {
        for (index, hook) in stage_hooks.iter().enumerate() {
            check_hook(&format!("hooks.{stage}[{index}]"), hook)?;
        }
    }
    Ok(())
}

fn check_hook(path: &str, hook: &Hook) -> Checked {
    absolute(&format!("{path}.path"), &hook.path)?;
    for (index, arg) in hook.args.iter().enumerate() {
        no_nul(&format!("{path}.args[{index}]"), arg)?;
    }
    if let Some(env) = hook.env.as_deref() {
        check_env(&format!("{path}.env"), env)?;
    }
    if let Some(timeout) = hook.timeout {
        if timeout <= 0 {
            return Err(SpecError::invalid(
                format!("{path}.timeout"),
                format!("{timeout} is not a positive number of seconds"),
            ));
        }
    }
    Ok(())
}

fn check_linux(linux: &Linux) -> Checked {
    check_namespaces(linux)?;
    check_id_mappings("linux.uidMappings", &linux.uid_mappings)?;
    check_id_mappings("linux.gidMappings", &linux.gid_mappings)?;
    for (index, device) in linux.devices.iter().enumerate() {
        check_device(&format!("linux.devices[{index}]"), device)?;
    }
    if let Some(resources) = linux.resources.as_ref() {
        for (index, rule) in resources.devices.iter().enumerate() {
            check_device_rule(&format!("linux.resources.devices[{index}]"), rule)?;
        }
    }
    for key in linux.sysctl.keys() {
        check_sysctl_key(key)?;
    }
    if let Some(propagation) = linux.rootfs_propagation.as_deref() {
        if names::propagation(propagation).is_none() {
            return Err(SpecError::invalid(
                "linux.rootfsPropagation",
                format!("unknown propagation {propagation:?}"),
            ));
        }
    }
    for (index, bit) in linux.skip_securebits.iter().enumerate() {
        if names::securebit(bit).is_none() {
            return Err(SpecError::invalid(
                format!("linux.skipSecurebits[{index}]"),
                format!("unknown securebit {bit:?}"),
            ));
        }
    }
    for (field, paths) in [
        ("maskedPaths", &linux.masked_paths),
        ("readonlyPaths", &linux.readonly_paths),
    ] {
        for (index, path) in paths.iter().enumerate() {
            absolute(&format!("linux.{field}[{index}]"), path)?;
        }
    }
    Ok(())
}

fn check_namespaces(linux: &Linux) -> Checked {
    let mut seen = BTreeSet::new();
    for (index, namespace) in linux.namespaces.iter().enumerate() {
        let path = format!("linux.namespaces[{index}]");
        if names::namespace_flag(&namespace.typ).is_none() {
            let known: Vec<&str> = names::namespace_names().collect();
            return Err(SpecError::invalid(
                format!("{path}.type"),
                format!(
                    "unknown namespace type {:?} (want one of {})",
                    namespace.typ,
                    known.join(", ")
                ),
            ));
        }
        if !seen.insert(namespace.typ.as_str()) {
            return Err(SpecError::invalid(
                format!("{path}.type"),
                format!("duplicate namespace type {:?}", namespace.typ),
            ));
        }
        if let Some(ns_path) = namespace.path.as_deref() {
            absolute(&format!("{path}.path"), ns_path)?;
        }
        let new_user_namespace = namespace.typ == "user" && namespace.path.is_none();
        if new_user_namespace {
            for (field, mappings) in [
                ("uidMappings", &linux.uid_mappings),
                ("gidMappings", &linux.gid_mappings),
            ] {
                if mappings.is_empty() {
                    return Err(SpecError::invalid(
                        format!("linux.{field}"),
                        "empty, but a new user namespace needs mappings",
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_id_mappings(path: &str, mappings: &[IdMapping]) -> Checked {
    const ID_SPACE: u64 = 1 << 32;
    for (index, mapping) in mappings.iter().enumerate() {
        let entry_path = format!("{path}[{index}]");
        if mapping.size == 0 {
            return Err(SpecError::invalid(
                format!("{entry_path}.size"),
                "0 maps no ids",
            ));
        }
        let size = u64::from(mapping.size);
        for (field, start) in [
            ("containerID", mapping.container_id),
            ("hostID", mapping.host_id),
        ] {
            if u64::from(start) + size > ID_SPACE {
                return Err(SpecError::invalid(
                    entry_path,
                    format!("{field} {start} + size {size} is beyond the 32-bit id range"),
                ));
            }
        }
    }
    Ok(())
}

fn check_device(path: &str, device: &Device) -> Checked {
    if !matches!(device.typ.as_str(), "c" | "b" | "u" | "p") {
        return Err(SpecError::invalid(
            format!("{path}.type"),
            format!("unknown device type {:?} (want c, b, u or p)", device.typ),
        ));
    }
    let device_path = format!("{path}.path");
    absolute(&device_path, &device.path)?;
    no_dot_dot(&device_path, &device.path)
}

fn check_device_rule(path: &str, rule: &DeviceCgroup) -> Checked {
    if let Some(typ) = rule.typ.as_deref() {
        if !matches!(typ, "a" | "c" | "b") {
            return Err(SpecError::invalid(
                format!("{path}.type"),
                format!("unknown device type {typ:?} (want a, c or b)"),
            ));
        }
    }
    if let Some(access) = rule.access.as_deref() {
        if !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return Err(SpecError::invalid(
                format!("{path}.access"),
                format!("invalid access {access:?} (want letters from \"rwm\")"),
            ));
        }
    }
    Ok(())
}

/// A sysctl key names a file under /proc/sys: no empty parts, no `..`.
fn check_sysctl_key(key: &str) -> Checked {
    let parts_ok = key
        .split(['.', '/'])
        .all(|part| !part.is_empty() && part != "..");
    // "a..b" splits into an empty part; "a/../b" into "..".
    if key.is_empty() || !parts_ok || key.contains('\0') {
        return Err(SpecError::invalid(
            "linux.sysctl",
            format!("invalid key {key:?}"),
        ));
    }
    Ok(())
}

fn absolute(path: &str, value: &str) -> Checked {
    no_nul(path, value)?;
    if !value.starts_with('/') {
        return Err(SpecError::invalid(
            path,
            format!("not an absolute path {value:?}"),
        ));
    }
    Ok(())
}

fn no_dot_dot(path: &str, value: &str) -> Checked {
    if Path::new(value)
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(SpecError::invalid(
            path,
            format!("\"..\" component in {value:?}"),
        ));
    }
    Ok(())
}

fn no_nul(path: &str, value: &str) -> Checked {
    if value.contains('\0') {
        return Err(SpecError::invalid(path, format!("NUL byte in {value:?}")));
    }
    Ok(())
}
