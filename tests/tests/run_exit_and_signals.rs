//! `runoci run` returns the program's status (128+N for signal N),
//! forwards the signals it gets, and with `-i` puts a small init in front
//! of the program that forwards signals and reaps orphans.

mod common;

use common::{container_init_with, run_sh, wait_for_file, Background};
use nix::sys::signal::{kill, Signal};
use runoci_tests::{default_timeout, unique_id, Bundle, HostSnapshot, Runtime};
use std::fs;
use std::os::unix::process::ExitStatusExt;

#[test]
fn exit_code_0_when_the_program_succeeds() {
    let mut bundle = Bundle::new("exit0");
    let rt = Runtime::runoci();
    bundle.set_args(&["true"]);
    let id = unique_id("exit0");
    rt.run(["run", "-c", bundle.path_str(), &id]).assert_code(0);
}

#[test]
fn exit_code_is_the_programs() {
    let mut bundle = Bundle::new("exit7");
    let rt = Runtime::runoci();
    let out = run_sh(&mut bundle, &rt, "exit7", "exit 7");
    out.assert_code(7);
}

#[test]
fn program_killed_by_sigkill_gives_137() {
    let mut bundle = Bundle::new("exit137");
    let rt = Runtime::runoci();
    let marker = unique_id("sigkill-marker");
    let ready = bundle.path().join("ready");
    fs::create_dir(&ready).unwrap();
    // PID 1 cannot SIGKILL itself from inside its pid namespace: the host
    // kills it, as an OOM kill or `kill -9` by an operator would.
    bundle.set_args(&[
        "sh",
        "-c",
        "touch /ready/up; while :; do sleep 0.1; done",
        &marker,
    ]);
    let id = unique_id("exit137");
    let bind = format!("{}:/ready", ready.display());
    let mut bg = Background::spawn(
        &mut rt.cmd(["run", "-c", bundle.path_str(), "-b", &bind, &id]),
        &bundle.path().join("out.log"),
        &marker,
    );
    wait_for_file(&ready.join("up"), "the container's ready file");
    let pids = container_init_with(&marker);
    assert_eq!(
        pids.len(),
        1,
        "expected one container init (PID 1 inside) with the marker, saw {pids:?}"
    );
    kill(pids[0], Signal::SIGKILL).unwrap();
    let status = bg
        .wait_timeout(default_timeout())
        .expect("runoci did not exit");
    let log = fs::read_to_string(bundle.path().join("out.log")).unwrap_or_default();
    assert_eq!(
        status.code(),
        Some(137),
        "expected exit code 128+9 when the program is SIGKILLed, saw {status:?}; output {log:?}"
    );
}

#[test]
fn program_killing_itself_with_sigkill_under_dash_i_gives_137() {
    let mut bundle = Bundle::new("exit137i");
    let rt = Runtime::runoci();
    bundle.set_args(&["sh", "-c", "kill -9 $$"]);
    let id = unique_id("exit137i");
    rt.run(["run", "-i", "-c", bundle.path_str(), &id])
        .assert_code(137);
}

#[test]
fn sigterm_to_runoci_is_forwarded_to_the_program() {
    let mut bundle = Bundle::new("sigterm");
    let rt = Runtime::runoci();
    let marker = unique_id("sigterm-marker");
    let ready = bundle.path().join("ready");
    fs::create_dir(&ready).unwrap();
    bundle.set_args(&[
        "sh",
        "-c",
        "trap 'exit 42' TERM; touch /ready/trap; while :; do sleep 0.1; done",
        &marker,
    ]);
    let id = unique_id("sigterm");
    let bind = format!("{}:/ready", ready.display());
    let mut bg = Background::spawn(
        &mut rt.cmd(["run", "-c", bundle.path_str(), "-b", &bind, &id]),
        &bundle.path().join("out.log"),
        &marker,
    );
    wait_for_file(&ready.join("trap"), "the container's trap-installed file");
    kill(bg.pid(), Signal::SIGTERM).unwrap();
    let status = bg
        .wait_timeout(default_timeout())
        .expect("runoci did not exit");
    let log = fs::read_to_string(bundle.path().join("out.log")).unwrap_or_default();
    assert_eq!(
        (status.code(), status.signal()),
        (Some(42), None),
        "expected runoci to forward SIGTERM and exit with the trap's 42, saw {status:?}; output {log:?}"
    );
}

