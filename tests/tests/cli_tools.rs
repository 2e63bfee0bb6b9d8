//! The helper commands and the logging a person relies on: a bundle whose
//! config.json `runoci spec` wrote runs (also the `--rootless` one, here as
//! root), `spec` never overwrites, `check` reports and exits 0, and
//! `--debug --log F --log-format json` names every step.

use runoci_tests::{busybox_rootfs, test_dir, unique_id, Bundle, Runtime};
use serde_json::Value;
use std::fs;
use std::path::PathBuf;

/// A directory with a busybox rootfs and no config.json; removed on drop.
struct BareBundle(PathBuf);

impl BareBundle {
    fn new(prefix: &str) -> BareBundle {
        let dir = test_dir().join(unique_id(prefix));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        busybox_rootfs(&dir.join("rootfs")).unwrap();
        BareBundle(dir)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for BareBundle {
    fn drop(&mut self) {
        runoci_tests::unmount_under(&self.0);
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn spec_made_bundle_runs() {
    let b = BareBundle::new("spec-run");
    let rt = Runtime::runoci();
    rt.run(["spec", "--bundle", b.path()]).assert_ok();
    let config: Value =
        serde_json::from_str(&fs::read_to_string(b.0.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["process"]["args"], serde_json::json!(["sh"]));
    assert_eq!(config["process"]["terminal"], false);
    rt.run([
        "run",
        "-c",
        b.path(),
        &unique_id("spec"),
        "--",
        "-c",
        "echo hello; hostname",
    ])
    .assert_ok()
    .assert_stdout_eq("hello\nrunoci\n");
}

#[test]
fn rootless_spec_made_bundle_runs_in_a_user_namespace() {
    let b = BareBundle::new("spec-rootless");
    let rt = Runtime::runoci();
    rt.run(["spec", "--rootless", "--bundle", b.path()])
        .assert_ok();
    let out = rt.run([
        "run",
        "-c",
        b.path(),
        &unique_id("rootless"),
        "--",
        "-c",
        "cat /proc/self/uid_map; readlink /proc/self/ns/user; ls /sys/kernel >/dev/null && echo sys",
    ]);
    out.assert_ok();
    let host_userns = fs::read_link("/proc/self/ns/user").unwrap();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "1"],
        "{out}"
    );
    assert_ne!(lines[1], host_userns.to_str().unwrap(), "{out}");
    assert_eq!(lines[2], "sys", "{out}");
}

#[test]
fn spec_refuses_to_overwrite_config_json() {
    let b = BareBundle::new("spec-exists");
    let rt = Runtime::runoci();
    fs::write(b.0.join("config.json"), "{}\n").unwrap();
    let out = rt.run(["spec", "--bundle", b.path()]);
    out.assert_failed()
        .assert_stderr_contains("already exists; remove it first");
    assert_eq!(fs::read_to_string(b.0.join("config.json")).unwrap(), "{}\n");
}

#[test]
fn check_reports_and_exits_zero() {
    let rt = Runtime::runoci();
    let text = rt.run(["check"]);
    text.assert_ok()
        .assert_stdout_contains("namespaces:")
        .assert_stdout_contains("What this means for config.json:")
        .assert_stdout_contains("linux.resources.devices");
    let doctor = rt.run(["doctor", "--format", "json"]);
    doctor.assert_ok();
    let v = doctor.json();
    assert_eq!(v["pidfd_open"], true, "{doctor}");
    assert_eq!(v["namespaces"]["pid"], true, "{doctor}");
    assert!(
        ["v1", "v2", "hybrid"].contains(&v["cgroups"]["layout"].as_str().unwrap_or("")),
        "{doctor}"
    );
    let notes = v["notes"].as_array().expect("notes");
    assert!(
        notes
            .iter()
            .any(|n| n["field"] == "process.apparmorProfile"),
        "{doctor}"
    );
    // A mountLabel is refused where SELinux is off (as a selinuxLabel);
    // check says so.
    let want = if v["selinux"] == true {
        "ok"
    } else {
        "unavailable"
    };
    assert!(
        notes
            .iter()
            .any(|n| n["field"] == "linux.mountLabel" && n["status"] == want),
        "expected a linux.mountLabel note {want}: {doctor}"
    );
}

#[test]
fn debug_json_log_names_each_step_with_timings() {
    let mut bundle = Bundle::new("debug-log");
    bundle.set_args(&["true"]);
    bundle.config_mut()["hooks"] =
        serde_json::json!({ "prestart": [ { "path": "/bin/true", "args": ["true"] } ] });
    let rt = Runtime::runoci();
    let log = bundle.path().join("debug.log");
    let log_s = log.to_str().unwrap().to_string();
    rt.run([
        "--debug",
        "--log",
        &log_s,
        "--log-format",
        "json",
        "run",
        "-c",
        bundle.path_str(),
        &unique_id("debug"),
    ])
    .assert_ok();
    let text = fs::read_to_string(&log).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let msgs: Vec<&str> = records.iter().filter_map(|r| r["msg"].as_str()).collect();
    assert!(
        records
            .iter()
            .all(|r| r["level"] == "debug" && r["time"].is_string()),
        "{text}"
    );
    for needle in [
        "namespaces: new",
        "mount proc (proc) on /proc in ",
        "prestart hook [0] /bin/true: ok in ",
        "child: pivot_root done",
        "created in ",
    ] {
        assert!(
            msgs.iter().any(|m| m.contains(needle)),
            "no {needle:?} in the debug log:\n{text}"
        );
    }

    // Without --debug a successful run logs nothing.
    let quiet = bundle.path().join("quiet.log");
    rt.run([
        "--log",
        quiet.to_str().unwrap(),
        "run",
        "-c",
        bundle.path_str(),
        &unique_id("quiet"),
    ])
    .assert_ok();
    assert_eq!(fs::read_to_string(&quiet).unwrap_or_default(), "");
}
