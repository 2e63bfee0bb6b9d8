//! Helpers for the end-to-end tests with real container engines (podman,
//! containerd) that use runoci as their OCI runtime.
//!
//! - [`podman_image`]: the busybox template ([`crate::busybox_template`])
//!   imported into podman as `localhost/runoci-test-<pid>-<n>`, shared by
//!   the tests of one process while any holds it, removed (`podman rmi`)
//!   when the last holder drops it;
//! - [`Podman`]: `podman --runtime <runoci> --cgroup-manager cgroupfs`,
//!   plus a guard per container that `podman rm -f`s it on drop;
//! - [`docker_archive`]: that image saved by podman as a docker-archive
//!   (what `ctr images import` reads), shared and removed the same way;
//! - [`Containerd`]: a private containerd daemon (own root, state, socket,
//!   config, plus any extra TOML given to [`Containerd::start_with`])
//!   stopped and cleaned up on drop, with a namespace of its own so its
//!   runtime root (`/run/containerd/runc/<ns>`, [`Containerd::runc_root`])
//!   is never shared.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::{
    busybox_template, run_command, runoci_bin, test_dir, unique_id, unmount_under, workspace_root,
    Output,
};

/// Timeout of one engine command.
pub const ENGINE_TIMEOUT: Duration = Duration::from_secs(120);

/// Resource limits every `podman run` must be given on these machines:
/// CAP_SYS_RESOURCE is not in the bounding set, so podman's defaults (the
/// host's hard limits) cannot be applied inside.
pub const PODMAN_ULIMITS: [&str; 4] = [
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

/// A snippet of `packaging/engines/` (what the package installs as an
/// example) with its `/usr/bin/runoci` replaced by the runoci under test.
pub fn snippet(name: &str) -> String {
    let path = workspace_root().join("packaging/engines").join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        text.contains("\"/usr/bin/runoci\""),
        "{} does not name /usr/bin/runoci",
        path.display()
    );
    let bin = runoci_bin().to_str().expect("UTF-8 path");
    text.replace("\"/usr/bin/runoci\"", &format!("\"{bin}\""))
}

/// Runs `cmd` (no input) with [`ENGINE_TIMEOUT`].
pub fn run(cmd: &mut Command) -> Output {
    run_command(cmd, b"", ENGINE_TIMEOUT)
}

/// Gives out one shared `T` while anyone holds it; made again by `make`
/// once every holder has dropped it (its `Drop` removes it).
pub fn shared<T>(slot: &Mutex<Weak<T>>, make: impl FnOnce() -> T) -> Arc<T> {
    let mut weak = slot.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = weak.upgrade() {
        return t;
    }
    let t = Arc::new(make());
    *weak = Arc::downgrade(&t);
    t
}

/// Tars the busybox template (without its `.complete` marker) into `out`.
/// Other tests hard-link the template's busybox into their bundles while
/// this reads it; each new link changes the inode's ctime, which GNU tar
/// reports as "file changed as we read it" (exit 1) though no byte did.
/// That warning alone is not a failure here.
pub fn busybox_tarball(out: &Path) {
    let mut c = Command::new("tar");
    c.arg("-C")
        .arg(busybox_template())
        .args(["--exclude=./.complete", "-cf"])
        .arg(out)
        .arg(".");
    let o = run(&mut c);
    let only_ctime = o.status.code() == Some(1)
        && o.stderr
            .lines()
            .all(|l| l.trim().is_empty() || l.ends_with("file changed as we read it"));
    if !only_ctime {
        o.assert_ok();
    }
}

/// A busybox image in podman's storage, removed on drop.
#[derive(Debug)]
pub struct PodmanImage {
    pub name: String,
}

impl PodmanImage {
    /// The busybox template imported as `localhost/<prefix>-<pid>-<n>`,
    /// with `PATH` set and the `podman import --change`s `changes`.
    pub fn import(prefix: &str, changes: &[&str]) -> PodmanImage {
        let name = format!("localhost/{}", unique_id(prefix));
        let tar = test_dir().join(format!("{}.tar", unique_id("bb-rootfs")));
        busybox_tarball(&tar);
        let mut c = Command::new("podman");
        c.args(["import", "--change", "ENV=PATH=/bin:/usr/bin:/sbin"]);
        for change in changes {
            c.args(["--change", change]);
        }
        let out = run(c.arg(&tar).arg(&name));
        let _ = fs::remove_file(&tar);
        out.assert_ok();
        PodmanImage { name }
    }
}

impl Drop for PodmanImage {
    fn drop(&mut self) {
        let out = run(Command::new("podman").args(["rmi", "-f", &self.name]));
        if !out.success() {
            eprintln!("runoci-tests: cannot remove image {}\n{out}", self.name);
        }
    }
}

