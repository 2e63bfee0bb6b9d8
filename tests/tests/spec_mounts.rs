//! runtime-spec 1.3 mounts (config.md#mounts, config-linux.md): recursive
//! mount options, idmapped mounts, and a mount namespace joined by path.
//! Every test drives the runc dialect (`run --bundle`, `create`), so
//! `RUNOCI_BIN=/usr/bin/runc` runs them against runc too. runc 1.1.5
//! agrees on the recursive options and the joined mount namespace; it
//! predates idmapped mounts (runc 1.2), so the idmap tests fail there.

use runoci_tests::{unique_id, user_namespaced, Bundle, HostSnapshot, Output, Runtime};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

/// A tmpfs mounted on the host at `path` for one test, unmounted on drop
/// (declared after the bundle that holds it: dropped before it).
struct HostTmpfs(PathBuf);

impl HostTmpfs {
    fn mount(path: &Path) -> HostTmpfs {
        fs::create_dir_all(path).expect("mkdir for the host tmpfs");
        nix::mount::mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("size=1m"),
        )
        .unwrap_or_else(|e| panic!("mount a tmpfs on {}: {e}", path.display()));
        HostTmpfs(path.to_path_buf())
    }
}

impl Drop for HostTmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// `run --bundle B ID` with `sh -c script`.
fn run_sh(bundle: &mut Bundle, rt: &Runtime, prefix: &str, script: &str) -> Output {
    bundle.set_args(&["sh", "-c", script]);
    let id = unique_id(prefix);
    rt.run(["run", "--bundle", bundle.path_str(), &id])
}

/// The per-mount options (mountinfo's 6th field) of the mounts at
/// `points`, in the mountinfo text `info`.
fn mount_options_at<'a>(info: &'a str, point: &str) -> Option<Vec<&'a str>> {
    info.lines().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.get(4) == Some(&point)).then(|| f[5].split(',').collect())
    })
}

/// Appends `mount` to the config's mounts; its index.
fn add_mount(bundle: &mut Bundle, mount: Value) -> usize {
    let mounts = bundle.config_mut()["mounts"].as_array_mut().unwrap();
    mounts.push(mount);
    mounts.len() - 1
}

/// `mount` with uidMappings and gidMappings 0 → 100000 (65536 ids), the
/// container's own range in these tests.
fn mapped(mut mount: Value) -> Value {
    let map =
        json!([{ "containerID": 0, "hostID": runoci_tests::USERNS_HOST_ROOT, "size": 65536 }]);
    mount["uidMappings"] = map.clone();
    mount["gidMappings"] = map;
    mount
}

fn bind_mount(source: &Path, destination: &str, options: &[&str]) -> Value {
    json!({
        "destination": destination,
        "type": "bind",
        "source": source,
        "options": options,
    })
}

/// config.md#mounts (1.1: recursive options): `rro`, `rnosuid`, `rnodev`,
/// `rnoexec`, `rnoatime` reach every submount of an rbind, read back from
/// the container's mountinfo; a write through either fails with EROFS and
/// nothing lands on the host.
#[test]
fn recursive_options_apply_to_every_submount_of_an_rbind() {
    let mut bundle = Bundle::new("rro");
    let rt = Runtime::runoci();
    let host = bundle.path().join("host");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("top-file"), "top\n").unwrap();
    let _sub = HostTmpfs::mount(&host.join("sub"));
    fs::write(host.join("sub/sub-file"), "sub\n").unwrap();
    add_mount(
        &mut bundle,
        bind_mount(
            &host,
            "/data",
            &["rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnoatime"],
        ),
    );
    let out = run_sh(
        &mut bundle,
        &rt,
        "rro",
        "cat /proc/self/mountinfo; echo ===; \
         cat /data/top-file /data/sub/sub-file; \
         touch /data/new 2>&1; touch /data/sub/new 2>&1; echo end",
    );
    out.assert_ok();
    let (info, rest) = out.stdout.split_once("===\n").expect("the marker");
    for point in ["/data", "/data/sub"] {
        let opts = mount_options_at(info, point)
            .unwrap_or_else(|| panic!("no mount at {point} in the container:\n{info}"));
        for want in ["ro", "nosuid", "nodev", "noexec", "noatime"] {
            assert!(
                opts.contains(&want),
                "expected {want} on {point} (recursive option), saw {opts:?}"
            );
        }
    }
    assert!(
        rest.starts_with("top\nsub\n"),
        "expected both files readable, saw {rest:?}"
    );
    assert_eq!(
        rest.matches("Read-only file system").count(),
        2,
        "expected both writes to fail with EROFS, saw {rest:?}"
    );
    assert!(
        !host.join("new").exists() && !host.join("sub/new").exists(),
        "a write through rro reached the host"
    );
}

