//! Which cgroup hierarchies are mounted where: cgroup v1 controllers, the
//! cgroup2 ("unified") tree, or both (hybrid), read from mountinfo.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::mountinfo::{self, Mount};

/// The v1 controllers we recognise in a `cgroup` mount's super options.
/// Named hierarchies (`name=systemd`) are recognised by their prefix.
const V1_CONTROLLERS: &[&str] = &[
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "misc",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
    "rdma",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// Only cgroup v1: controller name (or `name=X`) → its mount point.
    /// Co-mounted controllers (`cpu,cpuacct`) share a mount point.
    V1 {
        controllers: BTreeMap<String, PathBuf>,
    },
    /// Only cgroup2, mounted at `root`.
    V2 { root: PathBuf },
    /// v1 controllers and a cgroup2 tree (usually `/sys/fs/cgroup/unified`);
    /// a controller not bound to v1 may be enabled in `unified`.
    Hybrid {
        controllers: BTreeMap<String, PathBuf>,
        unified: PathBuf,
    },
}

impl Layout {
    /// From this process's `/proc/self/mountinfo`, as first read
    /// (`mountinfo::cgroup_mounts_once`).
    pub fn detect() -> io::Result<Layout> {
        Self::from_mounts(mountinfo::cgroup_mounts_once()?).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "/proc/self/mountinfo: no cgroup or cgroup2 filesystem is mounted",
            )
        })
    }

    /// Reads the mountinfo file at `mountinfo` (tests use a fake one).
    pub fn detect_from(mountinfo: &Path) -> io::Result<Layout> {
        let text = std::fs::read_to_string(mountinfo)?;
        Self::from_mountinfo(&text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{}: no cgroup or cgroup2 filesystem is mounted",
                    mountinfo.display()
                ),
            )
        })
    }

    /// Parses mountinfo text; `None` when no cgroup filesystem is mounted.
    pub fn from_mountinfo(text: &str) -> Option<Layout> {
        Self::from_mounts(&mountinfo::parse(text))
    }

    /// The layout `mounts` show; `None` when no cgroup filesystem is
    /// mounted. Pure v2 is decided by [`pure_v2`] alone; otherwise the
    /// first mount of each hierarchy wins (later ones are bind mounts).
    pub fn from_mounts(mounts: &[Mount]) -> Option<Layout> {
        if pure_v2(mounts) {
            return Some(Layout::V2 {
                root: PathBuf::from(CGROUP_ROOT),
            });
        }
        let mut controllers: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut unified: Option<PathBuf> = None;
        for mount in mounts {
            match mount.fstype.as_str() {
                "cgroup2" => {
                    unified.get_or_insert_with(|| mount.mount_point.clone());
                }
                "cgroup" => {
                    for option in mount.super_option_list() {
                        if V1_CONTROLLERS.contains(&option) || option.starts_with("name=") {
                            controllers
                                .entry(option.to_string())
                                .or_insert_with(|| mount.mount_point.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        match (controllers.is_empty(), unified) {
            (true, None) => None,
            (false, None) => Some(Layout::V1 { controllers }),
            // A cgroup2 tree that is not /sys/fs/cgroup, with or without v1
            // controllers, is the hybrid arrangement: /sys/fs/cgroup is a
            // tmpfs holding the hierarchies.
            (_, Some(unified)) => Some(Layout::Hybrid {
                controllers,
                unified,
            }),
        }
    }

    /// The v1 controllers and their mount points (empty on pure v2).
    pub fn v1_controllers(&self) -> Option<&BTreeMap<String, PathBuf>> {
        match self {
            Layout::V1 { controllers } | Layout::Hybrid { controllers, .. } => Some(controllers),
            Layout::V2 { .. } => None,
        }
    }

    /// The mount point of the cgroup2 tree, if any.
    pub fn unified_root(&self) -> Option<&Path> {
        match self {
            Layout::V2 { root } => Some(root),
            Layout::Hybrid { unified, .. } => Some(unified),
            Layout::V1 { .. } => None,
        }
    }
}

/// Where the cgroup hierarchies are mounted on every layout.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The one definition of "pure cgroup v2" (unified mode): the filesystem
/// visible at /sys/fs/cgroup is cgroup2. That is what runc and crun test
/// (statfs of /sys/fs/cgroup), what a container's tools test on the
/// /sys/fs/cgroup we give them, and what `"type": "cgroup"` mounts rebuild.
/// Named v1 hierarchies without controllers (`name=systemd`, mounted on v2
/// hosts for old systemd guests) do not make a host hybrid, and a cgroup2
/// tree mounted elsewhere, or hidden under a later mount at
/// /sys/fs/cgroup, does not make it pure v2.
pub fn pure_v2(mounts: &[Mount]) -> bool {
    mountinfo::topmost(mounts, Path::new(CGROUP_ROOT)).is_some_and(|m| m.fstype == "cgroup2")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's mountinfo (cgroup lines plus neighbours), verbatim.
    pub(crate) const HYBRID: &str = "\
23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const PURE_V2: &str = "\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    const PURE_V1: &str = "\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,hugetlb
33 25 0:30 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,devices
34 25 0:31 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,cpuset,clone_children
99 25 0:31 / /mnt/again rw,relatime shared:18 - cgroup cgroup rw,cpuset,clone_children
";

    #[test]
    fn detects_this_machines_hybrid_layout() {
        let layout = Layout::from_mountinfo(HYBRID).unwrap();
        let Layout::Hybrid {
            controllers,
            unified,
        } = &layout
        else {
            panic!("not hybrid: {layout:?}");
        };
        assert_eq!(unified, Path::new("/sys/fs/cgroup/unified"));
        let names: Vec<&str> = controllers.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "blkio",
                "cpu",
                "cpuacct",
                "cpuset",
                "devices",
                "freezer",
                "memory",
                "name=systemd",
                "pids"
            ]
        );
        assert_eq!(controllers["memory"], Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(
            controllers["name=systemd"],
            Path::new("/sys/fs/cgroup/systemd")
        );
        assert_eq!(
            layout.unified_root(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
    }

    #[test]
    fn detects_pure_v2() {
        assert_eq!(
            Layout::from_mountinfo(PURE_V2),
            Some(Layout::V2 {
                root: PathBuf::from("/sys/fs/cgroup")
            })
        );
    }

    #[test]
    fn detects_pure_v1_with_comounts_and_ignores_options_and_bind_mounts() {
        let layout = Layout::from_mountinfo(PURE_V1).unwrap();
        let controllers = layout.v1_controllers().unwrap();
        assert!(matches!(layout, Layout::V1 { .. }));
        assert_eq!(controllers["cpu"], Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(
            controllers["cpuacct"],
            Path::new("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(
            controllers["net_prio"],
            Path::new("/sys/fs/cgroup/net_cls,net_prio")
        );
        assert_eq!(controllers["cpuset"], Path::new("/sys/fs/cgroup/cpuset"));
        assert!(!controllers.contains_key("rw"));
        assert!(!controllers.contains_key("xattr"));
        assert!(!controllers.contains_key("clone_children"));
        assert!(controllers.keys().all(|k| !k.starts_with("release_agent")));
        assert_eq!(layout.unified_root(), None);
    }

    #[test]
    fn no_cgroup_mounts_is_none() {
        assert_eq!(
            Layout::from_mountinfo("22 1 0:21 / /sys rw - sysfs sysfs rw\n"),
            None
        );
        assert_eq!(Layout::from_mountinfo("garbage\n\n"), None);
    }

    #[test]
    fn unescapes_mount_points() {
        let text = "41 31 0:38 / /tmp/a\\040b rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            Layout::from_mountinfo(text).unwrap().unified_root(),
            Some(Path::new("/tmp/a b"))
        );
    }

    #[test]
    fn a_named_v1_hierarchy_on_a_v2_host_is_still_pure_v2() {
        // The workaround for systemd-v1 guests on v2 hosts: name=systemd
        // mounted under the cgroup2 root. It carries no controller.
        let text = format!(
            "{PURE_V2}40 26 0:40 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,none,name=systemd\n"
        );
        assert_eq!(
            Layout::from_mountinfo(&text),
            Some(Layout::V2 {
                root: PathBuf::from("/sys/fs/cgroup")
            })
        );
    }

    #[test]
    fn cgroup2_hidden_or_elsewhere_is_not_pure_v2() {
        let hidden = format!("{PURE_V2}50 22 0:50 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n");
        assert!(!pure_v2(&mountinfo::parse(&hidden)));
        assert!(pure_v2(&mountinfo::parse(PURE_V2)));
        assert!(!pure_v2(&mountinfo::parse(HYBRID)));
        // Only a cgroup2 tree at .../unified and no v1 controller: the
        // hybrid arrangement without controllers, not v2 at /sys/fs/cgroup.
        let unified_only = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        let layout = Layout::from_mountinfo(unified_only).unwrap();
        assert!(matches!(layout, Layout::Hybrid { .. }), "{layout:?}");
        assert_eq!(
            layout.unified_root(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
        assert!(layout.v1_controllers().unwrap().is_empty());
    }

    #[test]
    fn detects_from_a_file_and_from_this_machine() {
        let dir = crate::cgroups::testutil::TempDir::new("layout");
        let file = dir.path().join("mountinfo");
        std::fs::write(&file, PURE_V2).unwrap();
        assert!(matches!(
            Layout::detect_from(&file).unwrap(),
            Layout::V2 { .. }
        ));
        std::fs::write(&file, "").unwrap();
        let err = Layout::detect_from(&file).unwrap_err().to_string();
        assert!(err.contains("mountinfo"), "{err}");
        // The real one: whatever it is, it has some cgroup filesystem.
        Layout::detect().unwrap();
    }
}
