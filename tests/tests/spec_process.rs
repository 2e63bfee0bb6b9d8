//! runtime-spec 1.3's per-process attributes, each read back inside a real
//! container: `process.ioPriority`, `process.scheduler`,
//! `linux.personality`, `process.execCPUAffinity`, `linux.memoryPolicy`;
//! and what engines expect of a runtime: the session keyring of the
//! container's own (`--no-new-keyring` keeps the caller's) and
//! `NOTIFY_SOCKET` pass-through. Values runoci cannot apply are refused at
//! load, naming the field.
//!
//! The tests use only the runc command line, so `RUNOCI_BIN=/usr/bin/runc`
//! runs them against runc: 1.1.5 agrees on the session keyring and
//! NOTIFY_SOCKET (it ignores the rest: personality came in runc 1.2);
//! `RUNOCI_BIN=/usr/bin/crun` (1.8.1) agrees on personality.

mod common;
mod detached_common;

use common::assert_fails_with;
use detached_common::{forever_args, set_args};
use runoci_tests::{test_dir, unique_id, Bundle, Output, Runtime};
use serde_json::{json, Value};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A static helper for what busybox cannot do: `probe notify MESSAGE`
/// sends MESSAGE to `$NOTIFY_SOCKET` (a datagram, as sd_notify does);
/// `probe session-keyring` prints the description of the caller's session
/// keyring (`keyring;uid;gid;perm;name`); `probe sched-attr` prints the
/// caller's policy, nice, priority, runtime, deadline and period
/// (`sched_getattr`).
const PROBE_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "notify") == 0) {
        const char *path = getenv("NOTIFY_SOCKET");
        if (!path) { fprintf(stderr, "no NOTIFY_SOCKET\n"); return 2; }
        int s = socket(AF_UNIX, SOCK_DGRAM, 0);
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        strncpy(a.sun_path, path, sizeof a.sun_path - 1);
        if (sendto(s, argv[2], strlen(argv[2]), 0, (struct sockaddr *)&a, sizeof a) < 0) {
            perror("sendto"); return 1;
        }
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "session-keyring") == 0) {
        /* KEYCTL_GET_KEYRING_ID 0, KEY_SPEC_SESSION_KEYRING -3, KEYCTL_DESCRIBE 6 */
        long id = syscall(SYS_keyctl, 0, -3, 0);
        if (id < 0) { perror("keyctl get session"); return 1; }
        char buf[4096];
        long n = syscall(SYS_keyctl, 6, id, buf, sizeof buf);
        if (n < 0 || n > (long)sizeof buf) { perror("keyctl describe"); return 1; }
        printf("%s\n", buf);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "sched-attr") == 0) {
        struct { unsigned size, policy; unsigned long long flags; int nice; unsigned priority;
                 unsigned long long runtime, deadline, period; unsigned util_min, util_max; } a;
        if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) < 0) { perror("sched_getattr"); return 1; }
        printf("%u %d %u %llu %llu %llu\n", a.policy, a.nice, a.priority, a.runtime, a.deadline, a.period);
        return 0;
    }
    fprintf(stderr, "usage: probe notify MESSAGE | probe session-keyring | probe sched-attr\n");
    return 2;
}
"#;

/// The probe, compiled once per test process (build-essential is a
/// dependency of the project) into one place kept like the busybox
/// template: built under a name of this process's, then renamed, so test
/// processes running at once never see half a binary.
fn probe_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = test_dir().join("spec-process-probe");
        std::fs::create_dir_all(&dir).expect("probe dir");
        let pid = std::process::id();
        let src = dir.join(format!("probe-{pid}.c"));
        std::fs::write(&src, PROBE_C).expect("write probe.c");
        let tmp = dir.join(format!("probe-{pid}"));
        let out = std::process::Command::new("cc")
            .args(["-static", "-O2", "-o"])
            .arg(&tmp)
            .arg(&src)
            .output()
            .expect("run cc");
        let _ = std::fs::remove_file(&src);
        assert!(
            out.status.success(),
            "cc -static probe.c failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = dir.join("probe");
        std::fs::rename(&tmp, &bin).expect("rename the probe into place");
        bin
    })
}

fn with_probe(bundle: &Bundle) {
    let dst = bundle.rootfs().join("bin/probe");
    std::fs::copy(probe_binary(), &dst).expect("copy the probe into the rootfs");
}

