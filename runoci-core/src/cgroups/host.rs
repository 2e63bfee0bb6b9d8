//! What this host's hierarchies can take, checked when the config is
//! loaded, before anything is created: a `linux.resources` value whose
//! control file the kernel does not have here is refused naming the field,
//! instead of failing half-way through creation (or, for a weight, being
//! written to a file that does not exist). Looks at the hierarchy roots
//! only: the container's own directory does not exist yet.

use super::error::CgroupError;
use super::layout::Layout;
use crate::spec::{BlockIo, Resources};
use std::path::Path;

/// Refuses the `linux.resources` values this host cannot apply.
pub fn check_host(resources: &Resources, layout: &Layout) -> Result<(), CgroupError> {
    if let Some(block_io) = &resources.block_io {
        check_block_io(block_io, layout)?;
    }
    Ok(())
}

/// Where `blkio`/`io` is: its v1 mount point, or the cgroup2 root when the
/// tree offers `io`.
enum IoHierarchy<'a> {
    V1(&'a Path),
    V2,
}

fn io_hierarchy(layout: &Layout) -> Option<IoHierarchy<'_>> {
    if let Some(dir) = layout.v1_controllers().and_then(|c| c.get("blkio")) {
        return Some(IoHierarchy::V1(dir));
    }
    let root = layout.unified_root()?;
    let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).ok()?;
    controllers
        .split_whitespace()
        .any(|c| c == "io")
        .then_some(IoHierarchy::V2)
}

/// A root file whose name starts with `prefix` (the BFQ files appear only
/// when the scheduler is available).
fn has_file_with_prefix(dir: &Path, prefix: &str) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
    })
}

fn check_block_io(block_io: &BlockIo, layout: &Layout) -> Result<(), CgroupError> {
    let field = "linux.resources.blockIO";
    let Some(hierarchy) = io_hierarchy(layout) else {
        return Err(CgroupError::invalid(
            field,
            "the blkio controller is not available (not mounted on v1, not offered by cgroup2)",
        ));
    };
    let leaf_weight = block_io.leaf_weight.is_some()
        || block_io
            .weight_device
            .iter()
            .any(|d| d.leaf_weight.is_some());
    let weight =
        block_io.weight.is_some() || block_io.weight_device.iter().any(|d| d.weight.is_some());
    let throttles = block_io.throttles();
    match hierarchy {
        IoHierarchy::V1(root) => {
            // Leaf weights are CFQ's; the kernel dropped CFQ in 5.0.
            if leaf_weight && !root.join("blkio.leaf_weight").exists() {
                return Err(CgroupError::invalid(
                    format!("{field}.leafWeight"),
                    format!(
                        "{} has no blkio.leaf_weight (leaf weights need the CFQ I/O scheduler, which this kernel lacks)",
                        root.display()
                    ),
                ));
            }
            if weight
                && !root.join("blkio.weight").exists()
                && !has_file_with_prefix(root, "blkio.bfq.")
            {
                return Err(CgroupError::invalid(
                    format!("{field}.weight"),
                    format!(
                        "{} has neither blkio.weight nor blkio.bfq.* (no CFQ or BFQ I/O scheduler)",
                        root.display()
                    ),
                ));
            }
            for (name, devices) in throttles {
                if !devices.is_empty() && !root.join("blkio.throttle.read_bps_device").exists() {
                    return Err(CgroupError::invalid(
                        format!("{field}.{name}"),
                        format!(
                            "{} has no blkio.throttle.* files (kernel without CONFIG_BLK_DEV_THROTTLING)",
                            root.display()
                        ),
                    ));
                }
            }
        }
        IoHierarchy::V2 => {
            if leaf_weight {
                return Err(CgroupError::invalid(
                    format!("{field}.leafWeight"),
                    "leaf weights do not exist on cgroup v2, where blkio is the io controller",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::testutil::TempDir;
    use crate::spec::{ThrottleDevice, WeightDevice};
    use std::collections::BTreeMap;

    fn v1_blkio(files: &[&str]) -> (TempDir, Layout) {
        let dir = TempDir::new("host-blkio");
        for f in files {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let layout = Layout::V1 {
            controllers: BTreeMap::from([("blkio".to_string(), dir.path().to_path_buf())]),
        };
        (dir, layout)
    }

    fn with(block_io: BlockIo) -> Resources {
        Resources {
            block_io: Some(block_io),
            ..Default::default()
        }
    }

    #[test]
    fn leaf_weight_needs_cfq() {
        let (_d, bfq_only) = v1_blkio(&[
            "blkio.bfq.io_service_bytes",
            "blkio.throttle.read_bps_device",
        ]);
        let leaf = with(BlockIo {
            weight_device: vec![WeightDevice {
                major: 8,
                minor: 0,
                weight: None,
                leaf_weight: Some(100),
            }],
            ..Default::default()
        });
        let err = check_host(&leaf, &bfq_only).unwrap_err().to_string();
        assert!(
            err.starts_with("linux.resources.blockIO.leafWeight"),
            "{err}"
        );
        let (_d, cfq) = v1_blkio(&["blkio.weight", "blkio.leaf_weight"]);
        check_host(&leaf, &cfq).unwrap();
    }

    #[test]
    fn weight_needs_cfq_or_bfq() {
        let weight = with(BlockIo {
            weight: Some(500),
            ..Default::default()
        });
        let (_d, none) = v1_blkio(&["blkio.throttle.read_bps_device"]);
        let err = check_host(&weight, &none).unwrap_err().to_string();
        assert!(err.starts_with("linux.resources.blockIO.weight"), "{err}");
        let (_d, bfq) = v1_blkio(&["blkio.bfq.io_service_bytes"]);
        check_host(&weight, &bfq).unwrap();
    }

    #[test]
    fn throttles_need_the_throttle_files() {
        let throttle = with(BlockIo {
            throttle_write_iops_device: vec![ThrottleDevice {
                major: 8,
                minor: 0,
                rate: 10,
            }],
            ..Default::default()
        });
        let (_d, none) = v1_blkio(&[]);
        let err = check_host(&throttle, &none).unwrap_err().to_string();
        assert!(
            err.starts_with("linux.resources.blockIO.throttleWriteIOPSDevice"),
            "{err}"
        );
        let (_d, ok) = v1_blkio(&["blkio.throttle.read_bps_device"]);
        check_host(&throttle, &ok).unwrap();
    }

    #[test]
    fn blkio_nowhere_is_refused() {
        let layout = Layout::V1 {
            controllers: BTreeMap::new(),
        };
        let err = check_host(&with(BlockIo::default()), &layout)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("linux.resources.blockIO"), "{err}");
    }
}
