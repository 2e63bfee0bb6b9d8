//! What the VM tests that boot an initramfs share (`cgroups_v2_vm.rs`,
//! `criu_vm.rs`): Debian's kernel from /boot (`linux-image-amd64`) and its
//! modules, binaries copied in with the libraries `ldd` lists, a cpio
//! "newc" writer for the initramfs, and one qemu boot under software
//! emulation (`-accel tcg`; KVM is not used) whose /init prints
//! `RESULT name ok|FAIL detail` lines on the serial console.

use crate::{run_command, test_dir};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The guest scripts' shell helpers (`report`, `until_ok`, `expect`,
/// `loop_pids`), for them to source.
pub const SHELL_HELPERS: &str = include_str!("vm_helpers.sh");

/// What CRIU needs of Debian's modular kernel (`criu_vm.rs`,
/// `systemd_cgroup_vm.rs`): socket diagnostics (it dumps sockets through
/// them), nf_tables (the network lock) and conntrack's netlink (it dumps
/// a network namespace's conntrack table; the subsystem missing,
/// nfnetlink answers EINVAL and the dump fails), veth (CRIU probes
/// IFLA_LINK_NETNSID with a veth pair: without it every dump log has an
/// error line "Unable to create a veth pair", quoted when a dump fails
/// for another reason).
pub const CRIU_MODULES: &[&str] = &[
    "crc32c_generic",
    "nf_tables",
    "nf_conntrack",
    "nf_conntrack_netlink",
    "unix_diag",
    "inet_diag",
    "tcp_diag",
    "udp_diag",
    "netlink_diag",
    "af_packet_diag",
    "veth",
];

