//! `Cgroup` on this machine's real cgroup filesystems (run as root). Names
//! are unique per process and test; a guard kills, reaps and removes
//! everything even when an assertion fails.

use super::*;
use crate::spec::{DeviceCgroup, HugepageLimit, Memory, Pids, Resources};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique_name() -> String {
    format!(
        "runoci-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Kills and reaps the child, then destroys the cgroup, on drop.
struct Guard {
    cgroup: Option<Cgroup>,
    child: Option<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(cgroup) = &self.cgroup {
            let _ = cgroup.kill_all(libc::SIGKILL);
            let _ = cgroup.destroy();
        }
    }
}

fn read(dir: &Path, file: &str) -> String {
    let path = dir.join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim_end()
        .to_string()
}

/// The v1 directory of `controller` in `cgroup`; panics if the controller
/// is missing or not v1.
#[track_caller]
fn v1_dir<'a>(cgroup: &'a Cgroup, controller: &str) -> &'a Path {
    match cgroup.controller_dir(controller) {
        Some((CgroupVersion::V1, dir)) => dir,
        other => {
            panic!("expected the v1 {controller} controller on this hybrid machine, saw {other:?}")
        }
    }
}

fn spawn_sleep() -> Child {
    Command::new("sleep")
        .arg("1000")
        .spawn()
        .expect("spawn sleep")
}

#[test]
fn real_lifecycle_limits_kill_destroy() {
    let layout = Layout::detect().unwrap();
    let parent = unique_name();
    let rel = PathBuf::from(&parent).join("c1");
    let mut guard = Guard {
        cgroup: None,
        child: None,
    };
    let cgroup = Cgroup::create(&layout, &rel, None).unwrap();
    guard.cgroup = Some(cgroup.clone());
    let dirs: Vec<PathBuf> = cgroup.hierarchies().iter().map(|h| h.dir.clone()).collect();
    assert!(!dirs.is_empty());
    for dir in &dirs {
        assert!(dir.is_dir(), "{}", dir.display());
    }

    let child = guard.child.insert(spawn_sleep());
    let pid = i32::try_from(child.id()).unwrap();
    let mut resources = Resources {
        memory: Some(Memory {
            limit: Some(64 << 20),
            ..Default::default()
        }),
        pids: Some(Pids { limit: Some(32) }),
        devices: vec![
            DeviceCgroup {
                allow: false,
                access: Some("rwm".into()),
                ..Default::default()
            },
            DeviceCgroup {
                allow: true,
                typ: Some("c".into()),
                major: Some(1),
                minor: Some(3),
                access: Some("rwm".into()),
            },
            DeviceCgroup {
                allow: true,
                typ: Some("c".into()),
                major: Some(136),
                minor: None,
                access: Some("rw".into()),
            },
        ],
        ..Default::default()
    };
    // The machines these tests run on offer hugetlb with 2 MB pages.
    assert!(
        cgroup.controller_dir("hugetlb").is_some(),
        "no hugetlb controller on this machine: the hugetlb limit cannot be tested"
    );
    assert!(
        Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists(),
        "no 2 MB huge pages on this machine: the hugetlb limit cannot be tested"
    );
    resources.hugepage_limits = vec![HugepageLimit {
        page_size: "2MB".into(),
        limit: 4 << 20,
    }];
    cgroup.apply(&resources, None).unwrap();
    cgroup.add_pid(pid).unwrap();

    // Read the limits back from the kernel's files.
    match cgroup.controller_dir("memory") {
        Some((CgroupVersion::V1, dir)) => {
            assert_eq!(read(dir, "memory.limit_in_bytes"), "67108864")
        }
        Some((CgroupVersion::V2, dir)) => assert_eq!(read(dir, "memory.max"), "67108864"),
        None => panic!("no memory controller"),
    }
    let (_, pids_dir) = cgroup.controller_dir("pids").expect("pids controller");
    assert_eq!(read(pids_dir, "pids.max"), "32");
    // This machine is hybrid: devices and freezer are v1 controllers (v2's
    // BPF device filter and cgroup.freeze are tested below and in the VM
    // test, tests/tests/cgroups_v2_vm.rs).
    let devices = v1_dir(&cgroup, "devices");
    assert_eq!(read(devices, "devices.list"), "c 1:3 rwm\nc 136:* rw");
    let (version, dir) = cgroup.controller_dir("hugetlb").unwrap();
    let file = if version == CgroupVersion::V2 {
        "hugetlb.2MB.max"
    } else {
        "hugetlb.2MB.limit_in_bytes"
    };
    assert_eq!(read(dir, file), "4194304");
    // The process is in the container's cgroup in every hierarchy.
    for dir in &dirs {
        assert_eq!(
            read(dir, "cgroup.procs"),
            pid.to_string(),
            "{}",
            dir.display()
        );
    }
    assert_eq!(cgroup.pids().unwrap(), [pid]);
    let proc_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        proc_cgroup.contains(&format!("/{}", rel.display())),
        "{proc_cgroup}"
    );

    // Freeze and thaw for real.
    let freezer = v1_dir(&cgroup, "freezer");
    cgroup.freeze().unwrap();
    assert_eq!(read(freezer, "freezer.state"), "FROZEN");
    cgroup.thaw().unwrap();
    assert_eq!(read(freezer, "freezer.state"), "THAWED");

    // Stats see the process.
    let stats = cgroup.stats();
    assert_eq!(stats["pids"]["current"], 1, "{stats}");
    assert_eq!(stats["pids"]["limit"], 32, "{stats}");

    // Kill everything, reap, remove.
    cgroup.kill_all(libc::SIGKILL).unwrap();
    let status = guard.child.take().unwrap().wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    cgroup.destroy().unwrap();
    for hierarchy in cgroup.hierarchies() {
        assert!(!hierarchy.dir.exists(), "{}", hierarchy.dir.display());
        assert!(
            !hierarchy.root.join(&parent).exists(),
            "{}/{parent}",
            hierarchy.root.display()
        );
    }
    guard.cgroup = None;
}

