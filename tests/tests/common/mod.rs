//! Helpers shared by the `run_*` integration tests: run a shell script in a
//! busybox container with `runoci run` and look at what it printed.
#![allow(dead_code)] // each test crate uses its own subset

use runoci_tests::{unique_id, Bundle, Output, Runtime};

/// `runoci run -c BUNDLE ID` with `process.args = ["sh", "-c", script]`.
pub fn run_sh(bundle: &mut Bundle, rt: &Runtime, prefix: &str, script: &str) -> Output {
    bundle.set_args(&["sh", "-c", script]);
    let id = unique_id(prefix);
    rt.run(["run", "-c", bundle.path_str(), &id])
}

/// Like [`run_sh`], and the run must succeed; returns stdout.
#[track_caller]
pub fn run_sh_ok(bundle: &mut Bundle, rt: &Runtime, prefix: &str, script: &str) -> String {
    let out = run_sh(bundle, rt, prefix, script);
    out.assert_ok();
    out.stdout
}

/// The value of `key:` in a `/proc/*/status`-like text (trimmed).
pub fn status_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// One line of stderr contains `needle` (errors are single lines).
pub fn stderr_line_with<'a>(out: &'a Output, needle: &str) -> Option<&'a str> {
    out.stderr.lines().find(|l| l.contains(needle))
}

/// Panics unless the run failed and one stderr line contains `needle`.
#[track_caller]
pub fn assert_fails_with(out: &Output, needle: &str) {
    out.assert_failed();
    if stderr_line_with(out, needle).is_none() {
        panic!("expected one stderr line containing {needle:?}, saw none\n{out}");
    }
}

/// A `runoci run` started in the background (to signal it). Drop kills it
/// and, as a last resort, the container processes whose cmdline carries
/// `marker` in another pid namespace (a killed `run` leaves its container
/// running).
pub struct Background {
    pub child: std::process::Child,
    pub marker: String,
}

impl Background {
    /// Spawns `cmd` with stdin null and stdout/stderr to `log` (a file).
    pub fn spawn(cmd: &mut std::process::Command, log: &std::path::Path, marker: &str) -> Self {
        let out = std::fs::File::create(log).expect("create log");
        let err = out.try_clone().expect("dup log");
        let child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn runoci");
        Background {
            child,
            marker: marker.to_string(),
        }
    }

    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    /// Waits up to `timeout` for the exit; `None` if still running.
    pub fn wait_timeout(
        &mut self,
        timeout: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return Some(s);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for pid in container_pids_with(&self.marker) {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Processes in another pid namespace than ours whose cmdline contains
/// `marker` (never a host process).
pub fn container_pids_with(marker: &str) -> Vec<nix::unistd::Pid> {
    let own = std::fs::read_link("/proc/self/ns/pid").ok();
    runoci_tests::all_pids()
        .into_iter()
        .filter(|p| runoci_tests::pid_cmdline(*p).contains(marker))
        .filter(|p| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok() != own)
        .map(nix::unistd::Pid::from_raw)
        .collect()
}

/// Waits (up to the harness's command timeout) for `path` to exist.
#[track_caller]
pub fn wait_for_file(path: &std::path::Path, what: &str) {
    let deadline = std::time::Instant::now() + runoci_tests::default_timeout();
    while !path.exists() {
        if std::time::Instant::now() >= deadline {
            panic!("expected {what} ({}) to appear; it did not", path.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The container init (PID 1 of its pid namespace) among
/// [`container_pids_with`]`(marker)`; forked shells share its cmdline.
pub fn container_init_with(marker: &str) -> Vec<nix::unistd::Pid> {
    container_pids_with(marker)
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("NSpid:"))
                        .and_then(|v| v.split_whitespace().last().map(|x| x == "1"))
                })
                .unwrap_or(false)
        })
        .collect()
}

/// runc's create then start of `bundle` as `id`, its stdio on /dev/null
/// (so no pipe of ours outlives the `create`).
pub fn create_and_start(rt: &Runtime, bundle: &Bundle, id: &str) {
    let status = rt
        .cmd(["create", "--bundle", bundle.path_str(), id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("spawn create");
    assert!(status.success(), "create {id}: {status}");
    rt.run(["start", id]).assert_ok();
}
