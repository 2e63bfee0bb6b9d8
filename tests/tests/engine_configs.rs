//! The engine configuration snippets of `packaging/engines/`, exercised as
//! shipped (only `/usr/bin/runoci` is replaced by the workspace's runoci):
//!
//! - podman with `podman-containers.conf` as its `CONTAINERS_CONF` runs a
//!   container on runoci with no `--runtime` flag;
//! - a containerd started with `containerd-config.toml` merged into its
//!   config, and `ctr run --runtime <runtime_type>` with the entry's
//!   `BinaryName` as the runc binary (ctr does not read CRI runtime entries:
//!   `--runc-binary` is how ctr says `BinaryName`), runs a container on
//!   runoci; runoci's own `state` reads it under the shim's runc root.
//!
//! The image is the busybox template, imported into podman (and, for
//! containerd, saved as a docker-archive and imported with `ctr`).

use runoci_tests::{
    busybox_template, run_command, runoci_bin, test_dir, unique_id, unmount_under, workspace_root,
    Output,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(180);

fn run(cmd: &mut Command) -> Output {
    run_command(cmd, b"", TIMEOUT)
}

fn runoci() -> &'static str {
    runoci_bin().to_str().expect("UTF-8 path")
}

/// A snippet of `packaging/engines/` with the installed path replaced.
fn snippet(name: &str) -> String {
    let path = workspace_root().join("packaging/engines").join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        text.contains("\"/usr/bin/runoci\""),
        "{} does not name /usr/bin/runoci",
        path.display()
    );
    text.replace("\"/usr/bin/runoci\"", &format!("\"{}\"", runoci()))
}

/// The string value of `key = "..."` in TOML text (first occurrence).
fn toml_string(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.trim().split_once('=')?;
        if k.trim() != key {
            return None;
        }
        Some(v.trim().trim_matches('"').to_string())
    })
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(prefix: &str) -> Scratch {
        let dir = test_dir().join(unique_id(prefix));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        unmount_under(&self.0);
        if std::env::var_os("RUNOCI_TEST_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// The busybox template imported into podman's storage; `podman rmi` on
/// drop.
struct PodmanImage {
    name: String,
}

impl PodmanImage {
    fn import(scratch: &Path) -> PodmanImage {
        let name = format!("localhost/{}", unique_id("runoci-cfg"));
        let tar = scratch.join("rootfs.tar");
        run(Command::new("tar")
            .arg("-C")
            .arg(busybox_template())
            .args(["--exclude=./.complete", "-cf"])
            .arg(&tar)
            .arg("."))
        .assert_ok();
        run(Command::new("podman")
            .args(["import", "--change", "ENV=PATH=/bin:/usr/bin:/sbin"])
            .arg(&tar)
            .arg(&name))
        .assert_ok();
        let _ = fs::remove_file(&tar);
        PodmanImage { name }
    }
}

impl Drop for PodmanImage {
    fn drop(&mut self) {
        let _ = run(Command::new("podman").args(["rmi", "-f", &self.name]));
    }
}

/// `podman rm -f` of a container on drop (with the same containers.conf).
struct PodmanContainer<'a> {
    conf: &'a Path,
    name: String,
}

impl Drop for PodmanContainer<'_> {
    fn drop(&mut self) {
        let _ = run(Command::new("podman")
            .env("CONTAINERS_CONF", self.conf)
            .args(["--cgroup-manager", "cgroupfs", "rm", "-f", "-i", &self.name]));
    }
}

