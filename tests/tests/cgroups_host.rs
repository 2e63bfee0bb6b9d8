//! Real limits on this machine's cgroups (hybrid here: v1 controllers at
//! `/sys/fs/cgroup/<ctrl>`, cgroup2 at `/sys/fs/cgroup/unified`; the code
//! under test must work on v1, v2 and hybrid, and these tests only look
//! at the files of whichever hierarchy holds a controller). Each test
//! starts real busybox containers with `runoci run` (foreground) or
//! `runoci start` (detached, with a monitor) and checks what the kernel
//! enforced, from inside the container and from the cgroup's own files.
//!
//! The container's cgroup is `<hierarchy root>/<id>` (no cgroupsPath, no
//! `--cgroup_parent`), so every test finds its files by id.

use runoci_proto::{Client, Event};
use runoci_tests::{unique_id, Bundle, Runtime};
use serde_json::{json, Value};
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MIB: i64 = 1024 * 1024;

/// Where `controller`'s files are on this machine: a v1 mount point, else
/// the cgroup2 root when that offers it.
fn controller_root(controller: &str) -> PathBuf {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let mut v2 = None;
    for line in mountinfo.lines() {
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let point = before.split(' ').nth(4).unwrap_or_default();
        let mut after = after.split(' ');
        match (after.next(), after.nth(1)) {
            (Some("cgroup"), Some(opts)) if opts.split(',').any(|o| o == controller) => {
                return PathBuf::from(point);
            }
            (Some("cgroup2"), _) if v2.is_none() => v2 = Some(PathBuf::from(point)),
            _ => {}
        }
    }
    let root = v2.unwrap_or_else(|| panic!("no hierarchy offers {controller}"));
    let offered = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    assert!(
        offered.split_whitespace().any(|c| c == controller),
        "{controller} is neither a v1 hierarchy nor offered by {}",
        root.display()
    );
    root
}

/// Every hierarchy root mounted here (v1 mount points and the cgroup2 root).
fn hierarchy_roots() -> Vec<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let mut roots: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let fstype = after.split(' ').next()?;
            matches!(fstype, "cgroup" | "cgroup2")
                .then(|| PathBuf::from(before.split(' ').nth(4).unwrap_or_default()))
        })
        .collect();
    roots.sort();
    roots.dedup();
    roots
}

/// The container's directories that exist right now, in every hierarchy.
fn cgroup_dirs_of(id: &str) -> Vec<PathBuf> {
    hierarchy_roots()
        .into_iter()
        .map(|r| r.join(id))
        .filter(|d| d.is_dir())
        .collect()
}

