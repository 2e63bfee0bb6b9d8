//! The container's filesystem: mounts, /dev, pivot_root, masked and
//! read-only paths, a read-only root. Runs in the container's mount
//! namespace, in the child, before the program starts.

pub mod cgroupfs;
pub mod copyup;
pub mod devices;
pub mod loopdev;
pub mod masked_paths;
pub mod mounts;
pub mod readonly_paths;
pub mod resolve;

use crate::error::{Context, Error, Result};
use crate::spec::{self, Mount, Spec};
use mounts::MountCtx;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What the rootfs set-up needs beyond the config.
pub struct RootfsPlan<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    /// Absolute rootfs path (bundle-relative `root.path` already joined).
    pub rootfs: PathBuf,
    /// `-b A:B` mounts, after the config's own.
    pub extra_binds: &'a [(PathBuf, String)],
    pub in_userns: bool,
    pub new_cgroupns: bool,
}

/// Propagation for "/" before anything is mounted: the config's
/// rootfsPropagation, else rslave, so nothing we mount reaches the host
/// and host mounts still reach us.
fn root_propagation(spec: &Spec) -> MsFlags {
    spec.linux
        .as_ref()
        .and_then(|l| l.rootfs_propagation.as_deref())
        .and_then(spec::propagation)
        .map(|p| p | MsFlags::MS_REC)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC)
}

/// Mount everything inside the rootfs; returns the rootfs fd for pivot.
pub fn prepare(plan: &RootfsPlan) -> Result<OwnedFd> {
    let spec = plan.spec;
    // Before any mount: stop propagation to the host. A shared root would
    // copy every mount below into the host's namespace.
    let prop = root_propagation(spec);
    // pivot_root refuses a shared new root; rshared configs get their
    // propagation back on "/" after the pivot.
    let first = if prop.contains(MsFlags::MS_SHARED) {
        MsFlags::MS_SLAVE | MsFlags::MS_REC
    } else {
        prop
    };
    mount(None::<&str>, "/", None::<&str>, first, None::<&str>)
        .ctx("make / private to the container")?;

    // pivot_root needs the rootfs to be a mount point.
    mount(
        Some(&plan.rootfs),
        &plan.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_ctx(|| format!("bind rootfs {} onto itself", plan.rootfs.display()))?;
    let root = open_dir(&plan.rootfs)?;
    let ctx = MountCtx {
        root: root.as_raw_fd(),
        bundle: plan.bundle,
        new_cgroupns: plan.new_cgroupns,
        mount_label: spec.linux.as_ref().and_then(|l| l.mount_label.as_deref()),
    };

    let mut has_devpts = false;
    for m in &spec.mounts {
        if m.perform_in_intermediate_namespace {
            continue; // mounted by the parent, in the intermediate namespace
        }
        if m.typ.as_deref() == Some("devpts") {
            has_devpts = true;
        }
        mounts::mount_entry(&ctx, m)?;
    }
    for (src, dst) in plan.extra_binds {
        let m = Mount {
            destination: dst.clone(),
            typ: Some("bind".into()),
            source: Some(src.display().to_string()),
            options: vec!["rbind".into()],
            ..Default::default()
        };
        mounts::mount_entry(&ctx, &m)?;
    }
    make_devices(&ctx, spec, plan.in_userns, has_devpts)?;
    Ok(root)
}

fn make_devices(ctx: &MountCtx, spec: &Spec, in_userns: bool, has_devpts: bool) -> Result<()> {
    let configured: Vec<devices::Node> = spec
        .linux
        .as_ref()
        .map(|l| {
            l.devices
                .iter()
                .map(devices::Node::from_spec)
                .collect::<Result<_>>()
        })
        .transpose()?
        .unwrap_or_default();
    for node in devices::default_nodes() {
        if !configured.iter().any(|c| c.path == node.path) {
            devices::create_node(ctx.root, &node, in_userns)?;
        }
    }
    for node in &configured {
        devices::create_node(ctx.root, node, in_userns)?;
    }
    devices::create_links(ctx.root, has_devpts)
}

fn open_dir(p: &Path) -> Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(p)
        .with_ctx(|| format!("open rootfs {}", p.display()))?;
    Ok(f.into())
}

/// Make the rootfs "/" and drop the old root. The old root is stacked on
/// the new one by pivot_root(".", ".") and detached at once, so no path to
/// the host's tree remains in the container's namespace.
pub fn pivot(root: &OwnedFd) -> Result<()> {
    nix::unistd::fchdir(root.as_raw_fd()).ctx("chdir into rootfs")?;
    nix::unistd::pivot_root(".", ".").ctx("pivot_root")?;
    // The old root sits on top of "."; make it private so its unmount does
    // not propagate back to the host, then detach it.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx("make old root slave")?;
    umount2(".", MntFlags::MNT_DETACH).ctx("detach old root")?;
    nix::unistd::chdir("/").ctx("chdir /")?;
    Ok(())
}

/// For `linux.maskedPaths` and `linux.readonlyPaths` (`field`), after
/// pivot_root: the container's root, or None when there are no paths.
/// The container's own /proc must be mounted (the usual targets are under
/// it), or the paths would be applied to nothing.
fn paths_root(paths: Option<&[String]>, field: &str) -> Result<Option<OwnedFd>> {
    if paths.unwrap_or_default().is_empty() {
        return Ok(None);
    }
    crate::procfs::require_mounted(field)?;
    open_dir(Path::new("/")).map(Some)
}

/// After pivot_root and the masked and read-only paths: `root.readonly`
/// (after them: they are mounted inside it), then the final propagation.
pub fn finish(spec: &Spec) -> Result<()> {
    if spec.root.as_ref().is_some_and(|r| r.readonly) {
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .ctx("remount / read-only (root.readonly)")?;
    }
    let prop = root_propagation(spec);
    if spec
        .linux
        .as_ref()
        .and_then(|l| l.rootfs_propagation.as_ref())
        .is_some()
    {
        mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
            .with_ctx(|| format!("set rootfsPropagation {prop:?} on /"))?;
    }
    Ok(())
}

/// Mounts of `performInIntermediateNamespace`: done by the parent after it
/// entered a mount namespace of its own (see `container`), so they are in
/// the container's namespace (copied at clone) and never in the host's.
pub fn mount_intermediate(spec: &Spec, bundle: &Path, rootfs: &Path) -> Result<()> {
    let root = open_dir(rootfs)?;
    let ctx = MountCtx {
        root: root.as_raw_fd(),
        bundle,
        new_cgroupns: false,
        mount_label: spec.linux.as_ref().and_then(|l| l.mount_label.as_deref()),
    };
    for m in spec
        .mounts
        .iter()
        .filter(|m| m.perform_in_intermediate_namespace)
    {
        mounts::mount_entry(&ctx, m)?;
    }
    Ok(())
}

pub fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec
        .root
        .as_ref()
        .ok_or_else(|| Error::new("root: missing"))?;
    let p = mounts::bind_source(bundle, &root.path);
    let md = std::fs::metadata(&p).map_err(|e| {
        Error::new(format!(
            "root.path {}: {e} (the bundle must contain the root filesystem; check \"root\": {{\"path\": ...}} in config.json)",
            p.display()
        ))
    })?;
    if !md.is_dir() {
        return Err(Error::new(format!(
            "root.path {}: not a directory (root.path names the directory that holds the container's files, usually \"rootfs\" in the bundle)",
            p.display()
        )));
    }
    p.canonicalize()
        .with_ctx(|| format!("root.path {}", p.display()))
}
