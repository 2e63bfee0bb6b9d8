//! Shared helpers for runoci integration tests.
//!
//! Every integration test of the project runs real containers as root. This
//! crate gives them:
//! - [`busybox_rootfs`]: a busybox root filesystem, copied cheaply from one
//!   template per machine;
//! - [`Bundle`]: a temporary OCI bundle (`rootfs/` + `config.json`) whose
//!   config starts as [`default_config`] (like `runc spec`) and is edited as a
//!   [`serde_json::Value`];
//! - [`Runtime`]: a runtime binary (runoci, runc, crun) with its own `--root`
//!   directory, so tests run in parallel; [`Runtime::run`] never hangs (every
//!   command has a timeout) and returns an [`Output`] whose `assert_*`
//!   helpers show the command, exit status, stdout and stderr on failure;
//! - [`Cleanup`]: kills and deletes whatever containers are left in a root
//!   with the runtime's own commands, then fails the test if anything of
//!   its containers is still there (record, mount, process, cgroup); a
//!   [`Runtime`] owns one, so this happens when the runtime is dropped,
//!   also when an assertion failed (then it only cleans up);
//! - [`HostSnapshot`]: mounts, processes and cgroups of the host, to prove
//!   that a failed operation left nothing behind;
//! - [`unique_id`]: container ids that are unique per test process.
//!
//! Environment knobs: `RUNOCI_BIN` (use this binary instead of the
//! workspace's runoci, e.g. `/usr/bin/runc` to check the tests themselves),
//! `RUNOCI_TEST_DIR` (where bundles and roots go, default
//! `$TMPDIR/runoci-tests`), `RUNOCI_TEST_TIMEOUT` (seconds per command,
//! default 60), `RUNOCI_TEST_KEEP=1` (keep bundle directories).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

pub mod engines;
pub mod rootless;
pub mod vm;

/// Path of busybox-static on the host (Debian's `busybox-static`).
pub const HOST_BUSYBOX: &str = "/bin/busybox";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn next_counter() -> usize {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// `prefix-<pid>-<counter>`: unique within this machine while the test
/// process lives, and a valid container id (the prefix is sanitized to
/// `[A-Za-z0-9_.-]`).
pub fn unique_id(prefix: &str) -> String {
    format!(
        "{}-{}-{}",
        sanitize(prefix, 40),
        std::process::id(),
        next_counter()
    )
}

fn sanitize(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(max)
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, 't');
    }
    out
}

/// The directory under which bundles, runtime roots and the rootfs template
/// live: `$RUNOCI_TEST_DIR`, else `$TMPDIR/runoci-tests`. Kept short because
/// Unix socket paths (the monitor's) inside a root must fit in 108 bytes.
pub fn test_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("RUNOCI_TEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("runoci-tests"));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        // Containers running as other users may need to traverse it.
        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o755));
        dir
    })
    .clone()
}

/// Default timeout of one command: `$RUNOCI_TEST_TIMEOUT` seconds, else 60.
pub fn default_timeout() -> Duration {
    let secs = std::env::var("RUNOCI_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

// ---------------------------------------------------------------------------
// Root filesystem
// ---------------------------------------------------------------------------

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
user:x:1000:1000:user:/home/user:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nuser:x:1000:\nnobody:x:65534:\n";
const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost\n";

/// The busybox applets (`busybox --list`), without `busybox` itself.
pub fn busybox_applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = Command::new(HOST_BUSYBOX)
            .arg("--list")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {HOST_BUSYBOX} --list ({e}): apt-get install busybox-static")
            });
        assert!(out.status.success(), "{HOST_BUSYBOX} --list failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
            .map(String::from)
            .collect()
    })
}

/// Builds a complete busybox rootfs at `dir` (which must not exist yet).
fn build_rootfs_from_scratch(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir.join("bin"))?;
    fs::copy(HOST_BUSYBOX, dir.join("bin/busybox"))?;
    fs::set_permissions(dir.join("bin/busybox"), fs::Permissions::from_mode(0o755))?;
    for applet in busybox_applets() {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet))?;
    }
    for d in [
        "proc",
        "sys",
        "dev",
        "etc",
        "root",
        "home/user",
        "var",
        "run",
        "mnt",
        "usr",
    ] {
        fs::create_dir_all(dir.join(d))?;
    }
    fs::create_dir(dir.join("tmp"))?;
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::set_permissions(dir.join("root"), fs::Permissions::from_mode(0o700))?;
    std::os::unix::fs::chown(dir.join("home/user"), Some(1000), Some(1000))?;
    std::os::unix::fs::symlink("bin", dir.join("sbin"))?;
    std::os::unix::fs::symlink("../bin", dir.join("usr/bin"))?;
    std::os::unix::fs::symlink("../bin", dir.join("usr/sbin"))?;
    fs::write(dir.join("etc/passwd"), PASSWD)?;
    fs::write(dir.join("etc/group"), GROUP)?;
    fs::write(dir.join("etc/hosts"), HOSTS)?;
    fs::write(dir.join("etc/hostname"), "runoci\n")?;
    Ok(())
}

/// The shared template rootfs, built once per machine (keyed by the busybox
/// binary's size and mtime) and once-checked per test process.
pub fn busybox_template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let meta = fs::metadata(HOST_BUSYBOX)
            .unwrap_or_else(|e| panic!("{HOST_BUSYBOX}: {e}: apt-get install busybox-static"));
        let key = format!("busybox-template-{}-{}", meta.len(), meta.mtime());
        let dir = test_dir().join(key);
        if dir.join(".complete").exists() {
            return dir;
        }
        // Build aside and rename: concurrent test processes race safely.
        let tmp = test_dir().join(format!(
            ".template-{}-{}",
            std::process::id(),
            next_counter()
        ));
        let _ = fs::remove_dir_all(&tmp);
        build_rootfs_from_scratch(&tmp)
            .and_then(|()| File::create(tmp.join(".complete")).map(drop))
            .unwrap_or_else(|e| panic!("build busybox template {}: {e}", tmp.display()));
        if fs::rename(&tmp, &dir).is_err() {
            // Another process won the race; use theirs.
            let _ = fs::remove_dir_all(&tmp);
        }
        assert!(
            dir.join(".complete").exists(),
            "no template at {}",
            dir.display()
        );
        dir
    })
}

