use super::*;
use crate::rootfs::masked_paths::{mask_for, Mask};
use nix::mount::MsFlags as F;

fn spec_from(json: serde_json::Value) -> Spec {
    crate::spec::parse(&json.to_string(), "test").expect("valid config")
}

/// runc's template (`runoci spec`), with `edit` applied to its JSON.
fn template_with(edit: impl FnOnce(&mut serde_json::Value)) -> Spec {
    let mut json = crate::commands::spec::template(None);
    edit(&mut json);
    spec_from(json)
}

/// The plan on a host with SELinux: the config's mountLabel applies.
fn plan_of(spec: &Spec, binds: &[(PathBuf, String)], in_userns: bool) -> RootfsPlan {
    plan_mapped(spec, binds, in_userns, &MappedIds::identity())
}

/// [`plan_of`] in a user namespace that maps `mapped`.
fn plan_mapped(
    spec: &Spec,
    binds: &[(PathBuf, String)],
    in_userns: bool,
    mapped: &MappedIds,
) -> RootfsPlan {
    plan(&RootfsInput {
        mount_label: spec.linux.as_ref().and_then(|l| l.mount_label.as_deref()),
        spec,
        bundle: Path::new("/bundle"),
        rootfs: PathBuf::from("/bundle/rootfs"),
        extra_binds: binds,
        in_userns,
        mapped,
        new_cgroupns: false,
    })
}

