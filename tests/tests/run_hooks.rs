//! `runoci run` and hooks: every stage fires once, in order, with the OCI
//! state on stdin; `args` and `env` reach the hook as configured; a hook
//! past its `timeout`, or hanging when the user presses Ctrl-C, is killed
//! and fails the run without leftovers.

mod common;

use common::assert_fails_with;
use runoci_tests::{pid_alive, unique_id, Bundle, HostSnapshot, Runtime};
use serde_json::{json, Value};
use std::fs;
use std::time::Duration;

/// A hook script that appends one line, `$STAGE <state JSON on one line>`,
/// to `$LOG`. Works with the host's /bin/sh and with busybox's.
const LOG_HOOK: &str =
    "#!/bin/sh\nstate=$(cat | tr -d '\\n')\necho \"$STAGE $state\" >> \"$LOG\"\n";

use runoci_tests::write_executable as write_script;

/// Stages in the order runoci must run them, with the status each state
/// document must carry.
const STAGES: &[(&str, &str)] = &[
    ("precreate", "creating"),
    ("prestart", "creating"),
    ("createRuntime", "creating"),
    ("createContainer", "creating"),
    ("prechroot", "creating"),
    ("startContainer", "created"),
    ("poststart", "running"),
    ("poststop", "stopped"),
];

#[test]
fn every_hook_stage_fires_once_in_order_with_the_state_on_stdin() {
    let mut bundle = Bundle::new("hooks-order");
    let rt = Runtime::runoci();
    let id = unique_id("hooks");
    let logdir = bundle.path().join("hooklog");
    fs::create_dir(&logdir).unwrap();
    let log = logdir.join("log");
    let host_hook = bundle.path().join("hook.sh");
    write_script(&host_hook, LOG_HOOK);
    // startContainer runs in the container after pivot_root: its path is
    // resolved in the rootfs, where /bin/sh is busybox.
    write_script(&bundle.rootfs().join("hook.sh"), LOG_HOOK);

    let mut hooks = serde_json::Map::new();
    for (stage, _) in STAGES {
        let (path, logpath) = if *stage == "startContainer" {
            ("/hook.sh".to_string(), "/hooklog/log".to_string())
        } else {
            (host_hook.display().to_string(), log.display().to_string())
        };
        hooks.insert(
            stage.to_string(),
            json!([{
                "path": path,
                "env": [format!("STAGE={stage}"), format!("LOG={logpath}"), "PATH=/bin:/usr/bin"],
            }]),
        );
    }
    {
        let c = bundle.config_mut();
        c["hooks"] = Value::Object(hooks);
        c["annotations"] = json!({ "com.example.owner": "tests" });
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/hooklog", "type": "bind",
            "source": logdir.display().to_string(), "options": ["rbind"]
        }));
    }
    bundle.set_args(&["sh", "-c", "echo program ran"]);
    let out = rt.run(["run", "-c", bundle.path_str(), &id]);
    out.assert_ok().assert_stdout_eq("program ran\n");

    let text = fs::read_to_string(&log).unwrap_or_default();
    let entries: Vec<(&str, Value)> = text
        .lines()
        .map(|l| {
            let (stage, state) = l.split_once(' ').unwrap_or((l, ""));
            let v = serde_json::from_str(state)
                .unwrap_or_else(|e| panic!("{stage}: state on stdin is not JSON ({e}): {state:?}"));
            (stage, v)
        })
        .collect();
    let seen: Vec<&str> = entries.iter().map(|(s, _)| *s).collect();
    let expected: Vec<&str> = STAGES.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seen, expected,
        "hook stages, each once, in order (expected vs seen); log:\n{text}"
    );

    let mut pids = Vec::new();
    for ((stage, state), (_, status)) in entries.iter().zip(STAGES) {
        assert_eq!(state["id"], json!(id), "{stage}: id in state {state}");
        assert_eq!(
            state["status"],
            json!(status),
            "{stage}: status in state {state}"
        );
        assert_eq!(
            state["bundle"],
            json!(bundle.path_str()),
            "{stage}: bundle in state {state}"
        );
        assert!(
            state["ociVersion"].is_string(),
            "{stage}: expected ociVersion in state {state}"
        );
        assert_eq!(
            state["annotations"]["com.example.owner"],
            json!("tests"),
            "{stage}: expected the config's annotations in state {state}"
        );
        let root = &state["annotations"]["org.chromium.run_oci.container_root"];
        assert!(
            root.as_str().is_some_and(|r| !r.is_empty()),
            "{stage}: expected annotation org.chromium.run_oci.container_root, saw {state}"
        );
        let pid = state["pid"].as_i64().unwrap_or(-1);
        if *stage == "precreate" {
            assert_eq!(
                pid, 0,
                "precreate: no container process yet, expected pid 0, saw {state}"
            );
        } else {
            assert!(
                pid > 0,
                "{stage}: expected the container's pid (> 0), saw {state}"
            );
            pids.push(pid);
        }
    }
    pids.dedup();
    assert_eq!(
        pids.len(),
        1,
        "expected every hook after creation to see the same container pid, saw {pids:?}"
    );
}

