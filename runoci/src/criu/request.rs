//! What CRIU is told about a container, built from its spec the way runc
//! builds it (libcontainer/criu_linux.go): bind mounts are external
//! mounts (`extMnt`, the same key at dump and restore, the host source at
//! restore), masked files are /dev/null binds, network and pid namespaces
//! joined by path are external namespaces handed back at restore.

use crate::error::{Error, Result};
use crate::spec::Spec;
use rust_criu::rust_criu_protobuf::rpc;

/// The options of `checkpoint` and `restore` that shape the request.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub leave_running: bool,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    /// `--pre-dump`: a PRE_DUMP request (memory only, the container goes on).
    pub pre_dump: bool,
    /// `--parent-path`: the previous (pre-)dump, relative to the images.
    pub parent_path: Option<String>,
    pub cgroups_mode: Option<rpc::Criu_cg_mode>,
    /// CLONE_NEW* flags of `--empty-ns`.
    pub empty_ns: u32,
}

/// `--manage-cgroups-mode`, runc's names; runc's default is soft.
pub fn parse_cgroups_mode(s: &str) -> Result<rpc::Criu_cg_mode> {
    Ok(match s {
        "soft" | "" => rpc::Criu_cg_mode::SOFT,
        "full" => rpc::Criu_cg_mode::FULL,
        "strict" => rpc::Criu_cg_mode::STRICT,
        "ignore" => rpc::Criu_cg_mode::IGNORE,
        _ => {
            return Err(Error::new(format!(
                "--manage-cgroups-mode {s:?}: expected soft, full, strict or ignore"
            )))
        }
    })
}

/// `--empty-ns`: CRIU makes these namespaces empty instead of restoring
/// them (only the network namespace, as runc and CRIU accept).
pub fn parse_empty_ns(s: &str) -> Result<u32> {
    match s {
        "" => Ok(0),
        "network" | "net" => Ok(libc::CLONE_NEWNET as u32),
        _ => Err(Error::new(format!(
            "--empty-ns {s:?}: only \"network\" can be left empty"
        ))),
    }
}

/// A namespace CRIU leaves alone: it was joined by path (the engine
/// made it), so it is named at dump by inode and handed back at restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalNs {
    /// CRIU's kind (`net`, `pid`).
    pub kind: &'static str,
    /// runc's key: `extRootNetNS`, `extRootPidNS`.
    pub key: &'static str,
    pub path: String,
}

/// The namespaces the spec joins by path, as CRIU's externals; a joined
/// namespace of another type is refused (CRIU would restore a new one).
pub fn external_namespaces(spec: &Spec) -> Result<Vec<ExternalNs>> {
    let mut out = Vec::new();
    for ns in spec.linux.iter().flat_map(|l| &l.namespaces) {
        let Some(path) = &ns.path else { continue };
        let (kind, key) = match ns.typ.as_str() {
            "network" => ("net", "extRootNetNS"),
            "pid" => ("pid", "extRootPidNS"),
            other => {
                return Err(Error::new(format!(
                    "linux.namespaces: CRIU cannot checkpoint or restore a container that joins the {other} namespace {path} (only network and pid namespaces can be external)"
                )))
            }
        };
        out.push(ExternalNs {
            kind,
            key,
            path: path.clone(),
        });
    }
    Ok(out)
}

/// The external mounts of a dump: each bind mount by its destination,
/// each masked path that is a file (`is_file`: in the container) as the
/// /dev/null bind it is.
pub fn dump_mounts(spec: &Spec, is_file: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = spec
        .mounts
        .iter()
        .filter(|m| m.is_bind())
        .map(|m| (m.destination.clone(), m.destination.clone()))
        .collect();
    for p in spec.linux.iter().flat_map(|l| &l.masked_paths) {
        if is_file(p) {
            out.push((p.clone(), "/dev/null".to_string()));
        }
    }
    out
}

/// The external mounts of a restore: each bind mount's key (its
/// destination) mapped to its host source, and /dev/null for the masked
/// files.
pub fn restore_mounts(spec: &Spec, bundle: &std::path::Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = spec
        .mounts
        .iter()
        .filter(|m| m.is_bind())
        .map(|m| {
            let src = crate::rootfs::plan::bind_source(bundle, m.source.as_deref().unwrap_or(""));
            (m.destination.clone(), src.display().to_string())
        })
        .collect();
    if spec.linux.iter().any(|l| !l.masked_paths.is_empty()) {
        out.push(("/dev/null".to_string(), "/dev/null".to_string()));
    }
    out
}

fn ext_mnt(pairs: Vec<(String, String)>) -> Vec<rpc::Ext_mount_map> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            let mut m = rpc::Ext_mount_map::new();
            m.set_key(k);
            m.set_val(v);
            m
        })
        .collect()
}

