//! The one parser of `/proc/PID/mountinfo` (proc(5)):
//!
//! `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
//!
//! mount id, parent id, major:minor, root, mount point, mount options, zero
//! or more optional fields ended by a lone `-`, then filesystem type, source
//! and super options. The kernel escapes space, tab, newline and backslash
//! (and, on newer kernels, `#`) in paths as `\NNN` octal; every textual field
//! is unescaped here, so a mount point with a space is a path with a space.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    pub major: u32,
    pub minor: u32,
    /// The path inside the filesystem that is mounted (not `/` for a bind).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,nosuid,relatime`).
    pub options: String,
    /// `shared:N`, `master:N`, `propagate_from:N`, `unbindable`.
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Per-superblock options (for `cgroup`: the controllers).
    pub super_options: String,
}

impl Mount {
    /// The super options, one by one.
    pub fn super_option_list(&self) -> impl Iterator<Item = &str> {
        self.super_options.split(',').filter(|o| !o.is_empty())
    }
}

/// One line; `None` when it is not a well-formed mountinfo line.
pub fn parse_line(line: &str) -> Option<Mount> {
    let mut fields = line.split(' ');
    let id = fields.next()?.parse().ok()?;
    let parent = fields.next()?.parse().ok()?;
    let (major, minor) = fields.next()?.split_once(':')?;
    let (major, minor) = (major.parse().ok()?, minor.parse().ok()?);
    let root = path(fields.next()?);
    let mount_point = path(fields.next()?);
    let options = fields.next()?.to_string();
    let mut optional = Vec::new();
    loop {
        match fields.next()? {
            "-" => break,
            tag => optional.push(tag.to_string()),
        }
    }
    let fstype = text(fields.next()?);
    let source = text(fields.next()?);
    let super_options = fields.next().map(text).unwrap_or_default();
    if fields.next().is_some() || fstype.is_empty() {
        return None;
    }
    Some(Mount {
        id,
        parent,
        major,
        minor,
        root,
        mount_point,
        options,
        optional,
        fstype,
        source,
        super_options,
    })
}

/// Every well-formed line of `text`, in order (malformed ones are skipped).
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

/// The mounts this process sees.
pub fn read_self() -> std::io::Result<Vec<Mount>> {
    read(Path::new("/proc/self/mountinfo"))
}

/// The cgroup filesystems, and whatever is mounted on /sys/fs/cgroup,
/// as this process saw them the first time it asked, kept for the rest of its life: for the cgroup layout, which
/// one command needs in several places (and its forked init once more)
/// and which does not change under a command. Reading mountinfo makes the
/// kernel format every mount of the namespace, thousands on a busy host;
/// only those lines are parsed.
pub fn cgroup_mounts_once() -> std::io::Result<&'static [Mount]> {
    static MOUNTS: std::sync::OnceLock<Vec<Mount>> = std::sync::OnceLock::new();
    if let Some(m) = MOUNTS.get() {
        return Ok(m);
    }
    let path = Path::new("/proc/self/mountinfo");
    let text = std::fs::read_to_string(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("read {}: {e}", path.display())))?;
    let mounts = text
        .lines()
        .filter(|l| cgroup_line(l))
        .filter_map(parse_line)
        .collect();
    Ok(MOUNTS.get_or_init(|| mounts))
}

/// A mountinfo line of a cgroup or cgroup2 filesystem, or of the mount on
/// /sys/fs/cgroup (pure v2 is told by what is mounted there).
fn cgroup_line(line: &str) -> bool {
    line.split(' ').nth(4) == Some("/sys/fs/cgroup")
        || line
            .split_once(" - ")
            .is_some_and(|(_, t)| t.starts_with("cgroup ") || t.starts_with("cgroup2 "))
}

