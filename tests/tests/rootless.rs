//! An unprivileged caller (uid 65534 here) runs a container in a user
//! namespace mapping itself to root. Without a delegated cgroup it runs
//! without one and says so; a config that asks for limits is refused with
//! a clear message, leaving nothing behind.
//!
//! A plain user with subordinate ids and a session of its own
//! ([`runoci_tests::rootless`]) runs the configs `runoci spec` writes with
//! no `--root`: the state is kept under its `$XDG_RUNTIME_DIR/runoci`.

use runoci_tests::rootless::Session;
use runoci_tests::{
    busybox_rootfs, run_command, runoci_bin, test_dir, unique_id, word_lines, Bundle, HostSnapshot,
    Output,
};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

const NOBODY: u32 = 65534;

/// A state root the unprivileged user can write; removed on drop.
struct UserRoot(PathBuf);

impl UserRoot {
    fn new() -> UserRoot {
        let dir = test_dir().join(unique_id("rootless-root"));
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        UserRoot(dir)
    }
}

impl Drop for UserRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rootless_bundle(name: &str) -> Bundle {
    let mut b = Bundle::new(name);
    let c = b.config_mut();
    c["process"]["args"] = json!(["sh", "-c", "id -u; cat /proc/self/uid_map"]);
    c["process"]["capabilities"] = json!(null);
    c["hostname"] = json!(null);
    c["mounts"] = json!([
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}
    ]);
    c["linux"] = json!({
        "namespaces": [{"type": "user"}, {"type": "pid"}, {"type": "mount"}, {"type": "ipc"}],
        "uidMappings": [{"containerID": 0, "hostID": NOBODY, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": NOBODY, "size": 1}]
    });
    b.write_config();
    b
}

/// `runoci` as uid/gid 65534, with no supplementary groups.
fn as_nobody(root: &UserRoot, args: &[&str]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(runoci_bin())
        .arg("--root")
        .arg(&root.0)
        .args(args);
    cmd
}

#[test]
fn unprivileged_caller_runs_without_a_cgroup_and_says_so() {
    let bundle = rootless_bundle("rootless-run");
    let root = UserRoot::new();
    let id = unique_id("rootless");
    let out = run_command(
        &mut as_nobody(&root, &["run", "-c", bundle.path_str(), &id]),
        b"",
        runoci_tests::default_timeout(),
    );
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.first().map(|l| l.trim()),
        Some("0"),
        "root in the user namespace\n{out}"
    );
    assert!(
        out.stdout
            .split_whitespace()
            .collect::<Vec<_>>()
            .ends_with(&["0", "65534", "1"]),
        "uid_map maps 0 to the caller's uid 65534\n{out}"
    );
    assert!(
        out.stderr.contains("running without a cgroup") && out.stderr.contains("uid 65534"),
        "a warning must say the container has no cgroup and why\n{out}"
    );
}

/// The run_oci way: an unprivileged `run -u` with no --root. The default
/// root is not the caller's to write, so the container runs without a
/// record (as the reference's `run` does) rather than failing.
#[test]
fn unprivileged_run_with_the_default_root_runs_without_a_record() {
    let bundle = rootless_bundle("rootless-defroot");
    let id = unique_id("rootless-defroot");
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(runoci_bin())
        .args(["--debug", "run", "-u", "-c", bundle.path_str(), &id]);
    let out = run_command(&mut cmd, b"", runoci_tests::default_timeout());
    out.assert_ok();
    assert_eq!(
        out.stdout.lines().next().map(str::trim),
        Some("0"),
        "root in the user namespace\n{out}"
    );
    // uid 65534 cannot write the default root: runoci says it runs without
    // a record (rather than failing, or recording it somewhere else).
    assert!(
        out.stderr
            .contains(&format!("container {id}: running without a record")),
        "expected runoci to take the no-record path\n{out}"
    );
}

