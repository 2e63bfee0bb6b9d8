//! Checks of `linux.resources` (and run_oci's `linux.cpu`) done before any
//! file is written, each error naming the config field. The kernel checks
//! again; this catches what it would accept but mean something else, and
//! values that would be spliced into file names or multi-field lines.

use super::devices;
use super::error::CgroupError;
use crate::spec::{BlockIo, Cpu, Memory, Resources};

const MIN_SHARES: u64 = 2;
const MAX_SHARES: u64 = 262_144;
/// The kernel's bounds on `cpu.cfs_period_us`.
const MIN_PERIOD: u64 = 1_000;
const MAX_PERIOD: u64 = 1_000_000;
const MIN_BLKIO_WEIGHT: u16 = 10;
const MAX_BLKIO_WEIGHT: u16 = 1_000;

/// Validates every field of `resources` and `linux_cpu`.
pub fn validate(resources: &Resources, linux_cpu: Option<&Cpu>) -> Result<(), CgroupError> {
    if let Some(memory) = &resources.memory {
        validate_memory(memory)?;
    }
    if let Some(cpu) = &resources.cpu {
        validate_cpu("linux.resources.cpu", cpu)?;
    }
    if let Some(cpu) = linux_cpu {
        validate_cpu("linux.cpu", cpu)?;
    }
    if let Some(pids) = &resources.pids {
        if let Some(limit) = pids.limit.filter(|l| *l < -1) {
            return Err(below("linux.resources.pids.limit", limit, "-1 (unlimited)"));
        }
    }
    if let Some(block_io) = &resources.block_io {
        validate_block_io(block_io)?;
    }
    for (i, hugepage) in resources.hugepage_limits.iter().enumerate() {
        if !is_page_size(&hugepage.page_size) {
            return Err(CgroupError::invalid(
                format!("linux.resources.hugepageLimits[{i}].pageSize"),
                format!(
                    "{:?} is not a page size like \"2MB\" or \"1GB\"",
                    hugepage.page_size
                ),
            ));
        }
    }
    if let Some(network) = &resources.network {
        for (i, priority) in network.priorities.iter().enumerate() {
            if !is_plain_word(&priority.name) {
                return Err(CgroupError::invalid(
                    format!("linux.resources.network.priorities[{i}].name"),
                    format!("{:?} is not an interface name", priority.name),
                ));
            }
        }
    }
    if let Some(rdma) = &resources.rdma {
        for device in rdma.keys() {
            if !is_plain_word(device) {
                return Err(CgroupError::invalid(
                    format!("linux.resources.rdma[{device:?}]"),
                    "not an RDMA device name",
                ));
            }
        }
    }
    if let Some(unified) = &resources.unified {
        for key in unified.keys() {
            if !is_plain_word(key) || key == "." || key == ".." || !key.contains('.') {
                return Err(CgroupError::invalid(
                    format!("linux.resources.unified[{key:?}]"),
                    "not a cgroup v2 file name like \"memory.high\"",
                ));
            }
        }
    }
    devices::validate(&resources.devices)
}

fn validate_memory(memory: &Memory) -> Result<(), CgroupError> {
    for (name, value) in [
        ("limit", memory.limit),
        ("reservation", memory.reservation),
        ("swap", memory.swap),
        ("kernel", memory.kernel),
        ("kernelTCP", memory.kernel_tcp),
    ] {
        if let Some(value) = value.filter(|v| *v < -1) {
            return Err(below(
                &format!("linux.resources.memory.{name}"),
                value,
                "-1 (unlimited)",
            ));
        }
    }
    if let (Some(limit), Some(swap)) = (memory.limit, memory.swap) {
        if limit > 0 && swap > 0 && swap < limit {
            return Err(CgroupError::invalid(
                "linux.resources.memory.swap",
                format!("{swap} is below the memory limit {limit} (swap is memory+swap)"),
            ));
        }
    }
    if let Some(swappiness) = memory.swappiness.filter(|s| *s > 100) {
        return Err(CgroupError::invalid(
            "linux.resources.memory.swappiness",
            format!("{swappiness} is above the maximum 100"),
        ));
    }
    Ok(())
}

