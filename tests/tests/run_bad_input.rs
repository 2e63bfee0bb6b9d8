//! `runoci run` on bad input: every broken config of
//! `runoci-core/tests/fixtures/bad` (its `expected.txt` gives the message), and
//! failures only the runtime can see (rootfs, program, hooks, mount
//! sources, ids, a symlinked config). Each must exit non-zero with its
//! message on one stderr line and leave no mount, process or cgroup.

mod common;

use common::assert_fails_with;
use runoci_tests::{unique_id, workspace_root, Bundle, HostSnapshot, Output, Runtime};
use serde_json::json;
use std::fs;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    workspace_root().join("runoci-core/tests/fixtures/bad")
}

/// `expected.txt`: (file name, expected message) per line.
fn expected_table() -> Vec<(String, String)> {
    let path = fixtures().join("expected.txt");
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, msg) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("{}: no TAB in {l:?}", path.display()));
            (name.to_string(), msg.to_string())
        })
        .collect()
}

/// Runs `runoci run` on `bundle` and checks: failure, `needle` on one
/// stderr line, nothing leaked.
#[track_caller]
fn run_expecting_failure(bundle: &Bundle, rt: &Runtime, id: &str, needle: &str) -> Output {
    let snap = HostSnapshot::take();
    let out = rt.run(["run", "-c", bundle.path_str(), id]);
    assert_fails_with(&out, needle);
    snap.assert_nothing_leaked(&[id, bundle.path_str(), rt.root_str()]);
    out
}

/// A bundle whose config.json is the fixture `name`, run: it must fail
/// with the table's message, on the same line as the config's path.
fn check_fixture(name: &str) {
    let table = expected_table();
    let expected = &table
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} is not in expected.txt"))
        .1;
    let bundle = Bundle::new(name);
    let rt = Runtime::runoci();
    let text = fs::read(fixtures().join(name)).unwrap();
    // Raw bytes: some fixtures are not valid JSON.
    fs::write(bundle.config_path(), text).unwrap();
    let id = unique_id("bad");
    let out = run_expecting_failure(&bundle, &rt, &id, expected);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains(expected.as_str()))
        .unwrap_or("");
    let prefix = format!("{}: ", bundle.config_path().display());
    assert!(
        line.contains(&prefix),
        "expected the message to name the file ({prefix:?}), saw {line:?}"
    );
    assert!(
        rt.container_ids().is_empty(),
        "expected no state for a refused config, saw {:?}",
        rt.container_ids()
    );
}

macro_rules! bad_config {
    ($test:ident, $file:literal) => {
        #[test]
        fn $test() {
            check_fixture($file);
        }
    };
}

