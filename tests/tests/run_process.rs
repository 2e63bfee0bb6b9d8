//! `runoci run`: the container's process as the program sees it — PID 1,
//! hostname, user and groups, umask, environment, cwd, capabilities,
//! rlimits, file descriptors, extra arguments. Each test starts a real
//! busybox container and checks from inside.

mod common;

use common::{run_sh, run_sh_ok, status_field};
use runoci_tests::{unique_id, Bundle, Runtime};
use serde_json::json;

#[test]
fn program_is_pid_1() {
    let mut bundle = Bundle::new("pid1");
    let rt = Runtime::runoci();
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "pid1",
        "echo $$; cat /proc/1/cmdline | tr '\\0' ' '",
    );
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("1"),
        "expected `echo $$` to print 1, saw {out:?}"
    );
    let cmdline = lines.next().unwrap_or("");
    assert!(
        cmdline.starts_with("sh -c echo $$"),
        "expected PID 1's cmdline to be the configured program `sh -c ...`, saw {cmdline:?}"
    );
}

#[test]
fn hostname_comes_from_the_config() {
    let mut bundle = Bundle::new("hostname");
    let rt = Runtime::runoci();
    bundle.config_mut()["hostname"] = json!("box-42.example");
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "hostname",
        "hostname; cat /proc/sys/kernel/hostname",
    );
    assert_eq!(
        out, "box-42.example\nbox-42.example\n",
        "expected the configured hostname twice (hostname, /proc), saw {out:?}"
    );
    let host = nix::unistd::gethostname().unwrap();
    assert_ne!(
        host.to_str(),
        Some("box-42.example"),
        "the host's hostname must not change"
    );
}

#[test]
fn user_group_and_additional_groups_are_applied() {
    let mut bundle = Bundle::new("user");
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["user"] = json!({
        "uid": 1000, "gid": 1000, "additionalGids": [10, 20, 4242]
    });
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "user",
        "id -u; id -g; grep -E '^(Uid|Gid|Groups):' /proc/1/status",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"1000"),
        "expected `id -u` 1000, saw {out:?}"
    );
    assert_eq!(
        lines.get(1),
        Some(&"1000"),
        "expected `id -g` 1000, saw {out:?}"
    );
    let uid: Vec<&str> = status_field(&out, "Uid")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        uid, ["1000"; 4],
        "expected real/effective/saved/fs uid all 1000, saw {out:?}"
    );
    let gid: Vec<&str> = status_field(&out, "Gid")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(gid, ["1000"; 4], "expected all gids 1000, saw {out:?}");
    let groups: Vec<&str> = status_field(&out, "Groups")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        groups,
        ["10", "20", "4242"],
        "expected supplementary groups exactly additionalGids, saw {out:?}"
    );
}

#[test]
fn root_user_has_no_supplementary_groups_by_default() {
    let mut bundle = Bundle::new("root-groups");
    let rt = Runtime::runoci();
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "rootgroups",
        "id -u; id -g; grep '^Groups:' /proc/1/status",
    );
    let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    assert_eq!(
        lines,
        ["0", "0", "Groups:"],
        "expected uid 0, gid 0 and no supplementary groups (none inherited from the runtime), saw {out:?}"
    );
}

#[test]
fn umask_defaults_to_0022() {
    let mut bundle = Bundle::new("umask-default");
    let rt = Runtime::runoci();
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "umask",
        "umask; touch /tmp/f; stat -c %a /tmp/f",
    );
    assert_eq!(
        out, "0022\n644\n",
        "expected umask 0022 and a new file 644, saw {out:?}"
    );
}

#[test]
fn umask_from_process_user_umask() {
    let mut bundle = Bundle::new("umask-user");
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["user"]["umask"] = json!(0o077);
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "umask",
        "umask; mkdir /tmp/d; stat -c %a /tmp/d",
    );
    assert_eq!(
        out, "0077\n700\n",
        "expected umask 0077 (process.user.umask 63) and a new dir 700, saw {out:?}"
    );
}

#[test]
fn umask_from_run_oci_process_umask() {
    let mut bundle = Bundle::new("umask-process");
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["umask"] = json!(0o027);
    let out = run_sh_ok(&mut bundle, &rt, "umask", "umask");
    assert_eq!(
        out, "0027\n",
        "expected umask 0027 (run_oci process.umask 23), saw {out:?}"
    );
}

