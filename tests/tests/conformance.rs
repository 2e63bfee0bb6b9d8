//! Conformance with the OCI runtime specification, written from its
//! `runtime.md` (lifecycle, state, operations) and `config.md` /
//! `config-linux.md` (root, mounts, process, hostname, hooks, namespaces),
//! driven through runoci's runc dialect the way engines drive it:
//! `runoci --root R create --bundle B ID`, `start ID`, `state ID`,
//! `kill ID SIG`, `delete ID`.
//!
//! The container's stdio is `create`'s: each container gets files as
//! stdout and stderr at `create`, read once it has stopped. Every
//! assertion goes through [`spec!`], whose message starts with the spec
//! section it checks (`runtime.md#state: ...`).
//!
//! With `RUNOCI_BIN=/usr/bin/runc` the module checks runc instead; runc
//! 1.1 fails one assertion there: it runs poststart hooks at `create`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use runoci_tests::{unique_id, Bundle, HostSnapshot, Output, Runtime};
use serde_json::{json, Value};

/// `spec!(cond, "runtime.md#state", "what must hold", context...)`.
macro_rules! spec {
    ($cond:expr, $section:expr, $what:expr) => {
        assert!($cond, "{}: {}", $section, $what)
    };
    ($cond:expr, $section:expr, $what:expr, $($ctx:tt)+) => {
        assert!($cond, "{}: {}\n{}", $section, $what, format!($($ctx)+))
    };
}

/// A container of one test: its bundle, runtime root and id, and the files
/// `create` gave it as stdout and stderr.
struct Ctr {
    id: String,
    out: PathBuf,
    err: PathBuf,
    // Dropped in this order: the runtime (kills and deletes what is
    // left), then the bundle.
    rt: Runtime,
    bundle: Bundle,
}

impl Ctr {
    fn new(name: &str, args: &[&str]) -> Ctr {
        let mut bundle = Bundle::new(name);
        bundle.set_args(args);
        let out = bundle.path().join("stdout.txt");
        let err = bundle.path().join("stderr.txt");
        Ctr {
            id: unique_id(name),
            out,
            err,
            rt: Runtime::runoci(),
            bundle,
        }
    }

    fn config(&mut self) -> &mut Value {
        self.bundle.config_mut()
    }

    fn bundle_dir(&self) -> PathBuf {
        self.bundle.path().to_path_buf()
    }

    /// `create --bundle B ID` with stdout and stderr to the files; the
    /// output of runoci itself (its errors) comes back too.
    fn create(&self) -> Output {
        self.create_as(&self.id)
    }

    fn create_as(&self, id: &str) -> Output {
        let mut c = self
            .rt
            .cmd(["create", "--bundle", self.bundle.path_str(), id]);
        let out = File::create(&self.out).expect("stdout file");
        let err = File::create(&self.err).expect("stderr file");
        run_with_files(&mut c, out, err)
    }

    /// Another `create` of this bundle as `id`, its stdio captured by the
    /// harness (the files stay the first container's).
    fn create_again(&self, id: &str) -> Output {
        self.rt
            .run(["create", "--bundle", self.bundle.path_str(), id])
    }

    fn run(&self, args: &[&str]) -> Output {
        self.rt.run(args)
    }

    fn start(&self) -> Output {
        self.run(&["start", &self.id])
    }

    fn state(&self) -> Value {
        self.rt.state(&self.id)
    }

    fn status(&self) -> String {
        self.state()["status"].as_str().unwrap_or("").to_string()
    }

