//! Rootless podman, run by a plain user with subordinate ids
//! ([`runoci_tests::rootless`]): podman runs the runtime as root of a user
//! namespace of its own (its subordinate ids mapped), where mknod and
//! cgroup writes are not allowed, with no `--root` (state under
//! `$XDG_RUNTIME_DIR`). Each test does the same with crun and with runoci
//! and asserts the same outcome.

use std::path::Path;

use runoci_tests::engines::PODMAN_ULIMITS;
use runoci_tests::rootless::RootlessPodman;
use runoci_tests::{runoci_bin, unique_id, Output};

const CRUN: &str = "/usr/bin/crun";

/// The runtimes compared: crun first (the expected), then runoci.
fn runtimes() -> [&'static Path; 2] {
    [Path::new(CRUN), runoci_bin()]
}

/// `run_rm` with each runtime; asserts both succeed with the same stdout,
/// which is returned.
#[track_caller]
fn same_output(p: &RootlessPodman, opts: &[&str], cmd: &[&str]) -> String {
    let [crun, runoci]: [Output; 2] = runtimes().map(|rt| p.run_rm(rt, opts, cmd));
    crun.assert_ok();
    runoci.assert_ok();
    assert_eq!(
        runoci.stdout, crun.stdout,
        "runoci and crun differ\ncrun:\n{crun}\nrunoci:\n{runoci}"
    );
    runoci.stdout
}

#[test]
fn rootless_podman_run_rm_maps_the_subordinate_ids_and_prints_the_output() {
    let p = RootlessPodman::new("rlp-run");
    let out = same_output(
        &p,
        &[],
        &[
            "sh",
            "-c",
            "echo hello; id -u; cat /proc/self/uid_map; ls /dev/null /dev/zero /dev/pts/ptmx; exit 0",
        ],
    );
    let uid = p.session.user.uid.to_string();
    assert!(out.starts_with("hello\n0\n"), "{out}");
    assert!(
        runoci_tests::word_lines(&out)
            .iter()
            .any(|l| l.as_slice() == ["0", uid.as_str(), "1"]),
        "root of the container is the plain user\n{out}"
    );
    // The exit code comes back the same too.
    for rt in runtimes() {
        p.run_rm(rt, &[], &["sh", "-c", "exit 3"]).assert_code(3);
    }
}

#[test]
fn rootless_podman_detached_exec_stop_rm() {
    let p = RootlessPodman::new("rlp-life");
    for rt in runtimes() {
        let name = unique_id("rlp-life");
        let mut args = vec!["run", "-d", "--name", &name, "--net", "none"];
        args.extend(PODMAN_ULIMITS);
        args.extend([
            p.image.as_str(),
            "sh",
            "-c",
            "trap 'exit 42' TERM; echo started; while :; do sleep 0.1; done",
        ]);
        p.run(rt, &args).assert_ok();
        p.run(
            rt,
            &["exec", &name, "sh", "-c", "echo in-exec $(id -u); exit 4"],
        )
        .assert_code(4)
        .assert_stdout_eq("in-exec 0\n");
        p.run(rt, &["stop", "-t", "30", &name]).assert_ok();
        p.run(rt, &["inspect", "--format", "{{.State.ExitCode}}", &name])
            .assert_ok()
            .assert_stdout_eq("42\n");
        p.run(rt, &["logs", &name])
            .assert_ok()
            .assert_stdout_eq("started\n");
        p.run(rt, &["rm", &name]).assert_ok();
        p.run(rt, &["container", "exists", &name]).assert_code(1);
    }
}

#[test]
fn rootless_podman_userns_keep_id_runs_as_the_user() {
    let p = RootlessPodman::new("rlp-keepid");
    let out = same_output(
        &p,
        &["--userns", "keep-id"],
        &["sh", "-c", "id -u; id -g; cat /proc/self/uid_map"],
    );
    let (uid, gid) = (p.session.user.uid, p.session.user.gid);
    assert!(out.starts_with(&format!("{uid}\n{gid}\n")), "{out}");
}

#[test]
fn rootless_podman_volume_is_written_as_the_user() {
    let p = RootlessPodman::new("rlp-vol");
    let vol = p.session.dir.join("vol");
    p.session.user_dir(&vol);
    let opt = format!("{}:/data", vol.display());
    for (i, rt) in runtimes().into_iter().enumerate() {
        p.run_rm(
            rt,
            &["-v", &opt],
            &["sh", "-c", &format!("echo from-{i} > /data/f{i}")],
        )
        .assert_ok();
        let file = vol.join(format!("f{i}"));
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            format!("from-{i}\n")
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().uid(),
            p.session.user.uid,
            "root of the container writes as the plain user"
        );
    }
}

#[test]
fn rootless_podman_read_only_rootfs() {
    let p = RootlessPodman::new("rlp-ro");
    let out = same_output(
        &p,
        &["--read-only"],
        &[
            "sh",
            "-c",
            "touch /x 2>/dev/null && echo root-writable; touch /tmp/y && echo tmp-writable",
        ],
    );
    assert_eq!(out, "tmp-writable\n");
}