#[test]
fn umask_from_process_user_wins_over_process_umask() {
    let mut bundle = Bundle::new("umask-both");
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["umask"] = json!(0o027);
    bundle.config_mut()["process"]["user"]["umask"] = json!(0o002);
    let out = run_sh_ok(&mut bundle, &rt, "umask", "umask");
    assert_eq!(
        out, "0002\n",
        "expected process.user.umask (0002) to win over process.umask (0027), saw {out:?}"
    );
}

#[test]
fn environment_is_exactly_process_env_with_values_containing_equals() {
    let mut bundle = Bundle::new("env");
    let rt = Runtime::runoci();
    let env = [
        "PATH=/bin:/usr/bin",
        "OPTS=a=b,c=d",
        "EMPTY=",
        "SPACED=one two",
    ];
    bundle.config_mut()["process"]["env"] = json!(env);
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "env",
        "tr '\\0' '\\n' < /proc/1/environ; echo \"opts=[$OPTS] empty=[$EMPTY]\"",
    );
    let mut lines: Vec<&str> = out.lines().collect();
    let last = lines.pop().unwrap_or("");
    assert_eq!(
        lines, env,
        "expected PID 1's environment to be exactly process.env, in order, saw {out:?}"
    );
    assert_eq!(
        last, "opts=[a=b,c=d] empty=[]",
        "expected the shell to see OPTS with its '=' signs, saw {out:?}"
    );
}

#[test]
fn cwd_is_process_cwd() {
    let mut bundle = Bundle::new("cwd");
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["cwd"] = json!("/home/user");
    let out = run_sh_ok(&mut bundle, &rt, "cwd", "pwd; readlink /proc/1/cwd");
    assert_eq!(
        out, "/home/user\n/home/user\n",
        "expected cwd /home/user, saw {out:?}"
    );
}

#[test]
fn cwd_that_does_not_exist_is_created() {
    let mut bundle = Bundle::new("cwd-new");
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["cwd"] = json!("/srv/app/data");
    assert!(!bundle.rootfs().join("srv").exists());
    let out = run_sh_ok(&mut bundle, &rt, "cwdnew", "pwd; stat -c %F /srv/app/data");
    assert_eq!(
        out, "/srv/app/data\ndirectory\n",
        "expected the missing cwd to be created as a directory and entered, saw {out:?}"
    );
}

/// Linux capability numbers (include/uapi/linux/capability.h).
fn cap_number(name: &str) -> u32 {
    match name {
        "CAP_CHOWN" => 0,
        "CAP_DAC_OVERRIDE" => 1,
        "CAP_FOWNER" => 3,
        "CAP_KILL" => 5,
        "CAP_SETGID" => 6,
        "CAP_SETUID" => 7,
        "CAP_NET_BIND_SERVICE" => 10,
        "CAP_NET_RAW" => 13,
        "CAP_SYS_CHROOT" => 18,
        "CAP_SYS_ADMIN" => 21,
        "CAP_MKNOD" => 27,
        "CAP_AUDIT_WRITE" => 29,
        other => panic!("add {other} to cap_number"),
    }
}

/// The mask /proc/PID/status prints for a set of capability names.
fn cap_mask(names: &[&str]) -> String {
    let bits = names.iter().fold(0u64, |m, n| m | 1u64 << cap_number(n));
    format!("{bits:016x}")
}

fn cap_lines(out: &str) -> [(&'static str, String); 5] {
    ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .map(|k| (k, status_field(out, k).unwrap_or("missing").to_string()))
}

#[test]
fn capabilities_of_root_match_the_configured_sets() {
    let mut bundle = Bundle::new("caps-root");
    let rt = Runtime::runoci();
    let bounding = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_AUDIT_WRITE",
    ];
    let permitted = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"];
    let inheritable = ["CAP_KILL"];
    bundle.config_mut()["process"]["capabilities"] = json!({
        "bounding": bounding,
        "permitted": permitted,
        "effective": permitted,
        "inheritable": inheritable,
    });
    // noNewPrivileges (default config) keeps root from regaining the
    // bounding set at execve: permitted stays what was configured.
    let out = run_sh_ok(&mut bundle, &rt, "capsroot", "grep ^Cap /proc/1/status");
    let seen = cap_lines(&out);
    let expected = [
        ("CapInh", cap_mask(&inheritable)),
        ("CapPrm", cap_mask(&permitted)),
        ("CapEff", cap_mask(&permitted)),
        ("CapBnd", cap_mask(&bounding)),
        ("CapAmb", cap_mask(&[])),
    ];
    assert_eq!(
        seen, expected,
        "capability masks of PID 1 (expected vs seen), status:\n{out}"
    );
}

