//! `linux.seccomp` from inside real containers: podman's default profile
//! (converted as podman converts it), a KILL action, ERRNO with errnoRet,
//! and a NOTIFY listener at `listenerPath` that receives the filter's fd
//! and answers the container's syscalls.

mod common;

use common::{assert_fails_with, run_sh, run_sh_ok};
use runoci_tests::{test_dir, unique_id, Bundle, HostSnapshot, Runtime, DEFAULT_CAPS};
use serde_json::{json, Value};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

const PODMAN_PROFILE: &str = "/usr/share/containers/seccomp.json";

/// Go's name for this machine's architecture, as podman's profile uses it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// libseccomp's name for this machine's architecture.
fn scmp_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "aarch64" => "SCMP_ARCH_AARCH64",
        "x86" => "SCMP_ARCH_X86",
        "s390x" => "SCMP_ARCH_S390X",
        "powerpc64" => "SCMP_ARCH_PPC64LE",
        _ => "SCMP_ARCH_NATIVE",
    }
}

/// Converts podman's seccomp.json to an OCI `linux.seccomp` the way
/// podman (containers/common's seccomp package) does for a container with
/// `caps`: the architectures of this machine's `archMap` entry; a rule is
/// kept when its `includes` (caps all held, arches containing ours) are
/// met and its `excludes` (any cap held, our arch listed) are not;
/// `includes`/`excludes`/`comment` are dropped.
fn podman_profile_for(caps: &[&str]) -> Value {
    let text = std::fs::read_to_string(PODMAN_PROFILE).unwrap_or_else(|e| {
        panic!("{PODMAN_PROFILE}: {e} (containers-common, installed with podman)")
    });
    let p: Value = serde_json::from_str(&text).expect("podman profile is JSON");
    let arch = go_arch();
    let mut arches = Vec::new();
    for m in p["archMap"].as_array().into_iter().flatten() {
        if m["architecture"] == scmp_arch() {
            arches.push(m["architecture"].clone());
            arches.extend(
                m["subArchitectures"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    let has_cap = |c: &Value| caps.iter().any(|k| Some(*k) == c.as_str());
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let mut rules = Vec::new();
    for r in p["syscalls"].as_array().expect("syscalls") {
        let inc = &r["includes"];
        let exc = &r["excludes"];
        let inc_caps = list(&inc["caps"]).iter().all(has_cap);
        let inc_arch =
            list(&inc["arches"]).is_empty() || list(&inc["arches"]).iter().any(|a| a == arch);
        let exc_caps = list(&exc["caps"]).iter().any(has_cap);
        let exc_arch = list(&exc["arches"]).iter().any(|a| a == arch);
        if !(inc_caps && inc_arch) || exc_caps || exc_arch {
            continue;
        }
        let mut rule = r.as_object().expect("rule").clone();
        rule.remove("includes");
        rule.remove("excludes");
        rule.remove("comment");
        rules.push(Value::Object(rule));
    }
    let mut out = json!({
        "defaultAction": p["defaultAction"],
        "architectures": arches,
        "syscalls": rules,
    });
    if let Some(n) = p.get("defaultErrnoRet") {
        out["defaultErrnoRet"] = n.clone();
    }
    out
}

fn set_caps(bundle: &mut Bundle, caps: &[&str]) {
    let c = &mut bundle.config_mut()["process"]["capabilities"];
    for set in ["bounding", "effective", "permitted"] {
        c[set] = json!(caps);
    }
}

/// A script whose every step must work under the profile, then `swapon`,
/// which the profile denies whatever the capabilities (its first rule:
/// ERRNO 1), so with CAP_SYS_ADMIN its errno comes from seccomp alone.
const PROFILE_SCRIPT: &str = "set -e; echo data > /tmp/f; cat /tmp/f; mkdir /tmp/d; \
     ln -s /tmp/f /tmp/l; ls /tmp >/dev/null; id -u; sleep 0; hostname; \
     linux32 true && echo personality-ok; \
     set +e; swapon /tmp/f; echo swapon=$?";

#[test]
fn podman_default_profile_denies_with_eperm_and_allows_the_rest() {
    let mut caps: Vec<&str> = DEFAULT_CAPS.to_vec();
    caps.push("CAP_SYS_ADMIN");

    // Without seccomp: swapon gets past the capability check and fails on
    // the file, which is no swap area (EINVAL).
    let mut plain = Bundle::new("sc-podman-plain");
    set_caps(&mut plain, &caps);
    let rt = Runtime::runoci();
    let out = run_sh(&mut plain, &rt, "sc-plain", PROFILE_SCRIPT);
    out.assert_ok();
    assert!(
        out.stderr.contains("swapon") && !out.stderr.contains("Operation not permitted"),
        "without a filter swapon should fail on the file, not with EPERM\n{out}"
    );

    let mut bundle = Bundle::new("sc-podman");
    set_caps(&mut bundle, &caps);
    let profile = podman_profile_for(&caps);
    assert!(
        profile["syscalls"].as_array().unwrap().len() > 10,
        "conversion kept too few rules: {profile}"
    );
    bundle.config_mut()["linux"]["seccomp"] = profile;
    let out = run_sh(&mut bundle, &rt, "sc-podman", PROFILE_SCRIPT);
    out.assert_ok();
    assert!(
        out.stdout.contains("data\n") && out.stdout.contains("0\nrunoci\npersonality-ok\n"),
        "allowed syscalls must work under podman's profile\n{out}"
    );
    assert!(
        out.stdout.contains("swapon=1") && out.stderr.contains("Operation not permitted"),
        "swapon must fail with EPERM from the profile\n{out}"
    );
}

#[test]
fn podman_default_profile_denies_cap_gated_syscalls_for_default_caps() {
    // With the default capabilities (no CAP_SYS_CHROOT, no CAP_SYS_TIME)
    // the profile's exclude rules deny chroot and settimeofday with EPERM;
    // an unknown personality falls to the default action (ENOSYS).
    let mut bundle = Bundle::new("sc-podman-caps");
    bundle.config_mut()["linux"]["seccomp"] = podman_profile_for(DEFAULT_CAPS);
    let rt = Runtime::runoci();
    let out = run_sh_ok(
        &mut bundle,
        &rt,
        "sc-podman-caps",
        "chroot / true 2>&1; echo chroot=$?; setarch x86_64 -R true 2>&1; echo setarch=$?; echo alive",
    );
    assert!(
        out.contains("Operation not permitted") && out.contains("chroot=1"),
        "chroot must be denied with EPERM: {out:?}"
    );
    assert!(
        out.contains("Function not implemented") || out.contains("setarch=1"),
        "personality(ADDR_NO_RANDOMIZE) must hit the default action (ENOSYS): {out:?}"
    );
    assert!(out.ends_with("alive\n"), "{out:?}");
}

#[test]
fn kill_process_action_kills_the_container_by_sigsys() {
    let mut bundle = Bundle::new("sc-kill");
    bundle.config_mut()["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [ { "names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS" } ]
    });
    let rt = Runtime::runoci();
    // busybox sh asks getppid() for $PPID before it runs anything.
    let out = run_sh(&mut bundle, &rt, "sc-kill", "echo before-the-kill");
    out.assert_code(128 + libc::SIGSYS);
    assert!(
        !out.stdout.contains("before-the-kill"),
        "the shell must die at getppid, before its script\n{out}"
    );
    // The same container without the rule runs.
    bundle.config_mut()["linux"]["seccomp"]["syscalls"] = json!([]);
    let out = run_sh_ok(&mut bundle, &rt, "sc-kill-ctl", "echo fine");
    assert_eq!(out, "fine\n");
}

#[test]
fn errno_action_returns_errno_ret() {
    let mut bundle = Bundle::new("sc-errno");
    bundle.config_mut()["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [ { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                        "errnoRet": libc::ENOSPC } ]
    });
    let rt = Runtime::runoci();
    let out = run_sh(
        &mut bundle,
        &rt,
        "sc-errno",
        "mkdir /tmp/x; echo rc=$?; touch /tmp/y && echo touch-ok",
    );
    out.assert_ok();
    assert!(
        out.stderr.contains("No space left on device") && out.stdout.contains("rc=1"),
        "mkdir must fail with errnoRet 28 (ENOSPC)\n{out}"
    );
    assert!(
        out.stdout.contains("touch-ok"),
        "other syscalls work\n{out}"
    );
    assert!(!bundle.rootfs().join("tmp/x").exists());
}

// --- NOTIFY ---------------------------------------------------------------

#[repr(C)]
#[derive(Default)]
struct SeccompData {
    nr: i32,
    arch: u32,
    instruction_pointer: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotif {
    id: u64,
    pid: u32,
    flags: u32,
    data: SeccompData,
}

#[repr(C)]
#[derive(Default)]
struct SeccompNotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

const fn iowr(nr: u64, size: usize) -> u64 {
    (3 << 30) | ((size as u64) << 16) | ((b'!' as u64) << 8) | nr
}
const NOTIF_RECV: u64 = iowr(0, std::mem::size_of::<SeccompNotif>());
const NOTIF_SEND: u64 = iowr(1, std::mem::size_of::<SeccompNotifResp>());

/// Waits up to `timeout` for `fd` to be readable.
fn wait_readable(fd: i32, timeout: Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the call's duration.
    unsafe { libc::poll(&mut p, 1, timeout.as_millis() as i32) == 1 }
}

/// Receives one notification and answers it with `error` (a positive
/// errno, or 0 for success with return value 0). Returns the syscall nr.
fn answer_one(listener: &OwnedFd, error: i32) -> i32 {
    assert!(
        wait_readable(listener.as_raw_fd(), Duration::from_secs(30)),
        "no seccomp notification arrived within 30 s"
    );
    let mut n = SeccompNotif::default();
    // SAFETY: NOTIF_RECV fills the zeroed struct of the kernel's size.
    let rc = unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_RECV as _, &mut n) };
    assert_eq!(
        rc,
        0,
        "SECCOMP_IOCTL_NOTIF_RECV: {}",
        std::io::Error::last_os_error()
    );
    let resp = SeccompNotifResp {
        id: n.id,
        val: 0,
        error: -error,
        flags: 0,
    };
    // SAFETY: NOTIF_SEND reads the struct of the kernel's size.
    let rc = unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_SEND as _, &resp) };
    assert_eq!(
        rc,
        0,
        "SECCOMP_IOCTL_NOTIF_SEND: {}",
        std::io::Error::last_os_error()
    );
    n.data.nr
}

