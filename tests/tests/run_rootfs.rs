//! `runoci run`: the container's filesystem as the program sees it — a
//! read-only root, `-b` bind mounts, tmpfs options, masked and read-only
//! paths, device nodes and links, user namespace id maps.

mod common;

use common::{run_sh, run_sh_ok};
use runoci_tests::{unique_id, Bundle, Runtime};
use serde_json::json;
use std::fs;

#[test]
fn readonly_root_refuses_writes() {
    let mut bundle = Bundle::new("ro-root");
    let rt = Runtime::runoci();
    bundle.config_mut()["root"]["readonly"] = json!(true);
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "roroot",
        "touch /x 2>&1 && echo created; echo shm; touch /dev/shm/ok && echo shm-ok",
    );
    assert!(
        out.contains("Read-only file system") && !out.contains("created"),
        "expected `touch /x` to fail with EROFS on a read-only root, saw {out:?}"
    );
    assert!(
        out.contains("shm-ok"),
        "expected mounts on top of the read-only root (/dev/shm) to stay writable, saw {out:?}"
    );
    assert!(
        !bundle.rootfs().join("x").exists(),
        "expected no /x in the rootfs on the host"
    );
}

#[test]
fn writable_root_accepts_writes() {
    let mut bundle = Bundle::new("rw-root");
    let rt = Runtime::runoci();
    run_sh_ok(&mut bundle, &rt, "rwroot", "echo hello > /made-inside");
    let seen = fs::read_to_string(bundle.rootfs().join("made-inside")).unwrap_or_default();
    assert_eq!(
        seen, "hello\n",
        "expected a file written at / inside to be in the host's rootfs, saw {seen:?}"
    );
}

#[test]
fn bind_mount_from_dash_b_is_visible_and_writable() {
    let mut bundle = Bundle::new("bind");
    let rt = Runtime::runoci();
    let host = bundle.path().join("shared");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("from-host"), "host data\n").unwrap();
    bundle.set_args(&[
        "sh",
        "-c",
        "cat /mnt/shared/from-host; echo container data > /mnt/shared/from-container",
    ]);
    let id = unique_id("bind");
    let spec = format!("{}:/mnt/shared", host.display());
    let out = rt.run(["run", "-c", bundle.path_str(), "-b", &spec, &id]);
    out.assert_ok();
    assert_eq!(
        out.stdout, "host data\n",
        "expected the host file to be readable at the bind mount, saw {:?}",
        out.stdout
    );
    let back = fs::read_to_string(host.join("from-container")).unwrap_or_default();
    assert_eq!(
        back, "container data\n",
        "expected the container's write to appear on the host, saw {back:?}"
    );
    assert!(
        !bundle.rootfs().join("mnt/shared/from-host").exists(),
        "the bind mount must not be left on the host's rootfs"
    );
}

#[test]
fn bind_mount_from_dash_b_creates_missing_destination() {
    let mut bundle = Bundle::new("bind-new");
    let rt = Runtime::runoci();
    let host = bundle.path().join("data.txt");
    fs::write(&host, "a file\n").unwrap();
    bundle.set_args(&["cat", "/opt/deep/data.txt"]);
    let id = unique_id("bindnew");
    let spec = format!("{}:/opt/deep/data.txt", host.display());
    let out = rt.run(["run", "-c", bundle.path_str(), "-b", &spec, &id]);
    out.assert_ok();
    assert_eq!(
        out.stdout, "a file\n",
        "expected a file bind-mounted at a new path, saw {:?}",
        out.stdout
    );
}

#[test]
fn tmpfs_mount_has_mode_and_size() {
    let mut bundle = Bundle::new("tmpfs");
    let rt = Runtime::runoci();
    bundle.config_mut()["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=1777", "size=2m"]
        }));
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "tmpfs",
        "stat -c %a /scratch; grep ' /scratch ' /proc/mounts; df -k /scratch | tail -n 1",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"1777"),
        "expected mode 1777, saw {out:?}"
    );
    let mount = lines.get(1).copied().unwrap_or("");
    assert!(
        mount.starts_with("tmpfs /scratch tmpfs ")
            && mount.contains("size=2048k")
            && mount.contains("nosuid")
            && mount.contains("nodev"),
        "expected a tmpfs at /scratch with size=2048k,nosuid,nodev, saw {mount:?}"
    );
    let total = lines
        .get(2)
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    assert_eq!(total, "2048", "expected df to show 2048 KiB, saw {out:?}");
}