/// `run --bundle B [flags] ID` of `sh -c script` (the runc command line).
fn run_sh(bundle: &mut Bundle, rt: &Runtime, prefix: &str, flags: &[&str], script: &str) -> Output {
    bundle.set_args(&["sh", "-c", script]);
    let id = unique_id(prefix);
    let mut args = vec!["run", "--bundle", bundle.path_str()];
    args.extend_from_slice(flags);
    args.push(&id);
    rt.run(args)
}

#[track_caller]
fn run_sh_ok(bundle: &mut Bundle, rt: &Runtime, prefix: &str, script: &str) -> String {
    let out = run_sh(bundle, rt, prefix, &[], script);
    out.assert_ok();
    out.stdout
}

/// A created and started container (runc's `create` + `start`) that runs
/// until killed, for `exec`.
fn started(bundle: &mut Bundle, rt: &Runtime, prefix: &str) -> String {
    let id = unique_id(prefix);
    set_args(bundle, &forever_args(&id));
    rt.run(["create", "--bundle", bundle.path_str(), &id])
        .assert_ok();
    rt.run(["start", &id]).assert_ok();
    id
}

#[track_caller]
fn exec_sh(rt: &Runtime, id: &str, script: &str) -> String {
    let out = rt.run(["exec", id, "sh", "-c", script]);
    out.assert_ok();
    out.stdout
}

/// Fields 19 (nice), 40 (rt_priority) and 41 (policy) of a
/// `/proc/PID/stat` line (the comm in parentheses may hold spaces).
fn sched_fields(stat: &str) -> (i64, i64, i64) {
    let after_comm = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    // Field 3 is the first after the comm.
    let f: Vec<i64> = after_comm
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(i64::MIN))
        .collect();
    let field = |n: usize| f.get(n - 3).copied().unwrap_or(i64::MIN);
    (field(19), field(40), field(41))
}

/// `run` of `bundle` as it is must fail at load with `message` (which
/// names the field), leaving nothing.
#[track_caller]
fn assert_refused(bundle: &mut Bundle, rt: &Runtime, prefix: &str, message: &str) {
    let out = run_sh(bundle, rt, prefix, &[], "true");
    assert_fails_with(&out, message);
    assert!(
        rt.container_ids().is_empty(),
        "a refused config left a record: {:?}",
        rt.container_ids()
    );
}

#[test]
fn io_priority_reaches_the_container_and_its_exec_processes() {
    let mut bundle = Bundle::new("ioprio");
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["ioPriority"] =
        json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    let out = run_sh_ok(&mut bundle, &rt, "ioprio", "ionice -p $$");
    assert_eq!(
        out.trim(),
        "best-effort: prio 6",
        "expected `ionice` to show the configured class and level"
    );
    let id = started(&mut bundle, &rt, "ioprio-exec");
    let out = exec_sh(&rt, &id, "ionice -p $$; ionice -p 1");
    assert_eq!(
        out, "best-effort: prio 6\nbest-effort: prio 6\n",
        "expected the exec'd process and the init both at best-effort 6"
    );
}

#[test]
fn io_priority_out_of_range_is_refused_naming_the_field() {
    let mut bundle = Bundle::new("ioprio-bad");
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["ioPriority"] =
        json!({"class": "IOPRIO_CLASS_BE", "priority": 8});
    assert_refused(
        &mut bundle,
        &rt,
        "ioprio-bad",
        "process.ioPriority.priority: 8",
    );
    bundle.config_mut()["process"]["ioPriority"] =
        json!({"class": "IOPRIO_CLASS_NONE", "priority": 0});
    assert_refused(&mut bundle, &rt, "ioprio-bad", "process.ioPriority.class");
}