    /// Polls `state` until the status is `want` (panics after 30 s).
    fn wait_status(&self, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let st = self.rt.run(["state", &self.id]);
            if st.success() && st.json()["status"] == want {
                return;
            }
            if Instant::now() > deadline {
                panic!("container {} never became {want}\n{st}", self.id);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stdout(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// create, start, wait until stopped, delete: the program's stdout.
    fn run_to_end(&self) -> String {
        self.create().assert_ok();
        self.start().assert_ok();
        self.wait_status("stopped");
        self.run(&["delete", &self.id]).assert_ok();
        let out = self.stdout();
        if out.is_empty() {
            eprintln!("container stderr: {}", self.stderr());
        }
        out
    }
}

/// Runs `cmd` with the given stdout/stderr (files the container keeps),
/// capturing nothing; `Output`'s stdout/stderr are the files' contents.
fn run_with_files(cmd: &mut Command, out: File, err: File) -> Output {
    let out_path = out.try_clone().expect("dup");
    let err_path = err.try_clone().expect("dup");
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn runoci");
    let deadline = start + Duration::from_secs(60);
    let (status, timed_out) = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break (s, false);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break (child.wait().expect("wait"), true);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let read = |mut f: File| {
        use std::io::{Read, Seek, SeekFrom};
        let mut s = String::new();
        let _ = f.seek(SeekFrom::Start(0));
        let _ = f.read_to_string(&mut s);
        s
    };
    Output {
        command: format!("{cmd:?}"),
        status,
        stdout: read(out_path),
        stderr: read(err_path),
        timed_out,
        elapsed: start.elapsed(),
    }
}

/// A running container whose init waits for signals: TERM and USR1 are
/// trapped and reported on stdout.
fn waiting(name: &str) -> Ctr {
    Ctr::new(
        name,
        &[
            "sh",
            "-c",
            "trap 'echo got-usr1' USR1; trap 'echo got-term; exit 0' TERM; echo up; \
             while :; do sleep 0.05; done",
        ],
    )
}

fn wait_for_stdout(c: &Ctr, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !c.stdout().contains(needle) {
        if Instant::now() > deadline {
            panic!("{needle:?} never printed; stdout {:?}", c.stdout());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// runtime.md: lifecycle, state, operations
// ---------------------------------------------------------------------------

#[test]
fn lifecycle_and_state() {
    let mut c = waiting("conf-life");
    c.config()["annotations"] = json!({"org.opencontainers.test": "yes"});
    let snapshot = HostSnapshot::take();
    let created = c.create();
    spec!(
        created.success(),
        "runtime.md#create",
        "create of a valid bundle must succeed",
        "{created}"
    );

    let st = c.state();
    spec!(
        st["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "runtime.md#state",
        "ociVersion is REQUIRED",
        "{st}"
    );
    spec!(
        st["id"] == c.id.as_str(),
        "runtime.md#state",
        "id must be the container's id",
        "{st}"
    );
    spec!(
        st["status"] == "created",
        "runtime.md#state",
        "status must be `created` after create",
        "{st}"
    );
    let pid = st["pid"].as_i64().unwrap_or(0);
    spec!(
        pid > 0,
        "runtime.md#state",
        "pid is REQUIRED when created (Linux)",
        "{st}"
    );
    spec!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "runtime.md#state",
        "pid is the container process as seen by the host",
        "{st}"
    );
    let bundle = st["bundle"].as_str().unwrap_or("");
    spec!(
        Path::new(bundle).is_absolute(),
        "runtime.md#state",
        "bundle must be an absolute path",
        "{st}"
    );
    spec!(
        Path::new(bundle) == c.bundle_dir().canonicalize().unwrap(),
        "runtime.md#state",
        "bundle must be the bundle's directory",
        "{st}"
    );
    spec!(
        st["annotations"]["org.opencontainers.test"] == "yes",
        "runtime.md#state",
        "annotations must be the config's annotations",
        "{st}"
    );
    // The created process has not executed the program (busybox sh) yet:
    // it is still the runtime's, waiting for start.
    let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    spec!(
        !exe.as_os_str().is_empty() && exe.file_name() != Some("busybox".as_ref()),
        "runtime.md#lifecycle",
        "the user-specified program must not run before start",
        "pid {pid} executes {} already; stdout {:?}",
        exe.display(),
        c.stdout()
    );
    spec!(
        c.stdout().is_empty(),
        "runtime.md#lifecycle",
        "the user-specified program must not run before start",
        "stdout {:?}",
        c.stdout()
    );

    // Changing config.json after create has no effect.
    c.bundle.set_args(&["sh", "-c", "echo from-changed-config"]);
    c.bundle.write_config();

    let again = c.create_again(&c.id);
    spec!(
        !again.success(),
        "runtime.md#create",
        "a non-unique id must be an error",
        "{again}"
    );
    spec!(
        c.status() == "created",
        "runtime.md#create",
        "a failed create must not affect the existing container"
    );

    let started = c.start();
    spec!(
        started.success(),
        "runtime.md#start",
        "start of a created container must succeed",
        "{started}"
    );
    wait_for_stdout(&c, "up");
    spec!(
        !c.stdout().contains("from-changed-config"),
        "runtime.md#create",
        "changes to config.json after create must not affect the container",
        "stdout {:?}",
        c.stdout()
    );
    let st = c.state();
    spec!(
        st["status"] == "running",
        "runtime.md#state",
        "status must be `running` after start",
        "{st}"
    );
    spec!(
        st["pid"].as_i64() == Some(pid),
        "runtime.md#state",
        "pid must stay the container process's",
        "{st}"
    );

    let restart = c.start();
    spec!(
        !restart.success(),
        "runtime.md#start",
        "start of a container that is not created must be an error",
        "{restart}"
    );
    spec!(
        c.status() == "running",
        "runtime.md#start",
        "a refused start must have no effect on the container"
    );

    let del = c.run(&["delete", &c.id]);
    spec!(
        !del.success(),
        "runtime.md#delete",
        "delete of a container that is not stopped must be an error",
        "{del}"
    );
    spec!(
        c.status() == "running",
        "runtime.md#delete",
        "a refused delete must have no effect on the container"
    );

    let killed = c.run(&["kill", &c.id, "KILL"]);
    spec!(
        killed.success(),
        "runtime.md#kill",
        "kill of a running container must succeed",
        "{killed}"
    );
    c.wait_status("stopped");
    spec!(
        c.status() == "stopped",
        "runtime.md#lifecycle",
        "the container must be `stopped` once its process exited"
    );

    let kill_stopped = c.run(&["kill", &c.id, "KILL"]);
    spec!(
        !kill_stopped.success(),
        "runtime.md#kill",
        "kill of a container that is neither created nor running must be an error",
        "{kill_stopped}"
    );
    let start_stopped = c.start();
    spec!(
        !start_stopped.success(),
        "runtime.md#start",
        "start of a stopped container must be an error",
        "{start_stopped}"
    );

    let deleted = c.run(&["delete", &c.id]);
    spec!(
        deleted.success(),
        "runtime.md#delete",
        "delete of a stopped container must succeed",
        "{deleted}"
    );
    let state = c.run(&["state", &c.id]);
    spec!(
        !state.success(),
        "runtime.md#query-state",
        "state of a deleted container must be an error",
        "{state}"
    );
    let leaks = snapshot.leaks(&[&c.id]);
    spec!(
        leaks.is_empty(),
        "runtime.md#delete",
        "delete must remove the resources create made",
        "{leaks:?}"
    );

    // The id is free again.
    let reuse = c.create_again(&c.id);
    spec!(
        reuse.success(),
        "runtime.md#create",
        "a deleted container's id is unique again",
        "{reuse}"
    );
}

#[test]
fn unknown_id_is_an_error() {
    let rt = Runtime::runoci();
    let id = unique_id("conf-nope");
    for (op, section) in [
        (vec!["state", &id], "runtime.md#query-state"),
        (vec!["start", &id], "runtime.md#start"),
        (vec!["kill", &id, "KILL"], "runtime.md#kill"),
        (vec!["delete", &id], "runtime.md#delete"),
    ] {
        let out = rt.run(&op);
        spec!(
            !out.success(),
            section,
            format!(
                "`{}` of a container that does not exist must be an error",
                op[0]
            ),
            "{out}"
        );
        spec!(
            !out.stderr.trim().is_empty(),
            section,
            format!("`{}` of an unknown id must report the error", op[0]),
            "{out}"
        );
    }
    spec!(
        rt.container_ids().is_empty(),
        "runtime.md#operations",
        "operations on an unknown id must create nothing"
    );
}

#[test]
fn create_errors_leave_nothing() {
    // No config.json.
    let c = Ctr::new("conf-nocfg", &["true"]);
    fs::remove_file(c.bundle.config_path()).unwrap();
    let out = c.create();
    spec!(
        !out.success(),
        "runtime.md#create",
        "create without config.json must be an error",
        "{out}"
    );
    let st = c.run(&["state", &c.id]);
    spec!(
        !st.success(),
        "runtime.md#create",
        "a failed create must leave no container",
        "{st}"
    );

    // A namespace path that is not a namespace.
    let mut c = Ctr::new("conf-badns", &["true"]);
    let not_ns = c.bundle_dir().join("config.json");
    c.config()["linux"]["namespaces"] = json!([
        {"type": "mount"}, {"type": "pid"}, {"type": "uts"},
        {"type": "network", "path": not_ns}
    ]);
    let snapshot = HostSnapshot::take();
    let out = c.create();
    spec!(
        !out.success(),
        "config-linux.md#namespaces",
        "a namespace path that is not a namespace must be an error",
        "{out}"
    );
    let st = c.run(&["state", &c.id]);
    spec!(
        !st.success(),
        "runtime.md#create",
        "a failed create must leave no container",
        "{st}"
    );
    let leaks = snapshot.leaks(&[&c.id, c.bundle.path_str()]);
    spec!(
        leaks.is_empty(),
        "runtime.md#create",
        "a failed create must leave nothing running or mounted",
        "{leaks:?}"
    );
}

#[test]
fn kill_semantics() {
    // kill of a created container: allowed; the program never runs.
    let c = Ctr::new("conf-kill-created", &["sh", "-c", "echo should-not-run"]);
    c.create().assert_ok();
    let out = c.run(&["kill", &c.id, "KILL"]);
    spec!(
        out.success(),
        "runtime.md#kill",
        "kill of a created container must succeed",
        "{out}"
    );
    c.wait_status("stopped");
    spec!(
        !c.stdout().contains("should-not-run"),
        "runtime.md#kill",
        "a created container killed before start never runs its program",
        "stdout {:?}",
        c.stdout()
    );
    c.run(&["delete", &c.id]).assert_ok();

    // The signal reaches the container's process.
    let c = waiting("conf-kill-sig");
    c.create().assert_ok();
    c.start().assert_ok();
    wait_for_stdout(&c, "up");
    let out = c.run(&["kill", &c.id, "USR1"]);
    spec!(
        out.success(),
        "runtime.md#kill",
        "kill with a signal name must succeed",
        "{out}"
    );
    wait_for_stdout(&c, "got-usr1");
    spec!(
        c.status() == "running",
        "runtime.md#kill",
        "a handled signal must not stop the container"
    );
    let out = c.run(&["kill", &c.id, "15"]);
    spec!(
        out.success(),
        "runtime.md#kill",
        "kill with a signal number must succeed",
        "{out}"
    );
    wait_for_stdout(&c, "got-term");
    c.wait_status("stopped");
    spec!(
        c.status() == "stopped",
        "runtime.md#kill",
        "a process that exits on the signal leaves the container stopped"
    );
    c.run(&["delete", &c.id]).assert_ok();
}

#[test]
fn program_exit_stops_the_container() {
    let c = Ctr::new("conf-exit", &["sh", "-c", "echo bye"]);
    c.create().assert_ok();
    c.start().assert_ok();
    c.wait_status("stopped");
    spec!(
        c.stdout() == "bye\n",
        "runtime.md#start",
        "start must run the user-specified program",
        "{:?}",
        c.stdout()
    );
    spec!(
        c.status() == "stopped",
        "runtime.md#lifecycle",
        "the container is stopped when its process exits"
    );
}

// ---------------------------------------------------------------------------
// config.md: process
// ---------------------------------------------------------------------------

#[test]
fn process_args_env_cwd() {
    std::env::set_var("RUNOCI_CONFORMANCE_HOST_ONLY", "leak");
    let mut c = Ctr::new(
        "conf-proc",
        &[
            "sh",
            "-c",
            "echo \"[$1][$2]\"; pwd; env",
            "zero",
            "one two",
            "three",
        ],
    );
    c.config()["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz", "EMPTY="]);
    c.config()["process"]["cwd"] = json!("/tmp");
    let out = c.run_to_end();
    let mut lines = out.lines();
    spec!(
        lines.next() == Some("[one two][three]"),
        "config.md#process",
        "args are passed as execvp's argv, unsplit",
        "{out}"
    );
    spec!(
        lines.next() == Some("/tmp"),
        "config.md#process",
        "cwd is the process's working directory",
        "{out}"
    );
    let env: Vec<&str> = lines.collect();
    spec!(
        env.contains(&"FOO=bar baz"),
        "config.md#process",
        "env entries are set",
        "{out}"
    );
    spec!(
        env.contains(&"EMPTY="),
        "config.md#process",
        "env entries with empty values are set",
        "{out}"
    );
    spec!(
        env.contains(&"PATH=/bin"),
        "config.md#process",
        "env PATH is the config's",
        "{out}"
    );
    spec!(
        !out.contains("RUNOCI_CONFORMANCE_HOST_ONLY"),
        "config.md#process",
        "the environment is the config's, not the runtime's",
        "{out}"
    );
}

#[test]
fn process_user() {
    let mut c = Ctr::new("conf-user", &["sh", "-c", "id -u; id -g; id -G"]);
    c.config()["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 7]});
    let out = c.run_to_end();
    let lines: Vec<&str> = out.lines().collect();
    spec!(
        lines.first() == Some(&"1000"),
        "config.md#user",
        "uid is the process's user id",
        "{out}"
    );
    spec!(
        lines.get(1) == Some(&"1000"),
        "config.md#user",
        "gid is the process's group id",
        "{out}"
    );
    let groups: Vec<&str> = lines.get(2).unwrap_or(&"").split_whitespace().collect();
    spec!(
        groups.contains(&"5") && groups.contains(&"7"),
        "config.md#user",
        "additionalGids are the supplementary groups",
        "{out}"
    );
}

fn status_field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn process_capabilities_and_no_new_privileges() {
    let mut c = Ctr::new("conf-caps", &["cat", "/proc/self/status"]);
    c.config()["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
        "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "inheritable": [],
        "ambient": []
    });
    c.config()["process"]["noNewPrivileges"] = json!(true);
    let out = c.run_to_end();
    // CAP_CHOWN 0, CAP_KILL 5, CAP_NET_BIND_SERVICE 10.
    spec!(
        status_field(&out, "CapEff:") == "0000000000000420",
        "config.md#linux-process",
        "capabilities.effective is the effective set",
        "{out}"
    );
    spec!(
        status_field(&out, "CapPrm:") == "0000000000000420",
        "config.md#linux-process",
        "capabilities.permitted is the permitted set",
        "{out}"
    );
    spec!(
        status_field(&out, "CapBnd:") == "0000000000000421",
        "config.md#linux-process",
        "capabilities.bounding is the bounding set",
        "{out}"
    );
    spec!(
        status_field(&out, "CapInh:") == "0000000000000000",
        "config.md#linux-process",
        "capabilities.inheritable is the inheritable set",
        "{out}"
    );
    spec!(
        status_field(&out, "CapAmb:") == "0000000000000000",
        "config.md#linux-process",
        "capabilities.ambient is the ambient set",
        "{out}"
    );
    spec!(
        status_field(&out, "NoNewPrivs:") == "1",
        "config.md#linux-process",
        "noNewPrivileges true sets no_new_privs",
        "{out}"
    );

    let mut c = Ctr::new("conf-nnp", &["grep", "NoNewPrivs", "/proc/self/status"]);
    c.config()["process"]["noNewPrivileges"] = json!(false);
    let out = c.run_to_end();
    spec!(
        status_field(&out, "NoNewPrivs:") == "0",
        "config.md#linux-process",
        "noNewPrivileges false leaves no_new_privs unset",
        "{out}"
    );
}

#[test]
fn process_rlimits() {
    let mut c = Ctr::new("conf-rlimits", &["cat", "/proc/self/limits"]);
    c.config()["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
    ]);
    let out = c.run_to_end();
    let row = |name: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.starts_with(name))
            .map(|l| {
                l[name.len()..]
                    .split_whitespace()
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let nofile = row("Max open files");
    spec!(
        nofile.first().map(String::as_str) == Some("100"),
        "config.md#posix-process",
        "rlimits soft is the soft limit",
        "{out}"
    );
    spec!(
        nofile.get(1).map(String::as_str) == Some("200"),
        "config.md#posix-process",
        "rlimits hard is the hard limit",
        "{out}"
    );
    let core = row("Max core file size");
    spec!(
        core.first().map(String::as_str) == Some("0")
            && core.get(1).map(String::as_str) == Some("0"),
        "config.md#posix-process",
        "every rlimits entry is applied",
        "{out}"
    );
}

// ---------------------------------------------------------------------------
// config.md: root, hostname, mounts
// ---------------------------------------------------------------------------

#[test]
fn hostname_and_root_readonly() {
    let mut c = Ctr::new(
        "conf-ro",
        &[
            "sh",
            "-c",
            "hostname; touch /x 2>&1; echo touch=$?; grep ' / ' /proc/mounts",
        ],
    );
    c.config()["hostname"] = json!("conformance-host");
    c.config()["root"]["readonly"] = json!(true);
    let out = c.run_to_end();
    let lines: Vec<&str> = out.lines().collect();
    spec!(
        lines.first() == Some(&"conformance-host"),
        "config.md#hostname",
        "hostname is the container's hostname",
        "{out}"
    );
    spec!(
        out.contains("touch=1") && out.contains("Read-only file system"),
        "config.md#root",
        "root.readonly true makes the root filesystem read-only",
        "{out}"
    );
    let root_mount = lines
        .iter()
        .find(|l| l.contains(" / "))
        .copied()
        .unwrap_or("");
    spec!(
        root_mount
            .split_whitespace()
            .nth(3)
            .is_some_and(|o| o.split(',').any(|x| x == "ro")),
        "config.md#root",
        "root.readonly true mounts / ro",
        "{out}"
    );

    // readonly false, and root.path as an absolute path.
    let mut c = Ctr::new("conf-rw", &["sh", "-c", "touch /x && echo writable"]);
    let abs = c.bundle.rootfs();
    c.config()["root"] = json!({"path": abs, "readonly": false});
    let out = c.run_to_end();
    spec!(
        out == "writable\n",
        "config.md#root",
        "root.readonly false leaves / writable",
        "{out}"
    );
    spec!(
        c.bundle.rootfs().join("x").exists(),
        "config.md#root",
        "root.path (absolute) is the container's root filesystem"
    );
}

#[test]
fn mounts() {
    let mut c = Ctr::new(
        "conf-mounts",
        &[
            "sh",
            "-c",
            "cat /data/in; echo out > /data/out 2>/dev/null && echo data-writable; \
             stat -c %a /mnt/t; grep -E ' /mnt/(t|o|o/inner) ' /proc/self/mountinfo | cut -d' ' -f5,6; \
             ls /deep/new/dir >/dev/null && echo deep-exists",
        ],
    );
    let data = c.bundle_dir().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("in"), "host file\n").unwrap();
    let mounts = c.config()["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/data", "type": "bind", "source": data, "options": ["rbind", "ro"]}),
    );
    mounts.push(json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "noexec", "mode=700", "size=1m"]}));
    mounts.push(json!({"destination": "/mnt/o", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}));
    mounts.push(json!({"destination": "/mnt/o/inner", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}));
    mounts.push(json!({"destination": "/deep/new/dir", "type": "tmpfs", "source": "tmpfs"}));
    let out = c.run_to_end();
    let lines: Vec<&str> = out.lines().collect();
    spec!(
        lines.first() == Some(&"host file"),
        "config.md#mounts",
        "a bind mount shows its source",
        "{out}"
    );
    spec!(
        !out.contains("data-writable"),
        "config.md#mounts",
        "option ro makes the mount read-only",
        "{out}"
    );
    spec!(
        !data.join("out").exists(),
        "config.md#mounts",
        "a read-only bind mount must not write to its source"
    );
    spec!(
        lines.get(1) == Some(&"700"),
        "config.md#mounts",
        "filesystem data options (mode=700) are applied",
        "{out}"
    );
    let t = lines
        .iter()
        .find(|l| l.starts_with("/mnt/t "))
        .copied()
        .unwrap_or("");
    spec!(
        t.contains("noexec") && t.contains("nosuid"),
        "config.md#mounts",
        "mount flags options (nosuid, noexec) are applied",
        "{out}"
    );
    let pos = |p: &str| lines.iter().position(|l| l.starts_with(&format!("{p} ")));
    spec!(
        matches!((pos("/mnt/o"), pos("/mnt/o/inner")), (Some(a), Some(b)) if a < b),
        "config.md#mounts",
        "mounts are mounted in the listed order",
        "{out}"
    );
    spec!(
        out.contains("deep-exists"),
        "config.md#mounts",
        "a destination that does not exist in the rootfs is created",
        "{out}"
    );
}