#[test]
fn podman_runs_on_runoci_from_the_containers_conf_snippet() {
    let scratch = Scratch::new("podman-conf");
    let conf = scratch.0.join("containers.conf");
    fs::write(&conf, snippet("podman-containers.conf")).unwrap();
    let image = PodmanImage::import(&scratch.0);
    let podman = |args: &[&str]| {
        run(Command::new("podman")
            .env("CONTAINERS_CONF", &conf)
            .args(["--cgroup-manager", "cgroupfs"])
            .args(args))
    };

    // podman resolves the default runtime from the snippet.
    let info = podman(&[
        "info",
        "--format",
        "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}",
    ]);
    info.assert_ok();
    assert_eq!(info.stdout.trim(), format!("runoci {}", runoci()), "{info}");

    let name = unique_id("cfg-podman");
    let _guard = PodmanContainer {
        conf: &conf,
        name: name.clone(),
    };
    let out = podman(&[
        "run",
        "--name",
        &name,
        "--net",
        "none",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        &image.name,
        "sh",
        "-c",
        "echo hello from runoci; exit 7",
    ]);
    out.assert_code(7)
        .assert_stdout_contains("hello from runoci");
    let inspect = podman(&["inspect", "--format", "{{.OCIRuntime}}", &name]);
    inspect.assert_ok();
    assert_eq!(inspect.stdout.trim(), "runoci", "{inspect}");
}

/// Whether `dir` is on overlayfs (containerd's overlayfs snapshotter cannot
/// nest there; `native` works anywhere).
fn on_overlayfs(dir: &Path) -> bool {
    nix::sys::statfs::statfs(dir)
        .map(|s| s.filesystem_type() == nix::sys::statfs::OVERLAYFS_SUPER_MAGIC)
        .unwrap_or(false)
}

/// A containerd of the test's own (root, state, sockets in a scratch
/// directory; its own namespace); stopped and cleaned up on drop.
struct Containerd {
    dir: PathBuf,
    socket: PathBuf,
    namespace: String,
    child: Option<Child>,
}

