//! The rootfs set-up as data: what `prepare` will do, built from the config
//! without touching the system, so the mount logic (option → flags, the
//! order, /dev, masked and read-only paths) is unit-tested without root.
//!
//! The plan holds paths and flags, never fds: every path is resolved inside
//! the rootfs when the op is applied (`mod.rs`, `mounts.rs`, `devices.rs`),
//! since the rootfs can change between planning and applying.

use crate::spec::{self, Device, Mount, MountOptions, RecursiveAttrs, Spec};
use nix::mount::MsFlags;
use runoci_core::userns::MappedIds;
use std::path::{Path, PathBuf};

/// What the rootfs set-up needs beyond the config.
pub struct RootfsInput<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    /// Absolute rootfs path (bundle-relative `root.path` already joined).
    pub rootfs: PathBuf,
    /// `-b A:B` mounts, after the config's own.
    pub extra_binds: &'a [(PathBuf, String)],
    /// In a user namespace (the container's, or the one runoci runs in):
    /// devices are bound from the host, mknod is not allowed.
    pub in_userns: bool,
    /// The ids the container's user namespace maps (from inside it).
    pub mapped: &'a MappedIds,
    pub new_cgroupns: bool,
    /// `linux.mountLabel` when it applies (SELinux enabled), for the data
    /// of the filesystems without labels of their own.
    pub mount_label: Option<&'a str>,
}

/// Everything done in the container's mount namespace before pivot_root,
/// in order: the propagation of "/", the rootfs bound onto itself, then
/// `ops`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsPlan {
    /// Set on "/" (with `MS_REC`) before anything is mounted.
    pub root_propagation: MsFlags,
    /// Bound onto itself (recursively) and opened: the root of every op.
    pub rootfs: PathBuf,
    pub ops: Vec<MountOp>,
}

/// One step inside the rootfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountOp {
    /// A `mounts[]` entry or a `-b` bind.
    Entry(Entry),
    /// The default devices and `linux.devices`, in creation order.
    Devices(Vec<DeviceOp>),
    /// The /dev symlinks (/dev/fd, stdin...), and /dev/ptmx → pts/ptmx when
    /// the config mounts a devpts.
    DevLinks { ptmx: bool },
}

/// One mount entry: `what` names it in every error ("mount SRC (TYPE) on
/// DEST").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub what: String,
    /// Inside the rootfs, resolved there when applied.
    pub destination: String,
    pub action: EntryAction,
    /// Set with a mount(2) of its own after the mount (empty: none).
    pub propagation: MsFlags,
    /// `rro`, `rnosuid`...: set on the mount and every mount under it with
    /// mount_setattr(AT_RECURSIVE) after the mount (empty: none).
    pub recursive_attrs: RecursiveAttrs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryAction {
    /// A bind of the host's `source`, then a remount for `flags` (those a
    /// bind ignores) when there are any.
    Bind {
        source: PathBuf,
        recursive: bool,
        flags: MsFlags,
    },
    /// An idmapped bind (`idmap`, `ridmap`, mount `uidMappings`): the
    /// parent's detached mount of `mounts[mount]` (`idmapped`) moved onto
    /// the destination, then remounted for `flags` as a bind.
    IdmappedBind { mount: usize, flags: MsFlags },
    /// `"type": "cgroup"`: the container's view of /sys/fs/cgroup
    /// (`cgroupfs`).
    Cgroup { flags: MsFlags, in_cgroupns: bool },
    /// A new filesystem.
    Mount {
        source: MountSource,
        fstype: String,
        flags: MsFlags,
        data: Option<String>,
        /// `tmpcopyup`: fill the new tmpfs with what it covers.
        copyup: bool,
    },
    /// `dm=` (dm-verity): refused when reached.
    Verity(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    Path(PathBuf),
    /// `loop`: a loop device attached to `backing` (read-only when the
    /// mount is).
    Loop {
        backing: PathBuf,
        read_only: bool,
    },
}

/// A device node to make; numbers marked dynamic are read from the host's
/// node at the same path when applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceOp {
    pub node: Node,
    pub dynamic_major: bool,
    pub dynamic_minor: bool,
    /// In a user namespace mknod is not allowed: the host's node is bound.
    pub bind_host: bool,
}

