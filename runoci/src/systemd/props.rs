//! `linux.resources` as systemd unit properties, mapped as runc's systemd
//! driver (cgroup v2) maps them, so that systemd, which owns the scope's
//! own cgroup, keeps those limits (a `daemon-reload` re-applies unit
//! properties and would undo what was only written to cgroupfs). Whatever
//! has no property here is still written to the delegated cgroup through
//! cgroupfs; the values that do are written there too (as runc does), so
//! an older systemd that ignores a property changes nothing.

use crate::spec::{DeviceCgroup, Resources};
use runoci_core::cgroups::convert;

/// systemd's "infinity" for the u64 limits.
pub const INFINITY: u64 = u64::MAX;

/// One property value, in the D-Bus type systemd expects for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prop {
    Bool(bool),
    Str(String),
    U64(u64),
    /// `ay`: a CPU or memory-node bit mask, byte `i` bit `j` = id `8i+j`.
    Bytes(Vec<u8>),
    /// `au`
    Pids(Vec<u32>),
    /// `a(ss)`: DeviceAllow's (path or class, permissions).
    Devices(Vec<(String, String)>),
    /// `a(st)`: IO*Max's (device path, value).
    IoLimits(Vec<(String, u64)>),
}

pub type Props = Vec<(&'static str, Prop)>;

/// The unit properties for `res`. Errors name the field.
pub fn resource_props(res: &Resources, proc_devices: &str) -> Result<Props, String> {
    let mut props = Props::new();
    if let Some(m) = &res.memory {
        let limit = m.limit.unwrap_or(0);
        if limit != 0 {
            props.push(("MemoryMax", Prop::U64(limit_value(limit))));
        }
        if let Some(r) = m.reservation.filter(|r| *r != 0) {
            props.push(("MemoryLow", Prop::U64(limit_value(r))));
        }
        let swap = convert::swap_to_v2(m.swap.unwrap_or(0), limit)
            .map_err(|e| format!("linux.resources.memory.swap: {e}"))?;
        // swap == limit is "no swap": 0, which must be set, not skipped.
        if swap != 0 || m.swap.is_some_and(|s| s > 0) {
            props.push(("MemorySwapMax", Prop::U64(limit_value(swap))));
        }
    }
    if let Some(cpu) = &res.cpu {
        if let Some(shares) = cpu.shares.filter(|s| *s != 0) {
            props.push(("CPUWeight", Prop::U64(convert::shares_to_weight(shares))));
        }
        cpu_quota(&mut props, cpu.quota.unwrap_or(0), cpu.period.unwrap_or(0));
        for (name, list, field) in [
            ("AllowedCPUs", &cpu.cpus, "cpus"),
            ("AllowedMemoryNodes", &cpu.mems, "mems"),
        ] {
            if let Some(list) = list.as_deref().filter(|l| !l.trim().is_empty()) {
                let mask = runoci_core::spec::attrs::parse_id_list(list)
                    .map_err(|e| format!("linux.resources.cpu.{field}: {e}"))?;
                props.push((name, Prop::Bytes(mask_bytes(&mask))));
            }
        }
    }
    if let Some(limit) = res.pids.as_ref().and_then(|p| p.limit) {
        // 0 (a limit of zero in runtime-spec 1.3) is left to cgroupfs:
        // systemd reads TasksMax=0 as no limit on older versions.
        if limit > 0 {
            props.push(("TasksMax", Prop::U64(limit as u64)));
        } else if limit == -1 {
            props.push(("TasksMax", Prop::U64(INFINITY)));
        }
    }
    if let Some(io) = &res.block_io {
        if let Some(w) = io.weight.filter(|w| *w != 0) {
            props.push(("IOWeight", Prop::U64(convert::blkio_weight_to_io_weight(w))));
        }
        for (name, list) in [
            ("IOReadBandwidthMax", &io.throttle_read_bps_device),
            ("IOWriteBandwidthMax", &io.throttle_write_bps_device),
            ("IOReadIOPSMax", &io.throttle_read_iops_device),
            ("IOWriteIOPSMax", &io.throttle_write_iops_device),
        ] {
            if !list.is_empty() {
                let limits = list
                    .iter()
                    .map(|d| (format!("/dev/block/{}:{}", d.major, d.minor), d.rate))
                    .collect();
                props.push((name, Prop::IoLimits(limits)));
            }
        }
    }
    if !res.devices.is_empty() {
        device_props(&mut props, &res.devices, proc_devices);
    }
    Ok(props)
}

/// A byte limit where -1 is unlimited.
fn limit_value(v: i64) -> u64 {
    if v < 0 {
        INFINITY
    } else {
        v as u64
    }
}

/// runc's addCpuQuota: CPUQuotaPerSecUSec is the quota per second of
/// wall time, rounded up to systemd's 10 ms granularity (a quota rounded
/// down would be tighter than asked); a quota of -1 is infinity.
fn cpu_quota(props: &mut Props, quota: i64, period: u64) {
    if quota == 0 && period == 0 {
        return;
    }
    if period != 0 {
        props.push(("CPUQuotaPeriodUSec", Prop::U64(period)));
    }
    let mut per_sec = INFINITY;
    if quota > 0 {
        let period = if period == 0 {
            convert::DEFAULT_CPU_PERIOD
        } else {
            period
        };
        per_sec = (quota as u64).saturating_mul(1_000_000) / period;
        if !per_sec.is_multiple_of(10_000) {
            per_sec = (per_sec / 10_000 + 1) * 10_000;
        }
    }
    props.push(("CPUQuotaPerSecUSec", Prop::U64(per_sec)));
}

/// 64-bit mask words as systemd's byte array, trailing zero bytes dropped.
fn mask_bytes(words: &[u64]) -> Vec<u8> {
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

/// DevicePolicy/DeviceAllow. systemd's lists only allow, so: a rule set
/// that allows every device is `auto` with nothing listed; otherwise
/// `strict` with every allow rule listed (deny rules need no entry: strict
/// denies what is not listed). runoci's own BPF program, attached next to
/// systemd's, still enforces the rules exactly, in order; systemd's allows
/// a superset of it, so the two together are the rules as given. A rule
/// systemd cannot name (a major without a /proc/devices entry) makes the
/// policy `auto` too, for the same reason.
fn device_props(props: &mut Props, rules: &[DeviceCgroup], proc_devices: &str) {
    let mut allow = Vec::new();
    for rule in rules.iter().filter(|r| r.allow) {
        let access = rule.access.clone().unwrap_or_else(|| "rwm".to_string());
        let typ = rule.typ.as_deref().unwrap_or("a");
        let major = rule.major.filter(|m| *m >= 0);
        let minor = rule.minor.filter(|m| *m >= 0);
        let entry = match (typ, major, minor) {
            ("a", ..) => None,
            ("c" | "b", None, _) => {
                Some(format!("{}-*", if typ == "c" { "char" } else { "block" }))
            }
            ("c" | "b", Some(major), Some(minor)) => Some(format!(
                "/dev/{}/{major}:{minor}",
                if typ == "c" { "char" } else { "block" }
            )),
            ("c" | "b", Some(major), None) => device_class(proc_devices, typ == "b", major)
                .map(|n| format!("{}-{n}", if typ == "c" { "char" } else { "block" })),
            _ => None,
        };
        let Some(entry) = entry else {
            props.push(("DevicePolicy", Prop::Str("auto".into())));
            return;
        };
        allow.push((entry, access));
    }
    let all = |kind: &str| {
        allow.iter().any(|(e, a)| {
            e == &format!("{kind}-*") && a.contains('r') && a.contains('w') && a.contains('m')
        })
    };
    if all("char") && all("block") {
        props.push(("DevicePolicy", Prop::Str("auto".into())));
        return;
    }
    props.push(("DevicePolicy", Prop::Str("strict".into())));
    props.push(("DeviceAllow", Prop::Devices(allow)));
}

/// The driver name of `major` in /proc/devices' char or block section.
fn device_class(proc_devices: &str, block: bool, major: i64) -> Option<String> {
    let header = if block {
        "Block devices:"
    } else {
        "Character devices:"
    };
    proc_devices
        .lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let (num, name) = l.trim().split_once(' ')?;
            (num.parse::<i64>().ok()? == major).then(|| name.trim().to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(res: serde_json::Value) -> Props {
        let res: Resources = serde_json::from_value(res).unwrap();
        resource_props(&res, PROC_DEVICES).unwrap()
    }

    fn get<'a>(p: &'a Props, name: &str) -> Option<&'a Prop> {
        p.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    const PROC_DEVICES: &str =
        "Character devices:\n  1 mem\n  4 tty\n136 pts\n\nBlock devices:\n  8 sd\n259 blkext\n";

    #[test]
    fn memory_swap_and_reservation() {
        let p =
            props(json!({"memory": {"limit": 32 << 20, "swap": 48 << 20, "reservation": 1 << 20}}));
        assert_eq!(get(&p, "MemoryMax"), Some(&Prop::U64(32 << 20)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Prop::U64(16 << 20)));
        assert_eq!(get(&p, "MemoryLow"), Some(&Prop::U64(1 << 20)));
        let p = props(json!({"memory": {"limit": 32 << 20, "swap": 32 << 20}}));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Prop::U64(0)));
        let p = props(json!({"memory": {"limit": -1}}));
        assert_eq!(get(&p, "MemoryMax"), Some(&Prop::U64(INFINITY)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Prop::U64(INFINITY)));
        let res: Resources = serde_json::from_value(json!({"memory": {"swap": 5}})).unwrap();
        let e = resource_props(&res, "").unwrap_err();
        assert!(e.starts_with("linux.resources.memory.swap"), "{e}");
    }

    #[test]
    fn cpu_weight_quota_and_sets() {
        let p = props(
            json!({"cpu": {"shares": 1024, "quota": 25000, "period": 100000, "cpus": "0-2,9", "mems": "0"}}),
        );
        assert_eq!(get(&p, "CPUWeight"), Some(&Prop::U64(39)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Prop::U64(100_000)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Prop::U64(250_000)));
        assert_eq!(
            get(&p, "AllowedCPUs"),
            Some(&Prop::Bytes(vec![0b111, 0b10]))
        );
        assert_eq!(get(&p, "AllowedMemoryNodes"), Some(&Prop::Bytes(vec![1])));
        // Rounded up to 10 ms; no period given: none set, 100 ms assumed.
        let p = props(json!({"cpu": {"quota": 12345}}));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Prop::U64(130_000)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), None);
        let p = props(json!({"cpu": {"quota": -1, "period": 50000}}));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Prop::U64(INFINITY)));
    }

    #[test]
    fn pids_and_io() {
        let p = props(json!({"pids": {"limit": 10}, "blockIO": {"weight": 500,
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]}}));
        assert_eq!(get(&p, "TasksMax"), Some(&Prop::U64(10)));
        assert_eq!(get(&p, "IOWeight"), Some(&Prop::U64(4950)));
        assert_eq!(
            get(&p, "IOReadBandwidthMax"),
            Some(&Prop::IoLimits(vec![("/dev/block/8:0".into(), 1048576)]))
        );
        assert_eq!(
            get(&props(json!({"pids": {"limit": -1}})), "TasksMax"),
            Some(&Prop::U64(INFINITY))
        );
        assert_eq!(get(&props(json!({"pids": {"limit": 0}})), "TasksMax"), None);
    }

    #[test]
    fn devices() {
        let p = props(json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 136, "access": "rw"},
            {"allow": true, "type": "b", "access": "m"},
        ]}));
        assert_eq!(get(&p, "DevicePolicy"), Some(&Prop::Str("strict".into())));
        assert_eq!(
            get(&p, "DeviceAllow"),
            Some(&Prop::Devices(vec![
                ("/dev/char/1:3".into(), "rwm".into()),
                ("char-pts".into(), "rw".into()),
                ("block-*".into(), "m".into()),
            ]))
        );
        // Allow everything, then deny one: only runoci's program can say
        // that; systemd imposes nothing.
        let p = props(json!({"devices": [
            {"allow": true, "access": "rwm"},
            {"allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
        ]}));
        assert_eq!(get(&p, "DevicePolicy"), Some(&Prop::Str("auto".into())));
        assert_eq!(get(&p, "DeviceAllow"), None);
        // A major /proc/devices does not name.
        let p =
            props(json!({"devices": [{"allow": true, "type": "c", "major": 77, "access": "r"}]}));
        assert_eq!(get(&p, "DevicePolicy"), Some(&Prop::Str("auto".into())));
        assert_eq!(
            device_class(PROC_DEVICES, true, 259).as_deref(),
            Some("blkext")
        );
    }
}
