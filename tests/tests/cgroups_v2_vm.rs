//! Pure cgroup v2, for real: this machine is hybrid, so the test boots
//! Debian's kernel (`linux-image-amd64`) in qemu under software emulation
//! (`-accel tcg`; KVM is not used) with an initramfs built here: static
//! busybox, the runoci and runoci-monitor binaries with the libraries
//! `ldd` lists, a busybox rootfs with a few device nodes, one bundle per
//! scenario and `cgroups_v2_vm/init.sh` as /init. The guest mounts only
//! cgroup2, enables every controller, runs the same limit, device (BPF),
//! OOM and cleanup scenarios as `cgroups_host.rs`, and pause/resume through
//! v2's `cgroup.freeze` (the host's freezer is v1), and rootless runs by a
//! plain user (uid 1000, through busybox `su`) in the cgroup subtree
//! delegated to it as systemd's `Delegate=yes` does, with memory and pids
//! limits; it prints one `RESULT name ok|FAIL detail` line each on the
//! serial console, then powers off. Here each expected line must say ok.

use runoci_tests::{busybox_rootfs, default_config, run_command, runoci_bin, test_dir};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const INIT: &str = include_str!("cgroups_v2_vm/init.sh");

/// The scenarios init.sh reports on.
const SCENARIOS: &[&str] = &[
    "controllers",
    "oom_run",
    "oom_start",
    "pids_bomb",
    "pids_update",
    "devices_none",
    "devices_deny_all",
    "devices_deny_one",
    "cpu_quota",
    "freeze",
    "rootless_memory",
    "rootless_pids",
    "cleanup_exit",
    "cleanup_destroy",
];

/// The plain user of the rootless scenarios, and the cgroup delegated to
/// it (init.sh makes both).
const ROOTLESS_UID: u32 = 1000;
const DELEGATED: &str = "/user-1000";

const MIB: i64 = 1024 * 1024;

const FORK_BOMB: &str = "bomb() { ( i=0; while :; do sleep 1000 & i=$((i+1)); echo $i > /tmp/n$1; done ) 2>/tmp/err$1; }";
const PROBE: &str = "for f in /dev/null /mynull /kmsg /fuse; do if (: > $f) 2>/tmp/e; then echo \"$f ok\"; else read e < /tmp/e; echo \"$f denied: $e\"; fi; done";

/// name → (linux.resources, script) of each bundle under /s in the guest.
fn bundles() -> BTreeMap<&'static str, (Value, String)> {
    let memory = json!({ "memory": { "limit": 32 * MIB, "swap": 32 * MIB } });
    let pids = json!({ "pids": { "limit": 10 } });
    let deny_all = json!({ "devices": [{ "allow": false, "access": "rwm" }] });
    let deny_one = json!({ "devices": [
        { "allow": true, "access": "rwm" },
        { "allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm" }
    ] });
    BTreeMap::from([
        ("oom-run", (memory.clone(), "exec tail /dev/zero".to_string())),
        ("oom-start", (memory, "read x < /gate; exec tail /dev/zero".to_string())),
        (
            "pids-bomb",
            (
                pids.clone(),
                format!("{FORK_BOMB}; bomb 1; read n < /tmp/n1; read err < /tmp/err1; echo \"forked $n\"; echo \"err $err\""),
            ),
        ),
        (
            "pids-update",
            (
                pids,
                format!("{FORK_BOMB}; bomb 1; echo > /tmp/done1; read x < /gate; bomb 2; echo > /tmp/done2; exec sleep 1000"),
            ),
        ),
        (
            "rl-oom",
            (
                json!({ "memory": { "limit": 32 * MIB, "swap": 32 * MIB } }),
                "read x < /gate; exec tail /dev/zero".to_string(),
            ),
        ),
        (
            "rl-pids",
            (
                json!({ "pids": { "limit": 10 } }),
                format!("{FORK_BOMB}; bomb 1; read n < /tmp/n1; read err < /tmp/err1; echo \"forked $n\"; echo \"err $err\""),
            ),
        ),
        ("dev-none", (json!({}), PROBE.to_string())),
        ("dev-deny-all", (deny_all, PROBE.to_string())),
        ("dev-deny-one", (deny_one, PROBE.to_string())),
        (
            "cpu-quota",
            (
                json!({ "cpu": { "quota": 20000, "period": 100000 } }),
                "spin() { while :; do :; done; }; spin & spin & echo > /tmp/spinning; wait".to_string(),
            ),
        ),
        (
            "freeze",
            (
                json!({}),
                // Written aside and renamed: a plain `>` truncates first, and
                // a read (or a freeze) between truncate and write saw "".
                "i=0; while :; do i=$((i+1)); echo $i > /tmp/count.new; \
                 mv /tmp/count.new /tmp/count; done"
                    .to_string(),
            ),
        ),
    ])
}