/// Copies `src` to `dst` recursively: directories and symlinks are
/// recreated, regular files copied, except `bin/busybox` which is
/// hard-linked (falls back to a copy across filesystems). Ownership and
/// modes are kept.
fn copy_tree(src: &Path, dst: &Path, top: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(src)?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(src)?, dst)?;
        return Ok(());
    }
    if ft.is_dir() {
        fs::create_dir(dst)?;
        for entry in fs::read_dir(src)? {
            let entry = entry?;
            if entry.file_name() == ".complete" && src == top {
                continue;
            }
            copy_tree(&entry.path(), &dst.join(entry.file_name()), top)?;
        }
    } else if src.strip_prefix(top).ok() == Some(Path::new("bin/busybox")) {
        if fs::hard_link(src, dst).is_err() {
            fs::copy(src, dst)?;
        }
        return Ok(());
    } else {
        fs::copy(src, dst)?;
    }
    fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))?;
    Ok(())
}

/// Makes a busybox root filesystem at `dir` (created; must not exist):
/// `/bin/busybox` (static) with every applet symlinked in `/bin` (`sh`,
/// `true`, `sleep`, ...), `/sbin`, `/usr/bin`, `/usr/sbin` → `/bin`, empty
/// `/proc /sys /dev /tmp /run /mnt /var /root /home/user`, and `/etc/passwd`
/// + `/etc/group` with root (0), user (1000) and nobody (65534).
///
/// `bin/busybox` is a hard link to a shared template: replace it, never
/// modify it in place. Everything else is the bundle's own copy.
pub fn busybox_rootfs(dir: &Path) -> io::Result<()> {
    let template = busybox_template();
    copy_tree(template, dir, template)
}

// ---------------------------------------------------------------------------
// Bundle
// ---------------------------------------------------------------------------

/// The capabilities `runc spec` gives (bounding, effective, permitted).
pub const DEFAULT_CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// A config like `runc spec` prints, adjusted for tests: no terminal,
/// `args ["sh"]`, writable root, hostname `runoci`, a cgroup namespace,
/// capabilities only in bounding/effective/permitted, no `resources`, no
/// seccomp.
pub fn default_config() -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": ["PATH=/bin:/usr/bin:/sbin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": DEFAULT_CAPS,
                "effective": DEFAULT_CAPS,
                "permitted": DEFAULT_CAPS,
            },
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "runoci",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// The range every user-namespaced test maps: container 0..65536 is host
/// 100000..165536.
pub const USERNS_HOST_ROOT: u32 = 100000;

/// Adds a new user namespace to `config` with container root mapped to
/// host [`USERNS_HOST_ROOT`] (65536 ids, uids and gids alike).
pub fn user_namespaced(config: &mut Value) {
    config["linux"]["namespaces"]
        .as_array_mut()
        .expect("linux.namespaces")
        .push(json!({ "type": "user" }));
    let map = json!([{ "containerID": 0, "hostID": USERNS_HOST_ROOT, "size": 65536 }]);
    config["linux"]["uidMappings"] = map.clone();
    config["linux"]["gidMappings"] = map;
}

/// A temporary OCI bundle: `<dir>/rootfs` (busybox) and `<dir>/config.json`.
///
/// The config is held as a [`Value`]; edit it with [`Bundle::config_mut`] or
/// [`Bundle::set_args`]. It is written by [`Bundle::write_config`], and also
/// automatically whenever [`Bundle::path`] / [`Bundle::path_str`] is asked
/// for after an edit, so passing `bundle.path()` to a runtime always passes
/// the current config.
///
/// Drop unmounts anything left mounted under the bundle (lazily) and removes
/// the directory; leftover mounts fail the test (unless it is already
/// failing). `RUNOCI_TEST_KEEP=1` keeps the directory.
///
/// If a [`Runtime`] that still has containers of this bundle outlives it
/// (declared after the bundle: locals drop in reverse order), the bundle's
/// drop runs that runtime's [`Cleanup`] first, so the containers are
/// stopped and checked before the bundle checks for leftover mounts.
pub struct Bundle {
    dir: PathBuf,
    config: Value,
    dirty: std::cell::Cell<bool>,
}

