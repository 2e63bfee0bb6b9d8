//! A container's cgroup across every mounted hierarchy: creating it,
//! moving processes in, and removing exactly the directories we made.
//! Signalling and freezing are in `signal.rs`, resource limits in
//! `apply.rs`.

use super::error::CgroupError;
use super::fs::{exists, read_file, read_value, write_file};
use super::layout::Layout;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long `destroy` retries an `rmdir` that fails with EBUSY (the last
/// processes are still exiting), and `freeze` waits for the freeze.
pub(super) const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupVersion {
    V1,
    V2,
}

/// One hierarchy the container's cgroup lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    pub version: CgroupVersion,
    /// Its mount point (the hierarchy root).
    pub root: PathBuf,
    /// v1: the controllers mounted there (`name=X` for named ones);
    /// v2: the controllers the root offers (`cgroup.controllers`).
    pub controllers: Vec<String>,
    /// The container's directory in it.
    pub dir: PathBuf,
    /// Directories we created (or adopted: an existing, empty leaf), top
    /// down; `destroy` removes them bottom up.
    pub created: Vec<PathBuf>,
}

/// What the state directory keeps so that another process (`destroy`, the
/// monitor) can find and remove the cgroup later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupRecord {
    /// The container's cgroup relative to each hierarchy root.
    pub path: PathBuf,
    pub hierarchies: Vec<Hierarchy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    path: PathBuf,
    hierarchies: Vec<Hierarchy>,
}

/// The `oom_kill N` line of a v2 `memory.events` or v1
/// `memory.oom_control` text: how many processes the OOM killer killed.
/// `None` without one (kernels before 4.13 do not count).
pub fn parse_oom_kill(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
}

impl Cgroup {
    /// Creates `rel` (from `resolve_path`) in every mounted hierarchy,
    /// parents as needed; see the module docs for the rules. On error
    /// nothing created here is left behind.
    pub fn create(
        layout: &Layout,
        rel: &Path,
        owner: Option<(u32, u32)>,
    ) -> Result<Cgroup, CgroupError> {
        if rel.as_os_str().is_empty()
            || rel.is_absolute()
            || rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(CgroupError::InvalidPath {
                path: rel.display().to_string(),
                reason: "must be a relative path of plain components".into(),
            });
        }
        let mut cgroup = Cgroup {
            path: rel.to_path_buf(),
            hierarchies: planned_hierarchies(layout)?,
        };
        let result = (|| {
            for index in 0..cgroup.hierarchies.len() {
                create_in(&mut cgroup.hierarchies[index], rel, owner)?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(cgroup),
            Err(e) => {
                cgroup.remove_created_quietly();
                Err(e)
            }
        }
    }

    /// The container's cgroup relative to the hierarchy roots.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn hierarchies(&self) -> &[Hierarchy] {
        &self.hierarchies
    }

    /// The container's directory in the hierarchy holding `controller`
    /// (a v1 controller, or one the cgroup2 tree offers), with its version.
    pub fn controller_dir(&self, controller: &str) -> Option<(CgroupVersion, &Path)> {
        let find = |version| {
            self.hierarchies
                .iter()
                .find(|h| h.version == version && h.controllers.iter().any(|c| c == controller))
                .map(|h| (h.version, h.dir.as_path()))
        };
        find(CgroupVersion::V1).or_else(|| find(CgroupVersion::V2))
    }

    /// The container's directory in the cgroup2 tree, if one is mounted.
    pub fn unified_dir(&self) -> Option<&Path> {
        self.hierarchies
            .iter()
            .find(|h| h.version == CgroupVersion::V2)
            .map(|h| h.dir.as_path())
    }

