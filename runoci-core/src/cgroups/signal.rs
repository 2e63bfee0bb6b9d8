//! Signalling and freezing a container's cgroup: `kill_all` (frozen
//! while signalled, so no process forks past it), `kill_all_and_wait`
//! (until it is empty), and the v1/v2 freezer behind `freeze` / `thaw`.

use super::cgroup::{Cgroup, CgroupVersion, SETTLE_TIMEOUT};
use super::error::CgroupError;
use super::fs::{exists, read_file, read_value, write_file};
use super::{v1, v2};
use std::time::{Duration, Instant};

impl Cgroup {
    /// Sends `signal` to every process of the cgroup. SIGKILL on cgroup2
    /// uses `cgroup.kill` (atomic, no fork race). Otherwise the cgroup is
    /// frozen while the signals are sent, when a freezer is available, so
    /// that no process forks past us; processes that exited meanwhile are
    /// not an error. A paused cgroup stays paused, except after SIGKILL:
    /// a task frozen by the v1 freezer cannot act on it, so the cgroup is
    /// thawed to let the kill take effect (runc does the same).
    pub fn kill_all(&self, signal: i32) -> Result<(), CgroupError> {
        let was_frozen = self.is_frozen();
        let result = match self.unified_dir().map(|d| d.join("cgroup.kill")) {
            Some(kill) if signal == libc::SIGKILL && exists(&kill) => {
                match write_file(&kill, "1") {
                    // Removed after the check (systemd collects a scope that
                    // has just emptied): nothing is left in it to kill.
                    Err(CgroupError::Io { source, .. })
                        if matches!(source.raw_os_error(), Some(libc::ENODEV | libc::ENOENT)) =>
                    {
                        Ok(())
                    }
                    r => r,
                }
            }
            _ => {
                let frozen = self.freeze().is_ok();
                let result = self.signal_each(signal);
                if frozen && !was_frozen {
                    self.thaw()?;
                }
                result
            }
        };
        if signal == libc::SIGKILL && (was_frozen || self.is_frozen()) {
            self.thaw()?;
        }
        result
    }

    /// SIGKILL every process of the cgroup (thawing it if paused) and
    /// wait until none is left, up to `limit`: what must come before the
    /// cgroup can be removed when the init's death did not take the rest
    /// with it (no pid namespace of its own). Err names what is left.
    pub fn kill_all_and_wait(&self, limit: Duration) -> Result<(), CgroupError> {
        let deadline = Instant::now() + limit;
        loop {
            let pids = self.pids()?;
            if pids.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(CgroupError::Survivors {
                    path: self
                        .hierarchies()
                        .first()
                        .map(|h| h.dir.clone())
                        .unwrap_or_default(),
                    pids,
                });
            }
            // Again each round: a process that forked between the
            // listing and the signal is caught by the next one.
            self.kill_all(libc::SIGKILL)?;
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The cgroup is frozen (v1 `freezer.state` FROZEN or FREEZING, v2
    /// `cgroup.freeze` 1). False without a freezer or when unreadable.
    pub fn is_frozen(&self) -> bool {
        match self.controller_dir("freezer") {
            Some((CgroupVersion::V1, dir)) => {
                read_value(&dir.join("freezer.state")).is_ok_and(|s| s != v1::freezer_state(false))
            }
            _ => self.unified_dir().is_some_and(|dir| {
                read_value(&dir.join("cgroup.freeze")).is_ok_and(|v| v == v2::freeze_value(true))
            }),
        }
    }

    fn signal_each(&self, signal: i32) -> Result<(), CgroupError> {
        for pid in self.pids()? {
            if let Err(error) = crate::sys::signal::kill(pid, signal) {
                if error.raw_os_error() != Some(libc::ESRCH) {
                    return Err(CgroupError::Signal {
                        pid,
                        signal,
                        source: error,
                    });
                }
            }
        }
        Ok(())
    }

    /// Freezes every process of the cgroup (v1 `freezer.state`, else v2
    /// `cgroup.freeze`) and waits until the kernel reports it frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.set_frozen(true)
    }

    /// Undoes `freeze`.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        let (file, value, done) = match self.controller_dir("freezer") {
            Some((CgroupVersion::V1, dir)) => {
                let state = v1::freezer_state(frozen);
                (dir.join("freezer.state"), state, state)
            }
            _ => match self.unified_dir() {
                Some(dir) => (dir.join("cgroup.freeze"), v2::freeze_value(frozen), ""),
                None => {
                    return Err(CgroupError::invalid(
                        "freezer",
                        "no freezer: neither a v1 freezer nor a cgroup2 tree is mounted",
                    ))
                }
            },
        };
        write_file(&file, value)?;
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let settled = if done.is_empty() {
                // v2: cgroup.events has "frozen 0|1".
                let events = file.with_file_name("cgroup.events");
                !exists(&events)
                    || read_file(&events)?
                        .lines()
                        .any(|l| l == format!("frozen {}", v2::freeze_value(frozen)))
            } else {
                // v1: FREEZING until every task is frozen.
                read_value(&file)? == done
            };
            if settled {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(CgroupError::BadContents {
                    path: file,
                    contents: format!("still not {value} after {SETTLE_TIMEOUT:?}"),
                });
            }
            if !done.is_empty() {
                write_file(&file, value)?;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
