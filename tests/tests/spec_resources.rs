//! runtime-spec 1.3's cgroup, device, network device and resctrl fields,
//! and runc's engine flags (`run --keep`, `exec --ignore-paused`/`--cgroup`,
//! `update`), read back from a real busybox container (its own cgroup files, mounted at
//! /sys/fs/cgroup/<controller> inside with a cgroup namespace), or refused
//! at load naming the field. This host is hybrid (blkio, pids, hugetlb on
//! v1; no resctrl). Run with `RUNOCI_BIN=/usr/bin/runc` to compare with
//! runc 1.1.5: the module docs of each test say where it differs.

mod common;

use runoci_tests::{unique_id, Bundle, HostSnapshot, Output, Runtime};
use serde_json::{json, Value};
use std::fs;

/// Runs `script` in a foreground container with `linux.resources` set.
fn run_with(rt: &Runtime, bundle: &mut Bundle, id: &str, resources: Value, script: &str) -> Output {
    bundle.config_mut()["linux"]["resources"] = resources;
    bundle.set_args(&["sh", "-c", script]);
    rt.run(["run", "--bundle", bundle.path_str(), id])
}

/// Whether the runtime under test is runoci (error texts are checked for
/// it only; runc words its own).
fn is_runoci(rt: &Runtime) -> bool {
    rt.bin().to_string_lossy().contains("runoci")
}

/// `MAJ:MIN` of a real disk here (not a loop, zram or ram device): the
/// one throttle rules and weights can name.
fn a_disk() -> String {
    let mut names: Vec<_> = fs::read_dir("/sys/block")
        .expect("/sys/block")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("loop") && !n.starts_with("zram") && !n.starts_with("ram"))
        .collect();
    names.sort();
    let name = names.first().expect("a disk in /sys/block");
    fs::read_to_string(format!("/sys/block/{name}/dev"))
        .unwrap()
        .trim()
        .to_string()
}

fn major_minor(dev: &str) -> (i64, i64) {
    let (major, minor) = dev.split_once(':').unwrap();
    (major.parse().unwrap(), minor.parse().unwrap())
}

/// config-linux.md "Block IO": `blockIO` (the spec's key) reaches the
/// blkio files: the weight (BFQ here) and a read throttle. runc agrees.
#[test]
fn block_io_weight_and_throttles_reach_the_blkio_files() {
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("blkio");
    let id = unique_id("blkio");
    let dev = a_disk();
    let (major, minor) = major_minor(&dev);
    let out = run_with(
        &rt,
        &mut bundle,
        &id,
        json!({ "blockIO": {
            "weight": 300,
            "throttleReadBpsDevice": [{ "major": major, "minor": minor, "rate": 1048576 }],
            "throttleWriteIOPSDevice": [{ "major": major, "minor": minor, "rate": 100 }]
        }}),
        "cd /sys/fs/cgroup/blkio && echo weight $(cat blkio.bfq.weight 2>/dev/null || cat blkio.weight) \
         && echo rbps $(cat blkio.throttle.read_bps_device) && echo wiops $(cat blkio.throttle.write_iops_device)",
    );
    out.assert_ok();
    out.assert_stdout_contains("weight 300")
        .assert_stdout_contains(&format!("rbps {dev} 1048576"))
        .assert_stdout_contains(&format!("wiops {dev} 100"));
}

/// The key earlier runoci read, `blockIo`, still means blockIO. runc
/// agrees (Go's JSON field match ignores case).
#[test]
fn block_io_under_its_old_spelling_is_still_applied() {
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("blkio-old");
    let id = unique_id("blkio-old");
    let dev = a_disk();
    let (major, minor) = major_minor(&dev);
    let out = run_with(
        &rt,
        &mut bundle,
        &id,
        json!({ "blockIo": {
            "throttleWriteBpsDevice": [{ "major": major, "minor": minor, "rate": 2097152 }]
        }}),
        "cat /sys/fs/cgroup/blkio/blkio.throttle.write_bps_device",
    );
    out.assert_ok()
        .assert_stdout_contains(&format!("{dev} 2097152"));
}