impl Bundle {
    /// A new bundle named after `name` (sanitized; pid and a counter make it
    /// unique), with a busybox rootfs and [`default_config`] written.
    pub fn new(name: &str) -> Bundle {
        let dir = test_dir().join(format!(
            "b-{}-{}-{}",
            sanitize(name, 40),
            std::process::id(),
            next_counter()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let bundle = Bundle {
            config: default_config(),
            dirty: std::cell::Cell::new(true),
            dir,
        };
        busybox_rootfs(&bundle.rootfs())
            .unwrap_or_else(|e| panic!("busybox rootfs in {}: {e}", bundle.dir.display()));
        bundle.write_config();
        bundle
    }

    /// The bundle directory; writes the config first if it was edited.
    pub fn path(&self) -> &Path {
        if self.dirty.get() {
            self.write_config();
        }
        &self.dir
    }

    /// [`Bundle::path`] as a `&str` (test dirs are always UTF-8).
    pub fn path_str(&self) -> &str {
        self.path().to_str().expect("bundle path is UTF-8")
    }

    /// `<bundle>/rootfs`.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// `<bundle>/config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// The config as it will be written.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// The config, to edit; written at the next [`Bundle::path`] or
    /// [`Bundle::write_config`].
    pub fn config_mut(&mut self) -> &mut Value {
        self.dirty.set(true);
        &mut self.config
    }

    /// Sets `process.args`.
    pub fn set_args(&mut self, args: &[&str]) -> &mut Self {
        self.config_mut()["process"]["args"] = json!(args);
        self
    }

    /// Writes `config.json` (pretty JSON) now.
    pub fn write_config(&self) {
        let text = serde_json::to_string_pretty(&self.config).expect("serialize config");
        let path = self.config_path();
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self.dirty.set(false);
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // A runtime declared after this bundle is still alive: have it stop
        // and check the containers that use this bundle first.
        let users: Vec<Arc<CleanupInner>> = lock(&LIVE_CLEANUPS)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for inner in users {
            inner.observe();
            inner.remove_containers_of(&self.dir);
        }
        let leftovers = unmount_under(&self.dir);
        if std::env::var_os("RUNOCI_TEST_KEEP").is_none() {
            if let Err(e) = fs::remove_dir_all(&self.dir) {
                eprintln!("runoci-tests: cannot remove {}: {e}", self.dir.display());
            }
        }
        if !leftovers.is_empty() && !std::thread::panicking() {
            panic!(
                "mounts were left under bundle {} (now unmounted): {leftovers:?}",
                self.dir.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Mounts and processes
// ---------------------------------------------------------------------------

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points of this process's mount namespace, in mount order.
pub fn mount_points() -> Vec<String> {
    mount_table().into_iter().map(|(_, point)| point).collect()
}

/// Mount ids and mount points of this process's mount namespace, in mount
/// order. The id tells apart two mounts stacked on one path.
pub fn mount_table() -> Vec<(u64, String)> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let id = f.next()?.parse().ok()?;
            Some((id, unescape_mountinfo(f.nth(3)?)))
        })
        .collect()
}

/// Lazily unmounts (MNT_DETACH) every mount at or under `dir`, deepest
/// first; returns the mount points it found.
pub fn unmount_under(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = mount_points()
        .into_iter()
        .filter(|m| Path::new(m).starts_with(dir))
        .collect();
    found.dedup();
    for m in found.iter().rev() {
        let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
    found
}

/// Pids of all processes (from /proc).
pub fn all_pids() -> BTreeSet<i32> {
    fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

/// `/proc/PID/cmdline` with NULs as spaces (empty if gone).
pub fn pid_cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .unwrap_or_default()
}

/// Whether `text` holds `marker` as a whole name: not followed by a letter
/// or digit, so the id `x-12-1` is not found in the `x-12-10` of a test
/// running alongside.
pub fn mentions(text: &str, marker: &str) -> bool {
    !marker.is_empty()
        && text.match_indices(marker).any(|(at, _)| {
            !text[at + marker.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
        })
}

/// Describes a process if any of its cmdline, environment, cgroups, cwd or
/// root mention one of `markers`.
fn process_matches(pid: i32, markers: &[&str]) -> Option<String> {
    if pid == std::process::id() as i32 || !pid_alive(pid) {
        return None;
    }
    let cmdline = pid_cmdline(pid);
    let mut texts = vec![cmdline.clone()];
    if let Ok(env) = fs::read(format!("/proc/{pid}/environ")) {
        texts.push(String::from_utf8_lossy(&env).into_owned());
    }
    if let Ok(cg) = fs::read_to_string(format!("/proc/{pid}/cgroup")) {
        texts.push(cg);
    }
    for link in ["cwd", "root"] {
        if let Ok(p) = fs::read_link(format!("/proc/{pid}/{link}")) {
            texts.push(p.to_string_lossy().into_owned());
        }
    }
    let hit = markers
        .iter()
        .filter(|m| !m.is_empty())
        .find(|m| texts.iter().any(|t| mentions(t, m)))?;
    Some(format!("pid {pid} ({cmdline:?}) mentions {hit:?}"))
}

/// Every cgroup directory under `/sys/fs/cgroup/*/` (and a pure-v2
/// `/sys/fs/cgroup/`), at most `depth` levels down.
pub fn cgroup_dirs() -> BTreeSet<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut BTreeSet<PathBuf>) {
        if depth == 0 {
            return;
        }
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                let p = e.path();
                walk(&p, depth - 1, out);
                out.insert(p);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(Path::new("/sys/fs/cgroup"), 10, &mut out);
    out
}

// ---------------------------------------------------------------------------
// HostSnapshot
// ---------------------------------------------------------------------------

/// What the host had at one moment: mount points, live pids, cgroup dirs.
/// Compare with [`HostSnapshot::assert_nothing_leaked`] after an operation
/// that must leave nothing behind. Tests run in parallel, so only what
/// mentions one of the given markers (container id, bundle path, root path)
/// counts.
#[derive(Debug, Clone)]
pub struct HostSnapshot {
    /// (mount id, mount point). Ids are reused once a mount is gone (tests
    /// running alongside mount and unmount all the time): only the same id
    /// at the same point is the same mount.
    pub mounts: BTreeSet<(u64, String)>,
    pub pids: BTreeSet<i32>,
    pub cgroups: BTreeSet<PathBuf>,
}

impl HostSnapshot {
    /// Snapshot now.
    pub fn take() -> HostSnapshot {
        HostSnapshot {
            mounts: mount_table().into_iter().collect(),
            pids: all_pids(),
            cgroups: cgroup_dirs(),
        }
    }

    /// What appeared since this snapshot and mentions one of `markers`:
    /// new mounts (by mount id, so also one stacked on an old mount point)
    /// whose mount point contains a marker, new live processes
    /// whose cmdline/environ/cgroup/cwd/root contains one, and new cgroup
    /// directories whose path contains one.
    pub fn leaks(&self, markers: &[&str]) -> Vec<String> {
        let markers: Vec<&str> = markers.iter().copied().filter(|m| !m.is_empty()).collect();
        let now = HostSnapshot::take();
        let mut leaks = Vec::new();
        for (id, m) in &now.mounts {
            if self.mounts.contains(&(*id, m.clone())) {
                continue;
            }
            if markers.iter().any(|k| mentions(m, k)) {
                leaks.push(format!("mount {m}"));
            }
        }
        for pid in now.pids.difference(&self.pids) {
            if let Some(d) = process_matches(*pid, &markers) {
                leaks.push(format!("process {d}"));
            }
        }
        for cg in now.cgroups.difference(&self.cgroups) {
            let s = cg.to_string_lossy();
            if markers.iter().any(|k| mentions(&s, k)) {
                leaks.push(format!("cgroup {s}"));
            }
        }
        leaks
    }

    /// Panics listing the leaks if, after up to 5 seconds of grace (for
    /// processes that are still exiting), anything mentioning one of
    /// `markers` remains. Use the container id, the bundle path and the
    /// runtime root as markers.
    #[track_caller]
    pub fn assert_nothing_leaked(&self, markers: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let leaks = self.leaks(markers);
            if leaks.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "left behind (markers {markers:?}):\n  {}",
                    leaks.join("\n  ")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

// ---------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------

/// The result of a command run with a timeout. The `assert_*` helpers panic
/// with the whole story: command, status, stdout, stderr.
#[derive(Debug, Clone)]
pub struct Output {
    /// The command line, shell-like.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The command did not finish in time and was SIGKILLed.
    pub timed_out: bool,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::os::unix::process::ExitStatusExt;
        writeln!(f, "command: {}", self.command)?;
        if self.timed_out {
            writeln!(f, "status:  TIMED OUT after {:?} (killed)", self.elapsed)?;
        } else if let Some(c) = self.status.code() {
            writeln!(f, "status:  exit code {c} ({:?})", self.elapsed)?;
        } else {
            writeln!(f, "status:  killed by signal {:?}", self.status.signal())?;
        }
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}", self.stderr.trim_end())
    }
}

impl Output {
    /// Exit code, `None` if killed by a signal or timed out.
    pub fn code(&self) -> Option<i32> {
        if self.timed_out {
            None
        } else {
            self.status.code()
        }
    }

    /// Signal that killed the command (SIGKILL if it timed out).
    pub fn signal(&self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        self.status.signal()
    }

    /// Exited 0 in time.
    pub fn success(&self) -> bool {
        self.code() == Some(0)
    }

    /// Panics unless the command exited 0.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        if !self.success() {
            panic!("command failed, expected success\n{self}");
        }
        self
    }

    /// Panics unless the command exited with `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        if self.code() != Some(code) {
            panic!("expected exit code {code}\n{self}");
        }
        self
    }