#[test]
fn capabilities_of_non_root_come_from_the_ambient_set() {
    let mut bundle = Bundle::new("caps-user");
    let rt = Runtime::runoci();
    let bounding = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_RAW",
        "CAP_AUDIT_WRITE",
    ];
    let permitted = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"];
    let inheritable = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"];
    let ambient = ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"];
    bundle.config_mut()["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    bundle.config_mut()["process"]["capabilities"] = json!({
        "bounding": bounding,
        "permitted": permitted,
        "effective": permitted,
        "inheritable": inheritable,
        "ambient": ambient,
    });
    // A non-root program keeps across execve only what is ambient: its
    // permitted and effective sets are the ambient set.
    let out = run_sh_ok(&mut bundle, &rt, "capsuser", "grep ^Cap /proc/1/status");
    let seen = cap_lines(&out);
    let expected = [
        ("CapInh", cap_mask(&inheritable)),
        ("CapPrm", cap_mask(&ambient)),
        ("CapEff", cap_mask(&ambient)),
        ("CapBnd", cap_mask(&bounding)),
        ("CapAmb", cap_mask(&ambient)),
    ];
    assert_eq!(
        seen, expected,
        "capability masks of PID 1 (expected vs seen), status:\n{out}"
    );
}

#[test]
fn rlimits_set_soft_and_hard_limits() {
    let mut bundle = Bundle::new("rlimits");
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["rlimits"] = json!([
        { "type": "RLIMIT_NOFILE", "soft": 256, "hard": 1000 },
        { "type": "RLIMIT_NPROC", "soft": 300, "hard": 400 }
    ]);
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "rlimits",
        "ulimit -n; ulimit -Hn; grep -E 'Max (open files|processes)' /proc/1/limits",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.get(..2),
        Some(&["256", "1000"][..]),
        "expected `ulimit -n` 256 and `ulimit -Hn` 1000, saw {out:?}"
    );
    let limits = |name: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.starts_with(name))
            .map(|l| {
                l[name.len()..]
                    .split_whitespace()
                    .take(2)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        limits("Max open files"),
        ["256", "1000"],
        "expected NOFILE soft 256 hard 1000 in /proc/1/limits, saw {out:?}"
    );
    assert_eq!(
        limits("Max processes"),
        ["300", "400"],
        "expected NPROC soft 300 hard 400 in /proc/1/limits, saw {out:?}"
    );
}

#[test]
fn no_file_descriptor_beyond_stdio_reaches_the_program() {
    let mut bundle = Bundle::new("fds");
    let rt = Runtime::runoci();
    // PID 1 is sh; `ls` is its child and lists sh's fds, not its own.
    let out = run_sh_ok(&mut bundle, &rt, "fds", "ls /proc/1/fd; true");
    let fds: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        fds,
        ["0", "1", "2"],
        "expected only fds 0 1 2 open in the container's PID 1, saw {out:?}"
    );
}

#[test]
fn extra_args_after_double_dash_are_appended_to_process_args() {
    let mut bundle = Bundle::new("extra-args");
    let rt = Runtime::runoci();
    bundle.set_args(&[
        "sh",
        "-c",
        "for a in \"$@\"; do echo \"[$a]\"; done",
        "sh",
        "first",
    ]);
    let id = unique_id("extra");
    let out = rt.run([
        "run",
        "-c",
        bundle.path_str(),
        &id,
        "--",
        "second",
        "two words",
        "--x",
    ]);
    out.assert_ok();
    assert_eq!(
        out.stdout, "[first]\n[second]\n[two words]\n[--x]\n",
        "expected the config's args then the extra ones, each one argument, saw {:?}",
        out.stdout
    );
}

#[test]
fn program_stdout_and_stderr_are_runocis() {
    let mut bundle = Bundle::new("stdio");
    let rt = Runtime::runoci();
    let out = run_sh(&mut bundle, &rt, "stdio", "echo to-out; echo to-err >&2");
    out.assert_ok();
    assert_eq!(
        out.stdout, "to-out\n",
        "expected stdout passed through, saw {:?}",
        out.stdout
    );
    assert!(
        out.stderr.contains("to-err"),
        "expected stderr passed through, saw {:?}",
        out.stderr
    );
}