#[test]
fn scheduler_policy_nice_and_priority_are_applied() {
    let mut bundle = Bundle::new("sched");
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    let out = run_sh_ok(&mut bundle, &rt, "sched", "cat /proc/self/stat");
    assert_eq!(
        sched_fields(&out),
        (7, 0, 3),
        "expected nice 7, rt priority 0, policy 3 (SCHED_BATCH) in {out:?}"
    );
    bundle.config_mut()["process"]["scheduler"] = json!({
        "policy": "SCHED_RR", "priority": 10, "flags": ["SCHED_FLAG_RESET_ON_FORK"]
    });
    // With real-time group scheduling (this host's kernel) a cgroup runs
    // real-time tasks only with real-time runtime of its own.
    if Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        bundle.config_mut()["linux"]["resources"] =
            json!({"cpu": {"realtimeRuntime": 500000, "realtimePeriod": 1000000}});
    }
    // The shell's own stat: with SCHED_FLAG_RESET_ON_FORK, `cat` (a
    // child) would be back at SCHED_OTHER.
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "sched-rr",
        "read -r stat < /proc/self/stat; echo \"$stat\"; cat /proc/self/stat; true",
    );
    let mut lines = out.lines();
    let (shell, child) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    assert_eq!(
        sched_fields(shell),
        (0, 10, 2),
        "expected the program at SCHED_RR priority 10: {shell:?}"
    );
    assert_eq!(
        sched_fields(child).2,
        0,
        "expected SCHED_FLAG_RESET_ON_FORK to put a child back at SCHED_OTHER: {child:?}"
    );
}

#[test]
fn scheduler_deadline_parameters_are_applied() {
    let mut bundle = Bundle::new("sched-dl");
    let rt = Runtime::runoci();
    with_probe(&bundle);
    // A deadline task may not fork without SCHED_FLAG_RESET_ON_FORK (the
    // shell execs the probe: same task).
    bundle.config_mut()["process"]["scheduler"] = json!({
        "policy": "SCHED_DEADLINE", "runtime": 10_000_000, "deadline": 30_000_000,
        "period": 100_000_000, "flags": ["SCHED_FLAG_RESET_ON_FORK"]
    });
    let out = run_sh_ok(&mut bundle, &rt, "sched-dl", "exec probe sched-attr");
    assert_eq!(
        out.trim(),
        "6 0 0 10000000 30000000 100000000",
        "expected SCHED_DEADLINE (6) with the configured runtime, deadline and period"
    );
}

#[test]
fn scheduler_values_the_kernel_refuses_are_refused_at_load() {
    let mut bundle = Bundle::new("sched-bad");
    let rt = Runtime::runoci();
    for (scheduler, message) in [
        (
            json!({"policy": "SCHED_FIFO", "priority": 100}),
            "process.scheduler.priority: 100 outside 1..=99",
        ),
        (
            json!({"policy": "SCHED_OTHER", "nice": -21}),
            "process.scheduler.nice: -21",
        ),
        (
            json!({"policy": "SCHED_ISO"}),
            "process.scheduler.policy: SCHED_ISO is not implemented",
        ),
        (
            json!({"policy": "SCHED_DEADLINE", "runtime": 20000, "deadline": 10000}),
            "process.scheduler: SCHED_DEADLINE needs runtime <= deadline <= period",
        ),
        (
            json!({"policy": "SCHED_BATCH", "flags": ["SCHED_FLAG_FAST"]}),
            "process.scheduler.flags[0]",
        ),
    ] {
        bundle.config_mut()["process"]["scheduler"] = scheduler;
        assert_refused(&mut bundle, &rt, "sched-bad", message);
    }
}

/// crun 1.8.1 agrees (RUNOCI_BIN=/usr/bin/crun); runc 1.1.5 ignores the
/// field.
#[test]
fn personality_linux32_makes_uname_report_a_32_bit_machine() {
    let mut bundle = Bundle::new("personality");
    let rt = Runtime::runoci();
    bundle.config_mut()["linux"]["personality"] = json!({"domain": "LINUX32"});
    let out = run_sh_ok(&mut bundle, &rt, "personality", "uname -m");
    assert_eq!(
        out.trim(),
        "i686",
        "expected LINUX32 to make `uname -m` say i686 (on x86_64)"
    );
    bundle.config_mut()["linux"]["personality"] = json!({"domain": "LINUX"});
    let out = run_sh_ok(&mut bundle, &rt, "personality", "uname -m");
    assert_eq!(
        out.trim(),
        std::env::consts::ARCH,
        "LINUX keeps the machine"
    );
}

#[test]
fn personality_exec_processes_get_it_too() {
    let mut bundle = Bundle::new("personality-exec");
    let rt = Runtime::runoci();
    bundle.config_mut()["linux"]["personality"] = json!({"domain": "LINUX32"});
    let id = started(&mut bundle, &rt, "personality-exec");
    assert_eq!(exec_sh(&rt, &id, "uname -m").trim(), "i686");
}

