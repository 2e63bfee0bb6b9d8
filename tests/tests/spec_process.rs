//! runtime-spec 1.3's per-process attributes, each read back inside a real
//! container: `process.ioPriority`, `process.scheduler`,
//! `linux.personality`, `process.execCPUAffinity`, `linux.memoryPolicy`.
//! Values runoci cannot apply are refused at load, naming the field.
//!
//! The tests use only the runc command line, so `RUNOCI_BIN` can run them
//! against another runtime: crun 1.8.1 agrees on personality; runc 1.1.5
//! ignores all of these fields (personality came in runc 1.2).

mod common;
mod detached_common;

use common::assert_fails_with;
use detached_common::{forever_args, set_args};
use runoci_tests::{unique_id, Bundle, Output, Runtime};
use serde_json::{json, Value};
use std::path::Path;

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
