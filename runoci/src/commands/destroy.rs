//! `runoci destroy` / `delete`: remove a container's record, after its
//! poststop hooks (once: not again if the monitor ran them), its mounts
//! and its cgroups. A running container is refused unless `--force`; an
//! unknown id is an error unless `--force`.
//!
//! Success means nothing of the container runs any more: every process of
//! its cgroup is killed and gone (without a pid namespace of its own the
//! init's death does not take its children along), and a destroy that
//! cannot make sure of that fails saying what is left.
//!
//! `--force` and a creation in progress: the creator holds the record's
//! lock until the container is recorded or undone, and the record names
//! it. Finding the lock held and a live creator named, destroy kills the
//! creator (with its process group when it leads one: its hooks and the
//! init) and whatever is in the cgroup, then takes the lock and cleans up
//! as for any container, poststop included when the creation's hooks had
//! started.

use crate::error::{Error, Result};
use runoci_core::state::{self, ProcessRef, RuntimeRecord, StateDir, TryLock};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the container's processes may take to die after SIGKILL.
const KILL_LIMIT: Duration = Duration::from_secs(4);
/// How long a lock held by someone other than a creator (a monitor running
/// poststop hooks, another command) is waited for with `--force`.
const LOCK_LIMIT: Duration = Duration::from_secs(30);
/// How long a monitor (or foreground `run`) may take to clean up after its
/// init died.
const MONITOR_LIMIT: Duration = Duration::from_secs(30);

pub fn destroy(root: &Path, id: &str, force: bool) -> Result<()> {
    // runc: `delete --force` of a container that is already gone succeeds.
    // containerd's shim cleans up with it after every task; the error only
    // filled its log with warnings.
    if force && runoci_core::ids::validate(id).is_ok() && !StateDir::exists(root, id) {
        return Ok(());
    }
    let sd = match StateDir::open(root, id) {
        Err(_)
            if force && runoci_core::ids::validate(id).is_ok() && !StateDir::exists(root, id) =>
        {
            return Ok(())
        }
        r => r?,
    };
    let Some(lock) = acquire(&sd, force)? else {
        // Removed by whoever held the lock (a creator undoing itself, a
        // foreground run, another destroy).
        return Ok(());
    };
    let (record, lost) = match sd.read_record() {
        Ok(r) => (r, None),
        Err(e) => (recover(&sd, force, &e)?, Some(e)),
    };
    let alive = runoci_core::procfs::same_process(record.pid, record.pid_start_time);
    // A created container (runc) has not run anything yet: deleting it
    // needs no --force, as with runc.
    if alive && !force && !sd.file(state::EXEC_FIFO).exists() {
        return Err(Error::new(format!(
            "container {id} is running (pid {}); stop it first (runoci kill {id}) or use --force",
            record.pid
        )));
    }
    if force || alive {
        runoci_core::lifecycle::kill_container(id, &record, KILL_LIMIT)?;
    }
    // A live monitor (or foreground `run`) cleans up after its init by
    // itself, under the lock: let it, then finish what is left.
    let _lock = if runoci_core::procfs::same_process(record.monitor_pid, record.monitor_start_time)
    {
        drop(lock);
        if !wait_gone(record.monitor_pid, record.monitor_start_time, MONITOR_LIMIT) {
            return Err(Error::new(format!(
                "container {id}: its monitor (pid {}) is still cleaning up after {MONITOR_LIMIT:?} (a poststop hook that hangs?); try again later",
                record.monitor_pid
            )));
        }
        match sd.lock_if_present()? {
            Some(l) => l,
            // A foreground `run` removes its record when it is done.
            None => return Ok(()),
        }
    } else {
        lock
    };
    if let Some(e) = lost {
        // Before poststop: those run once the container is known gone.
        check_recovered(&sd, &e)?;
    }
    runoci_core::lifecycle::finish(&sd, &record)?;
    if let Some(unit) = &record.systemd_unit {
        crate::systemd::stop(unit).map_err(|e| e.context(format!("container {id}")))?;
    }
    sd.remove()
}

