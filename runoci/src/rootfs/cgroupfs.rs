//! A `"type": "cgroup"` mount: the container's view of /sys/fs/cgroup.
//!
//! Mounting plain "cgroup" would try to combine every v1 controller into
//! one hierarchy (EBUSY on any real host). Like runc, we rebuild the host's
//! layout: on pure v2 a cgroup2 mount; on v1 or hybrid a tmpfs with one
//! mount per hierarchy. Inside a cgroup namespace each hierarchy is mounted
//! fresh (the kernel shows the namespace root); without one, the
//! container's own cgroup directories are bind-mounted so the host tree
//! stays hidden.

use crate::error::{Context, Result};
use crate::resolve::{self, fd_path, Kind};
use nix::mount::{mount, MsFlags};
use runoci_core::cgroups::{self, CGROUP_ROOT};
use runoci_core::mountinfo::{self, Mount};
use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;

struct Hierarchy {
    /// Name under /sys/fs/cgroup ("memory", "unified", "systemd"...).
    name: String,
    v2: bool,
    /// Super options for a fresh mount ("cpu,cpuacct" or "none,name=systemd").
    options: String,
}

/// The host's hierarchies, as the runtime saw them before the clone (this
/// mount namespace was copied from that one and has not changed where
/// cgroups are mounted).
fn host_hierarchies() -> Result<(bool, Vec<Hierarchy>)> {
    let mounts = mountinfo::cgroup_mounts_once().ctx("cgroup mount")?;
    Ok((cgroups::pure_v2(mounts), hierarchies(mounts)))
}

/// The hierarchies mounted directly under /sys/fs/cgroup, to rebuild one by
/// one when /sys/fs/cgroup is not itself the cgroup2 tree.
fn hierarchies(mounts: &[Mount]) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for mount in mounts {
        let v2 = match mount.fstype.as_str() {
            "cgroup" => false,
            "cgroup2" => true,
            _ => continue,
        };
        let Ok(rel) = mount.mount_point.strip_prefix(CGROUP_ROOT) else {
            continue;
        };
        let Some(name) = rel.to_str().filter(|n| !n.is_empty() && !n.contains('/')) else {
            continue;
        };
        let options = mount
            .super_option_list()
            .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent"))
            .collect::<Vec<_>>()
            .join(",");
        out.push(Hierarchy {
            name: name.to_string(),
            v2,
            options,
        });
    }
    out
}

/// Our path in each hierarchy, from /proc/self/cgroup: keyed by the
/// controller list ("cpu", "name=systemd") or "" for cgroup2.
fn own_paths() -> Vec<(String, String)> {
    std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctrls = it.next()?;
            let path = it.next()?;
            Some((ctrls.to_string(), path.to_string()))
        })
        .collect()
}

pub fn mount_cgroupfs(root: RawFd, dest: &str, flags: MsFlags, in_cgroupns: bool) -> Result<()> {
    let (pure_v2, hierarchies) = host_hierarchies()?;
    let sub_flags =
        flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY);
    // Only a bind of our own directories needs to know them.
    let paths = if in_cgroupns { Vec::new() } else { own_paths() };
    if pure_v2 {
        let dst = resolve::mkdir_all_in_root(root, Path::new(dest), Kind::Dir)?;
        let h = Hierarchy {
            name: String::new(),
            v2: true,
            options: String::new(),
        };
        return mount_one(root, dest, &dst, &h, in_cgroupns, &paths, sub_flags)
            .with_ctx(|| format!("mount cgroup2 on {dest}"));
    }
    let dst = resolve::mkdir_all_in_root(root, Path::new(dest), Kind::Dir)?;
    mount(
        Some("tmpfs"),
        &fd_path(&dst),
        Some("tmpfs"),
        (flags & !MsFlags::MS_RDONLY) | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=755"),
    )
    .with_ctx(|| format!("mount tmpfs on {dest}"))?;
    // The tmpfs itself (the fd above names the directory under it).
    let tmpfs = resolve::open_in_root(root, Path::new(dest), libc::O_PATH)?;
    for h in &hierarchies {
        let sub = format!("{}/{}", dest.trim_end_matches('/'), h.name);
        let dst = resolve::mkdir_in_fresh(&tmpfs, &h.name).with_ctx(|| sub.clone())?;
        mount_one(root, &sub, &dst, h, in_cgroupns, &paths, sub_flags)
            .with_ctx(|| format!("mount cgroup hierarchy {} on {sub}", h.name))?;
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let d = resolve::open_in_root(root, Path::new(dest), libc::O_PATH)?;
        mount(
            None::<&str>,
            &fd_path(&d),
            None::<&str>,
            MsFlags::MS_REMOUNT
                | MsFlags::MS_BIND
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .with_ctx(|| format!("remount {dest} read-only"))?;
    }
    Ok(())
}