    /// Panics unless the command exited in time with a non-zero code.
    #[track_caller]
    pub fn assert_failed(&self) -> &Self {
        if matches!(self.code(), Some(0) | None) {
            panic!("expected a failure exit code\n{self}");
        }
        self
    }

    /// Panics unless stdout contains `needle`.
    #[track_caller]
    pub fn assert_stdout_contains(&self, needle: &str) -> &Self {
        if !self.stdout.contains(needle) {
            panic!("stdout does not contain {needle:?}\n{self}");
        }
        self
    }

    /// Panics unless stderr contains `needle`.
    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        if !self.stderr.contains(needle) {
            panic!("stderr does not contain {needle:?}\n{self}");
        }
        self
    }

    /// Panics unless stdout equals `expected` (exactly).
    #[track_caller]
    pub fn assert_stdout_eq(&self, expected: &str) -> &Self {
        if self.stdout != expected {
            panic!("stdout is not {expected:?}\n{self}");
        }
        self
    }

    /// Stdout parsed as JSON; panics with the output if it is not.
    #[track_caller]
    pub fn json(&self) -> Value {
        match serde_json::from_str(&self.stdout) {
            Ok(v) => v,
            Err(e) => panic!("stdout is not JSON ({e})\n{self}"),
        }
    }
}

