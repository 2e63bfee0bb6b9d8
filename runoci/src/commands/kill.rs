//! `runoci kill`: signal a container's init (or all its processes).
//! Through the monitor's socket while it lives (it holds a pidfd: no pid
//! reuse race); otherwise through a pidfd of the recorded pid, after
//! proving the pid is still the container's (its start time).

use crate::error::{Error, Result};
use runoci_core::state::StateDir;
use runoci_proto::Signal;
use std::path::Path;

/// A signal from the command line, through the table the monitor socket
/// uses: names with or without `SIG`, `RTMIN+N`/`RTMAX-N`, numbers 1..=64.
pub fn parse_signal(s: &str) -> Result<Signal> {
    s.parse().map_err(|_| {
        Error::new(format!(
            "invalid signal {s:?}: use a name (TERM, SIGKILL, RTMIN+3) or a number (1..=64)"
        ))
    })
}

pub fn kill(root: &Path, id: &str, signal: Signal, all: bool) -> Result<()> {
    let sd = StateDir::open(root, id)?;
    if let Some(r) = super::monitor_client::try_kill(&sd, signal, all) {
        return r;
    }
    let record = sd
        .read_record()
        .map_err(|e| e.context(format!("container {id}")))?;
    if !sd.is_run_oci_managed() {
        return Err(Error::new(format!(
            "container {id} is not run_oci-managed (no .run_oci tag)"
        )));
    }
    let signal = signal.number();
    if all {
        return runoci_core::lifecycle::kill_all(&record, signal)
            .map_err(|e| e.context(format!("container {id}")));
    }
    let Some(pidfd) = runoci_core::pidfd::open_verified(record.pid, record.pid_start_time) else {
        return Err(Error::new(format!("container {id} is not running")));
    };
    runoci_core::lifecycle::signal_init(&record, &pidfd, signal)
        .map_err(|e| Error::new(format!("container {id}: send signal {signal}: {e}")))
}