/// The busybox image of this test process (see the module doc).
pub fn podman_image() -> Arc<PodmanImage> {
    static SLOT: Mutex<Weak<PodmanImage>> = Mutex::new(Weak::new());
    shared(&SLOT, || PodmanImage::import("runoci-test", &[]))
}

/// A docker-archive of the busybox image, deleted on drop.
#[derive(Debug)]
pub struct DockerArchive {
    pub path: PathBuf,
    /// The image's name inside the archive (`localhost/...:latest`).
    pub image: String,
}

impl DockerArchive {
    /// `image` saved by `podman save --format docker-archive`.
    pub fn save(image: &PodmanImage) -> DockerArchive {
        let path = test_dir().join(format!("{}.tar", unique_id("bb-image")));
        run(Command::new("podman")
            .args(["save", "--format", "docker-archive", "-o"])
            .arg(&path)
            .arg(&image.name))
        .assert_ok();
        DockerArchive {
            path,
            image: format!("{}:latest", image.name),
        }
    }
}

impl Drop for DockerArchive {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// The busybox image as a docker-archive (see the module doc).
pub fn docker_archive() -> Arc<DockerArchive> {
    static SLOT: Mutex<Weak<DockerArchive>> = Mutex::new(Weak::new());
    shared(&SLOT, || DockerArchive::save(&podman_image()))
}

/// `podman` with runoci as its runtime.
#[derive(Debug)]
pub struct Podman {
    pub runtime: PathBuf,
    pub image: Arc<PodmanImage>,
}

impl Podman {
    /// runoci ([`runoci_bin`]) and the process's busybox image.
    pub fn new() -> Podman {
        Podman::with_runtime(runoci_bin())
    }

    pub fn with_runtime(runtime: &Path) -> Podman {
        Podman {
            runtime: runtime.to_path_buf(),
            image: podman_image(),
        }
    }

    /// `podman --runtime R --cgroup-manager cgroupfs <args>`, not run.
    pub fn cmd<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new("podman");
        c.arg("--runtime")
            .arg(&self.runtime)
            .args(["--cgroup-manager", "cgroupfs"])
            .args(args);
        c
    }

    /// Runs `podman ... <args>`.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        run(&mut self.cmd(args))
    }

    /// `podman run --rm --net none <ulimits> <opts...> IMAGE <cmd...>`.
    pub fn run_rm(&self, opts: &[&str], cmd: &[&str]) -> Output {
        let mut args: Vec<&str> = vec!["run", "--rm", "--net", "none"];
        args.extend(PODMAN_ULIMITS);
        args.extend(opts);
        args.push(&self.image.name);
        args.extend(cmd);
        self.run(&args)
    }

    /// A guard for container `name`: `podman rm -f` on drop.
    pub fn guard(&self, name: &str) -> PodmanContainer {
        PodmanContainer {
            runtime: self.runtime.clone(),
            name: name.to_string(),
        }
    }
}

impl Default for Podman {
    fn default() -> Self {
        Podman::new()
    }
}

/// Removes a podman container (forcibly) when dropped.
#[derive(Debug)]
pub struct PodmanContainer {
    runtime: PathBuf,
    pub name: String,
}

impl Drop for PodmanContainer {
    fn drop(&mut self) {
        let mut c = Command::new("podman");
        c.arg("--runtime")
            .arg(&self.runtime)
            .args(["--cgroup-manager", "cgroupfs", "rm", "-f", "-t", "0", "-i"])
            .arg(&self.name);
        let out = run(&mut c);
        if !out.success() {
            eprintln!("runoci-tests: podman rm -f {} failed\n{out}", self.name);
        }
    }
}

/// Whether `dir` lives on overlayfs (the overlayfs snapshotter cannot nest
/// there; containerd then uses `native`).
fn on_overlayfs(dir: &Path) -> bool {
    nix::sys::statfs::statfs(dir)
        .map(|s| s.filesystem_type() == nix::sys::statfs::OVERLAYFS_SUPER_MAGIC)
        .unwrap_or(false)
}

/// A private containerd daemon; stopped, and its containers removed, on
/// drop.
#[derive(Debug)]
pub struct Containerd {
    pub dir: PathBuf,
    pub socket: PathBuf,
    /// The namespace every `ctr` call of [`Containerd::ctr`] uses.
    pub namespace: String,
    pub snapshotter: &'static str,
    runc_root: PathBuf,
    child: Option<Child>,
}

impl Containerd {
    /// Starts `containerd` with a minimal config in a new directory and
    /// waits until it answers.
    pub fn start() -> Containerd {
        Containerd::start_with("")
    }

