//! What happens to a detached container after its init is gone. Shared by
//! the monitor (normal path) and `destroy` (when the monitor died).

use crate::error::{Context, Result};
use crate::state::{
    RuntimeRecord, StateDir, EXIT_STATUS, HOOKS_STARTED, POSTSTOP_DONE, SOCKET, STATE_JSON,
};
use runoci_proto::{ExitStatus, Status};
use std::path::Path;

/// The container's init has exited with `exit`: record it, run poststop
/// hooks once, undo mounts and cgroups, mark the state stopped. Returns the
/// exit as recorded (with `oomKilled` from the cgroup's own count).
/// `known` is the record as the caller read it at start: if the one on
/// disk has been removed since, the cleanup goes by it rather than leaving
/// the cgroups behind.
pub fn container_exited(
    dir: &Path,
    exit: &ExitStatus,
    known: &RuntimeRecord,
) -> Result<ExitStatus> {
    let sd = StateDir::open_dir(dir);
    // Without the directory there is nothing to lock, but still cgroups
    // and mounts to undo.
    let _lock = sd.lock();
    let record = sd.read_record().unwrap_or_else(|_| known.clone());
    let mut exit = *exit;
    if let Some(cg) = &record.cgroup {
        let count = crate::cgroups::Cgroup::from_record(cg)
            .oom_kill_count()
            .ok()
            .flatten();
        exit.oom_killed |= count.unwrap_or(0) > 0;
    }
    let recorded = (|| {
        sd.write_durable(EXIT_STATUS, format!("{}\n", exit.as_exit_code()).as_bytes())?;
        let mut st = sd.read_state()?;
        st.exit = Some(exit);
        st.status = Status::Stopped;
        // Stopped (with its exit) before poststop runs: hooks and readers
        // of the files see the truth even if we die during cleanup.
        sd.write_state(&st)
    })();
    // A record that cannot be written (its files removed by hand) does not
    // stop the cleanup: mounts and cgroups go either way.
    let finished = finish(&sd, &record);
    recorded.and(finished)?;
    Ok(exit)
}

/// Poststop hooks (once, see `poststop_once`), then mounts, the monitor's
/// socket, whatever is still in the cgroups of `record` (without a pid
/// namespace of its own the init's death leaves its children running: they
/// are killed, as runc does) and the cgroups themselves. Idempotent.
pub fn finish(sd: &StateDir, record: &RuntimeRecord) -> Result<()> {
    // Nothing new will be served: from here on clients get ENOENT and read
    // the files (which say stopped), instead of queueing behind poststop
    // hooks that may take their time (the monitor goes on answering the
    // connections it already has). A stale socket of a monitor that was
    // killed goes here too.
    match std::fs::remove_file(sd.file(SOCKET)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("runoci: container {}: remove {SOCKET}: {e}", sd.id),
    }
    if let Some(cg) = &record.cgroup {
        // Before poststop: the hooks see a container that is gone. If it
        // is not (a survivor), nothing more is done: poststop then still
        // runs once, when a later destroy gets that far.
        crate::cgroups::Cgroup::from_record(cg)
            .kill_all_and_wait(SURVIVOR_LIMIT)
            .with_ctx(|| format!("container {}: kill what is left", sd.id))?;
    }
    poststop_once(sd, &record.poststop);
    unmount_under(&sd.dir);
    if let Some(cg) = &record.cgroup {
        crate::cgroups::Cgroup::from_record(cg)
            .destroy()
            .with_ctx(|| format!("container {}: remove cgroups", sd.id))?;
    }
    if let Some(rdt) = &record.resctrl {
        crate::resctrl::remove(rdt).with_ctx(|| format!("container {}", sd.id))?;
    }
    Ok(())
}

/// How long processes of a dead container's cgroup may take to die after
/// SIGKILL before the cleanup reports them.
const SURVIVOR_LIMIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The poststop `hooks`, if creation got as far as the prestart and
/// createRuntime hooks (`HOOKS_STARTED`, or a recorded state), and only
/// the first time: the marker is made before they run, so a crash mid-hook
/// never runs them a second time (the hook process itself outlives us).
/// The one way poststop hooks run for a container with a record: the
/// monitor, `destroy`, and a creator undoing its own failure all come here.
pub fn poststop_once(sd: &StateDir, hooks: &[crate::spec::Hook]) {
    // No hooks, no marker: a file made on every stop for nothing.
    if hooks.is_empty() {
        return;
    }
    let started = sd.file(HOOKS_STARTED).exists() || sd.file(STATE_JSON).exists();
    if !started {
        return;
    }
    let first = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(sd.file(POSTSTOP_DONE))
        .is_ok();
    if !first {
        return;
    }
    // The recorded state, else the one the creation's hooks were given;
    // without either the hooks cannot run (the cleanup still must).
    match sd
        .read_state()
        .or_else(|_| sd.read_json::<runoci_proto::State>(HOOKS_STARTED))
    {
        Ok(mut st) => {
            st.status = Status::Stopped;
            let json = crate::hooks::hook_state_json(&st);
            crate::hooks::run_poststop(&sd.id, hooks, &json);
        }
        Err(e) => eprintln!("runoci: container {}: poststop: {e}", sd.id),
    }
}

