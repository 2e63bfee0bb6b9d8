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
//! containerd, saved as a docker-archive and imported with `ctr`), and the
//! daemon a private containerd: the shared helpers of
//! [`runoci_tests::engines`].

use runoci_tests::engines::{run, snippet, Containerd, Podman, ENGINE_TIMEOUT, PODMAN_ULIMITS};
use runoci_tests::{run_command, runoci_bin, test_dir, unique_id, unmount_under};
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn runoci() -> &'static str {
    runoci_bin().to_str().expect("UTF-8 path")
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

#[test]
fn podman_runs_on_runoci_from_the_containers_conf_snippet() {
    let scratch = Scratch::new("podman-conf");
    let conf = scratch.0.join("containers.conf");
    fs::write(&conf, snippet("podman-containers.conf")).unwrap();
    // The process's busybox image, and a guard that `podman rm -f`s the
    // container (with `--runtime` runoci, the snippet's runtime).
    let engine = Podman::new();
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
    let _guard = engine.guard(&name);
    let mut args: Vec<&str> = vec!["run", "--name", &name, "--net", "none"];
    args.extend(PODMAN_ULIMITS);
    args.extend([
        engine.image.name.as_str(),
        "sh",
        "-c",
        "echo hello from runoci; exit 7",
    ]);
    let out = podman(&args);
    out.assert_code(7)
        .assert_stdout_contains("hello from runoci");
    let inspect = podman(&["inspect", "--format", "{{.OCIRuntime}}", &name]);
    inspect.assert_ok();
    assert_eq!(inspect.stdout.trim(), "runoci", "{inspect}");
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

    let d = Containerd::start_with(&text);
    let snapshotter = d.snapshotter;
    let image_ref = d.import_busybox();

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
        ENGINE_TIMEOUT,
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
