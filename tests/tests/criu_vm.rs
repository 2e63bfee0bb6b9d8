//! Checkpoint and restore with CRIU, for real: Debian's criu fails its
//! `criu check` on this host's kernel (see `criu_host.rs`), so the test
//! boots Debian's kernel (`linux-image-amd64`) in qemu under software
//! emulation with an initramfs built here: static busybox, runoci,
//! runoci-monitor, criu and what criu runs (iproute2's `ip`, GNU tar,
//! iptables-nft's save/restore) with the libraries `ldd` lists, the kernel modules CRIU's
//! `criu check` wants (socket diagnostics, nf_tables for its network lock)
//! with their dependencies, and `criu_vm/init.sh` as /init. A busybox
//! container counts in a shell loop (its count written to a bind mount when
//! signalled), and init.sh checkpoints and restores it: under its monitor
//! and in runc's dialect, with a `-b A:B` bind mount, with `--leave-running` and a restore under a new
//! id, a pre-dump and a dump on top of it, a broken image; one
//! `RESULT name ok|FAIL detail` line each on the serial console.

use runoci_tests::default_config;
use runoci_tests::vm;
use serde_json::json;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const INIT: &str = include_str!("criu_vm/init.sh");

/// The scenarios init.sh reports on.
const SCENARIOS: &[&str] = &[
    "criu_check",
    "dump_monitor",
    "restore_monitor",
    "leave_running",
    "pre_dump",
    "after_restore",
    "broken_image",
    "runc_dialect",
    "bind_option",
];

/// The counting loop: `$i` lives in the shell's memory only, written to
/// /data/count when the shell gets SIGUSR1 (so no file is open whenever
/// CRIU dumps it); /data/starts gets a line each time the loop starts.
const LOOP: &str = "echo $$ >> /data/starts; i=0; \
    trap 'echo $i > /data/count.new; mv /data/count.new /data/count' USR1; \
    while :; do i=$((i+1)); sleep 0.1; done";

/// Tools CRIU runs (by name, from PATH): iproute2's ip to dump and
/// restore a network namespace, GNU tar (busybox's lacks its options) for
/// the content of tmpfs mounts; the iptables ones are xtables-nft-multi
/// under their names. In /usr/sbin, before busybox's applets.
const TOOLS: &[&str] = &["/usr/sbin/criu", "/bin/ip", "/bin/tar"];
const XTABLES: &[&str] = &[
    "iptables-save",
    "iptables-restore",
    "ip6tables-save",
    "ip6tables-restore",
];

fn build_initramfs(work: &Path, kernel: &Path) -> PathBuf {
    let stage = work.join("stage");
    vm::stage_base(&stage);
    for tool in TOOLS {
        vm::copy_binary(&stage, Path::new(tool), "usr/sbin");
    }
    let xtables = fs::canonicalize("/usr/sbin/iptables-save")
        .expect("no /usr/sbin/iptables-save: apt-get install iptables");
    vm::copy_binary(&stage, &xtables, "usr/sbin");
    for name in XTABLES {
        std::os::unix::fs::symlink(
            xtables.file_name().unwrap(),
            stage.join("usr/sbin").join(name),
        )
        .unwrap();
    }

    let modules = vm::modules(&vm::kernel_version(kernel), vm::CRIU_MODULES);
    fs::create_dir_all(stage.join("m")).unwrap();
    let mut order = String::new();
    for m in &modules {
        let name = m.file_name().unwrap().to_string_lossy().into_owned();
        fs::copy(m, stage.join("m").join(&name)).unwrap();
        order.push_str(&name);
        order.push('\n');
    }
    fs::write(stage.join("m/order"), order).unwrap();

    for name in ["c1", "c2"] {
        let mut config = default_config();
        config["process"]["args"] = json!(["sh", "-c", LOOP]);
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "bind", "source": format!("/d/{name}"),
            "options": ["rbind", "rw"]
        }));
        // prestart and createRuntime run at creation and again at each
        // restore (CRIU's setup-namespaces), with the init's pid.
        let pid_to = |file: &str| {
            json!([{
                "path": "/bin/sh",
                "args": ["sh", "-c", format!("grep -o '\"pid\": *[0-9]*' | grep -o '[0-9]*$' >> /d/{name}/{file}")]
            }])
        };
        config["hooks"] = json!({
            "prestart": pid_to("prestart"),
            "createRuntime": pid_to("createRuntime"),
            "poststop": [{
                "path": "/bin/sh",
                "args": ["sh", "-c", format!("echo stopped >> /d/{name}/poststop")]
            }]
        });
        vm::write_bundle(&stage, name, &config);
    }
    let path = work.join("initramfs.cpio");
    vm::pack_initramfs(&stage, INIT, &[], &path);
    path
}

#[test]
fn checkpoint_and_restore_with_criu_in_a_vm() {
    let kernel = vm::kernel();
    let work = vm::WorkDir::new("criu-vm");
    let initramfs = build_initramfs(&work.0, &kernel);
    vm::boot_and_check(
        "CRIU",
        &kernel,
        &initramfs,
        &work.0.join("console.log"),
        1024,
        Duration::from_secs(300),
        SCENARIOS,
    );
}
