//! `destroy` against creations in progress and containers in awkward
//! states (issue 10): after a successful destroy nothing of the container
//! runs and nothing of it is left (process, cgroup, mount, record), and
//! poststop has run exactly once if a prestart or createRuntime hook ran.

mod detached_common;

use detached_common::*;
use runoci_tests::{pid_alive, unique_id, Bundle, HostSnapshot, Output, Runtime};
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The bound the issue sets on each destroy.
const DESTROY_LIMIT: Duration = Duration::from_secs(5);

/// The pids in the container's cgroups (any hierarchy), found by its id.
fn pids_in_cgroups_of(id: &str) -> Vec<i32> {
    let mut pids: Vec<i32> = cgroups_of(id)
        .iter()
        .filter_map(|d| fs::read_to_string(d.join("cgroup.procs")).ok())
        .flat_map(|t| {
            t.lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect::<Vec<i32>>()
        })
        .filter(|p| pid_alive(*p))
        .collect();
    pids.sort();
    pids.dedup();
    pids
}

/// Live processes with `marker` in their command line.
fn pids_with_marker(marker: &str) -> Vec<i32> {
    runoci_tests::all_pids()
        .into_iter()
        .filter(|p| *p != std::process::id() as i32)
        .filter(|p| pid_alive(*p) && runoci_tests::mentions(&runoci_tests::pid_cmdline(*p), marker))
        .collect()
}

/// Everything of container `id` that is still there: its processes (by
/// cgroup membership and by `marker` in argv), cgroup directories, mounts
/// under its record and the record itself.
fn leftovers(rt: &Runtime, id: &str, marker: &str) -> Vec<String> {
    let mut left = Vec::new();
    let pids = pids_in_cgroups_of(id);
    if !pids.is_empty() {
        left.push(format!("processes in its cgroups: {pids:?}"));
    }
    let marked = pids_with_marker(marker);
    if !marked.is_empty() {
        let shown: Vec<String> = marked
            .iter()
            .map(|p| format!("{p} {:?}", runoci_tests::pid_cmdline(*p)))
            .collect();
        left.push(format!("processes with {marker:?} in argv: {shown:?}"));
    }
    let cgroups = cgroups_of(id);
    if !cgroups.is_empty() {
        left.push(format!("cgroups: {cgroups:?}"));
    }
    let dir = state_dir(rt, id);
    let mounts = mounts_under(&dir);
    if !mounts.is_empty() {
        left.push(format!("mounts: {mounts:?}"));
    }
    if dir.exists() {
        left.push(format!("record {}", dir.display()));
    }
    left
}

#[track_caller]
fn assert_nothing_left(rt: &Runtime, id: &str, marker: &str, after: &str) {
    let left = leftovers(rt, id, marker);
    assert!(
        left.is_empty(),
        "after {after}, container {id} left: {}",
        left.join("; ")
    );
}

/// `destroy [--force] ID`, asserted successful within `DESTROY_LIMIT`.
#[track_caller]
fn destroy_within_limit(rt: &Runtime, id: &str, force: bool) -> Output {
    let args: Vec<&str> = if force {
        vec!["destroy", "--force", id]
    } else {
        vec!["destroy", id]
    };
    let t = Instant::now();
    let out = rt.run(&args);
    let took = t.elapsed();
    out.assert_ok();
    assert!(
        took < DESTROY_LIMIT,
        "{args:?} took {took:?} (limit {DESTROY_LIMIT:?}): {out}"
    );
    out
}

/// `sh -c 'echo STAGE >> LOG'` as a hook: one line per run, written first.
fn log_hook(stage: &str, log: &Path) -> serde_json::Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo {stage} >> {}", log.display())],
    })
}

fn count(log: &Path, stage: &str) -> usize {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == stage)
        .count()
}

