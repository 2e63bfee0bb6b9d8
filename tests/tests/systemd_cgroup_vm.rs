//! The systemd cgroup driver where systemd runs: this machine's PID 1 is
//! not systemd, so the tests boot a Debian system under qemu (TCG,
//! `-accel tcg`) with Debian's kernel and initramfs from /boot
//! (`linux-image-amd64`), a root filesystem made by mmdebstrap from
//! Debian's packages (minbase plus systemd, dbus, podman, containerd,
//! python3-grpcio, criu) with the kernel modules CRIU needs copied in from
//! this host, systemd as init and pure cgroup v2
//! (`systemd.unified_cgroup_hierarchy=1`).
//!
//! The image is built once into a cache keyed by its package list, files
//! and kernel (`$RUNOCI_VM_CACHE`, default /var/cache/runoci-tests) and booted
//! with `-snapshot`, so the cache stays as built. A second disk (ext4 from
//! `mkfs.ext4 -d`) brings this build's runoci and runoci-monitor, three
//! bundles, `systemd_cgroup_vm/run.sh` and the CRI client `cri.py`; a
//! service in the image mounts it and runs run.sh, which prints one
//! `RESULT name ok|FAIL detail` line per scenario on the serial console
//! and powers off. The VM boots once per test process (the first test to
//! ask boots it); each test checks its scenarios' lines. Among them,
//! checkpoint and restore with CRIU: runoci's own, and podman's
//! `container checkpoint` / `restore` (also `--export` / `--import`).

use runoci_tests::{busybox_rootfs, default_config, run_command, runoci_bin, test_dir, vm};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const RUN_SH: &str = include_str!("systemd_cgroup_vm/run.sh");
const CRI_PY: &str = include_str!("systemd_cgroup_vm/cri.py");

/// What mmdebstrap installs on top of minbase.
const PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "podman",
    "containerd",
    "python3-grpcio",
    "kmod",
    // Checkpoint and restore: CRIU and what it runs by name.
    "criu",
    "iproute2",
    "iptables",
];

/// The unit that runs the scenarios once the system is up.
const SERVICE: &str = "[Unit]
Description=runoci systemd cgroup driver tests
Wants=dbus.service containerd.service
After=dbus.service containerd.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mkdir -p /mnt/t && mount /dev/vdb /mnt/t && exec /bin/sh /mnt/t/run.sh'
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
";

/// containerd's CRI with a `runoci` handler on the systemd cgroup driver;
/// the native snapshotter (the guest has no overlay module).
const CONTAINERD_TOML: &str = r#"version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/runoci-pause:1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runoci"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runoci]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runoci.options]
        BinaryName = "/usr/local/bin/runoci"
        SystemdCgroup = true
"#;

/// podman on vfs (no overlay module in the guest).
const STORAGE_CONF: &str = "[storage]
driver = \"vfs\"
runroot = \"/run/containers/storage\"
graphroot = \"/var/lib/containers/storage\"
";

/// Units that would only slow the boot or write on the console.
const MASKED: &[&str] = &[
    "serial-getty@ttyS0.service",
    "getty@tty1.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "e2scrub_all.timer",
    "fstrim.timer",
    "man-db.timer",
    "dpkg-db-backup.timer",
    "systemd-timesyncd.service",
    "podman-auto-update.timer",
    "podman-restart.service",
];

/// How long the VM may run (build not included).
const VM_LIMIT: Duration = Duration::from_secs(600);

const MIB: i64 = 1024 * 1024;

/// FNV-1a: a cache key stable across runs and toolchains.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn run_ok(cmd: &mut Command, limit: Duration) {
    let out = run_command(cmd, b"", limit);
    assert!(!out.timed_out, "timed out after {limit:?}: {cmd:?}\n{out}");
    out.assert_ok();
}

