//! The state directory of one container: `<root>/<id>/`.
//!
//! config.json (symlink to the bundle's), `.run_oci` (tag), container.pid,
//! mountpoints/container-root (symlink to the rootfs), log (symlink, with
//! --log_dir), exit-status, monitor.sock, and ours: state.json (the OCI
//! state plus exit detail), runtime.json (what cleanup needs: cgroups, the
//! pids and start times that prove a pid is still ours), hooks.started,
//! poststop.done, exec.fifo (runc create), seccomp.bpf (the compiled filter
//! `exec` loads, `runoci::seccomp_cache`). Writes are atomic (temp,
//! rename); operations on one id are serialized with flock on the
//! directory.
//!
//! Creation and destroy exclude each other through that lock: the record
//! appears already locked by its creator (`create_locked`), with a first
//! runtime.json that names the creator and the poststop hooks, and the
//! creator holds the lock until the container is recorded (handed to its
//! monitor, or to the caller of `create`) or undone. `destroy --force`
//! that finds the lock held while the record names a live creator ends
//! that creation (see `commands::destroy`).

use crate::cgroups::CgroupRecord;
use crate::error::{Context, Error, Result};
use runoci_proto::State;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const CONFIG_JSON: &str = "config.json";
pub const TAG: &str = ".run_oci";
pub const PID_FILE: &str = "container.pid";
pub const ROOT_LINK: &str = "mountpoints/container-root";
pub const LOG_LINK: &str = "log";
pub const EXIT_STATUS: &str = "exit-status";
pub const SOCKET: &str = "monitor.sock";
pub const STATE_JSON: &str = "state.json";
pub const RUNTIME_JSON: &str = "runtime.json";
pub const POSTSTOP_DONE: &str = "poststop.done";
/// Made (with the hook state) before the first prestart/createRuntime
/// hook: from then on poststop must run once, whoever ends the container.
pub const HOOKS_STARTED: &str = "hooks.started";
pub const EXEC_FIFO: &str = "exec.fifo";

/// A unit of systemd's, on the system manager or (`user`) the calling
/// user's manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemdUnit {
    pub name: String,
    pub user: bool,
}

/// What only runoci reads: enough to find and clean up everything of the
/// container after its monitor is gone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeRecord {
    /// The init's pid and its start time (/proc/PID/stat field 22): a pid
    /// whose start time differs has been reused and is not ours.
    pub pid: i32,
    pub pid_start_time: u64,
    /// The monitor's, when a monitor holds the container.
    #[serde(default)]
    pub monitor_pid: i32,
    #[serde(default)]
    pub monitor_start_time: u64,
    #[serde(default)]
    pub cgroup: Option<CgroupRecord>,
    /// The resctrl group of `linux.intelRdt` (removed with the container
    /// when runoci made it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resctrl: Option<crate::resctrl::ResctrlRecord>,
    /// The transient scope the systemd cgroup driver started for the
    /// container (`--systemd-cgroup`): stopped with it by `delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<SystemdUnit>,
    /// The uid that created the container (may use its socket).
    #[serde(default)]
    pub owner_uid: u32,
    /// The poststop hooks as they were at creation: they run even if the
    /// bundle is gone by then.
    #[serde(default)]
    pub poststop: Vec<crate::spec::Hook>,
    /// Run by runc-style `start`, which has no config to read them from
    /// if the bundle changed since `create`.
    #[serde(default)]
    pub poststart: Vec<crate::spec::Hook>,
    /// The process creating the container, while it does so and holds the
    /// record's lock; none once the container is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<ProcessRef>,
    /// Created with `--no-new-keyring`: `exec` keeps the caller's session
    /// keyring too, instead of joining the container's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_new_keyring: bool,
    /// run_oci's `-b A:B` bind mounts, (host source, destination): not in
    /// the config, so a checkpoint learns of them (CRIU's external
    /// mounts) from here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binds: Vec<(String, String)>,
}

/// One process, named so that a reused pid is not taken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessRef {
    pub pid: i32,
    pub start_time: u64,
}

impl ProcessRef {
    /// The calling process.
    pub fn current() -> ProcessRef {
        let pid = std::process::id() as i32;
        ProcessRef {
            pid,
            start_time: crate::procfs::pid_start_time(pid).unwrap_or(0),
        }
    }
}

