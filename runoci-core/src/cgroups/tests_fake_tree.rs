//! `Cgroup` against fake v1, v2 and hybrid trees in a temporary directory:
//! which files get which contents, creation and removal bookkeeping, and
//! refusals. The kernel's own behaviour is covered by `tests_real`.

use super::testutil::{full_resources, FakeTree};
use super::*;
use crate::spec::{Cpu, NetPriority, Network, Resources};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const REL: &str = "parent/c1";

const V1_MOUNTS: &[&str] = &[
    "cpu,cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "net_cls,net_prio",
    "rdma",
    "name=systemd",
];

fn populate_v1(tree: &FakeTree) {
    tree.populate(
        "memory",
        REL,
        &[
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.soft_limit_in_bytes",
            "memory.kmem.tcp.limit_in_bytes",
            "memory.swappiness",
            "memory.oom_control",
            "memory.use_hierarchy",
        ],
    );
    std::fs::write(
        tree.tmp
            .path()
            .join("memory")
            .join(REL)
            .join("memory.limit_in_bytes"),
        "9223372036854771712\n",
    )
    .unwrap();
    tree.populate(
        "cpu,cpuacct",
        REL,
        &[
            "cpu.shares",
            "cpu.cfs_period_us",
            "cpu.cfs_quota_us",
            "cpu.cfs_burst_us",
            "cpu.rt_period_us",
            "cpu.rt_runtime_us",
            "cpu.idle",
        ],
    );
    tree.populate("cpuset", REL, &["cpuset.cpus", "cpuset.mems"]);
    tree.populate("devices", REL, &["devices.allow", "devices.deny"]);
    tree.populate("freezer", REL, &["freezer.state"]);
    tree.populate(
        "blkio",
        REL,
        &[
            "blkio.weight",
            "blkio.weight_device",
            "blkio.leaf_weight",
            "blkio.leaf_weight_device",
            "blkio.throttle.read_bps_device",
            "blkio.throttle.write_bps_device",
            "blkio.throttle.read_iops_device",
            "blkio.throttle.write_iops_device",
        ],
    );
    tree.populate("pids", REL, &["pids.max"]);
    tree.populate(
        "hugetlb",
        REL,
        &[
            "hugetlb.2MB.limit_in_bytes",
            "hugetlb.2MB.rsvd.limit_in_bytes",
        ],
    );
    tree.populate(
        "net_cls,net_prio",
        REL,
        &["net_cls.classid", "net_prio.ifpriomap"],
    );
    tree.populate("rdma", REL, &["rdma.max"]);
    tree.populate("name=systemd", REL, &[]);
}