    /// Moves process `pid` (all its threads) into the cgroup in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        self.add_pid_except(pid, &[])
    }

    /// `exec --cgroup`: moves `pid` into the existing sub-cgroup `sub`
    /// names in each hierarchy (the container's own cgroup where it names
    /// none). Every directory is checked before the first move, so a bad
    /// value moves nothing.
    pub fn add_pid_to_sub(&self, pid: i32, sub: &super::ExecSubCgroups) -> Result<(), CgroupError> {
        let mut dirs = Vec::new();
        for controller in sub.by_controller.keys() {
            if !self
                .hierarchies
                .iter()
                .any(|h| h.controllers.contains(controller))
            {
                return Err(CgroupError::invalid(
                    format!("--cgroup {controller}:"),
                    "no cgroup hierarchy of this container has that controller",
                ));
            }
        }
        for hierarchy in &self.hierarchies {
            let mut named = hierarchy
                .controllers
                .iter()
                .filter_map(|c| sub.by_controller.get(c).map(|p| (c, p)));
            let chosen = match (named.next(), named.next()) {
                (Some((a, pa)), Some((b, pb))) if pa != pb => {
                    return Err(CgroupError::invalid(
                        format!("--cgroup {a}: and {b}:"),
                        format!(
                        "{a} and {b} share the hierarchy {} and cannot be in different sub-cgroups",
                        hierarchy.root.display()
                    ),
                    ))
                }
                (Some((_, p)), _) => Some(p),
                (None, _) => sub.all.as_ref(),
            };
            let dir = match chosen {
                Some(rel) => hierarchy.dir.join(rel),
                None => hierarchy.dir.clone(),
            };
            if !dir.is_dir() {
                return Err(CgroupError::invalid(
                    format!("--cgroup {}", chosen.map_or(String::new(), |p| p.display().to_string())),
                    format!(
                        "{} does not exist (exec --cgroup joins an existing sub-cgroup of the container's cgroup)",
                        dir.display()
                    ),
                ));
            }
            dirs.push(dir);
        }
        for dir in dirs {
            write_file(&dir.join("cgroup.procs"), &pid.to_string()).map_err(|e| {
                let hint = match &e {
                    CgroupError::Io { source, .. } if source.raw_os_error() == Some(libc::ENOSPC) => {
                        " (a v1 cpuset sub-cgroup takes no process until its cpuset.cpus and cpuset.mems are set)"
                    }
                    _ => "",
                };
                CgroupError::invalid("--cgroup", format!("join {}: {e}{hint}", dir.display()))
            })?;
        }
        Ok(())
    }

    /// The processes in the cgroup, from every hierarchy, sorted, without
    /// duplicates. A hierarchy whose directory is gone contributes none.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let mut pids = BTreeSet::new();
        for hierarchy in &self.hierarchies {
            pids.extend(read_procs(&hierarchy.dir)?);
        }
        Ok(pids.into_iter().collect())
    }

    /// What `create(layout, rel)` is about to make: in every hierarchy, the
    /// directories of `rel` that do not exist yet. For the record, before
    /// the first mkdir, so that a creator killed half-way leaves nothing
    /// unnamed (removing one that was never made is a no-op).
    pub fn planned(layout: &Layout, rel: &Path) -> Result<Cgroup, CgroupError> {
        let mut hierarchies = planned_hierarchies(layout)?;
        for h in &mut hierarchies {
            h.dir = h.root.join(rel);
            let mut current = h.root.clone();
            for component in rel.components() {
                current.push(component);
                if !current.exists() {
                    h.created.push(current.clone());
                }
            }
        }
        Ok(Cgroup {
            path: rel.to_path_buf(),
            hierarchies,
        })
    }

    /// The cgroup at `rel` in every hierarchy of `layout` where its
    /// directory exists, as if we had created just that directory: for a
    /// container whose record is lost, found by its conventional path.
    pub fn existing(layout: &Layout, rel: &Path) -> Result<Option<Cgroup>, CgroupError> {
        let mut hierarchies = planned_hierarchies(layout)?;
        hierarchies.retain_mut(|h| {
            h.dir = h.root.join(rel);
            h.created = vec![h.dir.clone()];
            h.dir.is_dir()
        });
        Ok((!hierarchies.is_empty()).then(|| Cgroup {
            path: rel.to_path_buf(),
            hierarchies,
        }))
    }

    /// Removes the directories we created, deepest first, in every
    /// hierarchy. The container's own directory is emptied of sub-cgroups
    /// the container made and retried while EBUSY (processes still
    /// exiting); parents we created are removed only if nobody else uses
    /// them. Directories already gone are fine. All hierarchies are tried;
    /// the first error is returned.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        let mut first_error = None;
        for hierarchy in &self.hierarchies {
            for dir in hierarchy.created.iter().rev() {
                let result = if *dir == hierarchy.dir {
                    remove_tree(dir)
                } else {
                    remove_parent(dir)
                };
                if let Err(e) = result {
                    first_error.get_or_insert(e);
                    break;
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn remove_created_quietly(&self) {
        for hierarchy in &self.hierarchies {
            for dir in hierarchy.created.iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }

    pub fn to_record(&self) -> CgroupRecord {
        CgroupRecord {
            path: self.path.clone(),
            hierarchies: self.hierarchies.clone(),
        }
    }

    pub fn from_record(record: &CgroupRecord) -> Cgroup {
        Cgroup {
            path: record.path.clone(),
            hierarchies: record.hierarchies.clone(),
        }
    }

    /// How many processes the OOM killer killed in the cgroup: v2
    /// `memory.events` or v1 `memory.oom_control`, both "oom_kill N".
    /// `None` without a memory controller.
    pub fn oom_kill_count(&self) -> Result<Option<u64>, CgroupError> {
        let file = match self.controller_dir("memory") {
            Some((CgroupVersion::V1, dir)) => dir.join("memory.oom_control"),
            Some((CgroupVersion::V2, dir)) => dir.join("memory.events"),
            None => return Ok(None),
        };
        let text = read_file(&file)?;
        match parse_oom_kill(&text) {
            Some(n) => Ok(Some(n)),
            None => Err(CgroupError::BadContents {
                path: file,
                contents: text,
            }),
        }
    }

    /// v1: an eventfd the kernel signals on every OOM in the cgroup
    /// (registered through `cgroup.event_control`). None on v2 or without a
    /// memory controller.
    pub fn oom_eventfd(&self) -> Result<Option<std::os::fd::OwnedFd>, CgroupError> {
        use nix::sys::eventfd::{EfdFlags, EventFd};
        use std::os::fd::{AsRawFd, OwnedFd};
        let dir = match self.controller_dir("memory") {
            Some((CgroupVersion::V1, dir)) => dir.to_path_buf(),
            _ => return Ok(None),
        };
        let io = |op: &'static str, path: PathBuf| {
            move |source: std::io::Error| CgroupError::Io { path, op, source }
        };
        let control = std::fs::File::open(dir.join("memory.oom_control"))
            .map_err(io("open", dir.join("memory.oom_control")))?;
        let efd: OwnedFd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC)
            .map_err(|e| io("eventfd", dir.clone())(e.into()))?
            .into();
        std::fs::write(
            dir.join("cgroup.event_control"),
            format!("{} {}", efd.as_raw_fd(), control.as_raw_fd()),
        )
        .map_err(io("write", dir.join("cgroup.event_control")))?;
        Ok(Some(efd))
    }

    /// The file to watch (inotify IN_MODIFY) for OOM events on cgroup2:
    /// `memory.events`. v1 needs an eventfd on `memory.oom_control` through
    /// `cgroup.event_control`, which is not done here.
    pub fn oom_events_file(&self) -> Option<PathBuf> {
        match self.controller_dir("memory") {
            Some((CgroupVersion::V2, dir)) => Some(dir.join("memory.events")),
            _ => None,
        }
    }
}

/// The hierarchies of `layout`, with the container directory not yet made:
/// one per distinct v1 mount point (co-mounted controllers share one), plus
/// the cgroup2 tree.
fn planned_hierarchies(layout: &Layout) -> Result<Vec<Hierarchy>, CgroupError> {
    let mut hierarchies = Vec::new();
    if let Some(controllers) = layout.v1_controllers() {
        let mut by_mount: BTreeMap<&Path, Vec<String>> = BTreeMap::new();
        for (controller, mount) in controllers {
            by_mount.entry(mount).or_default().push(controller.clone());
        }
        for (mount, controllers) in by_mount {
            hierarchies.push(Hierarchy {
                version: CgroupVersion::V1,
                root: mount.to_path_buf(),
                controllers,
                dir: PathBuf::new(),
                created: Vec::new(),
            });
        }
    }
    if let Some(root) = layout.unified_root() {
        let list = root.join("cgroup.controllers");
        let controllers = if exists(&list) {
            read_file(&list)?
                .split_whitespace()
                .map(str::to_string)
                .collect()
        } else {
            Vec::new()
        };
        hierarchies.push(Hierarchy {
            version: CgroupVersion::V2,
            root: root.to_path_buf(),
            controllers,
            dir: PathBuf::new(),
            created: Vec::new(),
        });
    }
    Ok(hierarchies)
}

/// Makes `rel` under `hierarchy.root`, recording what it made in `created`
/// as it goes (so that a failure part-way can be undone by the caller).
fn create_in(
    hierarchy: &mut Hierarchy,
    rel: &Path,
    owner: Option<(u32, u32)>,
) -> Result<(), CgroupError> {
    hierarchy.dir = hierarchy.root.join(rel);
    let is_cpuset = hierarchy.version == CgroupVersion::V1
        && hierarchy.controllers.iter().any(|c| c == "cpuset");
    let mut current = hierarchy.root.clone();
    for component in rel.components() {
        if hierarchy.version == CgroupVersion::V2 {
            enable_controllers(&current);
        }
        let parent = current.clone();
        current.push(component);
        let is_leaf = current == hierarchy.dir;
        match std::fs::DirBuilder::new().mode(0o755).create(&current) {
            Ok(()) => {
                hierarchy.created.push(current.clone());
                if let Some((uid, gid)) = owner {
                    chown(&current, uid, gid)?;
                }
                if is_cpuset {
                    inherit_cpuset(&parent, &current)?;
                }
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists && is_leaf => {
                let pids = read_procs(&current)?;
                if !pids.is_empty() {
                    return Err(CgroupError::InUse {
                        path: current,
                        pids,
                    });
                }
                hierarchy.created.push(current.clone());
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(CgroupError::io(current, "mkdir", e)),
        }
    }
    if let Some((uid, gid)) = owner {
        // What a delegated owner needs to manage its own cgroup.
        for file in [
            "cgroup.procs",
            "tasks",
            "cgroup.threads",
            "cgroup.subtree_control",
        ] {
            let path = hierarchy.dir.join(file);
            if exists(&path) {
                chown(&path, uid, gid)?;
            }
        }
    }
    Ok(())
}

/// cgroup2: lets children of `dir` use every controller `dir` has, so the
/// container's directory gets their files. Failures are left for the file
/// writes to report (an enabled-elsewhere or busy controller is common and
/// harmless when its files are not needed).
fn enable_controllers(dir: &Path) {
    let Ok(available) = read_file(&dir.join("cgroup.controllers")) else {
        return;
    };
    let enabled = read_file(&dir.join("cgroup.subtree_control")).unwrap_or_default();
    let enabled: BTreeSet<&str> = enabled.split_whitespace().collect();
    for controller in available.split_whitespace() {
        if !enabled.contains(controller) {
            let _ = write_file(
                &dir.join("cgroup.subtree_control"),
                &format!("+{controller}"),
            );
        }
    }
}

/// v1 cpuset: a new cpuset starts with no CPUs and no memory nodes, and no
/// task can join it; copy the parent's, as the reference does.
fn inherit_cpuset(parent: &Path, dir: &Path) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = dir.join(file);
        // A real cpuset always has the file; a fake tree may not.
        if exists(&own) && read_value(&own)?.is_empty() {
            let inherited = read_value(&parent.join(file))?;
            write_file(&own, &inherited)?;
        }
    }
    Ok(())
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), CgroupError> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .map_err(|e| CgroupError::io(path, "chown", e))
}