/// Everything mounted under the state directory, deepest first (the
/// reference's CleanUpContainer).
fn unmount_under(dir: &Path) {
    if !crate::mountinfo::anything_mounted_under(dir) {
        return;
    }
    let Ok(mounts) = crate::mountinfo::read_self() else {
        return;
    };
    for p in mounts_under(&mounts, dir).iter().rev() {
        let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// The mount points at or below `dir`, sorted (parents before children;
/// a point mounted twice is listed twice, to be unmounted twice).
fn mounts_under(mounts: &[crate::mountinfo::Mount], dir: &Path) -> Vec<std::path::PathBuf> {
    let mut points: Vec<_> = mounts
        .iter()
        .map(|m| m.mount_point.clone())
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort();
    points
}

/// Send `signal` to every process of the container: its cgroup, or the
/// init alone when it has none.
pub fn kill_all(record: &RuntimeRecord, signal: i32) -> Result<()> {
    match &record.cgroup {
        Some(cg) => crate::cgroups::Cgroup::from_record(cg)
            .kill_all(signal)
            .ctx("signal every process"),
        None => match crate::pidfd::open_verified(record.pid, record.pid_start_time) {
            Some(fd) => crate::pidfd::send_signal(&fd, signal).ctx("kill"),
            None => Ok(()),
        },
    }
}

/// SIGKILL the container: every process of its cgroup (thawed if paused)
/// and the init through a pidfd of the recorded pid; then wait, up to
/// `limit`, until the init is gone. Err says what is still alive.
pub fn kill_container(id: &str, record: &RuntimeRecord, limit: std::time::Duration) -> Result<()> {
    let init = crate::pidfd::open_verified(record.pid, record.pid_start_time);
    if let Some(fd) = &init {
        let _ = crate::pidfd::send_signal(fd, libc::SIGKILL);
    }
    if let Some(cg) = &record.cgroup {
        crate::cgroups::Cgroup::from_record(cg)
            .kill_all_and_wait(limit)
            .with_ctx(|| format!("container {id}: kill every process"))?;
    }
    if let Some(fd) = &init {
        if !crate::pidfd::wait_exit(fd, limit) {
            return Err(crate::error::Error::new(format!(
                "container {id}: pid {} did not die after SIGKILL",
                record.pid
            )));
        }
    }
    Ok(())
}

/// Send `signal` to the container's init alone, through its pidfd. After
/// SIGKILL a paused container is thawed: a task frozen by the v1 freezer
/// cannot act on the kill until then. The only way the init is signalled
/// alone (`kill` from the files, the monitor's socket).
pub fn signal_init(
    record: &RuntimeRecord,
    pidfd: &std::os::fd::OwnedFd,
    signal: i32,
) -> std::io::Result<()> {
    crate::pidfd::send_signal(pidfd, signal)?;
    if signal == libc::SIGKILL {
        if let Some(cg) = &record.cgroup {
            let cg = crate::cgroups::Cgroup::from_record(cg);
            if cg.is_frozen() {
                let _ = cg.thaw();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn mounts_under_takes_the_dir_and_below_unescaped_not_its_siblings() {
        let mounts = crate::mountinfo::parse(
            "1 0 0:1 / / rw - ext4 /dev/sda rw\n\
             2 1 0:2 / /run/r/c1 rw - tmpfs tmpfs rw\n\
             3 2 0:3 / /run/r/c1/a\\040b rw - tmpfs tmpfs rw\n\
             4 2 0:4 / /run/r/c1/a\\040b/c\\043d rw - tmpfs tmpfs rw\n\
             5 1 0:5 / /run/r/c10 rw - tmpfs tmpfs rw\n\
             6 2 0:6 / /run/r/c1 rw - tmpfs tmpfs rw\n",
        );
        assert_eq!(
            mounts_under(&mounts, Path::new("/run/r/c1")),
            [
                PathBuf::from("/run/r/c1"),
                PathBuf::from("/run/r/c1"),
                PathBuf::from("/run/r/c1/a b"),
                PathBuf::from("/run/r/c1/a b/c#d"),
            ]
        );
    }
}