fn describe_command(cmd: &Command) -> String {
    fn quote(s: &OsStr) -> String {
        let s = s.to_string_lossy();
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
        {
            s.into_owned()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    }
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// An unlinked temporary file (stdio capture that never blocks: a container
/// that inherits it can keep it open without hanging the test).
fn anon_file() -> io::Result<File> {
    let path = test_dir().join(format!(".io-{}-{}", std::process::id(), next_counter()));
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    fs::remove_file(&path)?;
    Ok(f)
}

fn read_all(mut f: File) -> String {
    let mut buf = Vec::new();
    let _ = f.seek(SeekFrom::Start(0));
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Runs `cmd` with stdin from `input` (empty: /dev/null-like), stdout and
/// stderr captured in anonymous files, and kills it (SIGKILL) after
/// `timeout`. Never hangs: children of the command (a container) may keep
/// the captured files open, that does not matter.
pub fn run_command(cmd: &mut Command, input: &[u8], timeout: Duration) -> Output {
    let command = describe_command(cmd);
    let stdin = if input.is_empty() {
        Stdio::null()
    } else {
        let mut f = anon_file().expect("stdin temp file");
        f.write_all(input).expect("write stdin");
        f.seek(SeekFrom::Start(0)).expect("seek stdin");
        Stdio::from(f)
    };
    let out = anon_file().expect("stdout temp file");
    let err = anon_file().expect("stderr temp file");
    cmd.stdin(stdin)
        .stdout(out.try_clone().expect("dup"))
        .stderr(err.try_clone().expect("dup"));
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {command}: {e}"));
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let r = child.wait();
        let _ = tx.send(());
        r
    });
    let timed_out = rx.recv_timeout(timeout).is_err();
    if timed_out {
        // The child is not reaped until the waiter returns: the pid is ours.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let status = waiter
        .join()
        .expect("waiter thread")
        .unwrap_or_else(|e| panic!("wait for {command}: {e}"));
    let elapsed = start.elapsed();
    // Drop our write handles held by `cmd` (the Stdio was moved into it).
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Output {
        command,
        status,
        stdout: read_all(out),
        stderr: read_all(err),
        timed_out,
        elapsed,
    }
}

// ---------------------------------------------------------------------------
// Runtime and Cleanup
// ---------------------------------------------------------------------------

/// What a [`Runtime`] owns, learned while its containers live: after every
/// [`Runtime::run`] and at cleanup from the records in its root, and from
/// the [`unique_id`]s passed to [`Runtime::cmd`].
#[derive(Debug, Default)]
struct Owned {
    /// Container ids seen in the root.
    ids: BTreeSet<String>,
    /// Ids made by [`unique_id`] in this process (seen in the root or on a
    /// command line): a cgroup or process naming one can only be ours.
    unique_ids: BTreeSet<String>,
    /// `/proc/PID/ns/pid` of the containers' processes (when not ours),
    /// the container, and the process seen in it (pid, start time). A
    /// namespace inode number is reused once the namespace is gone, and a
    /// pid namespace is gone (no process can be in it) once its init died:
    /// the namespace counts only while that process lives.
    pid_ns: BTreeMap<String, (String, i32, u64)>,
    /// `/proc/PID/cgroup` lines (`N:controllers:/path`) of the containers'
    /// inits (when not the test's own), and the container.
    cgroups: BTreeMap<String, String>,
    /// The containers' bundles.
    bundles: BTreeSet<PathBuf>,
    /// Monitors (pid, start time) and their container.
    monitors: BTreeMap<(i32, u64), String>,
}

/// What the safety net found after the runtime's own `kill` and `delete`.
#[derive(Debug, Default)]
struct Leftovers {
    records: Vec<PathBuf>,
    /// (mount id, mount point)
    mounts: Vec<(u64, String)>,
    /// (pid, why it is ours)
    processes: Vec<(i32, String)>,
    cgroups: Vec<PathBuf>,
}

impl Leftovers {
    fn is_empty(&self) -> bool {
        self.records.is_empty()
            && self.mounts.is_empty()
            && self.processes.is_empty()
            && self.cgroups.is_empty()
    }

    fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(
            self.records
                .iter()
                .map(|r| format!("record {}", r.display())),
        );
        out.extend(
            self.mounts
                .iter()
                .map(|(id, m)| format!("mount {m} (mount id {id})")),
        );
        out.extend(self.processes.iter().map(|(_, d)| format!("process {d}")));
        out.extend(
            self.cgroups
                .iter()
                .map(|c| format!("cgroup {}", c.display())),
        );
        out
    }
}

/// The safety net of a [`Runtime`]: kills and deletes every container left
/// in its root with the runtime's own `kill` and `delete --force` (or
/// `destroy`), then looks for what the runtime still left of the containers
/// it ever had (see [`Owned`]): record directories, mounts (by mount id)
/// under the root or a container's bundle, live processes in a container's
/// pid namespace or cgroup (or naming the root), cgroup directories of a
/// container or naming its id. It removes those and, on drop, fails the
/// test with the list (unless the test is already failing); then removes
/// the root.
///
/// One `Cleanup` per runtime, never cloned: its drop is the check, in the
/// thread of the test that owns the runtime. (Other threads only borrow
/// the inner state through [`LIVE_CLEANUPS`]; had their temporary handles
/// been `Cleanup`s too, a test dropping its bundle while another dropped
/// its runtime would have run, and failed, the other test's check.)
#[derive(Debug)]
pub struct Cleanup {
    inner: Arc<CleanupInner>,
}

#[derive(Debug)]
struct CleanupInner {
    bin: PathBuf,
    root: PathBuf,
    owned: Mutex<Owned>,
}

/// Every live [`Cleanup`], so that a [`Bundle`] dropped before the runtime
/// using it (locals drop in reverse order of declaration) first has that
/// runtime clean up and check its containers.
static LIVE_CLEANUPS: Mutex<Vec<Weak<CleanupInner>>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cleanup {
    pub fn new(bin: impl AsRef<Path>, root: impl AsRef<Path>) -> Cleanup {
        let inner = Arc::new(CleanupInner {
            bin: bin.as_ref().to_path_buf(),
            root: root.as_ref().to_path_buf(),
            owned: Mutex::new(Owned::default()),
        });
        let mut live = lock(&LIVE_CLEANUPS);
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&inner));
        Cleanup { inner }
    }

    /// Learns what the containers now in the root own (cheap: a few small
    /// files per container).
    pub fn observe(&self) {
        self.inner.observe();
    }

    /// Notes `id` (if made by [`unique_id`]) as one of this runtime's.
    fn note_arg(&self, arg: &OsStr) {
        if let Some(a) = arg.to_str() {
            if is_unique_id(a) {
                lock(&self.inner.owned).unique_ids.insert(a.to_string());
            }
        }
    }

    /// Does the cleanup now (idempotent) and returns what the runtime left
    /// (already removed), one line each.
    pub fn run_now(&self) -> Vec<String> {
        self.inner.run_now()
    }

    /// [`Cleanup::run_now`], then panics listing the leftovers, unless the
    /// thread is already panicking.
    #[track_caller]
    pub fn check_now(&self) {
        self.inner.check_now();
    }
}

impl CleanupInner {
    #[track_caller]
    fn check_now(&self) {
        let leaks = self.run_now();
        if !leaks.is_empty() && !std::thread::panicking() {
            panic!(
                "runtime {} (root {}) left behind after its own delete (now removed):\n  {}",
                self.bin.display(),
                self.root.display(),
                leaks.join("\n  ")
            );
        }
    }

    fn observe(&self) {
        let ids = container_ids_in(&self.root);
        if ids.is_empty() {
            return;
        }
        let own_ns = fs::read_link("/proc/self/ns/pid").ok();
        let own_cgroups = cgroup_lines(std::process::id() as i32);
        let mut owned = lock(&self.owned);
        for id in ids {
            let dir = self.root.join(&id);
            if is_unique_id(&id) {
                owned.unique_ids.insert(id.clone());
            }
            owned.bundles.extend(recorded_bundle(&dir));
            for (pid, start) in recorded_monitors(&dir) {
                owned.monitors.insert((pid, start), id.clone());
            }
            for (pid, recorded_start) in recorded_pids(&dir) {
                // pid_max is small here: a recorded pid may be another's now.
                let Some(start) = pid_start_time(pid) else {
                    continue;
                };
                if !pid_alive(pid) || recorded_start.is_some_and(|s| s != start) {
                    continue;
                }
                if let Ok(ns) = fs::read_link(format!("/proc/{pid}/ns/pid")) {
                    if Some(&ns) != own_ns.as_ref() {
                        owned
                            .pid_ns
                            .entry(ns.to_string_lossy().into_owned())
                            .or_insert((id.clone(), pid, start));
                    }
                }
                for line in cgroup_lines(pid) {
                    let path = line.splitn(3, ':').nth(2).unwrap_or("/");
                    if path != "/" && !own_cgroups.contains(&line) {
                        owned.cgroups.insert(line, id.clone());
                    }
                }
            }
            owned.ids.insert(id);
        }
    }

