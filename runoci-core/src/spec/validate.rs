//! Checks a parsed `Spec` against the OCI runtime spec (and run_oci's
//! extensions) before anything is created. The first fault found is
//! returned, naming its JSON path and the bad value.
//!
//! Where the reference is lax and the spec is not (env values with `=`,
//! the uts namespace for a hostname, namespace paths, cwd), the spec wins.

use super::attrs;
use super::error::SpecError;
use super::names;
use super::types::*;
use super::userids::{check_id, check_mapping};
use std::collections::{BTreeMap, BTreeSet};
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
        check_io_priority(io_priority)?;
    }
    if let Some(scheduler) = process.scheduler.as_ref() {
        check_scheduler(scheduler)?;
    }
    if let Some(affinity) = process.exec_cpu_affinity.as_ref() {
        check_exec_cpu_affinity(affinity)?;
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

fn check_io_priority(io_priority: &IoPriority) -> Checked {
    if attrs::lookup(&attrs::IOPRIO_CLASSES, &io_priority.class).is_none() {
        return Err(SpecError::invalid(
            "process.ioPriority.class",
            format!(
                "unknown class {:?} (want one of {})",
                io_priority.class,
                attrs::names(&attrs::IOPRIO_CLASSES).join(", ")
            ),
        ));
    }
    if !attrs::IOPRIO_LEVELS.contains(&io_priority.priority) {
        return Err(SpecError::invalid(
            "process.ioPriority.priority",
            format!("{} outside 0..=7", io_priority.priority),
        ));
    }
    Ok(())
}

/// `process.scheduler`, checked as `sched_setattr(2)` would check it (and
/// runc 1.2): a known policy and flags, nice for the fair policies, a
/// static priority only for the real-time ones, deadline parameters only
/// for `SCHED_DEADLINE` and there `runtime <= deadline <= period`.
fn check_scheduler(scheduler: &Scheduler) -> Checked {
    const PATH: &str = "process.scheduler";
    let policy = scheduler.policy.as_str();
    if attrs::lookup(&attrs::SCHED_POLICIES, policy).is_none() {
        let why = if policy == "SCHED_ISO" {
            "SCHED_ISO is not implemented by Linux".to_string()
        } else {
            format!(
                "unknown policy {policy:?} (want one of {})",
                attrs::names(&attrs::SCHED_POLICIES).join(", ")
            )
        };
        return Err(SpecError::invalid(format!("{PATH}.policy"), why));
    }
    for (index, flag) in scheduler.flags.iter().enumerate() {
        if attrs::lookup(&attrs::SCHED_FLAGS, flag).is_none() {
            return Err(SpecError::invalid(
                format!("{PATH}.flags[{index}]"),
                format!("unknown flag {flag:?}"),
            ));
        }
    }
    if !attrs::SCHED_NICE.contains(&scheduler.nice) {
        return Err(SpecError::invalid(
            format!("{PATH}.nice"),
            format!("{} outside -20..=19", scheduler.nice),
        ));
    }
    let real_time = matches!(policy, "SCHED_FIFO" | "SCHED_RR");
    if real_time && !attrs::SCHED_RT_PRIORITIES.contains(&scheduler.priority) {
        return Err(SpecError::invalid(
            format!("{PATH}.priority"),
            format!("{} outside 1..=99 for {policy}", scheduler.priority),
        ));
    }
    if !real_time && scheduler.priority != 0 {
        return Err(SpecError::invalid(
            format!("{PATH}.priority"),
            format!(
                "{} set, but only SCHED_FIFO and SCHED_RR take a priority",
                scheduler.priority
            ),
        ));
    }
    let (runtime, deadline, period) = (scheduler.runtime, scheduler.deadline, scheduler.period);
    if policy != "SCHED_DEADLINE" {
        if runtime != 0 || deadline != 0 || period != 0 {
            return Err(SpecError::invalid(
                PATH,
                format!("runtime, deadline and period are for SCHED_DEADLINE, not {policy}"),
            ));
        }
        return Ok(());
    }
    // The kernel's __checkparam_dl; a period of 0 means the deadline.
    let period = if period == 0 { deadline } else { period };
    if runtime < attrs::SCHED_DEADLINE_MIN_RUNTIME {
        return Err(SpecError::invalid(
            format!("{PATH}.runtime"),
            format!(
                "{runtime} ns is below the {} ns SCHED_DEADLINE needs",
                attrs::SCHED_DEADLINE_MIN_RUNTIME
            ),
        ));
    }
    if deadline >= 1 << 63 || period >= 1 << 63 {
        return Err(SpecError::invalid(
            PATH,
            "deadline and period must be below 2^63 ns",
        ));
    }
    if !(runtime <= deadline && deadline <= period) {
        return Err(SpecError::invalid(
            PATH,
            format!(
                "SCHED_DEADLINE needs runtime <= deadline <= period, got {runtime}, {deadline}, {}",
                scheduler.period
            ),
        ));
    }
    Ok(())
}

/// `process.execCPUAffinity`: CPU lists the kernel can take.
fn check_exec_cpu_affinity(affinity: &ExecCpuAffinity) -> Checked {
    for (field, list) in [("initial", &affinity.initial), ("final", &affinity.final_)] {
        if let Some(list) = list.as_deref() {
            attrs::parse_id_list(list).map_err(|why| {
                SpecError::invalid(format!("process.execCPUAffinity.{field}"), why)
            })?;
        }
    }
    Ok(())
}

/// `linux.personality`: a known domain; the spec defines no flags yet, so
/// any flag is one runoci cannot apply (runc warns and drops them).
fn check_personality(personality: &Personality) -> Checked {
    if attrs::lookup(&attrs::PERSONALITY_DOMAINS, &personality.domain).is_none() {
        return Err(SpecError::invalid(
            "linux.personality.domain",
            format!(
                "unknown domain {:?} (want one of {})",
                personality.domain,
                attrs::names(&attrs::PERSONALITY_DOMAINS).join(", ")
            ),
        ));
    }
    for (index, flag) in personality.flags.iter().enumerate() {
        if attrs::lookup(&attrs::PERSONALITY_FLAGS, flag).is_none() {
            return Err(SpecError::invalid(
                format!("linux.personality.flags[{index}]"),
                format!("unsupported flag {flag:?} (the spec defines none)"),
            ));
        }
    }
    Ok(())
}

/// `linux.memoryPolicy`, checked as `set_mempolicy(2)` would: a known mode
/// and flags, nodes where the mode needs them and none where it forbids
/// them, `MPOL_F_STATIC_NODES` and `MPOL_F_RELATIVE_NODES` not together
/// and only with nodes, `MPOL_F_NUMA_BALANCING` only with `MPOL_BIND` or
/// `MPOL_PREFERRED_MANY`.
fn check_memory_policy(policy: &MemoryPolicy) -> Checked {
    const PATH: &str = "linux.memoryPolicy";
    let mode = policy.mode.as_str();
    if attrs::lookup(&attrs::MEMPOLICY_MODES, mode).is_none() {
        return Err(SpecError::invalid(
            format!("{PATH}.mode"),
            format!(
                "unknown mode {mode:?} (want one of {})",
                attrs::names(&attrs::MEMPOLICY_MODES).join(", ")
            ),
        ));
    }
    for (index, flag) in policy.flags.iter().enumerate() {
        if attrs::lookup(&attrs::MEMPOLICY_FLAGS, flag).is_none() {
            return Err(SpecError::invalid(
                format!("{PATH}.flags[{index}]"),
                format!("unknown flag {flag:?}"),
            ));
        }
    }
    let nodes = attrs::parse_id_list(policy.nodes.as_deref().unwrap_or(""))
        .map_err(|why| SpecError::invalid(format!("{PATH}.nodes"), why))?;
    let has_nodes = nodes.iter().any(|w| *w != 0);
    let has = |flag: &str| policy.flags.iter().any(|f| f == flag);
    match mode {
        "MPOL_DEFAULT" | "MPOL_LOCAL" if has_nodes => {
            return Err(SpecError::invalid(
                format!("{PATH}.nodes"),
                format!("{mode} takes no nodes"),
            ))
        }
        "MPOL_BIND" | "MPOL_INTERLEAVE" | "MPOL_WEIGHTED_INTERLEAVE" | "MPOL_PREFERRED_MANY"
            if !has_nodes =>
        {
            return Err(SpecError::invalid(
                format!("{PATH}.nodes"),
                format!("{mode} needs at least one node"),
            ))
        }
        _ => {}
    }
    let (static_nodes, relative_nodes) = (has("MPOL_F_STATIC_NODES"), has("MPOL_F_RELATIVE_NODES"));
    if static_nodes && relative_nodes {
        return Err(SpecError::invalid(
            format!("{PATH}.flags"),
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
        ));
    }
    if (static_nodes || relative_nodes) && !has_nodes {
        return Err(SpecError::invalid(
            format!("{PATH}.flags"),
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES need nodes",
        ));
    }
    if has("MPOL_F_NUMA_BALANCING") && !matches!(mode, "MPOL_BIND" | "MPOL_PREFERRED_MANY") {
        return Err(SpecError::invalid(
            format!("{PATH}.flags"),
            format!(
                "MPOL_F_NUMA_BALANCING applies to MPOL_BIND or MPOL_PREFERRED_MANY, not {mode}"
            ),
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
        check_sysctl(linux, key)?;
    }
    for (clock, offset) in linux.time_offsets.iter().flatten() {
        check_time_offset(clock, offset)?;
    }
    if let Some(devices) = linux.net_devices.as_ref() {
        check_net_devices(linux, devices)?;
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
        check_personality(personality)?;
    }
    if let Some(policy) = linux.memory_policy.as_ref() {
        check_memory_policy(policy)?;
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

/// `linux.netDevices`: host interfaces moved into the container's network
/// namespace, which must be a new one (moving a device into a namespace
/// the container merely joins would take it from its owner). Host names
/// and container names are interface names as the kernel takes them; a
/// container name may end in the `%d` template the spec allows (the
/// kernel picks the number). Two entries may not land on one name.
fn check_net_devices(linux: &Linux, devices: &BTreeMap<String, NetDevice>) -> Checked {
    const FIELD: &str = "linux.netDevices";
    let new_netns = linux
        .namespaces
        .iter()
        .any(|ns| ns.typ == "network" && ns.path.as_deref().unwrap_or("").is_empty());
    if !devices.is_empty() && !new_netns {
        return Err(SpecError::invalid(
            FIELD,
            "needs a new network namespace (a {\"type\": \"network\"} entry without a path in linux.namespaces) to move the devices into",
        ));
    }
    let mut targets = BTreeSet::new();
    for (host, device) in devices {
        let path = format!("{FIELD}.{host:?}");
        if let Err(why) = check_ifname(host, false) {
            return Err(SpecError::invalid(
                path,
                format!("not a host interface name: {why}"),
            ));
        }
        let target = device.name.as_deref().unwrap_or(host);
        if let Err(why) = check_ifname(target, true) {
            return Err(SpecError::invalid(
                format!("{path}.name"),
                format!("{target:?} is not an interface name: {why}"),
            ));
        }
        if !target.contains('%') && !targets.insert(target) {
            return Err(SpecError::invalid(
                path,
                format!("a second device would be named {target:?} in the container"),
            ));
        }
    }
    Ok(())
}

/// An interface name as the kernel's `dev_valid_name` takes it: 1 to 15
/// bytes (IFNAMSIZ with its NUL), not `.` or `..`, no `/`, `:`, NUL or
/// whitespace. With `template`, one `%d` (the kernel's `dev_alloc_name`
/// pattern) may stand for a number.
fn check_ifname(name: &str, template: bool) -> Result<(), &'static str> {
    const IFNAMSIZ: usize = 16;
    if name.is_empty() {
        return Err("empty");
    }
    if name.len() >= IFNAMSIZ {
        return Err("longer than 15 bytes (IFNAMSIZ)");
    }
    if name == "." || name == ".." {
        return Err("\".\" and \"..\" are not names");
    }
    if name.contains(['/', ':', '\0']) || name.chars().any(char::is_whitespace) {
        return Err("contains '/', ':', NUL or whitespace");
    }
    match name.split_once('%') {
        None => Ok(()),
        Some((_, rest)) if template && rest.starts_with('d') && !rest.contains('%') => Ok(()),
        Some(_) if template => Err("'%' other than one \"%d\" template"),
        Some(_) => Err("contains '%'"),
    }
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
fn check_sysctl(linux: &Linux, key: &str) -> Checked {
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
