//! Talking to a container's monitor, when it lives. A refused or missing
//! socket means no monitor: callers fall back to the files.

use crate::error::{Error, Result};
use runoci_core::state::{StateDir, SOCKET};
use runoci_proto::{Client, ProtoError, State};
use std::time::Duration;

fn connect(sd: &StateDir) -> Option<Client> {
    let c = Client::connect(sd.file(SOCKET)).ok()?;
    // A monitor busy with poststop hooks answers after them; do not wait
    // forever on one that hangs.
    c.set_timeout(Some(Duration::from_secs(30))).ok()?;
    Some(c)
}

fn remote(id: &str, e: ProtoError) -> Error {
    Error::new(format!("container {id}: monitor: {e}"))
}

/// None when there is no monitor to ask (gone, or never had one).
pub fn try_state(sd: &StateDir) -> Option<Result<State>> {
    let mut c = connect(sd)?;
    match c.state() {
        Ok(s) => Some(Ok(s)),
        // Closed mid-reply: the monitor went away; the files will tell.
        Err(ProtoError::Closed) | Err(ProtoError::Io(_)) => None,
        Err(e) => Some(Err(remote(&sd.id, e))),
    }
}

pub fn try_kill(sd: &StateDir, signal: runoci_proto::Signal, all: bool) -> Option<Result<()>> {
    let mut c = connect(sd)?;
    match c.kill(signal, all) {
        Ok(()) => Some(Ok(())),
        Err(ProtoError::Closed) | Err(ProtoError::Io(_)) => None,
        Err(e) => Some(Err(remote(&sd.id, e))),
    }
}

/// `events` without `--stats`: the monitor's event stream, one JSON line
/// per event, until the container exits.
pub fn follow_events(root: &std::path::Path, id: &str) -> Result<i32> {
    let sd = StateDir::open(root, id)?;
    let c = Client::connect(sd.file(SOCKET)).map_err(|e| {
        Error::new(format!(
            "container {id}: no monitor to follow ({e}); use --stats"
        ))
    })?;
    let events = c.events().map_err(|e| remote(id, e))?;
    for ev in events {
        let ev = ev.map_err(|e| remote(id, e))?;
        println!(
            "{}",
            String::from_utf8_lossy(&runoci_proto::encode_event(&ev)).trim_end()
        );
    }
    Ok(0)
}