    /// The runtime's own `kill` and `delete --force` (or `destroy`) of `id`.
    fn remove_container(&self, id: &str) {
        let rt = |args: &[&str]| {
            let mut c = Command::new(&self.bin);
            c.arg("--root").arg(&self.root).args(args);
            run_command(&mut c, b"", Duration::from_secs(10))
        };
        let _ = rt(&["kill", id, "KILL"]);
        let _ = rt(&["delete", "--force", id]);
        if self.root.join(id).exists() {
            // run_oci dialect spelling of delete.
            let _ = rt(&["destroy", id]);
        }
    }

    /// Removes the containers whose record names `bundle` now, with the
    /// runtime's own commands, before that bundle goes; the leak check
    /// stays with the runtime's drop. Only those: another container of the
    /// same runtime may still be in use by its test.
    fn remove_containers_of(&self, bundle: &Path) {
        for id in container_ids_in(&self.root) {
            if recorded_bundle(&self.root.join(&id))
                .iter()
                .any(|b| b == bundle)
            {
                self.remove_container(&id);
            }
        }
    }

    fn run_now(&self) -> Vec<String> {
        self.observe();
        let ids = container_ids_in(&self.root);
        for id in &ids {
            self.remove_container(id);
        }
        // Processes the runtime killed may take a moment to die, and a
        // monitor to finish undoing its container: wait for that, bounded.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut left = self.leftovers();
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            left = self.leftovers();
        }
        let described = left.describe();
        self.remove(&left);
        if self.root.exists() {
            unmount_under(&self.root);
            if let Err(e) = fs::remove_dir_all(&self.root) {
                eprintln!("runoci-tests: cannot remove {}: {e}", self.root.display());
            }
        }
        described
    }

    fn leftovers(&self) -> Leftovers {
        let owned = lock(&self.owned);
        let mut left = Leftovers {
            records: container_ids_in(&self.root)
                .into_iter()
                .map(|id| self.root.join(id))
                .collect(),
            ..Leftovers::default()
        };
        for (id, point) in mount_table() {
            let p = Path::new(&point);
            if p.starts_with(&self.root) || owned.bundles.iter().any(|b| p.starts_with(b)) {
                left.mounts.push((id, point));
            }
        }
        if owned.ids.is_empty() && owned.unique_ids.is_empty() {
            return left;
        }
        let me = std::process::id() as i32;
        let root = self.root.to_string_lossy().into_owned();
        for pid in all_pids() {
            if pid == me || pid == 1 || !pid_alive(pid) {
                continue;
            }
            if let Some(why) = owned_process(&owned, pid, &root) {
                left.processes
                    .push((pid, format!("{pid} ({:?}) {why}", pid_cmdline(pid))));
            }
        }
        let rels: BTreeSet<&str> = owned
            .cgroups
            .keys()
            .filter_map(|l| l.splitn(3, ':').nth(2))
            .collect();
        for dir in cgroup_dirs() {
            let Some(rel) = cgroup_rel(&dir) else {
                continue;
            };
            let by_path = rels.contains(rel.as_str());
            let by_id = rel
                .split('/')
                .any(|c| owned.unique_ids.iter().any(|id| names_id(c, id)));
            if by_path || by_id {
                left.cgroups.push(dir);
            }
        }
        left
    }

    /// Removes what [`CleanupInner::leftovers`] found: processes (SIGKILL),
    /// mounts (lazily), cgroups (deepest first, once empty); record
    /// directories go with the root.
    fn remove(&self, left: &Leftovers) {
        for (pid, _) in &left.processes {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while left.processes.iter().any(|(p, _)| pid_alive(*p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        for (_, m) in left.mounts.iter().rev() {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        let mut cgroups = left.cgroups.clone();
        cgroups.sort_by_key(|c| std::cmp::Reverse(c.components().count()));
        for cg in cgroups {
            for _ in 0..100 {
                match fs::remove_dir(&cg) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    _ => break,
                }
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.check_now();
    }
}

/// Why live `pid` belongs to one of `owned`'s containers, if it does.
fn owned_process(owned: &Owned, pid: i32, root: &str) -> Option<String> {
    if let Ok(ns) = fs::read_link(format!("/proc/{pid}/ns/pid")) {
        if let Some((id, seen, start)) = owned.pid_ns.get(ns.to_string_lossy().as_ref()) {
            if pid_start_time(*seen) == Some(*start) {
                return Some(format!("in the pid namespace of container {id}"));
            }
        }
    }
    for line in cgroup_lines(pid) {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        for (l, id) in &owned.cgroups {
            if line == *l || line.starts_with(&format!("{l}/")) {
                return Some(format!("in cgroup {path} of container {id}"));
            }
        }
        if let Some(id) = owned
            .unique_ids
            .iter()
            .find(|id| path.split('/').any(|c| names_id(c, id)))
        {
            return Some(format!("in cgroup {path} naming container {id}"));
        }
    }
    if let Some(id) = owned.monitors.iter().find_map(|((p, start), id)| {
        (*p == pid && pid_start_time(pid) == Some(*start)).then_some(id)
    }) {
        return Some(format!("the monitor of container {id}"));
    }
    let cmdline = pid_cmdline(pid);
    if mentions(&cmdline, root) {
        return Some(format!("names the root {root}"));
    }
    None
}

/// Whether a cgroup path component names container `id`: `id` itself or
/// systemd's `<prefix>-<id>.scope`.
fn names_id(component: &str, id: &str) -> bool {
    component == id
        || component
            .strip_suffix(".scope")
            .and_then(|c| c.strip_suffix(id))
            .is_some_and(|c| c.ends_with('-'))
}

/// Whether `s` contains a [`unique_id`] of this process
/// (`prefix-<our pid>-<counter>`, maybe with a suffix).
fn is_unique_id(s: &str) -> bool {
    let pid = std::process::id().to_string();
    let parts: Vec<&str> = s.split('-').collect();
    !s.contains('/')
        && parts.windows(3).any(|w| {
            !w[0].is_empty()
                && w[1] == pid
                && !w[2].is_empty()
                && w[2].bytes().all(|b| b.is_ascii_digit())
        })
}

/// `/proc/PID/cgroup`, one line each (empty if gone).
fn cgroup_lines(pid: i32) -> Vec<String> {
    fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// A cgroup directory's path inside its hierarchy (`/sys/fs/cgroup/pids/a/b`
/// → `/a/b`; pure v2 `/sys/fs/cgroup/a/b` → `/a/b` unless `a` is a
/// hierarchy mount).
fn cgroup_rel(dir: &Path) -> Option<String> {
    let rest = dir.strip_prefix("/sys/fs/cgroup").ok()?;
    let mut comps = rest.components();
    let first = comps.next()?;
    let hierarchy = Path::new("/sys/fs/cgroup").join(first);
    let rel = if is_mount_point(&hierarchy) {
        comps.as_path().to_path_buf()
    } else {
        rest.to_path_buf()
    };
    if rel.as_os_str().is_empty() {
        return None;
    }
    Some(format!("/{}", rel.to_string_lossy()))
}

fn is_mount_point(p: &Path) -> bool {
    match (fs::metadata(p), p.parent().map(fs::metadata)) {
        (Ok(a), Some(Ok(b))) => a.dev() != b.dev(),
        _ => false,
    }
}

/// Start time (`/proc/PID/stat` field 22) of `pid`.
fn pid_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn container_ids_in(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Pids a runtime recorded for a container, with their start time where
/// recorded: runoci's `container.pid` and `runtime.json` `pid` /
/// `pidStartTime`, runc's `state.json` `init_process_pid` /
/// `init_process_start`, crun's `status` `pid` / `process-start-time`, the
/// OCI state's `pid`.
fn recorded_pids(dir: &Path) -> Vec<(i32, Option<u64>)> {
    let mut pids: Vec<(i32, Option<u64>)> = Vec::new();
    if let Ok(s) = fs::read_to_string(dir.join("container.pid")) {
        pids.extend(s.trim().parse::<i32>().ok().map(|p| (p, None)));
    }
    for (file, key, start_key) in [
        ("state.json", "init_process_pid", "init_process_start"),
        ("state.json", "pid", ""),
        ("status", "pid", "process-start-time"),
        ("runtime.json", "pid", "pidStartTime"),
    ] {
        if let Some(v) = read_json(&dir.join(file)) {
            if let Some(p) = v[key].as_i64() {
                pids.push((p as i32, v[start_key].as_u64()));
            }
        }
    }
    pids.retain(|(p, _)| *p > 1);
    // One entry per pid, with a start time if any file recorded one.
    pids.sort_by_key(|(p, start)| (*p, start.is_none()));
    pids.dedup_by_key(|(p, _)| *p);
    pids
}

/// runoci's monitor of a container (`runtime.json`), pid and start time.
fn recorded_monitors(dir: &Path) -> Vec<(i32, u64)> {
    let Some(v) = read_json(&dir.join("runtime.json")) else {
        return Vec::new();
    };
    match (v["monitorPid"].as_i64(), v["monitorStartTime"].as_u64()) {
        (Some(pid), Some(start)) if pid > 1 => vec![(pid as i32, start)],
        _ => Vec::new(),
    }
}

/// A container's bundle: runoci's `config.json` link, the OCI state's
/// `bundle` (runoci, crun), runc's `bundle=` label.
fn recorded_bundle(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(target) = fs::read_link(dir.join("config.json")) {
        out.extend(target.parent().map(Path::to_path_buf));
    }
    for file in ["state.json", "status"] {
        if let Some(v) = read_json(&dir.join(file)) {
            out.extend(v["bundle"].as_str().map(PathBuf::from));
            if let Some(labels) = v["config"]["labels"].as_array() {
                out.extend(
                    labels
                        .iter()
                        .filter_map(|l| l.as_str()?.strip_prefix("bundle="))
                        .map(PathBuf::from),
                );
            }
        }
    }
    out.retain(|b| b.is_absolute() && b.parent().is_some());
    out
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// A runtime binary with its own `--root` directory (unique per Runtime, so
/// tests run in parallel). Dropping it kills and deletes its containers,
/// fails the test if the runtime left anything of them, and removes the root
/// (see [`Cleanup`]).
#[derive(Debug)]
pub struct Runtime {
    bin: PathBuf,
    root: PathBuf,
    timeout: Duration,
    cleanup: Cleanup,
}

impl Runtime {
    /// The workspace's runoci binary (see [`runoci_bin`]).
    pub fn runoci() -> Runtime {
        Runtime::at(runoci_bin())
    }

    /// `/usr/bin/runc`.
    pub fn runc() -> Runtime {
        Runtime::at("/usr/bin/runc")
    }

    /// `/usr/bin/crun`.
    pub fn crun() -> Runtime {
        Runtime::at("/usr/bin/crun")
    }

    /// Any runtime binary with the runc-style global `--root`.
    pub fn at(bin: impl AsRef<Path>) -> Runtime {
        let bin = bin.as_ref().to_path_buf();
        let root = test_dir().join(format!("r{}-{}", std::process::id(), next_counter()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir(&root).unwrap_or_else(|e| panic!("create {}: {e}", root.display()));
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", root.display()));
        Runtime {
            cleanup: Cleanup::new(&bin, &root),
            bin,
            root,
            timeout: default_timeout(),
        }
    }

    /// The binary.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The `--root` directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// [`Runtime::root`] as a `&str`.
    pub fn root_str(&self) -> &str {
        self.root.to_str().expect("root path is UTF-8")
    }

    /// Per-command timeout (default [`default_timeout`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Runtime {
        self.timeout = timeout;
        self
    }

    /// `<bin> --root <root> <args...>`, not yet run.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root);
        for a in args {
            self.cleanup.note_arg(a.as_ref());
            c.arg(a);
        }
        c
    }

    /// Runs `<bin> --root <root> <args...>` with stdin /dev/null and the
    /// timeout.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_with_input(args, b"")
    }

    /// Like [`Runtime::run`] with `input` on stdin.
    pub fn run_with_input<I, S>(&self, args: I, input: &[u8]) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = run_command(&mut self.cmd(args), input, self.timeout);
        self.cleanup.observe();
        out
    }

    /// Learns what the containers now in the root own (their pid
    /// namespaces, cgroups, bundles, monitors), for the leak check of
    /// [`Cleanup`]. [`Runtime::run`] does this after every command; call it
    /// after starting a container with [`Runtime::cmd`] yourself.
    pub fn observe(&self) {
        self.cleanup.observe();
    }

    /// `state <id>`, asserted successful, parsed.
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        self.run(["state", id]).assert_ok().json()
    }

    /// Container ids present in the root directory.
    pub fn container_ids(&self) -> Vec<String> {
        container_ids_in(&self.root)
    }

    /// Kills and deletes every container in the root now, with the
    /// runtime's own commands, and fails the test if anything of a container
    /// is left after that (see [`Cleanup`]); the root is removed too, and
    /// recreated empty.
    #[track_caller]
    pub fn cleanup_now(&self) {
        self.cleanup.check_now();
        let _ = fs::create_dir(&self.root);
        let _ = fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700));
    }
}

// ---------------------------------------------------------------------------
// Finding (and building) runoci
// ---------------------------------------------------------------------------

/// The workspace root (this crate's parent directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The target profile directory this test executable was built into
/// (`<target>/<profile>`), from `<target>/<profile>/deps/<test-exe>`.
fn profile_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        if let Some(deps) = exe.parent() {
            if deps.file_name() == Some(OsStr::new("deps")) {
                if let Some(p) = deps.parent() {
                    return p.to_path_buf();
                }
            }
            // A bin target lives directly in <target>/<profile>.
            if deps.join("deps").is_dir() {
                return deps.to_path_buf();
            }
        }
    }
    // .cargo/config.toml names the host's triple (`host-tuple`) as the
    // build target.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let triple = format!(
        "{}-unknown-{}-gnu",
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    target.join(triple).join(if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    })
}

