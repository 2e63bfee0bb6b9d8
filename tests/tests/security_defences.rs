//! One test per container-escape defence: each stages the attack for real
//! against runoci and asserts the host is untouched (canary files and
//! directories unchanged, no mounts, no files created, the runoci binary
//! unchanged).

mod common;

use common::wait_for_file;
use runoci_tests::{mount_points, test_dir, unique_id, Bundle, Output, Runtime};
use serde_json::json;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A host directory or file the attacks aim at; removed on drop.
struct Canary {
    path: PathBuf,
}

impl Canary {
    fn dir(name: &str) -> Canary {
        let path = test_dir().join(format!("canary-{}", unique_id(name)));
        std::fs::create_dir(&path).unwrap();
        Canary { path }
    }
    fn file(name: &str, content: &str) -> Canary {
        let path = test_dir().join(format!("canary-{}", unique_id(name)));
        std::fs::write(&path, content).unwrap();
        Canary { path }
    }
    /// Panics unless the canary directory is still empty and nothing is
    /// mounted on or under it.
    #[track_caller]
    fn assert_dir_untouched(&self, what: &str) {
        let entries: Vec<_> = std::fs::read_dir(&self.path)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            entries.is_empty(),
            "{what}: the host canary dir {} got {entries:?}",
            self.path.display()
        );
        let mounted: Vec<String> = mount_points()
            .into_iter()
            .filter(|m| Path::new(m).starts_with(&self.path))
            .collect();
        assert!(
            mounted.is_empty(),
            "{what}: host mounts on the canary: {mounted:?}"
        );
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        runoci_tests::unmount_under(&self.path);
        let _ = std::fs::remove_dir_all(&self.path);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `..` components enough to climb from `from` (inside the rootfs) to the
/// host's `/`, then `target` (absolute): a relative symlink that escapes.
fn escaping_link(from_dir: &Path, target: &Path) -> PathBuf {
    let depth = from_dir.components().count();
    let mut p = PathBuf::new();
    for _ in 0..depth {
        p.push("..");
    }
    p.join(target.strip_prefix("/").unwrap())
}

fn run_with_env(rt: &Runtime, args: &[&str], no_openat2: bool) -> Output {
    let mut cmd = rt.cmd(args);
    if no_openat2 {
        cmd.env("RUNOCI_NO_OPENAT2", "1");
    }
    runoci_tests::run_command(&mut cmd, b"", runoci_tests::default_timeout())
}

fn remove_mount(bundle: &mut Bundle, dest: &str) {
    let mounts = bundle.config_mut()["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| m["destination"] != dest);
}

fn file_digest(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

// --- 1. CVE-2019-5736 -----------------------------------------------------

/// Scans every process of the container and tries to read or write
/// `/proc/PID/exe` and to open `/proc/PID/fd/*` (above stdio) for writing;
/// prints what worked. A readable exe counts when it is the runoci binary
/// (its size is `$RSIZE`): a process caught between runoci and its
/// execve may be busybox by the time it is read. Stdio of a process is
/// the caller's on purpose; fds above it would be runoci's.
const SCAN_EXE: &str = r#"
for p in /proc/[0-9]*; do
  pid=${p#/proc/}
  [ "$pid" = "$$" ] && continue
  exe=$(readlink $p/exe 2>/dev/null)
  case "$exe" in */busybox) continue;; esac
  echo "scan $pid exe=[$exe]"
  if s=$(wc -c < $p/exe 2>/dev/null) && [ "$s" = "$RSIZE" ]; then echo "READ-EXE $pid"; fi
  if (exec 3>>$p/exe) 2>/dev/null; then echo "WRITE-EXE $pid"; fi
  for fd in $p/fd/*; do
    [ -e "$fd" ] && [ "${fd##*/}" -ge 3 ] || continue
    if (exec 3>>$fd) 2>/dev/null; then echo "WRITE-FD $fd -> $(readlink $fd)"; fi
  done
done
echo scan-done
"#;

#[test]
fn cve_2019_5736_container_cannot_reach_the_runoci_binary() {
    let bin = runoci_tests::runoci_bin();
    let before = file_digest(bin);
    let rsize = format!("RSIZE={}", before.len());
    let mut bundle = Bundle::new("cve-5736");
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!(rsize));

    // -i: runoci's own init is PID 1 of the container, for its whole life.
    bundle.set_args(&["sh", "-c", SCAN_EXE]);
    let id = unique_id("cve-5736");
    let out = rt.run(["run", "-i", "-c", bundle.path_str(), &id]);
    out.assert_ok();
    assert!(
        out.stdout.contains("scan 1 exe=[]"),
        "PID 1 (runoci's init) must be scanned, with its exe unreadable\n{out}"
    );
    for bad in ["READ-EXE", "WRITE-EXE", "WRITE-FD"] {
        assert!(
            !out.stdout.contains(bad),
            "the container reached runoci: {bad}\n{out}"
        );
    }

    // runoci exec: a scanner loops in the container while execs come and go.
    let mut bundle2 = Bundle::new("cve-5736-exec");
    bundle2.config_mut()["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!(rsize));
    // Scan passes until told to stop, each ending in a line "scan-done";
    // the rootfs's /tmp is the bundle's directory, read from the host.
    bundle2.set_args(&[
        "sh",
        "-c",
        &format!(
            "while [ ! -e /tmp/stop ]; do {{ {SCAN_EXE} }} >> /tmp/scan 2>&1; done; echo > /tmp/stopped; sleep 1000"
        ),
    ]);
    let id2 = unique_id("cve-5736-x");
    rt.run(["create", "--bundle", bundle2.path_str(), &id2])
        .assert_ok();
    rt.run(["start", &id2]).assert_ok();
    let tmp = bundle2.rootfs().join("tmp");
    let passes = || {
        std::fs::read_to_string(tmp.join("scan"))
            .unwrap_or_default()
            .matches("scan-done")
            .count()
    };
    let wait_passes = |n: usize, what: &str| {
        let deadline = Instant::now() + runoci_tests::default_timeout();
        while passes() < n {
            assert!(Instant::now() < deadline, "no scan pass {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
        passes()
    };
    // The scanner runs before the first exec and again after the last:
    // its passes span every exec.
    let before_execs = wait_passes(1, "before the execs");
    let execs = 20;
    for _ in 0..execs {
        rt.run(["exec", &id2, "true"]).assert_ok();
    }
    wait_passes(before_execs + 2, "after the execs");
    std::fs::write(tmp.join("stop"), b"").unwrap();
    common::wait_for_file(&tmp.join("stopped"), "the scanner to stop");
    let scan = std::fs::read_to_string(tmp.join("scan")).unwrap();
    for bad in ["READ-EXE", "WRITE-EXE", "WRITE-FD"] {
        assert!(
            !scan.contains(bad),
            "during {execs} execs the container reached runoci: {bad}\n{scan}"
        );
    }
    assert!(
        before == file_digest(bin),
        "the runoci binary on the host changed"
    );
}

// --- 2. CVE-2021-30465 / CVE-2024-45310 -------------------------------------

/// Names that /dev and /proc set-up creates: if one appears at the host's
/// `/` after a run, a mount or mknod escaped through a symlink to `/`.
const DEV_NAMES: &[&str] = &[
    "null", "zero", "full", "tty", "random", "urandom", "ptmx", "pts", "shm", "mqueue", "console",
    "fd", "stdin", "stdout", "stderr", "core",
];

fn host_root_names() -> Vec<String> {
    DEV_NAMES
        .iter()
        .filter(|n| Path::new("/").join(n).symlink_metadata().is_ok())
        .map(|n| n.to_string())
        .collect()
}

fn symlinked_rootfs_paths(no_openat2: bool) {
    let before_root = host_root_names();
    // (what, rootfs entry, link target kind)
    for (entry, kind) in [
        ("dev", "root"),
        ("dev", "abs"),
        ("dev", "rel"),
        ("proc", "abs"),
        ("proc", "rel"),
        ("proc", "root"),
        ("mnt", "abs"),
        ("mnt", "rel"),
        ("mnt", "dotdot"),
    ] {
        let what = format!("rootfs /{entry} -> {kind} (no_openat2={no_openat2})");
        let canary = Canary::dir("sym");
        let mut bundle = Bundle::new("cve-30465");
        let rootfs = bundle.rootfs();
        let link = rootfs.join(entry);
        std::fs::remove_dir_all(&link).unwrap();
        let target = match kind {
            "root" => PathBuf::from("/"),
            "abs" => canary.path.clone(),
            "rel" => escaping_link(&rootfs, &canary.path),
            _ => PathBuf::from("../../../../../../../../.."),
        };
        std::os::unix::fs::symlink(&target, &link).unwrap();
        // A bind and a tmpfs below /mnt, with directories to create.
        let src = bundle.path().join("bind-src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("marker"), "m").unwrap();
        let mounts = bundle.config_mut()["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": "/mnt/sub/bound", "type": "bind",
                           "source": src.to_str().unwrap(), "options": ["rbind"]}));
        mounts.push(json!({"destination": "/mnt/tmp/deeper", "type": "tmpfs", "source": "tmpfs"}));
        bundle.set_args(&["true"]);
        let rt = Runtime::runoci();
        let id = unique_id("cve-30465");
        let out = run_with_env(&rt, &["run", "-c", bundle.path_str(), &id], no_openat2);
        // Running or refusing are both fine; reaching the host is not.
        canary.assert_dir_untouched(&format!("{what}\n{out}"));
        assert_eq!(
            host_root_names(),
            before_root,
            "{what}: new entries at the host's /\n{out}"
        );
        if entry == "mnt" && out.success() {
            // The mounts went inside the rootfs, where the link resolves.
            let inside = match kind {
                "abs" => rootfs.join(canary.path.strip_prefix("/").unwrap()),
                _ => rootfs.clone(),
            };
            assert!(
                inside.join("sub/bound").is_dir(),
                "{what}: expected the bind target made inside the rootfs at {}\n{out}",
                inside.display()
            );
        }
    }
}

#[test]
fn cve_2021_30465_symlinked_dev_proc_and_mount_targets_stay_in_the_rootfs() {
    symlinked_rootfs_paths(false);
}

#[test]
fn cve_2021_30465_symlinked_paths_stay_in_the_rootfs_without_openat2() {
    symlinked_rootfs_paths(true);
}

/// A racing thread swaps a mount target between a directory and a symlink
/// to the host canary (renameat2 RENAME_EXCHANGE) while runoci mounts onto
/// it, for up to 200 runs or 15 s.
fn racing_mount_target(no_openat2: bool) {
    let canary = Canary::dir("race");
    let mut bundle = Bundle::new("cve-45310");
    let rootfs = bundle.rootfs();
    let dir = rootfs.join("mnt/target");
    let lnk = rootfs.join("mnt/target-link");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&canary.path, &lnk).unwrap();
    let src = bundle.path().join("bind-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("marker"), "m").unwrap();
    let mounts = bundle.config_mut()["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/mnt/target/made/bound", "type": "bind",
                       "source": src.to_str().unwrap(), "options": ["rbind"]}),
    );
    mounts.push(json!({"destination": "/mnt/target/tmp", "type": "tmpfs", "source": "tmpfs"}));
    bundle.set_args(&["true"]);
    let bundle_path = bundle.path_str().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swaps = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let racer = {
        let (stop, swaps) = (stop.clone(), swaps.clone());
        let (a, b) = (
            std::ffi::CString::new(dir.to_str().unwrap()).unwrap(),
            std::ffi::CString::new(lnk.to_str().unwrap()).unwrap(),
        );
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // SAFETY: two valid C strings; renameat2 only renames.
                unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        b.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                swaps.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    let rt = Runtime::runoci();
    let start = Instant::now();
    let (mut runs, mut ok) = (0, 0);
    let mut failure = None;
    while runs < 200 && start.elapsed() < Duration::from_secs(15) {
        let id = unique_id("race");
        let out = run_with_env(&rt, &["run", "-c", &bundle_path, &id], no_openat2);
        runs += 1;
        if out.success() {
            ok += 1;
        }
        let leaked = std::fs::read_dir(&canary.path).unwrap().next().is_some()
            || mount_points()
                .iter()
                .any(|m| Path::new(m).starts_with(&canary.path));
        if leaked {
            failure = Some(out);
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    racer.join().unwrap();
    if let Some(out) = failure {
        canary.assert_dir_untouched(&format!("run {runs}\n{out}"));
    }
    canary.assert_dir_untouched(&format!("after {runs} runs"));
    assert!(
        runs >= 10 && swaps.load(std::sync::atomic::Ordering::Relaxed) > 100,
        "the race did not really run: {runs} runs, {swaps:?} swaps"
    );
    eprintln!("racing mount target: {runs} runs ({ok} succeeded), {swaps:?} swaps, host untouched");
}

#[test]
fn cve_2024_45310_racing_mount_target_never_reaches_the_host() {
    racing_mount_target(false);
}

#[test]
fn cve_2024_45310_racing_mount_target_never_reaches_the_host_without_openat2() {
    racing_mount_target(true);
}

// --- 3. CVE-2024-21626 ----------------------------------------------------

/// Spawns `cmd` with an extra fd 3 (inheritable) open on a host directory,
/// like a careless caller of the runtime would.
fn with_leaked_fd3(cmd: &mut std::process::Command, dir: &Path) -> OwnedFd {
    use std::os::unix::process::CommandExt;
    let f = std::fs::File::open(dir).unwrap();
    let fd: OwnedFd = f.into();
    let raw = fd.as_raw_fd();
    // SAFETY: between fork and exec only async-signal-safe dup2 is called.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    fd
}

#[test]
fn cve_2024_21626_no_runoci_fd_reaches_the_container() {
    let canary = Canary::dir("fdleak");
    let mut bundle = Bundle::new("cve-21626");
    let rt = Runtime::runoci();
    // PID 1 itself: `ls -l` as the program (no shell: busybox sh runs
    // applets in-process and briefly holds fds of its own). It holds 0, 1,
    // 2 and the directory it reads; none of them may be the leaked one.
    bundle.set_args(&["ls", "-l", "/proc/self/fd/"]);
    let id = unique_id("cve-21626");
    let mut cmd = rt.cmd(["run", "-c", bundle.path_str(), &id]);
    let _keep = with_leaked_fd3(&mut cmd, &canary.path);
    let out = runoci_tests::run_command(&mut cmd, b"", runoci_tests::default_timeout());
    out.assert_ok();
    let canary_name = canary
        .path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        !out.stdout.contains(&canary_name),
        "the leaked fd reached PID 1\n{out}"
    );
    let fds: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split(" -> ").next()?.split_whitespace().last())
        .collect();
    assert!(
        fds.iter().all(|fd| ["0", "1", "2", "3"].contains(fd)),
        "PID 1 holds only stdio and its own directory fd: {fds:?}\n{out}"
    );
    // A child of PID 1: ls holds 3 for the directory it reads, nothing more.
    bundle.set_args(&[
        "sh",
        "-c",
        "ls /proc/self/fd | tr '\\n' ' '; echo; ls /proc/self/fd/3/ 2>&1; echo done",
    ]);
    let id = unique_id("cve-21626-child");
    let mut cmd = rt.cmd(["run", "-c", bundle.path_str(), &id]);
    let _keep = with_leaked_fd3(&mut cmd, &canary.path);
    let out = runoci_tests::run_command(&mut cmd, b"", runoci_tests::default_timeout());
    out.assert_ok();
    assert_eq!(
        out.stdout.lines().next().map(|l| l.trim()),
        Some("0 1 2 3"),
        "a child's fds\n{out}"
    );
    bundle.set_args(&["sh", "-c", "ls /proc/1/fd | tr '\\n' ' '; echo"]);

    // -i: runoci's init as PID 1 holds only stdio too.
    let id = unique_id("cve-21626-i");
    let mut cmd = rt.cmd(["run", "-i", "-c", bundle.path_str(), &id]);
    let _keep = with_leaked_fd3(&mut cmd, &canary.path);
    let out = runoci_tests::run_command(&mut cmd, b"", runoci_tests::default_timeout());
    out.assert_ok();
    assert_eq!(
        out.stdout.lines().next().map(|l| l.trim()),
        Some("0 1 2"),
        "init's fds\n{out}"
    );

    // --preserve-fds 1 (runc dialect create): fd 3 is passed on purpose.
    let mut b2 = Bundle::new("cve-21626-pf");
    b2.set_args(&[
        "sh",
        "-c",
        "ls /proc/self/fd/ | tr '\\n' ' ' > /tmp/fds; echo > /tmp/fds.done; sleep 1000",
    ]);
    let id = unique_id("cve-21626-pf");
    let mut cmd = rt.cmd([
        "create",
        "--preserve-fds",
        "1",
        "--bundle",
        b2.path_str(),
        &id,
    ]);
    let _keep = with_leaked_fd3(&mut cmd, &canary.path);
    runoci_tests::run_command(&mut cmd, b"", runoci_tests::default_timeout()).assert_ok();
    rt.run(["start", &id]).assert_ok();
    wait_for_file(&b2.rootfs().join("tmp/fds.done"), "the fd list");
    let fds = std::fs::read_to_string(b2.rootfs().join("tmp/fds")).unwrap();
    assert!(
        fds.starts_with("0 1 2 3 "),
        "--preserve-fds 1 must pass fd 3: {fds:?}"
    );

    // process.cwd through an fd is refused, in the init and in exec.
    for cwd in [
        "/proc/self/fd/3",
        "/proc/thread-self/fd/4",
        "/tmp/../proc/1/fd/3",
        "/proc/self/cwd",
    ] {
        let mut b = Bundle::new("cve-21626-cwd");
        b.config_mut()["process"]["cwd"] = json!(cwd);
        b.set_args(&["pwd"]);
        let id = unique_id("cwd");
        let mut cmd = rt.cmd(["run", "-c", b.path_str(), &id]);
        let _keep = with_leaked_fd3(&mut cmd, &canary.path);
        let out = runoci_tests::run_command(&mut cmd, b"", runoci_tests::default_timeout());
        common::assert_fails_with(&out, "refusing a cwd");
    }
    let out = rt.run(["exec", "--cwd", "/proc/self/fd/3", &id, "pwd"]);
    common::assert_fails_with(&out, "refusing a cwd");
    canary.assert_dir_untouched("fd leak");
}

// --- 4. CVE-2025-31133 ----------------------------------------------------

#[test]
fn cve_2025_31133_masked_paths_never_bind_a_fake_dev_null() {
    let rt = Runtime::runoci();
    for variant in ["symlink", "regular-file"] {
        let canary = Canary::file("passwd", "root:x:0:0::/root:/bin/sh\n");
        let mut bundle = Bundle::new("cve-31133");
        // No /dev tmpfs: the rootfs's own /dev, whose null is the attacker's.
        remove_mount(&mut bundle, "/dev");
        for d in ["/dev/pts", "/dev/shm", "/dev/mqueue"] {
            remove_mount(&mut bundle, d);
        }
        let null = bundle.rootfs().join("dev/null");
        match variant {
            "symlink" => std::os::unix::fs::symlink(&canary.path, &null).unwrap(),
            _ => {
                // A hard link to the host file (canary and bundle are
                // both in the test directory, one filesystem).
                std::fs::hard_link(&canary.path, &null).unwrap_or_else(|e| {
                    panic!(
                        "hard link {} -> {}: {e}",
                        null.display(),
                        canary.path.display()
                    )
                });
            }
        }
        bundle.config_mut()["linux"]["maskedPaths"] =
            json!(["/proc/kcore", "/proc/keys", "/etc/hostname"]);
        bundle.set_args(&["sh", "-c", "echo pwned > /proc/kcore; echo pwned > /etc/hostname; echo pwned >> /proc/keys; cat /etc/hostname"]);
        let id = unique_id("cve-31133");
        let out = rt.run(["run", "-c", bundle.path_str(), &id]);
        let now = std::fs::read_to_string(&canary.path).unwrap();
        assert_eq!(
            now, "root:x:0:0::/root:/bin/sh\n",
            "{variant}: the host file changed\n{out}"
        );
        if out.success() {
            // Then the masks bound a real null device.
            assert!(
                !out.stdout.contains("pwned") && !out.stdout.contains("root:x"),
                "{variant}\n{out}"
            );
        } else {
            common::assert_fails_with(&out, "/dev/null");
        }
    }
}

// --- 5. CVE-2025-52565 ----------------------------------------------------

/// Receives the pty master that runoci sends to `--console-socket`, and
/// reads what the container writes to its terminal until EOF or timeout.
fn console_receiver(listener: std::os::unix::net::UnixListener) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (stream, _) = match listener.accept() {
            Ok(s) => s,
            Err(_) => return String::new(),
        };
        let mut buf = [0u8; 256];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let Ok(msg) = nix::sys::socket::recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            nix::sys::socket::MsgFlags::empty(),
        ) else {
            return String::new();
        };
        let mut fd = None;
        for c in msg.cmsgs().into_iter().flatten() {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(r) = c {
                // SAFETY: received over SCM_RIGHTS; now ours.
                fd = r.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
            }
        }
        let Some(master) = fd else {
            return String::new();
        };
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut b = [0u8; 4096];
        while Instant::now() < deadline {
            let mut p = libc::pollfd {
                fd: master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut p, 1, 200) } != 1 {
                continue;
            }
            match nix::unistd::read(master.as_raw_fd(), &mut b) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&b[..n]),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    })
}

