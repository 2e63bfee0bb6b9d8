//! Values at and past their boundaries, where they enter runoci: ids at
//! 2147483647 and past it (4294967295 is `(uid_t)-1`, "unchanged" to
//! setresuid), sysctls of namespaces the container does not own, real-time
//! signals on the command line, a state reply over a MiB on the monitor
//! socket, a FIFO as `exec -p`, a config without /proc, `-b` targets with
//! `..`. Each refusal is checked for its message and for what it must not
//! have done (the host's sysctl, a container left behind).

mod common;
mod detached_common;

use common::{assert_fails_with, run_sh_ok};
use detached_common::{container_pid, forever_args, set_args, start_ok, state_dir, wait_until};
use runoci_proto::Client;
use runoci_tests::{unique_id, Bundle, Output, Runtime};
use serde_json::{json, Value};
use std::fs;
use std::time::Duration;

const MAX_ID: u64 = 2_147_483_647;
const PAST: [u64; 2] = [2_147_483_648, 4_294_967_295];

/// `runoci run` of `bundle` as it is; must be refused at load with
/// `message`, leaving no container record.
#[track_caller]
fn assert_run_refused(bundle: &Bundle, rt: &Runtime, prefix: &str, message: &str) -> Output {
    let id = unique_id(prefix);
    let out = rt.run(["run", "-c", bundle.path_str(), &id]);
    assert_fails_with(&out, message);
    assert!(
        rt.container_ids().is_empty(),
        "a refused config left containers {:?}",
        rt.container_ids()
    );
    out
}

// --- ids --------------------------------------------------------------------

/// Sets the value at JSON `pointer`, making the last member if missing.
fn set_pointer(config: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = config
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent} in the config"));
    match parent {
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        Value::Object(members) => {
            members.insert(key.to_string(), value);
        }
        other => panic!("{pointer}: parent is {other}"),
    }
}

#[test]
fn id_2147483647_is_the_largest_accepted_and_id_shows_it() {
    let mut bundle = Bundle::new("id-max");
    let rt = Runtime::runoci();
    bundle.config_mut()["process"]["user"] =
        json!({"uid": MAX_ID, "gid": MAX_ID, "additionalGids": [MAX_ID - 1]});
    let out = run_sh_ok(&mut bundle, &rt, "id-max", "id -u; id -g; id -G");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"2147483647"), "id -u\n{out}");
    assert_eq!(lines.get(1), Some(&"2147483647"), "id -g\n{out}");
    let groups = lines.get(2).copied().unwrap_or("");
    assert!(
        groups.split_whitespace().any(|g| g == "2147483646"),
        "id -G should list the additional gid 2147483646\n{out}"
    );
}

#[test]
fn ids_past_2147483647_are_refused_in_every_config_field() {
    let rt = Runtime::runoci();
    for bad in PAST {
        let device = |field: &str| json!([{"path": "/dev/boundary", "type": "c", "major": 1, "minor": 3, field: bad}]);
        // (field in the error, JSON pointer to set, value)
        let cases = [
            ("process.user.uid", "/process/user/uid", json!(bad)),
            ("process.user.gid", "/process/user/gid", json!(bad)),
            (
                "process.user.additionalGids[0]",
                "/process/user/additionalGids",
                json!([bad]),
            ),
            ("linux.devices[0].uid", "/linux/devices", device("uid")),
            ("linux.devices[0].gid", "/linux/devices", device("gid")),
            (
                "linux.uidMappings[0].hostID",
                "/linux/uidMappings",
                json!([{"containerID": 0, "hostID": bad, "size": 1}]),
            ),
            (
                "linux.gidMappings[0].containerID",
                "/linux/gidMappings",
                json!([{"containerID": bad, "hostID": 0, "size": 1}]),
            ),
            (
                "mounts[0].uidMappings[0].hostID",
                "/mounts/0/uidMappings",
                json!([{"containerID": 0, "hostID": bad, "size": 1}]),
            ),
        ];
        for (field, pointer, value) in cases {
            let mut bundle = Bundle::new("id-past");
            set_pointer(bundle.config_mut(), pointer, value);
            bundle.set_args(&["id", "-u"]);
            let out = assert_run_refused(
                &bundle,
                &rt,
                "id-past",
                &format!("{field}: {bad} is out of range (0..=2147483647)"),
            );
            assert!(out.stdout.is_empty(), "{field} = {bad}: it ran\n{out}");
        }
    }
    // A range whose last id passes the limit, and one whose sum would wrap
    // in 32 bits.
    for (container, host, size) in [(1u64, 0u64, MAX_ID + 1), (0, 4_294_967_295, 2)] {
        let mut bundle = Bundle::new("id-range");
        bundle.config_mut()["linux"]["uidMappings"] =
            json!([{"containerID": container, "hostID": host, "size": size}]);
        assert_run_refused(&bundle, &rt, "id-range", "linux.uidMappings[0]");
    }
}

