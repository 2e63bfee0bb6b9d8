//! Input and privilege hygiene: container ids that could leave the state
//! root, the state directory's mode, hooks' environment, and LSM settings
//! on a host without the LSM.

mod common;

use common::assert_fails_with;
use runoci_tests::{unique_id, Bundle, Runtime};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;

#[test]
fn container_ids_that_could_leave_the_state_root_are_refused() {
    let bundle = Bundle::new("ids");
    let rt = Runtime::runoci();
    let parent = rt.root().parent().unwrap().to_path_buf();
    for bad in [
        "a/b",
        "..",
        "../escaped",
        ".",
        "-leading-dash",
        "x/../../y",
        "a\tb",
        ".hidden",
    ] {
        // A leading dash can only get past the option parser after `--`,
        // which run and create take for extra arguments.
        let mut cmds = vec![vec!["state", "--", bad], vec!["delete", "--", bad]];
        if !bad.starts_with('-') {
            cmds.push(vec!["run", "-c", bundle.path_str(), bad]);
            cmds.push(vec!["create", "--bundle", bundle.path_str(), bad]);
            cmds.push(vec!["start", "-c", bundle.path_str(), bad]);
        }
        for cmd in cmds {
            let out = rt.run(&cmd);
            assert_fails_with(&out, "invalid container id");
        }
    }
    // NUL cannot be passed in argv at all (runoci_core::ids has a unit test).
    for escaped in ["escaped", "y", "a", "x"] {
        assert!(
            !parent.join(escaped).exists(),
            "{escaped} was created next to the root"
        );
    }
    assert!(rt.container_ids().is_empty(), "{:?}", rt.container_ids());
}

#[test]
fn state_dir_is_private_to_root() {
    let mut bundle = Bundle::new("statedir");
    bundle.set_args(&["sleep", "1000"]);
    let rt = Runtime::runoci();
    let id = unique_id("statedir");
    rt.run(["create", "--bundle", bundle.path_str(), &id])
        .assert_ok();
    let mode = std::fs::metadata(rt.root().join(&id))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o700, "state dir mode {mode:o}");
    // Starting from a fresh root directory runoci makes itself.
    let fresh = rt.root().join("nested-root");
    let fresh_rt = |args: &[&str]| {
        let mut c = std::process::Command::new(rt.bin());
        c.arg("--root").arg(&fresh).args(args);
        runoci_tests::run_command(&mut c, b"", runoci_tests::default_timeout())
    };
    fresh_rt(&["create", "--bundle", bundle.path_str(), &unique_id("sd2")]).assert_ok();
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o7777;
    assert!(
        mode & 0o077 == 0,
        "a root runoci creates must not be open to others: {mode:o}"
    );
    for e in std::fs::read_dir(&fresh).unwrap().flatten() {
        let id = e.file_name().into_string().unwrap();
        fresh_rt(&["delete", "--force", &id]);
    }
}

