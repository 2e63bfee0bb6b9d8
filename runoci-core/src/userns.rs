//! What the user namespace runoci runs in lets it do: whether it is the
//! initial one (a rootless engine such as podman runs the runtime as root
//! of a namespace of its own, where mknod, cgroup writes and, when denied,
//! setgroups fail), and which ids it maps.

use std::sync::OnceLock;

/// One line of `/proc/PID/{uid,gid}_map`: `inside outside count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// The ids a process's user namespace maps (from inside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedIds {
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
}

impl MappedIds {
    /// The initial namespace's maps: every id.
    pub fn identity() -> MappedIds {
        let all = vec![IDENTITY];
        MappedIds {
            uids: all.clone(),
            gids: all,
        }
    }

    /// This process's maps; the identity where they cannot be read (the
    /// kernel then has no user namespaces).
    pub fn of_self() -> MappedIds {
        let read = |p| std::fs::read_to_string(p).map(|t| parse_id_map(&t));
        match (read("/proc/self/uid_map"), read("/proc/self/gid_map")) {
            (Ok(uids), Ok(gids)) => MappedIds { uids, gids },
            _ => MappedIds::identity(),
        }
    }

    pub fn maps_gid(&self, gid: u32) -> bool {
        maps(&self.gids, gid)
    }

    pub fn maps_uid(&self, uid: u32) -> bool {
        maps(&self.uids, uid)
    }
}

const IDENTITY: IdRange = IdRange {
    inside: 0,
    outside: 0,
    count: u32::MAX,
};

fn maps(ranges: &[IdRange], id: u32) -> bool {
    ranges
        .iter()
        .any(|r| id >= r.inside && u64::from(id) < u64::from(r.inside) + u64::from(r.count))
}

/// The kernel's id map text; lines that do not parse are skipped (the
/// kernel writes none).
pub fn parse_id_map(text: &str) -> Vec<IdRange> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(str::parse::<u32>);
            match (f.next(), f.next(), f.next()) {
                (Some(Ok(inside)), Some(Ok(outside)), Some(Ok(count))) => Some(IdRange {
                    inside,
                    outside,
                    count,
                }),
                _ => None,
            }
        })
        .collect()
}

/// Whether runoci runs in a user namespace other than the initial one:
/// its uid_map is not the identity `0 0 4294967295`.
pub fn in_user_namespace() -> bool {
    static IN: OnceLock<bool> = OnceLock::new();
    *IN.get_or_init(|| match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(text) => parse_id_map(&text) != [IDENTITY],
        Err(_) => false,
    })
}

/// Whether setgroups(2) is denied in this user namespace
/// (`/proc/self/setgroups` says `deny`).
pub fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

/// An unprivileged caller, as runc judges one for its state root: not
/// root, or root of a user namespace that is not the initial one (a
/// rootless engine's), unless `USER` says root (`sudo` in a container that
/// is itself in a user namespace keeps the system's paths).
pub fn rootless_caller() -> bool {
    if !nix::unistd::geteuid().is_root() {
        return true;
    }
    in_user_namespace() && std::env::var("USER").map_or(true, |u| u != "root")
}

/// Whether the caller is not privileged over the host's resources (cgroup
/// trees, device nodes): not root, or root of a non-initial namespace.
pub fn unprivileged() -> bool {
    !nix::unistd::geteuid().is_root() || in_user_namespace()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_map_is_the_initial_namespace_and_maps_every_id() {
        let m = parse_id_map("         0          0 4294967295\n");
        assert_eq!(m, [IDENTITY]);
        assert!(maps(&m, 5) && maps(&m, u32::MAX - 1));
    }

    #[test]
    fn a_single_id_map_maps_only_that_id() {
        let m = parse_id_map("         0       1001          1\n");
        assert_ne!(m, [IDENTITY]);
        assert!(maps(&m, 0));
        assert!(!maps(&m, 5), "gid 5 (tty) is not mapped by `run -u`");
        let podman = parse_id_map("0 1001 1\n1 100000 65536\n");
        assert!(maps(&podman, 5) && maps(&podman, 65536) && !maps(&podman, 65537));
    }
}