#[test]
fn signals_are_forwarded_through_the_dash_i_init() {
    let mut bundle = Bundle::new("sig-i");
    let rt = Runtime::runoci();
    let marker = unique_id("sigi-marker");
    let ready = bundle.path().join("ready");
    fs::create_dir(&ready).unwrap();
    bundle.set_args(&[
        "sh",
        "-c",
        "trap 'exit 43' USR1; touch /ready/trap; while :; do sleep 0.1; done",
        &marker,
    ]);
    let id = unique_id("sigi");
    let bind = format!("{}:/ready", ready.display());
    let mut bg = Background::spawn(
        &mut rt.cmd(["run", "-i", "-c", bundle.path_str(), "-b", &bind, &id]),
        &bundle.path().join("out.log"),
        &marker,
    );
    wait_for_file(&ready.join("trap"), "the container's trap-installed file");
    kill(bg.pid(), Signal::SIGUSR1).unwrap();
    let status = bg
        .wait_timeout(default_timeout())
        .expect("runoci did not exit");
    let log = fs::read_to_string(bundle.path().join("out.log")).unwrap_or_default();
    assert_eq!(
        status.code(),
        Some(43),
        "expected SIGUSR1 forwarded runoci -> init -> program, exit 43, saw {status:?}; output {log:?}"
    );
}

#[test]
fn dash_i_program_is_not_pid_1_and_its_status_is_runocis() {
    let mut bundle = Bundle::new("dash-i");
    let rt = Runtime::runoci();
    bundle.set_args(&["sh", "-c", "echo $$; exit 5"]);
    let id = unique_id("dashi");
    let out = rt.run(["run", "-i", "-c", bundle.path_str(), &id]);
    out.assert_code(5);
    let pid: i32 = out.stdout.trim().parse().unwrap_or(-1);
    assert!(
        pid > 1,
        "expected the program not to be PID 1 under -i, saw `echo $$` = {:?}",
        out.stdout
    );
}

#[test]
fn dash_i_init_reaps_orphaned_zombies() {
    let mut bundle = Bundle::new("reap");
    let rt = Runtime::runoci();
    // The subshell exits at once, so its `sleep 0.2` is orphaned to PID 1.
    // Wait (bounded) until that pid is gone from the process list: only a
    // reaper makes it disappear; unreaped it would stay there as Z.
    let script = "(sleep 0.2 & echo $! > /tmp/orphan); orphan=$(cat /tmp/orphan); \
         i=0; while [ $i -lt 200 ] && ps -o pid | grep -qx \" *$orphan\"; do sleep 0.05; i=$((i+1)); done; \
         echo orphan $orphan; ps -o pid,stat,comm";
    bundle.set_args(&["sh", "-c", script]);
    let id = unique_id("reap");
    let out = rt.run(["run", "-i", "-c", bundle.path_str(), &id]);
    out.assert_ok();
    let mut lines = out.stdout.lines();
    let orphan = lines
        .next()
        .and_then(|l| l.strip_prefix("orphan "))
        .unwrap_or_else(|| panic!("expected the orphan's pid first\n{out}"))
        .to_string();
    let rows: Vec<Vec<&str>> = lines
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    let left: Vec<&Vec<&str>> = rows
        .iter()
        .filter(|r| {
            r.first() == Some(&orphan.as_str()) || r.get(1).is_some_and(|s| s.starts_with('Z'))
        })
        .collect();
    assert!(
        left.is_empty(),
        "expected the orphan (pid {orphan}) reaped and no zombie (Z) in the container, saw {left:?} in\n{}",
        out.stdout
    );
    let pid1 = rows.iter().find(|r| r.first() == Some(&"1"));
    assert!(
        pid1.is_some_and(|r| r.get(2) != Some(&"sh")),
        "expected PID 1 to be runoci's init, not the program, saw\n{}",
        out.stdout
    );
}