/// The target directory (`CARGO_TARGET_DIR`) of profile directory `dir`:
/// `<target>/<profile>`, or `<target>/<triple>/<profile>` when the build
/// named its target (cargo marks the target directory with CACHEDIR.TAG).
fn target_dir_of(dir: &Path) -> Option<(&Path, Option<&OsStr>)> {
    let parent = dir.parent()?;
    // `target/<triple>/release`: cargo tags `target/<triple>` too, so the
    // outer tag is looked for first (else the build would go to
    // `target/<triple>/<triple>/release`, leaving this binary stale).
    if let Some(top) = parent.parent() {
        if top.join("CACHEDIR.TAG").exists() {
            return Some((top, parent.file_name()));
        }
    }
    parent
        .join("CACHEDIR.TAG")
        .exists()
        .then_some((parent, None))
}

fn newest_source_mtime() -> SystemTime {
    fn walk(p: &Path, newest: &mut SystemTime) {
        let Ok(meta) = fs::metadata(p) else { return };
        if meta.is_dir() {
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    walk(&e.path(), newest);
                }
            }
        } else if let Ok(m) = meta.modified() {
            let name = p.to_string_lossy();
            if (name.ends_with(".rs") || name.ends_with(".toml") || name.ends_with(".lock"))
                && m > *newest
            {
                *newest = m;
            }
        }
    }
    let root = workspace_root();
    let mut newest = SystemTime::UNIX_EPOCH;
    for p in [
        "Cargo.toml",
        "Cargo.lock",
        "proto",
        "runoci-core",
        "runoci",
        "runoci-monitor",
    ] {
        walk(&root.join(p), &mut newest);
    }
    newest
}