fn validate_cpu(prefix: &str, cpu: &Cpu) -> Result<(), CgroupError> {
    let field = |name: &str| format!("{prefix}.{name}");
    if let Some(shares) = cpu.shares {
        if shares < MIN_SHARES {
            return Err(below(&field("shares"), shares, &MIN_SHARES.to_string()));
        }
        if shares > MAX_SHARES {
            return Err(above(&field("shares"), shares, MAX_SHARES));
        }
    }
    if let Some(quota) = cpu.quota {
        if quota <= 0 && quota != -1 {
            return Err(CgroupError::invalid(
                field("quota"),
                format!("{quota} must be positive, or -1 for no limit"),
            ));
        }
    }
    if let Some(period) = cpu.period {
        if !(MIN_PERIOD..=MAX_PERIOD).contains(&period) {
            return Err(CgroupError::invalid(
                field("period"),
                format!("{period} is outside {MIN_PERIOD}..={MAX_PERIOD}"),
            ));
        }
    }
    if let Some(period) = cpu.realtime_period {
        if period == 0 {
            return Err(below(&field("realtimePeriod"), period, "1"));
        }
    }
    if let Some(runtime) = cpu.realtime_runtime {
        if runtime < -1 {
            return Err(below(&field("realtimeRuntime"), runtime, "-1 (unlimited)"));
        }
        if let Some(period) = cpu.realtime_period {
            if runtime > 0 && runtime.unsigned_abs() > period {
                return Err(CgroupError::invalid(
                    field("realtimeRuntime"),
                    format!("{runtime} is above the realtime period {period}"),
                ));
            }
        }
    }
    if let Some(idle) = cpu.idle {
        if idle != 0 && idle != 1 {
            return Err(CgroupError::invalid(
                field("idle"),
                format!("{idle} is neither 0 nor 1"),
            ));
        }
    }
    for (name, list) in [("cpus", &cpu.cpus), ("mems", &cpu.mems)] {
        if let Some(list) = list {
            if !list
                .chars()
                .all(|c| c.is_ascii_digit() || c == ',' || c == '-')
            {
                return Err(CgroupError::invalid(
                    field(name),
                    format!("{list:?} is not a list like \"0-3,7\""),
                ));
            }
        }
    }
    Ok(())
}

fn validate_block_io(block_io: &BlockIo) -> Result<(), CgroupError> {
    let check_weight = |field: String, weight: Option<u16>| match weight {
        Some(w) if !(MIN_BLKIO_WEIGHT..=MAX_BLKIO_WEIGHT).contains(&w) => {
            Err(CgroupError::invalid(
                field,
                format!("{w} is outside {MIN_BLKIO_WEIGHT}..={MAX_BLKIO_WEIGHT}"),
            ))
        }
        _ => Ok(()),
    };
    check_weight("linux.resources.blockIO.weight".into(), block_io.weight)?;
    check_weight(
        "linux.resources.blockIO.leafWeight".into(),
        block_io.leaf_weight,
    )?;
    for (i, device) in block_io.weight_device.iter().enumerate() {
        let field = |name: &str| format!("linux.resources.blockIO.weightDevice[{i}].{name}");
        check_device_number(field("major"), device.major)?;
        check_device_number(field("minor"), device.minor)?;
        check_weight(field("weight"), device.weight)?;
        check_weight(field("leafWeight"), device.leaf_weight)?;
    }
    for (list, devices) in block_io.throttles() {
        for (i, device) in devices.iter().enumerate() {
            check_device_number(
                format!("linux.resources.blockIO.{list}[{i}].major"),
                device.major,
            )?;
            check_device_number(
                format!("linux.resources.blockIO.{list}[{i}].minor"),
                device.minor,
            )?;
        }
    }
    Ok(())
}

fn check_device_number(field: String, value: i64) -> Result<(), CgroupError> {
    if (0..=i64::from(u32::MAX)).contains(&value) {
        Ok(())
    } else {
        Err(CgroupError::invalid(
            field,
            format!("{value} is not a device number"),
        ))
    }
}