#[test]
fn v1_writes_every_field_to_its_file() {
    let tree = FakeTree::new("v1-full", V1_MOUNTS, None);
    populate_v1(&tree);
    let cgroup = Cgroup::create(&tree.layout, Path::new(REL), None).unwrap();
    let mut resources = full_resources();
    if let Some(memory) = resources.memory.as_mut() {
        memory.kernel_tcp = Some(1 << 20);
        memory.swappiness = Some(10);
        memory.disable_oom_killer = Some(true);
        memory.use_hierarchy = Some(true);
    }
    if let Some(block_io) = resources.block_io.as_mut() {
        block_io.leaf_weight = Some(200);
        block_io.weight_device[0].leaf_weight = Some(100);
    }
    resources.network = Some(Network {
        class_id: Some(0x10001),
        priorities: vec![NetPriority {
            name: "eth0".into(),
            priority: 5,
        }],
    });
    // run_oci's linux.cpu fills what resources.cpu leaves unset.
    let linux_cpu = Cpu {
        shares: Some(2),
        period: Some(200_000),
        realtime_runtime: Some(950_000),
        realtime_period: Some(1_000_000),
        ..Default::default()
    };
    cgroup.apply(&resources, Some(&linux_cpu)).unwrap();

    let expect = |mount: &str, file: &str, contents: &str| {
        assert_eq!(tree.read(mount, REL, file), contents, "{mount}/{file}");
    };
    expect("memory", "memory.limit_in_bytes", "1073741824");
    expect("memory", "memory.memsw.limit_in_bytes", "2147483648");
    expect("memory", "memory.soft_limit_in_bytes", "536870912");
    expect("memory", "memory.kmem.tcp.limit_in_bytes", "1048576");
    expect("memory", "memory.swappiness", "10");
    expect("memory", "memory.oom_control", "1");
    expect("memory", "memory.use_hierarchy", "1");
    expect("cpu,cpuacct", "cpu.shares", "1024");
    expect("cpu,cpuacct", "cpu.cfs_period_us", "200000");
    expect("cpu,cpuacct", "cpu.cfs_quota_us", "50000");
    expect("cpu,cpuacct", "cpu.cfs_burst_us", "10000");
    expect("cpu,cpuacct", "cpu.rt_period_us", "1000000");
    expect("cpu,cpuacct", "cpu.rt_runtime_us", "950000");
    expect("cpu,cpuacct", "cpu.idle", "0");
    expect("cpuset", "cpuset.cpus", "0");
    expect("cpuset", "cpuset.mems", "0");
    expect("pids", "pids.max", "64");
    expect("blkio", "blkio.weight", "500");
    expect("blkio", "blkio.leaf_weight", "200");
    expect("blkio", "blkio.weight_device", "8:0 300");
    expect("blkio", "blkio.leaf_weight_device", "8:0 100");
    expect("blkio", "blkio.throttle.read_bps_device", "8:0 1000000");
    expect("blkio", "blkio.throttle.write_bps_device", "8:0 2000000");
    expect("blkio", "blkio.throttle.read_iops_device", "8:0 300");
    expect("blkio", "blkio.throttle.write_iops_device", "8:0 400");
    expect("hugetlb", "hugetlb.2MB.limit_in_bytes", "4194304");
    expect("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes", "4194304");
    expect("net_cls,net_prio", "net_cls.classid", "65537");
    expect("net_cls,net_prio", "net_prio.ifpriomap", "eth0 5");
    expect("rdma", "rdma.max", "mlx4_0 hca_handle=2 hca_object=2000");
    // Each file holds its last rule: "a", then "a *:* rwm" went to deny.
    expect("devices", "devices.deny", "a *:* rwm");
    expect("devices", "devices.allow", "c 136:* rw");

    cgroup.freeze().unwrap();
    expect("freezer", "freezer.state", "FROZEN");
    cgroup.thaw().unwrap();
    expect("freezer", "freezer.state", "THAWED");

    cgroup.add_pid(4242).unwrap();
    for mount in V1_MOUNTS {
        expect(mount, "cgroup.procs", "4242");
    }
    assert_eq!(cgroup.pids().unwrap(), [4242]);
}

fn populate_v2(tree: &FakeTree) {
    tree.populate(
        "unified",
        REL,
        &[
            "memory.max",
            "memory.swap.max",
            "memory.low",
            "memory.high",
            "cpu.weight",
            "cpu.max",
            "cpu.max.burst",
            "cpu.idle",
            "cpuset.cpus",
            "cpuset.mems",
            "pids.max",
            "io.weight",
            "io.max",
            "hugetlb.2MB.max",
            "hugetlb.2MB.rsvd.max",
            "rdma.max",
            "cgroup.freeze",
        ],
    );
}

#[test]
fn v2_writes_converted_values() {
    let offered = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma"];
    let tree = FakeTree::new("v2-full", &[], Some(&offered));
    populate_v2(&tree);
    let cgroup = Cgroup::create(&tree.layout, Path::new(REL), None).unwrap();
    let mut resources = full_resources();
    resources.unified = Some(BTreeMap::from([(
        "memory.high".to_string(),
        "900000000".to_string(),
    )]));
    // v2 device rules are a BPF program, which needs a real cgroup (see
    // v2_refuses_what_it_cannot_express, and tests_real for a real one).
    resources.devices.clear();
    cgroup.apply(&resources, None).unwrap();

    let expect = |file: &str, contents: &str| {
        assert_eq!(tree.read("unified", REL, file), contents, "{file}");
    };
    expect("memory.max", "1073741824");
    expect("memory.swap.max", "1073741824");
    expect("memory.low", "536870912");
    expect("memory.high", "900000000");
    expect("cpu.weight", "39");
    expect("cpu.max", "50000 100000");
    expect("cpu.max.burst", "10000");
    expect("cpu.idle", "0");
    expect("cpuset.cpus", "0");
    expect("cpuset.mems", "0");
    expect("pids.max", "64");
    // Last write: the per-device weight, 300 converted.
    expect("io.weight", "8:0 2930");
    expect("io.max", "8:0 wiops=400");
    expect("hugetlb.2MB.max", "4194304");
    expect("hugetlb.2MB.rsvd.max", "4194304");
    expect("rdma.max", "mlx4_0 hca_handle=2 hca_object=2000");
    // Controllers were enabled for children at the root (one per write).
    let subtree =
        std::fs::read_to_string(tree.tmp.path().join("unified/cgroup.subtree_control")).unwrap();
    assert!(subtree.starts_with('+'), "{subtree:?}");

    cgroup.freeze().unwrap();
    expect("cgroup.freeze", "1");
    cgroup.thaw().unwrap();
    expect("cgroup.freeze", "0");

    // Unlimited values.
    let unlimited = Resources {
        memory: Some(crate::spec::Memory {
            limit: Some(-1),
            ..Default::default()
        }),
        cpu: Some(Cpu {
            quota: Some(-1),
            ..Default::default()
        }),
        pids: Some(crate::spec::Pids { limit: Some(-1) }),
        ..Default::default()
    };
    cgroup.apply(&unlimited, None).unwrap();
    expect("memory.max", "max");
    expect("memory.swap.max", "max");
    expect("cpu.max", "max 100000");
    expect("pids.max", "max");
}