#[test]
fn cve_2025_52565_console_symlinks_never_reach_the_host() {
    let rt = Runtime::runoci();
    for variant in ["console-to-host-file", "pts-to-host-dir"] {
        let canary_file = Canary::file("console", "untouched\n");
        let canary_dir = Canary::dir("pts");
        let mut bundle = Bundle::new("cve-52565");
        remove_mount(&mut bundle, "/dev");
        let dev = bundle.rootfs().join("dev");
        match variant {
            "console-to-host-file" => {
                std::os::unix::fs::symlink(&canary_file.path, dev.join("console")).unwrap()
            }
            _ => {
                // devpts lands where /dev/pts resolves: inside the rootfs.
                std::os::unix::fs::symlink(&canary_dir.path, dev.join("pts")).unwrap();
                std::os::unix::fs::symlink(&canary_file.path, dev.join("console")).unwrap();
            }
        }
        bundle.config_mut()["process"]["terminal"] = json!(true);
        bundle.set_args(&["sh", "-c", "echo on-the-tty; echo pwned > /dev/console; echo pwned > /dev/pts/0; ls /dev/pts; echo end"]);
        let sock = test_dir().join(format!("console-{}.sock", unique_id("c")));
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let reader = console_receiver(listener);
        let id = unique_id("cve-52565");
        let out = rt.run([
            "create",
            "--console-socket",
            sock.to_str().unwrap(),
            "--bundle",
            bundle.path_str(),
            &id,
        ]);
        let mut tty = String::new();
        if out.success() {
            rt.run(["start", &id]).assert_ok();
            // Wait for the program to finish.
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                let st = rt.run(["state", &id]);
                if !st.success() || st.stdout.contains("\"stopped\"") {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            rt.run(["delete", "--force", &id]);
            tty = reader.join().unwrap_or_default();
        } else {
            // Unblock the receiver.
            let _ = std::os::unix::net::UnixStream::connect(&sock);
            let _ = reader.join();
        }
        let _ = std::fs::remove_file(&sock);
        assert_eq!(
            std::fs::read_to_string(&canary_file.path).unwrap(),
            "untouched\n",
            "{variant}: the host file behind /dev/console changed\ncreate: {out}\ntty: {tty:?}"
        );
        canary_dir.assert_dir_untouched(&format!("{variant}: {out}"));
        if out.success() {
            assert!(
                tty.contains("on-the-tty"),
                "{variant}: the terminal works: {tty:?}"
            );
        }
    }
}

// --- 6. CVE-2025-52881 / CVE-2019-16884 -----------------------------------

#[test]
fn cve_2025_52881_procfs_writes_refuse_a_fake_proc() {
    let rt = Runtime::runoci();
    for variant in ["tmpfs", "bind-fake-dir"] {
        let mut bundle = Bundle::new("cve-52881");
        let fake = bundle.path().join("fakeproc");
        let f = fake.join("sys/net/ipv4/ip_forward");
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, "fake\n").unwrap();
        let proc_mount = match variant {
            "tmpfs" => json!({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}),
            _ => {
                json!({"destination": "/proc", "type": "bind", "source": fake.to_str().unwrap(), "options": ["rbind"]})
            }
        };
        let mounts = bundle.config_mut()["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/proc");
        mounts.insert(0, proc_mount);
        bundle.config_mut()["linux"]["maskedPaths"] = json!([]);
        bundle.config_mut()["linux"]["readonlyPaths"] = json!([]);
        bundle.config_mut()["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        bundle.config_mut()["process"]["oomScoreAdj"] = json!(100);
        bundle.set_args(&["true"]);
        let id = unique_id("cve-52881");
        let out = rt.run(["run", "-c", bundle.path_str(), &id]);
        common::assert_fails_with(&out, "not on procfs");
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            "fake\n",
            "{variant}: written\n{out}"
        );
    }
}