#[test]
fn masked_paths_read_as_empty() {
    let mut bundle = Bundle::new("masked");
    let rt = Runtime::runoci();
    let secret = bundle.rootfs().join("mnt/secret");
    fs::create_dir(&secret).unwrap();
    fs::write(secret.join("key"), "do not show\n").unwrap();
    bundle.config_mut()["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/mnt/secret"));
    // /proc/kcore only exists with CONFIG_PROC_KCORE; a masked path that
    // does not exist is skipped, never created.
    let kcore = if std::path::Path::new("/proc/kcore").exists() {
        "character special file 1:3 0"
    } else {
        "absent"
    };
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "masked",
        "for f in /proc/kcore /proc/keys; do \
           if [ -e $f ]; then echo \"$(stat -c '%F %t:%T' $f) $(wc -c < $f)\"; else echo absent; fi; \
         done; \
         echo secret: $(ls -A /mnt/secret); echo firmware: $(ls -A /sys/firmware)",
    );
    let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    assert_eq!(
        lines,
        [
            kcore,
            "character special file 1:3 0",
            "secret:",
            "firmware:"
        ],
        "expected masked files to be /dev/null (1:3, empty) and masked dirs empty, saw {out:?}"
    );
    assert!(
        secret.join("key").exists(),
        "masking must not touch the host's files"
    );
}

#[test]
fn readonly_paths_refuse_writes() {
    let mut bundle = Bundle::new("ro-paths");
    let rt = Runtime::runoci();
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "ropaths",
        "echo x 2>&1 > /proc/sys/kernel/domainname && echo wrote; grep ' /proc/sys ' /proc/mounts",
    );
    assert!(
        out.contains("Read-only file system") && !out.contains("wrote"),
        "expected a write to /proc/sys to fail with EROFS, saw {out:?}"
    );
    let opts = out
        .lines()
        .find(|l| l.contains(" /proc/sys "))
        .and_then(|l| l.split_whitespace().nth(3))
        .unwrap_or("");
    assert!(
        opts.split(',').any(|o| o == "ro"),
        "expected /proc/sys mounted ro, saw options {opts:?} in {out:?}"
    );
}

#[test]
fn default_device_nodes_exist_with_numbers_and_mode() {
    let mut bundle = Bundle::new("devices");
    let rt = Runtime::runoci();
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "devices",
        "stat -c '%n %F %t:%T %a %u:%g' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; \
         echo data > /dev/null && echo null-ok; head -c 3 /dev/zero | od -An -tx1",
    );
    let expected = [
        "/dev/null character special file 1:3 666 0:0",
        "/dev/zero character special file 1:5 666 0:0",
        "/dev/full character special file 1:7 666 0:0",
        "/dev/random character special file 1:8 666 0:0",
        "/dev/urandom character special file 1:9 666 0:0",
        "/dev/tty character special file 5:0 666 0:0",
        "null-ok",
    ];
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(
        lines.get(..7),
        Some(&expected[..]),
        "default devices (expected vs seen), output {out:?}"
    );
    assert_eq!(
        lines.get(7),
        Some(&"00 00 00"),
        "expected /dev/zero to read zeros, saw {out:?}"
    );
}

#[test]
fn configured_device_has_type_numbers_mode_and_owner() {
    let mut bundle = Bundle::new("dev-config");
    let rt = Runtime::runoci();
    bundle.config_mut()["linux"]["devices"] = json!([
        { "path": "/dev/myzero", "type": "c", "major": 1, "minor": 5,
          "fileMode": 0o604, "uid": 1000, "gid": 20 },
        { "path": "/dev/sub/fifo", "type": "p", "major": 0, "minor": 0, "fileMode": 0o600 }
    ]);
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "devconfig",
        "stat -c '%n %F %t:%T %a %u:%g' /dev/myzero /dev/sub/fifo; head -c 2 /dev/myzero | od -An -tx1",
    );
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "/dev/myzero character special file 1:5 604 1000:20",
            "/dev/sub/fifo fifo 0:0 600 0:0",
            "00 00"
        ],
        "linux.devices nodes (expected vs seen), output {out:?}"
    );
}

#[test]
fn dev_links_point_into_devpts_and_proc() {
    let mut bundle = Bundle::new("dev-links");
    let rt = Runtime::runoci();
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "devlinks",
        "for l in ptmx fd stdin stdout stderr; do echo \"$l -> $(readlink /dev/$l)\"; done; \
         stat -c '%F %t:%T' /dev/pts/ptmx",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "ptmx -> pts/ptmx",
            "fd -> /proc/self/fd",
            "stdin -> /proc/self/fd/0",
            "stdout -> /proc/self/fd/1",
            "stderr -> /proc/self/fd/2",
            "character special file 5:2",
        ],
        "/dev links (expected vs seen), output {out:?}"
    );
}

#[test]
fn user_namespace_maps_container_root_to_host_range() {
    let mut bundle = Bundle::new("userns");
    let rt = Runtime::runoci();
    runoci_tests::user_namespaced(bundle.config_mut());
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "userns",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; stat -c %U /bin/busybox; echo $$",
    );
    let lines = runoci_tests::word_lines(&out);
    let expected: Vec<Vec<&str>> = vec![
        vec!["0", "100000", "65536"],
        vec!["0", "100000", "65536"],
        vec!["0"],
        vec!["0"],
        // Host root is unmapped: it shows as the overflow user.
        vec!["nobody"],
        vec!["1"],
    ];
    assert_eq!(
        lines, expected,
        "user namespace view (expected vs seen), output {out:?}"
    );
}

