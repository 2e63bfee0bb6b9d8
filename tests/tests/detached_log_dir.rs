//! `--log_dir DIR`: a detached container's output, its monitor's log lines
//! and those of later `kill` and `destroy` calls on the same id all go to
//! the container's log file, `DIR/<id>.<time>` (the state dir's `log`
//! symlink), as run_oci's RestoreLogRedirection does.

mod detached_common;

use detached_common::*;
use runoci_tests::{unique_id, Bundle, Runtime};
use std::fs;

#[test]
fn monitor_kill_and_destroy_log_to_the_containers_log_file() {
    let mut bundle = Bundle::new("d-log");
    let rt = Runtime::runoci();
    let id = unique_id("d-log");
    let logs = bundle.path().join("logs");
    bundle.set_args(&[
        "sh",
        "-c",
        "echo container-output-$0; while :; do sleep 0.1; done",
        &id,
    ]);
    let out = rt.run([
        "--log_dir",
        logs.to_str().unwrap(),
        "start",
        "-c",
        bundle.path_str(),
        &id,
    ]);
    out.assert_ok();
    let dir = state_dir(&rt, &id);
    let link = fs::read_link(dir.join("log"))
        .unwrap_or_else(|e| panic!("expected a log symlink in {}: {e}", dir.display()));
    assert!(
        link.starts_with(&logs)
            && link
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{id}."))),
        "expected the log symlink to point at {}/{id}.<time>, it points at {}",
        logs.display(),
        link.display()
    );
    let read = || fs::read_to_string(&link).unwrap_or_default();
    wait_until("the container's output in its log file", || {
        read().contains(&format!("container-output-{id}"))
    });
    let monitor = monitor_pid(&rt, &id);

    // A later command on the same id, without --log_dir: its output goes to
    // the container's log, not to our stderr.
    let out = rt.run(["destroy", &id]);
    out.assert_failed();
    assert!(
        !out.stderr.contains("running"),
        "expected destroy's error in the log file, not on stderr\n{out}"
    );
    assert!(
        read().contains("is running"),
        "expected destroy's error line in {}, it holds:\n{}",
        link.display(),
        read()
    );

    rt.run(["kill", "-S", "KILL", &id]).assert_ok();
    wait_monitor_done(&rt, &id, monitor);
    let text = read();
    assert!(
        text.contains(&format!("runoci-monitor[{id}]: container init"))
            && text.contains("killed by signal 9"),
        "expected the monitor's own line about the exit in {}, it holds:\n{text}",
        link.display()
    );

    // kill of the stopped container fails: its error goes to the log too.
    let out = rt.run(["kill", "-S", "TERM", &id]);
    out.assert_failed();
    assert!(
        out.stderr.trim().is_empty(),
        "expected kill's error in the log file, not on stderr\n{out}"
    );
    let after = read();
    assert!(
        after.len() > text.len() && after[text.len()..].contains(&id),
        "expected kill's error line appended to {}, it holds:\n{after}",
        link.display()
    );
    rt.run(["destroy", &id]).assert_ok();
    assert!(!dir.exists(), "expected destroy to remove the record");
    assert!(link.exists(), "expected the log file to outlive the record");
}