#[test]
fn v2_refuses_what_it_cannot_express() {
    let tree = FakeTree::new("v2-refuse", &[], Some(&["cpu", "io", "memory"]));
    populate_v2(&tree);
    let cgroup = Cgroup::create(&tree.layout, Path::new(REL), None).unwrap();
    let rt = Cpu {
        realtime_runtime: Some(1000),
        ..Default::default()
    };
    let err = cgroup
        .apply(&Resources::default(), Some(&rt))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("linux.cpu.realtimeRuntime:"), "{err}");
    let network = Resources {
        network: Some(Network {
            class_id: Some(1),
            priorities: vec![],
        }),
        ..Default::default()
    };
    let err = cgroup.apply(&network, None).unwrap_err().to_string();
    assert!(err.starts_with("linux.resources.network.classID:"), "{err}");
    let mut leaf = full_resources();
    leaf.cpu = None;
    leaf.hugepage_limits.clear();
    leaf.rdma = None;
    leaf.pids = None;
    if let Some(b) = leaf.block_io.as_mut() {
        b.leaf_weight = Some(100);
    }
    let err = cgroup.apply(&leaf, None).unwrap_err().to_string();
    assert!(
        err.starts_with("linux.resources.blockIO.leafWeight:"),
        "{err}"
    );
    let swap_without_limit = Resources {
        memory: Some(crate::spec::Memory {
            swap: Some(1000),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = cgroup
        .apply(&swap_without_limit, None)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("linux.resources.memory.swap:"), "{err}");
    // Not offered here: pids.
    let pids = Resources {
        pids: Some(crate::spec::Pids { limit: Some(5) }),
        ..Default::default()
    };
    let err = cgroup.apply(&pids, None).unwrap_err().to_string();
    assert!(
        err.starts_with("linux.resources.pids:") && err.contains("not available"),
        "{err}"
    );
    // Device rules on v2 are a BPF program attached to the directory: a
    // fake tree is no cgroup, so the bpf(2) calls fail, and say so.
    let devices = Resources {
        devices: full_resources().devices,
        ..Default::default()
    };
    let err = cgroup.apply(&devices, None).unwrap_err().to_string();
    assert!(err.contains("bpf(BPF_PROG_"), "{err}");
}

#[test]
fn hybrid_sends_each_controller_where_it_is_mounted() {
    let tree = FakeTree::new(
        "hybrid",
        &["cpu,cpuacct", "memory", "pids", "freezer", "devices"],
        Some(&["hugetlb"]),
    );
    tree.populate(
        "memory",
        REL,
        &[
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.soft_limit_in_bytes",
        ],
    );
    tree.populate(
        "cpu,cpuacct",
        REL,
        &[
            "cpu.shares",
            "cpu.cfs_quota_us",
            "cpu.cfs_burst_us",
            "cpu.idle",
        ],
    );
    tree.populate("pids", REL, &["pids.max"]);
    tree.populate("freezer", REL, &["freezer.state"]);
    tree.populate("devices", REL, &["devices.allow", "devices.deny"]);
    tree.populate("unified", REL, &["hugetlb.2MB.max", "cgroup.freeze"]);
    let cgroup = Cgroup::create(&tree.layout, Path::new(REL), None).unwrap();
    assert_eq!(cgroup.hierarchies().len(), 6);

    let mut resources = full_resources();
    resources.block_io = None;
    resources.rdma = None;
    if let Some(cpu) = resources.cpu.as_mut() {
        cpu.cpus = None;
        cpu.mems = None;
    }
    resources.unified = Some(BTreeMap::from([(
        "hugetlb.2MB.max".to_string(),
        "8388608".to_string(),
    )]));
    cgroup.apply(&resources, None).unwrap();
    assert_eq!(
        tree.read("memory", REL, "memory.limit_in_bytes"),
        "1073741824"
    );
    assert_eq!(tree.read("cpu,cpuacct", REL, "cpu.shares"), "1024");
    assert_eq!(tree.read("pids", REL, "pids.max"), "64");
    assert_eq!(tree.read("devices", REL, "devices.allow"), "c 136:* rw");
    // hugepageLimits wrote 4194304, then unified overrode it.
    assert_eq!(tree.read("unified", REL, "hugetlb.2MB.max"), "8388608");

    // unified on a controller that is v1 here.
    let on_v1 = Resources {
        unified: Some(BTreeMap::from([(
            "memory.high".to_string(),
            "1".to_string(),
        )])),
        ..Default::default()
    };
    let err = cgroup.apply(&on_v1, None).unwrap_err().to_string();
    assert_eq!(err, "linux.resources.unified[\"memory.high\"]: the memory controller is not in the cgroup2 tree here");
    // cpuset is mounted nowhere.
    let cpuset = Resources {
        cpu: Some(Cpu {
            cpus: Some("0".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = cgroup.apply(&cpuset, None).unwrap_err().to_string();
    assert!(
        err.starts_with("linux.resources.cpu.cpus: the cpuset controller is not available"),
        "{err}"
    );

    // The v1 freezer wins over cgroup.freeze.
    cgroup.freeze().unwrap();
    assert_eq!(tree.read("freezer", REL, "freezer.state"), "FROZEN");
    assert_eq!(tree.read("unified", REL, "cgroup.freeze"), "");

    cgroup.add_pid(77).unwrap();
    assert_eq!(tree.read("unified", REL, "cgroup.procs"), "77");
    assert_eq!(tree.read("memory", REL, "cgroup.procs"), "77");
}

#[test]
fn invalid_values_write_nothing() {
    let tree = FakeTree::new("v1-invalid", V1_MOUNTS, None);
    populate_v1(&tree);
    let cgroup = Cgroup::create(&tree.layout, Path::new(REL), None).unwrap();
    let mut resources = full_resources();
    resources.cpu = Some(Cpu {
        shares: Some(1),
        ..Default::default()
    });
    let err = cgroup.apply(&resources, None).unwrap_err().to_string();
    assert_eq!(err, "linux.resources.cpu.shares: 1 is below the minimum 2");
    assert_eq!(tree.read("memory", REL, "memory.soft_limit_in_bytes"), "");
    assert_eq!(tree.read("devices", REL, "devices.deny"), "");
}

#[test]
fn a_symlink_or_fifo_in_place_of_a_cgroup_file_is_refused() {
    let tree = FakeTree::new("v2-planted", &[], Some(&["memory", "pids"]));
    populate_v2(&tree);
    let dir = tree.tmp.path().join("unified").join(REL);
    let target = tree.tmp.path().join("elsewhere");
    std::fs::write(&target, "untouched").unwrap();
    std::fs::remove_file(dir.join("memory.max")).unwrap();
    std::os::unix::fs::symlink(&target, dir.join("memory.max")).unwrap();
    std::fs::remove_file(dir.join("cgroup.procs")).unwrap();
    let cgroup_procs = dir.join("cgroup.procs");
    std::fs::write(&cgroup_procs, "").unwrap();
    let cgroup = Cgroup::create(&tree.layout, Path::new(REL), None).unwrap();

    let memory = Resources {
        memory: Some(crate::spec::Memory {
            limit: Some(4096),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = cgroup.apply(&memory, None).unwrap_err();
    assert!(
        matches!(
            err,
            CgroupError::NotRegularFile {
                kind: "symlink",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("memory.max"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");

    std::fs::remove_file(&cgroup_procs).unwrap();
    nix::unistd::mkfifo(
        &cgroup_procs,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let err = cgroup.add_pid(1).unwrap_err();
    assert!(
        matches!(err, CgroupError::NotRegularFile { kind: "FIFO", .. }),
        "{err}"
    );
    assert!(cgroup.pids().is_err());
}

#[test]
fn create_makes_parents_and_destroy_removes_exactly_those() {
    let tree = FakeTree::new("v1-create", &["memory", "pids"], None);
    // "shared" exists before us in memory only; we must not remove it.
    std::fs::create_dir_all(tree.tmp.path().join("memory/shared")).unwrap();
    let cgroup =
        Cgroup::create(&tree.layout, Path::new("shared/sub/c1"), Some((1234, 5678))).unwrap();
    let memory = &cgroup.hierarchies()[0];
    let pids = &cgroup.hierarchies()[1];
    let root = tree.tmp.path();
    assert_eq!(
        memory.created,
        [
            root.join("memory/shared/sub"),
            root.join("memory/shared/sub/c1")
        ]
    );
    assert_eq!(
        pids.created,
        [
            root.join("pids/shared"),
            root.join("pids/shared/sub"),
            root.join("pids/shared/sub/c1")
        ]
    );
    let meta = std::fs::metadata(root.join("pids/shared/sub/c1")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1234, 5678));

    // The record survives a trip through JSON and destroys the same way.
    let json = serde_json::to_string(&cgroup.to_record()).unwrap();
    let record: CgroupRecord = serde_json::from_str(&json).unwrap();
    let again = Cgroup::from_record(&record);
    assert_eq!(again, cgroup);
    again.destroy().unwrap();
    assert!(root.join("memory/shared").is_dir());
    assert!(!root.join("memory/shared/sub").exists());
    assert!(!root.join("pids/shared").exists());
    // Twice is fine.
    again.destroy().unwrap();
}

#[test]
fn destroy_keeps_a_parent_someone_else_now_uses() {
    let tree = FakeTree::new("v1-sibling", &["memory"], None);
    let first = Cgroup::create(&tree.layout, Path::new("p/c1"), None).unwrap();
    let second = Cgroup::create(&tree.layout, Path::new("p/c2"), None).unwrap();
    assert_eq!(second.hierarchies()[0].created.len(), 1);
    first.destroy().unwrap();
    assert!(tree.tmp.path().join("memory/p/c2").is_dir());
    second.destroy().unwrap();
    assert!(
        tree.tmp.path().join("memory/p").is_dir(),
        "not ours to remove"
    );
}

#[test]
fn a_cgroup_in_use_is_refused_and_nothing_is_left() {
    let tree = FakeTree::new("v1-inuse", &["memory", "pids"], None);
    tree.populate("pids", "p/c1", &[]);
    std::fs::write(tree.tmp.path().join("pids/p/c1/cgroup.procs"), "123\n456\n").unwrap();
    let err = Cgroup::create(&tree.layout, Path::new("p/c1"), None).unwrap_err();
    assert!(
        matches!(&err, CgroupError::InUse { pids, .. } if pids == &[123, 456]),
        "{err}"
    );
    assert!(err.to_string().contains("pids/p/c1"), "{err}");
    // memory (created first) was rolled back.
    assert!(!tree.tmp.path().join("memory/p").exists());
}

#[test]
fn create_refuses_bad_relative_paths() {
    let tree = FakeTree::new("v1-badpath", &["memory"], None);
    for rel in ["", "/abs", "a/../b", "./a"] {
        assert!(
            matches!(
                Cgroup::create(&tree.layout, Path::new(rel), None),
                Err(CgroupError::InvalidPath { .. })
            ),
            "{rel:?}"
        );
    }
}

#[test]
fn exec_sub_cgroups_parse_as_runc_and_stay_inside() {
    use super::{parse_exec_sub_cgroups, ExecSubCgroups};
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let one = parse_exec_sub_cgroups(&args(&["/a//b/"])).unwrap();
    assert_eq!(one.all.as_deref(), Some(std::path::Path::new("a/b")));
    let per = parse_exec_sub_cgroups(&args(&["cpu,cpuacct:x", "pids:y"])).unwrap();
    assert_eq!(per.by_controller.len(), 3);
    assert_eq!(per.by_controller["cpuacct"], std::path::Path::new("x"));
    assert_eq!(
        parse_exec_sub_cgroups(&[]).unwrap(),
        ExecSubCgroups::default()
    );
    for bad in [
        &["../x"][..],
        &["a/../../b"],
        &["a", "b"],
        &["pids:a", "pids:b"],
        &[":a"],
        &["cpu,:a"],
        &["pids:.."],
    ] {
        let err = parse_exec_sub_cgroups(&args(bad)).expect_err(&format!("{bad:?}"));
        assert!(err.to_string().contains("--cgroup"), "{bad:?}: {err}");
    }
}