/// Propagation for "/" before anything is mounted: the config's
/// rootfsPropagation, else rslave, so nothing we mount reaches the host
/// and host mounts still reach us.
pub fn root_propagation(spec: &Spec) -> MsFlags {
    spec.linux
        .as_ref()
        .and_then(|l| l.rootfs_propagation.as_deref())
        .and_then(spec::propagation)
        .map(|p| p | MsFlags::MS_REC)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC)
}

/// The plan of `prepare`.
pub fn plan(input: &RootfsInput) -> RootfsPlan {
    let spec = input.spec;
    let prop = root_propagation(spec);
    // pivot_root refuses a shared new root; rshared configs get their
    // propagation back on "/" after the pivot.
    let root_propagation = if prop.contains(MsFlags::MS_SHARED) {
        MsFlags::MS_SLAVE | MsFlags::MS_REC
    } else {
        prop
    };
    let label = input.mount_label;
    let mut ops = Vec::new();
    let mut has_devpts = false;
    for (index, m) in spec.mounts.iter().enumerate() {
        if m.perform_in_intermediate_namespace {
            continue; // mounted by the parent, in the intermediate namespace
        }
        if m.typ.as_deref() == Some("devpts") {
            has_devpts = true;
        }
        let mut e = entry(m, input.bundle, label, input.new_cgroupns);
        if m.typ.as_deref() == Some("devpts") {
            drop_unmapped_owner(&mut e, input.mapped);
        }
        if let (Some(_), EntryAction::Bind { flags, .. }) = (m.idmap(), &e.action) {
            e.action = EntryAction::IdmappedBind {
                mount: index,
                flags: *flags,
            };
        }
        ops.push(MountOp::Entry(e));
    }
    for (src, dst) in input.extra_binds {
        let m = Mount {
            destination: dst.clone(),
            typ: Some("bind".into()),
            source: Some(src.display().to_string()),
            options: vec!["rbind".into()],
            ..Default::default()
        };
        ops.push(MountOp::Entry(entry(
            &m,
            input.bundle,
            label,
            input.new_cgroupns,
        )));
    }
    // A /dev bound from elsewhere (the host's, by a `mounts[]` bind or
    // `-b /dev:/dev`) is not the container's to fill: making the nodes
    // there would unlink and recreate the host's own, and the symlinks
    // would land in the host's /dev. runc skips them too (needsSetupDev).
    // Intermediate-namespace entries count: they are under us already.
    let dev_bound = ops
        .iter()
        .filter_map(|op| match op {
            MountOp::Entry(e) => Some(e),
            _ => None,
        })
        .chain(&intermediate(spec, input.bundle, label))
        .any(binds_dev);
    if !dev_bound {
        ops.push(MountOp::Devices(device_ops(spec, input.in_userns)));
        ops.push(MountOp::DevLinks { ptmx: has_devpts });
    }
    RootfsPlan {
        root_propagation,
        rootfs: input.rootfs.clone(),
        ops,
    }
}

/// A devpts `uid=`/`gid=` naming an id the container's user namespace does
/// not map (runc's default `gid=5` under `run -u`'s one-id map) is dropped,
/// as runc and crun do: the kernel refuses the whole mount (EINVAL)
/// otherwise, and without it new ptys belong to the opener's group.
fn drop_unmapped_owner(e: &mut Entry, mapped: &MappedIds) {
    let EntryAction::Mount {
        data: Some(data), ..
    } = &mut e.action
    else {
        return;
    };
    let unmapped = |opt: &str| {
        let id = |prefix| opt.strip_prefix(prefix).and_then(|v| v.parse::<u32>().ok());
        match (id("uid="), id("gid=")) {
            (Some(uid), _) => !mapped.maps_uid(uid),
            (_, Some(gid)) => !mapped.maps_gid(gid),
            _ => false,
        }
    };
    let (dropped, kept): (Vec<&str>, Vec<&str>) = data.split(',').partition(|o| unmapped(o));
    if dropped.is_empty() {
        return;
    }
    crate::debug!(
        "{}: dropped {} (not mapped in the user namespace)",
        e.what,
        dropped.join(",")
    );
    *data = kept.join(",");
}

fn binds_dev(e: &Entry) -> bool {
    matches!(e.action, EntryAction::Bind { .. }) && Path::new(&e.destination) == Path::new("/dev")
}