#[test]
fn cve_2025_52881_procfs_writes_refuse_a_procfs_file_bound_over_the_target() {
    // The host's fs.lease-break-time (not namespaced) bound over the
    // container's net.ipv4.ip_forward: a write through the bind would
    // change the host. Restored whatever happens.
    const HOST: &str = "/proc/sys/fs/lease-break-time";
    struct Restore(String);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = std::fs::write(HOST, &self.0);
        }
    }
    let before = std::fs::read_to_string(HOST).unwrap();
    let _restore = Restore(before.clone());
    let mut bundle = Bundle::new("cve-52881-bind");
    let mounts = bundle.config_mut()["mounts"].as_array_mut().unwrap();
    let at = mounts
        .iter()
        .position(|m| m["destination"] == "/proc")
        .unwrap()
        + 1;
    mounts.insert(
        at,
        json!({"destination": "/proc/sys/net/ipv4/ip_forward", "type": "bind",
                             "source": HOST, "options": ["bind"]}),
    );
    bundle.config_mut()["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "7"});
    bundle.set_args(&["true"]);
    let rt = Runtime::runoci();
    let id = unique_id("cve-52881-b");
    let out = rt.run(["run", "-c", bundle.path_str(), &id]);
    assert_eq!(
        std::fs::read_to_string(HOST).unwrap(),
        before,
        "the host sysctl changed\n{out}"
    );
    common::assert_fails_with(&out, "another mount covers it");
}

