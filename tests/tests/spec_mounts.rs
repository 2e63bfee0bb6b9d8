//! runtime-spec 1.3 mounts (config.md#mounts, config-linux.md): recursive
//! mount options, idmapped mounts, and a mount namespace joined by path.
//! Every test drives the runc dialect (`run --bundle`, `create`), so
//! `RUNOCI_BIN=/usr/bin/runc` runs them against runc too.

use runoci_tests::{unique_id, Bundle, Output, Runtime};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

/// A tmpfs mounted on the host at `path` for one test, unmounted on drop
/// (declared after the bundle that holds it: dropped before it).
struct HostTmpfs(PathBuf);

impl HostTmpfs {
    fn mount(path: &Path) -> HostTmpfs {
        fs::create_dir_all(path).expect("mkdir for the host tmpfs");
        nix::mount::mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("size=1m"),
        )
        .unwrap_or_else(|e| panic!("mount a tmpfs on {}: {e}", path.display()));
        HostTmpfs(path.to_path_buf())
    }
}

impl Drop for HostTmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// `run --bundle B ID` with `sh -c script`.
fn run_sh(bundle: &mut Bundle, rt: &Runtime, prefix: &str, script: &str) -> Output {
    bundle.set_args(&["sh", "-c", script]);
    let id = unique_id(prefix);
    rt.run(["run", "--bundle", bundle.path_str(), &id])
}

/// The per-mount options (mountinfo's 6th field) of the mounts at
/// `points`, in the mountinfo text `info`.
fn mount_options_at<'a>(info: &'a str, point: &str) -> Option<Vec<&'a str>> {
    info.lines().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.get(4) == Some(&point)).then(|| f[5].split(',').collect())
    })
}

fn bind_mount(source: &Path, destination: &str, options: &[&str]) -> Value {
    json!({
        "destination": destination,
        "type": "bind",
        "source": source,
        "options": options,
    })
}

/// config.md#mounts (1.1: recursive options): `rro`, `rnosuid`, `rnodev`,
/// `rnoexec`, `rnoatime` reach every submount of an rbind, read back from
/// the container's mountinfo; a write through either fails with EROFS and
/// nothing lands on the host.
#[test]
fn recursive_options_apply_to_every_submount_of_an_rbind() {
    let mut bundle = Bundle::new("rro");
    let rt = Runtime::runoci();
    let host = bundle.path().join("host");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("top-file"), "top\n").unwrap();
    let _sub = HostTmpfs::mount(&host.join("sub"));
    fs::write(host.join("sub/sub-file"), "sub\n").unwrap();
    bundle.config_mut()["mounts"]
        .as_array_mut()
        .unwrap()
        .push(bind_mount(
            &host,
            "/data",
            &["rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnoatime"],
        ));
    let out = run_sh(
        &mut bundle,
        &rt,
        "rro",
        "cat /proc/self/mountinfo; echo ===; \
         cat /data/top-file /data/sub/sub-file; \
         touch /data/new 2>&1; touch /data/sub/new 2>&1; echo end",
    );
    out.assert_ok();
    let (info, rest) = out.stdout.split_once("===\n").expect("the marker");
    for point in ["/data", "/data/sub"] {
        let opts = mount_options_at(info, point)
            .unwrap_or_else(|| panic!("no mount at {point} in the container:\n{info}"));
        for want in ["ro", "nosuid", "nodev", "noexec", "noatime"] {
            assert!(
                opts.contains(&want),
                "expected {want} on {point} (recursive option), saw {opts:?}"
            );
        }
    }
    assert!(
        rest.starts_with("top\nsub\n"),
        "expected both files readable, saw {rest:?}"
    );
    assert_eq!(
        rest.matches("Read-only file system").count(),
        2,
        "expected both writes to fail with EROFS, saw {rest:?}"
    );
    assert!(
        !host.join("new").exists() && !host.join("sub/new").exists(),
        "a write through rro reached the host"
    );
}

/// `rrw` after `ro` makes the whole tree writable again: the recursive
/// clear is applied after the bind's remount, as runc does.
#[test]
fn recursive_clear_options_undo_what_plain_options_set() {
    let mut bundle = Bundle::new("rrw");
    let rt = Runtime::runoci();
    let host = bundle.path().join("host");
    let _sub = HostTmpfs::mount(&host.join("sub"));
    bundle.config_mut()["mounts"]
        .as_array_mut()
        .unwrap()
        .push(bind_mount(&host, "/data", &["rbind", "ro", "rrw"]));
    let out = run_sh(
        &mut bundle,
        &rt,
        "rrw",
        "echo in > /data/sub/made && cat /proc/self/mountinfo",
    );
    out.assert_ok();
    let opts = mount_options_at(&out.stdout, "/data/sub").expect("the submount");
    assert!(opts.contains(&"rw"), "expected /data/sub rw, saw {opts:?}");
    let opts = mount_options_at(&out.stdout, "/data").expect("the bind");
    assert!(opts.contains(&"rw"), "expected /data rw, saw {opts:?}");
    assert_eq!(fs::read_to_string(host.join("sub/made")).unwrap(), "in\n");
}
