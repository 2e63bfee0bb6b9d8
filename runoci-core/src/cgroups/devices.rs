//! cgroup v1 device rules (`devices.allow` / `devices.deny`), written as the
//! reference's libcontainer writes them: when the config has any rule, first
//! deny everything (`a` to `devices.deny`), then each rule in order as
//! `TYPE MAJOR:MINOR ACCESS`, with `*` for a missing (or -1) major or minor
//! and the access letters in `rwm` order.
//!
//! cgroup v2 has no device files: `devices_bpf` turns the same rules into
//! a BPF program with the same meaning.

use super::error::CgroupError;
use crate::spec::DeviceCgroup;

/// runc's rules after the config's own, so that a deny-all still leaves
/// the container its default devices, pts and ptmx for terminals, and mknod
/// of any node (opening one still needs a rule). `linux.devices` entries
/// get no rule of their own: they only make nodes, and the config's rules
/// decide access to them, as in runc (an allow appended for each would
/// override the config's deny of it, and a `p` or `u` entry has no cgroup
/// device type at all).
pub fn runc_default_rules() -> Vec<DeviceCgroup> {
    let rule = |typ: &str, major: Option<i64>, minor: Option<i64>, access: &str| DeviceCgroup {
        allow: true,
        typ: Some(typ.to_string()),
        major,
        minor,
        access: Some(access.to_string()),
    };
    let defaults = [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
        (10, 200),
    ];
    let mut rules: Vec<_> = defaults
        .iter()
        .map(|(major, minor)| rule("c", Some(*major), Some(*minor), "rwm"))
        .collect();
    rules.push(rule("c", Some(136), None, "rwm"));
    rules.push(rule("c", None, None, "m"));
    rules.push(rule("b", None, None, "m"));
    rules
}

/// One line for one v1 device control file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    /// `devices.allow` or `devices.deny`.
    pub file: &'static str,
    /// What is written to it, e.g. `c 1:3 rwm`.
    pub rule: String,
}

/// The lines to write, in order; empty when the config has no device rule
/// (then the container keeps its parent's device access, as in the reference).
pub fn v1_rules(devices: &[DeviceCgroup]) -> Result<Vec<DeviceRule>, CgroupError> {
    if devices.is_empty() {
        return Ok(Vec::new());
    }
    let mut rules = Vec::with_capacity(devices.len() + 1);
    rules.push(DeviceRule {
        file: "devices.deny",
        rule: "a".to_string(),
    });
    for (index, device) in devices.iter().enumerate() {
        rules.push(DeviceRule {
            file: if device.allow {
                "devices.allow"
            } else {
                "devices.deny"
            },
            rule: rule_string(index, device)?,
        });
    }
    Ok(rules)
}

/// Checks every rule without producing anything (used before writing any
/// file, so that a bad rule leaves all files untouched).
pub fn validate(devices: &[DeviceCgroup]) -> Result<(), CgroupError> {
    for (index, device) in devices.iter().enumerate() {
        rule_string(index, device)?;
    }
    Ok(())
}

fn rule_string(index: usize, device: &DeviceCgroup) -> Result<String, CgroupError> {
    let field = |name: &str| format!("linux.resources.devices[{index}].{name}");
    let typ = match device.typ.as_deref() {
        None | Some("a") => 'a',
        Some("b") => 'b',
        Some("c") => 'c',
        Some(other) => {
            return Err(CgroupError::invalid(
                field("type"),
                format!("{other:?} is not one of \"a\", \"b\", \"c\""),
            ))
        }
    };
    let major = number(device.major, || field("major"))?;
    let minor = number(device.minor, || field("minor"))?;
    let access = access(device.access.as_deref(), || field("access"))?;
    Ok(format!("{typ} {major}:{minor} {access}"))
}

/// A major or minor number: absent or -1 is the wildcard `*`.
fn number(value: Option<i64>, field: impl Fn() -> String) -> Result<String, CgroupError> {
    match value {
        None | Some(-1) => Ok("*".to_string()),
        Some(n) if (0..=i64::from(u32::MAX)).contains(&n) => Ok(n.to_string()),
        Some(n) => Err(CgroupError::invalid(
            field(),
            format!("{n} is not a device number (0 or more, or -1 for any)"),
        )),
    }
}

/// The access letters in `rwm` order; absent means all three. A rule must
/// grant or deny at least one kind of access.
fn access(value: Option<&str>, field: impl Fn() -> String) -> Result<String, CgroupError> {
    let Some(value) = value else {
        return Ok("rwm".to_string());
    };
    if let Some(bad) = value.chars().find(|c| !"rwm".contains(*c)) {
        return Err(CgroupError::invalid(
            field(),
            format!("{value:?}: {bad:?} is not one of r, w, m"),
        ));
    }
    let letters: String = "rwm".chars().filter(|c| value.contains(*c)).collect();
    if letters.is_empty() {
        return Err(CgroupError::invalid(field(), "empty: give some of r, w, m"));
    }
    Ok(letters)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        allow: bool,
        typ: Option<&str>,
        major: Option<i64>,
        minor: Option<i64>,
        access: Option<&str>,
    ) -> DeviceCgroup {
        DeviceCgroup {
            allow,
            typ: typ.map(str::to_string),
            major,
            minor,
            access: access.map(str::to_string),
        }
    }

    fn lines(devices: &[DeviceCgroup]) -> Vec<(&'static str, String)> {
        v1_rules(devices)
            .unwrap()
            .into_iter()
            .map(|r| (r.file, r.rule))
            .collect()
    }

    #[test]
    fn no_rules_writes_nothing() {
        assert!(lines(&[]).is_empty());
    }

    #[test]
    fn deny_all_first_then_rules_in_order() {
        let devices = [
            rule(false, None, None, None, Some("rwm")),
            rule(true, Some("c"), Some(1), Some(3), Some("rwm")),
            rule(true, Some("c"), Some(14), Some(3), Some("rw")),
            rule(true, Some("c"), Some(136), None, Some("rw")),
            rule(true, Some("b"), Some(-1), Some(-1), Some("m")),
            rule(false, Some("c"), Some(5), Some(1), Some("wr")),
            rule(true, Some("a"), None, None, None),
        ];
        assert_eq!(
            lines(&devices),
            [
                ("devices.deny", "a".to_string()),
                ("devices.deny", "a *:* rwm".to_string()),
                ("devices.allow", "c 1:3 rwm".to_string()),
                ("devices.allow", "c 14:3 rw".to_string()),
                ("devices.allow", "c 136:* rw".to_string()),
                ("devices.allow", "b *:* m".to_string()),
                ("devices.deny", "c 5:1 rw".to_string()),
                ("devices.allow", "a *:* rwm".to_string()),
            ]
        );
    }

    #[test]
    fn bad_rules_name_their_field() {
        let cases = [
            (
                rule(true, Some("x"), None, None, None),
                "linux.resources.devices[0].type",
            ),
            (
                rule(true, Some("c"), Some(-2), None, None),
                "linux.resources.devices[0].major",
            ),
            (
                rule(true, Some("c"), Some(1), Some(-5), None),
                "linux.resources.devices[0].minor",
            ),
            (
                rule(true, Some("c"), Some(1), Some(3), Some("rx")),
                "linux.resources.devices[0].access",
            ),
            (
                rule(true, Some("c"), Some(1), Some(3), Some("")),
                "linux.resources.devices[0].access",
            ),
        ];
        for (device, field) in cases {
            let err = v1_rules(std::slice::from_ref(&device))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(field), "{err}");
            assert!(validate(&[device]).is_err());
        }
    }
}
