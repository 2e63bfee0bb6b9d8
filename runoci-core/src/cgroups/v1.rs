//! Writing resource values to cgroup v1 control files, one function per
//! controller; `dir` is the container's directory in that controller's
//! hierarchy. Values were validated beforehand (`validate`).

use super::convert;
use super::devices::DeviceRule;
use super::error::CgroupError;
use super::fs::{exists, read_value, write_file};
use crate::spec::{BlockIo, Cpu, HugepageLimit, Memory, Network, Rdma};
use std::collections::BTreeMap;
use std::path::Path;

/// `memory.*`. A limit, reservation, swap or kernelTCP of 0 means "unset",
/// as in runc. `kernel` (kmem) limits are deprecated by the kernel (writes
/// fail since 5.16) and, as in runc, ignored.
pub fn memory(dir: &Path, memory: &Memory) -> Result<(), CgroupError> {
    let set = |v: Option<i64>| v.filter(|v| *v != 0);
    let limit = set(memory.limit);
    let swap = set(memory.swap);
    if memory.check_before_update == Some(true) {
        if let Some(limit) = limit.filter(|l| *l > 0) {
            check_usage_below(&dir.join("memory.usage_in_bytes"), limit)?;
        }
    }
    // memory.memsw.limit_in_bytes must stay >= memory.limit_in_bytes at
    // every step: raise swap first when the memory limit goes up.
    match (limit, swap) {
        (Some(limit), Some(swap)) => {
            let current = read_value(&dir.join("memory.limit_in_bytes"))?;
            let raising = limit == -1 || current.parse::<i64>().is_ok_and(|c| limit > c);
            if raising {
                write_file(&dir.join("memory.memsw.limit_in_bytes"), &swap.to_string())?;
                write_file(&dir.join("memory.limit_in_bytes"), &limit.to_string())?;
            } else {
                write_file(&dir.join("memory.limit_in_bytes"), &limit.to_string())?;
                write_file(&dir.join("memory.memsw.limit_in_bytes"), &swap.to_string())?;
            }
        }
        (Some(limit), None) => write_file(&dir.join("memory.limit_in_bytes"), &limit.to_string())?,
        (None, Some(swap)) => {
            write_file(&dir.join("memory.memsw.limit_in_bytes"), &swap.to_string())?
        }
        (None, None) => {}
    }
    if let Some(reservation) = set(memory.reservation) {
        write_file(
            &dir.join("memory.soft_limit_in_bytes"),
            &reservation.to_string(),
        )?;
    }
    if let Some(tcp) = set(memory.kernel_tcp) {
        write_file(
            &dir.join("memory.kmem.tcp.limit_in_bytes"),
            &tcp.to_string(),
        )?;
    }
    if let Some(swappiness) = memory.swappiness {
        write_file(&dir.join("memory.swappiness"), &swappiness.to_string())?;
    }
    if memory.disable_oom_killer == Some(true) {
        write_file(&dir.join("memory.oom_control"), "1")?;
    }
    if let Some(use_hierarchy) = memory.use_hierarchy {
        write_file(
            &dir.join("memory.use_hierarchy"),
            if use_hierarchy { "1" } else { "0" },
        )?;
    }
    Ok(())
}

/// Refuses a new limit below what the cgroup already uses (`checkBeforeUpdate`).
pub fn check_usage_below(usage_file: &Path, limit: i64) -> Result<(), CgroupError> {
    let usage = read_value(usage_file)?;
    let usage: i64 = usage.parse().map_err(|_| CgroupError::BadContents {
        path: usage_file.into(),
        contents: usage.clone(),
    })?;
    if usage > limit {
        return Err(CgroupError::invalid(
            "linux.resources.memory.limit",
            format!(
                "{limit} is below the current usage {usage} ({})",
                usage_file.display()
            ),
        ));
    }
    Ok(())
}