/// A detached container for `exec`, with a bind of `dir` at /ready.
fn started(bundle: &mut Bundle, rt: &Runtime, prefix: &str) -> String {
    let id = unique_id(prefix);
    set_args(bundle, &forever_args(&id));
    start_ok(rt, bundle, &id, &[]);
    id
}

#[test]
fn exec_takes_ids_up_to_2147483647_and_refuses_past_it() {
    let mut bundle = Bundle::new("exec-ids");
    let rt = Runtime::runoci();
    let id = started(&mut bundle, &rt, "exec-ids");

    let out = rt.run([
        "exec",
        "--user",
        "2147483647:2147483647",
        &id,
        "sh",
        "-c",
        "id -u; id -g",
    ]);
    out.assert_ok();
    assert_eq!(out.stdout, "2147483647\n2147483647\n", "{out}");
    let out = rt.run(["exec", "-g", "2147483647", &id, "id", "-G"]);
    out.assert_ok();
    assert!(
        out.stdout.split_whitespace().any(|g| g == "2147483647"),
        "{out}"
    );

    for bad in PAST {
        let refused = [
            (
                vec!["--user".to_string(), bad.to_string()],
                format!("--user: {bad} is out of range"),
            ),
            (
                vec!["--user".to_string(), format!("0:{bad}")],
                format!("--user: {bad} is out of range"),
            ),
            (
                vec!["-g".to_string(), bad.to_string()],
                format!("{bad} is out of range"),
            ),
            (
                vec!["--additional-gids".to_string(), bad.to_string()],
                format!("{bad} is out of range"),
            ),
        ];
        for (flags, message) in refused {
            let mut args = vec!["exec".to_string()];
            args.extend(flags.iter().cloned());
            args.extend([id.clone(), "id".into(), "-u".into()]);
            let out = rt.run(&args);
            assert_fails_with(&out, &message);
            assert!(out.stdout.is_empty(), "{flags:?}: it ran\n{out}");
        }
        for (field, user) in [
            ("process.user.uid", json!({"uid": bad, "gid": 0})),
            ("process.user.gid", json!({"uid": 0, "gid": bad})),
            (
                "process.user.additionalGids[0]",
                json!({"uid": 0, "gid": 0, "additionalGids": [bad]}),
            ),
        ] {
            let file = bundle.path().join("process.json");
            let process = json!({"args": ["id", "-u"], "cwd": "/", "user": user,
                "env": ["PATH=/bin:/usr/bin"]});
            fs::write(&file, process.to_string()).unwrap();
            let out = rt.run(["exec", "-p", file.to_str().unwrap(), &id]);
            assert_fails_with(
                &out,
                &format!("{field}: {bad} is out of range (0..=2147483647)"),
            );
            assert!(out.stdout.is_empty(), "{field} = {bad}: it ran\n{out}");
        }
    }
    // process.json at the boundary runs.
    let file = bundle.path().join("process.json");
    let process = json!({"args": ["id", "-u"], "cwd": "/",
        "user": {"uid": MAX_ID, "gid": MAX_ID}, "env": ["PATH=/bin:/usr/bin"]});
    fs::write(&file, process.to_string()).unwrap();
    let out = rt.run(["exec", "-p", file.to_str().unwrap(), &id]);
    out.assert_ok();
    assert_eq!(out.stdout, "2147483647\n", "{out}");
}

