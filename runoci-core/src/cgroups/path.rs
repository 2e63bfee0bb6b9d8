//! Where a container's cgroup goes, relative to each hierarchy's root.
//!
//! Precedence: `linux.cgroupsPath`, else `--cgroup_parent` + "/" + id, else
//! "/<id>" (the reference's default: libcontainer puts the container, named
//! by its id, directly under each hierarchy root). Like the reference, both
//! absolute and relative `cgroupsPath`s are taken from the hierarchy root.
//! With `systemd`, `cgroupsPath` is `slice:prefix:name` (runc's
//! `--systemd-cgroup` form) and maps to the cgroupfs directory systemd
//! would use, `<expanded slice>/<prefix>-<name>.scope`; no D-Bus is involved.

use super::error::CgroupError;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// systemd's slice for system services; runc's default when none is given.
const DEFAULT_SLICE: &str = "system.slice";

/// Resolves the container's cgroup to a relative path like `a/b/id`.
pub fn resolve_path(
    id: &str,
    cgroups_path: Option<&str>,
    parent: Option<&str>,
    systemd: bool,
) -> Result<PathBuf, CgroupError> {
    check_id(id)?;
    let rel = match (
        cgroups_path.filter(|p| !p.is_empty()),
        parent.filter(|p| !p.is_empty()),
    ) {
        (Some(path), _) if systemd => systemd_path(path)?,
        (Some(path), _) => normalize(path)?,
        (None, Some(parent)) => normalize(parent)?.join(id),
        (None, None) => PathBuf::from(id),
    };
    if rel.as_os_str().is_empty() {
        return Err(invalid(
            cgroups_path.unwrap_or_default(),
            "resolves to the root of the hierarchy, which cannot be a container's cgroup",
        ));
    }
    Ok(rel)
}

fn check_id(id: &str) -> Result<(), CgroupError> {
    if id.is_empty() || id == "." || id == ".." || id.contains('/') || id.contains('\0') {
        return Err(invalid(
            id,
            "a container id must be one non-empty path component",
        ));
    }
    Ok(())
}

/// Joins the `/`-separated components of `path`, dropping empty ones and
/// `.`; `..` (which could climb out of the hierarchy) and NUL are refused.
fn normalize(path: &str) -> Result<PathBuf, CgroupError> {
    if path.contains('\0') {
        return Err(invalid(path, "contains a NUL byte"));
    }
    let mut rel = PathBuf::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err(invalid(path, "\"..\" is not allowed in a cgroup path")),
            name => rel.push(name),
        }
    }
    Ok(rel)
}

/// `exec --cgroup` (runc 1.1): the sub-cgroup of the container's cgroup
/// the exec'd process joins, in every hierarchy or per controller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecSubCgroups {
    /// A lone `PATH`: in every hierarchy.
    pub all: Option<PathBuf>,
    /// `CONTROLLER[,CONTROLLER...]:PATH` entries: in the hierarchy holding
    /// each controller; the others keep the container's own cgroup.
    pub by_controller: BTreeMap<String, PathBuf>,
}