#[test]
fn real_sigterm_reaches_every_process_and_record_destroys() {
    let layout = Layout::detect().unwrap();
    let rel = PathBuf::from(unique_name());
    let mut guard = Guard {
        cgroup: None,
        child: None,
    };
    let cgroup = Cgroup::create(&layout, &rel, None).unwrap();
    guard.cgroup = Some(cgroup.clone());
    let child = guard.child.insert(spawn_sleep());
    let pid = i32::try_from(child.id()).unwrap();
    cgroup.add_pid(pid).unwrap();

    // A second create of the same cgroup is refused while it has a process.
    let err = Cgroup::create(&layout, &rel, None).unwrap_err();
    assert!(
        matches!(&err, CgroupError::InUse { pids, .. } if pids == &[pid]),
        "{err}"
    );
    for hierarchy in cgroup.hierarchies() {
        assert!(
            hierarchy.dir.is_dir(),
            "the refused create removed {}",
            hierarchy.dir.display()
        );
    }

    cgroup.kill_all(libc::SIGTERM).unwrap();
    let status = guard.child.take().unwrap().wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGTERM)
    );

    // Another process (destroy, the monitor) works from the record.
    let record = serde_json::to_string(&cgroup.to_record()).unwrap();
    let restored = Cgroup::from_record(&serde_json::from_str(&record).unwrap());
    assert_eq!(restored.pids().unwrap(), Vec::<i32>::new());
    restored.destroy().unwrap();
    for hierarchy in cgroup.hierarchies() {
        assert!(!hierarchy.dir.exists(), "{}", hierarchy.dir.display());
    }
    guard.cgroup = None;
}

