//! Unit tests of the config model: the reference's fixtures, the table of
//! broken configs in `tests/fixtures/bad/expected.txt`, `load`'s file
//! checks, and the name tables.

use super::*;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use std::fs;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn parse_fixture(name: &str) -> Result<Spec, SpecError> {
    let path = fixtures().join(name);
    let text = fs::read_to_string(&path).expect("fixture is readable");
    parse(&text, name)
}

/// A fresh empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("runoci-spec-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn basic_json_parses_with_the_reference_values() {
    let path = fixtures().join("basic.json");
    let text = fs::read_to_string(&path).expect("fixture is readable");
    let spec = super::load::parse_model(&text, "basic.json").expect("basic.json parses");
    assert_eq!(spec.oci_version, "1.0.0-rc1");
    let platform = spec.platform.as_ref().expect("platform");
    assert_eq!(
        (platform.os.as_str(), platform.arch.as_str()),
        ("linux", "amd64")
    );
    let root = spec.root.as_ref().expect("root");
    assert_eq!(root.path, "rootfs");
    assert!(root.readonly);

    let process = spec.process.as_ref().expect("process");
    assert!(process.terminal);
    assert_eq!((process.user.uid, process.user.gid), (0, 0));
    assert_eq!(process.user.additional_gids, vec![1, 2]);
    assert_eq!(process.args, vec!["sh"]);
    assert_eq!(process.env.len(), 2);
    assert!(process.env[0].starts_with("PATH=/usr/local/sbin:"));
    assert_eq!(process.env[1], "TERM=xterm");
    assert_eq!(process.cwd, "/");
    assert_eq!(process.rlimits.len(), 1);
    assert_eq!(process.rlimits[0].typ, "RLIMIT_NICE");
    assert_eq!((process.rlimits[0].soft, process.rlimits[0].hard), (11, 12));
    assert!(process.no_new_privileges);
    assert_eq!(process.umask, Some(0));
    assert_eq!(spec.umask(), 0);
    let capabilities = process.capabilities.as_ref().expect("capabilities");
    let expected_caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    for set in [
        &capabilities.bounding,
        &capabilities.effective,
        &capabilities.inheritable,
        &capabilities.permitted,
        &capabilities.ambient,
    ] {
        assert_eq!(set, &expected_caps);
    }

    assert_eq!(spec.hostname.as_deref(), Some("tester"));
    assert_eq!(spec.mounts.len(), 7);
    assert_eq!(spec.mounts[1].destination, "/dev");
    assert_eq!(
        spec.mounts[1].options,
        vec!["nosuid", "strictatime", "mode=755", "size=65536k"]
    );

    let hooks = spec.hooks.as_ref().expect("hooks");
    assert_eq!(hooks.precreate.len(), 1);
    assert_eq!(hooks.prestart.len(), 2);
    assert_eq!(hooks.prestart[0].args, vec!["fix-mounts", "arg1", "arg2"]);
    assert_eq!(
        hooks.prestart[0].env.as_deref(),
        Some(&["key1=value1".to_string()][..])
    );
    assert_eq!(hooks.poststart.len(), 1);
    assert_eq!(hooks.poststart[0].timeout, Some(5));
    assert_eq!(hooks.poststop.len(), 1);

    let linux = spec.linux.as_ref().expect("linux");
    assert_eq!(linux.rootfs_propagation.as_deref(), Some("rprivate"));
    assert_eq!(linux.alt_syscall.as_deref(), Some("android"));
    assert_eq!(linux.skip_securebits, vec!["KEEP_CAPS", "KEEP_CAPS_LOCKED"]);
    assert_eq!(
        linux.cgroups_path.as_deref(),
        Some("/session_manager_containers")
    );

    assert_eq!(linux.devices.len(), 3);
    let fuse = &linux.devices[0];
    assert_eq!((fuse.path.as_str(), fuse.typ.as_str()), ("/dev/fuse", "c"));
    assert_eq!((fuse.major, fuse.minor), (10, 229));
    assert_eq!(fuse.file_mode, Some(438));
    // Above int32, as the reference's parser test has it: parsed, and then
    // refused by validation (runc's id range; see the test below).
    assert_eq!(fuse.gid, Some(3_221_225_472));
    let binder = &linux.devices[2];
    assert_eq!(binder.path, "/dev/binder");
    assert_eq!(binder.major, 10);
    assert!(binder.dynamic_minor);
    assert!(!binder.dynamic_major);

    let types: Vec<&str> = linux.namespaces.iter().map(|ns| ns.typ.as_str()).collect();
    assert_eq!(types, ["pid", "network", "ipc", "uts", "mount"]);
    assert_eq!(
        linux.namespaces[0].path.as_deref(),
        Some("/proc/1234/ns/pid")
    );
    assert_eq!(linux.namespaces[1].path, None);
    assert!(spec.has_namespace("uts"));
    assert!(!spec.has_namespace("user"));

    let uid_map = linux.uid_mappings.first().expect("uid mapping");
    assert_eq!(
        (uid_map.host_id, uid_map.container_id, uid_map.size),
        (1000, 0, 10)
    );
    assert_eq!(linux.gid_mappings.len(), 1);
    assert!(linux.seccomp.is_some());
    assert_eq!(linux.masked_paths.len(), 5);
    assert_eq!(linux.readonly_paths.len(), 6);

    let cpu = linux.cpu.as_ref().expect("linux.cpu");
    assert_eq!(cpu.shares, Some(1024));
    assert_eq!(cpu.quota, Some(1_000_000));
    assert_eq!(cpu.period, Some(500_000));
    assert_eq!(cpu.realtime_runtime, Some(950_000));
    assert_eq!(cpu.realtime_period, Some(1_000_000));

    let resources = linux.resources.as_ref().expect("resources");
    assert_eq!(resources.devices.len(), 1);
    assert!(!resources.devices[0].allow);
    assert_eq!(resources.devices[0].access.as_deref(), Some("rwm"));
    let network = resources.network.as_ref().expect("network");
    assert_eq!(network.class_id, Some(1_048_577));
    assert_eq!(network.priorities.len(), 2);
}

