//! Helpers shared by the `detached_*` integration tests: containers started
//! in the background with `runoci start` (run_oci dialect), each under its
//! own `runoci-monitor`.
#![allow(dead_code)] // each test crate uses its own subset

use runoci_tests::{default_timeout, pid_alive, Bundle, Output, Runtime};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A container init that runs until it is killed, with `marker` in its
/// command line (to find its processes).
pub fn forever_args(marker: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        "while :; do sleep 0.1; done".into(),
        marker.into(),
    ]
}

pub fn set_args(bundle: &mut Bundle, args: &[String]) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    bundle.set_args(&refs);
}

/// `runoci --root R start [extra...] -c BUNDLE ID`.
pub fn start(rt: &Runtime, bundle: &Bundle, id: &str, extra: &[&str]) -> Output {
    start_at(rt, bundle.path_str(), id, extra)
}

/// [`start`] with the bundle's path (a `Bundle` cannot cross threads).
pub fn start_at(rt: &Runtime, bundle: &str, id: &str, extra: &[&str]) -> Output {
    let mut args: Vec<&str> = vec!["start"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-c", bundle, id]);
    rt.run(args)
}

/// Like [`start`], asserted successful.
#[track_caller]
pub fn start_ok(rt: &Runtime, bundle: &Bundle, id: &str, extra: &[&str]) {
    start(rt, bundle, id, extra).assert_ok();
}

pub fn state_dir(rt: &Runtime, id: &str) -> PathBuf {
    rt.root().join(id)
}

/// The pid in `<root>/<id>/container.pid`.
#[track_caller]
pub fn container_pid(rt: &Runtime, id: &str) -> i32 {
    let p = state_dir(rt, id).join("container.pid");
    let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{} holds {text:?}, expected a pid", p.display()))
}

/// `monitorPid` from `<root>/<id>/runtime.json`.
#[track_caller]
pub fn monitor_pid(rt: &Runtime, id: &str) -> i32 {
    let p = state_dir(rt, id).join("runtime.json");
    let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    v["monitorPid"]
        .as_i64()
        .unwrap_or_else(|| panic!("{} has no monitorPid: {text}", p.display())) as i32
}

/// The parent pid of `pid` (from /proc/PID/status), if it lives.
pub fn ppid(pid: i32) -> Option<i32> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after the
/// harness's command timeout.
#[track_caller]
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + default_timeout();
    while !cond() {
        if Instant::now() >= deadline {
            panic!(
                "expected {what} within {:?}; it did not happen",
                default_timeout()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the monitor of a container that is exiting has finished
/// (exit-status written and the monitor process gone).
#[track_caller]
pub fn wait_monitor_done(rt: &Runtime, id: &str, monitor: i32) {
    let exit = state_dir(rt, id).join("exit-status");
    wait_until(
        &format!("container {id}'s monitor (pid {monitor}) to write exit-status and exit"),
        || exit.exists() && !pid_alive(monitor),
    );
}

/// `<root>/<id>/exit-status` as a number.
#[track_caller]
pub fn exit_status(rt: &Runtime, id: &str) -> i32 {
    let p = state_dir(rt, id).join("exit-status");
    let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{} holds {text:?}, expected a number", p.display()))
}

/// A hook script (on the host) that appends `$STAGE <state from stdin>` to
/// `$LOG`, one line per run.
pub const LOG_HOOK: &str =
    "#!/bin/sh\nstate=$(cat | tr -d '\\n')\necho \"$STAGE $state\" >> \"$LOG\"\n";

pub use runoci_tests::write_executable as write_script;

/// Adds a poststop hook to the bundle that logs each run to a file in the
/// bundle; returns that file. The same script also runs as a prestart hook,
/// so the log proves the script can run (see [`hook_runs`]).
pub fn add_poststop_log(bundle: &mut Bundle) -> PathBuf {
    let log = bundle.path().join("poststop.log");
    let hook = bundle.path().join("poststop.sh");
    write_script(&hook, LOG_HOOK);
    let stage = |stage: &str| {
        json!({
            "path": hook.display().to_string(),
            "env": [format!("STAGE={stage}"), format!("LOG={}", log.display()), "PATH=/bin:/usr/bin"],
        })
    };
    bundle.config_mut()["hooks"] = json!({
        "prestart": [stage("prestart")],
        "poststop": [stage("poststop")],
    });
    log
}

/// How many times the poststop hook of [`add_poststop_log`] ran. Panics if
/// the log shows no prestart run of the same script: then the hook could
/// never run, and "ran 0 times" would prove nothing.
#[track_caller]
pub fn hook_runs(log: &Path) -> usize {
    let text = fs::read_to_string(log).unwrap_or_default();
    assert!(
        text.lines().any(|l| l.starts_with("prestart ")),
        "the hook log {} has no prestart run, so the hook script never ran: {text:?}",
        log.display()
    );
    text.lines().filter(|l| l.starts_with("poststop ")).count()
}

/// Mount points under `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    runoci_tests::mount_points()
        .into_iter()
        .filter(|m| Path::new(m).starts_with(dir))
        .collect()
}

/// Cgroup directories whose path mentions `id` as a whole name: `x-12-1`
/// must not find the `x-12-10` of a test running alongside.
pub fn cgroups_of(id: &str) -> Vec<PathBuf> {
    runoci_tests::cgroup_dirs()
        .into_iter()
        .filter(|p| runoci_tests::mentions(&p.to_string_lossy(), id))
        .collect()
}

/// A poststop hook that logs its run, says it started, and holds until the
/// test releases it (or drops it: nothing hangs after a failed assertion).
pub struct BlockingHook {
    pub log: PathBuf,
    pub started: PathBuf,
    release: PathBuf,
}

impl BlockingHook {
    pub fn release(&self) {
        let _ = fs::write(&self.release, b"");
    }
}

impl Drop for BlockingHook {
    fn drop(&mut self) {
        self.release();
    }
}

const BLOCKING_HOOK: &str =
    "#!/bin/sh\nstate=$(cat | tr -d '\\n')\necho \"$STAGE $state\" >> \"$LOG\"\n\
[ \"$STAGE\" = poststop ] || exit 0\n\
touch \"$STARTED\"\nwhile [ ! -e \"$RELEASE\" ]; do sleep 0.05; done\n";

/// Makes the bundle's hooks a [`BlockingHook`] at poststop and the same
/// script, not blocking, at prestart (for [`hook_runs`]).
pub fn add_blocking_poststop(bundle: &mut Bundle) -> BlockingHook {
    let hook = BlockingHook {
        log: bundle.path().join("poststop.log"),
        started: bundle.path().join("hook-started"),
        release: bundle.path().join("hook-release"),
    };
    let script = bundle.path().join("poststop.sh");
    write_script(&script, BLOCKING_HOOK);
    let stage = |stage: &str| {
        json!({
            "path": script.display().to_string(),
            "env": [
                format!("STAGE={stage}"),
                format!("LOG={}", hook.log.display()),
                format!("STARTED={}", hook.started.display()),
                format!("RELEASE={}", hook.release.display()),
                "PATH=/bin:/usr/bin",
            ],
        })
    };
    bundle.config_mut()["hooks"] = json!({
        "prestart": [stage("prestart")],
        "poststop": [stage("poststop")],
    });
    hook
}
