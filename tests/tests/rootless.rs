//! An unprivileged caller (uid 65534 here) runs a container in a user
//! namespace mapping itself to root. Without a delegated cgroup it runs
//! without one and says so; a config that asks for limits is refused with
//! a clear message, leaving nothing behind.

use runoci_tests::{run_command, runoci_bin, test_dir, unique_id, Bundle, HostSnapshot};
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
        out.stderr.contains("linux.resources") && out.stderr.contains("delegate"),
        "the error names the field and the fix\n{out}"
    );
    before.assert_nothing_leaked(&[&id, bundle.path_str()]);
}