/// Leaf weights are CFQ's, which this kernel (6.x) no longer has: refused
/// at load, naming the field, nothing left. runc 1.1.5 fails the create
/// too (writing blkio.leaf_weight), after making the cgroup.
#[test]
fn block_io_leaf_weight_without_cfq_is_refused_at_load() {
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("blkio-leaf");
    let id = unique_id("blkio-leaf");
    let snap = HostSnapshot::take();
    let out = run_with(
        &rt,
        &mut bundle,
        &id,
        json!({ "blockIO": { "leafWeight": 100 } }),
        "true",
    );
    out.assert_failed();
    if is_runoci(&rt) {
        out.assert_stderr_contains("linux.resources.blockIO.leafWeight");
    }
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}

/// config-linux.md "PIDs" (1.3): -1 is `max`, 0 is a limit of zero ("a
/// valid limit value ... SHOULD be treated as such"). Read with shell
/// builtins: a limit of 0 allows no fork. runc 1.1.5 differs on 0 (it
/// leaves pids.max at `max`); on -1 and 32 it agrees.
#[test]
fn pids_limit_as_runtime_spec_1_3_defines_it() {
    let rt = Runtime::runoci();
    for (limit, expected) in [(32, "32"), (-1, "max"), (0, "0")] {
        let mut bundle = Bundle::new("pids-limit");
        let id = unique_id("pids-limit");
        let out = run_with(
            &rt,
            &mut bundle,
            &id,
            json!({ "pids": { "limit": limit } }),
            "read max < /sys/fs/cgroup/pids/pids.max; echo \"pids.max $max\"",
        );
        out.assert_ok()
            .assert_stdout_contains(&format!("pids.max {expected}\n"));
    }
}

/// config-linux.md "Huge page limits" (1.3): the limit is a reservation
/// limit where the kernel has reservation accounting, which this one has
/// (`hugetlb.2MB.rsvd.limit_in_bytes`): both files hold it, as runc 1.2
/// writes them. runc 1.1.5 writes only the fault limit (its run shows
/// `rsvd 9223372036854771712`, unlimited).
#[test]
fn hugepage_limits_reach_the_reservation_file_too() {
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("hugetlb");
    let id = unique_id("hugetlb");
    let out = run_with(
        &rt,
        &mut bundle,
        &id,
        json!({ "hugepageLimits": [{ "pageSize": "2MB", "limit": 4194304 }] }),
        "cd /sys/fs/cgroup/hugetlb && echo fault $(cat hugetlb.2MB.limit_in_bytes) rsvd $(cat hugetlb.2MB.rsvd.limit_in_bytes)",
    );
    out.assert_ok()
        .assert_stdout_contains("fault 4194304 rsvd 4194304");
}

/// Two configured block devices (loop0 and loop1's numbers, which open
/// without a backing file): the resources rules deny everything, allow
/// one of them and deny the other explicitly. The denied one stays denied
/// (runoci used to append an allow rule for every configured device after
/// the config's own); the allowed one opens. runc agrees.
#[test]
fn explicit_deny_of_a_configured_device_holds() {
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("dev-deny");
    let id = unique_id("dev-deny");
    bundle.config_mut()["linux"]["devices"] = json!([
        { "path": "/dev/xyz", "type": "b", "major": 7, "minor": 0, "fileMode": 432 },
        { "path": "/dev/abc", "type": "b", "major": 7, "minor": 1, "fileMode": 432 }
    ]);
    let out = run_with(
        &rt,
        &mut bundle,
        &id,
        json!({ "devices": [
            { "allow": false, "access": "rwm" },
            { "allow": true, "type": "b", "major": 7, "minor": 1, "access": "rw" },
            { "allow": false, "type": "b", "major": 7, "minor": 0, "access": "rwm" }
        ]}),
        "head -c1 /dev/abc >/dev/null && echo abc opened; head -c1 /dev/xyz; echo xyz rc=$?",
    );
    out.assert_ok();
    out.assert_stdout_contains("abc opened")
        .assert_stdout_contains("xyz rc=1");
    out.assert_stderr_contains("Operation not permitted");
}

