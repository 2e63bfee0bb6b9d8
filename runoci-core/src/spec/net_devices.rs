//! `linux.netDevices`: validated where the config is loaded.

use super::error::SpecError;
use super::types::{Linux, NetDevice};
use std::collections::{BTreeMap, BTreeSet};

type Checked = Result<(), SpecError>;

/// `linux.netDevices`: host interfaces moved into the container's network
/// namespace, which must be a new one (moving a device into a namespace
/// the container merely joins would take it from its owner). Host names
/// and container names are interface names as the kernel takes them; a
/// container name may end in the `%d` template the spec allows (the
/// kernel picks the number). Two entries may not land on one name.
pub(crate) fn check_net_devices(linux: &Linux, devices: &BTreeMap<String, NetDevice>) -> Checked {
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
