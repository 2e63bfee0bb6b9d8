//! The names of the per-process kernel attributes the config sets
//! (`process.ioPriority`, `process.scheduler`, `linux.personality`,
//! `linux.memoryPolicy`), with the kernel's numbers, and the list format
//! of `process.execCPUAffinity` and `linux.memoryPolicy.nodes`.
//! Validation refuses any name not in these tables, creation applies the
//! number it finds there, and `features` can list them: one table each.

use super::error::SpecError;
use super::types::{ExecCpuAffinity, IoPriority, MemoryPolicy, Personality, Scheduler};

/// `process.ioPriority.class` (`<linux/ioprio.h>` `IOPRIO_CLASS_*`).
pub const IOPRIO_CLASSES: [(&str, u16); 3] = [
    ("IOPRIO_CLASS_RT", 1),
    ("IOPRIO_CLASS_BE", 2),
    ("IOPRIO_CLASS_IDLE", 3),
];

/// The priorities within an I/O class: 0 (highest) to 7.
pub const IOPRIO_LEVELS: std::ops::RangeInclusive<i32> = 0..=7;

/// `process.scheduler.policy` (`<linux/sched.h>` `SCHED_*`) that Linux
/// implements. The spec also lists `SCHED_ISO` (4), reserved but never
/// merged: `sched_setattr` refuses it, so validation does.
pub const SCHED_POLICIES: [(&str, u32); 6] = [
    ("SCHED_OTHER", 0),
    ("SCHED_FIFO", 1),
    ("SCHED_RR", 2),
    ("SCHED_BATCH", 3),
    ("SCHED_IDLE", 5),
    ("SCHED_DEADLINE", 6),
];

/// `process.scheduler.flags` (`<linux/sched.h>` `SCHED_FLAG_*`).
pub const SCHED_FLAGS: [(&str, u64); 7] = [
    ("SCHED_FLAG_RESET_ON_FORK", 0x01),
    ("SCHED_FLAG_RECLAIM", 0x02),
    ("SCHED_FLAG_DL_OVERRUN", 0x04),
    ("SCHED_FLAG_KEEP_POLICY", 0x08),
    ("SCHED_FLAG_KEEP_PARAMS", 0x10),
    ("SCHED_FLAG_UTIL_CLAMP_MIN", 0x20),
    ("SCHED_FLAG_UTIL_CLAMP_MAX", 0x40),
];

/// The static priority of the real-time policies (`SCHED_FIFO`,
/// `SCHED_RR`); every other policy takes 0.
pub const SCHED_RT_PRIORITIES: std::ops::RangeInclusive<i32> = 1..=99;

/// The nice values of the fair policies.
pub const SCHED_NICE: std::ops::RangeInclusive<i32> = -20..=19;

/// The smallest `SCHED_DEADLINE` runtime the kernel accepts, in ns
/// (`1 << DL_SCALE`).
pub const SCHED_DEADLINE_MIN_RUNTIME: u64 = 1 << 10;

/// `linux.personality.domain` (`<linux/personality.h>` `PER_*`).
pub const PERSONALITY_DOMAINS: [(&str, u32); 2] = [("LINUX", 0x0000), ("LINUX32", 0x0008)];

/// `linux.personality.flags`: the spec supports none yet.
pub const PERSONALITY_FLAGS: [(&str, u32); 0] = [];

/// `linux.memoryPolicy.mode` (`<linux/mempolicy.h>` `MPOL_*`).
pub const MEMPOLICY_MODES: [(&str, i32); 7] = [
    ("MPOL_DEFAULT", 0),
    ("MPOL_PREFERRED", 1),
    ("MPOL_BIND", 2),
    ("MPOL_INTERLEAVE", 3),
    ("MPOL_LOCAL", 4),
    ("MPOL_PREFERRED_MANY", 5),
    ("MPOL_WEIGHTED_INTERLEAVE", 6),
];