// ---------------------------------------------------------------------------
// config-linux.md: namespaces, masked and read-only paths
// ---------------------------------------------------------------------------

fn ns_of(pid: i64, ns: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

#[test]
fn namespaces() {
    let mut c = waiting("conf-ns");
    c.config()["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "network"}, {"type": "uts"},
        {"type": "mount"}, {"type": "cgroup"}
    ]);
    c.create().assert_ok();
    let pid = c.state()["pid"].as_i64().unwrap();
    for ns in ["pid", "net", "uts", "mnt", "cgroup"] {
        let host = fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        spec!(
            ns_of(pid, ns) != host.display().to_string(),
            "config-linux.md#namespaces",
            format!("a listed {ns} namespace is a new one"),
            "container {} host {}",
            ns_of(pid, ns),
            host.display()
        );
    }
    let host_ipc = fs::read_link("/proc/self/ns/ipc").unwrap();
    spec!(
        ns_of(pid, "ipc") == host_ipc.display().to_string(),
        "config-linux.md#namespaces",
        "a namespace type that is not listed is inherited from the runtime"
    );

    // Joining by path: a second container in the first one's network ns.
    let mut joiner = Ctr::new("conf-ns-join", &["sh", "-c", "echo $$; cat /proc/net/dev"]);
    joiner.config()["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "mount"}, {"type": "uts"},
        {"type": "network", "path": format!("/proc/{pid}/ns/net")}
    ]);
    joiner.create().assert_ok();
    let jpid = joiner.state()["pid"].as_i64().unwrap();
    spec!(
        ns_of(jpid, "net") == ns_of(pid, "net"),
        "config-linux.md#namespaces",
        "a namespace with a path is joined, not created"
    );
    joiner.start().assert_ok();
    joiner.wait_status("stopped");
    let out = joiner.stdout();
    spec!(
        out.lines().next() == Some("1"),
        "config-linux.md#namespaces",
        "in a new pid namespace the process is pid 1",
        "{out}"
    );
    let ifaces: Vec<&str> = out
        .lines()
        .skip(3)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    spec!(
        ifaces == ["lo"],
        "config-linux.md#namespaces",
        "a new network namespace holds only lo",
        "{out}"
    );
    joiner.run(&["delete", &joiner.id]).assert_ok();
    c.run(&["kill", &c.id, "KILL"]).assert_ok();
    c.wait_status("stopped");
    c.run(&["delete", &c.id]).assert_ok();
}

