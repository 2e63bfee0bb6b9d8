//! Writing resource values to cgroup v2 control files, one function per
//! controller; `dir` is the container's directory in the cgroup2 tree.
//! v1-style values from the config are converted as runc converts them.

use super::convert;
use super::error::CgroupError;
use super::fs::{exists, write_file};
use crate::spec::{BlockIo, Cpu, HugepageLimit, Memory};
use std::collections::BTreeMap;
use std::path::Path;

/// `memory.max`, `memory.swap.max` (= swap - limit), `memory.low`
/// (reservation). 0 means "unset" as in runc. The v1-only knobs
/// (swappiness, kernel, kernelTCP, disableOOMKiller, useHierarchy) have no
/// v2 file and are ignored, as runc ignores them.
pub fn memory(dir: &Path, memory: &Memory) -> Result<(), CgroupError> {
    let limit = memory.limit.unwrap_or(0);
    let swap = convert::swap_to_v2(memory.swap.unwrap_or(0), limit)
        .map_err(|reason| CgroupError::invalid("linux.resources.memory.swap", reason))?;
    if memory.check_before_update == Some(true) && limit > 0 {
        super::v1::check_usage_below(&dir.join("memory.current"), limit)?;
    }
    // Swap first: memory.swap.max does not depend on memory.max on v2, but
    // a failing swap write (no swap accounting) should leave memory.max as is.
    // swap == limit means no swap at all: 0 is written then (as runc
    // does), not taken for "unset".
    if swap != 0 || memory.swap.is_some_and(|s| s > 0) {
        write_file(&dir.join("memory.swap.max"), &convert::limit_to_v2(swap))?;
    }
    if limit != 0 {
        write_file(&dir.join("memory.max"), &convert::limit_to_v2(limit))?;
    }
    if let Some(reservation) = memory.reservation.filter(|r| *r != 0) {
        write_file(&dir.join("memory.low"), &convert::limit_to_v2(reservation))?;
    }
    Ok(())
}

/// `cpu.weight` (from shares), `cpu.max` (quota and period), `cpu.max.burst`,
/// `cpu.idle`. Realtime values have no v2 file: `rt_field` names the field
/// that set one, for the error.
pub fn cpu(dir: &Path, cpu: &Cpu, rt_field: &str) -> Result<(), CgroupError> {
    if cpu.realtime_runtime.is_some() || cpu.realtime_period.is_some() {
        return Err(CgroupError::invalid(
            rt_field,
            "realtime CPU scheduling limits do not exist on cgroup v2",
        ));
    }
    if let Some(shares) = cpu.shares {
        write_file(
            &dir.join("cpu.weight"),
            &convert::shares_to_weight(shares).to_string(),
        )?;
    }
    if let Some(max) = convert::cpu_max(cpu.quota, cpu.period) {
        write_file(&dir.join("cpu.max"), &max)?;
    }
    if let Some(burst) = cpu.burst {
        write_file(&dir.join("cpu.max.burst"), &burst.to_string())?;
    }
    if let Some(idle) = cpu.idle {
        write_file(&dir.join("cpu.idle"), &idle.to_string())?;
    }
    Ok(())
}

/// `io.*`: weights to `io.bfq.weight` when BFQ is there (same scale as
/// v1), else converted to `io.weight`; throttles to `io.max`.
pub fn io(dir: &Path, block_io: &BlockIo) -> Result<(), CgroupError> {
    if block_io.leaf_weight.is_some()
        || block_io
            .weight_device
            .iter()
            .any(|d| d.leaf_weight.is_some())
    {
        return Err(CgroupError::invalid(
            "linux.resources.blockIO.leafWeight",
            "leaf weights do not exist on cgroup v2",
        ));
    }
    let bfq = exists(&dir.join("io.bfq.weight"));
    if let Some(weight) = block_io.weight {
        if bfq {
            write_file(&dir.join("io.bfq.weight"), &weight.to_string())?;
        } else {
            write_file(
                &dir.join("io.weight"),
                &convert::blkio_weight_to_io_weight(weight).to_string(),
            )?;
        }
    }
    for device in &block_io.weight_device {
        if let Some(weight) = device.weight {
            let (file, value) = if bfq {
                ("io.bfq.weight", u64::from(weight))
            } else {
                ("io.weight", convert::blkio_weight_to_io_weight(weight))
            };
            write_file(
                &dir.join(file),
                &convert::device_value(device.major, device.minor, value),
            )?;
        }
    }
    for (key, devices) in [
        ("rbps", &block_io.throttle_read_bps_device),
        ("wbps", &block_io.throttle_write_bps_device),
        ("riops", &block_io.throttle_read_iops_device),
        ("wiops", &block_io.throttle_write_iops_device),
    ] {
        for device in devices {
            write_file(
                &dir.join("io.max"),
                &convert::io_max(device.major, device.minor, key, device.rate),
            )?;
        }
    }
    Ok(())
}

/// `hugetlb.<size>.max`, and `rsvd.max` where the kernel has it.
pub fn hugetlb(dir: &Path, limits: &[HugepageLimit]) -> Result<(), CgroupError> {
    super::v1::hugetlb_files(dir, limits, true)
}

/// `linux.resources.unified`: each key is a file of the container's cgroup.
/// `is_v2_controller` says whether a key's controller (the part before the
/// first dot) lives in this cgroup2 tree; `cgroup.*` keys always do.
pub fn unified(
    dir: &Path,
    unified: &BTreeMap<String, String>,
    is_v2_controller: impl Fn(&str) -> bool,
) -> Result<(), CgroupError> {
    for (key, value) in unified {
        let controller = key.split('.').next().unwrap_or_default();
        if controller != "cgroup" && !is_v2_controller(controller) {
            return Err(CgroupError::invalid(
                format!("linux.resources.unified[{key:?}]"),
                format!("the {controller} controller is not in the cgroup2 tree here"),
            ));
        }
        write_file(&dir.join(key), value)?;
    }
    Ok(())
}

/// `cgroup.freeze`: the string to write.
pub fn freeze_value(frozen: bool) -> &'static str {
    if frozen {
        "1"
    } else {
        "0"
    }
}
