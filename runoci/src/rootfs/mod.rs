//! The container's filesystem: mounts, /dev, pivot_root, masked and
//! read-only paths, a read-only root. Runs in the container's mount
//! namespace, in the child, before the program starts.

pub mod cgroupfs;
pub mod copyup;
pub mod devices;
pub mod idmap;
pub mod loopdev;
pub mod masked_paths;
pub mod mounts;
pub mod plan;
pub mod readonly_paths;

use crate::error::{Context, Error, Result};
use crate::spec::Spec;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use plan::{FinishOp, MountOp};
pub use plan::{RootfsInput, RootfsPlan};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Mount everything inside the rootfs; returns the rootfs fd for pivot.
/// `idmapped`: the detached idmapped mounts the parent made, by `mounts[]`
/// index.
pub fn prepare(input: &RootfsInput, idmapped: &[(usize, OwnedFd)]) -> Result<OwnedFd> {
    apply(&plan::plan(input), idmapped)
}

/// Perform `plan`: every path is resolved inside the rootfs now, not when
/// the plan was made.
pub fn apply(plan: &RootfsPlan, idmapped: &[(usize, OwnedFd)]) -> Result<OwnedFd> {
    // Before any mount: stop propagation to the host. A shared root would
    // copy every mount below into the host's namespace.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        plan.root_propagation,
        None::<&str>,
    )
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
    for op in &plan.ops {
        match op {
            MountOp::Entry(e) => mounts::apply_entry(root.as_raw_fd(), e, idmapped)?,
            MountOp::Devices(nodes) => devices::apply(root.as_raw_fd(), nodes)?,
            MountOp::DevLinks { ptmx } => devices::create_links(root.as_raw_fd(), *ptmx)?,
        }
    }
    Ok(root)
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
fn paths_root(ops: &[plan::PathOp], field: &str) -> Result<Option<OwnedFd>> {
    if ops.is_empty() {
        return Ok(None);
    }
    runoci_core::procfs::require_mounted(field)?;
    open_dir(Path::new("/")).map(Some)
}

/// Apply the path ops of `field` in the container's root. The null device
/// is opened and verified once, before the first mask.
fn apply_paths(ops: &[plan::PathOp], field: &str) -> Result<()> {
    let Some(root) = paths_root(ops, field)? else {
        return Ok(());
    };
    let mut devnull = None;
    for op in ops {
        match op {
            plan::PathOp::Mask(path) => {
                let devnull = match &mut devnull {
                    Some(fd) => fd,
                    None => devnull.insert(masked_paths::open_verified_devnull(root.as_raw_fd())?),
                };
                masked_paths::mask(root.as_raw_fd(), path, devnull)?;
            }
            plan::PathOp::Remount {
                path,
                recursive,
                flags,
            } => readonly_paths::remount(root.as_raw_fd(), path, *recursive, *flags)?,
        }
    }
    Ok(())
}

/// After pivot_root and the masked and read-only paths: `root.readonly`
/// (after them: they are mounted inside it), then the final propagation.
pub fn finish(spec: &Spec) -> Result<()> {
    for op in plan::finish(spec) {
        match op {
            FinishOp::RemountRootReadonly => mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .ctx("remount / read-only (root.readonly)")?,
            FinishOp::RootPropagation(prop) => {
                mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
                    .with_ctx(|| format!("set rootfsPropagation {prop:?} on /"))?
            }
        }
    }
    Ok(())
}

/// Mounts of `performInIntermediateNamespace`: done by the parent after it
/// entered a mount namespace of its own (see `container`), so they are in
/// the container's namespace (copied at clone) and never in the host's.
pub fn mount_intermediate(spec: &Spec, bundle: &Path, rootfs: &Path) -> Result<()> {
    let root = open_dir(rootfs)?;
    let label = plan::mount_label(spec.linux.as_ref().and_then(|l| l.mount_label.as_deref()));
    for e in plan::intermediate(spec, bundle, label) {
        mounts::apply_entry(root.as_raw_fd(), &e, &[])?;
    }
    Ok(())
}

pub fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec
        .root
        .as_ref()
        .ok_or_else(|| Error::new("root: missing"))?;
    let p = plan::bind_source(bundle, &root.path);
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
