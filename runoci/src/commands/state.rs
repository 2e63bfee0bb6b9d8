//! `runoci state` and `runoci list`.

use crate::error::{Error, Result};
use runoci_core::state::{self, StateDir};
use runoci_proto::{State, Status};
use std::path::Path;

/// The state, from the monitor when it lives, else from the files (a
/// recorded pid that is gone means stopped).
pub fn current(root: &Path, id: &str) -> Result<State> {
    let sd = StateDir::open(root, id)?;
    if let Some(Ok(st)) = super::monitor_client::try_state(&sd) {
        return Ok(st);
    }
    from_files(&sd)
}

pub fn from_files(sd: &StateDir) -> Result<State> {
    from_files_with_record(sd).map(|(st, _)| st)
}

/// [`from_files`], with the record it judged the init's liveness by.
pub fn from_files_with_record(sd: &StateDir) -> Result<(State, state::RuntimeRecord)> {
    if !sd.file(state::STATE_JSON).exists() {
        return Err(Error::new(format!(
            "container {}: no state recorded in {}: it is being created, or its creation was \
             interrupted (runoci delete --force {} removes what it left)",
            sd.id,
            sd.dir.display(),
            sd.id
        )));
    }
    let mut st = sd
        .read_state()
        .map_err(|e| e.context(format!("container {}", sd.id)))?;
    let record = sd.read_record().unwrap_or_default();
    let alive = runoci_core::procfs::same_process(record.pid, record.pid_start_time);
    match st.status {
        Status::Running | Status::Created | Status::Paused if !alive => st.status = Status::Stopped,
        _ => {}
    }
    if st.status == Status::Stopped && st.exit.is_none() {
        if let Ok(code) = std::fs::read_to_string(sd.file(state::EXIT_STATUS)) {
            if let Ok(c) = code.trim().parse::<i32>() {
                st.exit = Some(runoci_proto::ExitStatus {
                    code: Some(c),
                    ..Default::default()
                });
            }
        }
    }
    Ok((st, record))
}

pub fn print_state(root: &Path, id: &str) -> Result<i32> {
    let st = current(root, id)?;
    let out = serde_json::to_string_pretty(&st).map_err(|e| Error::new(e.to_string()))?;
    println!("{out}");
    Ok(0)
}

pub fn list(root: &Path, format_json: bool, quiet: bool) -> Result<i32> {
    let mut states = Vec::new();
    if let Ok(rd) = std::fs::read_dir(root) {
        let mut ids: Vec<String> = rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        ids.sort();
        for id in ids {
            if runoci_core::ids::validate(&id).is_err() {
                continue;
            }
            if let Ok(sd) = StateDir::open(root, &id) {
                if let Ok(st) = from_files(&sd) {
                    states.push(st);
                }
            }
        }
    }
    if quiet {
        for s in &states {
            println!("{}", s.id);
        }
    } else if format_json {
        println!(
            "{}",
            serde_json::to_string(&states).map_err(|e| Error::new(e.to_string()))?
        );
    } else {
        println!(
            "{:<24} {:<8} {:<10} {:<40} {:<32} OWNER",
            "ID", "PID", "STATUS", "BUNDLE", "CREATED"
        );
        for s in &states {
            let pid = if s.status == Status::Stopped {
                0
            } else {
                s.pid
            };
            println!(
                "{:<24} {:<8} {:<10} {:<40} {:<32} {}",
                s.id,
                pid,
                s.status.as_str(),
                s.bundle,
                s.created,
                s.owner
            );
        }
    }
    Ok(0)
}
