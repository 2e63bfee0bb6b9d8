//! The container's cgroups and resctrl group, from the parent's side:
//! made (and noted in the record first) before the init runs, with the
//! rootless fallback when none can be made and no limit is asked for.

use crate::error::{Context, Error, Result};
use crate::options::ContainerOptions;
use crate::spec::Spec;
use runoci_core::cgroups;

/// The cgroup `setup_cgroup` will make, for the record's first version
/// (written once, before anything exists); None under the systemd driver
/// (the scope decides) or where it cannot be known yet (setup_cgroup then
/// notes it, or reports why not).
pub fn planned_record(spec: &Spec, opts: &ContainerOptions) -> Option<cgroups::CgroupRecord> {
    if opts.systemd_cgroup {
        return None;
    }
    let layout = cgroups::Layout::detect().ok()?;
    let rel = cgroup_path(spec, opts).ok()?;
    Some(cgroups::Cgroup::planned(&layout, &rel).ok()?.to_record())
}

/// The container's cgroup, relative to each hierarchy's root: from
/// `linux.cgroupsPath`, else the id under `--cgroup_parent`.
fn cgroup_path(
    spec: &Spec,
    opts: &ContainerOptions,
) -> std::result::Result<std::path::PathBuf, cgroups::CgroupError> {
    cgroups::resolve_path(
        &opts.id,
        spec.linux.as_ref().and_then(|l| l.cgroups_path.as_deref()),
        opts.cgroup_parent.as_deref(),
        opts.systemd_cgroup,
    )
}

/// The cgroup of `linux.cgroupsPath` (or the id under `-p`), made and
/// given `linux.resources`; None when a rootless caller has none to use.
pub fn setup_cgroup(spec: &Spec, opts: &ContainerOptions) -> Result<Option<cgroups::Cgroup>> {
    let linux = spec.linux.as_ref();
    let layout = cgroups::Layout::detect().ctx("detect the cgroup layout")?;
    let rel = cgroup_path(spec, opts)?;
    let res = resources_to_apply(spec);
    // Noted before the first mkdir: a creator killed half-way through
    // (destroy --force) leaves directories its record names. Usually the
    // first record has it already (`planned_record`, from the same spec
    // and options a moment ago): nothing to plan or write again. The
    // record gets the cgroup as made once it exists (container::create).
    if let (Some(dir), None) = (&opts.state_dir, &opts.recorded_cgroup) {
        let planned = cgroups::Cgroup::planned(&layout, &rel)?.to_record();
        runoci_core::state::StateDir::open_dir(dir).update_record(|r| r.cgroup = Some(planned))?;
    }
    let cg = match cgroups::Cgroup::create(&layout, &rel, None) {
        Ok(cg) => cg,
        // Rootless (not root, or root of a rootless engine's user
        // namespace): without a delegated cgroup, run without one when the
        // config asks for no limits (create removed what it had made).
        Err(cgroups::CgroupError::Io { source, path, .. })
            if runoci_core::userns::unprivileged()
                && matches!(
                    source.raw_os_error(),
                    Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS)
                ) =>
        {
            let who = caller_description();
            if let Some(field) = limits_asked(&res) {
                return Err(Error::new(format!(
                    "{field}: {who} cannot create cgroups ({}: {source}); delegate a cgroup to this user and point linux.cgroupsPath or -p at it, or drop {field}",
                    path.display()
                )));
            }
            crate::log::emit_warning(format_args!(
                "container {}: running without a cgroup: {who} cannot create {} ({source})",
                opts.id,
                path.display()
            ));
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    if let Err(e) = cg.apply(&res, linux.and_then(|l| l.cpu.as_ref())) {
        let _ = cg.destroy();
        return Err(e.into());
    }
    Ok(Some(cg))
}

/// `linux.resources` as written to the container's cgroup: with device
/// rules, runc's default ones (/dev/null, ptys, ...) follow them.
pub fn resources_to_apply(spec: &Spec) -> crate::spec::Resources {
    let linux = spec.linux.as_ref();
    let mut res = linux.and_then(|l| l.resources.clone()).unwrap_or_default();
    if !res.devices.is_empty() {
        res.devices.extend(cgroups::devices::runc_default_rules());
    }
    res
}

/// "uid N", or "uid 0 of a user namespace" for a rootless engine's root.
fn caller_description() -> String {
    let uid = nix::unistd::geteuid();
    if uid.is_root() && runoci_core::userns::in_user_namespace() {
        "uid 0 of a user namespace".to_string()
    } else {
        format!("uid {uid}")
    }
}

/// The first `linux.resources` field that asks for a limit, as its JSON
/// path. `devices` rules are not limits here: without a cgroup, a
/// rootless container has no device nodes but the host's, bound in with
/// the host's permissions (runc and crun skip them the same way).
fn limits_asked(res: &crate::spec::Resources) -> Option<String> {
    let without_devices = crate::spec::Resources {
        devices: Vec::new(),
        ..res.clone()
    };
    let value = serde_json::to_value(&without_devices).ok()?;
    let set = value.as_object()?.iter().find(|(_, v)| match v {
        serde_json::Value::Null => false,
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => !o.is_empty(),
        _ => true,
    });
    set.map(|(k, _)| format!("linux.resources.{k}"))
}

/// `linux.intelRdt`: the init joins its resctrl group, noted in the
/// record first (a creator killed half-way leaves what the record names
/// for `destroy`).
pub fn join_resctrl(
    opts: &ContainerOptions,
    rdt: &crate::spec::IntelRdt,
    pid: i32,
) -> Result<runoci_core::resctrl::ResctrlRecord> {
    let root = runoci_core::resctrl::check(rdt)?;
    let record = runoci_core::resctrl::apply(&root, &opts.id, rdt, pid)?;
    if let Some(dir) = &opts.state_dir {
        let noted = runoci_core::state::StateDir::open_dir(dir)
            .update_record(|r| r.resctrl = Some(record.clone()));
        if let Err(e) = noted {
            let _ = runoci_core::resctrl::remove(&record);
            return Err(e);
        }
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: serde_json::Value) -> crate::spec::Resources {
        serde_json::from_value(json).expect("valid linux.resources")
    }

    #[test]
    fn rootless_limits_are_named_by_field_and_device_rules_are_not_limits() {
        let deny_all = serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]});
        assert_eq!(
            limits_asked(&resources(deny_all)),
            None,
            "podman's default rule"
        );
        assert_eq!(limits_asked(&resources(serde_json::json!({}))), None);
        let memory = serde_json::json!({"memory": {"limit": 1048576}});
        assert_eq!(
            limits_asked(&resources(memory)).as_deref(),
            Some("linux.resources.memory")
        );
        let pids = serde_json::json!({"devices": [], "pids": {"limit": 10}});
        assert_eq!(
            limits_asked(&resources(pids)).as_deref(),
            Some("linux.resources.pids")
        );
    }
}