fn entries(p: &RootfsPlan) -> Vec<&Entry> {
    p.ops
        .iter()
        .filter_map(|op| match op {
            MountOp::Entry(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn device_paths(p: &RootfsPlan) -> Vec<&str> {
    devices(p).iter().map(|d| d.node.path.as_str()).collect()
}

fn devices(p: &RootfsPlan) -> &[DeviceOp] {
    p.ops
        .iter()
        .find_map(|op| match op {
            MountOp::Devices(d) => Some(d.as_slice()),
            _ => None,
        })
        .expect("a Devices op")
}

/// The single entry of a config whose `mounts` is `[mount]`.
fn one_entry(mount: serde_json::Value) -> Entry {
    let spec = template_with(|j| j["mounts"] = serde_json::json!([mount]));
    let p = plan_of(&spec, &[], false);
    entries(&p)[0].clone()
}

fn mount_action(e: &Entry) -> (&MountSource, &str, MsFlags, Option<&str>, bool) {
    match &e.action {
        EntryAction::Mount {
            source: s,
            fstype: t,
            flags: f,
            data: d,
            copyup: c,
        } => (s, t, *f, d.as_deref(), *c),
        other => panic!("not a mount: {other:?}"),
    }
}

fn bind_action(e: &Entry) -> (&Path, bool, MsFlags) {
    match &e.action {
        EntryAction::Bind {
            source,
            recursive,
            flags,
        } => (source, *recursive, *flags),
        other => panic!("not a bind: {other:?}"),
    }
}

#[test]
fn template_plans_its_mounts_in_order_then_devices_then_links() {
    let spec = template_with(|_| {});
    let p = plan_of(&spec, &[], false);
    assert_eq!(p.root_propagation, F::MS_SLAVE | F::MS_REC);
    assert_eq!(p.rootfs, PathBuf::from("/bundle/rootfs"));
    let dests: Vec<&str> = entries(&p).iter().map(|e| e.destination.as_str()).collect();
    let want: Vec<&str> = spec.mounts.iter().map(|m| m.destination.as_str()).collect();
    assert_eq!(dests, want);
    assert_eq!(&dests[..3], ["/proc", "/dev", "/dev/pts"]);
    let n = p.ops.len();
    assert!(matches!(p.ops[n - 2], MountOp::Devices(_)));
    assert_eq!(p.ops[n - 1], MountOp::DevLinks { ptmx: true });
}

#[test]
fn proc_and_sysfs_are_always_nodev_noexec_nosuid() {
    let spec = template_with(|_| {});
    let p = plan_of(&spec, &[], false);
    let e = entries(&p);
    let (src, fstype, flags, data, _) = mount_action(e[0]);
    assert_eq!(src, &MountSource::Path("proc".into()));
    assert_eq!(fstype, "proc");
    assert_eq!(flags, F::MS_NODEV | F::MS_NOEXEC | F::MS_NOSUID);
    assert_eq!(data, None);
    let sys = e.iter().find(|e| e.destination == "/sys").unwrap();
    let (_, _, flags, ..) = mount_action(sys);
    assert_eq!(
        flags,
        F::MS_NODEV | F::MS_NOEXEC | F::MS_NOSUID | F::MS_RDONLY
    );
}

#[test]
fn tmpfs_options_become_flags_and_data() {
    let spec = template_with(|_| {});
    let p = plan_of(&spec, &[], false);
    let (src, fstype, flags, data, copyup) = mount_action(entries(&p)[1]);
    assert_eq!(src, &MountSource::Path("tmpfs".into()));
    assert_eq!(fstype, "tmpfs");
    assert_eq!(flags, F::MS_NOSUID | F::MS_STRICTATIME);
    assert_eq!(data, Some("mode=755,size=65536k"));
    assert!(!copyup);
}

#[test]
fn cgroup_mount_goes_to_cgroupfs_with_its_flags() {
    let spec = template_with(|_| {});
    let p = plan_of(&spec, &[], false);
    let cg = entries(&p)
        .into_iter()
        .find(|e| e.destination == "/sys/fs/cgroup")
        .unwrap()
        .clone();
    assert_eq!(
        cg.action,
        EntryAction::Cgroup {
            flags: F::MS_NOSUID | F::MS_NOEXEC | F::MS_NODEV | F::MS_RELATIME | F::MS_RDONLY,
            in_cgroupns: false,
        }
    );
    assert_eq!(cg.propagation, F::empty());
}

#[test]
fn cgroup_mount_knows_about_a_new_cgroup_namespace() {
    let spec = template_with(|_| {});
    let p = plan(&RootfsInput {
        mount_label: None,
        spec: &spec,
        bundle: Path::new("/b"),
        rootfs: "/b/r".into(),
        extra_binds: &[],
        in_userns: false,
        mapped: &MappedIds::identity(),
        new_cgroupns: true,
    });
    assert!(entries(&p).iter().any(|e| matches!(
        e.action,
        EntryAction::Cgroup {
            in_cgroupns: true,
            ..
        }
    )));
}

#[test]
fn error_context_names_source_type_and_destination() {
    let spec = template_with(|_| {});
    let p = plan_of(&spec, &[], false);
    assert_eq!(entries(&p)[1].what, "mount tmpfs (tmpfs) on /dev");
    let e =
        one_entry(serde_json::json!({"destination": "/x", "source": "/src", "options": ["bind"]}));
    assert_eq!(e.what, "mount /src (bind) on /x");
}

#[test]
fn bind_is_not_recursive_and_ro_nosuid_go_to_the_remount() {
    let e = one_entry(serde_json::json!({
        "destination": "/data", "type": "bind", "source": "/srv/data",
        "options": ["bind", "ro", "nosuid"]
    }));
    let (src, recursive, flags) = bind_action(&e);
    assert_eq!(src, Path::new("/srv/data"));
    assert!(!recursive);
    assert_eq!(flags, F::MS_RDONLY | F::MS_NOSUID);
}

#[test]
fn rbind_option_or_type_is_recursive_without_bind_or_rec_flags() {
    for m in [
        serde_json::json!({"destination": "/d", "type": "bind", "source": "/s", "options": ["rbind"]}),
        serde_json::json!({"destination": "/d", "type": "rbind", "source": "/s"}),
        serde_json::json!({"destination": "/d", "type": "none", "source": "/s", "options": ["bind", "recursive"]}),
    ] {
        let e = one_entry(m.clone());
        let (_, recursive, flags) = bind_action(&e);
        assert!(recursive, "{m}");
        assert_eq!(flags, F::empty(), "{m}");
    }
}

#[test]
fn relative_bind_source_is_taken_from_the_bundle() {
    let e = one_entry(serde_json::json!({
        "destination": "/d", "type": "bind", "source": "data", "options": ["bind"]
    }));
    assert_eq!(bind_action(&e).0, Path::new("/bundle/data"));
}

#[test]
fn propagation_option_is_a_separate_step() {
    let e = one_entry(serde_json::json!({
        "destination": "/d", "type": "bind", "source": "/s", "options": ["rbind", "rprivate"]
    }));
    assert_eq!(e.propagation, F::MS_PRIVATE | F::MS_REC);
    let e = one_entry(serde_json::json!({
        "destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["shared"]
    }));
    assert_eq!(e.propagation, F::MS_SHARED);
    assert_eq!(mount_action(&e).3, None, "propagation is no mount data");
}

#[test]
fn unknown_options_are_passed_as_filesystem_data() {
    let e = one_entry(serde_json::json!({
        "destination": "/t", "type": "tmpfs", "source": "tmpfs",
        "options": ["rw", "size=1m", "uid=1000", "nodev"]
    }));
    let (_, _, flags, data, _) = mount_action(&e);
    assert_eq!(flags, F::MS_NODEV);
    assert_eq!(data, Some("size=1m,uid=1000"));
}

#[test]
fn tmpcopyup_copies_only_for_tmpfs() {
    let e = one_entry(serde_json::json!({
        "destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]
    }));
    assert!(mount_action(&e).4);
    assert_eq!(mount_action(&e).3, None);
    let e = one_entry(serde_json::json!({
        "destination": "/m", "type": "mqueue", "source": "mqueue", "options": ["tmpcopyup"]
    }));
    assert!(!mount_action(&e).4);
}

#[test]
fn loop_mount_attaches_the_bundle_relative_backing_file() {
    let e = one_entry(serde_json::json!({
        "destination": "/img", "type": "ext4", "source": "disk.img", "options": ["loop", "ro"]
    }));
    let (src, fstype, flags, ..) = mount_action(&e);
    assert_eq!(
        src,
        &MountSource::Loop {
            backing: "/bundle/disk.img".into(),
            read_only: true
        }
    );
    assert_eq!(fstype, "ext4");
    assert_eq!(flags, F::MS_RDONLY);
}

#[test]
fn verity_is_planned_as_a_refusal() {
    let e = one_entry(serde_json::json!({
        "destination": "/img", "type": "ext4", "source": "disk.img", "options": ["dm=root,,,ro,0 1 verity"]
    }));
    assert!(matches!(e.action, EntryAction::Verity(_)));
}

#[test]
fn mount_label_goes_to_tmpfs_devpts_mqueue_data_only() {
    let spec = template_with(|j| j["linux"]["mountLabel"] = "system_u:object_r:c_t:s0".into());
    let p = plan_of(&spec, &[], false);
    let e = entries(&p);
    assert_eq!(
        mount_action(e[1]).3,
        Some("mode=755,size=65536k,context=\"system_u:object_r:c_t:s0\"")
    );
    let mq = e.iter().find(|e| e.destination == "/dev/mqueue").unwrap();
    assert_eq!(
        mount_action(mq).3,
        Some("context=\"system_u:object_r:c_t:s0\"")
    );
    assert_eq!(mount_action(e[0]).3, None, "proc takes no context=");

    // Without SELinux the label does not apply: no context= anywhere.
    let p = plan(&RootfsInput {
        mount_label: None,
        spec: &spec,
        bundle: Path::new("/bundle"),
        rootfs: PathBuf::from("/bundle/rootfs"),
        extra_binds: &[],
        in_userns: false,
        mapped: &MappedIds::identity(),
        new_cgroupns: false,
    });
    assert_eq!(mount_action(entries(&p)[1]).3, Some("mode=755,size=65536k"));
}

#[test]
fn extra_binds_come_after_the_config_mounts_as_rbinds() {
    let spec = template_with(|_| {});
    let binds = [(PathBuf::from("/host/a"), "/a".to_string())];
    let p = plan_of(&spec, &binds, false);
    let e = entries(&p);
    let last = e.last().unwrap();
    assert_eq!(last.destination, "/a");
    assert_eq!(last.what, "mount /host/a (bind) on /a");
    assert_eq!(bind_action(last), (Path::new("/host/a"), true, F::empty()));
    assert_eq!(e.len(), spec.mounts.len() + 1);
}

#[test]
fn intermediate_mounts_are_left_to_the_parent() {
    let spec = template_with(|j| {
        j["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/late", "type": "tmpfs", "source": "tmpfs",
            "performInIntermediateNamespace": true
        }))
    });
    let p = plan_of(&spec, &[], false);
    assert!(entries(&p).iter().all(|e| e.destination != "/late"));
    let mid = intermediate(&spec, Path::new("/bundle"), None);
    assert_eq!(mid.len(), 1);
    assert_eq!(mid[0].destination, "/late");
}

/// The runtime spec's default devices, in the order they are made.
const DEFAULT_PATHS: [&str; 6] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

#[test]
fn default_devices_in_order_with_mode_0666_root_owned() {
    let spec = template_with(|_| {});
    let p = plan_of(&spec, &[], false);
    let d = devices(&p);
    assert_eq!(device_paths(&p), DEFAULT_PATHS);
    let null = &d[0].node;
    assert_eq!((null.kind, null.major, null.minor), ('c', 1, 3));
    assert_eq!((null.mode, null.uid, null.gid), (0o666, 0, 0));
    assert!(d.iter().all(|d| !d.bind_host));
}

#[test]
fn configured_device_replaces_the_default_and_comes_last() {
    let spec = template_with(|j| {
        j["linux"]["devices"] = serde_json::json!([
            {"path": "/dev/null", "type": "c", "major": 1, "minor": 3,
             "fileMode": 0o600, "uid": 1000, "gid": 1001},
            {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}
        ])
    });
    let p = plan_of(&spec, &[], false);
    let d = devices(&p);
    let want = [&DEFAULT_PATHS[1..], &["/dev/null", "/dev/sda"]].concat();
    assert_eq!(device_paths(&p), want);
    let null = &d[5].node;
    assert_eq!((null.mode, null.uid, null.gid), (0o600, 1000, 1001));
    let sda = &d[6].node;
    assert_eq!(
        (sda.kind, sda.major, sda.minor, sda.mode),
        ('b', 8, 0, 0o666)
    );
}

#[test]
fn duplicate_configured_devices_are_both_made_in_order() {
    let spec = template_with(|j| {
        j["linux"]["devices"] = serde_json::json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600},
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666}
        ])
    });
    let p = plan_of(&spec, &[], false);
    let fuse: Vec<u32> = devices(&p)
        .iter()
        .filter(|d| d.node.path == "/dev/fuse")
        .map(|d| d.node.mode)
        .collect();
    assert_eq!(fuse, [0o600, 0o666], "the last one wins");
}

