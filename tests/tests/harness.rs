//! Tests of the harness itself, against runc (always installed where the
//! tests run), so a harness bug is never mistaken for a runoci bug.

use std::path::Path;
use std::time::Duration;

use runoci_tests::{busybox_rootfs, pid_alive, test_dir, unique_id, Bundle, HostSnapshot, Runtime};

const RUNC: &str = "/usr/bin/runc";

#[test]
fn rootfs_has_shell_users_and_shared_busybox() {
    let dir = test_dir().join(unique_id("rootfs"));
    busybox_rootfs(&dir).unwrap();
    for f in ["bin/sh", "bin/true", "bin/sleep", "sbin/ip", "usr/bin/env"] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let passwd = std::fs::read_to_string(dir.join("etc/passwd")).unwrap();
    for user in ["root:x:0:0:", "user:x:1000:1000:", "nobody:x:65534:65534:"] {
        assert!(passwd.contains(user), "{user} not in {passwd}");
    }
    use std::os::unix::fs::MetadataExt;
    let nlink = std::fs::metadata(dir.join("bin/busybox")).unwrap().nlink();
    assert!(
        nlink >= 2,
        "bin/busybox should be hard-linked, nlink {nlink}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_reports_stdout_and_exit_code() {
    let mut bundle = Bundle::new("exit-code");
    let rt = Runtime::at(RUNC);
    bundle.set_args(&["sh", "-c", "echo hi; hostname; exit 7"]);
    let id = unique_id("exit");
    let out = rt.run(["run", "-b", bundle.path_str(), &id]);
    out.assert_code(7).assert_stdout_eq("hi\nrunoci\n");
    assert!(!out.to_string().is_empty());
    assert!(rt.container_ids().is_empty(), "runc run leaves no state");
}

#[test]
fn failed_assertion_shows_command_and_output() {
    let rt = Runtime::at(RUNC);
    let out = rt.run(["state", "no-such-container"]);
    let msg = std::panic::catch_unwind(|| {
        out.assert_ok();
    })
    .expect_err("assert_ok must panic on failure");
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(msg.contains("state no-such-container"), "{msg}");
    assert!(msg.contains("exit code 1"), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
}

#[test]
fn timeout_kills_the_command() {
    let mut cmd = std::process::Command::new("/bin/sleep");
    cmd.arg("30");
    let out = runoci_tests::run_command(&mut cmd, b"", Duration::from_millis(300));
    assert!(out.timed_out && out.code().is_none(), "{out}");
    assert!(out.elapsed < Duration::from_secs(5), "{out}");
}

#[test]
fn cleanup_kills_created_container_and_removes_root() {
    let mut bundle = Bundle::new("cleanup");
    let rt = Runtime::at(RUNC);
    bundle.set_args(&["sleep", "1000"]);
    let id = unique_id("cleanup");
    let snap = HostSnapshot::take();
    rt.run(["create", "-b", bundle.path_str(), &id]).assert_ok();
    rt.run(["start", &id]).assert_ok();
    let state = rt.state(&id);
    assert_eq!(state["status"], "running", "{state}");
    let pid = state["pid"].as_i64().unwrap() as i32;
    assert!(pid_alive(pid));
    let leaks = snap.leaks(&[&id]);
    assert!(
        leaks.iter().any(|l| l.contains(&format!("pid {pid} "))),
        "the running container is a leak: {leaks:?}"
    );
    let root = rt.root().to_path_buf();
    drop(rt);
    for _ in 0..100 {
        if !pid_alive(pid) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pid_alive(pid), "container pid {pid} survived the cleanup");
    assert!(!root.exists(), "root {} not removed", root.display());
    snap.assert_nothing_leaked(&[&id]);
}

#[test]
fn snapshot_sees_nothing_after_failed_run_and_sees_a_leaked_mount() {
    let mut bundle = Bundle::new("leak");
    let rt = Runtime::at(RUNC);
    bundle.set_args(&["/no/such/binary"]);
    let id = unique_id("leak");
    let snap = HostSnapshot::take();
    rt.run(["run", "-b", bundle.path_str(), &id])
        .assert_failed();
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);

    // A mount left under the bundle is reported.
    let target = bundle.rootfs().join("mnt");
    nix::mount::mount(
        Some("tmpfs"),
        &target,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let leaks = snap.leaks(&[bundle.path_str()]);
    nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH).unwrap();
    assert_eq!(leaks, vec![format!("mount {}", target.display())]);
    assert!(Path::new(bundle.path_str()).exists());
}

#[test]
fn runoci_binary_is_found_next_to_the_tests() {
    let bin = runoci_tests::runoci_bin();
    assert!(bin.is_file(), "{}", bin.display());
    if std::env::var_os("RUNOCI_BIN").is_none() {
        let exe = std::env::current_exe().unwrap();
        let profile = exe.parent().unwrap().parent().unwrap();
        assert_eq!(bin.parent().unwrap(), profile);
    }
}