#[test]
fn personality_unknown_domain_or_any_flag_is_refused() {
    let mut bundle = Bundle::new("personality-bad");
    let rt = Runtime::runoci();
    bundle.config_mut()["linux"]["personality"] = json!({"domain": "LINUX64"});
    assert_refused(
        &mut bundle,
        &rt,
        "personality-bad",
        "linux.personality.domain: unknown domain \"LINUX64\"",
    );
    bundle.config_mut()["linux"]["personality"] =
        json!({"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]});
    assert_refused(
        &mut bundle,
        &rt,
        "personality-bad",
        "linux.personality.flags[0]",
    );
}

/// `Cpus_allowed_list` of the init and an exec'd process, with
/// `execCPUAffinity` `affinity` in the config.
fn affinity_seen(prefix: &str, affinity: Value) -> (String, String) {
    let mut bundle = Bundle::new(prefix);
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["execCPUAffinity"] = affinity;
    let id = started(&mut bundle, &rt, prefix);
    let out = exec_sh(
        &rt,
        &id,
        "grep Cpus_allowed_list /proc/1/status; grep Cpus_allowed_list /proc/self/status",
    );
    let values: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().last().unwrap_or("").to_string())
        .collect();
    assert_eq!(values.len(), 2, "{out:?}");
    (values[0].clone(), values[1].clone())
}

fn online_cpus() -> String {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .expect("read /sys/devices/system/cpu/online")
        .trim()
        .to_string()
}

#[test]
fn exec_cpu_affinity_final_is_the_exec_process_s_and_not_the_init_s() {
    let all = online_cpus();
    let last = all.rsplit(['-', ',']).next().unwrap_or("0").to_string();
    let (init, exec) = affinity_seen("affinity", json!({"initial": "0", "final": last.as_str()}));
    assert_eq!(exec, last, "expected the exec'd process on `final` only");
    assert_eq!(
        init, all,
        "the spec: execCPUAffinity does not apply to the init"
    );
}

#[test]
fn exec_cpu_affinity_initial_alone_is_left_to_the_kernel_after_the_cgroup_join() {
    // With no `final`, the spec leaves the affinity after the move into
    // the cgroups to the kernel: it keeps the requested `initial` within
    // the cpuset (Linux 6.2+ remembers a requested affinity), which is
    // all CPUs here.
    let (_, exec) = affinity_seen("affinity-initial", json!({"initial": "0"}));
    assert_eq!(exec, "0", "expected the initial affinity kept: {exec}");
}

#[test]
fn exec_cpu_affinity_bad_list_is_refused_naming_the_field() {
    let mut bundle = Bundle::new("affinity-bad");
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["execCPUAffinity"] = json!({"final": "1-0"});
    assert_refused(
        &mut bundle,
        &rt,
        "affinity-bad",
        "process.execCPUAffinity.final: range \"1-0\"",
    );
}

#[test]
fn memory_policy_bind_and_interleave_show_in_numa_maps() {
    let mut bundle = Bundle::new("mempolicy");
    let rt = Runtime::runoci();
    for (mode, shown) in [("MPOL_BIND", "bind:0"), ("MPOL_INTERLEAVE", "interleave:0")] {
        bundle.config_mut()["linux"]["memoryPolicy"] = json!({"mode": mode, "nodes": "0"});
        let out = run_sh_ok(&mut bundle, &rt, "mempolicy", "cat /proc/self/numa_maps");
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().nth(1) == Some(shown)),
            "expected {mode} to show as {shown} in numa_maps:\n{out}"
        );
    }
}

#[test]
fn memory_policy_nodes_are_checked_against_the_mode() {
    let mut bundle = Bundle::new("mempolicy-bad");
    let rt = Runtime::runoci();
    for (policy, message) in [
        (
            json!({"mode": "MPOL_BIND"}),
            "linux.memoryPolicy.nodes: MPOL_BIND needs at least one node",
        ),
        (
            json!({"mode": "MPOL_LOCAL", "nodes": "0"}),
            "linux.memoryPolicy.nodes: MPOL_LOCAL takes no nodes",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}),
            "linux.memoryPolicy.flags",
        ),
        (json!({"mode": "MPOL_NONE"}), "linux.memoryPolicy.mode"),
    ] {
        bundle.config_mut()["linux"]["memoryPolicy"] = policy;
        assert_refused(&mut bundle, &rt, "mempolicy-bad", message);
    }
}