#[test]
fn stripped_json_parses() {
    let spec = parse_fixture("stripped.json").expect("stripped.json is valid");
    assert!(spec.hooks.is_none());
    assert!(spec
        .process
        .as_ref()
        .is_some_and(|p| p.capabilities.is_none()));
    assert!(spec.linux.as_ref().is_some_and(|l| l.devices.is_empty()));
    assert_eq!(spec.hostname.as_deref(), Some("tester"));
    assert_eq!(spec.umask(), 0o022);
}

#[test]
fn invalid_hostname_json_is_refused() {
    let err = parse_fixture("invalid-hostname.json").expect_err("must be refused");
    assert_eq!(
        err.to_string(),
        "invalid-hostname.json: hostname: invalid hostname \"../secrets\""
    );
    assert_eq!(err.json_path(), Some("hostname"));
}

/// Every line of `bad/expected.txt`: the file and the substring its error
/// must contain.
fn bad_cases() -> Vec<(String, String)> {
    let table = fs::read_to_string(fixtures().join("bad/expected.txt")).expect("expected.txt");
    table
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, expected) = line.split_once('\t').expect("NAME<TAB>expected");
            (name.to_string(), expected.to_string())
        })
        .collect()
}

#[test]
fn every_broken_config_is_refused_with_its_message() {
    let cases = bad_cases();
    assert!(cases.len() >= 20, "only {} broken configs", cases.len());
    let mut failures = Vec::new();
    for (name, expected) in &cases {
        let origin = format!("bad/{name}");
        match parse_fixture(&origin) {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(err) => {
                let message = err.to_string();
                let prefix = format!("{origin}: ");
                if !message.starts_with(&prefix) || !message.contains(expected.as_str()) {
                    failures.push(format!("{name}: got {message:?}, want {expected:?}"));
                }
                if message.contains('\n') {
                    failures.push(format!("{name}: message has more than one line"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_bad_fixture_is_in_the_table() {
    let listed: Vec<String> = bad_cases().into_iter().map(|(name, _)| name).collect();
    for entry in fs::read_dir(fixtures().join("bad")).expect("bad dir") {
        let name = entry.expect("dir entry").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".json") {
            assert!(
                listed.iter().any(|l| *l == name),
                "{name} not in expected.txt"
            );
        }
    }
}

#[test]
fn syntax_errors_give_line_and_column() {
    let err = parse(
        "{\n  \"ociVersion\": \"1.0.0\"\n  \"root\": {}\n}",
        "/b/config.json",
    )
    .expect_err("missing comma");
    assert_eq!(
        err.to_string(),
        "/b/config.json: invalid JSON at line 3 column 3: expected `,` or `}`"
    );
}

#[test]
fn type_errors_name_the_path_without_position() {
    let json = r#"{"ociVersion": "1.0.0", "root": {"path": "r"},
        "process": {"args": ["sh"], "user": {"uid": "x", "gid": 0}}}"#;
    let err = parse(json, "/b/config.json").expect_err("uid is a string");
    assert_eq!(
        err.to_string(),
        "/b/config.json: process.user.uid: invalid type: string \"x\", expected u32"
    );
}

const MINIMAL: &str = r#"{"ociVersion": "1.2.0", "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "cwd": "/", "env": ["A=b=c", "EMPTY="]}}"#;

#[test]
fn env_values_may_contain_equals() {
    let spec = parse(MINIMAL, "minimal").expect("A=b=c and EMPTY= are fine");
    let env = &spec.process.as_ref().expect("process").env;
    assert_eq!(env, &["A=b=c", "EMPTY="], "kept verbatim for execve");
}

#[test]
fn empty_rootfs_propagation_means_unset() {
    let json = MINIMAL.replace(
        "\"root\":",
        "\"linux\": {\"rootfsPropagation\": \"\"}, \"root\":",
    );
    let spec = parse(&json, "minimal").expect("empty propagation is accepted");
    assert_eq!(spec.linux.and_then(|l| l.rootfs_propagation), None);
}

#[test]
fn hostname_needs_uts_only_when_namespaces_are_listed() {
    let with_hostname = MINIMAL.replace("\"root\":", "\"hostname\": \"a-b.example\", \"root\":");
    parse(&with_hostname, "no namespaces key").expect("no linux.namespaces is accepted");
    let with_uts = with_hostname.replace(
        "\"root\":",
        "\"linux\": {\"namespaces\": [{\"type\": \"uts\"}]}, \"root\":",
    );
    parse(&with_uts, "uts").expect("uts namespace is listed");
}

#[test]
fn user_namespace_with_a_path_needs_no_mappings() {
    let json = MINIMAL.replace(
        "\"root\":",
        "\"linux\": {\"namespaces\": [{\"type\": \"user\", \"path\": \"/proc/1/ns/user\"}]}, \"root\":",
    );
    parse(&json, "joined userns").expect("joining a user namespace needs no mappings");
}

#[test]
fn hostname_rules() {
    use super::validate::is_valid_hostname;
    for good in ["a", "tester", "a-b", "x1.example.com", &"a".repeat(63)] {
        assert!(is_valid_hostname(good), "{good:?}");
    }
    let too_long = ["a".repeat(63).as_str(); 5].join(".");
    for bad in [
        "",
        "-a",
        "a-",
        "a..b",
        ".a",
        "a.",
        "../secrets",
        "a/b",
        "a b",
        "ä",
        &"a".repeat(64),
        &too_long,
    ] {
        assert!(!is_valid_hostname(bad), "{bad:?}");
    }
}

#[test]
fn user_umask_wins_over_the_run_oci_extension() {
    let json = MINIMAL.replace(
        "\"args\":",
        "\"umask\": 7, \"user\": {\"umask\": 63}, \"args\":",
    );
    let spec = parse(&json, "umask").expect("valid");
    assert_eq!(spec.umask(), 63);
}

#[test]
fn basic_json_is_refused_for_its_device_gid_above_int32() {
    let err = parse_fixture("basic.json").expect_err("gid 3221225472 refused");
    assert_eq!(
        err.to_string(),
        "basic.json: linux.devices[0].gid: 3221225472 is out of range (0..=2147483647)"
    );
}

#[test]
fn umask_beyond_the_permission_bits_is_refused() {
    for (field, json) in [
        (
            "process.user.umask",
            r#""user": {"uid": 0, "gid": 0, "umask": 512}"#,
        ),
        (
            "process.umask",
            r#""user": {"uid": 0, "gid": 0}, "umask": 4095"#,
        ),
    ] {
        let config = format!(
            r#"{{"ociVersion": "1.0.2", "root": {{"path": "rootfs"}},
               "process": {{{json}, "args": ["sh"], "cwd": "/"}}}}"#
        );
        let err = parse(&config, "umask").expect_err("refused");
        assert!(
            err.to_string().starts_with(&format!("umask: {field}: 0o")),
            "{err}"
        );
    }
}

#[test]
fn time_offsets_take_the_two_clocks_and_nanoseconds_below_a_second() {
    let config = |offsets: &str| {
        format!(
            r#"{{"ociVersion": "1.0.2", "root": {{"path": "rootfs"}},
               "process": {{"user": {{"uid": 0, "gid": 0}}, "args": ["sh"], "cwd": "/"}},
               "linux": {{"namespaces": [{{"type": "mount"}}, {{"type": "time"}}],
                          "timeOffsets": {offsets}}}}}"#
        )
    };
    parse(
        &config(r#"{"monotonic": {"secs": -5, "nanosecs": 999999999}, "boottime": {"secs": 7}}"#),
        "t",
    )
    .expect("valid offsets");
    for (offsets, message) in [
        (
            r#"{"realtime": {"secs": 1}}"#,
            r#"t: linux.timeOffsets."realtime": unknown clock (want monotonic or boottime)"#,
        ),
        (
            r#"{"monotonic 1 0\nboottime": {"secs": 1}}"#,
            r#"t: linux.timeOffsets."monotonic 1 0\nboottime": unknown clock (want monotonic or boottime)"#,
        ),
        (
            r#"{"boottime": {"nanosecs": 1000000000}}"#,
            r#"t: linux.timeOffsets."boottime".nanosecs: 1000000000 is not below one second"#,
        ),
    ] {
        let err = parse(&config(offsets), "t").expect_err(offsets);
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn load_reads_and_validates_config_json() {
    let bundle = TempDir::new("load-ok");
    let text = fs::read_to_string(fixtures().join("basic.json")).expect("fixture");
    let text = text.replace("3221225472", "0");
    fs::write(bundle.0.join("config.json"), &text).expect("write");
    // The reference's fixture spells seccomp names "SCP_…", which no
    // libseccomp knows: refused at load, where it used to fail in the child.
    let err = load(&bundle.0).expect_err("SCP_ACT_KILL refused");
    assert_eq!(
        err.json_path(),
        Some("linux.seccomp.defaultAction"),
        "{err}"
    );
    let text = text.replace("\"SCP_", "\"SCMP_");
    fs::write(bundle.0.join("config.json"), text).expect("write");
    let spec = load(&bundle.0).expect("basic.json (device gid 0, SCMP_ names) loads");
    assert_eq!(spec.hostname.as_deref(), Some("tester"));
}

#[test]
fn load_refuses_a_symlinked_config() {
    let bundle = TempDir::new("load-symlink");
    let target = bundle.0.join("real.json");
    fs::copy(fixtures().join("basic.json"), &target).expect("copy");
    std::os::unix::fs::symlink(&target, bundle.0.join("config.json")).expect("symlink");
    let err = load(&bundle.0).expect_err("symlink refused");
    assert!(matches!(err, SpecError::Symlink { .. }), "{err}");
    let origin = bundle.0.join("config.json");
    assert_eq!(
        err.to_string(),
        format!("{}: is a symlink; refusing to follow it", origin.display())
    );
}

#[test]
fn load_refuses_a_config_over_100_mib() {
    let bundle = TempDir::new("load-large");
    let file = fs::File::create(bundle.0.join("config.json")).expect("create");
    file.set_len(MAX_CONFIG_SIZE + 1).expect("sparse file");
    let err = load(&bundle.0).expect_err("too large");
    assert!(
        err.to_string()
            .ends_with("config.json: larger than 100 MiB"),
        "{err}"
    );
}

#[test]
fn load_reports_a_missing_config() {
    let bundle = TempDir::new("load-missing");
    let err = load(&bundle.0).expect_err("no config.json");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: cannot open: No such file or directory (os error 2)",
            bundle.0.join("config.json").display()
        )
    );
}

#[test]
fn load_refuses_a_directory_and_non_utf8() {
    let bundle = TempDir::new("load-odd");
    fs::create_dir(bundle.0.join("config.json")).expect("mkdir");
    let err = load(&bundle.0).expect_err("directory");
    assert!(err.to_string().ends_with("is not a regular file"), "{err}");

    fs::remove_dir(bundle.0.join("config.json")).expect("rmdir");
    fs::write(bundle.0.join("config.json"), b"{\"a\": \"\xff\"}").expect("write");
    let err = load(&bundle.0).expect_err("not UTF-8");
    assert!(
        err.to_string().ends_with("not valid UTF-8 (at byte 7)"),
        "{err}"
    );
}

fn strings(options: &[&str]) -> Vec<String> {
    options.iter().map(|s| s.to_string()).collect()
}

#[test]
fn mount_options_as_the_reference_parses_them() {
    let parsed = mount_options(&strings(&[
        "nodev",
        "noexec",
        "nosuid",
        "bind",
        "ro",
        "remount",
        "mode=755",
        "size=65536k",
    ]));
    assert_eq!(
        parsed.flags,
        MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
            | MsFlags::MS_NOSUID
            | MsFlags::MS_BIND
            | MsFlags::MS_RDONLY
            | MsFlags::MS_REMOUNT
    );
    assert_eq!(parsed.data, "mode=755,size=65536k");
    assert!(parsed.clear.is_empty());
    assert!(!parsed.loop_device && parsed.verity.is_none() && !parsed.recursive);

    let parsed = mount_options(&strings(&["private", "recursive"]));
    assert_eq!(parsed.propagation, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
    assert!(parsed.recursive);
    assert!(parsed.flags.contains(MsFlags::MS_REC));

    let parsed = mount_options(&strings(&["slave"]));
    assert_eq!(parsed.propagation, MsFlags::MS_SLAVE);
    assert!(parsed.flags.is_empty());

    let parsed = mount_options(&strings(&["loop", "dm=root,payload=ROOT", "uid=5"]));
    assert!(parsed.loop_device);
    assert_eq!(parsed.verity.as_deref(), Some("root,payload=ROOT"));
    assert_eq!(parsed.data, "uid=5");
}

#[test]
fn mount_options_tmpcopyup_is_ours_not_the_kernels() {
    let parsed = mount_options(&strings(&["rw", "nosuid", "tmpcopyup", "size=1m"]));
    assert!(parsed.tmpcopyup);
    assert_eq!(parsed.data, "size=1m");
    assert!(!mount_options(&strings(&["size=1m"])).tmpcopyup);
}

#[test]
fn mount_options_runc_table() {
    let parsed = mount_options(&strings(&["rbind", "rw", "dev", "exec", "suid", "atime"]));
    assert_eq!(parsed.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
    assert!(parsed.recursive);
    assert_eq!(
        parsed.clear,
        MsFlags::MS_RDONLY
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NOATIME
    );
    // The later option wins.
    let parsed = mount_options(&strings(&["rw", "ro"]));
    assert_eq!(parsed.flags, MsFlags::MS_RDONLY);
    assert!(parsed.clear.is_empty());
    let parsed = mount_options(&strings(&["ro", "rw"]));
    assert!(parsed.flags.is_empty());
    assert_eq!(parsed.clear, MsFlags::MS_RDONLY);

    let parsed = mount_options(&strings(&[
        "sync",
        "dirsync",
        "mand",
        "noatime",
        "nodiratime",
        "relatime",
        "strictatime",
        "rshared",
        "defaults",
    ]));
    assert_eq!(
        parsed.flags,
        MsFlags::MS_SYNCHRONOUS
            | MsFlags::MS_DIRSYNC
            | MsFlags::MS_MANDLOCK
            | MsFlags::MS_NOATIME
            | MsFlags::MS_NODIRATIME
            | MsFlags::MS_RELATIME
            | MsFlags::MS_STRICTATIME
    );
    assert_eq!(parsed.propagation, MsFlags::MS_SHARED | MsFlags::MS_REC);
    assert!(!parsed.recursive);
    assert_eq!(parsed.data, "");
}

#[test]
fn mount_options_recursive_attrs_go_to_mount_setattr_not_the_data() {
    let parsed = mount_options(&strings(&[
        "rbind",
        "rro",
        "rnosuid",
        "rnodev",
        "rnoexec",
        "rnodiratime",
        "rnosymfollow",
    ]));
    let rec = &parsed.recursive_attrs;
    assert_eq!(
        rec.set,
        libc::MOUNT_ATTR_RDONLY
            | libc::MOUNT_ATTR_NOSUID
            | libc::MOUNT_ATTR_NODEV
            | libc::MOUNT_ATTR_NOEXEC
            | libc::MOUNT_ATTR_NODIRATIME
            | libc::MOUNT_ATTR_NOSYMFOLLOW
    );
    assert_eq!(rec.clear, 0);
    assert_eq!(
        rec.options,
        [
            "rro",
            "rnosuid",
            "rnodev",
            "rnoexec",
            "rnodiratime",
            "rnosymfollow"
        ]
    );
    assert_eq!(parsed.data, "", "recursive options are not filesystem data");
    assert_eq!(parsed.flags, MsFlags::MS_BIND | MsFlags::MS_REC);

    // The later option wins; clearing is its own field.
    let rec = mount_options(&strings(&["rro", "rrw", "rsuid"])).recursive_attrs;
    assert_eq!(rec.set, 0);
    assert_eq!(rec.clear, libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID);

    // atime is one field: any change of it clears the whole field, as
    // mount_setattr(2) requires (runc does the same).
    let rec = mount_options(&strings(&["rnoatime"])).recursive_attrs;
    assert_eq!(rec.set, libc::MOUNT_ATTR_NOATIME);
    assert_eq!(rec.clear, libc::MOUNT_ATTR__ATIME);
    let rec = mount_options(&strings(&["rstrictatime"])).recursive_attrs;
    assert_eq!(rec.set, libc::MOUNT_ATTR_STRICTATIME);
    assert_eq!(rec.clear, libc::MOUNT_ATTR__ATIME);
    let rec = mount_options(&strings(&["ratime"])).recursive_attrs;
    assert_eq!((rec.set, rec.clear), (0, libc::MOUNT_ATTR__ATIME));
    let rec = mount_options(&strings(&["rrelatime"])).recursive_attrs;
    assert_eq!((rec.set, rec.clear), (0, libc::MOUNT_ATTR__ATIME));

    assert!(mount_options(&strings(&["ro", "nosuid"]))
        .recursive_attrs
        .is_empty());
}

#[test]
fn mount_options_idmap_and_ridmap() {
    assert_eq!(
        mount_options(&strings(&["bind", "idmap"])).idmap,
        Some(false)
    );
    assert_eq!(
        mount_options(&strings(&["rbind", "ridmap"])).idmap,
        Some(true)
    );
    assert_eq!(mount_options(&strings(&["rbind"])).idmap, None);
    assert_eq!(mount_options(&strings(&["idmap"])).data, "");
}

#[test]
fn mount_option_names_cover_every_table() {
    let names = mount_option_names();
    for name in [
        "ro",
        "rro",
        "rnosymfollow",
        "ratime",
        "rprivate",
        "rbind",
        "tmpcopyup",
        "idmap",
        "ridmap",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, names, "sorted, no duplicates");
    // Every name listed means something: none of them is filesystem data.
    for name in &names {
        assert_eq!(mount_options(&strings(&[name])).data, "", "{name}");
    }
}

#[test]
fn capability_names_are_the_spec_spelling() {
    assert_eq!(capability("CAP_KILL"), Some(5));
    assert_eq!(capability("CAP_SYS_ADMIN"), Some(21));
    assert_eq!(capability("CAP_CHECKPOINT_RESTORE"), Some(40));
    for bad in ["KILL", "cap_kill", "CAP_FOO", ""] {
        assert_eq!(capability(bad), None, "{bad:?}");
    }
}

#[test]
fn rlimit_table_has_all_sixteen() {
    let names = [
        "AS",
        "CORE",
        "CPU",
        "DATA",
        "FSIZE",
        "LOCKS",
        "MEMLOCK",
        "MSGQUEUE",
        "NICE",
        "NOFILE",
        "NPROC",
        "RSS",
        "RTPRIO",
        "RTTIME",
        "SIGPENDING",
        "STACK",
    ];
    let mut resources: Vec<_> = names
        .iter()
        .map(|name| rlimit_resource(&format!("RLIMIT_{name}")).expect(name))
        .collect();
    resources.sort_unstable();
    resources.dedup();
    assert_eq!(resources.len(), 16);
    assert_eq!(rlimit_resource("RLIMIT_NOFILE"), Some(libc::RLIMIT_NOFILE));
    assert_eq!(rlimit_resource("RLIMIT_RTTIME"), Some(libc::RLIMIT_RTTIME));
    assert_eq!(rlimit_resource("NOFILE"), None);
}

#[test]
fn securebit_values() {
    assert_eq!(securebit("NOROOT"), Some(0x01));
    assert_eq!(securebit("KEEP_CAPS"), Some(0x10));
    assert_eq!(securebit("KEEP_CAPS_LOCKED"), Some(0x20));
    assert_eq!(securebit("NO_CAP_AMBIENT_RAISE_LOCKED"), Some(0x80));
    assert_eq!(securebit("keep_caps"), None);
}

#[test]
fn propagation_table() {
    assert_eq!(propagation("shared"), Some(MsFlags::MS_SHARED));
    assert_eq!(
        propagation("rslave"),
        Some(MsFlags::MS_SLAVE | MsFlags::MS_REC)
    );
    assert_eq!(
        propagation("rprivate"),
        Some(MsFlags::MS_PRIVATE | MsFlags::MS_REC)
    );
    assert_eq!(
        propagation("runbindable"),
        Some(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC)
    );
    assert_eq!(propagation(""), None);
    assert_eq!(propagation("Private"), None);
}

#[test]
fn namespace_table() {
    assert_eq!(namespace_flag("network"), Some(CloneFlags::CLONE_NEWNET));
    assert_eq!(namespace_flag("mount"), Some(CloneFlags::CLONE_NEWNS));
    assert_eq!(
        namespace_flag("time").map(|f| f.bits()),
        Some(libc::CLONE_NEWTIME)
    );
    assert_eq!(namespace_flag("net"), None);
}

#[test]
fn no_panic_on_odd_documents() {
    for json in [
        "",
        "null",
        "0",
        "\"x\"",
        "{}",
        "{\"ociVersion\": 1}",
        "[",
        "{\"a\":",
    ] {
        assert!(parse(json, "odd").is_err(), "{json:?}");
    }
}

#[test]
fn exec_cpu_affinity_uses_the_spec_spelling() {
    let json = MINIMAL.replace(
        "\"args\":",
        "\"execCPUAffinity\": {\"initial\": \"0\", \"final\": \"0-1\"}, \"args\":",
    );
    let spec = parse(&json, "affinity").expect("valid");
    let affinity = spec.process.and_then(|p| p.exec_cpu_affinity);
    assert!(affinity.is_some_and(|a| a.final_.as_deref() == Some("0-1")));
}

/// MINIMAL with `field` (JSON, without braces) added at the top level.
fn minimal_with(top_level: &str) -> String {
    MINIMAL.replace("\"root\":", &format!("{top_level}, \"root\":"))
}

#[test]
fn every_id_field_is_refused_outside_0_to_2147483647() {
    let process = |user: &str| {
        format!(
            r#"{{"ociVersion": "1.2.0", "root": {{"path": "rootfs"}},
            "process": {{"args": ["sh"], "cwd": "/", "user": {user}}}}}"#
        )
    };
    let mapping = |field: &str, c: u64, h: u64, s: u64| {
        minimal_with(&format!(
            r#""linux": {{"{field}": [{{"containerID": {c}, "hostID": {h}, "size": {s}}}]}}"#
        ))
    };
    let device = |ids: &str| {
        minimal_with(&format!(
            r#""linux": {{"devices": [{{"path": "/dev/x", "type": "c", "major": 1, "minor": 3, {ids}}}]}}"#
        ))
    };
    for bad in [2_147_483_648u64, 4_294_967_295] {
        let cases = [
            (
                process(&format!(r#"{{"uid": {bad}, "gid": 0}}"#)),
                "process.user.uid",
            ),
            (
                process(&format!(r#"{{"uid": 0, "gid": {bad}}}"#)),
                "process.user.gid",
            ),
            (
                process(&format!(
                    r#"{{"uid": 0, "gid": 0, "additionalGids": [1, {bad}]}}"#
                )),
                "process.user.additionalGids[1]",
            ),
            (device(&format!(r#""uid": {bad}"#)), "linux.devices[0].uid"),
            (device(&format!(r#""gid": {bad}"#)), "linux.devices[0].gid"),
            (
                mapping("uidMappings", bad, 0, 1),
                "linux.uidMappings[0].containerID",
            ),
            (
                mapping("gidMappings", 0, bad, 1),
                "linux.gidMappings[0].hostID",
            ),
        ];
        for (json, field) in cases {
            let err = parse(&json, "ids").expect_err(field).to_string();
            assert_eq!(
                err,
                format!("ids: {field}: {bad} is out of range (0..=2147483647)")
            );
        }
    }
    // The last id of a range counts too, and the sum must not wrap.
    for (c, h, s) in [(2, 0, 2_147_483_647), (0, 2_147_483_000, 1000)] {
        let err = parse(&mapping("uidMappings", c, h, s), "ids").expect_err("past the range");
        assert!(err.to_string().contains("out of range"), "{err}");
    }
    parse(
        &process(r#"{"uid": 2147483647, "gid": 2147483647, "additionalGids": [2147483647]}"#),
        "ids",
    )
    .expect("the largest id is accepted");
    parse(&mapping("uidMappings", 0, 0, 2_147_483_648), "ids").expect("the whole range maps");
}

#[test]
fn sysctls_need_the_container_s_own_namespace() {
    let with = |namespaces: &str, key: &str| {
        minimal_with(&format!(
            r#""linux": {{"namespaces": [{namespaces}], "sysctl": {{"{key}": "1"}}}}"#
        ))
    };
    let all = r#"{"type": "mount"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}"#;
    for key in [
        "net.ipv4.ip_forward",
        "net/ipv4/conf/all/forwarding",
        "kernel.shmmax",
        "kernel.shm_rmid_forced",
        "kernel.sem",
        "fs.mqueue.msg_max",
        "kernel.hostname",
        "kernel.domainname",
    ] {
        parse(&with(all, key), "sysctl").unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    let refused = [
        (all, "vm.swappiness", "not namespaced"),
        (all, "kernel.panic", "not namespaced"),
        (all, "kernel.shmmaxx", "not namespaced"),
        (all, "fs.mqueuex.a", "not namespaced"),
        (
            r#"{"type": "mount"}, {"type": "ipc"}"#,
            "net.ipv4.ip_forward",
            "needs the container's own network namespace",
        ),
        (
            r#"{"type": "mount"}, {"type": "network", "path": "/proc/self/ns/net"}"#,
            "net.ipv4.ip_forward",
            "needs the container's own network namespace",
        ),
        (
            r#"{"type": "mount"}, {"type": "network"}"#,
            "kernel.shmmax",
            "needs the container's own ipc namespace",
        ),
        (
            r#"{"type": "mount"}, {"type": "ipc", "path": "/proc/self/ns/ipc"}"#,
            "fs.mqueue.queues_max",
            "needs the container's own ipc namespace",
        ),
        (
            r#"{"type": "mount"}, {"type": "uts", "path": "/proc/self/ns/uts"}"#,
            "kernel.hostname",
            "needs the container's own uts namespace",
        ),
        (
            r#"{"type": "network"}"#,
            "net.ipv4.ip_forward",
            "needs a new mount namespace",
        ),
        (all, "net..ipv4", "invalid key"),
        (all, "net/../../etc/x", "invalid key"),
        (all, "net/./ipv4", "invalid key"),
        (all, "/net/ipv4", "invalid key"),
        (all, "net.ipv4.", "invalid key"),
        (all, "net.\\u0000", "invalid key"),
    ];
    for (namespaces, key, why) in refused {
        let err = parse(&with(namespaces, key), "sysctl")
            .expect_err(key)
            .to_string();
        assert!(
            err.starts_with("sysctl: linux.sysctl.\"") && err.contains(why),
            "{key}: expected {why:?}, saw {err}"
        );
    }
}

#[test]
fn sysctl_keys_name_files_under_proc_sys() {
    assert_eq!(
        sysctl_file("net.ipv4.ip_forward").as_deref(),
        Some("net/ipv4/ip_forward")
    );
    // With '/', a '.' is part of a name (an interface "eth0.100").
    assert_eq!(
        sysctl_file("net/ipv4/conf/eth0.100/forwarding").as_deref(),
        Some("net/ipv4/conf/eth0.100/forwarding")
    );
    for bad in ["", ".", "..", "a..b", "a/../b", "a/./b", "a/", "/a", "a\0b"] {
        assert_eq!(sysctl_file(bad), None, "{bad:?}");
    }
}

/// basic.json with `linux.seccomp` set to `seccomp`, parsed and validated.
fn parse_with_seccomp(seccomp: serde_json::Value) -> Result<Spec, SpecError> {
    let text = fs::read_to_string(fixtures().join("basic.json")).expect("basic.json");
    let text = text.replace("3221225472", "0");
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("basic.json is JSON");
    json["linux"]["seccomp"] = seccomp;
    parse(&json.to_string(), "config.json")
}

#[test]
fn seccomp_model_reads_every_field() {
    let spec = parse_with_seccomp(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "listenerPath": "/run/l.sock", "listenerMetadata": "meta",
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": null},
            {"name": "personality", "action": "SCMP_ACT_NOTIFY", "errnoRet": 1,
             "args": [{"index": 0, "value": 255, "value2": 8, "op": "SCMP_CMP_MASKED_EQ"},
                      {"index": 1, "value": 3, "valueTwo": 4, "op": "SCMP_CMP_LE"}]}
        ]
    }))
    .expect("a full seccomp object is accepted");
    let s = spec.linux.unwrap().seccomp.unwrap();
    assert_eq!(s.default_action, "SCMP_ACT_ERRNO");
    assert_eq!(s.default_errno_ret, Some(38));
    assert_eq!(s.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
    assert_eq!(s.flags, ["SECCOMP_FILTER_FLAG_LOG"]);
    assert_eq!(s.listener_path.as_deref(), Some("/run/l.sock"));
    assert_eq!(s.listener_metadata.as_deref(), Some("meta"));
    assert_eq!(s.syscalls[0].names, ["read", "write"]);
    assert!(s.syscalls[0].args.is_empty(), "null args are none");
    let rule = &s.syscalls[1];
    assert_eq!(rule.name.as_deref(), Some("personality"));
    assert_eq!(rule.errno_ret, Some(1));
    let expected = [
        SeccompArg {
            index: 0,
            value: 255,
            value_two: 8,
            op: "SCMP_CMP_MASKED_EQ".into(),
        },
        SeccompArg {
            index: 1,
            value: 3,
            value_two: 4,
            op: "SCMP_CMP_LE".into(),
        },
    ];
    assert_eq!(rule.args, expected);
    assert!(s.wants_notify());
}

#[test]
fn seccomp_names_are_refused_at_load_with_their_json_path() {
    let allow = serde_json::json!({"names": ["read"], "action": "SCMP_ACT_ALLOW"});
    let cases = [
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_NOPE"}),
            "linux.seccomp.defaultAction",
            "unknown action \"SCMP_ACT_NOPE\"",
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                allow.clone(), allow.clone(),
                {"names": ["write"], "action": "SCMP_ACT_BOGUS"}]}),
            "linux.seccomp.syscalls[2].action",
            "unknown action \"SCMP_ACT_BOGUS\"",
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["write"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                          {"index": 1, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]}),
            "linux.seccomp.syscalls[0].args[1].op",
            "unknown operator \"SCMP_CMP_ALMOST\"",
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["write"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[0].args[0].index",
            "6 is not a syscall argument (0-5)",
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
                               "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"]}),
            "linux.seccomp.architectures[1]",
            "unknown architecture \"SCMP_ARCH_VAX\"",
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}),
            "linux.seccomp.flags[0]",
            "unknown flag \"SECCOMP_FILTER_FLAG_FAST\"",
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.listenerPath",
            "SCMP_ACT_NOTIFY needs a listener socket",
        ),
        (
            serde_json::json!({"syscalls": []}),
            "linux.seccomp.defaultAction",
            "missing",
        ),
    ];
    for (seccomp, path, message) in cases {
        let err = parse_with_seccomp(seccomp.clone()).expect_err("must be refused");
        assert_eq!(err.json_path(), Some(path), "{seccomp}: {err}");
        assert!(
            err.to_string().contains(&format!("{path}: {message}")),
            "{seccomp}: {err}"
        );
    }
}

/// MINIMAL with `mounts` = `[mount]` and `linux` = `linux`.
fn with_mount(mount: &str, linux: &str) -> String {
    MINIMAL.replace(
        "\"root\":",
        &format!("\"mounts\": [{mount}], \"linux\": {linux}, \"root\":"),
    )
}

#[test]
fn idmapped_mounts_are_refused_where_runc_refuses_them() {
    let maps = r#""uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                  "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]"#;
    let userns = r#"{"namespaces": [{"type": "user"}, {"type": "mount"}],
                     "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                     "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}"#;
    let no_userns = r#"{"namespaces": [{"type": "mount"}]}"#;
    let ok = [
        // Mappings imply idmap, with or without a user namespace.
        (
            format!(r#"{{"destination": "/d", "type": "bind", "source": "/s", {maps}}}"#),
            no_userns,
        ),
        (
            format!(
                r#"{{"destination": "/d", "source": "/s", "options": ["rbind", "ridmap"], {maps}}}"#
            ),
            no_userns,
        ),
        // Without mappings: the container's.
        (
            r#"{"destination": "/d", "type": "bind", "source": "/s", "options": ["idmap"]}"#
                .to_string(),
            userns,
        ),
    ];
    for (mount, linux) in &ok {
        parse(&with_mount(mount, linux), "idmap").unwrap_or_else(|e| panic!("{mount}: {e}"));
    }
    let refused = [
        (format!(r#"{{"destination": "/d", "type": "tmpfs", "source": "t", {maps}}}"#), no_userns, "mounts[0].type: idmapped mounts"),
        (r#"{"destination": "/d", "type": "bind", "source": "/s", "options": ["idmap"]}"#.to_string(), no_userns, "mounts[0].options: idmap without uidMappings"),
        (r#"{"destination": "/d", "type": "bind", "source": "/s", "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}"#.to_string(), userns, "mounts[0].gidMappings: empty"),
        (format!(r#"{{"destination": "/d", "type": "bind", "source": "/s", "performInIntermediateNamespace": true, {maps}}}"#), userns, "mounts[0].performInIntermediateNamespace: not supported"),
    ];
    for (mount, linux, want) in &refused {
        let err = parse(&with_mount(mount, linux), "idmap").expect_err(want);
        assert!(err.to_string().contains(want), "want {want:?}, got {err}");
    }
}

/// MINIMAL with `process` fields (JSON, without braces) added.
fn with_process(fields: &str) -> String {
    MINIMAL.replace("\"args\":", &format!("{fields}, \"args\":"))
}

fn refused_at(json: &str, path: &str, message: &str) {
    let err = parse(json, "c").expect_err("must be refused");
    assert_eq!(err.json_path(), Some(path), "{json}: {err}");
    assert!(
        err.to_string().contains(&format!("{path}: {message}")),
        "{json}: {err}"
    );
}

#[test]
fn process_attributes_in_range_are_accepted() {
    for fields in [
        r#""ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 7}"#,
        r#""scheduler": {"policy": "SCHED_FIFO", "priority": 99, "flags": ["SCHED_FLAG_RESET_ON_FORK"]}"#,
        r#""scheduler": {"policy": "SCHED_BATCH", "nice": -20}"#,
        r#""scheduler": {"policy": "SCHED_DEADLINE", "runtime": 1024, "deadline": 2000}"#,
        r#""scheduler": {"policy": "SCHED_DEADLINE", "runtime": 10000, "deadline": 20000, "period": 30000}"#,
        r#""execCPUAffinity": {"initial": "0", "final": "0-1,3"}"#,
    ] {
        parse(&with_process(fields), "c").unwrap_or_else(|e| panic!("{fields}: {e}"));
    }
    for linux in [
        r#""personality": {"domain": "LINUX32"}"#,
        r#""memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_NUMA_BALANCING"]}"#,
        r#""memoryPolicy": {"mode": "MPOL_LOCAL"}"#,
        r#""memoryPolicy": {"mode": "MPOL_PREFERRED"}"#,
        r#""memoryPolicy": {"mode": "MPOL_DEFAULT", "nodes": ""}"#,
    ] {
        parse(&minimal_with(&format!("\"linux\": {{{linux}}}")), "c")
            .unwrap_or_else(|e| panic!("{linux}: {e}"));
    }
}

#[test]
fn process_attributes_out_of_range_are_refused_with_their_path() {
    for (fields, path, message) in [
        (
            r#""ioPriority": {"class": "IOPRIO_CLASS_NONE", "priority": 0}"#,
            "process.ioPriority.class",
            "unknown class \"IOPRIO_CLASS_NONE\"",
        ),
        (
            r#""ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}"#,
            "process.ioPriority.priority",
            "8 outside 0..=7",
        ),
        (
            r#""scheduler": {"policy": "SCHED_ISO"}"#,
            "process.scheduler.policy",
            "SCHED_ISO is not implemented by Linux",
        ),
        (
            r#""scheduler": {"policy": "SCHED_FAST"}"#,
            "process.scheduler.policy",
            "unknown policy \"SCHED_FAST\"",
        ),
        (
            r#""scheduler": {"policy": "SCHED_RR", "priority": 1, "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_TURBO"]}"#,
            "process.scheduler.flags[1]",
            "unknown flag \"SCHED_FLAG_TURBO\"",
        ),
        (
            r#""scheduler": {"policy": "SCHED_OTHER", "nice": 20}"#,
            "process.scheduler.nice",
            "20 outside -20..=19",
        ),
        (
            r#""scheduler": {"policy": "SCHED_FIFO"}"#,
            "process.scheduler.priority",
            "0 outside 1..=99 for SCHED_FIFO",
        ),
        (
            r#""scheduler": {"policy": "SCHED_OTHER", "priority": 5}"#,
            "process.scheduler.priority",
            "5 set, but only SCHED_FIFO and SCHED_RR take a priority",
        ),
        (
            r#""scheduler": {"policy": "SCHED_OTHER", "runtime": 5}"#,
            "process.scheduler",
            "runtime, deadline and period are for SCHED_DEADLINE",
        ),
        (
            r#""scheduler": {"policy": "SCHED_DEADLINE", "runtime": 100, "deadline": 2000}"#,
            "process.scheduler.runtime",
            "100 ns is below the 1024 ns",
        ),
        (
            r#""scheduler": {"policy": "SCHED_DEADLINE", "runtime": 3000, "deadline": 2000}"#,
            "process.scheduler",
            "SCHED_DEADLINE needs runtime <= deadline <= period",
        ),
        (
            r#""execCPUAffinity": {"final": "3-1"}"#,
            "process.execCPUAffinity.final",
            "range \"3-1\" in \"3-1\" runs backwards",
        ),
    ] {
        refused_at(&with_process(fields), path, message);
    }
    for (linux, path, message) in [
        (
            r#""personality": {"domain": "LINUX64"}"#,
            "linux.personality.domain",
            "unknown domain \"LINUX64\"",
        ),
        (
            r#""personality": {"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}"#,
            "linux.personality.flags[0]",
            "unsupported flag \"ADDR_NO_RANDOMIZE\"",
        ),
        (
            r#""memoryPolicy": {"mode": "MPOL_SOMETIMES"}"#,
            "linux.memoryPolicy.mode",
            "unknown mode \"MPOL_SOMETIMES\"",
        ),
        (
            r#""memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_LAZY"]}"#,
            "linux.memoryPolicy.flags[0]",
            "unknown flag \"MPOL_F_LAZY\"",
        ),
        (
            r#""memoryPolicy": {"mode": "MPOL_BIND"}"#,
            "linux.memoryPolicy.nodes",
            "MPOL_BIND needs at least one node",
        ),
        (
            r#""memoryPolicy": {"mode": "MPOL_LOCAL", "nodes": "0"}"#,
            "linux.memoryPolicy.nodes",
            "MPOL_LOCAL takes no nodes",
        ),
        (
            r#""memoryPolicy": {"mode": "MPOL_INTERLEAVE", "nodes": "0-x"}"#,
            "linux.memoryPolicy.nodes",
            "\"x\" in \"0-x\" is not a number",
        ),
        (
            r#""memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}"#,
            "linux.memoryPolicy.flags",
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
        ),
        (
            r#""memoryPolicy": {"mode": "MPOL_PREFERRED", "flags": ["MPOL_F_STATIC_NODES"]}"#,
            "linux.memoryPolicy.flags",
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES need nodes",
        ),
        (
            r#""memoryPolicy": {"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]}"#,
            "linux.memoryPolicy.flags",
            "MPOL_F_NUMA_BALANCING applies to MPOL_BIND or MPOL_PREFERRED_MANY, not MPOL_INTERLEAVE",
        ),
    ] {
        refused_at(
            &minimal_with(&format!("\"linux\": {{{linux}}}")),
            path,
            message,
        );
    }
}

#[test]
fn net_devices_need_a_new_netns_and_interface_names() {
    let with = |namespaces: &str, devices: &str| {
        minimal_with(&format!(
            r#""linux": {{"namespaces": [{namespaces}], "netDevices": {{{devices}}}}}"#
        ))
    };
    let new = r#"{"type": "network"}"#;
    for devices in [
        r#""eth1": {}"#,
        r#""eth1": {"name": "ctr0"}, "eth2": {"name": "ctr1"}"#,
        r#""eth1": {"name": "ctr%d"}, "eth2": {"name": "ctr%d"}"#,
        r#""abcdefghijklmno": {}"#,
    ] {
        parse(&with(new, devices), "netDevices").unwrap_or_else(|e| panic!("{devices}: {e}"));
    }
    let refused = [
        (
            r#"{"type": "mount"}"#,
            r#""eth1": {}"#,
            "needs a new network namespace",
        ),
        (
            r#"{"type": "network", "path": "/proc/self/ns/net"}"#,
            r#""eth1": {}"#,
            "needs a new network namespace",
        ),
        (
            new,
            r#""eth1": {"name": "a/b"}"#,
            r#"linux.netDevices."eth1".name"#,
        ),
        (new, r#""eth1": {"name": ".."}"#, "not an interface name"),
        (new, r#""eth1": {"name": "a b"}"#, "whitespace"),
        (new, r#""eth1": {"name": "abcdefghijklmnop"}"#, "IFNAMSIZ"),
        (new, r#""eth1": {"name": ""}"#, "empty"),
        (new, r#""eth1": {"name": "x%s"}"#, "template"),
        (new, r#""a/b": {}"#, "not a host interface name"),
        (new, r#""eth%d": {}"#, "not a host interface name"),
        (
            new,
            r#""eth1": {"name": "x"}, "eth2": {"name": "x"}"#,
            "a second device",
        ),
        (
            new,
            r#""eth1": {}, "eth2": {"name": "eth1"}"#,
            "a second device",
        ),
    ];
    for (namespaces, devices, want) in refused {
        let err = parse(&with(namespaces, devices), "netDevices")
            .expect_err(devices)
            .to_string();
        assert!(err.contains("linux.netDevices"), "{devices}: {err}");
        assert!(err.contains(want), "{devices}: {err}");
    }
}