/// The pids in `dir/cgroup.procs`; none when `dir` (or the file) is gone.
fn read_procs(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let file = dir.join("cgroup.procs");
    let text = match read_file(&file) {
        Ok(text) => text,
        // Gone, or removed between the open and the read (cgroupfs then
        // answers ENODEV): systemd removes an emptied scope's cgroup as
        // soon as its last process exits, racing the monitor's cleanup.
        Err(CgroupError::Io { source, .. })
            if source.kind() == ErrorKind::NotFound
                || source.raw_os_error() == Some(libc::ENODEV) =>
        {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim().parse().map_err(|_| CgroupError::BadContents {
                path: file.clone(),
                contents: l.to_string(),
            })
        })
        .collect()
}

/// Removes the container's directory and any sub-cgroups under it (made by
/// the container), deepest first, retrying on EBUSY until `SETTLE_TIMEOUT`.
fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CgroupError::io(dir, "readdir", e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| CgroupError::io(dir, "readdir", e))?;
        let is_dir = entry
            .file_type()
            .map_err(|e| CgroupError::io(entry.path(), "stat", e))?
            .is_dir();
        if is_dir {
            remove_tree(&entry.path())?;
        }
    }
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(e) => return Err(CgroupError::io(dir, "rmdir", e)),
        }
    }
}

/// Removes a parent directory we created, unless another cgroup now lives
/// in it (EBUSY / ENOTEMPTY): that one is someone else's to clean up.
fn remove_parent(dir: &Path) -> Result<(), CgroupError> {
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::ENOTEMPTY)) => Ok(()),
        Err(e) => Err(CgroupError::io(dir, "rmdir", e)),
    }
}

#[cfg(test)]
mod oom_tests {
    use super::parse_oom_kill;

    #[test]
    fn counts_oom_kills_in_v2_memory_events() {
        let events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(parse_oom_kill(events), Some(2));
    }

    #[test]
    fn counts_oom_kills_in_v1_oom_control_not_the_disable_flag() {
        let control = "oom_kill_disable 1\nunder_oom 0\noom_kill 5\n";
        assert_eq!(parse_oom_kill(control), Some(5));
        // Before 4.13 neither file counts kills.
        assert_eq!(parse_oom_kill("oom_kill_disable 0\nunder_oom 0\n"), None);
        assert_eq!(parse_oom_kill("low 0\nhigh 0\nmax 0\noom 0\n"), None);
        assert_eq!(parse_oom_kill("oom_kill x\n"), None);
    }
}