#[test]
fn memory_policy_on_a_node_that_is_not_online_fails_the_create_naming_the_field() {
    let mut bundle = Bundle::new("mempolicy-offline");
    let rt = Runtime::runoci();
    bundle.config_mut()["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "1000"});
    let out = run_sh(&mut bundle, &rt, "mempolicy-offline", &[], "true");
    assert_fails_with(&out, "linux.memoryPolicy: set_mempolicy MPOL_BIND");
}

/// The description of the session keyring the container's program has.
fn session_keyring_of(bundle: &mut Bundle, rt: &Runtime, prefix: &str, flags: &[&str]) -> String {
    with_probe(bundle);
    let out = run_sh(bundle, rt, prefix, flags, "probe session-keyring");
    out.assert_ok();
    out.stdout.trim().to_string()
}

/// The name (last field) of a key description.
fn key_name(description: &str) -> &str {
    description.rsplit(';').next().unwrap_or("")
}

/// runc 1.1.5 makes the same keyring: run with RUNOCI_BIN=/usr/bin/runc.
#[test]
fn session_keyring_is_the_container_s_own_unless_no_new_keyring() {
    let mut bundle = Bundle::new("keyring");
    let rt = Runtime::runoci();
    bundle.set_args(&["true"]);
    let desc = session_keyring_of(&mut bundle, &rt, "keyring", &[]);
    assert!(
        key_name(&desc).starts_with("_ses.keyring-"),
        "expected a session keyring named _ses.<id>, saw {desc:?}"
    );
    // runc's permissions: searchable by the key's user.
    let perm = desc.split(';').nth(3).unwrap_or("");
    let perm = u32::from_str_radix(perm, 16).unwrap_or(0);
    assert_ne!(perm & 0x0008_0000, 0, "expected KEY_USR_SEARCH in {desc:?}");

    let desc = session_keyring_of(&mut bundle, &rt, "keyring", &["--no-new-keyring"]);
    assert!(
        !key_name(&desc).starts_with("_ses.keyring-"),
        "expected --no-new-keyring to keep the caller's session keyring, saw {desc:?}"
    );
}

/// runc 1.1.5 agrees.
#[test]
fn session_keyring_in_a_user_namespace_is_searchable_by_other() {
    let mut bundle = Bundle::new("keyring-userns");
    let rt = Runtime::runoci();
    let config = bundle.config_mut();
    config["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .push(json!({"type": "user"}));
    let map = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    config["linux"]["uidMappings"] = map.clone();
    config["linux"]["gidMappings"] = map;
    let desc = session_keyring_of(&mut bundle, &rt, "keyring-userns", &[]);
    assert!(
        key_name(&desc).starts_with("_ses.keyring-userns-"),
        "expected the container's own keyring, saw {desc:?}"
    );
    // Owned by the container's root (uid 0 inside), searchable by other:
    // the container's other users are not the key's user.
    let fields: Vec<&str> = desc.split(';').collect();
    let perm = u32::from_str_radix(fields.get(3).unwrap_or(&""), 16).unwrap_or(0);
    assert_eq!(fields.get(1), Some(&"0"), "{desc:?}");
    assert_ne!(perm & 0x0000_0008, 0, "expected KEY_OTH_SEARCH in {desc:?}");

    // exec, which enters the user namespace as host root (not the key's
    // user), finds it by name through that permission.
    let id = started(&mut bundle, &rt, "keyring-userns-exec");
    let out = rt.run(["exec", &id, "probe", "session-keyring"]);
    out.assert_ok();
    assert_eq!(key_name(out.stdout.trim()), format!("_ses.{id}"), "{out}");
}

#[test]
fn session_keyring_is_joined_by_exec_processes() {
    let mut bundle = Bundle::new("keyring-exec");
    let rt = Runtime::runoci();
    with_probe(&bundle);
    let id = started(&mut bundle, &rt, "keyring-exec");
    let out = rt.run(["exec", &id, "probe", "session-keyring"]);
    out.assert_ok();
    assert_eq!(
        key_name(out.stdout.trim()),
        format!("_ses.{id}"),
        "expected exec to join the container's keyring"
    );
}

/// A datagram socket standing in for systemd's or podman's.
fn notify_listener(prefix: &str) -> (UnixDatagram, PathBuf) {
    let dir = test_dir().join(unique_id(prefix));
    std::fs::create_dir_all(&dir).expect("notify dir");
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
    sock.set_read_timeout(Some(runoci_tests::default_timeout()))
        .expect("read timeout");
    (sock, path)
}

/// Every datagram until one holds `READY=1` (runc relays only that one,
/// then adds `MAINPID=`); `None` if none came within the timeout.
fn wait_ready(sock: &UnixDatagram) -> Option<Vec<String>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        if seen.last().is_some_and(|m| m.contains("READY=1")) {
            return Some(seen);
        }
    }
    None
}