#[test]
fn notify_listener_receives_the_fd_and_answers_the_container() {
    let mut bundle = Bundle::new("sc-notify");
    let sock = test_dir().join(format!("seccomp-{}.sock", unique_id("l")));
    let _ = std::fs::remove_file(&sock);
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind listenerPath");
    listener.set_nonblocking(true).unwrap();
    bundle.config_mut()["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock.to_str().unwrap(),
        "listenerMetadata": "security-test",
        "syscalls": [ { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY" } ]
    });
    bundle.set_args(&[
        "sh",
        "-c",
        "mkdir /tmp/a; echo first=$?; mkdir /tmp/b && echo second-ok; \
         [ -d /tmp/b ] && echo b-exists || echo b-absent",
    ]);
    let rt = Runtime::runoci();
    let id = unique_id("sc-notify");
    let bundle_path = bundle.path_str().to_string();
    let runner = {
        let cmd_args = vec!["run".to_string(), "-c".into(), bundle_path, id.clone()];
        let mut cmd = rt.cmd(&cmd_args);
        std::thread::spawn(move || {
            runoci_tests::run_command(&mut cmd, b"", Duration::from_secs(60))
        })
    };

    // The runtime connects and sends the state JSON with the fd.
    let deadline = Instant::now() + Duration::from_secs(30);
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    Instant::now() < deadline,
                    "runoci never connected to listenerPath"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = nix::sys::socket::recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        nix::sys::socket::MsgFlags::empty(),
    )
    .expect("recvmsg from runoci");
    let mut fds = Vec::new();
    for c in msg.cmsgs().expect("cmsgs") {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(r) = c {
            fds.extend(r);
        }
    }
    let len = msg.bytes;
    assert_eq!(
        fds.len(),
        1,
        "expected exactly one fd (SCM_RIGHTS), got {fds:?}"
    );
    // SAFETY: the fd just arrived over SCM_RIGHTS; we own it.
    let notify_fd = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    let state: Value = serde_json::from_slice(&buf[..len]).unwrap_or_else(|e| {
        panic!(
            "state JSON: {e}: {:?}",
            String::from_utf8_lossy(&buf[..len])
        )
    });
    assert_eq!(state["metadata"], "security-test", "{state}");
    assert_eq!(state["state"]["id"], id.as_str(), "{state}");
    assert!(state["pid"].as_i64().unwrap_or(0) > 0, "{state}");

    // First mkdir: refused with EROFS by us; second: "succeeds" without
    // the kernel doing anything.
    let nr1 = answer_one(&notify_fd, libc::EROFS);
    let nr2 = answer_one(&notify_fd, 0);
    for nr in [nr1, nr2] {
        assert!(
            nr == libc::SYS_mkdir as i32 || nr == libc::SYS_mkdirat as i32,
            "notification for syscall {nr}, expected mkdir/mkdirat"
        );
    }
    let out = runner.join().expect("runner thread");
    let _ = std::fs::remove_file(&sock);
    out.assert_ok();
    assert!(
        out.stderr.contains("Read-only file system") && out.stdout.contains("first=1"),
        "the container must see the listener's EROFS\n{out}"
    );
    assert!(
        out.stdout.contains("second-ok") && out.stdout.contains("b-absent"),
        "the listener's success answer must reach the container (and nothing be made)\n{out}"
    );
}

