//! Usage figures of a container's cgroup in the shape of runc's
//! `events --stats` `data` object (cpu, memory, pids; blkio left empty).
//! Files that are missing (controller not mounted) leave their part out.

use super::cgroup::{Cgroup, CgroupVersion};
use super::fs::read_file;
use serde_json::{json, Map, Value};
use std::path::Path;

impl Cgroup {
    pub fn stats(&self) -> Value {
        let mut data = Map::new();
        if let Some(cpu) = self.cpu_stats() {
            data.insert("cpu".into(), cpu);
        }
        if let Some(memory) = self.memory_stats() {
            data.insert("memory".into(), memory);
        }
        if let Some((_, dir)) = self.controller_dir("pids") {
            let mut pids = Map::new();
            if let Some(current) = number(&dir.join("pids.current")) {
                pids.insert("current".into(), current.into());
            }
            // "max" (no limit) is reported as 0, as runc does.
            pids.insert(
                "limit".into(),
                number(&dir.join("pids.max")).unwrap_or(0).into(),
            );
            data.insert("pids".into(), Value::Object(pids));
        }
        data.insert("blkio".into(), json!({}));
        Value::Object(data)
    }

    fn cpu_stats(&self) -> Option<Value> {
        match self.controller_dir("cpuacct") {
            Some((CgroupVersion::V1, dir)) => {
                let total = number(&dir.join("cpuacct.usage"))?;
                let percpu: Vec<u64> = read_file(&dir.join("cpuacct.usage_percpu"))
                    .map(|t| {
                        t.split_whitespace()
                            .filter_map(|n| n.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default();
                Some(json!({ "usage": { "total": total, "percpu": percpu } }))
            }
            _ => {
                let dir = self.unified_dir()?;
                let stat = keyed(&dir.join("cpu.stat"))?;
                let usec = |key: &str| stat.get(key).and_then(Value::as_u64).unwrap_or(0) * 1000;
                Some(json!({ "usage": {
                    "total": usec("usage_usec"),
                    "user": usec("user_usec"),
                    "kernel": usec("system_usec"),
                } }))
            }
        }
    }

    fn memory_stats(&self) -> Option<Value> {
        let (version, dir) = self.controller_dir("memory")?;
        let (usage, limit, max, raw) = match version {
            CgroupVersion::V1 => (
                number(&dir.join("memory.usage_in_bytes")),
                number(&dir.join("memory.limit_in_bytes")),
                number(&dir.join("memory.max_usage_in_bytes")),
                keyed(&dir.join("memory.stat")),
            ),
            CgroupVersion::V2 => (
                number(&dir.join("memory.current")),
                number(&dir.join("memory.max")),
                number(&dir.join("memory.peak")),
                keyed(&dir.join("memory.stat")),
            ),
        };
        Some(json!({
            "usage": { "usage": usage.unwrap_or(0), "limit": limit.unwrap_or(u64::MAX), "max": max.unwrap_or(0) },
            "raw": raw.unwrap_or_default(),
        }))
    }
}

/// A file holding one number; `None` if missing, unreadable or `max`.
fn number(path: &Path) -> Option<u64> {
    read_file(path).ok()?.trim().parse().ok()
}

/// A `key value` per line file (`memory.stat`, `cpu.stat`) as an object.
fn keyed(path: &Path) -> Option<Map<String, Value>> {
    let text = read_file(path).ok()?;
    Some(
        text.lines()
            .filter_map(|line| {
                let (key, value) = line.split_once(' ')?;
                Some((
                    key.to_string(),
                    Value::from(value.trim().parse::<u64>().ok()?),
                ))
            })
            .collect(),
    )
}
