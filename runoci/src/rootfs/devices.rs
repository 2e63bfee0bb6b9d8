//! `/dev`: the runtime spec's default devices, `linux.devices`, and the
//! standard symlinks. Nodes are made with mknodat from a parent fd resolved
//! inside the rootfs; in a user namespace, where mknod is not allowed, the
//! host's node is bind-mounted instead (as runc does).

use super::plan::{DeviceOp, Node};
use crate::error::{Context, Error, Result};
use crate::resolve::{self, fd_path, Kind};
use nix::fcntl::AtFlags;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fchmodat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

const DEFAULT_LINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
];

impl DeviceOp {
    /// The node with run_oci's dynamic numbers taken from the host's node
    /// at the same path.
    pub fn resolve(&self) -> Result<Node> {
        let mut node = self.node.clone();
        if self.dynamic_major || self.dynamic_minor {
            let st = nix::sys::stat::stat(Path::new(&node.path)).with_ctx(|| {
                format!(
                    "linux.devices {}: dynamic numbers: stat host node",
                    node.path
                )
            })?;
            if self.dynamic_major {
                node.major = libc::major(st.st_rdev) as u64;
            }
            if self.dynamic_minor {
                node.minor = libc::minor(st.st_rdev) as u64;
            }
        }
        Ok(node)
    }
}

/// Make the nodes of `ops`: every dynamic number is read first, so a
/// missing host node fails before any node is made.
pub fn apply(root: RawFd, ops: &[DeviceOp]) -> Result<()> {
    let nodes = ops
        .iter()
        .map(|op| Ok((op.resolve()?, op.bind_host)))
        .collect::<Result<Vec<_>>>()?;
    for (node, bind_host) in &nodes {
        create_node(root, node, *bind_host)?;
    }
    Ok(())
}

fn split_parent(path: &str) -> (&str, &str) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(i) => (if i == 0 { "/" } else { &trimmed[..i] }, &trimmed[i + 1..]),
        None => ("/", trimmed),
    }
}

/// Create `node` inside `root`, replacing a non-directory already there.
pub fn create_node(root: RawFd, node: &Node, in_userns: bool) -> Result<()> {
    let what = || format!("create device {}", node.path);
    if in_userns {
        return bind_host_node(root, node).with_ctx(what);
    }
    let (parent, name) = split_parent(&node.path);
    let dir = resolve::mkdir_all_in_root(root, Path::new(parent), Kind::Dir).with_ctx(what)?;
    let cname = CString::new(name).map_err(|_| Error::new("device path contains NUL"))?;
    let kind = match node.kind {
        'b' => libc::S_IFBLK,
        'p' => libc::S_IFIFO,
        _ => libc::S_IFCHR,
    };
    let dev = libc::makedev(node.major as u32, node.minor as u32);
    let (dir, name) = (Some(dir.as_raw_fd()), cname.as_c_str());
    let mode = Mode::from_bits_truncate(node.mode & 0o7777);
    let _ = unlinkat(dir, name, UnlinkatFlags::NoRemoveDir);
    let io = |e: nix::errno::Errno| Error::from(std::io::Error::from(e)).context(what());
    mknodat(dir, name, SFlag::from_bits_truncate(kind), mode, dev).map_err(io)?;
    let (uid, gid) = (Uid::from_raw(node.uid), Gid::from_raw(node.gid));
    fchownat(
        dir,
        name,
        Some(uid),
        Some(gid),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(io)?;
    // mknod applies the umask; set the exact mode the config asks for.
    fchmodat(dir, name, mode, FchmodatFlags::FollowSymlink).map_err(io)?;
    Ok(())
}

fn bind_host_node(root: RawFd, node: &Node) -> Result<()> {
    let src = crate::resolve::open_host_path(Path::new(&node.path))?;
    let dst = resolve::mkdir_all_in_root(root, Path::new(&node.path), Kind::File)?;
    mount(
        Some(&fd_path(&src)),
        &fd_path(&dst),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_ctx(|| format!("bind host {}", node.path))?;
    Ok(())
}

/// /dev/ptmx → pts/ptmx and the /proc/self/fd links; existing entries are
/// left alone except ptmx, which must point into the container's devpts.
pub fn create_links(root: RawFd, with_pts: bool) -> Result<()> {
    let dev = resolve::open_in_root(root, Path::new("/dev"), libc::O_PATH | libc::O_DIRECTORY)
        .ctx("open /dev in rootfs")?;
    let mut links: Vec<(&str, &str)> = DEFAULT_LINKS.to_vec();
    if with_pts {
        let _ = unlinkat(Some(dev.as_raw_fd()), c"ptmx", UnlinkatFlags::NoRemoveDir);
        links.push(("pts/ptmx", "/dev/ptmx"));
    }
    for (target, link) in links {
        let name = CString::new(&link[5..]).map_err(|_| Error::new("NUL"))?;
        let t = CString::new(target).map_err(|_| Error::new("NUL"))?;
        if let Err(e) = symlinkat(t.as_c_str(), Some(dev.as_raw_fd()), name.as_c_str()) {
            if e != nix::errno::Errno::EEXIST {
                return Err(Error::from(std::io::Error::from(e))
                    .context(format!("symlink {link} -> {target}")));
            }
        }
    }
    Ok(())
}