/// What dump and restore share: the images and work directories (fds of
/// ours CRIU opens through /proc), the log, the flags.
fn common(o: &Options, images_fd: i32, work_fd: i32, log: &str) -> rpc::Criu_opts {
    let mut c = rpc::Criu_opts::new();
    c.set_images_dir_fd(images_fd);
    c.set_work_dir_fd(work_fd);
    c.set_log_level(4);
    c.set_log_file(log.to_string());
    c.set_manage_cgroups(true);
    c.set_manage_cgroups_mode(o.cgroups_mode.unwrap_or(rpc::Criu_cg_mode::SOFT));
    c.set_notify_scripts(true);
    c.set_shell_job(o.shell_job);
    c.set_tcp_established(o.tcp_established);
    c.set_ext_unix_sk(o.ext_unix_sk);
    c.set_file_locks(o.file_locks);
    c.set_empty_ns(o.empty_ns);
    c.set_orphan_pts_master(true);
    // CRIU locks the container's network during a dump with iptables by
    // default: it runs iptables-restore, which a host on nftables alone
    // lacks (Debian 12 and its criu, linked with libnftables, do not need
    // it). nf_tables is what `criu check` checks for.
    c.set_network_lock(rpc::Criu_network_lock_method::NFTABLES);
    c
}

/// Everything a dump of the container needs to know beyond its spec.
pub struct DumpTarget<'a> {
    pub pid: i32,
    pub rootfs: &'a str,
    /// The freezer cgroup CRIU freezes the container with (else ptrace).
    pub freezer: Option<String>,
    pub mounts: Vec<(String, String)>,
    /// `kind[inode]:key` of each external namespace.
    pub externals: Vec<String>,
}

/// The DUMP (or PRE_DUMP) request.
pub fn dump(o: &Options, t: DumpTarget<'_>, images_fd: i32, work_fd: i32) -> rpc::Criu_req {
    let log = if o.pre_dump {
        "pre-dump.log"
    } else {
        "dump.log"
    };
    let mut c = common(o, images_fd, work_fd, log);
    c.set_pid(t.pid);
    c.set_root(t.rootfs.to_string());
    c.set_leave_running(o.leave_running);
    if let Some(f) = t.freezer {
        c.set_freeze_cgroup(f);
    }
    if let Some(p) = &o.parent_path {
        c.set_parent_img(p.clone());
        c.set_track_mem(true);
    }
    if o.pre_dump {
        c.set_track_mem(true);
    } else {
        // A pre-dump copies memory only.
        c.ext_mnt = ext_mnt(t.mounts);
        c.external = t.externals;
    }
    let mut req = rpc::Criu_req::new();
    req.set_type(if o.pre_dump {
        rpc::Criu_req_type::PRE_DUMP
    } else {
        rpc::Criu_req_type::DUMP
    });
    req.opts = protobuf::MessageField::some(c);
    req
}

/// The RESTORE request: the restored tree a sibling of criu (our child),
/// under `root` (the rootfs bound where CRIU wants it), the external
/// namespaces as inherited fds `(key, fd)`.
pub fn restore(
    o: &Options,
    root: &str,
    mounts: Vec<(String, String)>,
    inherit: &[(String, i32)],
    images_fd: i32,
    work_fd: i32,
) -> rpc::Criu_req {
    let mut c = common(o, images_fd, work_fd, "restore.log");
    c.set_root(root.to_string());
    c.set_rst_sibling(true);
    c.set_evasive_devices(true);
    c.ext_mnt = ext_mnt(mounts);
    c.inherit_fd = inherit
        .iter()
        .map(|(k, fd)| {
            let mut i = rpc::Inherit_fd::new();
            i.set_key(k.clone());
            i.set_fd(*fd);
            i
        })
        .collect();
    let mut req = rpc::Criu_req::new();
    req.set_type(rpc::Criu_req_type::RESTORE);
    req.opts = protobuf::MessageField::some(c);
    req
}