/// The newest `/boot/vmlinuz-*` (from linux-image-amd64).
fn kernel() -> PathBuf {
    let mut kernels: Vec<PathBuf> = fs::read_dir("/boot")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("vmlinuz-"))
                })
                .collect()
        })
        .unwrap_or_default();
    kernels.sort();
    kernels.pop().expect(
        "no /boot/vmlinuz-*: install Debian's kernel (apt-get install linux-image-amd64; .ci/run does)",
    )
}

/// Copies `path` (following symlinks) to the same path under `root`.
fn copy_in(root: &Path, path: &Path) {
    let dest = root.join(path.strip_prefix("/").unwrap());
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    fs::copy(path, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", path.display()));
}

/// The libraries (and the loader) `ldd` lists for `bin`.
fn libraries(bin: &Path) -> Vec<PathBuf> {
    let out = run_command(Command::new("ldd").arg(bin), b"", Duration::from_secs(30));
    out.assert_ok();
    out.stdout
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = match l.split_once(" => ") {
                Some((_, rest)) => rest.split(' ').next()?,
                None => l.split(' ').next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// A cpio "newc" archive writer (what the kernel unpacks as initramfs).
struct Cpio {
    out: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while self.out.len() & 3 != 0 {
            self.out.push(0);
        }
    }

    /// Everything under `dir`, named relative to it, parents first.
    fn tree(&mut self, dir: &Path, prefix: &str) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            let meta = fs::symlink_metadata(e.path()).unwrap();
            let mode = meta.mode();
            if meta.is_dir() {
                self.entry(&name, mode, (0, 0), &[]);
                self.tree(&e.path(), &format!("{name}/"));
            } else if meta.file_type().is_symlink() {
                let target = fs::read_link(e.path()).unwrap();
                self.entry(&name, mode, (0, 0), target.as_os_str().as_encoded_bytes());
            } else {
                self.entry(&name, mode, (0, 0), &fs::read(e.path()).unwrap());
            }
        }
    }

    fn char_device(&mut self, name: &str, major: u32, minor: u32) {
        self.entry(name, libc::S_IFCHR | 0o666, (major, minor), &[]);
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, (0, 0), &[]);
        self.out
    }
}

/// A config for [`ROOTLESS_UID`]: a user namespace mapping it (and only it)
/// to root, as `runoci spec --rootless` writes (runc's devpts `gid=5`,
/// which that map lacks, is left for runoci to drop), in a cgroup under
/// the delegated one.
fn rootless(config: &mut Value, name: &str) {
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "type": "user" }));
    let map = json!([{ "containerID": 0, "hostID": ROOTLESS_UID, "size": 1 }]);
    config["linux"]["uidMappings"] = map.clone();
    config["linux"]["gidMappings"] = map;
    config["linux"]["cgroupsPath"] = json!(format!("{DELEGATED}/{name}"));
}