#[test]
fn user_namespace_create_then_start() {
    // Container root is host 100000: it has no way into the runtime's
    // state directory (0700, host root's), yet `start` must release it.
    let mut c = Ctr::new(
        "conf-userns",
        &["sh", "-c", "id -u; cat /proc/self/uid_map"],
    );
    runoci_tests::user_namespaced(c.config());
    let out = c.run_to_end();
    let lines = runoci_tests::word_lines(&out);
    spec!(
        lines == vec![vec!["0"], vec!["0", "100000", "65536"]],
        "config-linux.md#user-namespace-mappings",
        "the process runs as the mapped root after create and start",
        "stdout {out:?} stderr {:?}",
        c.stderr()
    );
}

#[test]
fn masked_and_readonly_paths() {
    let mut c = Ctr::new(
        "conf-paths",
        &[
            "sh",
            "-c",
            "wc -c < /etc/secret-file; ls /secret-dir | wc -l; \
             echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sys-writable; \
             grep ' /proc/sys ' /proc/self/mountinfo | cut -d' ' -f6",
        ],
    );
    // Paths of our own: which of the usual /proc ones exist depends on the
    // kernel's configuration.
    let rootfs = c.bundle.rootfs();
    fs::write(rootfs.join("etc/secret-file"), "secret\n").unwrap();
    fs::create_dir(rootfs.join("secret-dir")).unwrap();
    fs::write(rootfs.join("secret-dir/f"), "secret\n").unwrap();
    c.config()["linux"]["maskedPaths"] = json!(["/etc/secret-file", "/secret-dir", "/proc/kcore"]);
    let out = c.run_to_end();
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    spec!(
        lines.first() == Some(&"0"),
        "config-linux.md#masked-paths",
        "a masked file reads empty",
        "{out}"
    );
    spec!(
        lines.get(1) == Some(&"0"),
        "config-linux.md#masked-paths",
        "a masked directory is empty",
        "{out}"
    );
    spec!(
        !out.contains("sys-writable"),
        "config-linux.md#readonly-paths",
        "a read-only path cannot be written",
        "{out}"
    );
    spec!(
        lines
            .last()
            .is_some_and(|o| o.split(',').any(|x| x == "ro")),
        "config-linux.md#readonly-paths",
        "a read-only path is mounted ro",
        "{out}"
    );
}