/// A filter refused at load — an unknown action (validation) or an errno
/// libseccomp cannot encode (compilation) — fails `run`, `create` and
/// `start` before anything exists: no record, no cgroup, no mount, and
/// the prestart hook that would log does not run.
#[test]
fn a_bad_filter_is_refused_before_anything_is_created() {
    let cases = [
        (
            json!({"names": ["getpid"], "action": "SCMP_ACT_BOGUS"}),
            "linux.seccomp.syscalls[0].action: unknown action \"SCMP_ACT_BOGUS\"",
        ),
        (
            json!({"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4294967295u32}),
            "linux.seccomp.syscalls[0] getpid: Invalid input to the libseccomp API",
        ),
    ];
    for (rule, needle) in cases {
        for command in ["run", "create", "start"] {
            let mut bundle = Bundle::new("seccomp-refused");
            let rt = Runtime::runoci();
            let hook_log = bundle.path().join("hook-ran");
            bundle.config_mut()["hooks"] = json!({"prestart": [{
                "path": "/bin/sh",
                "args": ["sh", "-c", format!("echo ran >> {}", hook_log.display())]
            }]});
            bundle.config_mut()["linux"]["seccomp"] =
                json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule.clone()]});
            bundle.set_args(&["true"]);
            let id = unique_id("seccomp-refused");
            let snap = HostSnapshot::take();
            let out = rt.run([command, "-c", bundle.path_str(), &id]);
            assert_fails_with(&out, needle);
            snap.assert_nothing_leaked(&[&id, bundle.path_str(), rt.root_str()]);
            assert!(
                !rt.root().join(&id).exists(),
                "{command}: a record was left for {id}\n{out}"
            );
            assert!(
                !hook_log.exists(),
                "{command}: the prestart hook ran before the refusal\n{out}"
            );
        }
    }
}