#[test]
fn hook_gets_path_as_argv0_its_args_and_only_its_env() {
    let mut bundle = Bundle::new("hook-args");
    let rt = Runtime::runoci();
    let id = unique_id("hookargs");
    let log = bundle.path().join("args.log");
    // busybox picks the applet from argv[0]: it runs `sh` only if argv[0]
    // is the hook's path (/bin/busybox), not the "not-an-applet" in args.
    bundle.config_mut()["hooks"] = json!({
        "prestart": [{
            "path": runoci_tests::HOST_BUSYBOX,
            "args": ["not-an-applet", "sh", "-c",
                     "echo \"[$0] [$1] [$FOO] [${RUNOCI_TEST_MARKER-unset}]\" > \"$LOG\"",
                     "zero", "one two"],
            "env": ["FOO=a=b", format!("LOG={}", log.display())],
        }]
    });
    bundle.set_args(&["true"]);
    let mut cmd = rt.cmd(["run", "-c", bundle.path_str(), &id]);
    cmd.env("RUNOCI_TEST_MARKER", "leaked");
    runoci_tests::run_command(&mut cmd, b"", runoci_tests::default_timeout()).assert_ok();
    let seen = fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        seen, "[zero] [one two] [a=b] [unset]\n",
        "expected argv[0] = path (busybox ran sh), args[1..] passed, env exactly hook.env; saw {seen:?}"
    );
}

#[test]
fn hook_past_its_timeout_is_killed_and_fails_the_run_leaving_nothing() {
    let mut bundle = Bundle::new("hook-timeout");
    // The run must end long before the hook's own 10 s would.
    let rt = Runtime::runoci().with_timeout(Duration::from_secs(9));
    let id = unique_id("hooktimeout");
    let pidfile = bundle.path().join("hook.pid");
    bundle.config_mut()["hooks"] = json!({
        "prestart": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", "echo $$ > \"$1\"; exec sleep 10", "sh", pidfile.display().to_string()],
            "timeout": 1
        }]
    });
    bundle.set_args(&["sh", "-c", "echo program ran"]);
    let snap = HostSnapshot::take();
    let out = rt.run(["run", "-c", bundle.path_str(), &id]);
    assert!(
        !out.timed_out,
        "expected runoci to kill the hook at its 1 s timeout\n{out}"
    );
    assert_fails_with(&out, "prestart hook [0] /bin/sh: timed out after 1s");
    assert!(
        !out.stdout.contains("program ran"),
        "expected the program never to run, saw {out}"
    );
    let hook_pid: i32 = fs::read_to_string(&pidfile)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .expect("the hook wrote its pid");
    assert!(
        !pid_alive(hook_pid),
        "expected the timed-out hook (pid {hook_pid}) to be killed"
    );
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}

