//! `Cgroup::apply`: sends each part of `linux.resources` to the hierarchy
//! where its controller is (v1 files for a v1 controller, v2 files for one
//! in the cgroup2 tree; on a hybrid machine each controller where it is
//! mounted). Everything is validated before the first write.

use super::cgroup::{Cgroup, CgroupVersion};
use super::devices;
use super::devices_bpf;
use super::error::CgroupError;
use super::validate::validate;
use super::{v1, v2};
use crate::spec::{Cpu, Resources};
use std::path::Path;

impl Cgroup {
    /// Applies `resources` and run_oci's `linux.cpu` extension (its fields
    /// fill in what `resources.cpu` leaves unset). A value for a controller
    /// that is mounted nowhere is an error naming the field.
    pub fn apply(&self, resources: &Resources, linux_cpu: Option<&Cpu>) -> Result<(), CgroupError> {
        validate(resources, linux_cpu)?;

        if let Some(memory) = &resources.memory {
            match self.require("memory", "memory", "linux.resources.memory")? {
                (CgroupVersion::V1, dir) => v1::memory(dir, memory)?,
                (CgroupVersion::V2, dir) => v2::memory(dir, memory)?,
            }
        }

        let cpu = merge_cpu(resources.cpu.as_ref(), linux_cpu);
        let cpu_field = if resources.cpu.is_some() {
            "linux.resources.cpu"
        } else {
            "linux.cpu"
        };
        if has_cpu_values(&cpu) {
            match self.require("cpu", "cpu", cpu_field)? {
                (CgroupVersion::V1, dir) => v1::cpu(dir, &cpu)?,
                (CgroupVersion::V2, dir) => {
                    let rt_field = if resources.cpu.as_ref().is_some_and(|c| {
                        c.realtime_runtime.is_some() || c.realtime_period.is_some()
                    }) {
                        "linux.resources.cpu.realtimeRuntime"
                    } else {
                        "linux.cpu.realtimeRuntime"
                    };
                    v2::cpu(dir, &cpu, rt_field)?
                }
            }
        }
        if cpu.cpus.is_some() || cpu.mems.is_some() {
            // Same file names and contents on v1 and v2.
            let (_, dir) = self.require("cpuset", "cpuset", &format!("{cpu_field}.cpus"))?;
            v1::cpuset(dir, &cpu)?;
        }

        if let Some(pids) = &resources.pids {
            let (_, dir) = self.require("pids", "pids", "linux.resources.pids")?;
            v1::pids(dir, pids.limit)?;
        }

        if let Some(block_io) = &resources.block_io {
            match self.require("blkio", "io", "linux.resources.blockIO")? {
                (CgroupVersion::V1, dir) => v1::blkio(dir, block_io)?,
                (CgroupVersion::V2, dir) => v2::io(dir, block_io)?,
            }
        }

        if !resources.hugepage_limits.is_empty() {
            match self.require("hugetlb", "hugetlb", "linux.resources.hugepageLimits")? {
                (CgroupVersion::V1, dir) => v1::hugetlb(dir, &resources.hugepage_limits)?,
                (CgroupVersion::V2, dir) => v2::hugetlb(dir, &resources.hugepage_limits)?,
            }
        }

        if let Some(network) = &resources.network {
            // net_cls and net_prio exist only on v1.
            if network.class_id.is_some() {
                let dir = self.require_v1("net_cls", "linux.resources.network.classID")?;
                v1::net_cls(dir, network)?;
            }
            if !network.priorities.is_empty() {
                let dir = self.require_v1("net_prio", "linux.resources.network.priorities")?;
                v1::net_prio(dir, network)?;
            }
        }

        if let Some(rdma) = resources.rdma.as_ref().filter(|r| !r.is_empty()) {
            // Same file and contents on v1 and v2.
            let (_, dir) = self.require("rdma", "rdma", "linux.resources.rdma")?;
            v1::rdma(dir, rdma)?;
        }

        if let Some(unified) = resources.unified.as_ref().filter(|u| !u.is_empty()) {
            let dir = self.unified_dir().ok_or_else(|| {
                CgroupError::invalid("linux.resources.unified", "no cgroup2 tree is mounted")
            })?;
            v2::unified(dir, unified, |controller| {
                matches!(
                    self.controller_dir(controller),
                    Some((CgroupVersion::V2, _))
                )
            })?;
        }

        self.apply_devices(resources)
    }

    fn apply_devices(&self, resources: &Resources) -> Result<(), CgroupError> {
        let rules = devices::v1_rules(&resources.devices)?;
        if rules.is_empty() {
            return Ok(());
        }
        match self.controller_dir("devices") {
            Some((CgroupVersion::V1, dir)) => v1::devices(dir, &rules),
            // cgroup2 has no device files: a BPF program enforces the same rules.
            _ => match self.unified_dir() {
                Some(dir) => devices_bpf::apply(dir, &resources.devices),
                None => Err(CgroupError::invalid(
                    "linux.resources.devices",
                    "the devices controller is not mounted",
                )),
            },
        }
    }

    /// The directory for a controller named `v1_name` on v1 or `v2_name`
    /// in the cgroup2 tree; an error naming `field` when it is neither.
    fn require(
        &self,
        v1_name: &str,
        v2_name: &str,
        field: &str,
    ) -> Result<(CgroupVersion, &Path), CgroupError> {
        if let Some((CgroupVersion::V1, dir)) = self.controller_dir(v1_name) {
            return Ok((CgroupVersion::V1, dir));
        }
        match self.controller_dir(v2_name) {
            Some((CgroupVersion::V2, dir)) => Ok((CgroupVersion::V2, dir)),
            _ => Err(CgroupError::invalid(
                field,
                format!("the {v1_name} controller is not available (not mounted on v1, not offered by cgroup2)"),
            )),
        }
    }

    fn require_v1(&self, name: &str, field: &str) -> Result<&Path, CgroupError> {
        match self.controller_dir(name) {
            Some((CgroupVersion::V1, dir)) => Ok(dir),
            _ => Err(CgroupError::invalid(
                field,
                format!("the {name} controller is not mounted (it exists only on cgroup v1)"),
            )),
        }
    }
}

/// `resources.cpu`, with run_oci's `linux.cpu` filling the fields it leaves unset.
fn merge_cpu(resources: Option<&Cpu>, extension: Option<&Cpu>) -> Cpu {
    let base = resources.cloned().unwrap_or_default();
    let Some(ext) = extension else {
        return base;
    };
    Cpu {
        shares: base.shares.or(ext.shares),
        quota: base.quota.or(ext.quota),
        burst: base.burst.or(ext.burst),
        period: base.period.or(ext.period),
        realtime_runtime: base.realtime_runtime.or(ext.realtime_runtime),
        realtime_period: base.realtime_period.or(ext.realtime_period),
        cpus: base.cpus.or_else(|| ext.cpus.clone()),
        mems: base.mems.or_else(|| ext.mems.clone()),
        idle: base.idle.or(ext.idle),
    }
}

fn has_cpu_values(cpu: &Cpu) -> bool {
    cpu.shares.is_some()
        || cpu.quota.is_some()
        || cpu.burst.is_some()
        || cpu.period.is_some()
        || cpu.realtime_runtime.is_some()
        || cpu.realtime_period.is_some()
        || cpu.idle.is_some()
}