impl Containerd {
    fn start(dir: &Path, extra_config: &str) -> Containerd {
        let d = dir.display();
        // Top-level keys first, then tables; the snippet's own `version`
        // line is ours.
        let extra: String = extra_config
            .lines()
            .filter(|l| !l.trim_start().starts_with("version"))
            .map(|l| format!("{l}\n"))
            .collect();
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
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

{extra}"#
        );
        fs::write(dir.join("config.toml"), config).unwrap();
        let log = fs::File::create(dir.join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start containerd: {e}"));
        let mut daemon = Containerd {
            dir: dir.to_path_buf(),
            socket: dir.join("c.sock"),
            namespace: unique_id("cfg"),
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = daemon.ctr(&["version"]);
            if out.success() {
                return daemon;
            }
            if let Some(Ok(Some(status))) = daemon.child.as_mut().map(Child::try_wait) {
                daemon.child = None;
                panic!("containerd exited ({status}):\n{}", daemon.log());
            }
            if Instant::now() > deadline {
                panic!("containerd did not answer\n{out}\n{}", daemon.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    fn ctr(&self, args: &[&str]) -> Output {
        run(Command::new("ctr")
            .arg("--address")
            .arg(&self.socket)
            .arg("--namespace")
            .arg(&self.namespace)
            .args(args))
    }

    /// Where the runc shim tells its runc binary to keep state.
    fn runc_root(&self) -> PathBuf {
        PathBuf::from("/run/containerd/runc").join(&self.namespace)
    }

    fn ids(&self, what: &str) -> Vec<String> {
        self.ctr(&[what, "ls", "-q"])
            .stdout
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        for t in self.ids("tasks") {
            let _ = self.ctr(&["tasks", "kill", "--all", "--signal", "SIGKILL", &t]);
            let _ = self.ctr(&["tasks", "rm", "-f", &t]);
        }
        for c in self.ids("containers") {
            let _ = self.ctr(&["containers", "rm", &c]);
        }
        for i in self.ids("images") {
            let _ = self.ctr(&["images", "rm", &i]);
        }
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(20);
            while matches!(child.try_wait(), Ok(None)) {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = fs::remove_dir_all(self.runc_root());
    }
}

/// The STATUS column of `ctr task ls` for `id`.
fn task_status(d: &Containerd, id: &str) -> String {
    d.ctr(&["task", "ls"])
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.first().map(String::as_str) == Some(id))
        .and_then(|f| f.get(2).cloned())
        .unwrap_or_default()
}

#[test]
fn containerd_runs_on_runoci_from_the_config_snippet() {
    let text = snippet("containerd-config.toml");
    let runtime_type = toml_string(&text, "runtime_type").expect("runtime_type in the snippet");
    let binary = toml_string(&text, "BinaryName").expect("BinaryName in the snippet");
    assert_eq!(runtime_type, "io.containerd.runc.v2");
    assert_eq!(binary, runoci());

    // Scratch before the daemon: the daemon's drop runs first.
    let scratch = Scratch::new("ctrd-conf");
    let image = PodmanImage::import(&scratch.0);
    let archive = scratch.0.join("image.tar");
    run(Command::new("podman")
        .args(["save", "--format", "docker-archive", "-o"])
        .arg(&archive)
        .arg(&image.name))
    .assert_ok();
    let d = Containerd::start(&scratch.0, &text);
    let snapshotter = if on_overlayfs(&scratch.0) {
        "native"
    } else {
        "overlayfs"
    };
    d.ctr(&[
        "images",
        "import",
        "--snapshotter",
        snapshotter,
        archive.to_str().unwrap(),
    ])
    .assert_ok();
    let image_ref = format!("{}:latest", image.name);

    // In the foreground: output and exit code come back through the shim.
    let fg = unique_id("cfg-fg");
    let out = d.ctr(&[
        "run",
        "--rm",
        "--snapshotter",
        snapshotter,
        "--runtime",
        &runtime_type,
        "--runc-binary",
        &binary,
        &image_ref,
        &fg,
        "sh",
        "-c",
        "echo hello from runoci; exit 5",
    ]);
    if out.code() != Some(5) || !out.stdout.contains("hello from runoci") {
        panic!("ctr run failed\n{out}\ncontainerd log:\n{}", d.log());
    }

    // Detached: the container is runoci's (its state is readable by runoci
    // under the shim's runc root) and the container record names the binary.
    let id = unique_id("cfg-bg");
    let out = d.ctr(&[
        "run",
        "-d",
        "--snapshotter",
        snapshotter,
        "--runtime",
        &runtime_type,
        "--runc-binary",
        &binary,
        &image_ref,
        &id,
        "sleep",
        "1000",
    ]);
    if !out.success() {
        panic!("ctr run -d failed\n{out}\ncontainerd log:\n{}", d.log());
    }
    let info = d.ctr(&["containers", "info", &id]);
    info.assert_ok();
    let v = info.json();
    assert_eq!(v["Runtime"]["Name"], runtime_type, "{info}");
    // The runc options (a protobuf, base64 in the JSON) carry BinaryName.
    let options = v["Runtime"]["Options"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no runtime options in\n{info}"));
    let decoded = run_command(
        Command::new("base64").arg("-d"),
        options.as_bytes(),
        TIMEOUT,
    );
    decoded.assert_ok();
    assert!(
        decoded.stdout.contains(&binary),
        "BinaryName {binary} not in the runtime options\n{info}"
    );
    let st = run(Command::new(runoci_bin())
        .arg("--root")
        .arg(d.runc_root())
        .args(["state", &id]));
    st.assert_ok();
    assert_eq!(st.json()["status"], "running", "{st}");
    assert_eq!(task_status(&d, &id), "RUNNING");
    d.ctr(&["tasks", "kill", "--signal", "SIGKILL", &id])
        .assert_ok();
    let deadline = Instant::now() + Duration::from_secs(30);
    while task_status(&d, &id) != "STOPPED" {
        assert!(Instant::now() < deadline, "task never stopped\n{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    d.ctr(&["tasks", "rm", &id]).assert_ok();
    d.ctr(&["containers", "rm", &id]).assert_ok();
    assert!(
        !d.runc_root().join(&id).exists(),
        "runoci's state of {id} was left"
    );
}