/// What `StateDir::try_lock` found.
pub enum TryLock {
    Locked(Lock),
    /// Another process holds the lock.
    Busy,
    /// The record is gone (removed by whoever held the lock).
    Gone,
}

pub struct StateDir {
    pub id: String,
    pub dir: PathBuf,
}

/// An exclusive flock on the state directory; released on drop (and by the
/// kernel if we die).
pub struct Lock {
    _file: std::fs::File,
}

impl Lock {
    /// Its fd: a process cloned by the lock holder (the container's init)
    /// closes its copy, or it would hold the lock with it.
    pub fn raw_fd(&self) -> i32 {
        self._file.as_raw_fd()
    }
}

impl StateDir {
    pub fn path(root: &Path, id: &str) -> PathBuf {
        root.join(id)
    }

    /// mkdir, exclusive, and the new record is locked and holds `first`
    /// (runtime.json) and the link to the bundle before its name appears:
    /// no other command ever sees it unlocked before the creator is done
    /// with it, nor without a runtime.json naming the creator and the
    /// poststop hooks. Made under a temporary name, locked, then renamed
    /// into place with RENAME_NOREPLACE (an id that exists is an error and
    /// is not touched).
    pub fn create_locked(
        root: &Path,
        id: &str,
        bundle: &Path,
        first: &RuntimeRecord,
    ) -> Result<(StateDir, Lock)> {
        crate::ids::validate(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .with_ctx(|| format!("create state root {}", root.display()))?;
        let dir = Self::path(root, id);
        if dir.exists() {
            return Err(exists_error(id, &dir));
        }
        // Not a valid id (leading '.'): `list` skips it.
        let tmp = StateDir {
            id: id.to_string(),
            dir: root.join(format!(".new-{}", std::process::id())),
        };
        // One left by a process that died here with our pid is stale.
        let _ = std::fs::remove_dir_all(&tmp.dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp.dir)
            .with_ctx(|| format!("create state dir {}", tmp.dir.display()))?;
        let made = (|| {
            let lock = tmp.lock()?;
            // Straight into place: nobody sees this directory before the
            // rename below, so a temp file and its rename buy nothing.
            let data = serde_json::to_vec(first).map_err(|e| Error::new(e.to_string()))?;
            write_new(&tmp.file(RUNTIME_JSON), &data)?;
            tmp.link_bundle(bundle)?;
            match rename_noreplace(&tmp.dir, &dir) {
                Ok(()) => Ok(lock),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Err(exists_error(id, &dir)),
                Err(e) => Err(Error::from(e).context(format!(
                    "rename {} to {}",
                    tmp.dir.display(),
                    dir.display()
                ))),
            }
        })();
        match made {
            Ok(lock) => Ok((
                StateDir {
                    id: id.to_string(),
                    dir,
                },
                lock,
            )),
            Err(e) => {
                let _ = tmp.remove();
                Err(e)
            }
        }
    }

    /// The state directory at `dir` (its name is the id), unchecked: for
    /// the monitor, which is given the directory rather than root and id.
    pub fn open_dir(dir: &Path) -> StateDir {
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        StateDir {
            id,
            dir: dir.to_path_buf(),
        }
    }

    pub fn open(root: &Path, id: &str) -> Result<StateDir> {
        crate::ids::validate(id)?;
        let dir = Self::path(root, id);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => Ok(StateDir {
                id: id.to_string(),
                dir,
            }),
            Ok(_) => Err(Error::new(format!("{}: not a directory", dir.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::new(format!(
                "container {id} does not exist (no {})",
                dir.display()
            ))),
            Err(e) => Err(Error::from(e).context(dir.display())),
        }
    }

    pub fn exists(root: &Path, id: &str) -> bool {
        Self::path(root, id).is_dir()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn lock(&self) -> Result<Lock> {
        let f =
            std::fs::File::open(&self.dir).with_ctx(|| format!("open {}", self.dir.display()))?;
        crate::sys::fs::flock(f.as_fd(), libc::LOCK_EX)
            .with_ctx(|| format!("lock {}", self.dir.display()))?;
        Ok(Lock { _file: f })
    }

    /// The lock, if the record still exists once we hold it (None: it was
    /// removed by whoever held the lock before us).
    pub fn lock_if_present(&self) -> Result<Option<Lock>> {
        self.lock_with(libc::LOCK_EX).map(|t| match t {
            TryLock::Locked(l) => Some(l),
            _ => None,
        })
    }

    /// The lock without waiting for it.
    pub fn try_lock(&self) -> Result<TryLock> {
        self.lock_with(libc::LOCK_EX | libc::LOCK_NB)
    }

    fn lock_with(&self, op: i32) -> Result<TryLock> {
        let f = match std::fs::File::open(&self.dir) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TryLock::Gone),
            Err(e) => return Err(Error::from(e).context(format!("open {}", self.dir.display()))),
        };
        if let Err(e) = crate::sys::fs::flock(f.as_fd(), op) {
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Ok(TryLock::Busy);
            }
            return Err(Error::from(e).context(format!("lock {}", self.dir.display())));
        }
        // Locked, but maybe a directory that was removed (or replaced by a
        // new record of the same id) while we waited: only the one still
        // at the path counts.
        use std::os::unix::fs::MetadataExt;
        let ours = f.metadata().ctx("fstat the state dir")?;
        match std::fs::symlink_metadata(&self.dir) {
            Ok(m) if m.ino() == ours.ino() && m.dev() == ours.dev() => {
                Ok(TryLock::Locked(Lock { _file: f }))
            }
            _ => Ok(TryLock::Gone),
        }
    }

