//! `mounts[]`: each entry mounted in order, onto an fd resolved inside the
//! rootfs (see `resolve`), with the reference's option parsing.

use super::resolve::{self, fd_path, Kind};
use crate::error::{Context, Error, Result};
use crate::spec::{self, Mount, MountOptions};
use nix::mount::{mount, MsFlags};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Flags a remount must keep when the kernel has locked them on the source
/// (bind mounts from a less privileged namespace): leaving them out is
/// EPERM.
fn locked_flags(fd: RawFd) -> MsFlags {
    // SAFETY: statvfs is plain data written by a successful fstatvfs.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and pointer.
    if unsafe { libc::fstatvfs(fd, &mut st) } < 0 {
        return MsFlags::empty();
    }
    let mut f = MsFlags::empty();
    for (st_flag, ms) in [
        (libc::ST_NOSUID, MsFlags::MS_NOSUID),
        (libc::ST_NODEV, MsFlags::MS_NODEV),
        (libc::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (libc::ST_RDONLY, MsFlags::MS_RDONLY),
    ] {
        if st.f_flag & st_flag != 0 {
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
    let st = resolve::fstat(src_fd.as_raw_fd()).ctx("stat bind source")?;
    let kind = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        Kind::Dir
    } else {
        Kind::File
    };
    let dst = resolve::mkdir_all_in_root(root, Path::new(dest), kind)?;
    let mut bind = MsFlags::MS_BIND;
    if recursive {
        bind |= MsFlags::MS_REC;
    }
    mnt(Some(&fd_path(src_fd)), &fd_path(&dst), None, bind, None)
        .with_ctx(|| format!("bind mount onto {dest}"))?;
    let wanted = flags & BIND_REMOUNT_FLAGS;
    if !wanted.is_empty() {
        // The fd above names the directory under the new mount; reopen the
        // destination to reach the mount itself.
        let newdst = resolve::open_in_root(root, Path::new(dest), libc::O_PATH)?;
        let keep = locked_flags(newdst.as_raw_fd()) & !MsFlags::MS_RDONLY;
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

fn apply_propagation(root: RawFd, dest: &str, propagation: MsFlags) -> Result<()> {
    if propagation.is_empty() {
        return Ok(());
    }
    let fd = resolve::open_in_root(root, Path::new(dest), libc::O_PATH)?;
    mnt(None, &fd_path(&fd), None, propagation, None)
        .with_ctx(|| format!("set propagation {propagation:?} on {dest}"))
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

/// What every mount of one container shares.
pub struct MountCtx<'a> {
    /// The rootfs, opened after it was bind-mounted onto itself.
    pub root: RawFd,
    pub bundle: &'a Path,
    pub new_cgroupns: bool,
    /// `linux.mountLabel` (SELinux), given as `context=` to the mounts that
    /// take one (checked enabled before anything is mounted).
    pub mount_label: Option<&'a str>,
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

/// Mount one `mounts[]` entry inside the rootfs.
pub fn mount_entry(ctx: &MountCtx, m: &Mount) -> Result<()> {
    let what = || {
        format!(
            "mount {} ({}) on {}",
            m.source.as_deref().unwrap_or("none"),
            m.typ.as_deref().unwrap_or("bind"),
            m.destination
        )
    };
    let t = crate::log::timer();
    mount_entry_inner(ctx, m).with_ctx(what)?;
    crate::debug!("{}{}", what(), crate::log::elapsed(t));
    Ok(())
}

fn mount_entry_inner(ctx: &MountCtx, m: &Mount) -> Result<()> {
    let (root, bundle) = (ctx.root, ctx.bundle);
    let opts: MountOptions = spec::mount_options(&m.options);
    let typ = m.typ.as_deref().unwrap_or("");
    let mut flags = opts.flags;
    if typ == "proc" || typ == "sysfs" {
        // As the reference: proc and sysfs always nodev, noexec, nosuid.
        flags |= MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID;
    }
    let is_bind = flags.contains(MsFlags::MS_BIND) || typ == "bind" || typ == "rbind";
    if let Some(verity) = &opts.verity {
        return super::loopdev::verity_unsupported(verity);
    }
    if is_bind {
        let src = bind_source(bundle, m.source.as_deref().unwrap_or(""));
        let src_fd = open_path(&src)?;
        let recursive = opts.recursive || typ == "rbind";
        bind_fd(
            root,
            &src_fd,
            &m.destination,
            recursive,
            flags & !MsFlags::MS_BIND & !MsFlags::MS_REC,
        )?;
        return apply_propagation(root, &m.destination, opts.propagation);
    }
    if typ == "cgroup" {
        return super::cgroupfs::mount_cgroupfs(root, &m.destination, flags, ctx.new_cgroupns);
    }
    let dst = resolve::mkdir_all_in_root(root, Path::new(&m.destination), Kind::Dir)?;
    let data = with_mount_label(&opts.data, typ, ctx.mount_label);
    let data = (!data.is_empty()).then_some(data.as_str());
    let mut _loop_dev = None;
    let source: PathBuf = if opts.loop_device {
        let backing = bind_source(bundle, m.source.as_deref().unwrap_or(""));
        let dev = super::loopdev::attach(&backing, flags.contains(MsFlags::MS_RDONLY))?;
        let p = dev.path.clone();
        _loop_dev = Some(dev);
        p
    } else {
        PathBuf::from(m.source.as_deref().unwrap_or(typ))
    };
    // The covered directory, readable through this fd after the mount.
    let covered = if opts.tmpcopyup && typ == "tmpfs" {
        Some(resolve::open_in_root(
            root,
            Path::new(&m.destination),
            libc::O_RDONLY | libc::O_DIRECTORY,
        )?)
    } else {
        None
    };
    mnt(
        Some(&source),
        &fd_path(&dst),
        Some(typ),
        flags & !MsFlags::MS_REC,
        data,
    )?;
    if let Some(covered) = covered {
        // Reopen: `dst` still names the directory under the new mount.
        let top = resolve::open_in_root(root, Path::new(&m.destination), libc::O_PATH)?;
        super::copyup::copy_dir_contents(&fd_path(&covered), &fd_path(&top))?;
    }
    apply_propagation(root, &m.destination, opts.propagation)
}

/// An O_PATH handle on a host path (bind sources are the host's to name).
pub fn open_path(p: &Path) -> Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(p)
        .map_err(|e| Error::from(e).context(format!("open bind source {}", p.display())))?;
    Ok(f.into())
}
