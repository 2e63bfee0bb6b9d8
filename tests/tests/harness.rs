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
    let shown = out.to_string();
    assert!(
        shown.contains(&format!("run -b {} {id}", bundle.path_str()))
            && shown.contains("exit code 7")
            && shown.contains("--- stdout ---\nhi\nrunoci"),
        "the display shows command, status and stdout: {shown}"
    );
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

/// Drops `rt` (its safety net runs) and returns the net's panic message.
fn net_message(rt: Runtime) -> String {
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(rt)))
        .expect_err("the safety net must fail the test on a leak");
    err.downcast_ref::<String>()
        .cloned()
        .unwrap_or_else(|| format!("{:?}", err.downcast_ref::<&str>()))
}

/// A running runc container of `bundle` (`sleep 1000`) in `rt`: its pid.
fn running_sleeper(rt: &Runtime, bundle: &mut Bundle, id: &str) -> i32 {
    bundle.set_args(&["sleep", "1000"]);
    rt.run(["create", "-b", bundle.path_str(), id]).assert_ok();
    rt.run(["start", id]).assert_ok();
    rt.state(id)["pid"].as_i64().unwrap() as i32
}

#[test]
fn net_fails_on_a_mount_stacked_on_the_bundle_rootfs() {
    let mut bundle = Bundle::new("net-mount");
    let rt = Runtime::at(RUNC);
    let id = unique_id("net-mount");
    running_sleeper(&rt, &mut bundle, &id);
    // The rootfs path is a plain directory of the host: a mount stacked on
    // it is one runc's delete knows nothing about.
    let rootfs = bundle.rootfs();
    nix::mount::mount(
        Some(&rootfs),
        &rootfs,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    let planted = runoci_tests::mount_table()
        .into_iter()
        .rfind(|(_, m)| Path::new(m) == rootfs)
        .expect("planted mount listed")
        .0;
    let msg = net_message(rt);
    assert!(
        msg.contains(&format!("mount {} (mount id {planted})", rootfs.display())),
        "{msg}"
    );
    assert!(
        !runoci_tests::mount_table()
            .iter()
            .any(|(m, _)| *m == planted),
        "the net removes the leaked mount"
    );
}

/// A container of `rt` whose record is lost (removed behind the
/// runtime's back): its kill and delete cannot find it, its init lives on
/// in its pid namespace and cgroups. The net reports and removes both.
fn assert_net_finds_a_lost_record(rt: Runtime, prefix: &str) {
    let mut bundle = Bundle::new(prefix);
    let id = unique_id(prefix);
    let pid = running_sleeper(&rt, &mut bundle, &id);
    std::fs::remove_dir_all(rt.root().join(&id)).unwrap();
    let msg = net_message(rt);
    assert!(
        msg.contains(&format!("process {pid} "))
            && msg.contains(&format!("in the pid namespace of container {id}")),
        "{msg}"
    );
    let cgroup = Path::new("/sys/fs/cgroup/pids").join(&id);
    assert!(
        msg.lines()
            .any(|l| l.trim() == format!("cgroup {}", cgroup.display())),
        "{msg}"
    );
    assert!(!pid_alive(pid), "the net kills the leaked process");
    assert!(!cgroup.exists(), "the net removes the leaked cgroup");
}

#[test]
fn net_fails_on_a_process_left_in_a_container_pid_namespace() {
    assert_net_finds_a_lost_record(Runtime::at(RUNC), "net-proc");
}

#[test]
fn net_fails_on_a_cgroup_and_a_process_naming_the_container() {
    let mut bundle = Bundle::new("net-cgroup");
    let rt = Runtime::at(RUNC);
    let id = unique_id("net-cgroup");
    bundle.set_args(&["true"]);
    rt.run(["run", "-b", bundle.path_str(), &id]).assert_ok();
    // A cgroup named after the container that runc never made, with a host
    // process in it: nothing of runc's removes them.
    let cg = Path::new("/sys/fs/cgroup/pids").join(&id);
    std::fs::create_dir(&cg).unwrap();
    let mut child = std::process::Command::new("/bin/sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    std::fs::write(cg.join("cgroup.procs"), pid.to_string()).unwrap();
    let msg = net_message(rt);
    let _ = child.wait();
    assert!(msg.contains(&format!("cgroup {}", cg.display())), "{msg}");
    assert!(
        msg.contains(&format!("process {pid} ")) && msg.contains(&format!("container {id}")),
        "{msg}"
    );
    assert!(!cg.exists(), "the net removes the leaked cgroup");
}

#[test]
fn net_passes_when_the_runtime_deleted_everything() {
    let mut bundle = Bundle::new("net-clean");
    let rt = Runtime::at(RUNC);
    let id = unique_id("net-clean");
    let pid = running_sleeper(&rt, &mut bundle, &id);
    // Left running for the net: runc's own kill and delete remove it all.
    drop(rt);
    assert!(!pid_alive(pid));
}

#[test]
fn a_bundle_dropped_before_its_runtime_stops_the_containers_first() {
    let rt = Runtime::at(RUNC);
    let mut bundle = Bundle::new("net-order");
    let id = unique_id("net-order");
    let pid = running_sleeper(&rt, &mut bundle, &id);
    let dir = bundle.path().to_path_buf();
    drop(bundle);
    assert!(
        !pid_alive(pid),
        "the bundle's drop ran the runtime's cleanup"
    );
    assert!(rt.container_ids().is_empty());
    assert!(!dir.exists());
}

/// Only the containers of the dropped bundle go: another container of the
/// same runtime is still its test's (before, the whole runtime was cleaned,
/// and a test that dropped a scratch bundle lost its main container).
#[test]
fn a_bundle_dropped_leaves_the_runtime_s_other_containers_running() {
    let rt = Runtime::at(RUNC);
    let mut kept = Bundle::new("net-kept");
    let kept_id = unique_id("net-kept");
    let kept_pid = running_sleeper(&rt, &mut kept, &kept_id);
    let mut scratch = Bundle::new("net-scratch");
    let scratch_id = unique_id("net-scratch");
    let scratch_pid = running_sleeper(&rt, &mut scratch, &scratch_id);
    drop(scratch);
    assert!(
        !pid_alive(scratch_pid),
        "the dropped bundle's container goes"
    );
    assert!(pid_alive(kept_pid), "the other container stays");
    assert_eq!(rt.container_ids(), vec![kept_id]);
}

#[test]
fn snapshot_sees_a_mount_stacked_on_an_old_mount_point() {
    let bundle = Bundle::new("stacked");
    let target = bundle.rootfs().join("mnt");
    let tmpfs = |t: &Path| {
        nix::mount::mount(
            Some("tmpfs"),
            t,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap()
    };
    tmpfs(&target);
    let snap = HostSnapshot::take();
    tmpfs(&target);
    let leaks = snap.leaks(&[bundle.path_str()]);
    for _ in 0..2 {
        nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH).unwrap();
    }
    assert_eq!(leaks, vec![format!("mount {}", target.display())]);
}

#[test]
fn net_sees_runoci_records_a_lost_record_leaves_the_init_and_its_cgroups() {
    // runoci's create + start: no monitor to notice the lost record.
    assert_net_finds_a_lost_record(Runtime::runoci(), "net-runoci");
}
