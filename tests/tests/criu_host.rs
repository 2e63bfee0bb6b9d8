//! `checkpoint` and `restore` on a host where CRIU cannot work (this
//! host's kernel: `criu check` fails on its vDSO): they fail with CRIU's
//! reason, the checkpointed container runs on with its record intact, and
//! a failed restore leaves nothing. `check` and `features` say why.
//! (Checkpoints that work are tests/tests/criu_vm.rs, in a VM.)

mod detached_common;

use detached_common::*;
use runoci_tests::{pid_alive, unique_id, Bundle, HostSnapshot, Runtime};

#[test]
fn a_checkpoint_crius_refuses_leaves_the_container_running_and_recorded() {
    let mut bundle = Bundle::new("criu-host");
    let rt = Runtime::runoci();
    let id = unique_id("criu-host");
    set_args(&mut bundle, &forever_args(&id));
    start_ok(&rt, &bundle, &id, &[]);
    let pid = container_pid(&rt, &id);
    let monitor = monitor_pid(&rt, &id);
    let record = std::fs::read_to_string(state_dir(&rt, &id).join("runtime.json")).unwrap();
    let images = bundle.path().join("ckpt");
    // A parent that is not there is refused by its flag, before CRIU.
    rt.run([
        "checkpoint",
        "--parent-path",
        "../no-pre-dump",
        "--image-path",
        images.to_str().unwrap(),
        &id,
    ])
    .assert_failed()
    .assert_stderr_contains("--parent-path ../no-pre-dump");
    assert!(!images.join("dump.log").exists(), "CRIU was not asked");
    let out = rt.run(["checkpoint", "--image-path", images.to_str().unwrap(), &id]);
    out.assert_failed();
    // CRIU's own reason, quoted from its log in the image path.
    out.assert_stderr_contains("Error (criu/");
    out.assert_stderr_contains("dump.log");
    assert!(images.join("dump.log").exists(), "CRIU's log is kept");
    assert!(pid_alive(pid), "the container's init must run on");
    assert_eq!(rt.state(&id)["status"], "running");
    assert_eq!(
        std::fs::read_to_string(state_dir(&rt, &id).join("runtime.json")).unwrap(),
        record,
        "the record is untouched"
    );
    rt.run(["kill", "-S", "KILL", &id]).assert_ok();
    wait_monitor_done(&rt, &id, monitor);
    rt.run(["destroy", &id]).assert_ok();
}

#[test]
fn a_failed_restore_leaves_nothing() {
    let mut bundle = Bundle::new("criu-rst");
    let rt = Runtime::runoci();
    let id = unique_id("criu-rst");
    set_args(&mut bundle, &forever_args(&id));
    bundle.write_config();
    let images = bundle.path().join("empty-images");
    std::fs::create_dir(&images).unwrap();
    let snap = HostSnapshot::take();
    for detach in [false, true] {
        let mut args = vec![
            "restore",
            "--image-path",
            images.to_str().unwrap(),
            "--bundle",
            bundle.path_str(),
        ];
        if detach {
            args.push("--detach");
        }
        args.push(&id);
        let out = rt.run(args);
        out.assert_failed();
        out.assert_stderr_contains("restore.log");
        assert!(
            !state_dir(&rt, &id).exists(),
            "no record after a failed restore (detach {detach})"
        );
    }
    snap.assert_nothing_leaked(&[&id]);
}

#[test]
fn what_the_images_say_is_checked_and_a_refusal_leaves_nothing() {
    let mut bundle = Bundle::new("criu-img");
    let rt = Runtime::runoci();
    let id = unique_id("criu-img");
    set_args(&mut bundle, &forever_args(&id));
    bundle.write_config();
    let snap = HostSnapshot::take();
    for (file, text, says) in [
        (
            "runoci-binds.json",
            r#"[["rel/src", "/data"]]"#,
            "not absolute",
        ),
        ("runoci-binds.json", r#"[["/srv", "/../etc"]]"#, "\"..\""),
        ("descriptors.json", "not json", "descriptors.json"),
    ] {
        let images = bundle.path().join("bad-images");
        let _ = std::fs::remove_dir_all(&images);
        std::fs::create_dir(&images).unwrap();
        std::fs::write(images.join(file), text).unwrap();
        rt.run([
            "restore",
            "--detach",
            "--image-path",
            images.to_str().unwrap(),
            "--bundle",
            bundle.path_str(),
            &id,
        ])
        .assert_failed()
        .assert_stderr_contains(file)
        .assert_stderr_contains(says);
        assert!(!state_dir(&rt, &id).exists(), "no record ({file}: {text})");
    }
    snap.assert_nothing_leaked(&[&id]);
}

#[test]
fn bad_options_are_refused_naming_them() {
    let rt = Runtime::runoci();
    let id = unique_id("criu-opt");
    rt.run(["checkpoint", "--manage-cgroups-mode", "hard", &id])
        .assert_failed()
        .assert_stderr_contains("--manage-cgroups-mode");
    rt.run(["checkpoint", "--empty-ns", "pid", &id])
        .assert_failed()
        .assert_stderr_contains("--empty-ns");
    rt.run(["checkpoint", &id])
        .assert_failed()
        .assert_stderr_contains(&id);
    rt.run(["restore", "--image-path", "/nonexistent-ckpt", &id])
        .assert_failed()
        .assert_stderr_contains("/nonexistent-ckpt");
}

#[test]
fn check_and_features_say_why_criu_is_unusable_here() {
    let rt = Runtime::runoci();
    let out = rt.run(["check"]);
    out.assert_ok().assert_stdout_contains("criu");
    let text = out.stdout.clone();
    let line = text
        .lines()
        .find(|l| l.to_lowercase().contains("criu"))
        .unwrap();
    assert!(
        line.contains("Error") || line.contains("not found"),
        "{line}"
    );
    let f = rt.run(["features"]);
    let doc = f.assert_ok().json();
    assert_eq!(
        doc["annotations"]["org.opencontainers.runc.checkpoint.enabled"],
        "false"
    );
    let criu = &doc["annotations"]["io.github.runoci.criu"];
    assert!(
        criu.as_str().is_some_and(|s| s.starts_with("unusable")),
        "{doc}"
    );
}
