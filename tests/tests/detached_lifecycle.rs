//! `runoci start` (run_oci dialect) runs a container in the background
//! under its own monitor; `kill`, `state`, `list` and `destroy` act on it;
//! the monitor cleans up after the exit by itself.

mod detached_common;

use detached_common::*;
use runoci_tests::{pid_alive, pid_cmdline, unique_id, Bundle, HostSnapshot, Runtime};

#[test]
fn start_records_the_init_pid_and_the_monitor_is_its_parent() {
    let mut bundle = Bundle::new("d-pid");
    let rt = Runtime::runoci();
    let id = unique_id("d-pid");
    set_args(&mut bundle, &forever_args(&id));
    start_ok(&rt, &bundle, &id, &[]);

    let pid = container_pid(&rt, &id);
    assert!(
        pid_alive(pid),
        "container.pid says {pid}, which is not alive"
    );
    let cmd = pid_cmdline(pid);
    assert!(
        cmd.contains(&id),
        "expected container.pid ({pid}) to be the init running the container's args with {id:?}, its cmdline is {cmd:?}"
    );
    let nspid = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:").map(|v| v.trim().to_string()))
        .unwrap_or_default();
    assert!(
        nspid.split_whitespace().last() == Some("1"),
        "expected container.pid ({pid}) to be PID 1 in its pid namespace, NSpid is {nspid:?}"
    );
    let parent = ppid(pid).expect("parent of the init");
    let parent_cmd = pid_cmdline(parent);
    assert!(
        parent_cmd.contains("runoci-monitor"),
        "expected the init's parent (pid {parent}) to be runoci-monitor, its cmdline is {parent_cmd:?}"
    );
    assert_eq!(
        monitor_pid(&rt, &id),
        parent,
        "runtime.json's monitorPid should be the init's parent"
    );
    let st = rt.state(&id);
    assert_eq!(st["status"], "running", "state {st}");
    assert_eq!(
        st["pid"], pid,
        "state's pid should be container.pid; state {st}"
    );
    assert_eq!(st["id"], id.as_str(), "state {st}");
    rt.run(["kill", "-S", "KILL", &id]).assert_ok();
    wait_monitor_done(&rt, &id, parent);
    rt.run(["destroy", &id]).assert_ok();
}

#[test]
fn kill_term_under_dash_i_records_143_and_runs_poststop_once() {
    let mut bundle = Bundle::new("d-term");
    let rt = Runtime::runoci();
    let id = unique_id("d-term");
    let log = add_poststop_log(&mut bundle);
    set_args(&mut bundle, &forever_args(&id));
    start_ok(&rt, &bundle, &id, &["-i"]);
    let monitor = monitor_pid(&rt, &id);

    rt.run(["kill", "-S", "TERM", &id]).assert_ok();
    wait_monitor_done(&rt, &id, monitor);
    assert_eq!(
        exit_status(&rt, &id),
        143,
        "expected exit-status 143 (128+SIGTERM) after kill -S TERM of a -i container"
    );
    assert_eq!(hook_runs(&log), 1, "expected poststop to have run once");
    let st = rt.state(&id);
    assert_eq!(st["status"], "stopped", "state after the exit: {st}");
    rt.run(["destroy", &id]).assert_ok();
    assert_eq!(
        hook_runs(&log),
        1,
        "expected destroy not to run poststop again"
    );
}

#[test]
fn container_exiting_by_itself_is_cleaned_up_without_destroy() {
    let mut bundle = Bundle::new("d-self");
    let rt = Runtime::runoci();
    let id = unique_id("d-self");
    let log = add_poststop_log(&mut bundle);
    let go = bundle.path().join("go");
    std::fs::create_dir(&go).unwrap();
    // Exits 7 once the test has seen it running.
    bundle.set_args(&[
        "sh",
        "-c",
        "while [ ! -e /go/now ]; do sleep 0.05; done; exit 7",
        &id,
    ]);
    let snap = HostSnapshot::take();
    let bind = format!("{}:/go", go.display());
    start_ok(&rt, &bundle, &id, &["-b", &bind]);
    let dir = state_dir(&rt, &id);
    let monitor = monitor_pid(&rt, &id);
    std::fs::write(go.join("now"), b"").unwrap();
    wait_monitor_done(&rt, &id, monitor);

    assert_eq!(
        exit_status(&rt, &id),
        7,
        "expected exit-status 7, the program's code"
    );
    assert_eq!(hook_runs(&log), 1, "expected poststop to have run once");
    let left = mounts_under(&dir);
    assert!(
        left.is_empty(),
        "expected no mounts left under {} after the exit, saw {left:?}",
        dir.display()
    );
    let left = mounts_under(&bundle.rootfs());
    assert!(
        left.is_empty(),
        "expected no mounts left on the rootfs after the exit, saw {left:?}"
    );
    let cgs = cgroups_of(&id);
    assert!(
        cgs.is_empty(),
        "expected the container's cgroups removed after the exit, saw {cgs:?}"
    );
    let sock = dir.join("monitor.sock");
    assert!(
        !sock.exists(),
        "expected {} removed once the monitor has exited",
        sock.display()
    );
    let st = rt.state(&id);
    assert_eq!(st["status"], "stopped", "state after the exit: {st}");
    assert_eq!(st["exit"]["code"], 7, "state's exit after the exit: {st}");
    // Nothing of the container is left but its record.
    snap.assert_nothing_leaked(&[&id, bundle.path_str()]);
    rt.run(["destroy", &id]).assert_ok();
    assert_eq!(
        hook_runs(&log),
        1,
        "expected destroy not to run poststop again"
    );
    assert!(
        !dir.exists(),
        "expected destroy to remove {}",
        dir.display()
    );
}

