//! The names of the per-process kernel attributes the config sets
//! (`process.ioPriority`, `process.scheduler`, `linux.personality`,
//! `linux.memoryPolicy`), with the kernel's numbers, and the list format
//! of `process.execCPUAffinity` and `linux.memoryPolicy.nodes`.
//! Validation refuses any name not in these tables, creation applies the
//! number it finds there, and `features` can list them: one table each.

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