#[test]
fn real_cpu_and_cpuset_values() {
    let layout = Layout::detect().unwrap();
    let rel = PathBuf::from(unique_name());
    let mut guard = Guard {
        cgroup: None,
        child: None,
    };
    let cgroup = Cgroup::create(&layout, &rel, None).unwrap();
    guard.cgroup = Some(cgroup.clone());
    let resources = Resources {
        cpu: Some(crate::spec::Cpu {
            shares: Some(512),
            quota: Some(20_000),
            period: Some(50_000),
            cpus: Some("0".into()),
            mems: Some("0".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    cgroup.apply(&resources, None).unwrap();
    match cgroup.controller_dir("cpu") {
        Some((CgroupVersion::V1, dir)) => {
            assert_eq!(read(dir, "cpu.shares"), "512");
            assert_eq!(read(dir, "cpu.cfs_quota_us"), "20000");
            assert_eq!(read(dir, "cpu.cfs_period_us"), "50000");
        }
        Some((CgroupVersion::V2, dir)) => {
            assert_eq!(read(dir, "cpu.weight"), "20");
            assert_eq!(read(dir, "cpu.max"), "20000 50000");
        }
        None => panic!("no cpu controller"),
    }
    let (_, dir) = cgroup.controller_dir("cpuset").expect("cpuset");
    assert_eq!(read(dir, "cpuset.cpus"), "0");
    assert_eq!(read(dir, "cpuset.mems"), "0");
    // A process can join (the cpuset got CPUs and memory nodes at creation).
    let child = guard.child.insert(spawn_sleep());
    cgroup.add_pid(i32::try_from(child.id()).unwrap()).unwrap();
    let err = cgroup
        .apply(
            &Resources {
                cpu: Some(crate::spec::Cpu {
                    realtime_runtime: Some(2_000_000),
                    realtime_period: Some(1_000_000),
                    ..Default::default()
                }),
                ..Default::default()
            },
            None,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("linux.resources.cpu.realtimeRuntime:"),
        "{err}"
    );
}

#[test]
fn real_memory_and_swap_limits_raise_and_lower() {
    let layout = Layout::detect().unwrap();
    let rel = PathBuf::from(unique_name());
    let guard = Guard {
        cgroup: Some(Cgroup::create(&layout, &rel, None).unwrap()),
        child: None,
    };
    let Some(cgroup) = guard.cgroup.as_ref() else {
        unreachable!()
    };
    let (version, dir) = cgroup.controller_dir("memory").expect("memory controller");
    let (limit_file, swap_file) = match version {
        CgroupVersion::V1 => ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"),
        CgroupVersion::V2 => ("memory.max", "memory.swap.max"),
    };
    // Swap accounting is on where these tests run (memsw on v1).
    assert!(
        dir.join(swap_file).exists(),
        "no {swap_file} in {}: swap accounting is off, the swap limit cannot be tested",
        dir.display()
    );
    // Raising needs swap first on v1 (memsw >= limit at every step);
    // lowering needs the limit first.
    for (limit, swap) in [
        (64i64 << 20, 128i64 << 20),
        (256 << 20, 512 << 20),
        (32 << 20, 64 << 20),
    ] {
        let memory = Memory {
            limit: Some(limit),
            swap: Some(swap),
            reservation: Some(16 << 20),
            ..Default::default()
        };
        cgroup
            .apply(
                &Resources {
                    memory: Some(memory),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        assert_eq!(read(dir, limit_file), limit.to_string());
        let expected = if version == CgroupVersion::V1 {
            swap
        } else {
            swap - limit
        };
        assert_eq!(read(dir, swap_file), expected.to_string());
    }
}

/// Runs busybox sh in the cgroup2 directory `dir` (moved there before it
/// goes on) and returns what it prints: for each device, whether opening
/// it read-only and read-write worked.
fn probe_in(dir: &Path) -> String {
    use std::io::{Read, Write};
    use std::process::Stdio;
    let script = "read x; for f in /dev/null /dev/fuse; do \
        if (: < $f) 2>&-; then echo \"$f r ok\"; else echo \"$f r denied\"; fi; \
        if (: <> $f) 2>&-; then echo \"$f rw ok\"; else echo \"$f rw denied\"; fi; done";
    let mut child = Command::new("/bin/busybox")
        .args(["sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn busybox sh");
    let mut guard = Guard {
        cgroup: None,
        child: None,
    };
    std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child.wait().unwrap();
    guard.child = None;
    out
}

/// The v2 device filter for real: attached to a directory of this
/// machine's cgroup2 tree (on a hybrid machine the BPF hook works there
/// too, next to the v1 devices controller, which allows everything at
/// the root), it decides what a process in it may open; a second apply
/// replaces the first program.
#[test]
fn real_bpf_device_filter_in_the_cgroup2_tree() {
    let layout = Layout::detect().unwrap();
    let root = layout
        .unified_root()
        .expect("no cgroup2 tree on this machine (hybrid: /sys/fs/cgroup/unified): nothing to attach the BPF filter to");
    struct RemoveDir(PathBuf);
    impl Drop for RemoveDir {
        fn drop(&mut self) {
            for _ in 0..100 {
                if std::fs::remove_dir(&self.0).is_ok() || !self.0.exists() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
    let dir = RemoveDir(root.join(unique_name()));
    std::fs::create_dir(&dir.0).unwrap();
    let rule =
        |allow: bool, typ: Option<&str>, major: Option<i64>, minor: Option<i64>, access: &str| {
            DeviceCgroup {
                allow,
                typ: typ.map(str::to_string),
                major,
                minor,
                access: Some(access.to_string()),
            }
        };

    // Deny everything but /dev/null.
    devices_bpf::apply(
        &dir.0,
        &[
            rule(false, None, None, None, "rwm"),
            rule(true, Some("c"), Some(1), Some(3), "rwm"),
        ],
    )
    .unwrap();
    assert_eq!(devices_bpf::attached_programs(&dir.0).unwrap(), 1);
    assert_eq!(
        probe_in(&dir.0),
        "/dev/null r ok\n/dev/null rw ok\n/dev/fuse r denied\n/dev/fuse rw denied\n"
    );

    // Replaced: everything but writing /dev/null; fuse opens again.
    devices_bpf::apply(
        &dir.0,
        &[
            rule(true, None, None, None, "rwm"),
            rule(false, Some("c"), Some(1), Some(3), "w"),
        ],
    )
    .unwrap();
    assert_eq!(devices_bpf::attached_programs(&dir.0).unwrap(), 1);
    assert_eq!(
        probe_in(&dir.0),
        "/dev/null r ok\n/dev/null rw denied\n/dev/fuse r ok\n/dev/fuse rw ok\n"
    );
}