/// The newest `/boot/vmlinuz-*` (from linux-image-amd64).
pub fn kernel() -> PathBuf {
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

/// The version of `kernel` (`/boot/vmlinuz-VERSION`): its modules are in
/// /lib/modules/VERSION.
pub fn kernel_version(kernel: &Path) -> String {
    kernel
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .unwrap_or_else(|| panic!("{} is not a /boot/vmlinuz-*", kernel.display()))
        .to_string()
}

/// The module files of `names` for kernel `version` with what they depend
/// on (`modinfo -F depends`), in an order `insmod` can load them: each
/// after its dependencies. A name built into the kernel has no file.
pub fn modules(version: &str, names: &[&str]) -> Vec<PathBuf> {
    fn field(version: &str, name: &str, field: &str) -> String {
        let out = run_command(
            Command::new("modinfo").args(["-k", version, "-F", field, name]),
            b"",
            Duration::from_secs(30),
        );
        out.assert_ok();
        out.stdout.trim().to_string()
    }
    fn visit(version: &str, name: &str, seen: &mut Vec<String>, out: &mut Vec<PathBuf>) {
        if seen.iter().any(|s| s == name) {
            return;
        }
        seen.push(name.to_string());
        let deps = field(version, name, "depends");
        for dep in deps.split(',').filter(|d| !d.is_empty()) {
            visit(version, dep, seen, out);
        }
        let file = field(version, name, "filename");
        if file.starts_with('/') {
            out.push(PathBuf::from(file));
        }
    }
    let (mut seen, mut out) = (Vec::new(), Vec::new());
    for name in names {
        visit(version, name, &mut seen, &mut out);
    }
    out
}

/// Copies `path` (following symlinks) to the same path under `root`.
pub fn copy_in(root: &Path, path: &Path) {
    let dest = root.join(path.strip_prefix("/").unwrap());
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    fs::copy(path, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", path.display()));
}

/// The libraries (and the loader) `ldd` lists for `bin`.
pub fn libraries(bin: &Path) -> Vec<PathBuf> {
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

/// Copies `bin` into `dir` under `root` and the libraries it needs to
/// their own paths.
pub fn copy_binary(root: &Path, bin: &Path, dir: &str) {
    fs::create_dir_all(root.join(dir)).unwrap();
    fs::copy(bin, root.join(dir).join(bin.file_name().unwrap()))
        .unwrap_or_else(|e| panic!("copy {}: {e}", bin.display()));
    for lib in libraries(bin) {
        copy_in(root, &lib);
    }
}

/// The base of an initramfs in `stage`: static busybox in /bin, runoci
/// and runoci-monitor (with their libraries) in /usr/bin, a busybox
/// rootfs at /rootfs for the bundles, the shell helpers at /helpers.sh.
pub fn stage_base(stage: &Path) {
    fs::create_dir_all(stage.join("bin")).unwrap();
    fs::copy(crate::HOST_BUSYBOX, stage.join("bin/busybox")).unwrap();
    let runoci = crate::runoci_bin();
    let monitor = runoci.with_file_name("runoci-monitor");
    assert!(monitor.exists(), "no {}", monitor.display());
    for bin in [runoci, monitor.as_path()] {
        copy_binary(stage, bin, "usr/bin");
    }
    crate::busybox_rootfs(&stage.join("rootfs")).unwrap();
    fs::write(stage.join("helpers.sh"), SHELL_HELPERS).unwrap();
}

/// `config` as the bundle /s/NAME (its rootfs is for init to copy there).
pub fn write_bundle(stage: &Path, name: &str, config: &serde_json::Value) {
    let dir = stage.join("s").join(name);
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("config.json"),
        serde_json::to_vec_pretty(config).unwrap(),
    )
    .unwrap();
}

/// Packs `stage` with `init` as /init, /dev/console and the character
/// `devices` (path, major, minor) into `out`.
pub fn pack_initramfs(stage: &Path, init: &str, devices: &[(&str, u32, u32)], out: &Path) {
    fs::write(stage.join("init"), init).unwrap();
    fs::set_permissions(stage.join("init"), fs::Permissions::from_mode(0o755)).unwrap();
    let mut cpio = Cpio::default();
    cpio.tree(stage, "");
    cpio.entry("dev", libc::S_IFDIR | 0o755, (0, 0), &[]);
    cpio.char_device("dev/console", 5, 1);
    for (path, major, minor) in devices {
        cpio.char_device(path, *major, *minor);
    }
    fs::write(out, cpio.finish()).unwrap();
}

/// A cpio "newc" archive writer (what the kernel unpacks as initramfs).
#[derive(Default)]
pub struct Cpio {
    out: Vec<u8>,
    ino: u32,
}

impl Cpio {
    pub fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
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
    pub fn tree(&mut self, dir: &Path, prefix: &str) {
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

    pub fn char_device(&mut self, name: &str, major: u32, minor: u32) {
        self.entry(name, libc::S_IFCHR | 0o666, (major, minor), &[]);
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, (0, 0), &[]);
        self.out
    }
}

/// A work directory for one VM test, removed when dropped (also when the
/// test failed) unless `RUNOCI_TEST_KEEP` is set.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    pub fn new(name: &str) -> WorkDir {
        let work = test_dir().join(format!("{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&work);
        fs::create_dir_all(&work).unwrap();
        WorkDir(work)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if std::env::var_os("RUNOCI_TEST_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Boots `kernel` with `initramfs` (`memory_mib`, two CPUs) until it powers
/// off, within `limit`; the console goes to `console`. Asserts that it
/// powered off, and that every name in `scenarios` has a `RESULT name ok`
/// line (or `ok detail`); `what` names the VM in the failure.
pub fn boot_and_check(
    what: &str,
    kernel: &Path,
    initramfs: &Path,
    console: &Path,
    memory_mib: u32,
    limit: Duration,
    scenarios: &[&str],
) {
    let qemu = Path::new("/usr/bin/qemu-system-x86_64");
    assert!(
        qemu.exists(),
        "no {}: apt-get install qemu-system-x86 (.ci/run does)",
        qemu.display()
    );
    let mut cmd = Command::new(qemu);
    cmd.args(["-accel", "tcg", "-m", &memory_mib.to_string(), "-smp", "2"])
        .args([
            "-no-reboot",
            "-display",
            "none",
            "-monitor",
            "none",
            "-nodefaults",
        ])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initramfs)
        .args(["-append", "console=ttyS0 panic=-1 quiet loglevel=3"]);
    let out = run_command(&mut cmd, b"", limit);
    let log = fs::read_to_string(console).unwrap_or_default();
    let tail: String = {
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    };
    assert!(
        !out.timed_out,
        "qemu did not power off within {limit:?}\n{out}\n--- console (tail) ---\n{tail}"
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
    for name in scenarios {
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
        "in the {what} VM:\n  {}\n--- console (tail) ---\n{tail}",
        failures.join("\n  ")
    );
}
