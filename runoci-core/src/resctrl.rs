//! `linux.intelRdt`: the container's init joins a resctrl group (Intel RDT
//! / AMD PQoS cache and memory-bandwidth allocation). The group is the
//! `closID` directory under the resctrl mount, or one named after the
//! container; `l3CacheSchema`, `memBwSchema` and `schemata` lines go to its
//! `schemata` file in that order; the init's pid goes to its `tasks`. A
//! group runoci made, and the monitoring group of `enableMonitoring`, are
//! removed when the container is (`lifecycle::finish`).
//!
//! Without a mounted resctrl filesystem the field is refused at load
//! (runtime-spec: "the runtime MUST generate an error").

use crate::error::{Error, Result};
use crate::spec::IntelRdt;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const FIELD: &str = "linux.intelRdt";

/// Where resctrl is mounted in this mount namespace, if it is.
pub fn mount_point() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    crate::mountinfo::parse(&text)
        .into_iter()
        .find(|m| m.fstype == "resctrl")
        .map(|m| m.mount_point)
}

/// What a container's resctrl setup made, recorded so that whoever ends
/// the container removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResctrlRecord {
    /// The group the init joined.
    pub group: PathBuf,
    /// Whether runoci made `group` (no closID): then it removes it.
    pub remove_group: bool,
    /// `mon_groups/<id>` under `group`, for `enableMonitoring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mon_group: Option<PathBuf>,
}

/// Checks `rdt` against itself and the host: resctrl mounted, names that
/// stay one directory, schema lines without newlines. Returns the mount.
pub fn check(rdt: &IntelRdt) -> Result<PathBuf> {
    check_values(rdt)?;
    mount_point().ok_or_else(|| {
        Error::new(format!(
            "{FIELD}: no resctrl filesystem is mounted (mount -t resctrl resctrl /sys/fs/resctrl; it needs a CPU with Intel RDT or AMD PQoS and a kernel with CONFIG_X86_CPU_RESCTRL)"
        ))
    })
}

fn check_values(rdt: &IntelRdt) -> Result<()> {
    if let Some(clos) = &rdt.clos_id {
        // "/" is the default group (the root); anything else is one
        // directory name, never a path out of the resctrl mount.
        if clos != "/"
            && (clos.is_empty() || clos == "." || clos == ".." || clos.contains(['/', '\0', '\n']))
        {
            return Err(Error::new(format!(
                "{FIELD}.closID: {clos:?} is not a group name (one directory name, or \"/\" for the default group)"
            )));
        }
    }
    let one_line = |field: &str, value: &str| -> Result<()> {
        if value.contains(['\n', '\0']) {
            return Err(Error::new(format!(
                "{FIELD}.{field}: {value:?} must be one line"
            )));
        }
        Ok(())
    };
    if let Some(l3) = &rdt.l3_cache_schema {
        one_line("l3CacheSchema", l3)?;
    }
    if let Some(mb) = &rdt.mem_bw_schema {
        one_line("memBwSchema", mb)?;
        if !mb.starts_with("MB:") {
            return Err(Error::new(format!(
                "{FIELD}.memBwSchema: {mb:?} does not start with \"MB:\""
            )));
        }
    }
    for (i, line) in rdt.schemata.iter().flatten().enumerate() {
        one_line(&format!("schemata[{i}]"), line)?;
    }
    Ok(())
}

/// The schema lines to write, in the spec's order.
fn schema_lines(rdt: &IntelRdt) -> Vec<&str> {
    rdt.l3_cache_schema
        .iter()
        .chain(rdt.mem_bw_schema.iter())
        .chain(rdt.schemata.iter().flatten())
        .map(String::as_str)
        .filter(|l| !l.trim().is_empty())
        .collect()
}

fn monitoring(rdt: &IntelRdt) -> bool {
    // enableCMT and enableMBM (1.1-1.2) became enableMonitoring in 1.3.
    rdt.enable_monitoring == Some(true)
        || rdt.enable_cmt == Some(true)
        || rdt.enable_mbm == Some(true)
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(format!("{FIELD}: {what} {}: {e}", path.display()))
}