#[test]
fn unprivileged_caller_asking_for_limits_gets_a_clear_error_and_nothing_is_left() {
    let mut bundle = rootless_bundle("rootless-limits");
    bundle.config_mut()["linux"]["resources"] = json!({"pids": {"limit": 10}});
    bundle.write_config();
    let root = UserRoot::new();
    let id = unique_id("rootless-limits");
    let before = HostSnapshot::take();
    let out = run_command(
        &mut as_nobody(&root, &["run", "-c", bundle.path_str(), &id]),
        b"",
        runoci_tests::default_timeout(),
    );
    out.assert_failed();
    assert!(
        out.stderr.contains("linux.resources.pids: ") && out.stderr.contains("delegate"),
        "the error names the field and the fix\n{out}"
    );
    before.assert_nothing_leaked(&[&id, bundle.path_str()]);
}

/// A bundle directory the session's user owns (so `runoci spec` can write
/// there) with a busybox rootfs (root's, read-only to the user).
fn user_bundle(s: &Session) -> PathBuf {
    let dir = s.dir.join("bundle");
    s.user_dir(&dir);
    busybox_rootfs(&dir.join("rootfs")).unwrap();
    dir
}

/// `runoci ARGS` as the session's user, from `bundle`, no `--root`.
fn runoci_as(s: &Session, bundle: &std::path::Path, args: &[&str]) -> Output {
    let mut c = s.cmd(runoci_bin(), args);
    c.current_dir(bundle);
    run_command(&mut c, b"", runoci_tests::default_timeout())
}

/// Edits `bundle`'s config.json as root; the user keeps owning it.
fn edit_config(s: &Session, bundle: &std::path::Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = bundle.join("config.json");
    let mut c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut c);
    std::fs::write(&path, c.to_string()).unwrap();
    std::os::unix::fs::chown(&path, Some(s.user.uid), Some(s.user.gid)).unwrap();
}

/// `runoci destroy --force ID` as the session's user on drop (a failed
/// assertion leaves no container running).
struct DestroyAs<'a>(&'a Session, &'a str);

impl Drop for DestroyAs<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(runoci_bin(), &["destroy", "--force", self.1]);
    }
}

#[test]
fn plain_user_runs_the_default_spec_with_run_u() {
    let s = Session::new("rl-run-u");
    let bundle = user_bundle(&s);
    runoci_as(&s, &bundle, &["spec"]).assert_ok();
    let id = unique_id("rl-run-u");
    // runc's template mounts a devpts with gid=5, which `-u` (only the
    // caller, as root) does not map: the option is dropped, the mount made.
    let out = runoci_as(
        &s,
        &bundle,
        &[
            "run",
            "-u",
            "-c",
            ".",
            &id,
            "--",
            "-c",
            "id -u; id -g; cat /proc/self/uid_map; ls /dev/pts/ptmx; grep -c devpts /proc/mounts",
        ],
    );
    out.assert_ok();
    let uid = s.user.uid.to_string();
    let lines = word_lines(&out.stdout);
    assert_eq!(lines[..2], [vec!["0"], vec!["0"]], "root inside\n{out}");
    assert_eq!(
        lines[2],
        ["0", uid.as_str(), "1"],
        "only the caller mapped\n{out}"
    );
    assert_eq!(lines[3], ["/dev/pts/ptmx"], "a devpts of its own\n{out}");
    // Recorded under the session's runtime dir while it ran, gone after.
    runoci_as(&s, &bundle, &["list", "-q"])
        .assert_ok()
        .assert_stdout_eq("");
    assert!(s.xdg_runtime_dir.join("runoci").is_dir(), "{out}");
}