/// What the parent makes for an idmapped mount before the child mounts
/// anything: a detached copy of `source` (every mount under it with
/// `recursive`) whose idmap (on every mount of the copy with
/// `recursive_idmap`) maps through `mappings` (the mount's `uidMappings`
/// and `gidMappings`), or the container's user
/// namespace when `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdmapRequest {
    pub mount: usize,
    pub source: PathBuf,
    pub recursive: bool,
    pub recursive_idmap: bool,
    pub mappings: Option<(Vec<spec::IdMapping>, Vec<spec::IdMapping>)>,
}

/// The idmapped mounts of `mounts[]`, for the parent.
pub fn idmapped(spec: &Spec, bundle: &Path) -> Vec<IdmapRequest> {
    spec.mounts
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.perform_in_intermediate_namespace)
        .filter_map(|(index, m)| {
            let recursive_idmap = m.idmap()?;
            let EntryAction::Bind {
                source, recursive, ..
            } = entry(m, bundle, None, false).action
            else {
                return None; // refused at load: idmapped mounts are binds
            };
            let mappings = (!m.uid_mappings.is_empty())
                .then(|| (m.uid_mappings.clone(), m.gid_mappings.clone()));
            Some(IdmapRequest {
                mount: index,
                source,
                recursive,
                recursive_idmap,
                mappings,
            })
        })
        .collect()
}

/// The entries of `performInIntermediateNamespace`, mounted by the parent.
/// `label`: `linux.mountLabel` when it applies.
pub fn intermediate(spec: &Spec, bundle: &Path, label: Option<&str>) -> Vec<Entry> {
    spec.mounts
        .iter()
        .filter(|m| m.perform_in_intermediate_namespace)
        .map(|m| entry(m, bundle, label, false))
        .collect()
}

/// One `mounts[]` entry, with the reference's option parsing.
pub fn entry(m: &Mount, bundle: &Path, label: Option<&str>, in_cgroupns: bool) -> Entry {
    let what = format!(
        "mount {} ({}) on {}",
        m.source.as_deref().unwrap_or("none"),
        m.typ.as_deref().unwrap_or("bind"),
        m.destination
    );
    let opts: MountOptions = spec::mount_options(&m.options);
    let typ = m.typ.as_deref().unwrap_or("");
    let mut flags = opts.flags;
    if typ == "proc" || typ == "sysfs" {
        // As the reference: proc and sysfs always nodev, noexec, nosuid.
        flags |= MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID;
    }
    let is_bind = flags.contains(MsFlags::MS_BIND) || typ == "bind" || typ == "rbind";
    let source = m.source.as_deref().unwrap_or("");
    let (action, propagation) = if let Some(verity) = &opts.verity {
        (EntryAction::Verity(verity.clone()), MsFlags::empty())
    } else if is_bind {
        let action = EntryAction::Bind {
            source: bind_source(bundle, source),
            recursive: opts.recursive || typ == "rbind",
            flags: flags & !MsFlags::MS_BIND & !MsFlags::MS_REC,
        };
        (action, opts.propagation)
    } else if typ == "cgroup" {
        (EntryAction::Cgroup { flags, in_cgroupns }, MsFlags::empty())
    } else {
        let data = with_mount_label(&opts.data, typ, label);
        let source = if opts.loop_device {
            MountSource::Loop {
                backing: bind_source(bundle, source),
                read_only: flags.contains(MsFlags::MS_RDONLY),
            }
        } else {
            MountSource::Path(PathBuf::from(m.source.as_deref().unwrap_or(typ)))
        };
        let action = EntryAction::Mount {
            source,
            fstype: typ.to_string(),
            flags: flags & !MsFlags::MS_REC,
            data: (!data.is_empty()).then_some(data),
            copyup: opts.tmpcopyup && typ == "tmpfs",
        };
        (action, opts.propagation)
    };
    let recursive_attrs = if matches!(action, EntryAction::Verity(_)) {
        RecursiveAttrs::default()
    } else {
        opts.recursive_attrs
    };
    Entry {
        what,
        destination: m.destination.clone(),
        action,
        propagation,
        recursive_attrs,
    }
}

/// `linux.mountLabel` to put in the mount data: the config's when SELinux
/// is enabled. Without SELinux there is nothing to label with, and the
/// label is ignored, as crun does (warning) and runc does (its labels are
/// no-ops there): `child::lsm::warn_ignored_mount_label` says so.
pub fn mount_label(label: Option<&str>) -> Option<&str> {
    label.filter(|l| !l.is_empty() && runoci_core::lsm::selinux_enabled())
}