    /// Write `name` atomically: a temp file renamed over it. Readers see
    /// the old or the new content, never a part.
    pub fn write_atomic(&self, name: &str, data: &[u8]) -> Result<()> {
        write_atomic(&self.file(name), data)
    }

    /// `write_atomic`, and on disk before it returns (file and directory
    /// fsynced): for the exit status, which outlives the container and is
    /// what engines read after a crash. The rest of the record describes
    /// processes that a machine crash ends anyway, so it is not worth a
    /// millisecond of fsync on every start.
    pub fn write_durable(&self, name: &str, data: &[u8]) -> Result<()> {
        write_file(&self.file(name), data, true)
    }

    /// The JSON file `name` of the directory; errors name its path.
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
        let p = self.file(name);
        let data = std::fs::read(&p).with_ctx(|| format!("read {}", p.display()))?;
        serde_json::from_slice(&data).map_err(|e| Error::new(format!("{}: {e}", p.display())))
    }

    pub fn read_state(&self) -> Result<State> {
        self.read_json(STATE_JSON)
    }

    pub fn write_state(&self, s: &State) -> Result<()> {
        let data = serde_json::to_vec_pretty(s).map_err(|e| Error::new(e.to_string()))?;
        self.write_atomic(STATE_JSON, &data)
    }

    pub fn read_record(&self) -> Result<RuntimeRecord> {
        self.read_json(RUNTIME_JSON)
    }

    pub fn write_record(&self, r: &RuntimeRecord) -> Result<()> {
        let data = serde_json::to_vec(r).map_err(|e| Error::new(e.to_string()))?;
        self.write_atomic(RUNTIME_JSON, &data)
    }

    /// Read, change and write back runtime.json (the caller holds the lock).
    /// Read, change and write back the record; a change that leaves it as
    /// it was writes nothing (each write is an fsync'd rename on the start
    /// path: the cgroup noted before its mkdir is usually the one made).
    pub fn update_record(&self, change: impl FnOnce(&mut RuntimeRecord)) -> Result<()> {
        let before = self.read_record()?;
        let mut r = before.clone();
        change(&mut r);
        if r == before {
            return Ok(());
        }
        self.write_record(&r)
    }

    /// The first entries of every record: `config.json`, a link to the
    /// bundle's, and the tag that says runoci made this directory (`kill`
    /// refuses directories without it).
    pub fn link_bundle(&self, bundle: &Path) -> Result<()> {
        std::os::unix::fs::symlink(bundle.join(CONFIG_JSON), self.file(CONFIG_JSON))
            .ctx("symlink config.json")?;
        std::fs::write(self.file(TAG), b"").ctx("write .run_oci tag")
    }

    pub fn is_run_oci_managed(&self) -> bool {
        self.file(TAG).exists()
    }

    /// Remove the whole record (after everything it names is cleaned up).
    pub fn remove(&self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir).with_ctx(|| format!("remove {}", self.dir.display()))
    }
}

fn exists_error(id: &str, dir: &Path) -> Error {
    Error::new(format!(
        "container {id} already exists ({}); destroy it first or pick another id",
        dir.display()
    ))
}

fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    nix::fcntl::renameat2(
        None,
        from,
        None,
        to,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(std::io::Error::from)
}

pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_file(path, data, false)
}

/// A file that must not exist yet, written in one go (not atomic: for a
/// directory nobody else sees yet).
fn write_new(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .with_ctx(|| format!("create {}", path.display()))?;
    f.write_all(data)
        .with_ctx(|| format!("write {}", path.display()))
}

fn write_file(path: &Path, data: &[u8], durable: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .with_ctx(|| format!("create {}", tmp.display()))?;
    f.write_all(data)
        .with_ctx(|| format!("write {}", tmp.display()))?;
    if durable {
        f.sync_all()
            .with_ctx(|| format!("fsync {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).with_ctx(|| format!("rename to {}", path.display()))?;
    if durable {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_ctx(|| format!("fsync {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("runoci-state-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn first() -> RuntimeRecord {
        RuntimeRecord {
            creator: Some(ProcessRef::current()),
            poststop: vec![crate::spec::Hook {
                path: "/bin/true".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_new_record_appears_locked_with_its_creator_hooks_and_bundle_link() {
        let r = root("new");
        let (sd, lock) = StateDir::create_locked(&r, "c1", Path::new("/bundle"), &first()).unwrap();
        // Another open file description (another command) finds it busy.
        assert!(matches!(sd.try_lock().unwrap(), TryLock::Busy));
        let rec = sd.read_record().unwrap();
        assert_eq!(rec.creator, Some(ProcessRef::current()));
        assert_eq!(rec.poststop.len(), 1);
        assert_eq!(
            std::fs::read_link(sd.file(CONFIG_JSON)).unwrap(),
            Path::new("/bundle/config.json")
        );
        // No temporary directory is left next to it.
        let names: Vec<_> = std::fs::read_dir(&r)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("c1")]);
        drop(lock);
        assert!(matches!(sd.try_lock().unwrap(), TryLock::Locked(_)));
        let _ = std::fs::remove_dir_all(&r);
    }

    #[test]
    fn an_id_that_exists_is_refused_and_left_alone() {
        let r = root("exists");
        let (sd, _lock) = StateDir::create_locked(&r, "c1", Path::new("/b"), &first()).unwrap();
        std::fs::write(sd.file("mark"), b"x").unwrap();
        let err = StateDir::create_locked(&r, "c1", Path::new("/b"), &first())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("already exists"), "{err}");
        assert!(sd.file("mark").exists());
        let _ = std::fs::remove_dir_all(&r);
    }

    #[test]
    fn a_lock_waited_for_while_the_record_was_removed_says_gone() {
        let r = root("gone");
        let (sd, lock) = StateDir::create_locked(&r, "c1", Path::new("/b"), &first()).unwrap();
        let dir = sd.dir.clone();
        let waiter = std::thread::spawn(move || {
            let sd = StateDir::open_dir(&dir);
            // Opened before the removal, locked after it.
            sd.lock_if_present().unwrap().is_none()
        });
        // Until the waiter is blocked in flock (/proc/locks lists it as
        // "-> FLOCK ... OURPID"): it has opened the directory before the
        // removal below.
        let me = format!(" {} ", std::process::id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .any(|l| l.contains("-> FLOCK") && l.contains(&me))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the waiter never blocked on the lock"
            );
            std::thread::yield_now();
        }
        sd.remove().unwrap();
        drop(lock);
        assert!(
            waiter.join().unwrap(),
            "a removed record must not be locked"
        );
        assert!(matches!(sd.try_lock().unwrap(), TryLock::Gone));
        let _ = std::fs::remove_dir_all(&r);
    }

    #[test]
    fn an_update_that_changes_nothing_writes_nothing() {
        use std::os::unix::fs::MetadataExt;
        let r = root("noop-update");
        let (sd, _lock) = StateDir::create_locked(&r, "c1", Path::new("/b"), &first()).unwrap();
        let inode = || std::fs::metadata(sd.file(RUNTIME_JSON)).unwrap().ino();
        let before = inode();
        sd.update_record(|_| {}).unwrap();
        assert_eq!(inode(), before, "a no-op update replaced the file");
        sd.update_record(|rec| rec.owner_uid += 1).unwrap();
        assert_ne!(inode(), before, "a real update must be written");
        assert_eq!(sd.read_record().unwrap().owner_uid, first().owner_uid + 1);
        let _ = std::fs::remove_dir_all(&r);
    }
}