#[test]
fn nothing_is_left_after_the_program_exits() {
    let mut bundle = Bundle::new("exit-clean");
    let rt = Runtime::runoci();
    let marker = unique_id("clean-marker");
    bundle.set_args(&["sh", "-c", "sleep 0.1 & exit 0", &marker]);
    let id = unique_id("clean");
    let snap = HostSnapshot::take();
    rt.run(["run", "-c", bundle.path_str(), &id]).assert_ok();
    snap.assert_nothing_leaked(&[&id, &marker, bundle.path_str(), rt.root_str()]);
}

#[test]
fn dash_i_init_and_program_hold_only_stdio() {
    let mut bundle = Bundle::new("fds-i");
    let rt = Runtime::runoci();
    // PID 1 is runoci's init (it never execs, so close-on-exec does not
    // help it); $$ is the program. `ls` lists their fds, not its own.
    bundle.set_args(&["sh", "-c", "ls /proc/1/fd; echo --; ls /proc/$$/fd; true"]);
    let id = unique_id("fdsi");
    let out = rt.run(["run", "-i", "-c", bundle.path_str(), &id]);
    out.assert_ok();
    let seen: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(
        seen,
        ["0", "1", "2", "--", "0", "1", "2"],
        "expected only fds 0 1 2 in the -i init and in the program, saw {:?}",
        out.stdout
    );
}

/// A `runoci run` in the background whose program loops until killed;
/// returns once `state` reports it running.
fn foreground_forever(name: &str) -> (Bundle, Runtime, String, Background) {
    let mut bundle = Bundle::new(name);
    let rt = Runtime::runoci();
    let id = unique_id(name);
    bundle.set_args(&["sh", "-c", "while :; do sleep 0.1; done", &id]);
    let bg = Background::spawn(
        &mut rt.cmd(["run", "-c", bundle.path_str(), &id]),
        &bundle.path().join("out.log"),
        &id,
    );
    let deadline = std::time::Instant::now() + default_timeout();
    loop {
        let st = rt.run(["state", &id]);
        if st.success() && st.json()["status"] == "running" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected {id} to show as running while `runoci run` waits\n{st}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (bundle, rt, id, bg)
}

/// Like runc's `run`, the foreground container is recorded while it runs:
/// `list`, `exec` and `kill` find it, its id cannot be run a second time,
/// and the record is gone once `run` returns.
#[test]
fn foreground_run_is_recorded_while_it_runs() {
    let (bundle, rt, id, mut bg) = foreground_forever("fg-rec");
    let list = rt.run(["list", "-q"]);
    list.assert_ok();
    assert!(
        list.stdout.lines().any(|l| l == id),
        "expected `list` to show the running foreground container {id}\n{list}"
    );
    rt.run(["exec", &id, "echo", "exec-ok"])
        .assert_ok()
        .assert_stdout_contains("exec-ok");
    let again = rt.run(["run", "-c", bundle.path_str(), &id]);
    again
        .assert_failed()
        .assert_stderr_contains("already exists");

    rt.run(["kill", &id, "KILL"]).assert_ok();
    let status = bg
        .wait_timeout(default_timeout())
        .expect("runoci run did not return after kill");
    assert_eq!(status.code(), Some(137), "runoci run's exit after KILL");
    assert!(
        !rt.root().join(&id).exists(),
        "expected the record removed when run returns"
    );
}

/// `runoci run` itself SIGKILLed: the container goes on, as with runc, and
/// its record lets `state` see it and `destroy --force` remove all of it.
#[test]
fn sigkilled_foreground_run_can_be_destroyed() {
    let snap = HostSnapshot::take();
    let (bundle, rt, id, mut bg) = foreground_forever("fg-kill");
    kill(bg.pid(), Signal::SIGKILL).unwrap();
    bg.wait_timeout(default_timeout())
        .expect("runoci run did not die");
    let st = rt.state(&id);
    assert_eq!(st["status"], "running", "state after runoci run died: {st}");
    rt.run(["destroy", &id]).assert_failed();
    rt.run(["destroy", "--force", &id]).assert_ok();
    assert!(
        common::container_pids_with(&id).is_empty(),
        "expected destroy --force to kill the container"
    );
    assert!(!rt.root().join(&id).exists(), "expected the record removed");
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}
