//! Checks a parsed `Spec` against the OCI runtime spec (and run_oci's
//! extensions) before anything is created. The first fault found is
//! returned, naming its JSON path and the bad value.
//!
//! Where the reference is lax and the spec is not (env values with `=`,
//! the uts namespace for a hostname, namespace paths, cwd), the spec wins.

use super::attrs;
use super::error::SpecError;
use super::names;
use super::resources::*;
use super::types::*;
use super::userids::{check_id, check_mapping};
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
        check_idmapped_mount(&format!("mounts[{index}]"), mount, spec.linux.as_ref())?;
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

/// `process` (of config.json, or `exec`'s process.json and overrides).
pub fn check_process(process: &Process) -> Checked {
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
    check_user(&process.user)?;
    if let Some(umask) = process.umask.filter(|m| *m > 0o777) {
        return Err(SpecError::invalid(
            "process.umask",
            format!("{umask:#o} has bits beyond 0o777"),
        ));
    }
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
        attrs::check_io_priority(io_priority)?;
    }
    if let Some(scheduler) = process.scheduler.as_ref() {
        attrs::check_scheduler(scheduler)?;
    }
    if let Some(affinity) = process.exec_cpu_affinity.as_ref() {
        attrs::check_exec_cpu_affinity(affinity)?;
    }
    Ok(())
}

fn check_user(user: &User) -> Checked {
    // umask(2) keeps only the permission bits: more would be dropped.
    if let Some(umask) = user.umask.filter(|m| *m > 0o777) {
        return Err(SpecError::invalid(
            "process.user.umask",
            format!("{umask:#o} has bits beyond 0o777"),
        ));
    }
    check_id("process.user.uid", user.uid)?;
    check_id("process.user.gid", user.gid)?;
    for (index, gid) in user.additional_gids.iter().enumerate() {
        check_id(&format!("process.user.additionalGids[{index}]"), *gid)?;
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

/// An idmapped mount (`idmap`, `ridmap`, or mappings), as runc 1.2 takes
/// it: a bind, with both maps or, without any, the container's user
/// namespace to take them from.
fn check_idmapped_mount(path: &str, mount: &Mount, linux: Option<&Linux>) -> Checked {
    if mount.idmap().is_none() {
        return Ok(());
    }
    if !mount.is_bind() {
        return Err(SpecError::invalid(
            format!("{path}.type"),
            "idmapped mounts (idmap, ridmap, uidMappings) are bind mounts only; add the \"bind\" or \"rbind\" option",
        ));
    }
    if mount.perform_in_intermediate_namespace {
        return Err(SpecError::invalid(
            format!("{path}.performInIntermediateNamespace"),
            "not supported for an idmapped mount",
        ));
    }
    match (mount.uid_mappings.is_empty(), mount.gid_mappings.is_empty()) {
        (false, false) => Ok(()),
        (false, true) => Err(SpecError::invalid(
            format!("{path}.gidMappings"),
            "empty while uidMappings is set; an idmapped mount needs both",
        )),
        (true, false) => Err(SpecError::invalid(
            format!("{path}.uidMappings"),
            "empty while gidMappings is set; an idmapped mount needs both",
        )),
        (true, true) => {
            let userns = linux.is_some_and(|l| l.namespaces.iter().any(|ns| ns.typ == "user"));
            if userns {
                Ok(())
            } else {
                Err(SpecError::invalid(
                    format!("{path}.options"),
                    "idmap without uidMappings and gidMappings takes the container's user namespace, and linux.namespaces has none",
                ))
            }
        }
    }
}

fn check_hooks(hooks: &Hooks) -> Checked {
    for stage in super::Stage::ALL {
        for (index, hook) in stage.of(hooks).iter().enumerate() {
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
        super::sysctl::check_sysctl(linux, key)?;
    }
    for (clock, offset) in linux.time_offsets.iter().flatten() {
        check_time_offset(clock, offset)?;
    }
    if let Some(devices) = linux.net_devices.as_ref() {
        super::net_devices::check_net_devices(linux, devices)?;
    }
    if let Some(seccomp) = linux.seccomp.as_ref() {
        super::seccomp::check_seccomp(seccomp)?;
    }
    if let Some(propagation) = linux.rootfs_propagation.as_deref() {
        if names::propagation(propagation).is_none() {
            return Err(SpecError::invalid(
                "linux.rootfsPropagation",
                format!("unknown propagation {propagation:?}"),
            ));
        }
    }
    if let Some(personality) = linux.personality.as_ref() {
        attrs::check_personality(personality)?;
    }
    if let Some(policy) = linux.memory_policy.as_ref() {
        attrs::check_memory_policy(policy)?;
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

/// One line of `/proc/self/timens_offsets`: a clock the time namespace
/// offsets, nanoseconds below a second. The clock name goes into that file
/// as is, so nothing else may pass (a newline would add a line).
fn check_time_offset(clock: &str, offset: &TimeOffset) -> Checked {
    let path = format!("linux.timeOffsets.{clock:?}");
    if !matches!(clock, "monotonic" | "boottime") {
        return Err(SpecError::invalid(
            path,
            "unknown clock (want monotonic or boottime)",
        ));
    }
    if offset.nanosecs > 999_999_999 {
        return Err(SpecError::invalid(
            format!("{path}.nanosecs"),
            format!("{} is not below one second", offset.nanosecs),
        ));
    }
    Ok(())
}

fn check_id_mappings(path: &str, mappings: &[IdMapping]) -> Checked {
    for (index, mapping) in mappings.iter().enumerate() {
        check_mapping(&format!("{path}[{index}]"), mapping)?;
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
    no_dot_dot(&device_path, &device.path)?;
    for (field, id) in [("uid", device.uid), ("gid", device.gid)] {
        if let Some(id) = id {
            check_id(&format!("{path}.{field}"), id)?;
        }
    }
    Ok(())
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

/// No `..` component in `value` (a mount destination, a device path, a
/// `-b A:B` target): it could lead out of the rootfs.
pub fn no_dot_dot(path: &str, value: &str) -> Checked {
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