/// `rrw` after `ro` makes the whole tree writable again: the recursive
/// clear is applied after the bind's remount, as runc does.
#[test]
fn recursive_clear_options_undo_what_plain_options_set() {
    let mut bundle = Bundle::new("rrw");
    let rt = Runtime::runoci();
    let host = bundle.path().join("host");
    let _sub = HostTmpfs::mount(&host.join("sub"));
    add_mount(
        &mut bundle,
        bind_mount(&host, "/data", &["rbind", "ro", "rrw"]),
    );
    let out = run_sh(
        &mut bundle,
        &rt,
        "rrw",
        "echo in > /data/sub/made && cat /proc/self/mountinfo",
    );
    out.assert_ok();
    let opts = mount_options_at(&out.stdout, "/data/sub").expect("the submount");
    assert!(opts.contains(&"rw"), "expected /data/sub rw, saw {opts:?}");
    let opts = mount_options_at(&out.stdout, "/data").expect("the bind");
    assert!(opts.contains(&"rw"), "expected /data rw, saw {opts:?}");
    assert_eq!(fs::read_to_string(host.join("sub/made")).unwrap(), "in\n");
}

/// The owner (uid:gid) of a host path.
fn owner(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let m = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{}:{}", m.uid(), m.gid())
}

/// config.md#mounts (1.2: uidMappings, gidMappings), config-linux.md
/// idmapped mounts: through a mount mapped 0 → 100000, a host file owned
/// by 1000 shows as 1000 in a container whose root is host 100000 (as it
/// would be nobody without the idmap), and a file the container's root
/// creates lands on the host owned by 0, not 100000.
#[test]
fn idmapped_mount_maps_owners_both_ways() {
    let mut bundle = Bundle::new("idmap");
    let rt = Runtime::runoci();
    user_namespaced(bundle.config_mut());
    let host = bundle.path().join("host");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("from-host"), "x").unwrap();
    std::os::unix::fs::chown(host.join("from-host"), Some(1000), Some(1000)).unwrap();
    // Container root must reach the mount point in a rootfs of host root.
    fs::create_dir(bundle.rootfs().join("mnt/idm")).unwrap();
    add_mount(
        &mut bundle,
        mapped(bind_mount(&host, "/mnt/idm", &["bind"])),
    );
    let out = run_sh(
        &mut bundle,
        &rt,
        "idmap",
        "stat -c %u:%g /mnt/idm/from-host && touch /mnt/idm/from-inside && stat -c %u:%g /mnt/idm/from-inside",
    );
    out.assert_ok();
    assert_eq!(
        out.stdout, "1000:1000\n0:0\n",
        "expected the host's 1000 seen as 1000 and the new file as root's inside"
    );
    assert_eq!(
        owner(&host.join("from-inside")),
        "0:0",
        "expected the container root's file owned by host 0 through the idmap"
    );
}

/// `idmap` without mappings takes the container's user namespace (runc
/// 1.2): the host's root-owned files are root's inside, and `ridmap` on an
/// rbind maps the submount too.
#[test]
fn ridmap_without_mappings_takes_the_containers_user_namespace() {
    let mut bundle = Bundle::new("ridmap");
    let rt = Runtime::runoci();
    user_namespaced(bundle.config_mut());
    let host = bundle.path().join("host");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("top"), "x").unwrap();
    let _sub = HostTmpfs::mount(&host.join("sub"));
    fs::write(host.join("sub/in-sub"), "x").unwrap();
    fs::create_dir(bundle.rootfs().join("mnt/idm")).unwrap();
    add_mount(
        &mut bundle,
        bind_mount(&host, "/mnt/idm", &["rbind", "ridmap"]),
    );
    let out = run_sh(
        &mut bundle,
        &rt,
        "ridmap",
        "stat -c %u /mnt/idm/top /mnt/idm/sub/in-sub && echo new > /mnt/idm/sub/made",
    );
    out.assert_ok();
    assert_eq!(
        out.stdout, "0\n0\n",
        "expected host root's files to be root's inside, on the submount too"
    );
    assert_eq!(owner(&host.join("sub/made")), "0:0");
}