/// Whether anything may be mounted at or below `dir` (not following
/// symlinks): an entry on another mount than `dir`'s, or one that cannot
/// be told. A walk of a few entries instead of mountinfo, which the kernel
/// formats mount by mount, thousands on a busy host.
pub fn anything_mounted_under(dir: &Path) -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::OpenOptionsExt;
    let open = |p: &Path| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(p)
    };
    let Some(top) = open(dir)
        .ok()
        .and_then(|f| crate::sys::fs::mount_id(f.as_fd()))
    else {
        return true;
    };
    fn walk(
        dir: &Path,
        top: u64,
        depth: usize,
        open: &dyn Fn(&Path) -> std::io::Result<std::fs::File>,
    ) -> bool {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return true;
        };
        for entry in entries {
            let Ok(entry) = entry else { return true };
            let path = entry.path();
            let Some(id) = open(&path)
                .ok()
                .and_then(|f| crate::sys::fs::mount_id(f.as_fd()))
            else {
                return true;
            };
            if id != top {
                return true;
            }
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(true);
            if is_dir && (depth == 0 || walk(&path, top, depth - 1, open)) {
                return true;
            }
        }
        false
    }
    walk(dir, top, 4, &open)
}

/// The mounts listed in the mountinfo file at `path`.
pub fn read(path: &Path) -> std::io::Result<Vec<Mount>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("read {}: {e}", path.display())))?;
    Ok(parse(&text))
}

/// The mount visible at `point`: the last one mounted there hides the
/// earlier ones.
pub fn topmost<'a>(mounts: &'a [Mount], point: &Path) -> Option<&'a Mount> {
    mounts.iter().rev().find(|m| m.mount_point == point)
}

fn path(field: &str) -> PathBuf {
    PathBuf::from(OsString::from_vec(unescape(field)))
}

fn text(field: &str) -> String {
    String::from_utf8_lossy(&unescape(field)).into_owned()
}

