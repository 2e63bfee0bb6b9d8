//! `mounts[]`: each entry mounted in order, onto an fd resolved inside the
//! rootfs (see `resolve`), with the reference's option parsing.

use super::plan::{Entry, EntryAction, MountSource};
use crate::error::{Context, Error, Result};
use crate::resolve::{self, fd_path, Kind};
use crate::spec::RecursiveAttrs;
use crate::sys;
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Flags a remount must keep when the kernel has locked them on the source
/// (bind mounts from a less privileged namespace): leaving them out is
/// EPERM.
fn locked_flags(fd: BorrowedFd<'_>) -> MsFlags {
    use nix::sys::statvfs::{fstatvfs, FsFlags};
    let Ok(st) = fstatvfs(fd) else {
        return MsFlags::empty();
    };
    let mut f = MsFlags::empty();
    for (st_flag, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
    ] {
        if st.flags().contains(st_flag) {
            f |= ms;
        }
    }
    f
}

/// Flags that only a remount applies to a bind mount.
const BIND_REMOUNT_FLAGS: MsFlags = MsFlags::MS_RDONLY
    .union(MsFlags::MS_NOSUID)
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_NOATIME)
    .union(MsFlags::MS_NODIRATIME)
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME);

fn mnt(
    src: Option<&Path>,
    dst: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    mount(src, dst, fstype, flags, data)
}

/// Bind `src` onto `dst`, both named by fd: no path is resolved again
/// between the checks on them and the mount.
pub fn bind_onto(src: &OwnedFd, dst: &OwnedFd) -> nix::Result<()> {
    nix::mount::mount(
        Some(&fd_path(src)),
        &fd_path(dst),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
}

/// Bind `src_fd` onto `dst` (inside `root`), then remount with `flags`.
pub fn bind_fd(
    root: RawFd,
    src_fd: &OwnedFd,
    dest: &str,
    recursive: bool,
    flags: MsFlags,
) -> Result<()> {
    let dst = destination_for(root, src_fd, dest)?;
    let mut bind = MsFlags::MS_BIND;
    if recursive {
        bind |= MsFlags::MS_REC;
    }
    mnt(Some(&fd_path(src_fd)), &fd_path(&dst), None, bind, None)
        .with_ctx(|| format!("bind mount onto {dest}"))?;
    remount_bind(root, dest, flags)
}

/// The destination of a bind of `src_fd`, made inside `root` as a
/// directory or a file, as the source is.
fn destination_for(root: RawFd, src_fd: &OwnedFd, dest: &str) -> Result<OwnedFd> {
    let st = resolve::fstat(src_fd.as_raw_fd()).ctx("stat bind source")?;
    let kind = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        Kind::Dir
    } else {
        Kind::File
    };
    resolve::mkdir_all_in_root(root, Path::new(dest), kind)
}

/// Remount the bind at `dest` for the `flags` a bind ignores (ro, nosuid...).
fn remount_bind(root: RawFd, dest: &str, flags: MsFlags) -> Result<()> {
    let wanted = flags & BIND_REMOUNT_FLAGS;
    if !wanted.is_empty() {
        // Opened after the mount: an fd from before names the directory
        // under it, not the mount itself.
        let newdst = resolve::open_in_root(root, Path::new(dest), libc::O_PATH)?;
        let keep = locked_flags(newdst.as_fd()) & !MsFlags::MS_RDONLY;
        mnt(
            None,
            &fd_path(&newdst),
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | wanted | keep,
            None,
        )
        .with_ctx(|| format!("remount {dest} with {wanted:?}"))?;
    }
    Ok(())
}

/// Attach the parent's detached idmapped mount `tree` at `dest`: by fd on
/// both sides (move_mount), so the destination checked inside the rootfs
/// is the one mounted on.
fn attach_idmapped(root: RawFd, tree: &OwnedFd, dest: &str, flags: MsFlags) -> Result<()> {
    let dst = destination_for(root, tree, dest)?;
    sys::mount::move_mount_onto(tree.as_fd(), dst.as_fd())
        .with_ctx(|| format!("move_mount the idmapped mount onto {dest}"))?;
    remount_bind(root, dest, flags)
}

fn apply_propagation(root: RawFd, dest: &str, propagation: MsFlags) -> Result<()> {
    if propagation.is_empty() {
        return Ok(());
    }
    let fd = resolve::open_in_root(root, Path::new(dest), libc::O_PATH)?;
    mnt(None, &fd_path(&fd), None, propagation, None)
        .with_ctx(|| format!("set propagation {propagation:?} on {dest}"))
}

