//! Test helpers: a temporary directory removed on drop, fake cgroup trees,
//! and a `Resources` with every field set.

use super::layout::Layout;
use crate::spec::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir, removed (with its
/// contents) when dropped, also when a test fails.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("runoci-cgroups-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fake cgroup tree: mount points are directories of a `TempDir`.
pub struct FakeTree {
    pub tmp: TempDir,
    pub layout: Layout,
}

impl FakeTree {
    /// v1 mounts for `controllers` (one directory each, co-mounts as
    /// "a,b") and, with `v2_controllers`, a cgroup2 tree offering those.
    pub fn new(tag: &str, v1: &[&str], v2_controllers: Option<&[&str]>) -> FakeTree {
        let tmp = TempDir::new(tag);
        let mut controllers = BTreeMap::new();
        for mount in v1 {
            let dir = tmp.path().join(mount);
            std::fs::create_dir_all(&dir).unwrap();
            for controller in mount.split(',') {
                controllers.insert(controller.to_string(), dir.clone());
            }
        }
        let unified = v2_controllers.map(|offered| {
            let dir = tmp.path().join("unified");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("cgroup.controllers"), offered.join(" ")).unwrap();
            std::fs::write(dir.join("cgroup.subtree_control"), "").unwrap();
            dir
        });
        let layout = match (controllers.is_empty(), unified) {
            (true, Some(root)) => Layout::V2 { root },
            (false, None) => Layout::V1 { controllers },
            (false, Some(unified)) => Layout::Hybrid {
                controllers,
                unified,
            },
            (true, None) => panic!("empty fake tree"),
        };
        FakeTree { tmp, layout }
    }

    /// Makes `rel` under the mount point `mount` with the given empty
    /// control files (plus `cgroup.procs`), as the kernel would.
    pub fn populate(&self, mount: &str, rel: &str, files: &[&str]) {
        let dir = self.tmp.path().join(mount).join(rel);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cgroup.procs"), "").unwrap();
        for file in files {
            std::fs::write(dir.join(file), "").unwrap();
        }
    }

    pub fn read(&self, mount: &str, rel: &str, file: &str) -> String {
        let path = self.tmp.path().join(mount).join(rel).join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// Every field that means something on both v1 and v2.
pub fn full_resources() -> Resources {
    Resources {
        devices: vec![
            DeviceCgroup {
                allow: false,
                typ: None,
                major: None,
                minor: None,
                access: Some("rwm".into()),
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
                minor: Some(-1),
                access: Some("rw".into()),
            },
        ],
        memory: Some(Memory {
            limit: Some(1 << 30),
            reservation: Some(1 << 29),
            swap: Some(2 << 30),
            ..Default::default()
        }),
        cpu: Some(Cpu {
            shares: Some(1024),
            quota: Some(50_000),
            burst: Some(10_000),
            period: None,
            cpus: Some("0".into()),
            mems: Some("0".into()),
            idle: Some(0),
            ..Default::default()
        }),
        pids: Some(Pids { limit: Some(64) }),
        block_io: Some(BlockIo {
            weight: Some(500),
            weight_device: vec![WeightDevice {
                major: 8,
                minor: 0,
                weight: Some(300),
                leaf_weight: None,
            }],
            throttle_read_bps_device: vec![ThrottleDevice {
                major: 8,
                minor: 0,
                rate: 1_000_000,
            }],
            throttle_write_bps_device: vec![ThrottleDevice {
                major: 8,
                minor: 0,
                rate: 2_000_000,
            }],
            throttle_read_iops_device: vec![ThrottleDevice {
                major: 8,
                minor: 0,
                rate: 300,
            }],
            throttle_write_iops_device: vec![ThrottleDevice {
                major: 8,
                minor: 0,
                rate: 400,
            }],
            ..Default::default()
        }),
        hugepage_limits: vec![HugepageLimit {
            page_size: "2MB".into(),
            limit: 4 << 20,
        }],
        network: None,
        rdma: Some(BTreeMap::from([(
            "mlx4_0".to_string(),
            Rdma {
                hca_handles: Some(2),
                hca_objects: Some(2000),
            },
        )])),
        unified: None,
    }
}