/// Parses the `--cgroup` values as runc 1.1 does: one `PATH`, or any
/// number of `CONTROLLER[,CONTROLLER...]:PATH`, never both, no controller
/// twice. Paths are relative to the container's cgroup; `..` (which could
/// leave it) is refused, as are NUL and a path that is not one.
pub fn parse_exec_sub_cgroups(args: &[String]) -> Result<ExecSubCgroups, CgroupError> {
    const FLAG: &str = "--cgroup";
    let bad = |arg: &str, why: &str| CgroupError::invalid(format!("{FLAG} {arg:?}"), why);
    let mut out = ExecSubCgroups::default();
    for arg in args {
        let sub = |path: &str| {
            normalize(path).map_err(|_| {
                bad(
                    arg,
                    "\"..\" and NUL are not allowed: the path stays inside the container's cgroup",
                )
            })
        };
        match arg.split_once(':') {
            None if args.len() == 1 => out.all = Some(sub(arg)?),
            None => return Err(bad(
                arg,
                "missing CONTROLLER: prefix (several --cgroup values each name their controllers)",
            )),
            Some((controllers, path)) => {
                let path = sub(path)?;
                for controller in controllers.split(',') {
                    if controller.is_empty() {
                        return Err(bad(arg, "empty controller name"));
                    }
                    if out
                        .by_controller
                        .insert(controller.to_string(), path.clone())
                        .is_some()
                    {
                        return Err(bad(
                            arg,
                            &format!("controller {controller} given more than once"),
                        ));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// A `slice:prefix:name` cgroupsPath: the slice the container's unit goes
/// in and the unit's name (`<prefix>-<name>.scope`, or `<name>.slice` when
/// the name is a slice of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdCgroupPath {
    /// `NAME.slice`; `None` when the path leaves it empty (the driver's
    /// default: system.slice, or user.slice under a user manager).
    pub slice: Option<String>,
    pub unit: String,
}

/// Parses `slice:prefix:name` (runc's `--systemd-cgroup` form): the one
/// parser for both the cgroupfs path and the systemd driver's unit.
pub fn parse_systemd_path(path: &str) -> Result<SystemdCgroupPath, CgroupError> {
    let parts: Vec<&str> = path.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Err(invalid(
            path,
            "with systemd cgroups the path must have the form slice:prefix:name",
        ));
    };
    if name.is_empty() {
        return Err(invalid(path, "the name part of slice:prefix:name is empty"));
    }
    for part in [slice, prefix, name] {
        if part.contains('/') || part.contains('\0') || part == ".." || part == "." {
            return Err(invalid(path, "slice, prefix and name must be plain names"));
        }
    }
    if !slice.is_empty() {
        expand_slice(path, slice)?;
    }
    let unit = if name.ends_with(".slice") {
        expand_slice(path, name)?;
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    Ok(SystemdCgroupPath {
        slice: (!slice.is_empty()).then(|| slice.to_string()),
        unit,
    })
}

/// `slice:prefix:name` → `<expanded slice>/<prefix>-<name>.scope`.
fn systemd_path(path: &str) -> Result<PathBuf, CgroupError> {
    let parsed = parse_systemd_path(path)?;
    if parsed.unit.ends_with(".slice") {
        // The container is a slice of its own.
        return expand_slice(path, &parsed.unit);
    }
    let slice = parsed.slice.as_deref().unwrap_or(DEFAULT_SLICE);
    Ok(expand_slice(path, slice)?.join(parsed.unit))
}

/// systemd's nesting of slices: `a-b-c.slice` → `a.slice/a-b.slice/a-b-c.slice`,
/// and `-.slice` is the root.
fn expand_slice(path: &str, slice: &str) -> Result<PathBuf, CgroupError> {
    let Some(stem) = slice.strip_suffix(".slice").filter(|s| !s.is_empty()) else {
        return Err(invalid(
            path,
            format!("{slice:?} is not a slice name (NAME.slice)"),
        ));
    };
    if stem == "-" {
        return Ok(PathBuf::new());
    }
    let mut expanded = PathBuf::new();
    let mut prefix = String::new();
    for component in stem.split('-') {
        if component.is_empty() {
            return Err(invalid(
                path,
                format!("{slice:?} has an empty component between dashes"),
            ));
        }
        expanded.push(format!("{prefix}{component}.slice"));
        prefix.push_str(component);
        prefix.push('-');
    }
    Ok(expanded)
}

fn invalid(path: &str, reason: impl Into<String>) -> CgroupError {
    CgroupError::InvalidPath {
        path: path.to_string(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(cgroups_path: Option<&str>, parent: Option<&str>, systemd: bool) -> String {
        resolve_path("c1", cgroups_path, parent, systemd)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn cgroups_path_absolute_and_relative_are_both_from_the_root() {
        assert_eq!(resolve(Some("/a/b/c"), None, false), "a/b/c");
        assert_eq!(resolve(Some("a/b/c"), None, false), "a/b/c");
        assert_eq!(resolve(Some("//a/./b//"), None, false), "a/b");
    }

    #[test]
    fn cgroups_path_wins_over_the_parent() {
        assert_eq!(resolve(Some("/x"), Some("p"), false), "x");
    }

    #[test]
    fn parent_then_id() {
        assert_eq!(resolve(None, Some("p/q"), false), "p/q/c1");
        assert_eq!(resolve(None, Some("/p"), false), "p/c1");
        assert_eq!(resolve(Some(""), Some("p"), false), "p/c1");
    }

    #[test]
    fn default_is_the_id_under_the_root() {
        assert_eq!(resolve(None, None, false), "c1");
        assert_eq!(resolve(None, Some(""), false), "c1");
        assert_eq!(resolve(None, Some("/"), false), "c1");
    }

    #[test]
    fn systemd_slice_form() {
        assert_eq!(
            resolve(Some("machine.slice:libpod:abc"), None, true),
            "machine.slice/libpod-abc.scope"
        );
        assert_eq!(
            resolve(Some("user-1000.slice:runoci:abc"), None, true),
            "user.slice/user-1000.slice/runoci-abc.scope"
        );
        assert_eq!(
            resolve(Some(":runoci:abc"), None, true),
            "system.slice/runoci-abc.scope"
        );
        assert_eq!(resolve(Some("-.slice::abc"), None, true), "abc.scope");
        assert_eq!(
            resolve(Some("system.slice::my-x.slice"), None, true),
            "my.slice/my-x.slice"
        );
        // Without a cgroupsPath the systemd flag changes nothing.
        assert_eq!(resolve(None, Some("p"), true), "p/c1");
    }

    #[test]
    fn refusals() {
        for (path, systemd) in [
            ("/a/../b", false),
            ("..", false),
            ("a/..", false),
            ("/", false),
            ("a\0b", false),
            ("/a/b", true),
            ("a:b", true),
            ("a.slice:p:../x", true),
            ("notaslice:p:x", true),
            ("a--b.slice:p:x", true),
            ("a.slice:p:", true),
        ] {
            let err = resolve_path("c1", Some(path), None, systemd);
            assert!(
                matches!(err, Err(CgroupError::InvalidPath { .. })),
                "{path:?}: {err:?}"
            );
        }
        assert!(resolve_path("c1", None, Some("../x"), false).is_err());
        for id in ["", ".", "..", "a/b", "a\0"] {
            assert!(resolve_path(id, None, None, false).is_err(), "{id:?}");
        }
        let msg = resolve_path("c1", Some("/a/../b"), None, false)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("/a/../b") && msg.contains(".."), "{msg}");
    }
}