/// CRIU's cgroup roots from `/proc/PID/cgroup` of the criu process (put
/// in the container's cgroups first): the tree is restored there.
pub fn cgroup_roots(proc_cgroup: &str) -> Vec<rpc::Cgroup_root> {
    proc_cgroup
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (_, ctrl, path) = (it.next()?, it.next()?, it.next()?);
            let mut r = rpc::Cgroup_root::new();
            r.set_ctrl(ctrl.to_string());
            r.set_path(path.to_string());
            Some(r)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).expect("a spec")
    }

    fn sample() -> Spec {
        spec(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "rw"]},
                {"destination": "/etc/hosts", "type": "none", "source": "hosts", "options": ["bind", "ro"]}
            ],
            "linux": {
                "maskedPaths": ["/proc/kcore", "/proc/acpi"],
                "namespaces": [{"type": "pid"}, {"type": "network", "path": "/run/netns/n1"}, {"type": "mount"}]
            }
        }))
    }

    #[test]
    fn bind_mounts_and_masked_files_are_external_mounts() {
        let s = sample();
        let dump = dump_mounts(&s, |p| p == "/proc/kcore");
        assert_eq!(
            dump,
            vec![
                ("/data".to_string(), "/data".to_string()),
                ("/etc/hosts".to_string(), "/etc/hosts".to_string()),
                ("/proc/kcore".to_string(), "/dev/null".to_string()),
            ]
        );
        let restore = restore_mounts(&s, std::path::Path::new("/b"));
        assert_eq!(
            restore,
            vec![
                ("/data".to_string(), "/srv/data".to_string()),
                ("/etc/hosts".to_string(), "/b/hosts".to_string()),
                ("/dev/null".to_string(), "/dev/null".to_string()),
            ]
        );
    }

    #[test]
    fn namespaces_joined_by_path_are_external_and_others_refused() {
        assert_eq!(
            external_namespaces(&sample()).unwrap(),
            vec![ExternalNs {
                kind: "net",
                key: "extRootNetNS",
                path: "/run/netns/n1".into()
            }]
        );
        let ipc = spec(serde_json::json!({
            "ociVersion": "1.0.2",
            "linux": {"namespaces": [{"type": "ipc", "path": "/proc/1/ns/ipc"}]}
        }));
        let e = external_namespaces(&ipc).unwrap_err().to_string();
        assert!(e.contains("linux.namespaces") && e.contains("ipc"), "{e}");
    }

    #[test]
    fn cgroup_roots_name_each_hierarchy_of_criu() {
        let roots = cgroup_roots("12:freezer:/c1\n1:name=systemd:/c1\n0::/c1\n");
        let got: Vec<(&str, &str)> = roots.iter().map(|r| (r.ctrl(), r.path())).collect();
        assert_eq!(
            got,
            vec![("freezer", "/c1"), ("name=systemd", "/c1"), ("", "/c1")]
        );
    }

    #[test]
    fn options_parse_as_runc_names_them() {
        assert_eq!(parse_cgroups_mode("").unwrap(), rpc::Criu_cg_mode::SOFT);
        assert_eq!(
            parse_cgroups_mode("strict").unwrap(),
            rpc::Criu_cg_mode::STRICT
        );
        assert!(parse_cgroups_mode("hard")
            .unwrap_err()
            .to_string()
            .contains("--manage-cgroups-mode"));
        assert_eq!(
            parse_empty_ns("network").unwrap(),
            libc::CLONE_NEWNET as u32
        );
        assert!(parse_empty_ns("pid").is_err());
    }

    #[test]
    fn a_dump_request_carries_the_options_and_a_pre_dump_only_memory() {
        let o = Options {
            leave_running: true,
            tcp_established: true,
            file_locks: true,
            parent_path: Some("../pre".into()),
            ..Default::default()
        };
        let t = || DumpTarget {
            pid: 42,
            rootfs: "/b/rootfs",
            freezer: Some("/sys/fs/cgroup/c1".into()),
            mounts: dump_mounts(&sample(), |_| false),
            externals: vec!["net[4026531840]:extRootNetNS".into()],
        };
        let req = dump(&o, t(), 5, 6);
        assert_eq!(req.type_(), rpc::Criu_req_type::DUMP);
        let c = &req.opts;
        assert_eq!((c.pid(), c.root()), (42, "/b/rootfs"));
        assert!(c.leave_running() && c.tcp_established() && c.file_locks());
        assert!(!c.shell_job() && !c.ext_unix_sk());
        assert_eq!((c.images_dir_fd(), c.work_dir_fd()), (5, 6));
        assert_eq!((c.parent_img(), c.track_mem()), ("../pre", true));
        assert_eq!(c.freeze_cgroup(), "/sys/fs/cgroup/c1");
        assert_eq!(c.log_file(), "dump.log");
        assert_eq!(c.ext_mnt.len(), 2);
        assert_eq!(c.external, vec!["net[4026531840]:extRootNetNS".to_string()]);
        assert_eq!(c.manage_cgroups_mode(), rpc::Criu_cg_mode::SOFT);

        let pre = dump(
            &Options {
                pre_dump: true,
                ..o.clone()
            },
            t(),
            5,
            6,
        );
        assert_eq!(pre.type_(), rpc::Criu_req_type::PRE_DUMP);
        assert!(pre.opts.track_mem() && pre.opts.ext_mnt.is_empty());
        assert_eq!(pre.opts.log_file(), "pre-dump.log");
    }

    #[test]
    fn a_restore_request_makes_the_init_our_child_under_the_given_root() {
        let req = restore(
            &Options::default(),
            "/run/containers/c1/criu-root",
            restore_mounts(&sample(), std::path::Path::new("/b")),
            &[("extRootNetNS".to_string(), 7)],
            5,
            6,
        );
        assert_eq!(req.type_(), rpc::Criu_req_type::RESTORE);
        let c = &req.opts;
        assert!(c.rst_sibling() && c.evasive_devices() && c.orphan_pts_master());
        assert_eq!(c.root(), "/run/containers/c1/criu-root");
        assert_eq!(c.inherit_fd[0].key(), "extRootNetNS");
        assert_eq!(c.inherit_fd[0].fd(), 7);
        assert_eq!(c.ext_mnt[0].val(), "/srv/data");
        assert_eq!(c.log_file(), "restore.log");
    }
}