/// `runoci CMD -c BUNDLE ID` (`start`, `run`; `create --bundle`), spawned
/// (not waited for).
fn spawn_creator(rt: &Runtime, cmd: &str, bundle: &Bundle, id: &str) -> Child {
    let flag = if cmd == "create" { "--bundle" } else { "-c" };
    rt.cmd([cmd, flag, bundle.path_str(), id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn runoci {cmd}: {e}"))
}

/// Kills (if needed) and reaps a spawned command: nothing of it outlives
/// the test, even when an assertion failed.
struct Reaped(Option<Child>);

impl Reaped {
    fn wait(&mut self) -> std::process::Output {
        let child = self.0.take().expect("waited once");
        child.wait_with_output().expect("wait for runoci start")
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How long one `cmd` (`start` or `run`) of `bundle` takes here to have
/// the container recorded: the window the race rounds spread their
/// destroys over.
fn creation_window(rt: &Runtime, cmd: &str, bundle: &Bundle, marker: &str) -> Duration {
    let id = unique_id("race-probe");
    let recorded = state_dir(rt, &id).join("state.json");
    let t = Instant::now();
    let mut creator = Reaped(Some(spawn_creator(rt, cmd, bundle, &id)));
    // Fine-grained: the window is tens of milliseconds.
    while !recorded.exists() {
        assert!(
            t.elapsed() < runoci_tests::default_timeout(),
            "the probe {cmd} never recorded its container"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let window = t.elapsed();
    destroy_within_limit(rt, &id, true);
    let _ = creator.wait();
    assert_nothing_left(rt, &id, marker, "destroying the probe container");
    window
}

/// `runoci CMD -c BUNDLE ID` (`start`, `run`, `create`) and `destroy --force ID`
/// launched at delays spread over the creation window: after each round
/// nothing of the container is left, and poststop ran once iff a
/// prestart/createRuntime hook ran.
fn race_rounds(cmd: &str) {
    const ROUNDS: u32 = 24;
    let mut bundle = Bundle::new(&format!("race-{cmd}"));
    let rt = Runtime::runoci();
    let marker = unique_id("race-marker");
    let log = bundle.path().join("hooks.log");
    set_args(&mut bundle, &forever_args(&marker));
    bundle.config_mut()["hooks"] = json!({
        "prestart": [log_hook("prestart", &log)],
        "createRuntime": [log_hook("createRuntime", &log)],
        "poststop": [log_hook("poststop", &log)],
    });
    bundle.write_config();
    // Spread over the creation window and a little past it.
    let window = creation_window(&rt, cmd, &bundle, &marker);
    let mut hit_mid_creation = 0;
    let mut killed_before_hook_wrote = 0;
    for round in 0..ROUNDS {
        let _ = fs::remove_file(&log);
        let id = unique_id(&format!("race{round}"));
        let delay = window * 5 / 4 * round / ROUNDS;
        let mut creator = Reaped(Some(spawn_creator(&rt, cmd, &bundle, &id)));
        std::thread::sleep(delay);
        destroy_within_limit(&rt, &id, true);
        let record = state_dir(&rt, &id);
        if cmd == "run"
            && creator
                .0
                .as_mut()
                .and_then(|c| c.try_wait().ok())
                .flatten()
                .is_none()
        {
            // A run that outlived a successful destroy had not made its
            // record yet (whatever destroy finds, it ends): the container
            // comes after the destroy, legitimately. Destroy it too.
            wait_until("the run to record its container or end", || {
                record.join("state.json").exists()
                    || creator
                        .0
                        .as_mut()
                        .and_then(|c| c.try_wait().ok())
                        .flatten()
                        .is_some()
            });
            destroy_within_limit(&rt, &id, true);
        }
        let status = creator.wait().status;
        // start and create fail, run is killed, when the destroy ended
        // the creation.
        let interrupted = match cmd {
            "run" => std::os::unix::process::ExitStatusExt::signal(&status).is_some(),
            _ => !status.success(),
        };
        if cmd != "run" && status.success() && record.exists() {
            // The destroy came before the record existed: the container
            // was made after it, legitimately. Destroy it now.
            destroy_within_limit(&rt, &id, true);
        }
        hit_mid_creation += usize::from(interrupted);
        assert_nothing_left(
            &rt,
            &id,
            &marker,
            &format!("round {round} ({cmd}, destroy {delay:?} after it)"),
        );
        let pre = count(&log, "prestart") + count(&log, "createRuntime");
        let post = count(&log, "poststop");
        let hooks_log = fs::read_to_string(&log).unwrap_or_default();
        assert!(
            post <= 1,
            "round {round}: poststop ran {post} times; hook log:\n{hooks_log}"
        );
        if pre > 0 {
            assert_eq!(
                post, 1,
                "round {round}: a prestart/createRuntime hook ran but poststop ran {post} times; hook log:\n{hooks_log}"
            );
        } else if post == 1 {
            // runoci notes that the hooks started just before the first
            // one runs; a hook the destroy killed before its first command
            // wrote nothing, yet had started: poststop rightly ran. That
            // can only be a creation the destroy ended.
            assert!(
                interrupted,
                "round {round}: poststop ran though no prestart/createRuntime hook did, and the {cmd} was not interrupted; hook log:\n{hooks_log}"
            );
            killed_before_hook_wrote += 1;
        }
    }
    eprintln!(
        "{cmd}: {ROUNDS} rounds over {window:?}: {hit_mid_creation} creations ended by the destroy, \
         {killed_before_hook_wrote} with a hook killed before it wrote"
    );
    assert!(
        hit_mid_creation > 0,
        "no round's destroy met a creation in progress: the race was not exercised"
    );
}

#[test]
fn start_racing_destroy_force_leaves_nothing_and_runs_poststop_once_iff_a_hook_ran() {
    race_rounds("start");
}

#[test]
fn run_racing_destroy_force_leaves_nothing_and_runs_poststop_once_iff_a_hook_ran() {
    race_rounds("run");
}

#[test]
fn create_racing_destroy_force_leaves_nothing_and_runs_poststop_once_iff_a_hook_ran() {
    race_rounds("create");
}

/// `args` (a creating command: `start -c B ID`, `create --bundle B ID`)
/// SIGKILLed while its prestart hook blocks (or, without `kill_creator`,
/// left blocking, and a plain `destroy` refused), then `destroy_args`: the
/// hook (and everything else of the container) must be gone, poststop run
/// once.
fn killed_in_a_blocking_prestart_then_destroyed(
    name: &str,
    args: &[&str],
    destroy_args: &[&str],
    kill_creator: bool,
) {
    let mut bundle = Bundle::new(name);
    let rt = Runtime::runoci();
    let marker = unique_id(&format!("{name}-marker"));
    let id = unique_id(name);
    let log = bundle.path().join("hooks.log");
    set_args(&mut bundle, &forever_args(&marker));
    // The hook's sleep is the bundle's busybox: its argv names the bundle,
    // so a sleep that outlives the destroy is found.
    let sleeper = bundle.rootfs().join("bin/sleep");
    let hook = sleeper.display().to_string();
    bundle.config_mut()["hooks"] = json!({
        "prestart": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("echo prestart >> {}; exec {hook} 1000", log.display()), marker],
        }],
        "poststop": [log_hook("poststop", &log)],
    });
    bundle.write_config();
    let mut full: Vec<&str> = args.to_vec();
    full.extend_from_slice(&[bundle.path_str(), &id]);
    let creator = rt
        .cmd(&full)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the creating runoci");
    let mut creator = Reaped(Some(creator));
    wait_until("the prestart hook to run", || count(&log, "prestart") == 1);
    if !kill_creator {
        // Without --force a creation in progress is refused, not waited
        // for (the hook may block for ever) nor touched.
        rt.run(["destroy", &id])
            .assert_failed()
            .assert_stderr_contains("being created");
        assert_eq!(count(&log, "poststop"), 0, "the creation goes on");
        assert!(state_dir(&rt, &id).exists(), "the record stays");
    } else {
        creator
            .0
            .as_mut()
            .expect("running")
            .kill()
            .expect("SIGKILL the creating runoci");
        let _ = creator.wait();
    }
    if args[0] == "start" {
        // start's creator is a process of its own (the monitor to be): it
        // and its hook go on after `start` itself is killed. (`create` is
        // the creator: its hooks die with it.)
        assert!(
            !pids_with_marker(&hook).is_empty(),
            "the prestart hook should still run after {args:?} was killed"
        );
    }
    let mut destroy: Vec<&str> = destroy_args.to_vec();
    destroy.push(&id);
    let t = Instant::now();
    let out = rt.run(&destroy);
    let took = t.elapsed();
    out.assert_ok();
    assert!(took < DESTROY_LIMIT, "{destroy:?} took {took:?}: {out}");
    let after = format!("{destroy:?} of the half-made container");
    assert_nothing_left(&rt, &id, &marker, &after);
    assert_nothing_left(&rt, &id, &hook, &after);
    assert_eq!(count(&log, "poststop"), 1, "poststop runs once");
    if !kill_creator {
        let status = creator.wait().status;
        assert!(
            !status.success(),
            "the ended creation must fail: {status:?}"
        );
    }
}

#[test]
fn start_killed_in_a_blocking_prestart_then_destroy_force_ends_the_hook_and_runs_poststop() {
    killed_in_a_blocking_prestart_then_destroyed(
        "blockpre",
        &["start", "-c"],
        &["destroy", "--force"],
        true,
    );
}

#[test]
fn destroy_during_a_blocking_prestart_refuses_without_force_and_ends_it_with_force() {
    killed_in_a_blocking_prestart_then_destroyed(
        "blockpre-live",
        &["start", "-c"],
        &["destroy", "--force"],
        false,
    );
}

/// runc's `create` and `delete --force`: the same rules as for the
/// detached start.
#[test]
fn create_killed_in_a_blocking_prestart_then_delete_force_leaves_nothing() {
    killed_in_a_blocking_prestart_then_destroyed(
        "createkill",
        &["create", "--bundle"],
        &["delete", "--force"],
        true,
    );
}

/// `sh -c 'sleep 1000 & exit 0'` without a pid namespace: the init exits,
/// its child runs on in the container's cgroup.
fn orphaning_bundle(name: &str, marker: &str) -> Bundle {
    let mut bundle = Bundle::new(name);
    bundle.set_args(&[
        "sh",
        "-c",
        &format!("sh -c 'while :; do sleep 1; done' {marker} & exit 0"),
    ]);
    let ns = bundle.config_mut()["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces");
    ns.retain(|n| n["type"] != "pid");
    bundle.write_config();
    bundle
}

#[test]
fn init_exiting_without_a_pid_namespace_leaves_no_orphan_running() {
    for force in [false, true] {
        let marker = unique_id("orphan-marker");
        let bundle = orphaning_bundle("orphan", &marker);
        let rt = Runtime::runoci();
        let id = unique_id("orphan");
        let snap = HostSnapshot::take();
        start_ok(&rt, &bundle, &id, &[]);
        // The monitor kills what the init left when it exits, as runc does
        // when a container without a pid namespace stops.
        wait_until("the container to stop", || {
            rt.run(["state", &id]).json()["status"] == "stopped"
        });
        wait_until("the monitor to finish", || {
            state_dir(&rt, &id).join("exit-status").exists() && pids_in_cgroups_of(&id).is_empty()
        });
        assert!(
            pids_with_marker(&marker).is_empty(),
            "the init's orphan runs on after the container stopped"
        );
        destroy_within_limit(&rt, &id, force);
        assert_nothing_left(&rt, &id, &marker, "destroy of the stopped container");
        snap.assert_nothing_leaked(&[&id, bundle.path_str()]);
    }
}

#[test]
fn destroy_of_a_running_container_without_a_pid_namespace_kills_all_its_processes() {
    let marker = unique_id("nopidns-marker");
    let mut bundle = Bundle::new("nopidns");
    let rt = Runtime::runoci();
    let id = unique_id("nopidns");
    bundle.set_args(&[
        "sh",
        "-c",
        &format!("for i in 1 2; do sh -c 'while :; do sleep 1; done' {marker} & done; wait"),
    ]);
    bundle.config_mut()["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .retain(|n| n["type"] != "pid");
    bundle.write_config();
    start_ok(&rt, &bundle, &id, &[]);
    // The init's script names the marker too: three processes.
    wait_until("both children to run", || {
        pids_with_marker(&marker).len() >= 3
    });
    destroy_within_limit(&rt, &id, true);
    assert_nothing_left(&rt, &id, &marker, "destroy --force");
}

#[test]
fn destroy_force_of_a_paused_container_thaws_and_kills_it() {
    let mut bundle = Bundle::new("paused");
    let rt = Runtime::runoci();
    let marker = unique_id("paused-marker");
    let id = unique_id("paused");
    set_args(&mut bundle, &forever_args(&marker));
    start_ok(&rt, &bundle, &id, &[]);
    rt.run(["pause", &id]).assert_ok();
    assert_eq!(rt.state(&id)["status"], "paused");
    destroy_within_limit(&rt, &id, true);
    assert_nothing_left(&rt, &id, &marker, "destroy --force of a paused container");
}

#[test]
fn kill_all_kill_of_a_paused_container_stops_it() {
    let mut bundle = Bundle::new("pausedkill");
    let rt = Runtime::runoci();
    let marker = unique_id("pausedkill-marker");
    let id = unique_id("pausedkill");
    set_args(&mut bundle, &forever_args(&marker));
    start_ok(&rt, &bundle, &id, &[]);
    let monitor = monitor_pid(&rt, &id);
    rt.run(["pause", &id]).assert_ok();
    rt.run(["kill", "--all", &id, "KILL"]).assert_ok();
    wait_monitor_done(&rt, &id, monitor);
    assert_eq!(exit_status(&rt, &id), 137, "killed by SIGKILL");
    destroy_within_limit(&rt, &id, false);
    assert_nothing_left(&rt, &id, &marker, "kill --all KILL and destroy");
}

#[test]
fn destroy_force_with_a_damaged_record_still_ends_the_running_container() {
    // (what, file, new contents or None to remove it, monitor killed first)
    let cases: [(&str, &str, Option<&[u8]>, bool); 5] = [
        (
            "truncated runtime.json",
            "runtime.json",
            Some(b"{\"pid\":"),
            false,
        ),
        (
            "garbage runtime.json",
            "runtime.json",
            Some(b"\x00\xffnot json at all"),
            false,
        ),
        ("missing runtime.json", "runtime.json", None, false),
        (
            "garbage state.json",
            "state.json",
            Some(b"}}garbage{{"),
            false,
        ),
        (
            "garbage runtime.json and no monitor",
            "runtime.json",
            Some(b"garbage"),
            true,
        ),
    ];
    for (what, file, damage, kill_monitor) in cases {
        let mut bundle = Bundle::new("damaged");
        let rt = Runtime::runoci();
        let marker = unique_id("damaged-marker");
        let id = unique_id("damaged");
        let log = add_poststop_log(&mut bundle);
        set_args(&mut bundle, &forever_args(&marker));
        start_ok(&rt, &bundle, &id, &[]);
        let monitor = monitor_pid(&rt, &id);
        if kill_monitor {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(monitor),
                nix::sys::signal::Signal::SIGKILL,
            )
            .expect("kill the monitor");
            wait_until("the monitor to die", || !pid_alive(monitor));
        }
        let path: PathBuf = state_dir(&rt, &id).join(file);
        match damage {
            Some(bytes) => fs::write(&path, bytes).expect("damage the record"),
            None => fs::remove_file(&path).expect("remove the file"),
        }
        destroy_within_limit(&rt, &id, true);
        assert_nothing_left(&rt, &id, &marker, &format!("destroy --force with a {what}"));
        assert!(
            !pid_alive(monitor),
            "{what}: the monitor (pid {monitor}) runs on after destroy"
        );
        assert_eq!(hook_runs(&log), 1, "{what}: poststop runs once");
    }
}

/// `start` of a created container whose init has died (a zombie nobody
/// reaps: PID 1 here does not) fails at once with the reason and leaves
/// `delete --force` nothing to fight. The init dying between start's state
/// check and its open of exec.fifo (which would block in open(2) for ever,
/// no writer coming) cannot be staged from outside; start watches the
/// init's pidfd while it waits for that.
#[test]
fn start_of_a_created_container_whose_init_died_fails_instead_of_hanging() {
    let mut bundle = Bundle::new("start-dead-init");
    let rt = Runtime::runoci().with_timeout(Duration::from_secs(20));
    let id = unique_id("start-dead-init");
    set_args(&mut bundle, &forever_args(&id));
    rt.run(["create", "-b", bundle.path_str(), &id]).assert_ok();
    let pid = container_pid(&rt, &id);
    // SAFETY: SIGKILL to the container's init, which this test just made.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    wait_until("the init to die", || !pid_alive(pid));
    let out = rt.run(["start", &id]);
    assert!(!out.timed_out, "start hung on a dead init\n{out}");
    out.assert_failed();
    let stderr = out.stderr.clone();
    assert!(
        stderr.contains("exited before it could start") || stderr.contains("stopped"),
        "{out}"
    );
    rt.run(["delete", "--force", &id]).assert_ok();
    assert!(
        leftovers(&rt, &id, &id).is_empty(),
        "{:?}",
        leftovers(&rt, &id, &id)
    );
}