bad_config!(
    refuses_bad_json_missing_comma,
    "bad-json-missing-comma.json"
);
bad_config!(refuses_bad_json_truncated, "bad-json-truncated.json");
bad_config!(refuses_bad_json_trailing, "bad-json-trailing.json");
bad_config!(refuses_not_an_object, "not-an-object.json");
bad_config!(refuses_wrong_type_uid, "wrong-type-uid.json");
bad_config!(refuses_wrong_type_args, "wrong-type-args.json");
bad_config!(
    refuses_wrong_type_gid_negative,
    "wrong-type-gid-negative.json"
);
bad_config!(refuses_missing_oci_version, "missing-oci-version.json");
bad_config!(
    refuses_unsupported_oci_version,
    "unsupported-oci-version.json"
);
bad_config!(refuses_missing_root, "missing-root.json");
bad_config!(refuses_missing_root_path, "missing-root-path.json");
bad_config!(refuses_empty_root_path, "empty-root-path.json");
bad_config!(refuses_missing_process, "missing-process.json");
bad_config!(refuses_missing_process_args, "missing-process-args.json");
bad_config!(refuses_empty_process_args, "empty-process-args.json");
bad_config!(refuses_relative_cwd, "relative-cwd.json");
bad_config!(refuses_env_without_equals, "env-without-equals.json");
bad_config!(refuses_env_empty_name, "env-empty-name.json");
bad_config!(refuses_unknown_capability, "unknown-capability.json");
bad_config!(
    refuses_capability_without_prefix,
    "capability-without-prefix.json"
);
bad_config!(refuses_unknown_rlimit, "unknown-rlimit.json");
bad_config!(refuses_duplicate_rlimit, "duplicate-rlimit.json");
bad_config!(
    refuses_rlimit_soft_above_hard,
    "rlimit-soft-above-hard.json"
);
bad_config!(refuses_unknown_securebit, "unknown-securebit.json");
bad_config!(refuses_unknown_propagation, "unknown-propagation.json");
bad_config!(refuses_unknown_namespace, "unknown-namespace.json");
bad_config!(refuses_duplicate_namespace, "duplicate-namespace.json");
bad_config!(
    refuses_relative_namespace_path,
    "relative-namespace-path.json"
);
bad_config!(
    refuses_user_ns_without_mappings,
    "user-ns-without-mappings.json"
);
bad_config!(
    refuses_user_ns_without_gid_mappings,
    "user-ns-without-gid-mappings.json"
);
bad_config!(refuses_mapping_size_zero, "mapping-size-zero.json");
bad_config!(
    refuses_mapping_beyond_id_range,
    "mapping-beyond-id-range.json"
);
bad_config!(refuses_invalid_hostname, "invalid-hostname.json");
bad_config!(refuses_hostname_leading_dash, "hostname-leading-dash.json");
bad_config!(refuses_invalid_domainname, "invalid-domainname.json");
bad_config!(refuses_hostname_without_uts, "hostname-without-uts.json");
bad_config!(
    refuses_relative_mount_destination,
    "relative-mount-destination.json"
);
bad_config!(
    refuses_mount_destination_dotdot,
    "mount-destination-dotdot.json"
);
bad_config!(refuses_hook_relative_path, "hook-relative-path.json");
bad_config!(refuses_hook_timeout_zero, "hook-timeout-zero.json");
bad_config!(
    refuses_hook_env_without_equals,
    "hook-env-without-equals.json"
);
bad_config!(refuses_device_bad_type, "device-bad-type.json");
bad_config!(refuses_device_relative_path, "device-relative-path.json");
bad_config!(
    refuses_cgroup_device_bad_access,
    "cgroup-device-bad-access.json"
);
bad_config!(
    refuses_cgroup_device_bad_type,
    "cgroup-device-bad-type.json"
);
bad_config!(refuses_sysctl_empty_key, "sysctl-empty-key.json");
bad_config!(refuses_sysctl_dotdot_key, "sysctl-dotdot-key.json");
bad_config!(
    refuses_oom_score_adj_out_of_range,
    "oom-score-adj-out-of-range.json"
);
bad_config!(refuses_masked_path_relative, "masked-path-relative.json");

/// Every fixture in expected.txt has its test above, and every fixture
/// file is in expected.txt.
#[test]
fn every_bad_fixture_is_listed_and_tested() {
    let this = fs::read_to_string(workspace_root().join("tests/tests/run_bad_input.rs")).unwrap();
    let table = expected_table();
    let untested: Vec<&String> = table
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !this.contains(&format!("\"{n}\"")))
        .collect();
    assert!(untested.is_empty(), "fixtures without a test: {untested:?}");
    let mut unlisted = Vec::new();
    for e in fs::read_dir(fixtures()).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.ends_with(".json") && !table.iter().any(|(t, _)| *t == n) {
            unlisted.push(n);
        }
    }
    assert!(
        unlisted.is_empty(),
        "fixtures missing from expected.txt: {unlisted:?}"
    );
    assert!(
        table.len() >= 15,
        "expected at least 15 bad configs, saw {}",
        table.len()
    );
}

#[test]
fn refuses_a_missing_rootfs() {
    let bundle = Bundle::new("no-rootfs");
    let rt = Runtime::runoci();
    fs::remove_dir_all(bundle.rootfs()).unwrap();
    let id = unique_id("norootfs");
    let out = run_expecting_failure(&bundle, &rt, &id, "root.path");
    assert_fails_with(&out, "No such file or directory");
}

#[test]
fn refuses_a_rootfs_that_is_a_file() {
    let bundle = Bundle::new("rootfs-file");
    let rt = Runtime::runoci();
    fs::remove_dir_all(bundle.rootfs()).unwrap();
    fs::write(bundle.rootfs(), "not a directory\n").unwrap();
    let id = unique_id("rootfsfile");
    run_expecting_failure(&bundle, &rt, &id, "root.path");
    let out = run_expecting_failure(&bundle, &rt, &unique_id("rootfsfile"), "not a directory");
    assert!(
        out.stdout.is_empty(),
        "nothing ran, saw stdout {:?}",
        out.stdout
    );
}

#[test]
fn refuses_a_program_not_in_the_rootfs() {
    let mut bundle = Bundle::new("no-program");
    let rt = Runtime::runoci();
    bundle.set_args(&["no-such-program", "arg"]);
    let id = unique_id("noprog");
    let out = run_expecting_failure(&bundle, &rt, &id, "executable file not found");
    assert_fails_with(&out, "no-such-program");
}