#[test]
fn exec_p_naming_a_fifo_is_refused_without_blocking() {
    let mut bundle = Bundle::new("exec-fifo");
    let rt = Runtime::runoci();
    let id = started(&mut bundle, &rt, "exec-fifo");
    let fifo = bundle.path().join("process.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // Nobody ever opens the other end: a blocking open would hang until the
    // harness's timeout kills runoci, and the message below would be missing.
    let out = rt.run(["exec", "-p", fifo.to_str().unwrap(), &id]);
    assert_fails_with(&out, "is not a regular file");
    assert_fails_with(&out, fifo.to_str().unwrap());
    // The container is untouched and exec still works.
    let out = rt.run(["exec", &id, "true"]);
    out.assert_ok();
}

// --- sysctl -----------------------------------------------------------------

fn proc_sys(key: &str) -> String {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
        .trim()
        .to_string()
}

/// A value for `key` that differs from the host's current one.
fn other_value(key: &str) -> String {
    let now = proc_sys(key);
    match now.parse::<i64>() {
        Ok(n) if key == "vm.swappiness" => ((n + 7) % 100).to_string(),
        Ok(n) => (n + 1).to_string(),
        Err(_) => format!("{now}x"),
    }
}

fn without_namespace(bundle: &mut Bundle, typ: &str) {
    let namespaces = bundle.config_mut()["linux"]["namespaces"]
        .as_array_mut()
        .unwrap();
    namespaces.retain(|ns| ns["type"] != typ);
}

#[test]
fn sysctls_outside_the_container_s_own_namespaces_are_refused_and_the_host_keeps_its_value() {
    let rt = Runtime::runoci();
    // (key, namespace type to drop (or join the host's by path), why)
    let cases: [(&str, Option<&str>, bool, &str); 8] = [
        ("vm.swappiness", None, false, "not namespaced"),
        ("kernel.panic", None, false, "not namespaced"),
        (
            "net.ipv4.ip_forward",
            Some("network"),
            false,
            "needs the container's own network namespace",
        ),
        (
            "net.ipv4.ip_forward",
            Some("network"),
            true,
            "needs the container's own network namespace",
        ),
        (
            "kernel.hostname",
            Some("uts"),
            false,
            "needs the container's own uts namespace",
        ),
        (
            "kernel.shmmax",
            Some("ipc"),
            false,
            "needs the container's own ipc namespace",
        ),
        (
            "fs.mqueue.msg_max",
            Some("ipc"),
            false,
            "needs the container's own ipc namespace",
        ),
        (
            "fs.mqueue.msg_max",
            Some("ipc"),
            true,
            "needs the container's own ipc namespace",
        ),
    ];
    for (key, namespace, join_host, why) in cases {
        let before = proc_sys(key);
        let mut bundle = Bundle::new("sysctl-host");
        if let Some(typ) = namespace {
            without_namespace(&mut bundle, typ);
            if typ == "uts" {
                bundle
                    .config_mut()
                    .as_object_mut()
                    .unwrap()
                    .remove("hostname");
            }
            if join_host {
                let proc_name = if typ == "network" { "net" } else { typ };
                bundle.config_mut()["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": typ,
                        // The test's own namespace: the runtime's, the host's.
                        "path": format!("/proc/{}/ns/{proc_name}", std::process::id())}));
            }
        }
        bundle.config_mut()["linux"]["sysctl"] = json!({key: other_value(key)});
        bundle.set_args(&["true"]);
        assert_run_refused(
            &bundle,
            &rt,
            "sysctl-host",
            &format!("linux.sysctl.\"{key}\": {why}"),
        );
        assert_eq!(proc_sys(key), before, "{key}: the host's value changed");
    }
    // Keys that could leave /proc/sys.
    for key in [
        "net/../../../etc/passwd",
        "net..ipv4",
        "net/./ipv4/ip_forward",
    ] {
        let mut bundle = Bundle::new("sysctl-key");
        bundle.config_mut()["linux"]["sysctl"] = json!({key: "1"});
        assert_run_refused(
            &bundle,
            &rt,
            "sysctl-key",
            &format!("linux.sysctl.\"{key}\": invalid key"),
        );
    }
}

