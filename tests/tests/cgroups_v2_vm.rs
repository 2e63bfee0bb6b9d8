//! Pure cgroup v2, for real: this machine is hybrid, so the test boots
//! Debian's kernel (`linux-image-amd64`) in qemu under software emulation
//! (`-accel tcg`; KVM is not used) with an initramfs built here: static
//! busybox, the runoci and runoci-monitor binaries with the libraries
//! `ldd` lists, a busybox rootfs with a few device nodes, one bundle per
//! scenario and `cgroups_v2_vm/init.sh` as /init. The guest mounts only
//! cgroup2, enables every controller, runs the same limit, device (BPF),
//! OOM and cleanup scenarios as `cgroups_host.rs`, and pause/resume through
//! v2's `cgroup.freeze` (the host's freezer is v1), and rootless runs by a
//! plain user (uid 1000, through busybox `su`) in the cgroup subtree
//! delegated to it as systemd's `Delegate=yes` does, with memory and pids
//! limits; it prints one `RESULT name ok|FAIL detail` line each on the
//! serial console, then powers off. Here each expected line must say ok.

use runoci_tests::default_config;
use runoci_tests::vm;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const INIT: &str = include_str!("cgroups_v2_vm/init.sh");

/// The scenarios init.sh reports on.
const SCENARIOS: &[&str] = &[
    "controllers",
    "oom_run",
    "oom_start",
    "pids_bomb",
    "pids_update",
    "devices_none",
    "devices_deny_all",
    "devices_deny_one",
    "cpu_quota",
    "freeze",
    "rootless_memory",
    "rootless_pids",
    "cleanup_exit",
    "cleanup_destroy",
];

/// The plain user of the rootless scenarios, and the cgroup delegated to
/// it (init.sh makes both).
const ROOTLESS_UID: u32 = 1000;
const DELEGATED: &str = "/user-1000";

const MIB: i64 = 1024 * 1024;

const FORK_BOMB: &str = "bomb() { ( i=0; while :; do sleep 1000 & i=$((i+1)); echo $i > /tmp/n$1; done ) 2>/tmp/err$1; }";
const PROBE: &str = "for f in /dev/null /mynull /kmsg /fuse; do if (: > $f) 2>/tmp/e; then echo \"$f ok\"; else read e < /tmp/e; echo \"$f denied: $e\"; fi; done";

/// name → (linux.resources, script) of each bundle under /s in the guest.
fn bundles() -> BTreeMap<&'static str, (Value, String)> {
    let memory = json!({ "memory": { "limit": 32 * MIB, "swap": 32 * MIB } });
    let pids = json!({ "pids": { "limit": 10 } });
    let deny_all = json!({ "devices": [{ "allow": false, "access": "rwm" }] });
    let deny_one = json!({ "devices": [
        { "allow": true, "access": "rwm" },
        { "allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm" }
    ] });
    BTreeMap::from([
        ("oom-run", (memory.clone(), "exec tail /dev/zero".to_string())),
        ("oom-start", (memory, "read x < /gate; exec tail /dev/zero".to_string())),
        (
            "pids-bomb",
            (
                pids.clone(),
                format!("{FORK_BOMB}; bomb 1; read n < /tmp/n1; read err < /tmp/err1; echo \"forked $n\"; echo \"err $err\""),
            ),
        ),
        (
            "pids-update",
            (
                pids,
                format!("{FORK_BOMB}; bomb 1; echo > /tmp/done1; read x < /gate; bomb 2; echo > /tmp/done2; exec sleep 1000"),
            ),
        ),
        (
            "rl-oom",
            (
                json!({ "memory": { "limit": 32 * MIB, "swap": 32 * MIB } }),
                "read x < /gate; exec tail /dev/zero".to_string(),
            ),
        ),
        (
            "rl-pids",
            (
                json!({ "pids": { "limit": 10 } }),
                format!("{FORK_BOMB}; bomb 1; read n < /tmp/n1; read err < /tmp/err1; echo \"forked $n\"; echo \"err $err\""),
            ),
        ),
        ("dev-none", (json!({}), PROBE.to_string())),
        ("dev-deny-all", (deny_all, PROBE.to_string())),
        ("dev-deny-one", (deny_one, PROBE.to_string())),
        (
            "cpu-quota",
            (
                json!({ "cpu": { "quota": 20000, "period": 100000 } }),
                "spin() { while :; do :; done; }; spin & spin & echo > /tmp/spinning; wait".to_string(),
            ),
        ),
        (
            "freeze",
            (
                json!({}),
                // Written aside and renamed: a plain `>` truncates first, and
                // a read (or a freeze) between truncate and write saw "".
                "i=0; while :; do i=$((i+1)); echo $i > /tmp/count.new; \
                 mv /tmp/count.new /tmp/count; done"
                    .to_string(),
            ),
        ),
    ])
}

/// A config for [`ROOTLESS_UID`]: a user namespace mapping it (and only it)
/// to root, as `runoci spec --rootless` writes (runc's devpts `gid=5`,
/// which that map lacks, is left for runoci to drop), in a cgroup under
/// the delegated one.
fn rootless(config: &mut Value, name: &str) {
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "type": "user" }));
    let map = json!([{ "containerID": 0, "hostID": ROOTLESS_UID, "size": 1 }]);
    config["linux"]["uidMappings"] = map.clone();
    config["linux"]["gidMappings"] = map;
    config["linux"]["cgroupsPath"] = json!(format!("{DELEGATED}/{name}"));
}

/// Builds the initramfs in `work` and returns its path.
fn build_initramfs(work: &Path) -> PathBuf {
    let stage = work.join("stage");
    vm::stage_base(&stage);
    for (name, (resources, script)) in bundles() {
        let mut config = default_config();
        config["process"]["args"] = json!(["sh", "-c", script]);
        config["linux"]["resources"] = resources;
        if name.starts_with("rl-") {
            rootless(&mut config, name);
        }
        vm::write_bundle(&stage, name, &config);
    }
    // Device nodes for the device scenarios (see init.sh).
    let devices = [
        ("rootfs/fuse", 10, 229),
        ("rootfs/mynull", 1, 3),
        ("rootfs/kmsg", 1, 11),
    ];
    let path = work.join("initramfs.cpio");
    vm::pack_initramfs(&stage, INIT, &devices, &path);
    path
}

#[test]
fn pure_cgroup_v2_in_a_vm_enforces_limits_devices_oom_and_cleans_up() {
    let kernel = vm::kernel();
    let work = vm::WorkDir::new("vm");
    let initramfs = build_initramfs(&work.0);
    vm::boot_and_check(
        "cgroup v2",
        &kernel,
        &initramfs,
        &work.0.join("console.log"),
        1024,
        Duration::from_secs(240),
        SCENARIOS,
    );
}