/// `run --bundle B ID` with `NOTIFY_SOCKET` set to `socket`.
fn run_with_notify_socket(bundle: &Bundle, rt: &Runtime, prefix: &str, socket: &Path) -> Output {
    let id = unique_id(prefix);
    let mut cmd = rt.cmd(["run", "--bundle", bundle.path_str(), &id]);
    cmd.env("NOTIFY_SOCKET", socket);
    let out = runoci_tests::run_command(&mut cmd, b"", runoci_tests::default_timeout());
    rt.observe();
    out
}

/// runc 1.1.5 passes NOTIFY_SOCKET through too: run with
/// RUNOCI_BIN=/usr/bin/runc.
#[test]
fn notify_socket_ready_reaches_the_callers_socket() {
    let mut bundle = Bundle::new("notify");
    let rt = Runtime::runoci();
    with_probe(&bundle);
    let (sock, path) = notify_listener("notify");
    bundle.set_args(&[
        "sh",
        "-c",
        "echo \"$NOTIFY_SOCKET\"; probe notify READY=1 && echo sent",
    ]);
    let ready = std::thread::spawn(move || wait_ready(&sock));
    let out = run_with_notify_socket(&bundle, &rt, "notify", &path);
    out.assert_ok();
    assert_eq!(
        out.stdout, "/run/notify/notify.sock\nsent\n",
        "expected the container's NOTIFY_SOCKET at runc's path"
    );
    let seen = ready.join().expect("listener thread");
    assert!(
        seen.as_ref()
            .is_some_and(|m| m.iter().any(|l| l.lines().any(|x| x == "READY=1"))),
        "expected READY=1 on the caller's socket, saw {seen:?}"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap_or(Path::new("/nonexistent")));
}

/// Checked where it enters (runc 1.1.5 runs the container and drops the
/// messages).
#[test]
fn notify_socket_that_is_not_a_socket_is_refused() {
    let mut bundle = Bundle::new("notify-bad");
    let rt = Runtime::runoci();
    bundle.set_args(&["true"]);
    let out = run_with_notify_socket(&bundle, &rt, "notify-bad", Path::new("/etc/hostname"));
    assert_fails_with(&out, "NOTIFY_SOCKET /etc/hostname: not a socket");
    assert!(rt.container_ids().is_empty());
}

/// What `--sdnotify=container` is for, end to end with runoci as the
/// runtime: the container's READY=1 reaches the socket podman's caller
/// gave. (Podman 4.3 binds its proxy's directory at /run/notify and sets
/// the container's NOTIFY_SOCKET in config.json itself; a runtime that
/// bound something else there, or dropped the variable, would break it.)
#[test]
fn podman_sdnotify_container_ready_reaches_podman_s_caller() {
    use runoci_tests::engines::{Podman, PODMAN_ULIMITS};
    let p = Podman::new();
    let (sock, path) = notify_listener("podman-notify");
    let name = unique_id("sdnotify");
    let _guard = p.guard(&name);
    let probe = format!("{}:/probe:ro", probe_binary().display());
    let mut args = vec![
        "run",
        "-d",
        "--name",
        &name,
        "--net",
        "none",
        "--sdnotify=container",
        "-v",
        &probe,
    ];
    args.extend(PODMAN_ULIMITS);
    args.extend([
        p.image.name.as_str(),
        "sh",
        "-c",
        "/probe notify READY=1; exec sleep 600",
    ]);
    let mut cmd = p.cmd(&args);
    cmd.env("NOTIFY_SOCKET", &path);
    let ready = std::thread::spawn(move || wait_ready(&sock));
    runoci_tests::engines::run(&mut cmd).assert_ok();
    let seen = ready.join().expect("listener thread");
    assert!(
        seen.as_ref()
            .is_some_and(|m| m.iter().any(|l| l.lines().any(|x| x == "READY=1"))),
        "expected podman to pass the container's READY=1 on, saw {seen:?}"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap_or(Path::new("/nonexistent")));
}