// --- 7. CVE-2022-27650 ----------------------------------------------------

fn status_hex(status: &str, key: &str) -> u64 {
    let v = common::status_field(status, key).unwrap_or_else(|| panic!("no {key} in {status}"));
    u64::from_str_radix(v, 16).unwrap()
}

#[test]
fn cve_2022_27650_exec_cap_is_never_inheritable() {
    let mut bundle = Bundle::new("cve-27650");
    bundle.set_args(&["sleep", "1000"]);
    let rt = Runtime::runoci();
    let id = unique_id("cve-27650");
    rt.run(["create", "--bundle", bundle.path_str(), &id])
        .assert_ok();
    rt.run(["start", &id]).assert_ok();
    let out = rt.run([
        "exec",
        "--cap",
        "CAP_SYS_ADMIN",
        "--cap",
        "CAP_NET_ADMIN",
        &id,
        "cat",
        "/proc/self/status",
    ]);
    out.assert_ok();
    let eff = status_hex(&out.stdout, "CapEff");
    assert_eq!(
        status_hex(&out.stdout, "CapInh"),
        0,
        "inheritable granted\n{out}"
    );
    assert_eq!(
        status_hex(&out.stdout, "CapAmb"),
        0,
        "ambient granted\n{out}"
    );
    assert!(
        eff & (1 << 21) != 0 && eff & (1 << 12) != 0,
        "--cap must be effective\n{out}"
    );
    // A program run by that process keeps nothing it was not given: a
    // non-root user after exec has no capabilities at all.
    let out = rt.run([
        "exec",
        "--cap",
        "CAP_SYS_ADMIN",
        "--user",
        "1000:1000",
        &id,
        "cat",
        "/proc/self/status",
    ]);
    out.assert_ok();
    assert_eq!(status_hex(&out.stdout, "CapInh"), 0, "{out}");
    assert_eq!(status_hex(&out.stdout, "CapEff"), 0, "{out}");
}