/// The Debian image (raw ext4) for kernel `version`, built on first use.
fn base_image(version: &str) -> PathBuf {
    let mut key_parts: Vec<&str> = PACKAGES.to_vec();
    key_parts.extend(vm::CRIU_MODULES);
    key_parts.extend([
        version,
        SERVICE,
        CONTAINERD_TOML,
        STORAGE_CONF,
        "bookworm minbase v1",
    ]);
    key_parts.extend(MASKED);
    let cache = std::env::var_os("RUNOCI_VM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/runoci-tests"));
    let dir = cache.join(format!("systemd-vm-{:016x}", fnv(&key_parts)));
    let image = dir.join("root.img");
    if image.exists() {
        return image;
    }
    let build = dir.join(format!("build-{}", std::process::id()));
    let _ = fs::remove_dir_all(&build);
    fs::create_dir_all(&build).unwrap();
    let rootfs = build.join("rootfs");
    let sources = [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list",
    ]
    .into_iter()
    .map(Path::new)
    .find(|p| p.exists())
    .expect("no Debian apt sources on this host (/etc/apt/sources.list.d/debian.sources)");
    eprintln!("building the systemd VM image in {}", build.display());
    let t = std::time::Instant::now();
    run_ok(
        Command::new("mmdebstrap")
            .args(["--variant=minbase", "--quiet"])
            .arg(format!("--include={}", PACKAGES.join(",")))
            .arg("bookworm")
            .arg(&rootfs)
            .arg(sources),
        Duration::from_secs(900),
    );
    customize(&rootfs);
    install_modules(&rootfs, version);
    let tmp = build.join("root.img");
    fs::File::create(&tmp)
        .unwrap()
        .set_len(2048 * MIB as u64)
        .unwrap();
    run_ok(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "root", "-d"])
            .arg(&rootfs)
            .arg(&tmp),
        Duration::from_secs(300),
    );
    fs::rename(&tmp, &image).unwrap();
    let _ = fs::remove_dir_all(&build);
    eprintln!("built {} in {:?}", image.display(), t.elapsed());
    image
}

fn customize(rootfs: &Path) {
    let write = |rel: &str, text: &str| {
        let path = rootfs.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
    };
    let link = |target: &str, rel: &str| {
        let path = rootfs.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let _ = fs::remove_file(&path);
        std::os::unix::fs::symlink(target, &path).unwrap();
    };
    write("etc/hostname", "systemd-vm\n");
    write("etc/fstab", "");
    write("etc/systemd/system/runoci-vmtest.service", SERVICE);
    link(
        "/etc/systemd/system/runoci-vmtest.service",
        "etc/systemd/system/multi-user.target.wants/runoci-vmtest.service",
    );
    for unit in MASKED {
        link("/dev/null", &format!("etc/systemd/system/{unit}"));
    }
    write("etc/containerd/config.toml", CONTAINERD_TOML);
    write("etc/containers/storage.conf", STORAGE_CONF);
    // This build's binaries come on the data disk.
    link("/mnt/t/runoci", "usr/local/bin/runoci");
    link("/mnt/t/runoci-monitor", "usr/local/bin/runoci-monitor");
}

/// The modules CRIU needs, of the kernel the VM boots (the image has no
/// kernel package: Debian's modules are 400 MiB), copied from this host's
/// /lib/modules/VERSION with their dependencies and indexed by `depmod`;
/// systemd-modules-load loads them at boot (modules-load.d).
fn install_modules(rootfs: &Path, version: &str) {
    for module in vm::modules(version, vm::CRIU_MODULES) {
        vm::copy_in(rootfs, &module);
    }
    let dir = format!("/lib/modules/{version}");
    for index in [
        "modules.order",
        "modules.builtin",
        "modules.builtin.modinfo",
    ] {
        vm::copy_in(rootfs, &Path::new(&dir).join(index));
    }
    run_ok(
        Command::new("depmod").arg("-b").arg(rootfs).arg(version),
        Duration::from_secs(120),
    );
    let mut list = vm::CRIU_MODULES.join("\n");
    list.push('\n');
    let conf = rootfs.join("etc/modules-load.d");
    fs::create_dir_all(&conf).unwrap();
    fs::write(conf.join("criu.conf"), list).unwrap();
}