/// `cpu.*`: shares, CFS period then quota then burst, RT period then
/// runtime, idle.
pub fn cpu(dir: &Path, cpu: &Cpu) -> Result<(), CgroupError> {
    if let Some(shares) = cpu.shares {
        write_file(&dir.join("cpu.shares"), &shares.to_string())?;
    }
    if let Some(period) = cpu.period {
        write_file(&dir.join("cpu.cfs_period_us"), &period.to_string())?;
    }
    if let Some(quota) = cpu.quota {
        write_file(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
    }
    if let Some(burst) = cpu.burst {
        write_file(&dir.join("cpu.cfs_burst_us"), &burst.to_string())?;
    }
    if let Some(period) = cpu.realtime_period {
        write_file(&dir.join("cpu.rt_period_us"), &period.to_string())?;
    }
    if let Some(runtime) = cpu.realtime_runtime {
        write_file(&dir.join("cpu.rt_runtime_us"), &runtime.to_string())?;
    }
    if let Some(idle) = cpu.idle {
        write_file(&dir.join("cpu.idle"), &idle.to_string())?;
    }
    Ok(())
}

/// `cpuset.cpus` and `cpuset.mems` (same names on v2).
pub fn cpuset(dir: &Path, cpu: &Cpu) -> Result<(), CgroupError> {
    if let Some(cpus) = &cpu.cpus {
        write_file(&dir.join("cpuset.cpus"), cpus)?;
    }
    if let Some(mems) = &cpu.mems {
        write_file(&dir.join("cpuset.mems"), mems)?;
    }
    Ok(())
}

/// `pids.max` (same on v2); an absent limit writes nothing.
pub fn pids(dir: &Path, limit: Option<i64>) -> Result<(), CgroupError> {
    if let Some(limit) = limit {
        write_file(&dir.join("pids.max"), &convert::pids_max(limit))?;
    }
    Ok(())
}

/// `blkio.*`. Weights go to `blkio.weight*` (CFQ) or, when that is absent,
/// `blkio.bfq.weight*` (BFQ), as runc does.
pub fn blkio(dir: &Path, block_io: &BlockIo) -> Result<(), CgroupError> {
    let weight_file = |cfq: &str, bfq: &str, field: &str| {
        if exists(&dir.join(cfq)) {
            Ok(dir.join(cfq))
        } else if exists(&dir.join(bfq)) {
            Ok(dir.join(bfq))
        } else {
            Err(CgroupError::invalid(
                field,
                format!(
                    "{} has neither {cfq} nor {bfq} (no CFQ or BFQ I/O scheduler)",
                    dir.display()
                ),
            ))
        }
    };
    if let Some(weight) = block_io.weight {
        let file = weight_file(
            "blkio.weight",
            "blkio.bfq.weight",
            "linux.resources.blockIO.weight",
        )?;
        write_file(&file, &weight.to_string())?;
    }
    if let Some(leaf_weight) = block_io.leaf_weight {
        write_file(&dir.join("blkio.leaf_weight"), &leaf_weight.to_string())?;
    }
    for device in &block_io.weight_device {
        if let Some(weight) = device.weight {
            let file = weight_file(
                "blkio.weight_device",
                "blkio.bfq.weight_device",
                "linux.resources.blockIO.weightDevice",
            )?;
            write_file(
                &file,
                &convert::device_value(device.major, device.minor, weight),
            )?;
        }
        if let Some(leaf_weight) = device.leaf_weight {
            write_file(
                &dir.join("blkio.leaf_weight_device"),
                &convert::device_value(device.major, device.minor, leaf_weight),
            )?;
        }
    }
    for (file, devices) in [
        (
            "blkio.throttle.read_bps_device",
            &block_io.throttle_read_bps_device,
        ),
        (
            "blkio.throttle.write_bps_device",
            &block_io.throttle_write_bps_device,
        ),
        (
            "blkio.throttle.read_iops_device",
            &block_io.throttle_read_iops_device,
        ),
        (
            "blkio.throttle.write_iops_device",
            &block_io.throttle_write_iops_device,
        ),
    ] {
        for device in devices {
            write_file(
                &dir.join(file),
                &convert::device_value(device.major, device.minor, device.rate),
            )?;
        }
    }
    Ok(())
}

/// `hugetlb.<size>.limit_in_bytes`, and `rsvd.limit_in_bytes` where the
/// kernel has reservation accounting.
pub fn hugetlb(dir: &Path, limits: &[HugepageLimit]) -> Result<(), CgroupError> {
    hugetlb_files(dir, limits, false)
}

/// The hugetlb limits on v1 (`v2` false) or v2: the fault limit, then the
/// same value as the reservation limit when that file exists.
pub fn hugetlb_files(dir: &Path, limits: &[HugepageLimit], v2: bool) -> Result<(), CgroupError> {
    for limit in limits {
        let value = limit.limit.to_string();
        write_file(
            &dir.join(convert::hugetlb_file(&limit.page_size, v2)),
            &value,
        )?;
        let rsvd = dir.join(convert::hugetlb_rsvd_file(&limit.page_size, v2));
        if exists(&rsvd) {
            write_file(&rsvd, &value)?;
        }
    }
    Ok(())
}

/// `net_cls.classid`.
pub fn net_cls(dir: &Path, network: &Network) -> Result<(), CgroupError> {
    if let Some(class_id) = network.class_id {
        write_file(&dir.join("net_cls.classid"), &class_id.to_string())?;
    }
    Ok(())
}

/// `net_prio.ifpriomap`, one `IFACE PRIORITY` per write.
pub fn net_prio(dir: &Path, network: &Network) -> Result<(), CgroupError> {
    for priority in &network.priorities {
        write_file(
            &dir.join("net_prio.ifpriomap"),
            &format!("{} {}", priority.name, priority.priority),
        )?;
    }
    Ok(())
}

/// `rdma.max` (same on v2), one device per write.
pub fn rdma(dir: &Path, rdma: &BTreeMap<String, Rdma>) -> Result<(), CgroupError> {
    for (device, limits) in rdma {
        if let Some(line) = convert::rdma_max(device, limits.hca_handles, limits.hca_objects) {
            write_file(&dir.join("rdma.max"), &line)?;
        }
    }
    Ok(())
}

/// The device rules from `devices::v1_rules`, one per write, in order.
pub fn devices(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    for rule in rules {
        write_file(&dir.join(rule.file), &rule.rule)?;
    }
    Ok(())
}

/// `freezer.state`: the string to write.
pub fn freezer_state(frozen: bool) -> &'static str {
    if frozen {
        "FROZEN"
    } else {
        "THAWED"
    }
}