/// Path of the runoci binary under test: `$RUNOCI_BIN` if set, else
/// `runoci` in the same target profile directory as this test executable.
/// If that is missing or older than the sources of proto/, runoci-core/,
/// runoci/ and runoci-monitor/, runs `cargo build --bins` for that profile first (once
/// per test process; cargo's lock serializes concurrent builds).
pub fn runoci_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("RUNOCI_BIN") {
            return PathBuf::from(p);
        }
        let dir = profile_dir();
        let bin = dir.join("runoci");
        let fresh = fs::metadata(&bin)
            .and_then(|m| m.modified())
            .map(|m| m >= newest_source_mtime())
            .unwrap_or(false);
        if !fresh {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
            let mut c = Command::new(cargo);
            c.current_dir(workspace_root()).args([
                "build",
                "--bins",
                "-p",
                "runoci",
                "-p",
                "runoci-monitor",
            ]);
            match dir.file_name().and_then(OsStr::to_str) {
                Some("debug") => {}
                Some("release") => {
                    c.arg("--release");
                }
                Some(other) => {
                    c.args(["--profile", other]);
                }
                None => {}
            }
            if let Some((target, triple)) = target_dir_of(&dir) {
                c.env("CARGO_TARGET_DIR", target);
                if let Some(t) = triple {
                    c.arg("--target").arg(t);
                }
            }
            let out = run_command(&mut c, b"", Duration::from_secs(1800));
            if !out.success() {
                panic!("building runoci failed\n{out}");
            }
        }
        assert!(bin.exists(), "no runoci binary at {}", bin.display());
        bin
    })
}

/// Writes `text` to `path` as an executable (0755) through a child
/// process, so that no fd of this test process ever has it open for
/// writing: a thread of this process forking in the meantime (tests run in
/// parallel) would hold such an fd until its exec, and the kernel refuses
/// to execute a file open for writing (ETXTBSY: a hook failed to start with
/// "Text file busy" under load).
pub fn write_executable(path: &Path, text: &str) {
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path);
    let out = run_command(&mut cmd, text.as_bytes(), default_timeout());
    assert!(out.success(), "write {}\n{out}", path.display());
}

/// `text` as lines of whitespace-separated words (for comparing output
/// such as `/proc/self/uid_map` without caring about column widths).
pub fn word_lines(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .map(|l| l.split_whitespace().collect())
        .collect()
}