#[test]
fn user_namespace_process_runs_as_mapped_host_uid() {
    let mut bundle = Bundle::new("userns-host");
    let rt = Runtime::runoci();
    runoci_tests::user_namespaced(bundle.config_mut());
    let shared = bundle.path().join("shared");
    fs::create_dir(&shared).unwrap();
    // Container root is host 100000: it cannot create the mount point in
    // a rootfs owned by host root, so the rootfs has it.
    fs::create_dir(bundle.rootfs().join("mnt/shared")).unwrap();
    std::os::unix::fs::chown(&shared, Some(100000), Some(100000)).unwrap();
    bundle.set_args(&["sh", "-c", "touch /mnt/shared/by-root-inside"]);
    let id = unique_id("usernshost");
    let spec = format!("{}:/mnt/shared", shared.display());
    rt.run(["run", "-c", bundle.path_str(), "-b", &spec, &id])
        .assert_ok();
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(shared.join("by-root-inside")).expect("file created by the container");
    assert_eq!(
        (meta.uid(), meta.gid()),
        (100000, 100000),
        "expected container root's file to be owned by host 100000:100000"
    );
}

#[test]
fn use_current_user_maps_the_caller_to_root() {
    let mut bundle = Bundle::new("current-user");
    let rt = Runtime::runoci();
    // Only the caller's ids are mapped: devpts cannot take gid=5 (as in
    // `runc spec --rootless`).
    for m in bundle.config_mut()["mounts"].as_array_mut().unwrap() {
        if m["type"] == "devpts" {
            m["options"] = json!([
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620"
            ]);
        }
    }
    bundle.set_args(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; readlink /proc/self/ns/user",
    ]);
    let id = unique_id("curuser");
    let out = rt.run(["run", "-u", "-c", bundle.path_str(), &id]);
    out.assert_ok();
    let me = nix::unistd::getuid().as_raw().to_string();
    let my_gid = nix::unistd::getgid().as_raw().to_string();
    let lines = runoci_tests::word_lines(&out.stdout);
    assert_eq!(
        lines.get(..3),
        Some(
            &[
                vec!["0", me.as_str(), "1"],
                vec!["0", my_gid.as_str(), "1"],
                vec!["0"]
            ][..]
        ),
        "expected -u to map only the caller's uid/gid to 0, saw {:?}",
        out.stdout
    );
    let host_ns = fs::read_link("/proc/self/ns/user").unwrap();
    let inside = lines.get(3).and_then(|l| l.first()).copied().unwrap_or("");
    assert_ne!(
        inside,
        host_ns.to_str().unwrap(),
        "expected -u to create a new user namespace"
    );
}

#[test]
fn rootfs_mounts_do_not_reach_the_host() {
    let mut bundle = Bundle::new("no-leak");
    let rt = Runtime::runoci();
    let before = runoci_tests::mount_points();
    let out = run_sh(&mut bundle, &rt, "noleak", "grep -c . /proc/mounts");
    out.assert_ok();
    let after = runoci_tests::mount_points();
    let rootfs = bundle.rootfs();
    let new: Vec<&String> = after
        .iter()
        .filter(|m| !before.contains(m) && m.starts_with(rootfs.to_str().unwrap()))
        .collect();
    assert!(
        new.is_empty(),
        "expected no mount of the container under its rootfs on the host, saw {new:?}"
    );
}

#[test]
fn bound_dev_is_left_as_it_is() {
    // A /dev bound from outside is not the container's to fill: making the
    // default nodes there unlinked and recreated the source's own (the
    // host's, for a bind of /dev) and added the /dev/fd links to it.
    use std::os::unix::fs::MetadataExt;
    let mut bundle = Bundle::new("bound-dev");
    let dev = bundle.path().join("outside-dev");
    fs::create_dir(&dev).unwrap();
    let null = dev.join("null");
    // 0640, not the 0666 the runtime gives the nodes it makes.
    let mode = nix::sys::stat::Mode::from_bits_truncate(0o640);
    nix::sys::stat::mknod(
        &null,
        nix::sys::stat::SFlag::S_IFCHR,
        mode,
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    nix::sys::stat::fchmodat(
        None,
        &null,
        mode,
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .unwrap();
    let before = fs::metadata(&null).unwrap();
    let mounts = bundle.config_mut()["mounts"].as_array_mut().unwrap();
    let at = mounts
        .iter()
        .position(|m| m["destination"] == "/dev")
        .unwrap();
    mounts[at] = json!({"destination": "/dev", "type": "bind",
        "source": dev.to_str().unwrap(), "options": ["rbind"]});
    let out = run_sh_ok(
        &mut bundle,
        &Runtime::runoci(),
        "bounddev",
        "echo seen > /dev/null && echo ok",
    );
    assert_eq!(
        out, "ok\n",
        "expected the container to run with a bound /dev"
    );
    let after = fs::metadata(&null).unwrap();
    assert_eq!(
        (before.ino(), before.mode(), before.ctime_nsec()),
        (after.ino(), after.mode(), after.ctime_nsec()),
        "expected the bound /dev's null node to be left alone, it was recreated"
    );
    for link in ["fd", "stdin", "zero", "tty"] {
        assert!(
            fs::symlink_metadata(dev.join(link)).is_err(),
            "expected no {link} made in the bound /dev"
        );
    }
}