    /// [`Containerd::start`] with `extra_config` (TOML) appended to the
    /// minimal config; its own `version` line is dropped (the base config
    /// has one).
    pub fn start_with(extra_config: &str) -> Containerd {
        Containerd::launch(false, |_, _| extra_config.to_string())
    }

    /// A containerd with its CRI plugin (the kubelet's API, on
    /// [`Containerd::socket`]) enabled; `ctr` then works in CRI's namespace
    /// `k8s.io`. `extra_config` is given the daemon's directory and its
    /// snapshotter and returns
    /// the TOML to append (the CRI plugin's section): its runtimes must
    /// keep their state (`options.Root`) under [`Containerd::runc_root`],
    /// which is private to this daemon.
    pub fn start_cri(extra_config: impl FnOnce(&Path, &str) -> String) -> Containerd {
        Containerd::launch(true, extra_config)
    }

    fn launch(cri: bool, extra_config: impl FnOnce(&Path, &str) -> String) -> Containerd {
        let name = unique_id("ctrd");
        let dir = test_dir().join(&name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let socket = dir.join("c.sock");
        let snapshotter = if on_overlayfs(&dir) {
            "native"
        } else {
            "overlayfs"
        };
        let extra_config = extra_config(&dir, snapshotter);
        let cri_plugin = if cri {
            ""
        } else {
            "\"io.containerd.grpc.v1.cri\", "
        };
        let d = dir.display();
        let mut config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = [{cri_plugin}"io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{d}/c.sock"
[ttrpc]
  address = "{d}/c.sock.ttrpc"
[debug]
  address = "{d}/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"#
        );
        if !extra_config.is_empty() {
            config.push('\n');
            for line in extra_config.lines() {
                if !line.trim_start().starts_with("version") {
                    config.push_str(line);
                    config.push('\n');
                }
            }
        }
        fs::write(dir.join("config.toml"), config).expect("write containerd config");
        let log = fs::File::create(dir.join("containerd.log")).expect("containerd log");
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start containerd: {e}"));
        let (namespace, runc_root) = if cri {
            ("k8s.io".to_string(), dir.join("rt"))
        } else {
            let root = Path::new("/run/containerd/runc").join(&name);
            (name, root)
        };
        let mut daemon = Containerd {
            socket,
            namespace,
            runc_root,
            snapshotter,
            child: Some(child),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = daemon.ctr(&["version"]);
            if out.success() {
                break;
            }
            if let Some(c) = daemon.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    daemon.child = None;
                    panic!("containerd exited ({status}):\n{}", daemon.log());
                }
            }
            if Instant::now() > deadline {
                panic!("containerd did not answer\n{out}\n{}", daemon.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    /// `ctr --address SOCK --namespace NS <args>`, not run.
    pub fn ctr_cmd<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(&self.socket)
            .arg("--namespace")
            .arg(&self.namespace)
            .args(args);
        c
    }

    /// Runs `ctr ... <args>`.
    pub fn ctr<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        run(&mut self.ctr_cmd(args))
    }

    /// Imports the busybox docker-archive; returns the image reference.
    pub fn import_busybox(&self) -> String {
        self.import(&docker_archive())
    }

    /// Imports (and unpacks) `archive`; returns the image reference.
    pub fn import(&self, archive: &DockerArchive) -> String {
        let path = archive.path.to_str().expect("UTF-8 path");
        self.ctr(&["images", "import", "--snapshotter", self.snapshotter, path])
            .assert_ok();
        archive.image.clone()
    }

    /// Where the runc shim tells its runc binary (runoci) to keep state:
    /// `/run/containerd/runc/<namespace>`, or with CRI (whose namespace is
    /// shared) a directory of this daemon's own.
    pub fn runc_root(&self) -> PathBuf {
        self.runc_root.clone()
    }

    fn ids(&self, what: &[&str]) -> Vec<String> {
        let mut args = what.to_vec();
        args.extend(["ls", "-q"]);
        self.ctr(&args)
            .stdout
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    fn cleanup(&mut self) {
        for task in self.ids(&["tasks"]) {
            let _ = self.ctr(&["tasks", "kill", "--all", "--signal", "SIGKILL", &task]);
            let _ = self.ctr(&["tasks", "rm", "-f", &task]);
        }
        for c in self.ids(&["containers"]) {
            let _ = self.ctr(&["containers", "rm", &c]);
        }
        for image in self.ids(&["images"]) {
            let _ = self.ctr(&["images", "rm", &image]);
        }
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        let _ = fs::remove_dir_all(self.runc_root());
        unmount_under(&self.dir);
        if std::env::var_os("RUNOCI_TEST_KEEP").is_none() {
            if let Err(e) = fs::remove_dir_all(&self.dir) {
                eprintln!("runoci-tests: cannot remove {}: {e}", self.dir.display());
            }
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.cleanup();
    }
}
