//! Idmapped mounts (`idmap`, `ridmap`, mount `uidMappings`/`gidMappings`),
//! the parent's part: MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN over the
//! source's filesystem (the host's user namespace), which the child in the
//! container's user namespace lacks. So the parent, after writing the
//! child's id maps, makes each one detached (open_tree(OPEN_TREE_CLONE) +
//! mount_setattr) and sends its fd; the child attaches it with move_mount
//! (`mounts::attach_idmapped`), as runc 1.2 does.

use super::plan::{self, IdmapRequest};
use crate::error::{Context, Error, Result};
use crate::namespaces::{self, Plan};
use crate::spec::Spec;
use crate::sync::{ParentChannel, ToChild};
use crate::sys::mount::{mount_setattr, open_tree_clone, MountAttr};
use nix::errno::Errno;
use nix::sched::CloneFlags;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// Make the idmapped mounts of `spec` and send them to the child `pid`,
/// before its `Start`.
pub fn send_to_child(
    spec: &Spec,
    bundle: &Path,
    ns: &Plan,
    pid: i32,
    chan: &ParentChannel,
) -> Result<()> {
    for req in plan::idmapped(spec, bundle) {
        let what = format!(
            "mounts[{}] (idmapped bind of {})",
            req.mount,
            req.source.display()
        );
        let tree = make(&req, ns, pid).with_ctx(|| what.clone())?;
        chan.send_with_fds(
            &ToChild::IdmappedMount { mount: req.mount },
            &[tree.as_raw_fd()],
        )?;
    }
    Ok(())
}

fn make(req: &IdmapRequest, ns: &Plan, pid: i32) -> Result<OwnedFd> {
    let userns = match &req.mappings {
        Some((uid, gid)) => namespaces::userns_with_maps(uid, gid)?,
        None => container_userns(ns, pid)?,
    };
    // A detached copy: nothing is attached anywhere until the child moves
    // it onto its destination, and the host's mount stays as it was.
    let tree = open_tree_clone(&req.source, req.recursive).map_err(|e| {
        Error::new(format!(
            "open_tree(OPEN_TREE_CLONE) {}: {e}{}",
            req.source.display(),
            if e == Errno::ENOSYS {
                " (the kernel lacks the new mount API, Linux 5.2+)"
            } else {
                ""
            }
        ))
    })?;
    let attr = MountAttr {
        set: libc::MOUNT_ATTR_IDMAP,
        clear: 0,
        userns: Some(userns.as_fd()),
    };
    mount_setattr(tree.as_fd(), req.recursive_idmap, &attr).map_err(|e| {
        let why = match e {
            Errno::ENOSYS => " (the kernel lacks mount_setattr, Linux 5.12+)",
            Errno::EINVAL => " (the filesystem may not support idmapped mounts on this kernel)",
            Errno::EPERM => " (needs root in the host's user namespace)",
            _ => "",
        };
        Error::new(format!("mount_setattr(MOUNT_ATTR_IDMAP): {e}{why}"))
    })?;
    Ok(tree)
}

/// `idmap` without mappings: the container's user namespace, the one it
/// joins or the new one the child `pid` is in (its maps written already).
fn container_userns(ns: &Plan, pid: i32) -> Result<OwnedFd> {
    if let Some(j) = ns.join_of(CloneFlags::CLONE_NEWUSER) {
        return j
            .fd
            .try_clone()
            .with_ctx(|| format!("dup user namespace {}", j.path));
    }
    let path = format!("/proc/{pid}/ns/user");
    let f = std::fs::File::open(&path).with_ctx(|| format!("open {path}"))?;
    Ok(f.into())
}