/// Apply one planned mount entry inside the rootfs (`root`).
/// `idmapped`: the parent's detached idmapped mounts, by `mounts[]` index.
pub fn apply_entry(root: RawFd, e: &Entry, idmapped: &[(usize, OwnedFd)]) -> Result<()> {
    let t = crate::log::timer();
    apply_entry_inner(root, e, idmapped).with_ctx(|| e.what.clone())?;
    crate::debug!("{}{}", e.what, crate::log::elapsed(t));
    Ok(())
}

fn apply_entry_inner(root: RawFd, e: &Entry, idmapped: &[(usize, OwnedFd)]) -> Result<()> {
    mount_entry(root, e, idmapped)?;
    apply_recursive_attrs(root, &e.destination, &e.recursive_attrs)?;
    apply_propagation(root, &e.destination, e.propagation)
}

/// `rro`, `rnosuid`...: on the mount at `dest` and every mount under it.
/// A bind's remount only changes the top mount; without this, the
/// submounts of an rbind stayed writable (suid, exec...) under an `rro`.
fn apply_recursive_attrs(root: RawFd, dest: &str, attrs: &RecursiveAttrs) -> Result<()> {
    if attrs.is_empty() {
        return Ok(());
    }
    let fd = resolve::open_in_root(root, Path::new(dest), libc::O_PATH)?;
    let attr = sys::mount::MountAttr {
        set: attrs.set,
        clear: attrs.clear,
        userns: None,
    };
    let options = attrs.options.join(",");
    sys::mount::mount_setattr(fd.as_fd(), true, &attr).map_err(|errno| {
        let why = match errno {
            Errno::ENOSYS => " (the kernel lacks mount_setattr, Linux 5.12+)",
            Errno::EINVAL if attrs.set & libc::MOUNT_ATTR_NOSYMFOLLOW != 0 => {
                " (rnosymfollow needs Linux 5.14+)"
            }
            _ => "",
        };
        Error::new(format!(
            "options {options}: mount_setattr(AT_RECURSIVE) on {dest}: {errno}{why}"
        ))
    })
}

/// The mount itself, with the flags a remount must add.
fn mount_entry(root: RawFd, e: &Entry, idmapped: &[(usize, OwnedFd)]) -> Result<()> {
    let dest = e.destination.as_str();
    match &e.action {
        EntryAction::IdmappedBind { mount, flags } => {
            let tree = idmapped
                .iter()
                .find(|(index, _)| index == mount)
                .map(|(_, fd)| fd)
                .ok_or_else(|| Error::new("the runtime sent no idmapped mount for it"))?;
            attach_idmapped(root, tree, dest, *flags)
        }
        EntryAction::Verity(verity) => super::loopdev::verity_unsupported(verity),
        EntryAction::Bind {
            source,
            recursive,
            flags,
        } => {
            let src_fd = resolve::open_host_path(source)?;
            bind_fd(root, &src_fd, dest, *recursive, *flags)
        }
        EntryAction::Cgroup { flags, in_cgroupns } => {
            super::cgroupfs::mount_cgroupfs(root, dest, *flags, *in_cgroupns)
        }
        EntryAction::Mount {
            source,
            fstype,
            flags,
            data,
            copyup,
        } => {
            let dst = resolve::mkdir_all_in_root(root, Path::new(dest), Kind::Dir)?;
            let mut _loop_dev = None;
            let source: PathBuf = match source {
                MountSource::Loop { backing, read_only } => {
                    let dev = super::loopdev::attach(backing, *read_only)?;
                    let p = dev.path.clone();
                    _loop_dev = Some(dev);
                    p
                }
                MountSource::Path(p) => p.clone(),
            };
            // The covered directory, readable through this fd after the mount.
            let covered = if *copyup {
                Some(resolve::open_in_root(
                    root,
                    Path::new(dest),
                    libc::O_RDONLY | libc::O_DIRECTORY,
                )?)
            } else {
                None
            };
            mnt(
                Some(&source),
                &fd_path(&dst),
                Some(fstype),
                *flags,
                data.as_deref(),
            )?;
            if let Some(covered) = covered {
                // Reopen: `dst` still names the directory under the new mount.
                let top = resolve::open_in_root(root, Path::new(dest), libc::O_PATH)?;
                super::copyup::copy_dir_contents(&fd_path(&covered), &fd_path(&top))?;
            }
            Ok(())
        }
    }
}