#[test]
fn sysctls_of_the_container_s_own_namespaces_are_applied_inside_only() {
    let mut bundle = Bundle::new("sysctl-own");
    let rt = Runtime::runoci();
    // 0/1 flags: the opposite of the host's; the others differ from any
    // host default.
    let flip = |key: &str| if proc_sys(key) == "1" { "0" } else { "1" }.to_string();
    let keys = [
        ("net.ipv4.ip_forward", flip("net.ipv4.ip_forward")),
        (
            "net/ipv4/conf/lo/forwarding",
            flip("net/ipv4/conf/lo/forwarding"),
        ),
        ("kernel.shmmax", "123456789".to_string()),
        ("fs.mqueue.msg_max", other_value("fs.mqueue.msg_max")),
        ("kernel.domainname", "boundary.test".to_string()),
    ];
    // The host's values, before and after: only the container's changed.
    let host_before: Vec<String> = keys.iter().map(|(k, _)| proc_sys(k)).collect();
    let sysctl: serde_json::Map<String, Value> = keys
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    bundle.config_mut()["linux"]["sysctl"] = Value::Object(sysctl);
    let script: String = keys
        .iter()
        .map(|(k, _)| format!("cat /proc/sys/{}; ", k.replace('.', "/")))
        .collect();
    let out = run_sh_ok(&mut bundle, &rt, "sysctl-own", &script);
    let inside: Vec<&str> = out.lines().collect();
    let want: Vec<&str> = keys.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(inside, want, "values read inside the container\n{out}");
    let host_after: Vec<String> = keys.iter().map(|(k, _)| proc_sys(k)).collect();
    assert_eq!(host_after, host_before, "the host's values changed");
}

// --- signals ----------------------------------------------------------------

#[test]
fn kill_delivers_real_time_signals_by_number_and_by_name() {
    let mut bundle = Bundle::new("kill-rt");
    let rt = Runtime::runoci();
    let ready = bundle.path().join("ready");
    fs::create_dir(&ready).unwrap();
    let id = unique_id("kill-rt");
    // PID 1 gets only the signals it has a handler for: the traps.
    let script = "trap 'echo 37 >> /ready/got' 37; trap 'echo 38 >> /ready/got' 38; \
                  touch /ready/up; while :; do sleep 0.1; done";
    bundle.set_args(&["sh", "-c", script, &id]);
    let bind = format!("{}:/ready", ready.display());
    start_ok(&rt, &bundle, &id, &["-b", &bind]);
    common::wait_for_file(&ready.join("up"), "the container's ready file");
    let got = ready.join("got");
    let id = id.as_str();
    let sends: [Vec<&str>; 5] = [
        vec!["kill", id, "37"],
        vec!["kill", id, "RTMIN+3"],
        vec!["kill", "-S", "SIGRTMIN+3", id],
        vec!["kill", id, "SIGRTMAX-27"],
        vec!["kill", "--all", id, "RTMIN+4"],
    ];
    let mut expected = Vec::new();
    for (n, args) in sends.iter().enumerate() {
        rt.run(args).assert_ok();
        expected.push(if n == 4 { "38" } else { "37" });
        wait_until(&format!("the trap's line for {args:?}"), || {
            fs::read_to_string(&got).is_ok_and(|t| t.lines().count() == n + 1)
        });
    }
    let lines = fs::read_to_string(&got).unwrap();
    assert_eq!(lines.lines().collect::<Vec<_>>(), expected);
    for bad in ["65", "0", "RTMIN+31", "SIGRTMAX+1"] {
        let out = rt.run(["kill", id, bad]);
        assert_fails_with(&out, "invalid signal");
    }
}

