//! Commands on a running container's cgroups: `pause`, `resume`, `update`,
//! `events --stats`.

use crate::cli::UpdateArgs;
use crate::error::{Context, Error, Result};
use crate::spec::{BlockIo, Cpu, Memory, Pids, Resources};
use runoci_core::cgroups::Cgroup;
use runoci_core::state::StateDir;
use runoci_proto::Status;
use std::path::Path;

fn cgroup_of(root: &Path, id: &str) -> Result<(StateDir, Cgroup)> {
    let sd = StateDir::open(root, id)?;
    let record = sd.read_record()?;
    let cg = record
        .cgroup
        .as_ref()
        .map(Cgroup::from_record)
        .ok_or_else(|| Error::new(format!("container {id} has no cgroup")))?;
    Ok((sd, cg))
}

fn set_status(sd: &StateDir, status: Status) -> Result<()> {
    let mut st = sd.read_state()?;
    st.status = status;
    sd.write_state(&st)
}

pub fn pause(root: &Path, id: &str) -> Result<i32> {
    let (sd, cg) = cgroup_of(root, id)?;
    let _lock = sd.lock()?;
    let st = super::state::from_files(&sd)?;
    if st.status != Status::Running {
        return Err(Error::new(format!(
            "container {id} is {}: only a running container can be paused",
            st.status.as_str()
        )));
    }
    cg.freeze()
        .with_ctx(|| format!("container {id}: freeze (needs the freezer controller)"))?;
    set_status(&sd, Status::Paused)?;
    Ok(0)
}

pub fn resume(root: &Path, id: &str) -> Result<i32> {
    let (sd, cg) = cgroup_of(root, id)?;
    let _lock = sd.lock()?;
    let st = super::state::from_files(&sd)?;
    if st.status != Status::Paused {
        return Err(Error::new(format!(
            "container {id} is {}: only a paused container can be resumed",
            st.status.as_str()
        )));
    }
    cg.thaw().with_ctx(|| format!("container {id}: thaw"))?;
    set_status(&sd, Status::Running)?;
    Ok(0)
}

pub fn update(root: &Path, a: &UpdateArgs) -> Result<i32> {
    let (sd, cg) = cgroup_of(root, &a.id)?;
    let mut res: Resources = match &a.resources {
        Some(p) => {
            let data = if p.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .ctx("read resources from stdin")?;
                s
            } else {
                std::fs::read_to_string(p).with_ctx(|| format!("read {}", p.display()))?
            };
            serde_json::from_str(&data)
                .map_err(|e| Error::new(format!("-r {}: {e}", p.display())))?
        }
        None => Resources::default(),
    };
    if let Some(l) = a.pids_limit {
        res.pids = Some(Pids { limit: Some(l) });
    }
    if a.memory.is_some() || a.memory_swap.is_some() || a.memory_reservation.is_some() {
        let m = res.memory.get_or_insert_with(Memory::default);
        m.limit = a.memory.or(m.limit);
        m.swap = a.memory_swap.or(m.swap);
        m.reservation = a.memory_reservation.or(m.reservation);
    }
    if a.cpu_shares.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_period.is_some()
        || a.cpu_rt_period.is_some()
        || a.cpu_rt_runtime.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
    {
        let c = res.cpu.get_or_insert_with(Cpu::default);
        c.shares = a.cpu_shares.or(c.shares);
        c.quota = a.cpu_quota.or(c.quota);
        c.period = a.cpu_period.or(c.period);
        c.realtime_period = a.cpu_rt_period.or(c.realtime_period);
        c.realtime_runtime = a.cpu_rt_runtime.or(c.realtime_runtime);
        c.cpus = a.cpuset_cpus.clone().or(c.cpus.clone());
        c.mems = a.cpuset_mems.clone().or(c.mems.clone());
    }
    if let Some(weight) = a.blkio_weight {
        res.block_io.get_or_insert_with(BlockIo::default).weight = Some(weight);
    }
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        update_resctrl(&sd, a)?;
    }
    cg.apply(&res, None)
        .with_ctx(|| format!("container {}: update", a.id))?;
    // After cgroupfs, which validated them: systemd keeps the same values
    // as the scope's properties (a daemon-reload re-applies those).
    if let Some(unit) = sd.read_record()?.systemd_unit {
        let props = crate::systemd::resource_props_here(&res)?;
        crate::systemd::set_properties(&unit, &props)
            .with_ctx(|| format!("container {}: update", a.id))?;
    }
    Ok(0)
}

/// `--l3-cache-schema`, `--mem-bw-schema`: new lines for the schemata of
/// the resctrl group the container joined at creation.
fn update_resctrl(sd: &StateDir, a: &UpdateArgs) -> Result<()> {
    let record = sd.read_record()?;
    let group = record.resctrl.ok_or_else(|| {
        Error::new(format!(
            "container {}: --l3-cache-schema/--mem-bw-schema: it has no resctrl group (no linux.intelRdt)",
            a.id
        ))
    })?;
    let rdt = crate::spec::IntelRdt {
        l3_cache_schema: a.l3_cache_schema.clone(),
        mem_bw_schema: a.mem_bw_schema.clone(),
        ..Default::default()
    };
    runoci_core::resctrl::update_schemata(&group, &rdt)
        .with_ctx(|| format!("container {}: update", a.id))
}

/// runc's `events --stats`: one stats record as JSON.
pub fn stats(root: &Path, id: &str) -> Result<i32> {
    let (_sd, cg) = cgroup_of(root, id)?;
    let out = serde_json::json!({"type": "stats", "id": id, "data": cg.stats()});
    println!("{out}");
    Ok(0)
}