/// Mounts hierarchy `h` on `dst`, the directory `dest` of the rootfs.
fn mount_one(
    root: RawFd,
    dest: &str,
    dst: &OwnedFd,
    h: &Hierarchy,
    fresh: bool,
    own: &[(String, String)],
    flags: MsFlags,
) -> Result<()> {
    let (v2, options) = (h.v2, h.options.as_str());
    let target = &fd_path(dst);
    if fresh {
        let (fstype, data) = if v2 {
            ("cgroup2", None)
        } else {
            ("cgroup", Some(options))
        };
        mount(Some(fstype), target, Some(fstype), flags, data)?;
        return Ok(());
    }
    // No cgroup namespace: bind our own directory of this hierarchy.
    let key = if v2 {
        String::new()
    } else {
        options.to_string()
    };
    let rel = own
        .iter()
        .find(|(k, _)| {
            *k == key || (!v2 && k.split(',').all(|c| options.split(',').any(|o| o == c)))
        })
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| "/".into());
    let src = if h.name.is_empty() {
        format!("{CGROUP_ROOT}{rel}")
    } else {
        format!("{CGROUP_ROOT}/{}{rel}", h.name)
    };
    let src_fd = resolve::open_host_path(Path::new(&src))?;
    mount(
        Some(&fd_path(&src_fd)),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_ctx(|| format!("bind {src}"))?;
    if !flags.is_empty() {
        // Reopen: the fd above names the directory under the new mount.
        let mounted = resolve::open_in_root(root, Path::new(dest), libc::O_PATH)?;
        mount(
            None::<&str>,
            &fd_path(&mounted),
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags,
            None::<&str>,
        )
        .with_ctx(|| format!("remount {src}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, bool, String)> {
        hierarchies(&mountinfo::parse(text))
            .into_iter()
            .map(|h| (h.name, h.v2, h.options))
            .collect()
    }

    #[test]
    fn rebuilds_the_hybrid_hierarchies_with_their_controllers() {
        let text = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:39 / /sys/fs/cgroup/memory/nested rw - cgroup cgroup rw,memory
43 1 0:40 / /elsewhere rw - cgroup cgroup rw,pids
";
        assert_eq!(
            names(text),
            [
                ("cpu,cpuacct".into(), false, "cpu,cpuacct".into()),
                ("systemd".into(), false, "xattr,name=systemd".into()),
                ("unified".into(), true, String::new()),
            ]
        );
        assert!(!cgroups::pure_v2(&mountinfo::parse(text)));
    }

    /// A hierarchy whose mount point has a space: mountinfo shows it as
    /// `\040`, which used to become a directory named `my\040hier` and a
    /// bind source that does not exist.
    #[test]
    fn a_hierarchy_with_a_space_in_its_name_is_unescaped() {
        let text =
            "44 31 0:41 / /sys/fs/cgroup/my\\040hier rw - cgroup cgroup rw,name=my\\040hier\n";
        assert_eq!(
            names(text),
            [("my hier".into(), false, "name=my hier".into())]
        );
    }
}