#[test]
fn destroy_of_a_stopped_container_does_not_run_poststop_again() {
    let mut bundle = Bundle::new("d-stopped");
    let rt = Runtime::runoci();
    let id = unique_id("d-stopped");
    let log = add_poststop_log(&mut bundle);
    set_args(&mut bundle, &forever_args(&id));
    start_ok(&rt, &bundle, &id, &[]);
    let monitor = monitor_pid(&rt, &id);
    rt.run(["kill", "-S", "KILL", &id]).assert_ok();
    wait_monitor_done(&rt, &id, monitor);
    assert_eq!(
        exit_status(&rt, &id),
        137,
        "expected exit-status 137 after SIGKILL"
    );
    assert_eq!(
        hook_runs(&log),
        1,
        "expected the monitor to run poststop once"
    );
    rt.run(["destroy", &id]).assert_ok();
    assert_eq!(
        hook_runs(&log),
        1,
        "expected destroy of a stopped container not to run poststop again"
    );
    assert!(
        !state_dir(&rt, &id).exists(),
        "expected destroy to remove the record"
    );
    rt.run(["state", &id]).assert_failed();
}

#[test]
fn destroy_of_a_running_container_fails_and_force_works() {
    let mut bundle = Bundle::new("d-force");
    let rt = Runtime::runoci();
    let id = unique_id("d-force");
    let log = add_poststop_log(&mut bundle);
    set_args(&mut bundle, &forever_args(&id));
    let snap = HostSnapshot::take();
    start_ok(&rt, &bundle, &id, &[]);
    let pid = container_pid(&rt, &id);

    let out = rt.run(["destroy", &id]);
    out.assert_failed().assert_stderr_contains("running");
    assert!(
        pid_alive(pid),
        "expected destroy without --force to leave the init ({pid}) running"
    );
    assert_eq!(
        rt.state(&id)["status"],
        "running",
        "state after a refused destroy"
    );
    assert_eq!(
        hook_runs(&log),
        0,
        "expected a refused destroy not to run poststop"
    );

    rt.run(["destroy", "--force", &id]).assert_ok();
    assert!(
        !pid_alive(pid),
        "expected destroy --force to kill the init ({pid})"
    );
    assert!(
        !state_dir(&rt, &id).exists(),
        "expected destroy --force to remove the record"
    );
    assert_eq!(
        hook_runs(&log),
        1,
        "expected poststop to run once with destroy --force"
    );
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}

#[test]
fn state_comes_from_the_monitor_then_from_the_files_after_the_exit() {
    let mut bundle = Bundle::new("d-state");
    let rt = Runtime::runoci();
    let id = unique_id("d-state");
    set_args(&mut bundle, &forever_args(&id));
    start_ok(&rt, &bundle, &id, &[]);
    let pid = container_pid(&rt, &id);
    let monitor = monitor_pid(&rt, &id);

    let st = rt.state(&id);
    for key in ["ociVersion", "id", "status", "pid", "bundle"] {
        assert!(
            !st[key].is_null(),
            "expected OCI state field {key:?}; state {st}"
        );
    }
    assert_eq!(st["status"], "running", "state {st}");
    assert_eq!(st["pid"], pid, "state {st}");
    assert_eq!(st["bundle"], bundle.path_str(), "state {st}");
    // While the monitor lives it answers: the state file is not needed.
    let file = state_dir(&rt, &id).join("state.json");
    let aside = state_dir(&rt, &id).join("state.json.aside");
    std::fs::rename(&file, &aside).unwrap();
    let out = rt.run(["state", &id]);
    std::fs::rename(&aside, &file).unwrap();
    let st = out.assert_ok().json();
    assert_eq!(
        st["status"], "running",
        "state from the monitor (no state.json): {st}"
    );
    assert_eq!(
        st["pid"], pid,
        "state from the monitor (no state.json): {st}"
    );

    rt.run(["kill", "-S", "KILL", &id]).assert_ok();
    wait_monitor_done(&rt, &id, monitor);
    // The monitor is gone: the answer comes from the files.
    let st = rt.state(&id);
    assert_eq!(st["status"], "stopped", "state after the exit {st}");
    assert_eq!(
        st["exit"]["signal"], 9,
        "expected the exit to say SIGKILL; state {st}"
    );
    rt.run(["destroy", &id]).assert_ok();
}