#[test]
fn plain_user_spec_rootless_start_kill_destroy_keeps_state_under_xdg_runtime_dir() {
    let s = Session::new("rl-start");
    let bundle = user_bundle(&s);
    runoci_as(&s, &bundle, &["spec", "--rootless"]).assert_ok();
    // `run` in the foreground first.
    edit_config(&s, &bundle, |c| {
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(["sh", "-c", "echo ran"]);
    });
    runoci_as(&s, &bundle, &["run", "-c", ".", &unique_id("rl-spec")])
        .assert_ok()
        .assert_stdout_eq("ran\n");
    edit_config(&s, &bundle, |c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "trap 'exit 7' TERM; while :; do sleep 0.1; done"
        ]);
    });

    let id = unique_id("rl-start");
    let _guard = DestroyAs(&s, &id);
    runoci_as(&s, &bundle, &["start", "-c", ".", &id]).assert_ok();
    let dir = s.xdg_runtime_dir.join("runoci").join(&id);
    assert!(
        dir.join("monitor.sock").exists(),
        "the record and the monitor's socket are under XDG_RUNTIME_DIR: {}",
        dir.display()
    );
    let state = |s: &Session| {
        let out = runoci_as(s, &bundle, &["state", &id]);
        out.assert_ok();
        out.json()["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(state(&s), "running");
    runoci_as(&s, &bundle, &["kill", "-S", "TERM", &id]).assert_ok();
    let deadline = std::time::Instant::now() + runoci_tests::default_timeout();
    while state(&s) != "stopped" {
        assert!(
            std::time::Instant::now() < deadline,
            "{id} not stopped after TERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    runoci_as(&s, &bundle, &["destroy", &id]).assert_ok();
    assert!(!dir.exists(), "destroy removes the record");
}

#[test]
fn plain_user_maps_its_subordinate_ids_through_newuidmap() {
    let s = Session::new("rl-subids");
    let bundle = user_bundle(&s);
    runoci_as(&s, &bundle, &["spec", "--rootless"]).assert_ok();
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap();
    let start: u32 = subuid
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{}:", runoci_tests::rootless::USER)))
        .and_then(|rest| rest.split(':').next()?.parse().ok())
        .expect("the plain user has subordinate uids");
    let (uid, gid) = (s.user.uid, s.user.gid);
    edit_config(&s, &bundle, |c| {
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"]);
        c["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": uid, "size": 1},
            {"containerID": 1, "hostID": start, "size": 1000}
        ]);
        c["linux"]["gidMappings"] = json!([
            {"containerID": 0, "hostID": gid, "size": 1},
            {"containerID": 1, "hostID": start, "size": 1000}
        ]);
    });
    let id = unique_id("rl-subids");
    let out = runoci_as(&s, &bundle, &["run", "-c", ".", &id]);
    out.assert_ok();
    let start = start.to_string();
    let lines = word_lines(&out.stdout);
    for (i, id) in [uid, gid].into_iter().enumerate() {
        let id = id.to_string();
        assert_eq!(lines[2 * i], ["0", id.as_str(), "1"], "{out}");
        assert_eq!(lines[2 * i + 1], ["1", start.as_str(), "1000"], "{out}");
    }
    // A range that is not the user's: newuidmap's refusal, naming the field.
    edit_config(&s, &bundle, |c| {
        c["linux"]["uidMappings"][1]["hostID"] = json!(10);
    });
    let out = runoci_as(&s, &bundle, &["run", "-c", ".", &unique_id("rl-subids")]);
    out.assert_failed();
    assert!(
        out.stderr.contains("linux.uidMappings") && out.stderr.contains("newuidmap"),
        "{out}"
    );
}

#[test]
fn plain_user_without_xdg_runtime_dir_is_told_to_set_it_or_pass_root() {
    let s = Session::new("rl-noxdg");
    let bundle = user_bundle(&s);
    runoci_as(&s, &bundle, &["spec", "--rootless"]).assert_ok();
    let id = unique_id("rl-noxdg");
    for xdg in [None, Some("/nonexistent/runtime-dir")] {
        let mut c = s.cmd(runoci_bin(), &["start", "-c", ".", &id]);
        c.current_dir(&bundle);
        match xdg {
            Some(dir) => c.env("XDG_RUNTIME_DIR", dir),
            None => c.env_remove("XDG_RUNTIME_DIR"),
        };
        let out = run_command(&mut c, b"", runoci_tests::default_timeout());
        out.assert_failed();
        assert!(
            out.stderr.contains("XDG_RUNTIME_DIR") && out.stderr.contains("--root"),
            "the error names the variable and the way out\n{out}"
        );
    }
    assert!(!s.xdg_runtime_dir.join("runoci").exists(), "nothing made");
}