/// Builds the initramfs in `work` and returns its path.
fn build_initramfs(work: &Path) -> PathBuf {
    let stage = work.join("stage");
    fs::create_dir_all(stage.join("bin")).unwrap();
    fs::copy(runoci_tests::HOST_BUSYBOX, stage.join("bin/busybox")).unwrap();
    let runoci = runoci_bin();
    let monitor = runoci.with_file_name("runoci-monitor");
    assert!(monitor.exists(), "no {}", monitor.display());
    fs::create_dir_all(stage.join("usr/bin")).unwrap();
    for bin in [runoci, monitor.as_path()] {
        fs::copy(bin, stage.join("usr/bin").join(bin.file_name().unwrap())).unwrap();
        for lib in libraries(bin) {
            copy_in(&stage, &lib);
        }
    }
    busybox_rootfs(&stage.join("rootfs")).unwrap();
    for (name, (resources, script)) in bundles() {
        let dir = stage.join("s").join(name);
        fs::create_dir_all(&dir).unwrap();
        let mut config = default_config();
        config["process"]["args"] = json!(["sh", "-c", script]);
        config["linux"]["resources"] = resources;
        if name.starts_with("rl-") {
            rootless(&mut config, name);
        }
        fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
    }
    fs::write(stage.join("init"), INIT).unwrap();
    fs::set_permissions(stage.join("init"), fs::Permissions::from_mode(0o755)).unwrap();

    let mut cpio = Cpio {
        out: Vec::new(),
        ino: 0,
    };
    cpio.tree(&stage, "");
    cpio.entry("dev", libc::S_IFDIR | 0o755, (0, 0), &[]);
    cpio.char_device("dev/console", 5, 1);
    // Device nodes for the device scenarios (see init.sh).
    cpio.char_device("rootfs/fuse", 10, 229);
    cpio.char_device("rootfs/mynull", 1, 3);
    cpio.char_device("rootfs/kmsg", 1, 11);
    let path = work.join("initramfs.cpio");
    fs::write(&path, cpio.finish()).unwrap();
    path
}

#[test]
fn pure_cgroup_v2_in_a_vm_enforces_limits_devices_oom_and_cleans_up() {
    let qemu = Path::new("/usr/bin/qemu-system-x86_64");
    assert!(
        qemu.exists(),
        "no {}: apt-get install qemu-system-x86 (.ci/run does)",
        qemu.display()
    );
    let kernel = kernel();
    let work = test_dir().join(format!("vm-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).unwrap();
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            if std::env::var_os("RUNOCI_TEST_KEEP").is_none() {
                let _ = fs::remove_dir_all(&self.0);
            }
        }
    }
    let _remove = Remove(work.clone());
    let initramfs = build_initramfs(&work);
    let console = work.join("console.log");

    let mut cmd = Command::new(qemu);
    cmd.args(["-accel", "tcg", "-m", "1024", "-smp", "2", "-no-reboot"])
        .args(["-display", "none", "-monitor", "none", "-nodefaults"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-kernel")
        .arg(&kernel)
        .arg("-initrd")
        .arg(&initramfs)
        .args(["-append", "console=ttyS0 panic=-1 quiet loglevel=3"]);
    let out = run_command(&mut cmd, b"", Duration::from_secs(240));
    let log = fs::read_to_string(&console).unwrap_or_default();
    let tail: String = {
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    };
    assert!(
        !out.timed_out,
        "qemu did not power off within 240 s\n{out}\n--- console (tail) ---\n{tail}"
    );
    eprintln!("qemu ran for {:?}", out.elapsed);
    for line in log
        .lines()
        .filter(|l| l.starts_with("BOOTED") || l.starts_with("DONE"))
    {
        eprintln!("{line}");
    }

    let results: BTreeMap<&str, &str> = log
        .lines()
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix("RESULT "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    let mut failures = Vec::new();
    for name in SCENARIOS {
        match results.get(name) {
            Some(detail) if *detail == "ok" || detail.starts_with("ok ") => {
                eprintln!("{name}: {detail}");
            }
            Some(detail) => failures.push(format!("{name}: {detail}")),
            None => failures.push(format!("{name}: no RESULT line")),
        }
    }
    assert!(
        failures.is_empty(),
        "in the cgroup v2 VM:\n  {}\n--- console (tail) ---\n{tail}",
        failures.join("\n  ")
    );
}