#[test]
fn list_shows_every_container_in_the_root() {
    let mut bundle = Bundle::new("d-list");
    let rt = Runtime::runoci();
    let tag = unique_id("d-list");
    set_args(&mut bundle, &forever_args(&tag));
    let ids: Vec<String> = (0..3).map(|i| format!("{tag}-{i}")).collect();
    for id in &ids {
        start_ok(&rt, &bundle, id, &[]);
    }
    // One stopped, two running.
    let monitor = monitor_pid(&rt, &ids[0]);
    rt.run(["kill", "-S", "KILL", &ids[0]]).assert_ok();
    wait_monitor_done(&rt, &ids[0], monitor);

    let out = rt.run(["list", "-q"]);
    out.assert_ok();
    let listed: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        listed,
        ids.iter().map(String::as_str).collect::<Vec<_>>(),
        "list -q\n{out}"
    );

    let v = rt.run(["list", "--format", "json"]).assert_ok().json();
    let arr = v
        .as_array()
        .unwrap_or_else(|| panic!("list --format json is not an array: {v}"));
    let status = |id: &str| {
        arr.iter()
            .find(|s| s["id"] == id)
            .map(|s| s["status"].clone())
            .unwrap_or_else(|| panic!("{id} missing from list: {v}"))
    };
    assert_eq!(status(&ids[0]), "stopped", "list: {v}");
    assert_eq!(status(&ids[1]), "running", "list: {v}");
    assert_eq!(status(&ids[2]), "running", "list: {v}");
    let table = rt.run(["list"]);
    table.assert_ok();
    for id in &ids {
        table.assert_stdout_contains(id);
    }
}

#[test]
fn start_of_an_existing_id_fails_and_leaves_it_running() {
    let mut bundle = Bundle::new("d-dup");
    let rt = Runtime::runoci();
    let id = unique_id("d-dup");
    let log = add_poststop_log(&mut bundle);
    set_args(&mut bundle, &forever_args(&id));
    start_ok(&rt, &bundle, &id, &[]);
    let pid = container_pid(&rt, &id);
    let monitor = monitor_pid(&rt, &id);
    let dir = state_dir(&rt, &id);
    let before: Vec<String> = {
        let mut v: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let pidfile = std::fs::read_to_string(dir.join("container.pid")).unwrap();
    let statefile = std::fs::read_to_string(dir.join("state.json")).unwrap();

    let out = start(&rt, &bundle, &id, &[]);
    out.assert_failed().assert_stderr_contains("already exists");

    assert!(
        pid_alive(pid),
        "expected the existing container's init ({pid}) to keep running"
    );
    assert!(
        pid_alive(monitor),
        "expected the existing container's monitor ({monitor}) to keep running"
    );
    let after: Vec<String> = {
        let mut v: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        before, after,
        "expected the failed start to leave the state dir's files alone"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("container.pid")).unwrap(),
        pidfile
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("state.json")).unwrap(),
        statefile
    );
    assert_eq!(
        hook_runs(&log),
        0,
        "expected a failed start not to run poststop"
    );
    assert_eq!(rt.state(&id)["status"], "running");
    rt.run(["kill", "-S", "KILL", &id]).assert_ok();
    wait_monitor_done(&rt, &id, monitor);
    rt.run(["destroy", &id]).assert_ok();
}

#[test]
fn start_that_fails_leaves_nothing_behind() {
    let mut bundle = Bundle::new("d-fail");
    let rt = Runtime::runoci();
    let id = unique_id("d-fail");
    let log = add_poststop_log(&mut bundle);
    bundle.set_args(&["/no/such/program", &id]);
    let snap = HostSnapshot::take();
    let out = start(&rt, &bundle, &id, &[]);
    out.assert_failed()
        .assert_stderr_contains("/no/such/program");
    assert!(
        !state_dir(&rt, &id).exists(),
        "expected a failed start to remove its state dir\n{out}"
    );
    let left = rt.container_ids();
    assert!(left.is_empty(), "expected no record left, saw {left:?}");
    assert!(
        hook_runs(&log) <= 1,
        "expected poststop at most once after a failed start"
    );
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}

#[test]
fn start_whose_monitor_cannot_serve_fails_and_leaves_nothing_behind() {
    let mut bundle = Bundle::new("d-nomon");
    let rt = Runtime::runoci();
    let id = unique_id("d-nomon");
    let log = add_poststop_log(&mut bundle);
    bundle.set_args(&["sleep", "1000", &id]);
    let snap = HostSnapshot::take();
    // A "monitor" that exits at once: it never reports that it serves.
    let out = rt.run([
        "--monitor-path",
        "/bin/false",
        "start",
        "-c",
        bundle.path_str(),
        &id,
    ]);
    out.assert_failed().assert_stderr_contains("monitor");
    assert!(
        !state_dir(&rt, &id).exists(),
        "expected the failed start to remove its state dir\n{out}"
    );
    assert_eq!(
        hook_runs(&log),
        1,
        "the container existed: poststop runs once"
    );
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}