// ---------------------------------------------------------------------------
// config.md: hooks
// ---------------------------------------------------------------------------

/// A hook (on the host, or in the container for startContainer) that
/// appends its stage and hostname to `<log>/order` and saves its stdin
/// (the state) and environment.
fn hook(sh: &str, log: &str, stage: &str) -> Value {
    json!({
        "path": sh,
        "args": ["sh", "-c", format!(
            "cat > {log}/{stage}.json; env > {log}/{stage}.env; echo {stage} $(hostname) >> {log}/order"
        )],
        "env": ["PATH=/bin:/usr/bin", "HOOKVAR=hook value"]
    })
}

#[test]
fn hooks_order_state_and_env() {
    let mut c = Ctr::new(
        "conf-hooks",
        &["sh", "-c", "echo program >> /hooklog/order"],
    );
    let log = c.bundle_dir().join("hooklog");
    fs::create_dir(&log).unwrap();
    let host_log = log.to_str().unwrap().to_string();
    c.config()["hostname"] = json!("hooked");
    c.config()["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/hooklog", "type": "bind", "source": log, "options": ["rbind"]}),
    );
    c.config()["hooks"] = json!({
        "prestart": [hook("/bin/sh", &host_log, "prestart")],
        "createRuntime": [hook("/bin/sh", &host_log, "createRuntime")],
        "createContainer": [hook("/bin/sh", &host_log, "createContainer")],
        "startContainer": [hook("/bin/sh", "/hooklog", "startContainer")],
        "poststart": [hook("/bin/sh", &host_log, "poststart")],
        "poststop": [hook("/bin/sh", &host_log, "poststop")]
    });
    let order = || -> Vec<String> {
        fs::read_to_string(log.join("order"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
            .collect()
    };
    let host_name = nix::unistd::gethostname().unwrap().into_string().unwrap();

    c.create().assert_ok();
    let after_create = order();
    spec!(
        after_create.contains(&"createRuntime".to_string()),
        "config.md#createruntime-hooks",
        "createRuntime hooks run during create",
        "{after_create:?}"
    );
    spec!(
        after_create.contains(&"createContainer".to_string()),
        "config.md#createcontainer-hooks",
        "createContainer hooks run during create",
        "{after_create:?}"
    );
    spec!(
        after_create.contains(&"prestart".to_string()),
        "config.md#prestart",
        "prestart hooks run during create",
        "{after_create:?}"
    );
    spec!(
        !after_create.contains(&"startContainer".to_string())
            && !after_create.contains(&"poststart".to_string()),
        "config.md#startcontainer-hooks",
        "startContainer and poststart hooks do not run before start",
        "{after_create:?}"
    );

    c.start().assert_ok();
    c.wait_status("stopped");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !order().contains(&"poststart".to_string()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let after_start = order();
    spec!(
        !after_start.contains(&"poststop".to_string()),
        "config.md#poststop",
        "poststop hooks do not run before delete",
        "{after_start:?}"
    );
    c.run(&["delete", &c.id]).assert_ok();
    let all = order();
    let pos = |s: &str| all.iter().position(|x| x == s);
    let before = |a: &str, b: &str| matches!((pos(a), pos(b)), (Some(x), Some(y)) if x < y);
    spec!(
        before("prestart", "createContainer"),
        "config.md#prestart",
        "prestart runs before createContainer (before pivot_root)",
        "{all:?}"
    );
    spec!(
        before("createRuntime", "createContainer"),
        "config.md#createruntime-hooks",
        "createRuntime runs before createContainer",
        "{all:?}"
    );
    spec!(
        before("createContainer", "startContainer"),
        "config.md#createcontainer-hooks",
        "createContainer runs before startContainer",
        "{all:?}"
    );
    spec!(
        before("startContainer", "program"),
        "config.md#startcontainer-hooks",
        "startContainer runs before the user-specified program",
        "{all:?}"
    );
    spec!(
        pos("poststart").is_some(),
        "config.md#poststart",
        "poststart hooks run after start",
        "{all:?}"
    );
    spec!(
        before("startContainer", "poststart"),
        "config.md#poststart",
        "poststart runs after startContainer",
        "{all:?}"
    );
    spec!(
        all.last().map(String::as_str) == Some("poststop"),
        "config.md#poststop",
        "poststop hooks run last, at delete",
        "{all:?}"
    );
    spec!(
        all.iter().filter(|s| *s == "poststop").count() == 1,
        "config.md#poststop",
        "poststop hooks run once",
        "{all:?}"
    );

    // Where they run: the runtime namespace or the container's.
    let text = fs::read_to_string(log.join("order")).unwrap_or_default();
    let host_of = |stage: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{stage} ")))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("")
            .to_string()
    };
    spec!(
        host_of("createRuntime") == host_name,
        "config.md#createruntime-hooks",
        "createRuntime hooks run in the runtime namespace",
        "{text}"
    );
    spec!(
        host_of("startContainer") == "hooked",
        "config.md#startcontainer-hooks",
        "startContainer hooks run in the container namespace",
        "{text}"
    );
    spec!(
        host_of("poststart") == host_name,
        "config.md#poststart",
        "poststart hooks run in the runtime namespace",
        "{text}"
    );

    // The state on stdin, and env.
    for stage in ["createRuntime", "createContainer", "poststart", "poststop"] {
        let st: Value = fs::read_to_string(log.join(format!("{stage}.json")))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null);
        spec!(
            st["id"] == c.id.as_str(),
            "config.md#posix-platform-hooks",
            format!("the {stage} hook gets the container's state on stdin"),
            "{st}"
        );
        spec!(
            Path::new(st["bundle"].as_str().unwrap_or(""))
                == c.bundle_dir().canonicalize().unwrap(),
            "config.md#posix-platform-hooks",
            format!("the {stage} hook's state names the bundle"),
            "{st}"
        );
        let env = fs::read_to_string(log.join(format!("{stage}.env"))).unwrap_or_default();
        spec!(
            env.lines().any(|l| l == "HOOKVAR=hook value"),
            "config.md#posix-platform-hooks",
            format!("the {stage} hook's env is the hook's env"),
            "{env}"
        );
        spec!(
            !env.contains("RUST_") && !env.contains("CARGO"),
            "config.md#posix-platform-hooks",
            format!("the {stage} hook's env is only the hook's env"),
            "{env}"
        );
    }
}

#[test]
fn failing_create_runtime_hook_fails_create() {
    let mut c = Ctr::new("conf-hookfail", &["true"]);
    c.config()["hooks"] = json!({
        "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]
    });
    let snapshot = HostSnapshot::take();
    let out = c.create();
    spec!(
        !out.success(),
        "config.md#createruntime-hooks",
        "a failing createRuntime hook must make create fail",
        "{out}"
    );
    let st = c.run(&["state", &c.id]);
    spec!(
        !st.success(),
        "runtime.md#lifecycle",
        "after a failing hook the container must be gone",
        "{st}"
    );
    let leaks = snapshot.leaks(&[&c.id, c.bundle.path_str()]);
    spec!(
        leaks.is_empty(),
        "runtime.md#lifecycle",
        "after a failing hook nothing of the container must remain",
        "{leaks:?}"
    );
}