/// `exec` under podman's profile: the first exec compiles the filter and
/// keeps its program in the state directory (`seccomp.bpf`), later ones
/// load that program instead of compiling again, and both deny what the
/// profile denies and allow the rest. A profile changed in the bundle
/// since is compiled afresh, not taken from the kept program.
#[test]
fn exec_loads_the_kept_filter_and_a_changed_profile_is_compiled_again() {
    let mut caps: Vec<&str> = DEFAULT_CAPS.to_vec();
    caps.push("CAP_SYS_ADMIN");
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("sc-exec-kept");
    set_caps(&mut bundle, &caps);
    bundle.config_mut()["linux"]["seccomp"] = podman_profile_for(&caps);
    bundle.set_args(&["sleep", "1000"]);
    let id = unique_id("sc-exec-kept");
    common::create_and_start(&rt, &bundle, &id);
    let kept = rt.root().join(&id).join("seccomp.bpf");
    let swapon = |rt: &Runtime| {
        rt.run([
            "exec",
            &id,
            "sh",
            "-c",
            "echo x > /tmp/f; swapon /tmp/f; echo swapon=$?",
        ])
    };

    let first = swapon(&rt);
    first.assert_ok();
    assert!(first.stdout.contains("swapon=1"), "first exec: {first}");
    let made = std::fs::metadata(&kept)
        .unwrap_or_else(|e| panic!("{} after the first exec: {e}", kept.display()))
        .modified()
        .unwrap();
    let second = swapon(&rt);
    second.assert_ok();
    assert!(
        second.stdout.contains("swapon=1") && second.stderr.contains("Operation not permitted"),
        "the kept program must deny as the compiled one: {second}"
    );
    assert_eq!(
        std::fs::metadata(&kept).unwrap().modified().unwrap(),
        made,
        "the second exec must load the kept program, not compile and write it again"
    );
    let ok = rt.run(["exec", &id, "cat", "/tmp/f"]);
    ok.assert_ok();
    assert_eq!(ok.stdout, "x\n");

    // The bundle's profile now also denies mkdir (ERRNO 1, first rule).
    let mut profile = podman_profile_for(&caps);
    profile["syscalls"].as_array_mut().unwrap().insert(
        0,
        json!({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}),
    );
    bundle.config_mut()["linux"]["seccomp"] = profile;
    bundle.write_config();
    let changed = rt.run(["exec", &id, "sh", "-c", "mkdir /tmp/d; echo mkdir=$?"]);
    changed.assert_ok();
    assert!(
        changed.stdout.contains("mkdir=1"),
        "the changed profile must apply: {changed}"
    );
    rt.run(["kill", &id, "KILL"]).assert_ok();
}