/// Undoes the kernel's `\NNN` octal escapes (`\040` space, `\011` tab,
/// `\012` newline, `\134` backslash, `\043` `#`, any other); a backslash
/// not followed by three octal digits stays as it is.
pub fn unescape(field: &str) -> Vec<u8> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cgroup_lines_are_the_cgroup_filesystems_and_the_mount_on_sys_fs_cgroup() {
        let keep = [
            "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
            "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
            "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
            "50 1 0:40 / /cgroup/memory rw shared:3 - cgroup none rw,memory",
        ];
        let drop = [
            "46 45 254:0 / / rw,relatime - ext4 /dev/vda rw",
            "60 46 0:50 / /sys/fs/cgroupx rw - tmpfs tmpfs rw",
            "61 46 0:51 / /mnt/cgroup rw - tmpfs cgroup rw",
        ];
        for l in keep {
            assert!(super::cgroup_line(l), "{l}");
        }
        for l in drop {
            assert!(!super::cgroup_line(l), "{l}");
        }
    }

    #[test]
    fn a_plain_tree_has_nothing_mounted_and_a_bind_mount_in_it_is_seen() {
        let dir = std::env::temp_dir().join(format!("runoci-mounted-{}", std::process::id()));
        let sub = dir.join("mountpoints/deep");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(dir.join("state.json"), b"{}").unwrap();
        std::os::unix::fs::symlink("/proc", dir.join("mountpoints/link")).unwrap();
        let plain = super::anything_mounted_under(&dir);
        let mounted = nix::mount::mount(
            Some("/tmp"),
            &sub,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .map(|()| {
            let seen = super::anything_mounted_under(&dir);
            let _ = nix::mount::umount2(&sub, nix::mount::MntFlags::MNT_DETACH);
            seen
        });
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!plain, "nothing is mounted under {}", dir.display());
        // Unit tests run as root (CI): the bind mount must be seen.
        assert_eq!(mounted, Ok(true));
    }

    use super::*;

    #[test]
    fn parses_every_field_of_the_proc5_example() {
        let m = parse_line(
            "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
        )
        .unwrap();
        assert_eq!((m.id, m.parent, m.major, m.minor), (36, 35, 98, 0));
        assert_eq!(m.root, Path::new("/mnt1"));
        assert_eq!(m.mount_point, Path::new("/mnt2"));
        assert_eq!(m.options, "rw,noatime");
        assert_eq!(m.optional, ["master:1"]);
        assert_eq!(m.fstype, "ext3");
        assert_eq!(m.source, "/dev/root");
        assert_eq!(m.super_options, "rw,errors=continue");
        assert_eq!(
            m.super_option_list().collect::<Vec<_>>(),
            ["rw", "errors=continue"]
        );
    }

    #[test]
    fn takes_zero_or_several_optional_fields() {
        let none = parse_line("22 1 0:21 / /sys rw - sysfs sysfs rw").unwrap();
        assert!(none.optional.is_empty());
        assert_eq!(none.fstype, "sysfs");
        let two =
            parse_line("40 1 0:5 / /x rw shared:3 master:7 propagate_from:2 - tmpfs tmpfs rw")
                .unwrap();
        assert_eq!(two.optional, ["shared:3", "master:7", "propagate_from:2"]);
        assert_eq!(two.fstype, "tmpfs");
    }

    #[test]
    fn unescapes_space_tab_newline_backslash_and_any_octal() {
        let m = parse_line(
            "50 1 0:9 /a\\134b /mnt/a\\040b\\011c\\012d\\043e rw - fuse.my\\040fs my\\040src rw",
        )
        .unwrap();
        assert_eq!(m.root, Path::new("/a\\b"));
        assert_eq!(m.mount_point, Path::new("/mnt/a b\tc\nd#e"));
        assert_eq!(m.fstype, "fuse.my fs");
        assert_eq!(m.source, "my src");
    }

    #[test]
    fn a_backslash_without_three_octal_digits_stays() {
        assert_eq!(unescape("x\\134y\\"), b"x\\y\\");
        assert_eq!(unescape("\\09"), b"\\09");
        assert_eq!(unescape("\\800"), b"\\800");
        // \400 does not fit a byte: kept verbatim.
        assert_eq!(unescape("\\400"), b"\\400");
        // An escaped backslash followed by digits is a backslash and digits.
        assert_eq!(unescape("\\134040"), b"\\040");
    }

    #[test]
    fn a_dash_in_a_path_is_not_the_separator() {
        let m = parse_line("60 1 0:9 / /mnt/- rw shared:1 - tmpfs - rw").unwrap();
        assert_eq!(m.mount_point, Path::new("/mnt/-"));
        assert_eq!(m.optional, ["shared:1"]);
        assert_eq!(m.fstype, "tmpfs");
        assert_eq!(m.source, "-");
    }

    #[test]
    fn refuses_malformed_lines() {
        for bad in [
            "",
            "garbage",
            "22 1 0:21 / /sys rw sysfs sysfs rw",
            "x 1 0:21 / /sys rw - sysfs sysfs rw",
            "22 1 021 / /sys rw - sysfs sysfs rw",
            "22 1 0:21 / /sys rw -",
            "22 1 0:21 / /sys rw - sysfs",
            "22 1 0:21 / /sys rw - sysfs sysfs rw extra",
        ] {
            assert_eq!(parse_line(bad), None, "{bad:?}");
        }
        // No super options at all is tolerated.
        assert_eq!(
            parse_line("22 1 0:21 / /sys rw - sysfs sysfs")
                .unwrap()
                .super_options,
            ""
        );
    }

    #[test]
    fn parse_skips_bad_lines_and_topmost_is_the_last_mount() {
        let mounts = parse(
            "bad line\n\
             31 23 0:28 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n\
             \n\
             32 31 0:29 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n",
        );
        assert_eq!(mounts.len(), 2);
        let top = topmost(&mounts, Path::new("/sys/fs/cgroup")).unwrap();
        assert_eq!(top.fstype, "tmpfs");
        assert!(topmost(&mounts, Path::new("/sys")).is_none());
    }

    #[test]
    fn reads_this_process_mounts() {
        let mounts = read_self().unwrap();
        assert!(mounts.iter().any(|m| m.mount_point == Path::new("/")));
        let err = read(Path::new("/nonexistent/mountinfo")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/mountinfo"), "{err}");
    }
}