/// `linux.memoryPolicy.flags` (`<linux/mempolicy.h>` `MPOL_F_*`), or'ed
/// into the mode.
pub const MEMPOLICY_FLAGS: [(&str, i32); 3] = [
    ("MPOL_F_NUMA_BALANCING", 1 << 13),
    ("MPOL_F_RELATIVE_NODES", 1 << 14),
    ("MPOL_F_STATIC_NODES", 1 << 15),
];

/// The highest CPU or memory node id a list may name: a sanity bound (as
/// runc's), far above any machine's, that keeps a mask small.
pub const MAX_LIST_ID: u32 = 64 * 1024 - 1;

/// The number a `table` gives `name`, spelled exactly as the spec does.
pub fn lookup<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The names of a `table`, for messages and `features`.
pub fn names<T>(table: &[(&'static str, T)]) -> Vec<&'static str> {
    table.iter().map(|(n, _)| *n).collect()
}

/// A CPU or memory node list as the kernel prints one (`0-3,7`): ids and
/// inclusive ranges, comma-separated, into a bit mask of 64-bit words
/// (bit `n` of word `n / 64` for id `n`). Spaces around an element are
/// allowed; an empty list is an empty mask. Errors say what is wrong.
pub fn parse_id_list(text: &str) -> Result<Vec<u64>, String> {
    let mut mask = Vec::new();
    for element in text.split(',').map(str::trim) {
        if element.is_empty() {
            if text.trim().is_empty() {
                continue;
            }
            return Err(format!("empty element in {text:?}"));
        }
        let id = |s: &str| -> Result<u32, String> {
            let n: u32 = s
                .parse()
                .map_err(|_| format!("{s:?} in {text:?} is not a number"))?;
            if n > MAX_LIST_ID {
                return Err(format!("{n} in {text:?} is above {MAX_LIST_ID}"));
            }
            Ok(n)
        };
        let (first, last) = match element.split_once('-') {
            Some((a, b)) => (id(a)?, id(b)?),
            None => (id(element)?, id(element)?),
        };
        if first > last {
            return Err(format!("range {element:?} in {text:?} runs backwards"));
        }
        let words = last as usize / 64 + 1;
        if mask.len() < words {
            mask.resize(words, 0);
        }
        for n in first..=last {
            mask[n as usize / 64] |= 1 << (n % 64);
        }
    }
    Ok(mask)
}

// Validation of the attributes, by the tables above.

type Checked = Result<(), SpecError>;

pub(crate) fn check_io_priority(io_priority: &IoPriority) -> Checked {
    if lookup(&IOPRIO_CLASSES, &io_priority.class).is_none() {
        return Err(SpecError::invalid(
            "process.ioPriority.class",
            format!(
                "unknown class {:?} (want one of {})",
                io_priority.class,
                names(&IOPRIO_CLASSES).join(", ")
            ),
        ));
    }
    if !IOPRIO_LEVELS.contains(&io_priority.priority) {
        return Err(SpecError::invalid(
            "process.ioPriority.priority",
            format!("{} outside 0..=7", io_priority.priority),
        ));
    }
    Ok(())
}

/// `process.scheduler`, checked as `sched_setattr(2)` would check it (and
/// runc 1.2): a known policy and flags, nice for the fair policies, a
/// static priority only for the real-time ones, deadline parameters only
/// for `SCHED_DEADLINE` and there `runtime <= deadline <= period`.
pub(crate) fn check_scheduler(scheduler: &Scheduler) -> Checked {
    const PATH: &str = "process.scheduler";
    let policy = scheduler.policy.as_str();
    if lookup(&SCHED_POLICIES, policy).is_none() {
        let why = if policy == "SCHED_ISO" {
            "SCHED_ISO is not implemented by Linux".to_string()
        } else {
            format!(
                "unknown policy {policy:?} (want one of {})",
                names(&SCHED_POLICIES).join(", ")
            )
        };
        return Err(SpecError::invalid(format!("{PATH}.policy"), why));
    }
    for (index, flag) in scheduler.flags.iter().enumerate() {
        if lookup(&SCHED_FLAGS, flag).is_none() {
            return Err(SpecError::invalid(
                format!("{PATH}.flags[{index}]"),
                format!("unknown flag {flag:?}"),
            ));
        }
    }
    if !SCHED_NICE.contains(&scheduler.nice) {
        return Err(SpecError::invalid(
            format!("{PATH}.nice"),
            format!("{} outside -20..=19", scheduler.nice),
        ));
    }
    let real_time = matches!(policy, "SCHED_FIFO" | "SCHED_RR");
    if real_time && !SCHED_RT_PRIORITIES.contains(&scheduler.priority) {
        return Err(SpecError::invalid(
            format!("{PATH}.priority"),
            format!("{} outside 1..=99 for {policy}", scheduler.priority),
        ));
    }
    if !real_time && scheduler.priority != 0 {
        return Err(SpecError::invalid(
            format!("{PATH}.priority"),
            format!(
                "{} set, but only SCHED_FIFO and SCHED_RR take a priority",
                scheduler.priority
            ),
        ));
    }
    let (runtime, deadline, period) = (scheduler.runtime, scheduler.deadline, scheduler.period);
    if policy != "SCHED_DEADLINE" {
        if runtime != 0 || deadline != 0 || period != 0 {
            return Err(SpecError::invalid(
                PATH,
                format!("runtime, deadline and period are for SCHED_DEADLINE, not {policy}"),
            ));
        }
        return Ok(());
    }
    // The kernel's __checkparam_dl; a period of 0 means the deadline.
    let period = if period == 0 { deadline } else { period };
    if runtime < SCHED_DEADLINE_MIN_RUNTIME {
        return Err(SpecError::invalid(
            format!("{PATH}.runtime"),
            format!(
                "{runtime} ns is below the {} ns SCHED_DEADLINE needs",
                SCHED_DEADLINE_MIN_RUNTIME
            ),
        ));
    }
    if deadline >= 1 << 63 || period >= 1 << 63 {
        return Err(SpecError::invalid(
            PATH,
            "deadline and period must be below 2^63 ns",
        ));
    }
    if !(runtime <= deadline && deadline <= period) {
        return Err(SpecError::invalid(
            PATH,
            format!(
                "SCHED_DEADLINE needs runtime <= deadline <= period, got {runtime}, {deadline}, {}",
                scheduler.period
            ),
        ));
    }
    Ok(())
}

/// `process.execCPUAffinity`: CPU lists the kernel can take.
pub(crate) fn check_exec_cpu_affinity(affinity: &ExecCpuAffinity) -> Checked {
    for (field, list) in [("initial", &affinity.initial), ("final", &affinity.final_)] {
        if let Some(list) = list.as_deref() {
            parse_id_list(list).map_err(|why| {
                SpecError::invalid(format!("process.execCPUAffinity.{field}"), why)
            })?;
        }
    }
    Ok(())
}

/// `linux.personality`: a known domain; the spec defines no flags yet, so
/// any flag is one runoci cannot apply (runc warns and drops them).
pub(crate) fn check_personality(personality: &Personality) -> Checked {
    if lookup(&PERSONALITY_DOMAINS, &personality.domain).is_none() {
        return Err(SpecError::invalid(
            "linux.personality.domain",
            format!(
                "unknown domain {:?} (want one of {})",
                personality.domain,
                names(&PERSONALITY_DOMAINS).join(", ")
            ),
        ));
    }
    for (index, flag) in personality.flags.iter().enumerate() {
        if lookup(&PERSONALITY_FLAGS, flag).is_none() {
            return Err(SpecError::invalid(
                format!("linux.personality.flags[{index}]"),
                format!("unsupported flag {flag:?} (the spec defines none)"),
            ));
        }
    }
    Ok(())
}

/// `linux.memoryPolicy`, checked as `set_mempolicy(2)` would: a known mode
/// and flags, nodes where the mode needs them and none where it forbids
/// them, `MPOL_F_STATIC_NODES` and `MPOL_F_RELATIVE_NODES` not together
/// and only with nodes, `MPOL_F_NUMA_BALANCING` only with `MPOL_BIND` or
/// `MPOL_PREFERRED_MANY`.
pub(crate) fn check_memory_policy(policy: &MemoryPolicy) -> Checked {
    const PATH: &str = "linux.memoryPolicy";
    let mode = policy.mode.as_str();
    if lookup(&MEMPOLICY_MODES, mode).is_none() {
        return Err(SpecError::invalid(
            format!("{PATH}.mode"),
            format!(
                "unknown mode {mode:?} (want one of {})",
                names(&MEMPOLICY_MODES).join(", ")
            ),
        ));
    }
    for (index, flag) in policy.flags.iter().enumerate() {
        if lookup(&MEMPOLICY_FLAGS, flag).is_none() {
            return Err(SpecError::invalid(
                format!("{PATH}.flags[{index}]"),
                format!("unknown flag {flag:?}"),
            ));
        }
    }
    let nodes = parse_id_list(policy.nodes.as_deref().unwrap_or(""))
        .map_err(|why| SpecError::invalid(format!("{PATH}.nodes"), why))?;
    let has_nodes = nodes.iter().any(|w| *w != 0);
    let has = |flag: &str| policy.flags.iter().any(|f| f == flag);
    match mode {
        "MPOL_DEFAULT" | "MPOL_LOCAL" if has_nodes => {
            return Err(SpecError::invalid(
                format!("{PATH}.nodes"),
                format!("{mode} takes no nodes"),
            ))
        }
        "MPOL_BIND" | "MPOL_INTERLEAVE" | "MPOL_WEIGHTED_INTERLEAVE" | "MPOL_PREFERRED_MANY"
            if !has_nodes =>
        {
            return Err(SpecError::invalid(
                format!("{PATH}.nodes"),
                format!("{mode} needs at least one node"),
            ))
        }
        _ => {}
    }
    let (static_nodes, relative_nodes) = (has("MPOL_F_STATIC_NODES"), has("MPOL_F_RELATIVE_NODES"));
    if static_nodes && relative_nodes {
        return Err(SpecError::invalid(
            format!("{PATH}.flags"),
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
        ));
    }
    if (static_nodes || relative_nodes) && !has_nodes {
        return Err(SpecError::invalid(
            format!("{PATH}.flags"),
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES need nodes",
        ));
    }
    if has("MPOL_F_NUMA_BALANCING") && !matches!(mode, "MPOL_BIND" | "MPOL_PREFERRED_MANY") {
        return Err(SpecError::invalid(
            format!("{PATH}.flags"),
            format!(
                "MPOL_F_NUMA_BALANCING applies to MPOL_BIND or MPOL_PREFERRED_MANY, not {mode}"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_as_the_kernel_prints_them() {
        assert_eq!(parse_id_list("0-3,7"), Ok(vec![0b1000_1111]));
        assert_eq!(parse_id_list(" 1 , 64"), Ok(vec![0b10, 1]));
        assert_eq!(parse_id_list(""), Ok(vec![]));
        assert_eq!(parse_id_list("5-5"), Ok(vec![1 << 5]));
    }

    #[test]
    fn bad_lists_say_why() {
        for (bad, why) in [
            ("3-1", "runs backwards"),
            ("a", "not a number"),
            ("1,,2", "empty element"),
            ("-1", "not a number"),
            ("70000", "above"),
            ("0-", "not a number"),
        ] {
            let e = parse_id_list(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn tables_look_up_by_the_spec_spelling() {
        assert_eq!(lookup(&SCHED_POLICIES, "SCHED_FIFO"), Some(1));
        assert_eq!(lookup(&SCHED_POLICIES, "SCHED_ISO"), None);
        assert_eq!(
            lookup(&MEMPOLICY_FLAGS, "MPOL_F_STATIC_NODES"),
            Some(1 << 15)
        );
        assert_eq!(lookup(&PERSONALITY_DOMAINS, "linux32"), None);
        assert_eq!(names(&IOPRIO_CLASSES).len(), 3);
    }
}