/// A foreground `run` forwards a real-time signal sent to runoci like any
/// other, and reports a program killed by one as 128+N. With `-i` our own
/// init is PID 1 and forwards it to the program (before, nix's sigwait
/// swallowed it, and a program killed by one left the init waiting forever).
#[test]
fn foreground_run_forwards_real_time_signals() {
    for with_init in [false, true] {
        let mut bundle = Bundle::new("run-rt");
        let rt = Runtime::runoci();
        let ready = bundle.path().join("ready");
        fs::create_dir(&ready).unwrap();
        let id = unique_id("run-rt");
        // Without -i the shell is PID 1 and needs a trap to be signalled;
        // with -i it is PID 2 and dies of the signal's default action.
        let script = if with_init {
            "touch /ready/up; while :; do sleep 0.1; done"
        } else {
            "trap 'exit 99' 37; touch /ready/up; while :; do sleep 0.1; done"
        };
        bundle.set_args(&["sh", "-c", script]);
        bundle.write_config();
        let bind = format!("{}:/ready", ready.display());
        let mut args = vec!["run", "-c", bundle.path_str(), "-b", &bind];
        if with_init {
            args.push("-i");
        }
        args.push(&id);
        let mut cmd = rt.cmd(&args);
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().expect("spawn runoci run");
        common::wait_for_file(&ready.join("up"), "the container's ready file");
        // SAFETY: signalling our own child, which we have not reaped yet.
        assert_eq!(unsafe { libc::kill(child.id() as i32, 37) }, 0);
        let mut status = None;
        wait_until("runoci run to exit after the signal", || {
            status = child.try_wait().expect("wait for runoci run");
            status.is_some()
        });
        let status = status.expect("exited");
        let expected = if with_init { 128 + 37 } else { 99 };
        assert_eq!(status.code(), Some(expected), "-i: {with_init}");
    }
}

// --- monitor socket ----------------------------------------------------------

#[test]
fn state_of_a_container_with_a_2_mib_annotation_is_answered_over_the_socket() {
    let mut bundle = Bundle::new("big-state");
    let rt = Runtime::runoci();
    let big = "a".repeat(2 * 1024 * 1024 + 1);
    bundle.config_mut()["annotations"] = json!({"big": big});
    let id = unique_id("big-state");
    set_args(&mut bundle, &forever_args(&id));
    start_ok(&rt, &bundle, &id, &[]);
    let sock = state_dir(&rt, &id).join("monitor.sock");
    let mut client = Client::connect(&sock).unwrap();
    client.set_timeout(Some(Duration::from_secs(60))).unwrap();
    for _ in 0..3 {
        let st = client.state().expect("state over the monitor socket");
        assert_eq!(st.pid, container_pid(&rt, &id));
        assert_eq!(st.annotations.get("big").map(String::len), Some(big.len()));
    }
    let st = rt.state(&id);
    assert_eq!(
        st["annotations"]["big"].as_str().map(str::len),
        Some(big.len())
    );
}

// --- /proc, -b ----------------------------------------------------------------

#[test]
fn masked_paths_without_a_proc_mount_name_the_missing_proc() {
    let mut bundle = Bundle::new("no-proc");
    let rt = Runtime::runoci();
    bundle.config_mut()["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/proc");
    bundle.set_args(&["true"]);
    let out = rt.run(["run", "-c", bundle.path_str(), &unique_id("no-proc")]);
    assert_fails_with(
        &out,
        "linux.maskedPaths: /proc is not mounted in the container",
    );
    assert!(rt.container_ids().is_empty(), "{:?}", rt.container_ids());
}

/// `runoci run -c BUNDLE -b BIND ID`.
fn run_with_bind(rt: &Runtime, bundle: &Bundle, bind: &str) -> Output {
    rt.run([
        "run",
        "-c",
        bundle.path_str(),
        "-b",
        bind,
        &unique_id("bind"),
    ])
}