/// config-linux.md "Devices": type `p` (a FIFO) is a valid entry; with
/// resources device rules present the create used to fail (the implicit
/// allow rule had type `p`). runc agrees.
#[test]
fn fifo_device_with_resources_rules_is_created() {
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("dev-fifo");
    let id = unique_id("dev-fifo");
    bundle.config_mut()["linux"]["devices"] =
        json!([{ "path": "/dev/myfifo", "type": "p", "fileMode": 420 }]);
    let out = run_with(
        &rt,
        &mut bundle,
        &id,
        json!({ "devices": [{ "allow": false, "access": "rwm" }] }),
        "test -p /dev/myfifo && echo is a fifo",
    );
    out.assert_ok().assert_stdout_contains("is a fifo");
}

/// config-linux.md "IntelRdt": "If no mounted resctrl pseudo-filesystem is
/// available ... the runtime MUST generate an error". This host has none
/// (its kernel lacks resctrl). runc 1.1.5 differs: with a closID and no
/// schema it runs the container and ignores intelRdt.
#[test]
fn intel_rdt_without_resctrl_is_refused_at_load() {
    assert!(
        !fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(" - resctrl "),
        "this test expects a host without resctrl mounted"
    );
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("rdt");
    let id = unique_id("rdt");
    bundle.config_mut()["linux"]["intelRdt"] = json!({ "closID": "guaranteed_group" });
    bundle.set_args(&["true"]);
    let snap = HostSnapshot::take();
    let out = rt.run(["run", "--bundle", bundle.path_str(), &id]);
    out.assert_failed();
    if is_runoci(&rt) {
        out.assert_stderr_contains("linux.intelRdt: no resctrl filesystem is mounted");
    }
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}

/// A created and started container running `sleep 1000` (its stdio on
/// /dev/null, so no pipe outlives the `create`).
fn started(rt: &Runtime, bundle: &mut Bundle, id: &str) {
    bundle.set_args(&["sleep", "1000"]);
    common::create_and_start(rt, bundle, id);
}

/// runc's `run --keep`: the container stays, stopped, until `delete`.
/// runc agrees.
#[test]
fn run_keep_leaves_a_stopped_container_until_delete() {
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("keep");
    let id = unique_id("keep");
    bundle.set_args(&["sh", "-c", "exit 3"]);
    rt.run(["run", "--keep", "--bundle", bundle.path_str(), &id])
        .assert_code(3);
    assert_eq!(rt.state(&id)["status"], "stopped");
    rt.run(["delete", &id]).assert_ok();
    rt.run(["state", &id]).assert_failed();
}

/// runc's `exec` refuses a paused container unless `--ignore-paused`;
/// with it the process runs once the container is resumed. runc agrees.
#[test]
fn exec_in_a_paused_container_needs_ignore_paused() {
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("exec-paused");
    let id = unique_id("exec-paused");
    started(&rt, &mut bundle, &id);
    rt.run(["pause", &id]).assert_ok();
    let refused = rt.run(["exec", &id, "true"]);
    refused.assert_failed();
    if is_runoci(&rt) {
        refused.assert_stderr_contains("--ignore-paused");
    }
    // Frozen as it joins the cgroup: it finishes after the resume.
    let exec = rt
        .cmd([
            "exec",
            "--ignore-paused",
            &id,
            "sh",
            "-c",
            "echo ran > /tmp/ran",
        ])
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("spawn exec");
    rt.run(["resume", &id]).assert_ok();
    let status = wait_child(exec);
    assert!(status.success(), "exec --ignore-paused: {status}");
    assert_eq!(
        fs::read_to_string(bundle.rootfs().join("tmp/ran")).unwrap(),
        "ran\n"
    );
    rt.run(["kill", &id, "KILL"]).assert_ok();
}

/// `update` with runc's flags: --blkio-weight, --cpu-share (runc's
/// spelling), --pids-limit, read back inside with `exec`. runc agrees.
#[test]
fn update_flags_reach_the_cgroup() {
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("update");
    let id = unique_id("update");
    started(&rt, &mut bundle, &id);
    rt.run([
        "update",
        "--blkio-weight",
        "200",
        "--cpu-share",
        "512",
        "--pids-limit",
        "7",
        &id,
    ])
    .assert_ok();
    rt.run([
        "exec",
        &id,
        "sh",
        "-c",
        "cd /sys/fs/cgroup && echo $(cat blkio/blkio.bfq.weight) $(cat cpu/cpu.shares) $(cat pids/pids.max)",
    ])
    .assert_ok()
    .assert_stdout_contains("200 512 7");
    rt.run(["kill", &id, "KILL"]).assert_ok();
}