/// The mount data with `context="LABEL"` added for the filesystems that
/// the container writes to and that carry no labels of their own.
fn with_mount_label(data: &str, typ: &str, label: Option<&str>) -> String {
    match label.filter(|l| !l.is_empty()) {
        Some(l) if matches!(typ, "tmpfs" | "devpts" | "mqueue") => {
            let ctx = format!("context=\"{l}\"");
            if data.is_empty() {
                ctx
            } else {
                format!("{data},{ctx}")
            }
        }
        _ => data.to_string(),
    }
}

/// The default devices the config does not name, then `linux.devices` in
/// order (a later entry for the same path replaces the node).
fn device_ops(spec: &Spec, in_userns: bool) -> Vec<DeviceOp> {
    let configured: &[Device] = spec
        .linux
        .as_ref()
        .map(|l| l.devices.as_slice())
        .unwrap_or_default();
    let defaults = default_nodes()
        .into_iter()
        .filter(|node| !configured.iter().any(|d| d.path == node.path))
        .map(|node| DeviceOp {
            node,
            dynamic_major: false,
            dynamic_minor: false,
            bind_host: in_userns,
        });
    let configured = configured.iter().map(|d| DeviceOp {
        node: Node::planned(d),
        dynamic_major: d.dynamic_major,
        dynamic_minor: d.dynamic_minor,
        bind_host: in_userns,
    });
    defaults.chain(configured).collect()
}

/// After pivot_root: `linux.maskedPaths`, then `linux.readonlyPaths`. A
/// path that does not exist in the container is skipped when applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathOp {
    /// Hidden: how depends on its type, seen when opened (`masked_paths`).
    Mask(String),
    /// Bound onto itself (recursively), then remounted with `flags`.
    Remount {
        path: String,
        recursive: bool,
        flags: MsFlags,
    },
}

pub fn masked_paths(spec: &Spec) -> Vec<PathOp> {
    linux_paths(spec, |l| &l.masked_paths)
        .map(|p| PathOp::Mask(p.clone()))
        .collect()
}

pub fn readonly_paths(spec: &Spec) -> Vec<PathOp> {
    linux_paths(spec, |l| &l.readonly_paths)
        .map(|p| PathOp::Remount {
            path: p.clone(),
            recursive: true,
            flags: MsFlags::MS_RDONLY,
        })
        .collect()
}

fn linux_paths<'a>(
    spec: &'a Spec,
    field: impl Fn(&'a spec::Linux) -> &'a Vec<String>,
) -> impl Iterator<Item = &'a String> {
    spec.linux.as_ref().map(field).into_iter().flatten()
}

/// After pivot_root and the masked and read-only paths: `root.readonly`,
/// then the config's rootfsPropagation (if any) on "/".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishOp {
    RemountRootReadonly,
    RootPropagation(MsFlags),
}

pub fn finish(spec: &Spec) -> Vec<FinishOp> {
    let mut ops = Vec::new();
    if spec.root.as_ref().is_some_and(|r| r.readonly) {
        ops.push(FinishOp::RemountRootReadonly);
    }
    if spec
        .linux
        .as_ref()
        .and_then(|l| l.rootfs_propagation.as_ref())
        .is_some()
    {
        ops.push(FinishOp::RootPropagation(root_propagation(spec)));
    }
    ops
}

/// Where a bind source lives: absolute, or relative to the bundle (the
/// reference does this for bind mounts since minijail refuses relative
/// ones).
pub fn bind_source(bundle: &Path, source: &str) -> PathBuf {
    let p = Path::new(source);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        bundle.join(p)
    }
}

/// The runtime spec's default devices ("Default Devices", config-linux.md).
const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// A node to create: type char ('c', 'b', 'u', 'p'), numbers, mode, owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub path: String,
    pub kind: char,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Node {
    /// From a `linux.devices` entry, numbers as written (see `resolve`).
    pub fn planned(d: &Device) -> Node {
        Node {
            path: d.path.clone(),
            kind: d.typ.chars().next().unwrap_or('c'),
            major: d.major.max(0) as u64,
            minor: d.minor.max(0) as u64,
            mode: d.file_mode.unwrap_or(0o666),
            uid: d.uid.unwrap_or(0),
            gid: d.gid.unwrap_or(0),
        }
    }
}

/// The default devices as nodes to make.
pub fn default_nodes() -> Vec<Node> {
    DEFAULT_DEVICES
        .iter()
        .map(|(p, maj, min)| Node {
            path: p.to_string(),
            kind: 'c',
            major: *maj,
            minor: *min,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