/// A bundle config for the guest (rootfs on the data disk), without a
/// cgroup namespace: /proc/self/cgroup then shows the scope.
fn guest_config(args: &[&str], cgroups_path: Option<&str>, resources: Value) -> Value {
    let mut config = default_config();
    config["root"] = json!({ "path": "/mnt/t/rootfs", "readonly": true });
    config["process"]["args"] = json!(args);
    config["linux"]["namespaces"] = json!([
        { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
        { "type": "uts" }, { "type": "mount" }
    ]);
    config["linux"]["resources"] = resources;
    if let Some(p) = cgroups_path {
        config["linux"]["cgroupsPath"] = json!(p);
    }
    config
}

/// A bundle to checkpoint: with a cgroup namespace, whose /sys/fs/cgroup
/// is a cgroup2 mount of its own (a bind of the host's hierarchy would be
/// a slave of a mount outside the container, which CRIU refuses to dump).
fn checkpoint_config() -> Value {
    let mut config = guest_config(
        &["sleep", "100000"],
        Some("runoci.slice:runoci:ck"),
        json!({ "memory": { "limit": 64 * MIB } }),
    );
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "type": "cgroup" }));
    config
}

/// The data disk: binaries, bundles, scripts.
fn data_disk(work: &Path) -> PathBuf {
    let stage = work.join("stage");
    fs::create_dir_all(&stage).unwrap();
    let runoci = runoci_bin();
    for bin in [
        runoci.to_path_buf(),
        runoci.with_file_name("runoci-monitor"),
    ] {
        fs::copy(&bin, stage.join(bin.file_name().unwrap()))
            .unwrap_or_else(|e| panic!("copy {}: {e}", bin.display()));
    }
    busybox_rootfs(&stage.join("rootfs")).unwrap();
    let bundles = [
        (
            "limits",
            guest_config(
                &["sleep", "100000"],
                Some("runoci.slice:runoci:c1"),
                json!({
                    "memory": { "limit": 64 * MIB, "swap": 64 * MIB },
                    "pids": { "limit": 32 },
                    "cpu": { "shares": 512, "quota": 25000, "period": 100000 },
                    "devices": [{ "allow": false, "access": "rwm" }]
                }),
            ),
        ),
        (
            "plain",
            guest_config(&["cat", "/proc/self/cgroup"], None, json!({})),
        ),
        ("ckpt", checkpoint_config()),
    ];
    for (name, config) in bundles {
        let dir = stage.join("b").join(name);
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
    }
    for (name, text) in [
        ("run.sh", RUN_SH),
        ("cri.py", CRI_PY),
        ("helpers.sh", vm::SHELL_HELPERS),
    ] {
        fs::write(stage.join(name), text).unwrap();
        fs::set_permissions(stage.join(name), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let disk = work.join("data.img");
    fs::File::create(&disk)
        .unwrap()
        .set_len(256 * MIB as u64)
        .unwrap();
    run_ok(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-d"])
            .arg(&stage)
            .arg(&disk),
        Duration::from_secs(120),
    );
    disk
}

/// The newest Debian kernel in /boot and its initramfs.
fn kernel() -> (PathBuf, PathBuf) {
    let mut versions: Vec<String> = fs::read_dir("/boot")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix("vmlinuz-").map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    let version = versions.pop().expect(
        "no /boot/vmlinuz-*: install Debian's kernel (apt-get install linux-image-amd64; tests/install-deps.sh does)",
    );
    let kernel = PathBuf::from(format!("/boot/vmlinuz-{version}"));
    let owner = run_command(
        Command::new("dpkg").arg("-S").arg(&kernel),
        b"",
        Duration::from_secs(30),
    );
    assert!(
        owner.stdout.starts_with("linux-image-"),
        "{} is not from a Debian linux-image package: {owner}",
        kernel.display()
    );
    let initrd = PathBuf::from(format!("/boot/initrd.img-{version}"));
    assert!(
        initrd.exists(),
        "no {} (initramfs-tools makes it with the kernel package)",
        initrd.display()
    );
    (kernel, initrd)
}

/// One boot's outcome: RESULT lines by name, the console's tail, or why
/// there was no boot.
struct Vm {
    results: BTreeMap<String, String>,
    tail: String,
    problem: Option<String>,
}

fn boot() -> Vm {
    let work = test_dir().join(format!("systemd-vm-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).unwrap();
    let (kernel, initrd) = kernel();
    let image = base_image(&vm::kernel_version(&kernel));
    let data = data_disk(&work);
    let console = work.join("console.log");
    let mut cmd = Command::new("/usr/bin/qemu-system-x86_64");
    cmd.args(["-accel", "tcg", "-cpu", "max", "-m", "2048", "-smp", "2"])
        .args(["-no-reboot", "-display", "none", "-monitor", "none", "-nodefaults", "-nic", "none"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-kernel")
        .arg(&kernel)
        .arg("-initrd")
        .arg(&initrd)
        .args([
            "-append",
            "root=/dev/vda rw console=ttyS0 systemd.unified_cgroup_hierarchy=1 panic=-1 noresume quiet loglevel=3 systemd.show_status=0",
        ])
        .arg("-drive")
        .arg(format!("file={},if=virtio,format=raw,snapshot=on", image.display()))
        .arg("-drive")
        .arg(format!("file={},if=virtio,format=raw", data.display()));
    let out = run_command(&mut cmd, b"", VM_LIMIT);
    let log = fs::read_to_string(&console).unwrap_or_default();
    let lines: Vec<&str> = log.lines().map(|l| l.trim_end_matches('\r')).collect();
    let tail = lines[lines.len().saturating_sub(80)..].join("\n");
    for line in lines
        .iter()
        .filter(|l| l.starts_with("BOOTED") || l.starts_with("DONE"))
    {
        eprintln!("{line} (guest uptime)");
    }
    eprintln!("qemu ran for {:?}", out.elapsed);
    let results = lines
        .iter()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let problem = out
        .timed_out
        .then(|| format!("qemu did not power off within {VM_LIMIT:?}\n{out}"));
    if std::env::var_os("RUNOCI_TEST_KEEP").is_none() {
        let _ = fs::remove_dir_all(&work);
    }
    Vm {
        results,
        tail,
        problem,
    }
}

/// The one boot of this process: built and booted by the first test to
/// ask; a panic on the way is kept as the reason for every test.
fn vm() -> &'static Vm {
    static VM: OnceLock<Vm> = OnceLock::new();
    VM.get_or_init(|| {
        std::panic::catch_unwind(boot).unwrap_or_else(|e| Vm {
            results: BTreeMap::new(),
            tail: String::new(),
            problem: Some(
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "boot panicked".into()),
            ),
        })
    })
}

/// Every scenario in `names` reported ok.
fn assert_ok(names: &[&str]) {
    let vm = vm();
    if let Some(p) = &vm.problem {
        panic!("the systemd VM: {p}\n--- console (tail) ---\n{}", vm.tail);
    }
    let failures: Vec<String> = names
        .iter()
        .filter_map(|name| match vm.results.get(*name) {
            Some(detail) if detail == "ok" => None,
            Some(detail) => Some(format!("{name}: {detail}")),
            None => Some(format!("{name}: no RESULT line")),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "in the systemd VM:\n  {}\n--- console (tail) ---\n{}",
        failures.join("\n  "),
        vm.tail
    );
}

#[test]
fn create_starts_a_delegated_scope_that_systemctl_shows_with_the_init() {
    assert_ok(&["scope_started"]);
}

#[test]
fn limits_are_unit_properties_and_in_the_scope_cgroup() {
    assert_ok(&["scope_started", "limits"]);
}

#[test]
fn pids_limit_is_enforced_in_the_scope() {
    assert_ok(&["scope_started", "pids_enforced"]);
}

#[test]
fn update_goes_through_set_unit_properties() {
    assert_ok(&["scope_started", "update"]);
}

#[test]
fn delete_stops_the_scope_and_its_cgroup_goes() {
    assert_ok(&["scope_started", "delete"]);
}

#[test]
fn foreground_run_defaults_to_system_slice_and_the_scope_goes_after_exit() {
    assert_ok(&["run_gc"]);
}

#[test]
fn podman_with_the_systemd_cgroup_manager_runs_on_runoci() {
    assert_ok(&["podman_run", "podman_detached"]);
}

#[test]
fn containerd_cri_pod_with_systemd_cgroup_runs_on_runoci() {
    assert_ok(&[
        "cri_image",
        "cri_pod",
        "cri_exec",
        "cri_update",
        "cri_cleanup",
    ]);
}

#[test]
fn restore_under_its_monitor_starts_the_scope_with_the_limits() {
    assert_ok(&["restore_scope"]);
}

#[test]
fn podman_checkpoint_and_restore_with_criu_on_runoci() {
    assert_ok(&[
        "podman_checkpoint",
        "podman_restore",
        "podman_export_import",
        "podman_restore_broken",
        "podman_ck_cleanup",
    ]);
}
