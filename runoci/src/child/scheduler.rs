//! `process.scheduler`: policy, nice, priority, flags and the deadline
//! parameters, with sched_setattr(2).

use crate::error::{Error, Result};
use crate::spec::{attrs, Process};
use crate::sys::sched::SchedAttr;

pub fn apply(process: &Process) -> Result<()> {
    let Some(s) = &process.scheduler else {
        return Ok(());
    };
    // Names were validated at load.
    let policy = attrs::lookup(&attrs::SCHED_POLICIES, &s.policy)
        .ok_or_else(|| Error::new(format!("process.scheduler.policy: unknown {:?}", s.policy)))?;
    let mut flags = 0;
    for flag in &s.flags {
        flags |= attrs::lookup(&attrs::SCHED_FLAGS, flag)
            .ok_or_else(|| Error::new(format!("process.scheduler.flags: unknown {flag:?}")))?;
    }
    let attr = SchedAttr {
        policy,
        flags,
        nice: s.nice,
        priority: s.priority as u32,
        runtime: s.runtime,
        deadline: s.deadline,
        period: s.period,
        ..Default::default()
    };
    crate::sys::sched::set_own_attr(&attr).map_err(|e| {
        let real_time = matches!(s.policy.as_str(), "SCHED_FIFO" | "SCHED_RR");
        let hint = match e.raw_os_error() {
            Some(libc::EPERM) if real_time => {
                " (needs CAP_SYS_NICE and, with real-time group scheduling, real-time runtime in the container's cpu cgroup: linux.resources.cpu.realtimeRuntime)"
            }
            Some(libc::EPERM) => {
                " (lowering nice needs CAP_SYS_NICE; SCHED_DEADLINE also all CPUs of its root domain)"
            }
            Some(libc::EBUSY) => " (SCHED_DEADLINE: not enough bandwidth left)",
            Some(libc::EOPNOTSUPP) => " (the kernel lacks utilization clamping)",
            _ => "",
        };
        Error::new(format!("process.scheduler: sched_setattr {}: {e}{hint}", s.policy))
    })
}
