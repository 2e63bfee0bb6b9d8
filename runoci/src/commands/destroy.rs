//! `runoci destroy` / `delete`: remove a stopped container's record, after
//! its poststop hooks (once: not again if the monitor ran them) and its
//! mounts and cgroups. A running container is refused unless `--force`;
//! an unknown id is an error unless `--force`.

use crate::error::{Error, Result};
use crate::state::{self, StateDir};
use std::path::Path;
use std::time::{Duration, Instant};

pub fn destroy(root: &Path, id: &str, force: bool) -> Result<()> {
    // runc: `delete --force` of a container that is already gone succeeds.
    // containerd's shim cleans up with it after every task; the error only
    // filled its log with warnings.
    if force && crate::ids::validate(id).is_ok() && !StateDir::exists(root, id) {
        return Ok(());
    }
    let sd = StateDir::open(root, id)?;
    let record = sd.read_record().unwrap_or_default();
    if state::same_process(record.pid, record.pid_start_time) {
        // A created container (runc) has not run anything yet: deleting it
        // needs no --force, as with runc.
        let created = sd.file(state::EXEC_FIFO).exists();
        if !force && !created {
            return Err(Error::new(format!(
                "container {id} is running (pid {}); stop it first (runoci kill {id}) or use --force",
                record.pid
            )));
        }
        kill_and_wait(id, record.pid, record.pid_start_time)?;
    }
    // A live monitor is finishing the cleanup itself: let it, then check.
    if record.monitor_pid != 0 {
        wait_gone(
            record.monitor_pid,
            record.monitor_start_time,
            Duration::from_secs(30),
        );
        // A foreground `runoci run` removes its record when it is done.
        if !sd.dir.exists() {
            return Ok(());
        }
    }
    let _lock = sd.lock()?;
    crate::lifecycle::finish(&sd, &record)?;
    sd.remove()
}

/// SIGKILL the recorded process `pid` (if it is still the one that
/// started at `start`) and wait until it is gone.
pub(crate) fn kill_and_wait(id: &str, pid: i32, start: u64) -> Result<()> {
    if let Some(fd) = crate::pidfd::open_verified(pid, start) {
        let _ = crate::pidfd::send_signal(&fd, libc::SIGKILL);
    }
    if !wait_gone(pid, start, Duration::from_secs(10)) {
        return Err(Error::new(format!(
            "container {id}: pid {pid} did not die after SIGKILL"
        )));
    }
    Ok(())
}

/// Wait until `pid` (with that start time) is gone or a zombie.
fn wait_gone(pid: i32, start: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while state::same_process(pid, start) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}
