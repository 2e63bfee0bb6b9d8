//! runc's `ps`: the processes of a container. containerd's shim calls
//! `ps --format json ID` (for `ctr task ps`, and to find an exec's pid);
//! people call `ps ID [ps options]`.
//!
//! The processes are those of the container's cgroup (every hierarchy), or
//! the init alone when the container has none. `--format json` prints them
//! as a JSON array of host pids; `table` runs the host's `ps` (with `-ef`,
//! or the options given) and keeps its header and the rows of those pids.

use crate::cli::PsArgs;
use crate::error::{Context, Error, Result};
use runoci_core::state::StateDir;
use std::path::Path;

/// Host pids of the container's processes, sorted.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let sd = StateDir::open(root, id)?;
    let st = super::state::from_files(&sd)?;
    if st.status == runoci_proto::Status::Stopped {
        return Ok(Vec::new());
    }
    let record = sd
        .read_record()
        .map_err(|e| e.context(format!("container {id}")))?;
    if let Some(cg) = &record.cgroup {
        let pids = runoci_core::cgroups::Cgroup::from_record(cg)
            .pids()
            .with_ctx(|| format!("container {id}: read its cgroup's processes"))?;
        if !pids.is_empty() {
            return Ok(pids);
        }
    }
    Ok(
        if runoci_core::procfs::same_process(record.pid, record.pid_start_time) {
            vec![record.pid]
        } else {
            Vec::new()
        },
    )
}

pub fn ps(root: &Path, a: &PsArgs) -> Result<i32> {
    let pids = pids(root, &a.id)?;
    match a.format.as_str() {
        "json" => {
            let out = serde_json::to_string(&pids).map_err(|e| Error::new(e.to_string()))?;
            println!("{out}");
            Ok(0)
        }
        "table" => table(&pids, &a.ps_args),
        other => Err(Error::new(format!(
            "ps --format {other:?}: expected table or json"
        ))),
    }
}

fn table(pids: &[i32], ps_args: &[String]) -> Result<i32> {
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .ctx("run ps")?;
    if !out.status.success() {
        return Err(Error::new(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let Some(col) = header.split_whitespace().position(|h| h == "PID") else {
        return Err(Error::new(format!(
            "ps {}: no PID column in its output",
            args.join(" ")
        )));
    };
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(0)
}