fn read_trim(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

fn read_u64(path: &Path) -> u64 {
    let text = read_trim(path);
    text.parse()
        .unwrap_or_else(|_| panic!("{}: not a number: {text:?}", path.display()))
}

/// Waits up to the harness timeout for `path` to exist.
#[track_caller]
fn wait_for(path: &Path) {
    let deadline = Instant::now() + runoci_tests::default_timeout();
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A FIFO at `<rootfs>/<name>` the container blocks on with the shell
/// builtin `read` (no fork, so it costs no pid); [`release`] lets it go.
fn make_gate(bundle: &Bundle, name: &str) -> PathBuf {
    let path = bundle.rootfs().join(name);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    path
}

/// Writes a line to the gate FIFO once the container has opened it.
#[track_caller]
fn release(gate: &Path) {
    let deadline = Instant::now() + runoci_tests::default_timeout();
    loop {
        match fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(gate)
        {
            Ok(mut f) => {
                f.write_all(b"go\n").unwrap();
                return;
            }
            // ENXIO: no reader yet.
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("open {} for writing: {e}", gate.display()),
        }
    }
}

/// `kill KILL`, waits for the monitor to see the exit, then `destroy`; the
/// container's cgroup directories must be gone.
#[track_caller]
fn kill_and_destroy(rt: &Runtime, id: &str) {
    rt.run(["kill", id, "KILL"]).assert_ok();
    let deadline = Instant::now() + runoci_tests::default_timeout();
    while rt.state(id)["status"] != "stopped" {
        assert!(
            Instant::now() < deadline,
            "{id} still not stopped after SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    rt.run(["destroy", id]).assert_ok();
    assert!(!rt.root().join(id).exists());
    assert_eq!(
        cgroup_dirs_of(id),
        Vec::<PathBuf>::new(),
        "cgroup directories of {id} left after destroy"
    );
}

/// Sets `linux.resources` and `process.args = ["sh", "-c", script]`.
fn configure(bundle: &mut Bundle, resources: Value, script: &str) {
    bundle.config_mut()["linux"]["resources"] = resources;
    bundle.set_args(&["sh", "-c", script]);
}

/// 32 MiB of memory, memory+swap the same (no swap at all).
fn memory_32m() -> Value {
    json!({ "memory": { "limit": 32 * MIB, "swap": 32 * MIB } })
}

/// `exec tail /dev/zero`: tail keeps the last "line" of a file with no
/// newline, so it holds everything it reads; via exec it is the init.
const EAT_MEMORY: &str = "exec tail /dev/zero";

/// The init joins its cgroups itself (`0` to each v1 `tasks` file the
/// runtime opened, born in the cgroup2 one by clone3 CLONE_INTO_CGROUP),
/// the runtime moving it wherever it could not: either way the program
/// starts in the container's cgroup in every hierarchy, in a new user
/// namespace too (where the init's own ids are not mapped yet when it
/// writes).
#[test]
fn the_program_starts_in_the_container_s_cgroup_in_every_hierarchy() {
    let rt = Runtime::runoci();
    for userns in [false, true] {
        let mut bundle = Bundle::new("cgroup-join");
        let config = bundle.config_mut();
        // No cgroup namespace: /proc/self/cgroup shows the host's paths.
        config["linux"]["namespaces"]
            .as_array_mut()
            .expect("linux.namespaces")
            .retain(|n| n["type"] != "cgroup");
        if userns {
            runoci_tests::user_namespaced(config);
        }
        bundle.set_args(&["cat", "/proc/self/cgroup"]);
        let id = unique_id("cgroup-join");
        let out = rt.run(["run", "-c", bundle.path_str(), &id]);
        out.assert_ok();
        let own = format!(":/{id}");
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            hierarchy_roots().len(),
            "one line per hierarchy mounted here: {}",
            out.stdout
        );
        for line in lines {
            assert!(
                line.ends_with(&own),
                "user namespace {userns}: {line} is not in {id}'s cgroup"
            );
        }
    }
}

#[test]
fn memory_limit_oom_kills_a_run_container_with_137() {
    let mut bundle = Bundle::new("oom-run");
    let rt = Runtime::runoci();
    configure(&mut bundle, memory_32m(), EAT_MEMORY);
    let id = unique_id("oom-run");
    let out = rt.run(["run", "-c", bundle.path_str(), &id]);
    out.assert_code(137);
    assert_eq!(
        cgroup_dirs_of(&id),
        Vec::<PathBuf>::new(),
        "cgroup directories of {id} left after the run"
    );
}

#[test]
fn memory_limit_oom_of_a_started_container_is_reported_everywhere() {
    let mut bundle = Bundle::new("oom-start");
    let rt = Runtime::runoci();
    let gate = make_gate(&bundle, "gate");
    configure(
        &mut bundle,
        memory_32m(),
        &format!("read x < /gate; {EAT_MEMORY}"),
    );
    let id = unique_id("oom-start");
    rt.run(["start", "-c", bundle.path_str(), &id]).assert_ok();

    let memory_dir = controller_root("memory").join(&id);
    // This machine is hybrid: memory is a v1 controller (pure v2 is the
    // VM test's).
    assert_eq!(
        read_u64(&memory_dir.join("memory.limit_in_bytes")),
        32 * MIB as u64
    );
    assert!(!cgroup_dirs_of(&id).is_empty());

    let client =
        Client::connect(runoci_proto::socket_path(rt.root(), &id)).expect("connect to the monitor");
    client
        .set_timeout(Some(runoci_tests::default_timeout()))
        .unwrap();
    let mut events = client.events().expect("subscribe to events");
    match events.next() {
        Some(Ok(Event::Started { .. })) => {}
        other => panic!("expected `started` first, got {other:?}"),
    }
    release(&gate);
    let rest: Vec<Event> = events.map(|e| e.expect("event")).collect();
    assert!(
        rest.iter().any(|e| matches!(e, Event::Oom)),
        "no `oom` event: {rest:?}"
    );
    match rest.last() {
        Some(Event::Exited { exit }) => {
            assert_eq!(exit.signal, Some(9), "{exit:?}");
            assert!(exit.oom_killed, "exited event without oomKilled: {exit:?}");
        }
        other => panic!("expected `exited` last, got {other:?} in {rest:?}"),
    }

    let status = rt.root().join(&id).join("exit-status");
    assert_eq!(read_trim(&status), "137");
    let state = rt.state(&id);
    assert_eq!(state["status"], "stopped", "{state}");
    assert_eq!(state["exit"]["oomKilled"], true, "{state}");
    assert_eq!(
        cgroup_dirs_of(&id),
        Vec::<PathBuf>::new(),
        "the monitor left cgroup directories of {id} after the exit"
    );
    rt.run(["destroy", &id]).assert_ok();
    assert!(!rt.root().join(&id).exists());
}

/// Forks `sleep`s in a subshell until a fork fails; the number that
/// succeeded goes to `/tmp/n$1`, the shell's complaint to `/tmp/err$1`.
/// The subshell dies at the failed fork (ash gives up on "can't fork"),
/// its sleeps stay. Every step is a builtin except the forks counted.
const FORK_BOMB: &str = "bomb() { ( i=0; while :; do sleep 1000 & i=$((i+1)); echo $i > /tmp/n$1; done ) 2>/tmp/err$1; }";

#[test]
fn pids_limit_stops_a_fork_bomb_at_10() {
    let mut bundle = Bundle::new("pids-bomb");
    let rt = Runtime::runoci();
    configure(
        &mut bundle,
        json!({ "pids": { "limit": 10 } }),
        &format!("{FORK_BOMB}; bomb 1; read n < /tmp/n1; read err < /tmp/err1; echo \"forked $n\"; echo \"err $err\""),
    );
    let id = unique_id("pids-bomb");
    let out = rt.run(["run", "-c", bundle.path_str(), &id]);
    out.assert_ok();
    // The init (sh) and the subshell, plus the sleeps: 10 at the most.
    out.assert_stdout_contains("forked 8\n");
    assert!(
        out.stdout.contains("can't fork")
            || out.stdout.contains("Resource temporarily unavailable"),
        "expected the failed fork's error\n{out}"
    );
    assert_eq!(cgroup_dirs_of(&id), Vec::<PathBuf>::new());
}

#[test]
fn update_raising_the_pids_limit_lets_more_processes_run() {
    let mut bundle = Bundle::new("pids-update");
    let rt = Runtime::runoci();
    let gate = make_gate(&bundle, "gate");
    configure(
        &mut bundle,
        json!({ "pids": { "limit": 10 } }),
        &format!(
            "{FORK_BOMB}; bomb 1; echo > /tmp/done1; read x < /gate; bomb 2; echo > /tmp/done2; exec sleep 1000"
        ),
    );
    let id = unique_id("pids-update");
    rt.run(["start", "-c", bundle.path_str(), &id]).assert_ok();
    let pids_dir = controller_root("pids").join(&id);
    let tmp = bundle.rootfs().join("tmp");

    wait_for(&tmp.join("done1"));
    assert_eq!(read_trim(&tmp.join("n1")), "8", "forks under pids.max 10");
    assert_eq!(read_trim(&pids_dir.join("pids.max")), "10");
    // The init and 8 sleeps remain; the subshell that hit the limit is gone.
    assert_eq!(read_u64(&pids_dir.join("pids.current")), 9);
    let ps = rt.run(["ps", "--format", "json", &id]).assert_ok().json();
    assert_eq!(ps.as_array().map(Vec::len), Some(9), "runoci ps: {ps}");
    // The kernel counts the fork it refused (pids.events, since Linux 4.3).
    let events = read_trim(&pids_dir.join("pids.events"));
    let max: u64 = events
        .strip_prefix("max ")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("pids.events is not \"max N\": {events:?}"));
    assert!(max > 0, "pids.events counts no refused fork: {events:?}");

    rt.run(["update", "--pids-limit", "20", &id]).assert_ok();
    assert_eq!(read_trim(&pids_dir.join("pids.max")), "20");
    release(&gate);
    wait_for(&tmp.join("done2"));
    // 9 before, the new subshell, and 10 more sleeps make 20.
    assert_eq!(read_trim(&tmp.join("n2")), "10", "forks under pids.max 20");
    let ps = rt.run(["ps", "--format", "json", &id]).assert_ok().json();
    assert_eq!(ps.as_array().map(Vec::len), Some(19), "runoci ps: {ps}");
    assert!(read_u64(&pids_dir.join("pids.current")) <= 20);

    // destroy --force of the running container: it is killed and its
    // cgroups go with its record.
    rt.run(["destroy", "--force", &id]).assert_ok();
    assert!(!rt.root().join(&id).exists());
    assert_eq!(
        cgroup_dirs_of(&id),
        Vec::<PathBuf>::new(),
        "cgroup directories of {id} left after destroy --force"
    );
}

/// CPU time the cgroup used, in nanoseconds: v1 `cpuacct.usage` (this
/// machine is hybrid; the VM test reads v2's `usage_usec`).
fn cpu_usage_ns(id: &str) -> u64 {
    read_u64(&controller_root("cpuacct").join(id).join("cpuacct.usage"))
}

/// A counter of the container's v1 `cpu.stat` (`nr_periods`,
/// `nr_throttled`).
fn cpu_stat(id: &str, key: &str) -> u64 {
    let path = controller_root("cpu").join(id).join("cpu.stat");
    let stat = read_trim(&path);
    stat.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {}: {stat}", path.display()))
}

#[test]
fn cpu_quota_of_20_percent_holds_two_busy_loops_to_a_fifth_of_a_cpu() {
    let mut bundle = Bundle::new("cpu-quota");
    let rt = Runtime::runoci();
    configure(
        &mut bundle,
        json!({ "cpu": { "quota": 20000, "period": 100000 } }),
        // Two spinning shells could use two CPUs; the quota allows 0.2.
        "spin() { while :; do :; done; }; spin & spin & echo > /tmp/spinning; wait",
    );
    let id = unique_id("cpu-quota");
    rt.run(["start", "-c", bundle.path_str(), &id]).assert_ok();
    wait_for(&bundle.rootfs().join("tmp/spinning"));

    // What the quota promises is a ceiling per enforcement period, whatever
    // else loads the machine: measure against the kernel's own count of
    // periods, not against wall time (on 2 loaded CPUs the loops may get
    // less than their 0.2, which says nothing about the quota). Throttling
    // proves the loops wanted more than the quota gave.
    // Periods read before usage at the start and after it at the end: every
    // period the usage window touches is counted, however late a read is.
    let p0 = cpu_stat(&id, "nr_periods");
    let u0 = cpu_usage_ns(&id);
    let deadline = Instant::now() + runoci_tests::default_timeout();
    while cpu_stat(&id, "nr_periods") < p0 + 30 || cpu_stat(&id, "nr_throttled") == 0 {
        assert!(
            Instant::now() < deadline,
            "30 periods with throttling did not happen: {}",
            read_trim(&controller_root("cpu").join(&id).join("cpu.stat"))
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let u1 = cpu_usage_ns(&id);
    let p1 = cpu_stat(&id, "nr_periods");
    let periods = p1 - p0;
    let used = u1 - u0;
    // 20 ms per period, plus a partial period at either end and the 5 ms
    // slices runtime is handed to each CPU in.
    let allowed = (periods + 2) * 20_000_000 + 2 * 5_000_000;
    eprintln!(
        "cpu under a 0.2 quota: {used} ns over {periods} periods ({:.3} per period)",
        used as f64 / periods as f64 / 100_000_000.0
    );
    assert!(
        used <= allowed,
        "the cgroup used {used} ns in {periods} periods of 100 ms, more than the quota's {allowed}"
    );

    kill_and_destroy(&rt, &id);
}

/// Device nodes the tests make in the rootfs (the container's /dev is a
/// tmpfs, so they live at the top): `/fuse` (10:229, not one of the
/// default devices), `/loopctl` (10:237, neither) and `/mynull` (1:3, a
/// default device). Opening fuse or loop-control has no effect.
fn make_nodes(bundle: &Bundle) {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    for (name, major, minor) in [("fuse", 10, 229), ("loopctl", 10, 237), ("mynull", 1, 3)] {
        mknod(
            &bundle.rootfs().join(name),
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .unwrap();
    }
}

/// Prints `NAME ok` or `NAME denied: <error>` for opening each node
/// read-write.
const PROBE: &str = "for f in /dev/null /mynull /loopctl /fuse; do if (: <> $f) 2>/tmp/e; then echo \"$f ok\"; else read e < /tmp/e; echo \"$f denied: $e\"; fi; done";

fn probe_devices(rules: Option<Value>, prefix: &str) -> String {
    let mut bundle = Bundle::new(prefix);
    let rt = Runtime::runoci();
    make_nodes(&bundle);
    let resources = match rules {
        Some(rules) => json!({ "devices": rules }),
        None => json!({}),
    };
    configure(&mut bundle, resources, PROBE);
    let id = unique_id(prefix);
    let out = rt.run(["run", "-c", bundle.path_str(), &id]);
    out.assert_ok();
    assert_eq!(cgroup_dirs_of(&id), Vec::<PathBuf>::new());
    out.stdout
}

#[test]
fn devices_without_rules_the_container_keeps_its_parents_access() {
    // The control for the two below: the node works when no rule denies it.
    let out = probe_devices(None, "dev-none");
    assert_eq!(out, "/dev/null ok\n/mynull ok\n/loopctl ok\n/fuse ok\n");
}

#[test]
fn devices_deny_all_leaves_only_the_default_devices() {
    let out = probe_devices(
        Some(json!([{ "allow": false, "access": "rwm" }])),
        "dev-deny-all",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["/dev/null ok", "/mynull ok"], "{out}");
    for (line, node) in [(lines[2], "/loopctl"), (lines[3], "/fuse")] {
        assert!(
            line.starts_with(&format!("{node} denied:"))
                && line.contains("Operation not permitted"),
            "{out}"
        );
    }
}

#[test]
fn devices_allow_all_then_deny_one_denies_only_that_one() {
    let out = probe_devices(
        Some(json!([
            { "allow": true, "access": "rwm" },
            { "allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm" }
        ])),
        "dev-deny-one",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        ["/dev/null ok", "/mynull ok", "/loopctl ok"],
        "{out}"
    );
    assert!(
        lines[3].starts_with("/fuse denied:") && lines[3].contains("Operation not permitted"),
        "{out}"
    );
}