#[test]
fn refuses_a_program_path_not_in_the_rootfs() {
    let mut bundle = Bundle::new("no-program-path");
    let rt = Runtime::runoci();
    bundle.set_args(&["/opt/missing/bin/app"]);
    let id = unique_id("noprogpath");
    run_expecting_failure(&bundle, &rt, &id, "/opt/missing/bin/app");
}

#[test]
fn refuses_to_run_when_a_prestart_hook_fails() {
    let mut bundle = Bundle::new("hook-fails");
    let rt = Runtime::runoci();
    let marker = bundle.path().join("program-ran");
    bundle.config_mut()["hooks"] = json!({
        "prestart": [{ "path": "/bin/sh", "args": ["sh", "-c", "exit 1"] }]
    });
    bundle.set_args(&["touch", "/program-ran"]);
    let id = unique_id("hookfails");
    run_expecting_failure(
        &bundle,
        &rt,
        &id,
        "prestart hook [0] /bin/sh: exited with status 1",
    );
    assert!(
        !marker.exists() && !bundle.rootfs().join("program-ran").exists(),
        "expected the program not to run after a failed prestart hook"
    );
}

#[test]
fn refuses_a_bind_mount_whose_source_does_not_exist() {
    let mut bundle = Bundle::new("no-mount-source");
    let rt = Runtime::runoci();
    let missing = bundle.path().join("does-not-exist");
    bundle.config_mut()["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "destination": "/mnt/data", "type": "bind",
            "source": missing.display().to_string(), "options": ["rbind"]
        }));
    let id = unique_id("nomountsrc");
    let out = run_expecting_failure(&bundle, &rt, &id, &missing.display().to_string());
    assert_fails_with(&out, "No such file or directory");
    assert_fails_with(&out, "/mnt/data");
}

#[test]
fn refuses_a_dash_b_source_that_does_not_exist() {
    let bundle = Bundle::new("no-bind-source");
    let rt = Runtime::runoci();
    let missing = bundle.path().join("nope");
    let id = unique_id("nobindsrc");
    let spec = format!("{}:/mnt/x", missing.display());
    let snap = HostSnapshot::take();
    let out = rt.run(["run", "-c", bundle.path_str(), "-b", &spec, &id]);
    assert_fails_with(&out, &format!("-b {spec}"));
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}

#[test]
fn refuses_a_container_id_that_leaves_the_state_root() {
    let bundle = Bundle::new("bad-id");
    let rt = Runtime::runoci();
    for id in ["../x", "a/b", ".."] {
        let out = run_expecting_failure(&bundle, &rt, id, "invalid container id");
        assert_fails_with(&out, &format!("{id:?}"));
    }
    let outside = rt.root().parent().unwrap().join("x");
    assert!(
        !outside.exists(),
        "nothing may be made at {}",
        outside.display()
    );
}

#[test]
fn refuses_a_config_json_that_is_a_symlink() {
    let bundle = Bundle::new("config-symlink");
    let rt = Runtime::runoci();
    let real = bundle.path().join("real-config.json");
    fs::rename(bundle.config_path(), &real).unwrap();
    std::os::unix::fs::symlink(&real, bundle.config_path()).unwrap();
    let id = unique_id("cfglink");
    let out = run_expecting_failure(&bundle, &rt, &id, "config.json");
    assert_fails_with(&out, "symlink");
}

#[test]
fn refuses_a_missing_config_json() {
    let bundle = Bundle::new("no-config");
    let rt = Runtime::runoci();
    fs::remove_file(bundle.config_path()).unwrap();
    let id = unique_id("nocfg");
    let out = run_expecting_failure(&bundle, &rt, &id, "config.json");
    assert_fails_with(&out, "No such file or directory");
}

#[test]
fn refuses_a_mount_destination_through_a_symlink_out_of_the_rootfs() {
    let mut bundle = Bundle::new("mount-escape");
    let rt = Runtime::runoci();
    let outside = bundle.path().join("outside");
    fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, bundle.rootfs().join("mnt/escape")).unwrap();
    bundle.config_mut()["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "destination": "/mnt/escape/t", "type": "tmpfs", "source": "tmpfs"
        }));
    bundle.set_args(&["true"]);
    let id = unique_id("mountescape");
    let snap = HostSnapshot::take();
    let out = rt.run(["run", "-c", bundle.path_str(), &id]);
    // The symlink is resolved inside the rootfs, where its target does not
    // exist: the run is refused, naming the mount, and nothing is made on
    // the host's directory.
    out.assert_failed()
        .assert_stderr_contains("on /mnt/escape/t");
    assert!(
        !outside.join("t").exists(),
        "expected the mount target to stay inside the rootfs, it was made on the host\n{out}"
    );
    snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
}
