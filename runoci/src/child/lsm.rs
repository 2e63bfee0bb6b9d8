//! `process.selinuxLabel`, `process.apparmorProfile` (labels the program
//! gets at execve) and whether `linux.mountLabel` applies. Whether an LSM
//! is enabled is `runoci_core::lsm`'s one probe (`check` reports the same).

use crate::error::{Context, Error, Result};
use crate::spec::Process;
use runoci_core::lsm::{apparmor_enabled, selinux_enabled};
use std::path::Path;

/// The runtime's warning, once per create, for a `linux.mountLabel` that
/// `rootfs::plan::mount_label` ignores.
pub fn warn_ignored_mount_label(id: &str, label: Option<&str>) {
    if let Some(l) = label.filter(|l| !l.is_empty() && !selinux_enabled()) {
        crate::log::emit_warning(format_args!(
            "container {id}: linux.mountLabel {l:?} ignored: SELinux is not enabled on this host"
        ));
    }
}

/// Both labels of `process`, SELinux first (as runc).
pub fn apply(process: &Process) -> Result<()> {
    set_selinux_label(process.selinux_label.as_deref())?;
    set_apparmor_profile(process.apparmor_profile.as_deref())
}

/// A label for `field` to apply, if any: None when unset or empty,
/// refused when `lsm` is not enabled on this host.
fn wanted<'a>(
    label: Option<&'a str>,
    field: &str,
    lsm: &str,
    enabled: fn() -> bool,
) -> Result<Option<&'a str>> {
    match label.filter(|l| !l.is_empty()) {
        Some(l) if !enabled() => Err(Error::new(format!(
            "{field} {l:?}: {lsm} is not enabled on this host"
        ))),
        other => Ok(other),
    }
}

/// `process.selinuxLabel`: the label the program gets at execve, through
/// `/proc/thread-self/attr/exec` of a verified procfs.
fn set_selinux_label(label: Option<&str>) -> Result<()> {
    let field = "process.selinuxLabel";
    let Some(label) = wanted(label, field, "SELinux", selinux_enabled)? else {
        return Ok(());
    };
    crate::procfs::write("/proc/thread-self/attr/exec", label.as_bytes())
        .with_ctx(|| format!("{field} {label:?}"))
}

/// `process.apparmorProfile`: "exec PROFILE" to the task's exec attribute
/// (the AppArmor-specific one where the kernel has stacking, else the
/// shared one), through a verified procfs, so the profile applies from
/// execve on.
fn set_apparmor_profile(profile: Option<&str>) -> Result<()> {
    let field = "process.apparmorProfile";
    let Some(profile) = wanted(profile, field, "AppArmor", apparmor_enabled)? else {
        return Ok(());
    };
    let attr = if Path::new("/proc/thread-self/attr/apparmor/exec").exists() {
        "/proc/thread-self/attr/apparmor/exec"
    } else {
        "/proc/thread-self/attr/exec"
    };
    crate::procfs::write(attr, format!("exec {profile}").as_bytes())
        .with_ctx(|| format!("{field} {profile:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_for_a_disabled_lsm_is_refused_naming_the_field() {
        let off = || false;
        let on = || true;
        let e = wanted(Some("x_t"), "process.selinuxLabel", "SELinux", off)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "process.selinuxLabel \"x_t\": SELinux is not enabled on this host"
        );
        assert_eq!(
            wanted(Some(""), "f", "SELinux", off).unwrap(),
            None,
            "empty is unset"
        );
        assert_eq!(wanted(None, "f", "SELinux", off).unwrap(), None);
        assert_eq!(wanted(Some("p"), "f", "AppArmor", on).unwrap(), Some("p"));
    }
}