/// Waits for `child`, killing it after the harness timeout.
fn wait_child(mut child: std::process::Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + runoci_tests::default_timeout();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {:?}", runoci_tests::default_timeout());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A veth pair made on the host for a test (this kernel has no `dummy`
/// driver; veth is as virtual): `host` carries `addr` and is the one to
/// move, `container` the name it is to get there, `peer` stays on the
/// host. Drop deletes whichever is still on the host (deleting either end
/// deletes the pair; all three names are unique to the test).
struct Veth {
    host: String,
    container: String,
    peer: String,
}

impl Veth {
    fn new(addr: &str) -> Veth {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag = format!("{}x{n}", std::process::id() % 1_000_000);
        let v = Veth {
            host: format!("rno{tag}"),
            container: format!("rnc{tag}"),
            peer: format!("rnp{tag}"),
        };
        ip(&[
            "link", "add", &v.host, "type", "veth", "peer", "name", &v.peer,
        ]);
        ip(&["addr", "add", addr, "dev", &v.host]);
        v
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        for name in [&self.host, &self.container, &self.peer] {
            if host_has_link(name) {
                let _ = std::process::Command::new("ip")
                    .args(["link", "del", name])
                    .status();
            }
        }
    }
}

#[track_caller]
fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn host_has_link(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// config-linux.md "Network Devices": the host's interface is moved into
/// the container's network namespace under its `name`, keeps its
/// permanent global addresses (IPv4 and IPv6) and is up; the host no longer has it. The
/// runtime MUST NOT move it back before deletion: when the namespace goes,
/// the kernel returns a physical device to the host and destroys a
/// virtual one, so this veth end is gone after `delete`, and with it its
/// peer on the host (waited for: the kernel frees namespaces from a
/// workqueue). runc 1.1.5 predates netDevices and ignores it: under it
/// the device stays on the host and this test fails.
#[test]
fn net_device_is_moved_renamed_with_its_address_and_destroyed_with_the_netns() {
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("netdev");
    let id = unique_id("netdev");
    let veth = Veth::new("198.18.7.1/24");
    ip(&["-6", "addr", "add", "fd00:7::1/64", "dev", &veth.host]);
    bundle.config_mut()["linux"]["netDevices"] =
        json!({ veth.host.clone(): { "name": veth.container.clone() } });
    started(&rt, &mut bundle, &id);
    assert!(
        !host_has_link(&veth.host),
        "{} still on the host",
        veth.host
    );
    assert!(!host_has_link(&veth.container));
    let out = rt.run(["exec", &id, "ip", "addr", "show", "dev", &veth.container]);
    out.assert_ok()
        .assert_stdout_contains("inet 198.18.7.1/24")
        .assert_stdout_contains("inet6 fd00:7::1/64")
        .assert_stdout_contains(",UP");
    rt.run(["delete", "--force", &id]).assert_ok();
    let deadline = std::time::Instant::now() + runoci_tests::default_timeout();
    let on_host = || {
        [&veth.host, &veth.container, &veth.peer]
            .into_iter()
            .any(|n| host_has_link(n))
    };
    while on_host() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        !on_host(),
        "the veth pair outlived the container's network namespace"
    );
}

/// `linux.netDevices` is refused at load, naming the field, without a new
/// network namespace, with a name that is not an interface name, and for
/// a device the host lacks; nothing is left and the device stays put.
/// runc 1.1.5 ignores the field and runs all three.
#[test]
fn net_devices_refused_at_load() {
    let rt = Runtime::runoci();
    let veth = Veth::new("198.18.8.1/24");
    let missing = format!("rnomiss{}", std::process::id() % 1_000_000);
    let cases = [
        (
            json!({ veth.host.clone(): {} }),
            false,
            "needs a new network namespace",
        ),
        (
            json!({ veth.host.clone(): { "name": "a/b" } }),
            true,
            "not an interface name",
        ),
        (
            json!({ veth.host.clone(): { "name": "x".repeat(16) } }),
            true,
            "IFNAMSIZ",
        ),
        (
            json!({ missing: {} }),
            true,
            "no such network device on the host",
        ),
    ];
    for (devices, netns, why) in cases {
        let mut bundle = Bundle::new("netdev-bad");
        let id = unique_id("netdev-bad");
        let config = bundle.config_mut();
        config["linux"]["netDevices"] = devices.clone();
        if !netns {
            let namespaces = config["linux"]["namespaces"].as_array_mut().unwrap();
            namespaces.retain(|ns| ns["type"] != "network");
        }
        bundle.set_args(&["true"]);
        let snap = HostSnapshot::take();
        let out = rt.run(["run", "--bundle", bundle.path_str(), &id]);
        out.assert_failed();
        if is_runoci(&rt) {
            out.assert_stderr_contains("linux.netDevices")
                .assert_stderr_contains(why);
        }
        assert!(host_has_link(&veth.host), "{devices}: the device moved");
        snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
    }
}

/// Sub-cgroups `sub` made from the host in every hierarchy where the
/// container's cgroup `/<rel>` is; removed on drop if still there.
struct SubCgroups(Vec<std::path::PathBuf>);

impl SubCgroups {
    fn make(rel: &str, sub: &str) -> SubCgroups {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mut made = Vec::new();
        for line in mountinfo.lines() {
            let (pre, post) = line.split_once(" - ").unwrap();
            if !matches!(post.split(' ').next(), Some("cgroup" | "cgroup2")) {
                continue;
            }
            let mount_point = std::path::Path::new(pre.split(' ').nth(4).unwrap());
            let dir = mount_point.join(rel);
            if dir.is_dir() {
                let sub_dir = dir.join(sub);
                fs::create_dir(&sub_dir)
                    .unwrap_or_else(|e| panic!("mkdir {}: {e}", sub_dir.display()));
                // A v1 cpuset cgroup takes no process until it has cpus
                // and mems: the parent's, as a user making one would.
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    if let Ok(v) = fs::read_to_string(dir.join(file)) {
                        fs::write(sub_dir.join(file), v.trim()).unwrap();
                    }
                }
                made.push(sub_dir);
            }
        }
        SubCgroups(made)
    }
}