/// The record's lock. With `force`, a creation in progress (the lock held
/// and a live creator named) is ended first; anything else holding the
/// lock is waited for, up to `LOCK_LIMIT`. None: the record is gone.
fn acquire(sd: &StateDir, force: bool) -> Result<Option<state::Lock>> {
    if !force {
        if let TryLock::Locked(l) = sd.try_lock()? {
            return Ok(Some(l));
        }
        if let Some(c) = sd.read_record().ok().and_then(|r| r.creator) {
            if runoci_core::procfs::same_process(c.pid, c.start_time) {
                return Err(Error::new(format!(
                    "container {} is being created (by pid {}); use --force to end that creation",
                    sd.id, c.pid
                )));
            }
        }
        return sd.lock_if_present();
    }
    let deadline = Instant::now() + LOCK_LIMIT;
    let mut holder = None;
    loop {
        match sd.try_lock()? {
            TryLock::Locked(l) => return Ok(Some(l)),
            TryLock::Gone => return Ok(None),
            TryLock::Busy => {}
        }
        // Read each round: the creator changes once (start's parent hands
        // over to the creator it forks) and the cgroup appears later.
        if let Ok(r) = sd.read_record() {
            if let Some(c) = r.creator {
                end_creation(&r, c);
                holder = Some(c.pid);
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::new(format!(
                "container {}: {} stays locked{} after {LOCK_LIMIT:?}; nothing was removed",
                sd.id,
                sd.dir.display(),
                holder.map_or(String::new(), |p| format!(" (its creator was pid {p})"))
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// SIGKILL the creator `c` of `r` — with its process group when it leads
/// one (the detached start's creator: its hooks and the init are in it;
/// the hooks of a creator that is not a group leader die with it through
/// their parent-death signal) — and whatever is in the cgroup already.
fn end_creation(r: &RuntimeRecord, c: ProcessRef) {
    if let Some(fd) = runoci_core::pidfd::open_verified(c.pid, c.start_time) {
        let pid = nix::unistd::Pid::from_raw(c.pid);
        if nix::unistd::getpgid(Some(pid)) == Ok(pid) {
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = runoci_core::pidfd::send_signal(&fd, libc::SIGKILL);
    }
    if let Some(cg) = &r.cgroup {
        let _ = runoci_core::cgroups::Cgroup::from_record(cg).kill_all(libc::SIGKILL);
    }
}

/// runtime.json is missing or unreadable (`why`): rebuild what cleanup
/// needs from what else there is. The monitor, if it answers, is told to
/// kill everything (it knows the cgroups); the cgroups are looked for at
/// their conventional paths (from the id and the config's cgroupsPath);
/// the poststop hooks come from the config.
fn recover(sd: &StateDir, force: bool, why: &Error) -> Result<RuntimeRecord> {
    let config = read_config(sd);
    let mut r = RuntimeRecord {
        poststop: config
            .as_ref()
            .and_then(|c| c.pointer("/hooks/poststop").cloned())
            .and_then(|h| serde_json::from_value(h).ok())
            .unwrap_or_default(),
        ..Default::default()
    };
    if let Some((monitor, status)) = monitor_of(sd) {
        if !force && status != runoci_proto::Status::Stopped {
            return Err(Error::new(format!(
                "container {} is {} ({why}); stop it first or use --force",
                sd.id,
                status.as_str()
            )));
        }
        if force {
            kill_through_monitor(sd);
        }
        r.monitor_pid = monitor.pid;
        r.monitor_start_time = monitor.start_time;
    }
    let cgroups_path = config
        .as_ref()
        .and_then(|c| c.pointer("/linux/cgroupsPath"))
        .and_then(|p| p.as_str())
        .map(str::to_string);
    r.cgroup = conventional_cgroup(&sd.id, cgroups_path.as_deref())?;
    Ok(r)
}

/// The bundle's config.json through the record's link, as plain JSON (it
/// may no longer be a config we would accept).
fn read_config(sd: &StateDir) -> Option<serde_json::Value> {
    sd.read_json(state::CONFIG_JSON).ok()
}

/// The monitor serving the record's socket (from the connection's peer
/// credentials) and the status it reports.
fn monitor_of(sd: &StateDir) -> Option<(ProcessRef, runoci_proto::Status)> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let stream = std::os::unix::net::UnixStream::connect(sd.file(state::SOCKET)).ok()?;
    let pid = getsockopt(&stream, PeerCredentials).ok()?.pid();
    let monitor = ProcessRef {
        pid,
        start_time: runoci_core::procfs::pid_start_time(pid)?,
    };
    let status = match super::monitor_client::try_state(sd) {
        Some(Ok(st)) => st.status,
        _ => runoci_proto::Status::Running,
    };
    Some((monitor, status))
}

fn kill_through_monitor(sd: &StateDir) {
    let _ = super::monitor_client::try_kill(sd, runoci_proto::Signal::KILL, true);
}

/// The container's cgroup where the id and `cgroups_path` put it by
/// default (a `--cgroup_parent` given at start is not known any more).
fn conventional_cgroup(
    id: &str,
    cgroups_path: Option<&str>,
) -> Result<Option<runoci_core::cgroups::CgroupRecord>> {
    let layout = runoci_core::cgroups::Layout::detect()
        .map_err(|e| Error::new(format!("detect the cgroup layout: {e}")))?;
    let systemd = cgroups_path.is_some_and(|p| p.contains(':'));
    let rel = runoci_core::cgroups::resolve_path(id, cgroups_path, None, systemd)?;
    Ok(runoci_core::cgroups::Cgroup::existing(&layout, &rel)?.map(|c| c.to_record()))
}

/// After a cleanup from a recovered record: the pids the other files name
/// must be gone, or we cannot say the container is.
fn check_recovered(sd: &StateDir, why: &Error) -> Result<()> {
    let from_state = sd.read_state().ok().map(|s| s.pid);
    let from_file = std::fs::read_to_string(sd.file(state::PID_FILE))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    for pid in [from_state, from_file].into_iter().flatten() {
        if runoci_core::procfs::pid_start_time(pid).is_some() {
            return Err(Error::new(format!(
                "container {}: {why}; pid {pid}, which its record names as the init, is still alive and may be the container's (its cgroup was not at the path its id and config give: a -p/--cgroup_parent is not known any more): kill it if it is, then remove {}",
                sd.id,
                sd.dir.display()
            )));
        }
    }
    Ok(())
}

/// Wait until `pid` (with that start time) is gone or a zombie: on its
/// pidfd, not by polling /proc.
fn wait_gone(pid: i32, start: u64, limit: Duration) -> bool {
    match runoci_core::pidfd::open_verified(pid, start) {
        Some(fd) => runoci_core::pidfd::wait_exit(&fd, limit),
        None => true,
    }
}