/// A hook that hangs with no timeout: Ctrl-C (SIGINT) to `runoci run`
/// ends it — the hook is killed, the run fails saying so, and nothing is
/// left — instead of waiting, unseen, for the container to forward it to.
#[test]
fn sigint_during_a_hanging_hook_kills_it_and_fails_the_run_leaving_nothing() {
    let mut bundle = Bundle::new("hook-sigint");
    let rt = Runtime::runoci();
    let id = unique_id("hooksigint");
    let pidfile = bundle.path().join("hook.pid");
    bundle.config_mut()["hooks"] = json!({
        "createRuntime": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", "echo $$ > \"$1\".tmp; mv \"$1\".tmp \"$1\"; exec sleep 600", "sh", pidfile.display().to_string()],
        }]
    });
    bundle.set_args(&["sh", "-c", "echo program ran"]);
    let snap = HostSnapshot::take();
    let mut child = rt
        .cmd(["run", "-c", bundle.path_str(), &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + runoci_tests::default_timeout();
    while !pidfile.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the hook never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let hook_pid: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut status = None;
    while status.is_none() && std::time::Instant::now() < deadline {
        status = child.try_wait().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    if status.is_none() {
        let _ = child.kill();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(hook_pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        panic!("runoci run did not end after SIGINT while a hook hung");
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected a failed run, stderr {stderr}"
    );
    assert!(
        stderr.contains("createRuntime hook [0] /bin/sh: interrupted by SIGINT"),
        "expected the error to name the hook and the signal, saw {stderr:?}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("program ran"),
        "expected the program never to run"
    );
    assert!(
        !pid_alive(hook_pid),
        "expected the interrupted hook (pid {hook_pid}) to be killed"
    );
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}

#[test]
fn poststop_runs_once_after_the_program_exits_with_failure() {
    let mut bundle = Bundle::new("poststop");
    let rt = Runtime::runoci();
    let id = unique_id("poststop");
    let log = bundle.path().join("poststop.log");
    let hook = bundle.path().join("hook.sh");
    write_script(&hook, LOG_HOOK);
    bundle.config_mut()["hooks"] = json!({
        "poststop": [{
            "path": hook.display().to_string(),
            "env": ["STAGE=poststop", format!("LOG={}", log.display()), "PATH=/bin:/usr/bin"],
        }]
    });
    bundle.set_args(&["sh", "-c", "exit 3"]);
    rt.run(["run", "-c", bundle.path_str(), &id]).assert_code(3);
    let text = fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected poststop to run once, log {text:?}"
    );
    let state: Value = serde_json::from_str(lines[0].trim_start_matches("poststop ")).unwrap();
    assert_eq!(state["status"], "stopped", "poststop state {state}");
    assert_eq!(state["id"], json!(id), "poststop state {state}");
}

/// Which dialect adds the container_root annotation: run_oci's (`start -c`,
/// as the reference: the record's directory, in `state` too), not runc's
/// (`run --bundle`), whose hooks get exactly the config's annotations
/// (spec_lifecycle.rs checks `create` against runc too).
#[test]
fn container_root_annotation_only_in_the_run_oci_dialect() {
    let annotations = json!({ "com.example.owner": "tests" });
    let rt = Runtime::runoci();

    let mut detached = Bundle::new("annot-runoci");
    detached.set_args(&["sleep", "1000"]);
    detached.config_mut()["annotations"] = annotations.clone();
    let id = unique_id("annot-runoci");
    rt.run(["start", "-c", detached.path_str(), &id])
        .assert_ok();
    let st = rt.state(&id);
    let mut expected = annotations.clone();
    expected["org.chromium.run_oci.container_root"] = json!(rt.root().join(&id));
    assert_eq!(
        st["annotations"], expected,
        "run_oci dialect: the config's annotations and container_root (the record): {st}"
    );
    rt.run(["destroy", "--force", &id]).assert_ok();

    let mut foreground = Bundle::new("annot-runc");
    let state_file = foreground.path().join("createRuntime.json");
    foreground.set_args(&["true"]);
    foreground.config_mut()["annotations"] = annotations.clone();
    foreground.config_mut()["hooks"] = json!({"createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("cat > {}", state_file.display())],
    }]});
    let id = unique_id("annot-runc");
    rt.run(["run", "--bundle", foreground.path_str(), &id])
        .assert_ok();
    let text = fs::read_to_string(&state_file).unwrap_or_default();
    let st: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("createRuntime state {text:?}: {e}"));
    assert_eq!(
        st["annotations"], annotations,
        "runc dialect: the hook's state has exactly the config's annotations: {st}"
    );
}