/// An idmapped mount the parent cannot make (its source is missing) fails
/// the create with one line naming the mount, and leaves nothing: no
/// container, no mount, no helper process of the mapping's namespace.
#[test]
fn idmapped_mount_of_a_missing_source_fails_naming_it_and_leaves_nothing() {
    let mut bundle = Bundle::new("idmap-missing");
    let rt = Runtime::runoci();
    user_namespaced(bundle.config_mut());
    let missing = bundle.path().join("no-such-dir");
    let index = add_mount(&mut bundle, mapped(bind_mount(&missing, "/mnt", &["bind"])));
    let snap = HostSnapshot::take();
    let id = unique_id("idmapmiss");
    bundle.set_args(&["true"]);
    let out = rt.run(["run", "--bundle", bundle.path_str(), &id]);
    out.assert_failed();
    let want = format!("mounts[{index}] (idmapped bind of {}", missing.display());
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains(&want) && l.contains("open_tree")),
        "expected one line naming {want:?} and open_tree\n{out}"
    );
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}

/// A process in a private copy of the host's mount namespace (`unshare
/// -m`), killed and reaped on drop.
struct MountNsHolder(std::process::Child);

impl MountNsHolder {
    fn spawn() -> MountNsHolder {
        use std::io::BufRead;
        let mut child = std::process::Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg("echo ready; exec sleep 1000")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn unshare -m");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read from the namespace holder");
        assert_eq!(line, "ready\n", "the namespace holder did not start");
        MountNsHolder(child)
    }

    fn ns_path(&self) -> String {
        format!("/proc/{}/ns/mnt", self.0.id())
    }
}

impl Drop for MountNsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// config-linux.md#namespaces: a mount namespace with a `path` is joined,
/// and the container's rootfs is set up in it (runc does the same: mounts,
/// pivot_root): the container is in that namespace and has its /proc and
/// /dev; the host's namespace gets none of its mounts (the bundle's drop
/// checks).
#[test]
fn mount_namespace_joined_by_path_gets_the_rootfs_set_up_in_it() {
    let mut bundle = Bundle::new("mntns-path");
    let rt = Runtime::runoci();
    let holder = MountNsHolder::spawn();
    let want_ns = fs::read_link(holder.ns_path()).expect("the holder's mount namespace");
    for ns in bundle.config_mut()["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
    {
        if ns["type"] == "mount" {
            ns["path"] = json!(holder.ns_path());
        }
    }
    let out = run_sh(
        &mut bundle,
        &rt,
        "mntnspath",
        "readlink /proc/self/ns/mnt; ls /dev/null /proc/self/fd >/dev/null && echo ok; cut -d' ' -f5 /proc/self/mountinfo",
    );
    out.assert_ok();
    let mut lines = out.stdout.lines();
    assert_eq!(
        lines.next(),
        Some(want_ns.to_str().unwrap()),
        "expected the container in the joined mount namespace\n{out}"
    );
    assert_eq!(lines.next(), Some("ok"), "expected /dev and /proc\n{out}");
    let points: Vec<&str> = lines.collect();
    for want in ["/", "/proc", "/dev", "/dev/pts", "/sys"] {
        assert!(
            points.contains(&want),
            "expected {want} mounted in the container, saw {points:?}"
        );
    }
}

/// No mount namespace at all: the mounts would be made in the runtime's
/// namespace and outlive the container (runc and crun leave them on the
/// host; runc refuses the default config for its maskedPaths). Refused,
/// nothing left.
#[test]
fn no_mount_namespace_with_mounts_is_refused_and_leaves_nothing() {
    let mut bundle = Bundle::new("no-mntns");
    let rt = Runtime::runoci();
    bundle.config_mut()["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|ns| ns["type"] != "mount");
    let snap = HostSnapshot::take();
    let id = unique_id("nomntns");
    bundle.set_args(&["true"]);
    let out = rt.run(["run", "--bundle", bundle.path_str(), &id]);
    out.assert_failed();
    assert!(
        out.stderr.to_lowercase().contains("namespace"),
        "expected the error to name the missing mount namespace\n{out}"
    );
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}