/// `2MB`, `64KB`, `1GB`: digits then a unit. It becomes part of a file name.
fn is_page_size(size: &str) -> bool {
    let Some(digits) = size
        .strip_suffix("KB")
        .or_else(|| size.strip_suffix("MB"))
        .or_else(|| size.strip_suffix("GB"))
    else {
        return false;
    };
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

/// One token with no whitespace, `/` or control character: safe to use as a
/// file name or as the first field of a space-separated line.
fn is_plain_word(word: &str) -> bool {
    !word.is_empty()
        && !word
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
}

fn below(field: &str, value: impl std::fmt::Display, minimum: &str) -> CgroupError {
    CgroupError::invalid(field, format!("{value} is below the minimum {minimum}"))
}

fn above(
    field: &str,
    value: impl std::fmt::Display,
    maximum: impl std::fmt::Display,
) -> CgroupError {
    CgroupError::invalid(field, format!("{value} is above the maximum {maximum}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HugepageLimit, NetPriority, Network, Pids, WeightDevice};
    use std::collections::BTreeMap;

    fn error(resources: &Resources, linux_cpu: Option<&Cpu>) -> String {
        validate(resources, linux_cpu).unwrap_err().to_string()
    }

    fn with_cpu(cpu: Cpu) -> Resources {
        Resources {
            cpu: Some(cpu),
            ..Default::default()
        }
    }

    #[test]
    fn a_full_valid_config_passes() {
        validate(&crate::cgroups::testutil::full_resources(), None).unwrap();
        validate(&Resources::default(), None).unwrap();
    }

    #[test]
    fn cpu_errors_name_the_field() {
        let shares = with_cpu(Cpu {
            shares: Some(1),
            ..Default::default()
        });
        assert_eq!(
            error(&shares, None),
            "linux.resources.cpu.shares: 1 is below the minimum 2"
        );
        let extension = Cpu {
            shares: Some(1),
            ..Default::default()
        };
        assert_eq!(
            error(&Resources::default(), Some(&extension)),
            "linux.cpu.shares: 1 is below the minimum 2"
        );
        for (cpu, field) in [
            (
                Cpu {
                    shares: Some(300_000),
                    ..Default::default()
                },
                "linux.resources.cpu.shares:",
            ),
            (
                Cpu {
                    quota: Some(0),
                    ..Default::default()
                },
                "linux.resources.cpu.quota:",
            ),
            (
                Cpu {
                    quota: Some(-2),
                    ..Default::default()
                },
                "linux.resources.cpu.quota:",
            ),
            (
                Cpu {
                    period: Some(999),
                    ..Default::default()
                },
                "linux.resources.cpu.period:",
            ),
            (
                Cpu {
                    realtime_runtime: Some(2000),
                    realtime_period: Some(1000),
                    ..Default::default()
                },
                "linux.resources.cpu.realtimeRuntime:",
            ),
            (
                Cpu {
                    realtime_runtime: Some(-5),
                    ..Default::default()
                },
                "linux.resources.cpu.realtimeRuntime:",
            ),
            (
                Cpu {
                    realtime_period: Some(0),
                    ..Default::default()
                },
                "linux.resources.cpu.realtimePeriod:",
            ),
            (
                Cpu {
                    idle: Some(2),
                    ..Default::default()
                },
                "linux.resources.cpu.idle:",
            ),
            (
                Cpu {
                    cpus: Some("0-1\n".into()),
                    ..Default::default()
                },
                "linux.resources.cpu.cpus:",
            ),
            (
                Cpu {
                    mems: Some("a".into()),
                    ..Default::default()
                },
                "linux.resources.cpu.mems:",
            ),
        ] {
            let message = error(&with_cpu(cpu), None);
            assert!(message.starts_with(field), "{message}");
        }
        // -1 quota and runtime are "unlimited"; runtime == period is allowed.
        validate(
            &with_cpu(Cpu {
                quota: Some(-1),
                realtime_runtime: Some(1000),
                realtime_period: Some(1000),
                ..Default::default()
            }),
            None,
        )
        .unwrap();
    }

    #[test]
    fn other_errors_name_the_field() {
        let memory = |m: Memory| Resources {
            memory: Some(m),
            ..Default::default()
        };
        let cases: Vec<(Resources, &str)> = vec![
            (
                memory(Memory {
                    limit: Some(-2),
                    ..Default::default()
                }),
                "linux.resources.memory.limit: -2 is below the minimum -1",
            ),
            (
                memory(Memory {
                    swap: Some(-7),
                    ..Default::default()
                }),
                "linux.resources.memory.swap:",
            ),
            (
                memory(Memory {
                    limit: Some(200),
                    swap: Some(100),
                    ..Default::default()
                }),
                "linux.resources.memory.swap: 100 is below",
            ),
            (
                memory(Memory {
                    swappiness: Some(101),
                    ..Default::default()
                }),
                "linux.resources.memory.swappiness:",
            ),
            (
                Resources {
                    pids: Some(Pids { limit: Some(-2) }),
                    ..Default::default()
                },
                "linux.resources.pids.limit:",
            ),
            (
                Resources {
                    block_io: Some(BlockIo {
                        weight: Some(5),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "linux.resources.blockIO.weight:",
            ),
            (
                Resources {
                    block_io: Some(BlockIo {
                        weight_device: vec![WeightDevice {
                            major: -1,
                            minor: 0,
                            weight: Some(100),
                            leaf_weight: None,
                        }],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "linux.resources.blockIO.weightDevice[0].major:",
            ),
            (
                Resources {
                    hugepage_limits: vec![HugepageLimit {
                        page_size: "../2MB".into(),
                        limit: 1,
                    }],
                    ..Default::default()
                },
                "linux.resources.hugepageLimits[0].pageSize:",
            ),
            (
                Resources {
                    network: Some(Network {
                        class_id: None,
                        priorities: vec![NetPriority {
                            name: "eth0 9\nlo".into(),
                            priority: 1,
                        }],
                    }),
                    ..Default::default()
                },
                "linux.resources.network.priorities[0].name:",
            ),
            (
                Resources {
                    unified: Some(BTreeMap::from([("../x".to_string(), "1".to_string())])),
                    ..Default::default()
                },
                "linux.resources.unified[\"../x\"]:",
            ),
        ];
        for (resources, expected) in cases {
            let message = error(&resources, None);
            assert!(message.starts_with(expected), "{message} !~ {expected}");
        }
    }

    #[test]
    fn page_sizes() {
        assert!(is_page_size("2MB") && is_page_size("1GB") && is_page_size("64KB"));
        assert!(!is_page_size("MB") && !is_page_size("2mb") && !is_page_size("2MB/x"));
    }
}