#[test]
fn dot_dot_in_a_bind_target_is_refused_on_the_command_line_as_in_config_json() {
    let rt = Runtime::runoci();
    let host = std::env::temp_dir();
    let host = host.to_str().unwrap();
    for target in ["/a/../etc", "../etc", "/mnt/.."] {
        let mut bundle = Bundle::new("bind-dotdot");
        bundle.set_args(&["true"]);
        let bind = format!("{host}:{target}");
        let out = run_with_bind(&rt, &bundle, &bind);
        assert_fails_with(&out, &format!("-b {bind}: \"..\" component in {target:?}"));
        assert!(rt.container_ids().is_empty(), "{:?}", rt.container_ids());
        // The same target in config.json, through the same check.
        bundle.config_mut()["mounts"].as_array_mut().unwrap().push(
            json!({"destination": target, "type": "bind", "source": host,
                "options": ["rbind"]}),
        );
        let n = bundle.config()["mounts"].as_array().unwrap().len() - 1;
        let message = format!("mounts[{n}].destination: \"..\" component in {target:?}");
        if target.starts_with('/') {
            assert_run_refused(&bundle, &rt, "bind-dd", &message);
        }
    }
    // Without `..` the bind works.
    let mut bundle = Bundle::new("bind-ok");
    let dir = bundle.path().join("shared");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("f"), "seen\n").unwrap();
    let bind = format!("{}:/mnt/shared", dir.display());
    bundle.set_args(&["cat", "/mnt/shared/f"]);
    let out = run_with_bind(&rt, &bundle, &bind);
    out.assert_ok();
    assert_eq!(out.stdout, "seen\n");
}

// --- found in the review: sizes that overflowed ------------------------------

#[test]
fn hook_timeout_too_large_for_a_clock_is_no_deadline() {
    let mut bundle = Bundle::new("hook-timeout");
    let rt = Runtime::runoci();
    // i64::MAX seconds: adding it to "now" overflowed, and the panic
    // aborted runoci in the middle of creating the container.
    bundle.config_mut()["hooks"] = json!({"prestart": [
        {"path": "/bin/sh", "args": ["sh", "-c", "exit 0"], "timeout": i64::MAX}
    ]});
    bundle.set_args(&["echo", "ran"]);
    let out = rt.run(["run", "-c", bundle.path_str(), &unique_id("hook-timeout")]);
    out.assert_ok();
    assert_eq!(out.stdout, "ran\n", "{out}");
}

#[test]
fn preserve_fds_past_the_fd_range_is_refused() {
    let mut bundle = Bundle::new("preserve-fds");
    let rt = Runtime::runoci();
    bundle.set_args(&["echo", "ran"]);
    // 3 + 4294967293 wrapped to 0: every fd, stdio too, closed on exec.
    for n in ["4294967293", "2147483645"] {
        let out = rt.run([
            "run",
            "--preserve-fds",
            n,
            "-c",
            bundle.path_str(),
            &unique_id("preserve-fds"),
        ]);
        assert_fails_with(
            &out,
            &format!("\"{n}\" is not a number of fds in 0..=2147483644"),
        );
        assert!(out.stdout.is_empty(), "{out}");
        assert!(rt.container_ids().is_empty(), "{:?}", rt.container_ids());
    }
    let out = rt.run([
        "run",
        "--preserve-fds",
        "0",
        "-c",
        bundle.path_str(),
        &unique_id("preserve-fds"),
    ]);
    out.assert_ok();
    assert_eq!(out.stdout, "ran\n", "{out}");
}

/// `--no-pivot` is parsed (engines may pass it) but never applied: it is
/// refused naming the flag, by `create`, `run` and `restore`, and nothing
/// is left.
#[test]
fn no_pivot_is_refused_naming_the_flag_and_leaves_nothing() {
    let rt = Runtime::runoci();
    let mut bundle = Bundle::new("no-pivot");
    bundle.set_args(&["true"]);
    for cmd in ["create", "run"] {
        let id = unique_id("nopivot");
        let out = rt.run([cmd, "--no-pivot", "--bundle", bundle.path_str(), &id]);
        assert_fails_with(&out, "--no-pivot: not supported");
        assert!(rt.container_ids().is_empty(), "{:?}", rt.container_ids());
    }
    let images = bundle.path().join("images");
    let out = rt.run([
        "restore",
        "--no-pivot",
        "--image-path",
        images.to_str().unwrap(),
        "--bundle",
        bundle.path_str(),
        &unique_id("nopivot"),
    ]);
    assert_fails_with(&out, "--no-pivot: not supported");
    assert!(rt.container_ids().is_empty(), "{:?}", rt.container_ids());
}
