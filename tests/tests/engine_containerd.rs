//! containerd end to end, with runoci as the runc binary of containerd's
//! runc shim (`ctr run --runtime io.containerd.runc.v2 --runc-binary
//! <runoci>`): the shim drives runoci's runc dialect (create, start,
//! state, exec, ps, kill, delete).
//!
//! Each test starts a private containerd ([`Containerd`]) with its own
//! root, state, socket and namespace, imports the busybox image that
//! podman saved (`podman save` then `ctr images import`), and stops the
//! daemon at the end; the guard also kills and removes what is left.

use std::time::{Duration, Instant};

use runoci_tests::engines::Containerd;
use runoci_tests::{runoci_bin, unique_id, Output};

fn runoci() -> &'static str {
    runoci_bin().to_str().expect("UTF-8 path")
}

/// `ctr run` options that make runoci the runtime.
fn runtime_opts() -> [&'static str; 4] {
    [
        "--runtime",
        "io.containerd.runc.v2",
        "--runc-binary",
        runoci(),
    ]
}

fn ctr_run(d: &Containerd, image: &str, opts: &[&str], id: &str, cmd: &[&str]) -> Output {
    let mut args: Vec<&str> = vec!["run", "--snapshotter", d.snapshotter];
    args.extend(runtime_opts());
    args.extend(opts);
    args.extend([image, id]);
    args.extend(cmd);
    d.ctr(&args)
}

/// The STATUS column of `ctr task ls` for `id` (empty if no task).
fn task_status(d: &Containerd, id: &str) -> String {
    let out = d.ctr(&["task", "ls"]);
    out.assert_ok();
    out.stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.first() == Some(&id))
        .and_then(|f| f.get(2).map(|s| s.to_string()))
        .unwrap_or_default()
}

#[track_caller]
fn wait_status(d: &Containerd, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = task_status(d, id);
        if s == want {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "task {id} is {s:?}, never {want:?}\ncontainerd log:\n{}",
                d.log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctr_run_rm_prints_the_output_and_exit_code() {
    let d = Containerd::start();
    let image = d.import_busybox();
    let id = unique_id("ctr-rm");
    ctr_run(
        &d,
        &image,
        &["--rm"],
        &id,
        &["sh", "-c", "echo hello from runoci; hostname; exit 5"],
    )
    .assert_code(5)
    .assert_stdout_contains("hello from runoci\n");
    let id = unique_id("ctr-rm");
    ctr_run(&d, &image, &["--rm"], &id, &["sh", "-c", "echo ok"])
        .assert_ok()
        .assert_stdout_eq("ok\n");
    // --rm removed both.
    let tasks = d.ctr(&["task", "ls", "-q"]);
    tasks.assert_ok();
    assert!(tasks.stdout.trim().is_empty(), "{tasks}");
    let containers = d.ctr(&["containers", "ls", "-q"]);
    containers.assert_ok();
    assert!(containers.stdout.trim().is_empty(), "{containers}");
}

#[test]
fn ctr_run_d_exec_ps_kill_rm() {
    let d = Containerd::start();
    let image = d.import_busybox();
    let id = unique_id("ctr-d");
    ctr_run(
        &d,
        &image,
        &["-d"],
        &id,
        &[
            "sh",
            "-c",
            "trap 'exit 9' TERM; while :; do sleep 0.1; done",
        ],
    )
    .assert_ok();
    wait_status(&d, &id, "RUNNING");

    // exec: output and exit code of the process come back.
    d.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        &id,
        "sh",
        "-c",
        "echo in-exec; cat /proc/1/cmdline | tr '\\0' ' '; exit 6",
    ])
    .assert_code(6)
    .assert_stdout_contains("in-exec")
    .assert_stdout_contains("sh -c trap");

    // A detached exec shows in `ctr task ps` (runoci ps --format json).
    d.ctr(&["task", "exec", "-d", "--exec-id", "e2", &id, "sleep", "300"])
        .assert_ok();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ps = d.ctr(&["task", "ps", &id]);
        ps.assert_ok();
        if ps.stdout.contains("e2") {
            break;
        }
        if Instant::now() > deadline {
            panic!("exec e2 never listed\n{ps}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ps = d.ctr(&["task", "ps", &id]);
    ps.assert_ok();
    let pids = ps.stdout.lines().skip(1).count();
    assert!(pids >= 2, "init and the exec at least\n{ps}");

    // kill (SIGTERM by default): the trap exits 9.
    d.ctr(&["task", "kill", &id]).assert_ok();
    wait_status(&d, &id, "STOPPED");
    task_rm_reports_exit(&d, &id, 9);
    assert_eq!(task_status(&d, &id), "", "task removed");
    d.ctr(&["containers", "rm", &id]).assert_ok();
    let containers = d.ctr(&["containers", "ls", "-q"]);
    containers.assert_ok();
    assert!(!containers.stdout.contains(&id), "{containers}");
    // runoci's state for it is gone too (the shim's root for the namespace).
    let root = format!("/run/containerd/runc/{}/{id}", d.namespace);
    assert!(!std::path::Path::new(&root).exists(), "{root} left behind");
}

#[test]
fn ctr_task_kill_sigkill_and_exit_status() {
    let d = Containerd::start();
    let image = d.import_busybox();
    let id = unique_id("ctr-k");
    ctr_run(
        &d,
        &image,
        &["-d"],
        &id,
        &["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
    )
    .assert_ok();
    wait_status(&d, &id, "RUNNING");
    d.ctr(&["task", "kill", "--signal", "SIGKILL", &id])
        .assert_ok();
    wait_status(&d, &id, "STOPPED");
    // `task rm` reports a non-zero exit status as a warning: 128 + SIGKILL,
    // the status runoci gave the shim.
    task_rm_reports_exit(&d, &id, 137);
    d.ctr(&["containers", "rm", &id]).assert_ok();
}

/// `ctr task rm <id>` succeeds and reports the task's exit status `code`
/// (ctr warns "task ID exit with non-zero exit code N").
#[track_caller]
fn task_rm_reports_exit(d: &Containerd, id: &str, code: i32) {
    let rm = d.ctr(&["task", "rm", id]);
    rm.assert_ok()
        .assert_stderr_contains(&format!("exit with non-zero exit code {code}\""));
}