#[test]
fn dynamic_numbers_are_resolved_when_applied() {
    let spec = template_with(|j| {
        j["linux"]["devices"] = serde_json::json!([
            {"path": "/dev/null", "type": "c", "dynamicMajor": true, "dynamicMinor": true}
        ])
    });
    let p = plan_of(&spec, &[], false);
    let null = devices(&p).last().unwrap();
    assert!(null.dynamic_major && null.dynamic_minor);
    assert_eq!((null.node.major, null.node.minor), (0, 0));
    let resolved = null.resolve().expect("the host has /dev/null");
    assert_eq!((resolved.major, resolved.minor), (1, 3));
}

#[test]
fn in_a_user_namespace_devices_are_bound_from_the_host() {
    let spec = template_with(|_| {});
    let p = plan_of(&spec, &[], true);
    assert!(devices(&p).iter().all(|d| d.bind_host));
}

#[test]
fn no_devpts_no_ptmx_link() {
    let spec = template_with(|j| {
        j["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["type"] != "devpts")
    });
    let p = plan_of(&spec, &[], false);
    assert_eq!(p.ops.last(), Some(&MountOp::DevLinks { ptmx: false }));
}

#[test]
fn a_bound_dev_gets_no_nodes_and_no_links() {
    // Making nodes in the host's /dev would unlink and recreate its own.
    let spec = template_with(
        |j| j["mounts"][1] = serde_json::json!({"destination": "/dev/", "type": "bind", "source": "/dev", "options": ["rbind"]}),
    );
    let p = plan_of(&spec, &[], false);
    assert!(p.ops.iter().all(|op| matches!(op, MountOp::Entry(_))));
    // The same with `-b /dev:/dev`.
    let spec = template_with(|_| {});
    let p = plan_of(&spec, &[("/dev".into(), "/dev".into())], false);
    assert!(p.ops.iter().all(|op| matches!(op, MountOp::Entry(_))));
    // A tmpfs /dev, or a bind below /dev, is the container's.
    let spec = template_with(|j| {
        j["mounts"].as_array_mut().unwrap().push(
            serde_json::json!({"destination": "/dev/kvm", "type": "bind", "source": "/dev/kvm", "options": ["bind"]}),
        )
    });
    let p = plan_of(&spec, &[], false);
    assert!(matches!(p.ops.last(), Some(MountOp::DevLinks { .. })));
}

#[test]
fn rootfs_propagation_shared_is_slave_until_after_pivot() {
    let spec = template_with(|j| j["linux"]["rootfsPropagation"] = "rshared".into());
    let p = plan_of(&spec, &[], false);
    assert_eq!(p.root_propagation, F::MS_SLAVE | F::MS_REC);
    assert_eq!(
        finish(&spec),
        [
            FinishOp::RemountRootReadonly,
            FinishOp::RootPropagation(F::MS_SHARED | F::MS_REC)
        ]
    );
}

#[test]
fn rootfs_propagation_private_applies_before_mounts() {
    let spec = template_with(|j| j["linux"]["rootfsPropagation"] = "private".into());
    let p = plan_of(&spec, &[], false);
    assert_eq!(p.root_propagation, F::MS_PRIVATE | F::MS_REC);
}

#[test]
fn finish_without_readonly_root_or_propagation_does_nothing() {
    let spec = template_with(|j| j["root"]["readonly"] = false.into());
    assert_eq!(finish(&spec), []);
}

#[test]
fn masks_directories_with_an_empty_readonly_tmpfs_else_dev_null() {
    assert_eq!(mask_for(libc::S_IFDIR | 0o755), Mask::Tmpfs);
    assert_eq!(mask_for(libc::S_IFREG | 0o644), Mask::DevNull);
    assert_eq!(mask_for(libc::S_IFCHR | 0o666), Mask::DevNull);
    assert_eq!(mask_for(libc::S_IFLNK | 0o777), Mask::DevNull);
    use crate::rootfs::masked_paths::{MASK_TMPFS_DATA, MASK_TMPFS_FLAGS};
    assert!(MASK_TMPFS_FLAGS.contains(F::MS_RDONLY | F::MS_NOSUID | F::MS_NODEV | F::MS_NOEXEC));
    assert_eq!(MASK_TMPFS_DATA, "size=0,mode=0555");
}

#[test]
fn masked_paths_become_mask_ops_in_order() {
    let spec = template_with(|j| {
        j["linux"]["maskedPaths"] = serde_json::json!(["/proc/kcore", "/proc/acpi"])
    });
    assert_eq!(
        masked_paths(&spec),
        [
            PathOp::Mask("/proc/kcore".into()),
            PathOp::Mask("/proc/acpi".into())
        ]
    );
}

#[test]
fn readonly_paths_become_recursive_read_only_remounts() {
    let spec = template_with(|j| j["linux"]["readonlyPaths"] = serde_json::json!(["/proc/sys"]));
    assert_eq!(
        readonly_paths(&spec),
        [PathOp::Remount {
            path: "/proc/sys".into(),
            recursive: true,
            flags: F::MS_RDONLY
        }]
    );
}

#[test]
fn no_linux_section_no_path_ops() {
    let spec = template_with(|j| {
        j.as_object_mut().unwrap().remove("linux");
    });
    assert!(masked_paths(&spec).is_empty());
    assert!(readonly_paths(&spec).is_empty());
    assert!(matches!(
        plan_of(&spec, &[], false).ops.last(),
        Some(MountOp::DevLinks { ptmx: true })
    ));
}

#[test]
fn recursive_options_are_planned_as_attrs_not_data() {
    let e = one_entry(serde_json::json!({
        "destination": "/data", "type": "bind", "source": "/srv/data",
        "options": ["rbind", "rro", "rnosuid", "rnoexec", "nodev"]
    }));
    let (source, recursive, flags) = bind_action(&e);
    assert_eq!((source, recursive), (Path::new("/srv/data"), true));
    // The plain option stays a remount flag of the top mount...
    assert_eq!(flags, F::MS_NODEV);
    // ...the recursive ones are set on the whole tree after the mount.
    assert_eq!(
        e.recursive_attrs.set,
        libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOEXEC
    );
    assert_eq!(e.recursive_attrs.options, ["rro", "rnosuid", "rnoexec"]);

    // On a new filesystem too (runc applies them to every mount), and
    // never in its data, which the kernel would refuse or ignore.
    let e = one_entry(serde_json::json!({
        "destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
        "options": ["rro", "size=1m"]
    }));
    let (_, _, _, data, _) = mount_action(&e);
    assert_eq!(data, Some("size=1m"));
    assert_eq!(e.recursive_attrs.set, libc::MOUNT_ATTR_RDONLY);

    let e = one_entry(serde_json::json!({
        "destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]
    }));
    assert!(e.recursive_attrs.is_empty());
}

#[test]
fn idmapped_binds_are_attached_from_the_parents_tree() {
    let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let spec = template_with(|j| {
        j["mounts"] = serde_json::json!([
            {"destination": "/plain", "type": "bind", "source": "/srv/plain", "options": ["rbind"]},
            {"destination": "/mapped", "type": "bind", "source": "rel", "options": ["bind", "ro"],
             "uidMappings": map, "gidMappings": map},
            {"destination": "/tree", "type": "bind", "source": "/srv/tree", "options": ["rbind", "ridmap"]}
        ]);
        j["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        j["linux"]["uidMappings"] = map.clone();
        j["linux"]["gidMappings"] = map.clone();
    });
    let p = plan_of(&spec, &[], true);
    let e = entries(&p);
    assert!(
        matches!(e[0].action, EntryAction::Bind { .. }),
        "{:?}",
        e[0]
    );
    assert_eq!(
        e[1].action,
        EntryAction::IdmappedBind {
            mount: 1,
            flags: F::MS_RDONLY
        }
    );
    assert_eq!(
        e[2].action,
        EntryAction::IdmappedBind {
            mount: 2,
            flags: F::empty()
        }
    );

    let reqs = idmapped(&spec, Path::new("/bundle"));
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    let (mapped, tree) = (&reqs[0], &reqs[1]);
    assert_eq!(mapped.mount, 1);
    assert_eq!(mapped.source, PathBuf::from("/bundle/rel"));
    assert!(!mapped.recursive && !mapped.recursive_idmap);
    let (uid, gid) = mapped.mappings.as_ref().expect("the mount's own mappings");
    assert_eq!((uid[0].host_id, gid[0].size), (100000, 65536));
    assert_eq!(tree.mount, 2);
    assert!(tree.recursive && tree.recursive_idmap);
    assert!(
        tree.mappings.is_none(),
        "ridmap alone takes the container's"
    );
}

#[test]
fn devpts_gid_the_user_namespace_does_not_map_is_dropped() {
    let spec = template_with(|_| {});
    let devpts_data = |mapped: &MappedIds| {
        let p = plan_mapped(&spec, &[], true, mapped);
        entries(&p)
            .into_iter()
            .find_map(|e| match &e.action {
                EntryAction::Mount { fstype, data, .. } if fstype == "devpts" => data.clone(),
                _ => None,
            })
            .expect("the template mounts a devpts")
    };
    let full = devpts_data(&MappedIds::identity());
    assert!(full.split(',').any(|o| o == "gid=5"), "{full}");
    // `run -u`: only the caller, as root.
    let one = runoci_core::userns::parse_id_map("0 1000 1\n");
    let only_root = MappedIds {
        uids: one.clone(),
        gids: one,
    };
    let data = devpts_data(&only_root);
    assert!(!data.contains("gid="), "{data}");
    assert!(
        data.contains("newinstance") && data.contains("ptmxmode=0666"),
        "the other options stay: {data}"
    );
}