/// Puts `pid` (the container's init) in its resctrl group under `root`.
/// On error, what this call made is removed again.
pub fn apply(root: &Path, id: &str, rdt: &IntelRdt, pid: i32) -> Result<ResctrlRecord> {
    check_values(rdt)?;
    let lines = schema_lines(rdt);
    let group = match rdt.clos_id.as_deref() {
        Some("/") => root.to_path_buf(),
        Some(clos) => root.join(clos),
        None => root.join(id),
    };
    let mut record = ResctrlRecord {
        group: group.clone(),
        remove_group: false,
        mon_group: None,
    };
    let result = (|| {
        let exists = group.is_dir();
        if rdt.clos_id.is_some() && lines.is_empty() && !exists {
            return Err(Error::new(format!(
                "{FIELD}.closID: no pre-configured group {} (and no schema to make one with)",
                group.display()
            )));
        }
        if !exists {
            std::fs::create_dir(&group).map_err(|e| io_err("create group", &group, e))?;
            record.remove_group = rdt.clos_id.is_none();
            write_schemata(&group, &lines)?;
        } else if rdt.clos_id.is_some() {
            // An existing group is shared: its schemata must be what this
            // config asks, not rewritten under other containers' feet.
            compare_schemata(&group, &lines)?;
        } else {
            write_schemata(&group, &lines)?;
        }
        write_pid(&group.join("tasks"), pid)?;
        if monitoring(rdt) {
            let mon = group.join("mon_groups").join(id);
            std::fs::create_dir(&mon).map_err(|e| io_err("create monitoring group", &mon, e))?;
            record.mon_group = Some(mon.clone());
            write_pid(&mon.join("tasks"), pid)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(record),
        Err(e) => {
            let _ = remove(&record);
            Err(e)
        }
    }
}

/// `update --l3-cache-schema/--mem-bw-schema`: writes `rdt`'s lines to
/// the schemata of the group a container joined.
pub fn update_schemata(record: &ResctrlRecord, rdt: &IntelRdt) -> Result<()> {
    check_values(rdt)?;
    write_schemata(&record.group, &schema_lines(rdt))
}

fn write_schemata(group: &Path, lines: &[&str]) -> Result<()> {
    let file = group.join("schemata");
    for line in lines {
        // One line per write: the kernel rejects the whole write on a bad
        // line, and the error then names it.
        std::fs::write(&file, format!("{line}\n"))
            .map_err(|e| io_err(&format!("write {line:?} to"), &file, e))?;
    }
    Ok(())
}

fn write_pid(tasks: &Path, pid: i32) -> Result<()> {
    std::fs::write(tasks, pid.to_string()).map_err(|e| io_err("add the init to", tasks, e))
}

/// `L3:0=7f0;1=1f` as (resource, [(domain, value)]), values lowercased
/// without leading zeros, as the kernel prints them.
fn parse_line(line: &str) -> Option<(String, Vec<(String, String)>)> {
    let (resource, domains) = line.trim().split_once(':')?;
    let mut parsed: Vec<(String, String)> = domains
        .split(';')
        .filter(|d| !d.trim().is_empty())
        .map(|d| {
            let (id, value) = d.split_once('=').unwrap_or((d, ""));
            let value = value.trim().to_ascii_lowercase();
            let value = value.trim_start_matches('0');
            (
                id.trim().to_string(),
                if value.is_empty() { "0" } else { value }.to_string(),
            )
        })
        .collect();
    parsed.sort();
    Some((resource.trim().to_string(), parsed))
}

fn compare_schemata(group: &Path, lines: &[&str]) -> Result<()> {
    let file = group.join("schemata");
    let current = std::fs::read_to_string(&file).map_err(|e| io_err("read", &file, e))?;
    let current: Vec<_> = current.lines().filter_map(parse_line).collect();
    for line in lines {
        let Some((resource, wanted)) = parse_line(line) else {
            continue;
        };
        let have = current.iter().find(|(r, _)| *r == resource);
        let matches = have.is_some_and(|(_, domains)| wanted.iter().all(|w| domains.contains(w)));
        if !matches {
            return Err(Error::new(format!(
                "{FIELD}: the existing group {} has a {resource} schema other than {line:?}",
                group.display()
            )));
        }
    }
    Ok(())
}

/// Removes what `apply` made. Idempotent: a group already gone is fine.
pub fn remove(record: &ResctrlRecord) -> Result<()> {
    let rmdir = |dir: &Path| match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove", dir, e)),
    };
    if let Some(mon) = &record.mon_group {
        rmdir(mon)?;
    }
    if record.remove_group {
        rmdir(&record.group)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake resctrl mount: plain directories and files (mkdir makes no
    /// `tasks` or `schemata` here, so tests make them as the kernel would).
    fn fake_root(tag: &str) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("runoci-resctrl-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        root
    }

    fn rdt(clos: Option<&str>) -> IntelRdt {
        IntelRdt {
            clos_id: clos.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn existing_clos_group_is_joined_and_kept() {
        let root = fake_root("join");
        std::fs::create_dir(root.join("gold")).unwrap();
        std::fs::write(root.join("gold/schemata"), "L3:0=7f0;1=1f\nMB:0=20;1=70\n").unwrap();
        let mut want = rdt(Some("gold"));
        want.l3_cache_schema = Some("L3:0=07F0;1=1f".into());
        let record = apply(&root, "c1", &want, 4242).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("gold/tasks")).unwrap(),
            "4242"
        );
        assert!(!record.remove_group);
        remove(&record).unwrap();
        assert!(
            root.join("gold").is_dir(),
            "a closID group is never removed"
        );

        want.l3_cache_schema = Some("L3:0=ff;1=1f".into());
        let err = apply(&root, "c1", &want, 4242).unwrap_err().to_string();
        assert!(err.contains("L3 schema"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_clos_group_without_schema_is_an_error() {
        let root = fake_root("missing");
        let err = apply(&root, "c1", &rdt(Some("nope")), 1)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("linux.intelRdt.closID"), "{err}");
        assert!(!root.join("nope").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn group_named_after_the_container_gets_schemata_in_order_and_goes() {
        let root = fake_root("own");
        let mut want = rdt(None);
        want.l3_cache_schema = Some("L3:0=f".into());
        want.mem_bw_schema = Some("MB:0=50".into());
        want.schemata = Some(vec!["L2:0=3".into()]);
        want.enable_monitoring = Some(true);
        // The kernel makes mon_groups on mkdir; a fake group has none, so
        // the monitoring mkdir fails. (The group's rmdir then fails too:
        // unlike resctrl's, the fake's tasks and schemata are real files.)
        let err = apply(&root, "c1", &want, 77).unwrap_err().to_string();
        assert!(err.contains("monitoring group"), "{err}");
        std::fs::remove_dir_all(root.join("c1")).unwrap();

        want.enable_monitoring = None;
        let record = apply(&root, "c1", &want, 77).unwrap();
        assert!(record.remove_group);
        assert_eq!(
            std::fs::read_to_string(root.join("c1/tasks")).unwrap(),
            "77"
        );
        // Each line is its own write; the last one written is schemata's.
        assert_eq!(
            std::fs::read_to_string(root.join("c1/schemata")).unwrap(),
            "L2:0=3\n"
        );
        std::fs::remove_file(root.join("c1/tasks")).unwrap();
        std::fs::remove_file(root.join("c1/schemata")).unwrap();
        remove(&record).unwrap();
        assert!(!root.join("c1").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn bad_values_name_their_field() {
        for (value, field) in [
            (rdt(Some("../etc")), "linux.intelRdt.closID"),
            (rdt(Some("")), "linux.intelRdt.closID"),
            (
                IntelRdt {
                    mem_bw_schema: Some("L3:0=1".into()),
                    ..Default::default()
                },
                "linux.intelRdt.memBwSchema",
            ),
            (
                IntelRdt {
                    schemata: Some(vec!["L3:0=1\nMB:0=1".into()]),
                    ..Default::default()
                },
                "linux.intelRdt.schemata[0]",
            ),
        ] {
            let err = check_values(&value).unwrap_err().to_string();
            assert!(err.starts_with(field), "{err}");
        }
    }
}