impl Drop for SubCgroups {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// runc 1.1's `exec --cgroup`: the process joins an existing sub-cgroup
/// of the container's, in every hierarchy (`PATH`) or in one controller's
/// (`CONTROLLER:PATH`); `..`, and a sub-cgroup that does not exist, are
/// refused naming the flag. runc 1.1.5 agrees (it says "../x is not a sub
/// cgroup path"); it does take a `..` that lands back inside
/// (`../<its own name>/sub`), which runoci refuses as it refuses every `..`.
#[test]
fn exec_cgroup_joins_a_sub_cgroup_of_the_container() {
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("exec-cgroup");
    let id = unique_id("exec-cgroup");
    bundle.config_mut()["linux"]["cgroupsPath"] = json!(format!("/{id}"));
    started(&rt, &mut bundle, &id);
    let subs = SubCgroups::make(&id, "sub");
    assert!(
        subs.0.len() > 1,
        "the container's cgroup dirs: {:?}",
        subs.0
    );
    let in_sub = |text: &str| text.lines().filter(|l| l.ends_with(":/sub")).count();
    let out = rt.run(["exec", "--cgroup", "sub", &id, "cat", "/proc/self/cgroup"]);
    out.assert_ok();
    assert_eq!(in_sub(&out.stdout), subs.0.len(), "{}", out.stdout);
    let out = rt.run([
        "exec",
        "--cgroup",
        "pids:sub",
        &id,
        "cat",
        "/proc/self/cgroup",
    ]);
    out.assert_ok();
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.ends_with(":/sub"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert!(lines[0].contains(":pids:"), "{}", out.stdout);
    for bad in ["nosuch", "../x"] {
        let out = rt.run(["exec", "--cgroup", bad, &id, "true"]);
        out.assert_failed();
        if is_runoci(&rt) {
            out.assert_stderr_contains("--cgroup");
        }
    }
    rt.run(["delete", "--force", &id]).assert_ok();
}
