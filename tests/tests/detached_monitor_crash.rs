//! A detached container outlives its monitor: if `runoci-monitor` is
//! SIGKILLed, `kill`, `state` and `destroy` work from the files, poststop
//! hooks run exactly once, and `destroy` finishes a cleanup the monitor
//! left half done.

mod detached_common;

use detached_common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use runoci_tests::{pid_alive, unique_id, Bundle, HostSnapshot, Runtime};

#[test]
fn kill_state_and_destroy_work_after_the_monitor_is_sigkilled() {
    let mut bundle = Bundle::new("d-mkill");
    let rt = Runtime::runoci();
    let id = unique_id("d-mkill");
    let log = add_poststop_log(&mut bundle);
    set_args(&mut bundle, &forever_args(&id));
    let snap = HostSnapshot::take();
    start_ok(&rt, &bundle, &id, &[]);
    let pid = container_pid(&rt, &id);
    let monitor = monitor_pid(&rt, &id);

    kill(Pid::from_raw(monitor), Signal::SIGKILL).unwrap();
    wait_until(&format!("the monitor ({monitor}) to die"), || {
        !pid_alive(monitor)
    });
    assert!(
        pid_alive(pid),
        "expected the init ({pid}) to outlive its monitor"
    );

    let st = rt.state(&id);
    assert_eq!(
        st["status"], "running",
        "state without a monitor, init alive: {st}"
    );
    assert_eq!(st["pid"], pid, "state without a monitor: {st}");

    rt.run(["kill", "-S", "KILL", &id]).assert_ok();
    wait_until(&format!("the init ({pid}) to die after kill"), || {
        !pid_alive(pid)
    });
    let st = rt.state(&id);
    assert_eq!(
        st["status"], "stopped",
        "state without a monitor, init dead: {st}"
    );
    assert_eq!(hook_runs(&log), 0, "no monitor: poststop waits for destroy");

    // Kill of a stopped container fails cleanly.
    rt.run(["kill", "-S", "KILL", &id]).assert_failed();

    rt.run(["destroy", &id]).assert_ok();
    assert_eq!(hook_runs(&log), 1, "expected destroy to run poststop once");
    assert!(
        !state_dir(&rt, &id).exists(),
        "expected destroy to remove the record"
    );
    let cgs = cgroups_of(&id);
    assert!(
        cgs.is_empty(),
        "expected destroy to remove the cgroups, saw {cgs:?}"
    );
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}

#[test]
fn destroy_force_works_after_the_monitor_is_sigkilled() {
    let mut bundle = Bundle::new("d-mkillf");
    let rt = Runtime::runoci();
    let id = unique_id("d-mkillf");
    let log = add_poststop_log(&mut bundle);
    set_args(&mut bundle, &forever_args(&id));
    let snap = HostSnapshot::take();
    start_ok(&rt, &bundle, &id, &[]);
    let pid = container_pid(&rt, &id);
    let monitor = monitor_pid(&rt, &id);
    kill(Pid::from_raw(monitor), Signal::SIGKILL).unwrap();
    wait_until(&format!("the monitor ({monitor}) to die"), || {
        !pid_alive(monitor)
    });

    rt.run(["destroy", &id]).assert_failed();
    assert!(
        pid_alive(pid),
        "expected destroy without --force to leave the init running"
    );
    rt.run(["destroy", "--force", &id]).assert_ok();
    assert!(
        !pid_alive(pid),
        "expected destroy --force to kill the init ({pid})"
    );
    assert_eq!(hook_runs(&log), 1, "expected poststop once");
    assert!(!state_dir(&rt, &id).exists(), "expected the record removed");
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}

#[test]
fn destroy_finishes_the_cleanup_of_a_monitor_killed_mid_poststop() {
    let mut bundle = Bundle::new("d-mid");
    let rt = Runtime::runoci();
    let id = unique_id("d-mid");
    let hook = add_blocking_poststop(&mut bundle);
    set_args(&mut bundle, &forever_args(&id));
    let snap = HostSnapshot::take();
    start_ok(&rt, &bundle, &id, &[]);
    let pid = container_pid(&rt, &id);
    let monitor = monitor_pid(&rt, &id);

    rt.run(["kill", "-S", "KILL", &id]).assert_ok();
    wait_until("the poststop hook to start", || hook.started.exists());
    assert!(pid_alive(monitor), "expected the monitor to be in poststop");
    kill(Pid::from_raw(monitor), Signal::SIGKILL).unwrap();
    wait_until(&format!("the monitor ({monitor}) to die"), || {
        !pid_alive(monitor)
    });
    assert!(!pid_alive(pid), "expected the init ({pid}) dead");
    hook.release();

    let st = rt.state(&id);
    assert_eq!(
        st["status"], "stopped",
        "state after the monitor died mid-cleanup: {st}"
    );
    assert_eq!(
        exit_status(&rt, &id),
        137,
        "expected exit-status written before poststop"
    );

    let cgs = cgroups_of(&id);
    assert!(
        !cgs.is_empty(),
        "expected the cgroups still there for destroy to remove (the monitor died before them)"
    );
    rt.run(["destroy", &id]).assert_ok();
    assert_eq!(
        hook_runs(&hook.log),
        1,
        "expected destroy not to run poststop again after the monitor started it"
    );
    assert!(
        !state_dir(&rt, &id).exists(),
        "expected destroy to remove the record"
    );
    let cgs = cgroups_of(&id);
    assert!(
        cgs.is_empty(),
        "expected destroy to remove the cgroups, saw {cgs:?}"
    );
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}