#[test]
fn hooks_see_a_scrubbed_environment_unless_env_is_given() {
    let mut bundle = Bundle::new("hookenv");
    let out_dir = bundle.path().join("hook-out");
    std::fs::create_dir(&out_dir).unwrap();
    let a = out_dir.join("scrubbed");
    let b = out_dir.join("given");
    bundle.config_mut()["hooks"] = json!({
        "prestart": [
            { "path": "/bin/sh", "args": ["sh", "-c", format!("env | sort > {}", a.display())] },
            { "path": "/bin/sh", "args": ["sh", "-c", format!("env | sort > {}", b.display())],
              "env": ["ONLY=this", "PATH=/usr/bin:/bin"] }
        ]
    });
    bundle.set_args(&["true"]);
    let rt = Runtime::runoci();
    let id = unique_id("hookenv");
    let mut cmd = rt.cmd(["run", "-c", bundle.path_str(), &id]);
    cmd.env("SECRET_FROM_CALLER", "leak")
        .env("LD_PRELOAD", "/tmp/evil.so");
    runoci_tests::run_command(&mut cmd, b"", runoci_tests::default_timeout()).assert_ok();
    let scrubbed = std::fs::read_to_string(&a).unwrap();
    let names: Vec<&str> = scrubbed
        .lines()
        .filter_map(|l| l.split('=').next())
        .filter(|n| !["PWD", "SHLVL", "_", "OLDPWD"].contains(n)) // the shell's own
        .collect();
    assert_eq!(names, ["PATH"], "hook without env saw: {scrubbed}");
    let given = std::fs::read_to_string(&b).unwrap();
    let vars: Vec<&str> = given
        .lines()
        .filter(|l| {
            !["PWD=", "SHLVL=", "_=", "OLDPWD="]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect();
    assert_eq!(
        vars,
        ["ONLY=this", "PATH=/usr/bin:/bin"],
        "hook with env saw: {given}"
    );
}

fn lsm_enabled(which: &str) -> bool {
    match which {
        "apparmor" => std::path::Path::new("/sys/kernel/security/apparmor").exists(),
        _ => std::path::Path::new("/sys/fs/selinux/enforce").exists(),
    }
}

/// `linux.mountLabel` on a host without SELinux: there is nothing to label
/// with; the container runs and the runtime warns, as crun does (runc
/// ignores it silently). `check` says the same.
#[test]
fn mount_label_without_selinux_is_ignored_with_a_warning() {
    assert!(
        !lsm_enabled("selinux"),
        "this test proves the no-SELinux path; SELinux is enabled on this host"
    );
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("mountlabel");
    bundle.config_mut()["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
    bundle.set_args(&[
        "sh",
        "-c",
        "grep -c context= /proc/self/mountinfo; echo ran",
    ]);
    let id = unique_id("mountlabel");
    let out = rt.run(["run", "--bundle", bundle.path_str(), &id]);
    out.assert_ok();
    assert_eq!(
        out.stdout, "0\nran\n",
        "expected the container to run with no context= mount option"
    );
    assert!(
        out.stderr.lines().any(|l| l.contains("linux.mountLabel")
            && l.contains("ignored: SELinux is not enabled on this host")),
        "expected one warning line naming linux.mountLabel\n{out}"
    );
    let check = rt.run(["check"]);
    assert!(
        check
            .stdout
            .lines()
            .any(|l| l.contains("linux.mountLabel") && l.contains("ignored")),
        "expected `check` to say a mountLabel is ignored\n{check}"
    );
}

#[test]
fn lsm_settings_on_a_host_without_the_lsm_fail_clearly() {
    let rt = Runtime::runoci();
    let cases = [
        (
            "apparmor",
            "process",
            "apparmorProfile",
            "process.apparmorProfile \"runoci-test\": AppArmor is not enabled on this host",
        ),
        (
            "selinux",
            "process",
            "selinuxLabel",
            "process.selinuxLabel \"runoci-test\": SELinux is not enabled on this host",
        ),
    ];
    for (lsm, section, key, message) in cases {
        assert!(
            !lsm_enabled(lsm),
            "this test proves the error path; {lsm} is enabled on this host"
        );
        let mut bundle = Bundle::new("lsm");
        bundle.config_mut()[section][key] = json!("runoci-test");
        bundle.set_args(&["true"]);
        let id = unique_id("lsm");
        let out = rt.run(["run", "-c", bundle.path_str(), &id]);
        assert_fails_with(&out, message);
        // exec of a process with the setting fails the same way.
        if section == "process" {
            let mut b2 = Bundle::new("lsm-exec");
            b2.set_args(&["sleep", "1000"]);
            let id = unique_id("lsm-x");
            rt.run(["create", "--bundle", b2.path_str(), &id])
                .assert_ok();
            rt.run(["start", &id]).assert_ok();
            let mut p = b2.config()["process"].clone();
            p[key] = json!("runoci-test");
            p["args"] = json!(["true"]);
            let pf = b2.path().join("process.json");
            std::fs::write(&pf, p.to_string()).unwrap();
            let out = rt.run(["exec", "--process", pf.to_str().unwrap(), &id]);
            assert_fails_with(&out, message);
        }
    }
}

/// `exec --apparmor` and `exec --process-label` (runc's flags) set the
/// exec'd process's labels: on this host, without either LSM, they are
/// refused exactly as the same labels in config.json are, and a plain
/// exec still works.
#[test]
fn exec_label_flags_are_applied_to_the_process_not_dropped() {
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("lsm-flags");
    bundle.set_args(&["sleep", "1000"]);
    let id = unique_id("lsm-f");
    rt.run(["create", "--bundle", bundle.path_str(), &id])
        .assert_ok();
    rt.run(["start", &id]).assert_ok();
    for (lsm, flag, message) in [
        (
            "apparmor",
            "--apparmor",
            "process.apparmorProfile \"runoci-test\": AppArmor is not enabled on this host",
        ),
        (
            "selinux",
            "--process-label",
            "process.selinuxLabel \"runoci-test\": SELinux is not enabled on this host",
        ),
    ] {
        assert!(
            !lsm_enabled(lsm),
            "this test proves the error path; {lsm} is enabled on this host"
        );
        let out = rt.run(["exec", flag, "runoci-test", &id, "true"]);
        assert_fails_with(&out, message);
    }
    rt.run(["exec", &id, "true"]).assert_ok();
}
