//! podman end to end, with runoci as the OCI runtime:
//! `podman --runtime <runoci> --cgroup-manager cgroupfs ...` (conmon runs
//! runoci's runc dialect: create, start, state, kill, delete, exec).
//!
//! Every test uses the busybox image this process imported
//! ([`podman_image`](runoci_tests::engines::podman_image)), a unique
//! container name, `--rm` or a guard that `podman rm -f`s the container.
//! Everything is checked from inside the container.

use std::time::{Duration, Instant};

use runoci_tests::engines::{Podman, PODMAN_ULIMITS};
use runoci_tests::{test_dir, unique_id};

/// `podman run -d --name NAME ... IMAGE sh -c SCRIPT`, asserted to start.
fn run_detached(p: &Podman, name: &str, script: &str) {
    let mut args: Vec<&str> = vec!["run", "-d", "--name", name, "--net", "none"];
    args.extend(PODMAN_ULIMITS);
    args.extend([p.image.name.as_str(), "sh", "-c", script]);
    p.run(&args).assert_ok();
}

/// Polls `podman logs NAME` until it contains `needle`.
#[track_caller]
fn wait_for_log(p: &Podman, name: &str, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = p.run(&["logs", name]);
        if out.stdout.contains(needle) {
            return;
        }
        if Instant::now() > deadline {
            panic!("{needle:?} never appeared in the logs of {name}\n{out}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn inspect(p: &Podman, name: &str, format: &str) -> String {
    p.run(&["inspect", "--format", format, name])
        .assert_ok()
        .stdout
        .trim()
        .to_string()
}

#[test]
fn run_rm_prints_the_output() {
    let p = Podman::new();
    p.run_rm(
        &[],
        &["sh", "-c", "echo hello from runoci; echo to-stderr >&2"],
    )
    .assert_ok()
    .assert_stdout_eq("hello from runoci\n")
    .assert_stderr_contains("to-stderr");
}

#[test]
fn exit_code_propagates() {
    let p = Podman::new();
    p.run_rm(&[], &["sh", "-c", "exit 3"]).assert_code(3);
    p.run_rm(&[], &["true"]).assert_code(0);
    p.run_rm(&[], &["false"]).assert_code(1);
}

#[test]
fn detached_ps_exec_logs_stop_rm() {
    let p = Podman::new();
    let name = unique_id("pd-life");
    let _guard = p.guard(&name);
    run_detached(
        &p,
        &name,
        "trap 'echo got-term; exit 42' TERM; echo started; while :; do sleep 0.1; done",
    );
    wait_for_log(&p, &name, "started");

    let ps = p.run(&[
        "ps",
        "--filter",
        &format!("name=^{name}$"),
        "--format",
        "{{.Names}} {{.Status}}",
    ]);
    ps.assert_ok().assert_stdout_contains(&format!("{name} Up"));

    // exec without a terminal: output and exit code come back.
    p.run(&[
        "exec",
        &name,
        "sh",
        "-c",
        "echo in-exec; cat /proc/1/cmdline | tr '\\0' ' '; exit 4",
    ])
    .assert_code(4)
    .assert_stdout_contains("in-exec")
    .assert_stdout_contains("sh -c trap");
    // exec with -t: a pty of the container's devpts.
    let tty = p.run(&["exec", "-t", &name, "tty"]);
    tty.assert_ok().assert_stdout_contains("/dev/pts/");
    // -e and -w of exec.
    p.run(&[
        "exec",
        "-e",
        "XK=xv",
        "-w",
        "/tmp",
        &name,
        "sh",
        "-c",
        "echo $XK $(pwd)",
    ])
    .assert_ok()
    .assert_stdout_eq("xv /tmp\n");

    p.run(&["logs", &name])
        .assert_ok()
        .assert_stdout_contains("started");

    // stop: SIGTERM, which the trap honours.
    p.run(&["stop", "-t", "30", &name]).assert_ok();
    assert_eq!(inspect(&p, &name, "{{.State.Status}}"), "exited");
    assert_eq!(
        inspect(&p, &name, "{{.State.ExitCode}}"),
        "42",
        "the TERM trap's exit code"
    );
    p.run(&["logs", &name])
        .assert_ok()
        .assert_stdout_contains("got-term");

    p.run(&["rm", &name]).assert_ok();
    p.run(&["container", "exists", &name]).assert_code(1);
}

#[test]
fn stop_falls_back_to_kill() {
    let p = Podman::new();
    let name = unique_id("pd-kill");
    let _guard = p.guard(&name);
    run_detached(
        &p,
        &name,
        "trap '' TERM; echo ignoring; while :; do sleep 0.1; done",
    );
    wait_for_log(&p, &name, "ignoring");
    p.run(&["stop", "-t", "1", &name]).assert_ok();
    assert_eq!(inspect(&p, &name, "{{.State.Status}}"), "exited");
    assert_eq!(
        inspect(&p, &name, "{{.State.ExitCode}}"),
        "137",
        "TERM was ignored: podman must have fallen back to SIGKILL"
    );
    p.run(&["rm", &name]).assert_ok();
}

#[test]
fn run_t_gets_a_real_tty() {
    let p = Podman::new();
    let out = p.run_rm(
        &["-t"],
        &["sh", "-c", "tty; [ -t 0 ] && echo stdin-is-a-tty"],
    );
    out.assert_ok();
    let first = out
        .stdout
        .lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('\r');
    assert!(
        first.starts_with("/dev/pts/"),
        "tty must print a /dev/pts path\n{out}"
    );
    out.assert_stdout_contains("stdin-is-a-tty");
}

#[test]
fn read_only_root() {
    let p = Podman::new();
    let out = p.run_rm(
        &["--read-only"],
        &[
            "sh",
            "-c",
            "touch /x; echo touch-root=$?; touch /tmp/y && echo tmp-writable",
        ],
    );
    out.assert_ok()
        .assert_stdout_contains("touch-root=1")
        .assert_stderr_contains("Read-only file system")
        .assert_stdout_contains("tmp-writable");
}

#[test]
fn user_1000() {
    let p = Podman::new();
    let out = p.run_rm(&["--user", "1000:1000"], &["id"]);
    out.assert_ok()
        .assert_stdout_contains("uid=1000")
        .assert_stdout_contains("gid=1000");
    assert!(!out.stdout.contains("uid=0"), "{out}");
}

/// podman's create/start (runc dialect) with a user namespace: the init,
/// root mapped to an unprivileged host uid, must still get through the
/// exec FIFO in the runtime's root-only state directory.
#[test]
fn uidmap_user_namespace() {
    let p = Podman::new();
    let out = p.run_rm(
        &["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"],
        &["sh", "-c", "id -u; cat /proc/self/uid_map"],
    );
    out.assert_ok();
    let lines = runoci_tests::word_lines(&out.stdout);
    assert_eq!(
        lines,
        vec![vec!["0"], vec!["0", "100000", "65536"]],
        "{out}"
    );
}

fn cap_line(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn cap_drop_all() {
    let p = Podman::new();
    let all = p.run_rm(&["--cap-drop", "ALL"], &["cat", "/proc/self/status"]);
    all.assert_ok();
    for key in ["CapEff:", "CapPrm:", "CapBnd:"] {
        assert_eq!(
            cap_line(&all.stdout, key),
            "0000000000000000",
            "{key}\n{all}"
        );
    }
    // The default keeps some: the drop above is podman's doing through us.
    let default = p.run_rm(&[], &["cat", "/proc/self/status"]);
    default.assert_ok();
    assert_ne!(
        cap_line(&default.stdout, "CapEff:"),
        "0000000000000000",
        "{default}"
    );
}

#[test]
fn memory_limit() {
    let p = Podman::new();
    // cgroup v1 memory controller (hybrid hosts), else cgroup2.
    let out = p.run_rm(
        &["--memory", "64m"],
        &[
            "sh",
            "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
        ],
    );
    out.assert_ok().assert_stdout_eq("67108864\n");
}

#[test]
fn pids_limit() {
    let p = Podman::new();
    // The forks happen in a child shell (busybox sh gives up at the first
    // failed fork); counting uses builtins only (no fork left to spare).
    let script = "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; \
                  sh -c 'i=0; while [ $i -lt 30 ]; do sleep 30 & i=$((i+1)); done'; \
                  echo inner=$?; \
                  f=/sys/fs/cgroup/pids/pids.current; [ -f $f ] || f=/sys/fs/cgroup/pids.current; \
                  read c < $f; echo $c";
    let out = p.run_rm(&["--pids-limit", "20"], &["sh", "-c", script]);
    out.assert_ok();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("20"), "pids.max\n{out}");
    assert_ne!(
        lines.next(),
        Some("inner=0"),
        "forks past 20 must fail\n{out}"
    );
    let current: u32 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pids.current\n{out}"));
    assert!(current <= 20, "pids.current {current} > 20\n{out}");
    assert!(
        out.stderr.contains("fork"),
        "forks past the limit must fail\n{out}"
    );
}

#[test]
fn env_workdir_hostname() {
    let p = Podman::new();
    let out = p.run_rm(
        &["-e", "K=V with spaces", "-w", "/tmp", "--hostname", "h1"],
        &[
            "sh",
            "-c",
            "echo \"$K\"; pwd; hostname; cat /proc/sys/kernel/hostname",
        ],
    );
    out.assert_ok()
        .assert_stdout_eq("V with spaces\n/tmp\nh1\nh1\n");
}

#[test]
fn volume_hostdir() {
    let p = Podman::new();
    let dir = test_dir().join(unique_id("pd-vol"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("from-host"), "host data\n").unwrap();
    let spec = format!("{}:/data", dir.display());
    let out = p.run_rm(
        &["-v", &spec],
        &[
            "sh",
            "-c",
            "cat /data/from-host; echo container data > /data/from-container",
        ],
    );
    let written = std::fs::read_to_string(dir.join("from-container"));
    let _ = std::fs::remove_dir_all(&dir);
    out.assert_ok().assert_stdout_eq("host data\n");
    assert_eq!(
        written.unwrap_or_default(),
        "container data\n",
        "written inside, seen on the host\n{out}"
    );
}

#[test]
fn tmpfs_copies_up_the_image_content() {
    // podman puts runc's `tmpcopyup` on --tmpfs (and --read-only) mounts:
    // the tmpfs starts with what the image had there.
    let p = Podman::new();
    let out = p.run_rm(
        &["--tmpfs", "/etc"],
        &[
            "sh",
            "-c",
            "grep -c ' /etc tmpfs ' /proc/mounts; grep ^user: /etc/passwd",
        ],
    );
    out.assert_ok()
        .assert_stdout_eq("1\nuser:x:1000:1000:user:/home/user:/bin/sh\n");
}