/// The record deleted by hand while the container runs (`rm` of the state
/// files): when the init exits the monitor still removes the cgroups (from
/// what it read at start) and the mounts, and `destroy --force` clears
/// what is left.
#[test]
fn monitor_cleans_up_after_its_record_was_deleted() {
    // Both files, and runtime.json alone (state.json still there: the
    // cleanup must not take the record's absence for "no cgroups").
    for removed in [&["runtime.json", "state.json"][..], &["runtime.json"][..]] {
        record_deleted_case(removed);
    }
}

fn record_deleted_case(removed: &[&str]) {
    let mut bundle = Bundle::new("d-norec");
    let rt = Runtime::runoci();
    let id = unique_id("d-norec");
    set_args(&mut bundle, &forever_args(&id));
    let snap = HostSnapshot::take();
    start_ok(&rt, &bundle, &id, &[]);
    let pid = container_pid(&rt, &id);
    let monitor = monitor_pid(&rt, &id);
    assert!(
        !cgroups_of(&id).is_empty(),
        "expected the container to have cgroups"
    );
    let dir = state_dir(&rt, &id);
    for f in removed {
        std::fs::remove_file(dir.join(f)).unwrap();
    }

    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    wait_until(&format!("the monitor ({monitor}) to exit"), || {
        !pid_alive(monitor)
    });
    let cgs = cgroups_of(&id);
    assert!(
        cgs.is_empty(),
        "expected the monitor to remove the cgroups without a record, saw {cgs:?}"
    );
    let mounts = mounts_under(&dir);
    assert!(
        mounts.is_empty(),
        "expected the monitor to unmount without a record, saw {mounts:?}"
    );
    rt.run(["destroy", "--force", &id]).assert_ok();
    assert!(
        !dir.exists(),
        "expected destroy to remove {}",
        dir.display()
    );
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}

/// runoci SIGKILLed in the middle of creating a container (held in a
/// createRuntime hook, after the cgroups exist): `delete --force` removes
/// everything it left, cgroups included, for `create` and for `run`.
#[test]
fn runtime_killed_mid_create_leaves_what_delete_force_removes() {
    for verb in ["create", "run"] {
        let mut bundle = Bundle::new("d-midcreate");
        let rt = Runtime::runoci();
        let id = unique_id("d-midcreate");
        let started = bundle.path().join("hook-started");
        let release = bundle.path().join("hook-release");
        let hook = bundle.path().join("create-runtime.sh");
        write_script(
            &hook,
            "#!/bin/sh\ntouch \"$STARTED\"\nwhile [ ! -e \"$RELEASE\" ]; do sleep 0.05; done\n",
        );
        bundle.config_mut()["hooks"] = serde_json::json!({
            "createRuntime": [{
                "path": hook.display().to_string(),
                "env": [
                    format!("STARTED={}", started.display()),
                    format!("RELEASE={}", release.display()),
                    "PATH=/bin:/usr/bin",
                ],
            }]
        });
        struct Release(std::path::PathBuf);
        impl Drop for Release {
            fn drop(&mut self) {
                let _ = std::fs::write(&self.0, b"");
            }
        }
        let _release = Release(release.clone());
        set_args(&mut bundle, &forever_args(&id));
        let snap = HostSnapshot::take();
        let args: Vec<&str> = if verb == "create" {
            vec!["create", "--bundle", bundle.path_str(), &id]
        } else {
            vec!["run", "-c", bundle.path_str(), &id]
        };
        let mut child = rt
            .cmd(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_until("the createRuntime hook to start", || started.exists());
        assert!(
            !cgroups_of(&id).is_empty(),
            "{verb}: expected the cgroups made before createRuntime"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        std::fs::write(&release, b"").unwrap();

        let st = rt.run(["state", &id]);
        st.assert_failed()
            .assert_stderr_contains("creation was interrupted");
        rt.run(["delete", "--force", &id]).assert_ok();
        let cgs = cgroups_of(&id);
        assert!(
            cgs.is_empty(),
            "{verb}: expected delete --force to remove the cgroups, saw {cgs:?}"
        );
        assert!(
            !state_dir(&rt, &id).exists(),
            "{verb}: expected the record removed"
        );
        snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
    }
}

/// Ctrl-C on a `runoci start` that hangs in a hook (no timeout): the start
/// fails saying so, and the creator, its hook and everything recorded are
/// gone — the creator runs in its own session, out of the terminal's reach,
/// so `start` itself must stop it.
#[test]
fn sigint_to_a_start_stuck_in_a_hook_leaves_nothing() {
    let mut bundle = Bundle::new("d-startint");
    let rt = Runtime::runoci();
    let id = unique_id("d-startint");
    let pidfile = bundle.path().join("hook.pid");
    bundle.config_mut()["hooks"] = serde_json::json!({
        "createRuntime": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", "echo $$ > \"$1\".tmp; mv \"$1\".tmp \"$1\"; exec sleep 600", "sh", pidfile.display().to_string()],
        }]
    });
    set_args(&mut bundle, &forever_args(&id));
    let snap = HostSnapshot::take();
    let mut child = rt
        .cmd(["start", "-c", bundle.path_str(), &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the createRuntime hook to start", || pidfile.exists());
    let hook_pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let mut status = None;
    wait_until("runoci start to end after SIGINT", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected start to fail: {stderr}");
    assert!(
        stderr.contains("interrupted by SIGINT"),
        "expected the error to say why, saw {stderr:?}"
    );
    wait_until(&format!("the hook ({hook_pid}) to be gone"), || {
        !pid_alive(hook_pid)
    });
    assert!(!state_dir(&rt, &id).exists(), "expected no record of {id}");
    let cgs = cgroups_of(&id);
    assert!(cgs.is_empty(), "expected no cgroups of {id}, saw {cgs:?}");
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}
