//! Running OCI hooks: the state document on stdin, `env` replacing the
//! environment (a scrubbed one when absent), `args[0]` replaced by `path`
//! as the reference does, and `timeout` enforced by killing the hook (as
//! is a stop signal that runoci holds blocked, such as `run`'s Ctrl-C).

use crate::error::{Error, Result};
use crate::forward::{Woke, STOP_SIGNALS};
use crate::spec::Hook;
pub use crate::spec::Stage;
use nix::sys::signal::SigSet;
use nix::sys::signalfd::{SfdFlags, SignalFd};
use runoci_proto::{State, Status, CONTAINER_ROOT_ANNOTATION};
use std::io::Write;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCRUBBED_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Run each hook of `stage` in order; the first failure stops the stage.
/// Poststop hooks go through [`run_poststop`].
pub fn run_stage(stage: Stage, hooks: &[Hook], state_json: &str) -> Result<()> {
    debug_assert!(
        stage.failure_is_fatal(),
        "poststop hooks go through run_poststop"
    );
    for (i, hook) in hooks.iter().enumerate() {
        run_logged(stage, i, hook, state_json)?;
    }
    Ok(())
}

/// Run every poststop hook of container `id`: a failure is logged as a
/// warning and the next hook runs, and the caller goes on as if it had
/// succeeded ([`Stage::failure_is_fatal`]). Returns how many failed.
pub fn run_poststop(id: &str, hooks: &[Hook], state_json: &str) -> usize {
    let mut failed = 0;
    for (i, hook) in hooks.iter().enumerate() {
        if let Err(e) = run_logged(Stage::Poststop, i, hook, state_json) {
            failed += 1;
            crate::log::emit_warning(format_args!("container {id}: {e}"));
        }
    }
    failed
}

fn run_logged(stage: Stage, i: usize, hook: &Hook, state_json: &str) -> Result<()> {
    let t = crate::log::timer();
    run_one(hook, state_json, stage != Stage::Poststop)
        .map_err(|e| e.context(format!("{stage} hook [{i}] {}", hook.path)))?;
    crate::debug!(
        "{stage} hook [{i}] {}: ok{}",
        hook.path,
        crate::log::elapsed(t)
    );
    Ok(())
}

/// `die_with_us`: the hook gets SIGKILL if runoci dies (a creation's
/// hooks: a creator killed by `destroy --force` takes them along; poststop
/// hooks, run once for a container already gone, are left to finish).
fn run_one(hook: &Hook, state_json: &str, die_with_us: bool) -> Result<()> {
    let mut cmd = Command::new(&hook.path);
    if die_with_us {
        crate::sys::process::die_with_parent(&mut cmd);
    }
    if hook.args.len() > 1 {
        cmd.args(&hook.args[1..]);
    }
    cmd.env_clear();
    match &hook.env {
        Some(env) => {
            for e in env {
                if let Some((k, v)) = e.split_once('=') {
                    cmd.env(k, v);
                }
            }
        }
        None => {
            let (k, v) = SCRUBBED_PATH.split_once('=').unwrap_or(("PATH", "/bin"));
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| Error::new(format!("start: {e}")))?;
    // Hold a pidfd before anything can reap the child: the timeout poll and
    // the kill below cannot hit a recycled pid.
    let pidfd = crate::pidfd::open(child.id() as i32).ok();
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = hook
        .timeout
        .filter(|t| *t > 0)
        // A timeout too large for an Instant (i64::MAX s) is no deadline;
        // `+` would panic, and a panic aborts mid-create.
        .and_then(|t| Instant::now().checked_add(Duration::from_secs(t as u64)));
    let interrupts = blocked_interrupts();
    if let Some(pidfd) = &pidfd {
        if deadline.is_some() || interrupts.is_some() {
            if let Err(e) = watch(pidfd, deadline, interrupts.as_ref(), hook) {
                let _ = crate::pidfd::send_signal(pidfd, libc::SIGKILL);
                let _ = child.wait();
                return Err(e);
            }
        }
    }
    let status = child.wait().map_err(|e| Error::new(format!("wait: {e}")))?;
    if status.success() {
        return Ok(());
    }
    use std::os::unix::process::ExitStatusExt;
    Err(match status.signal() {
        Some(s) => Error::new(format!("killed by signal {s}")),
        None => Error::new(format!(
            "exited with status {}",
            status.code().unwrap_or(-1)
        )),
    })
}

/// Waits for the hook (its pidfd) until `deadline`, or until one of the
/// `interrupts` arrives. Err says why the hook must be killed.
fn watch(
    pidfd: &std::os::fd::OwnedFd,
    deadline: Option<Instant>,
    interrupts: Option<&SignalFd>,
    hook: &Hook,
) -> Result<()> {
    match crate::forward::wait_fd_or_signal(pidfd.as_fd(), interrupts, deadline) {
        Woke::Fd => Ok(()),
        Woke::Signal(sig) => Err(Error::new(format!(
            "interrupted by {}; killed",
            sig.as_str()
        ))),
        Woke::Timeout => Err(Error::new(format!(
            "timed out after {}s; killed",
            hook.timeout.unwrap_or(0)
        ))),
    }
}

/// The stop signals ([`STOP_SIGNALS`]) this process holds blocked — the
/// foreground `run` blocks them to forward them to the container, `start`
/// while it waits — as a signalfd. While a hook runs they would otherwise
/// wait, unseen, behind a hook that hangs: the user's Ctrl-C must end it.
/// None when none is blocked (there the default action already ends us).
fn blocked_interrupts() -> Option<SignalFd> {
    let current = SigSet::thread_get_mask().ok()?;
    let mut mask = SigSet::empty();
    for s in STOP_SIGNALS {
        if current.contains(s) {
            mask.add(s);
        }
    }
    mask.iter().next()?; // none blocked
    SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok()
}

/// The state handed to hooks.
pub struct HookState {
    state: State,
}

impl HookState {
    /// The state of container `id` from `bundle`. Its annotations are the
    /// config's, plus `container_root` as the container_root annotation
    /// when given (the run_oci dialect, as the reference; runc's dialect
    /// gives exactly the config's).
    pub fn new(
        spec: &crate::spec::Spec,
        id: &str,
        bundle: &std::path::Path,
        container_root: Option<&std::path::Path>,
        pid: i32,
    ) -> HookState {
        let mut annotations = spec.annotations.clone();
        if let Some(dir) = container_root {
            annotations.insert(
                CONTAINER_ROOT_ANNOTATION.to_string(),
                dir.display().to_string(),
            );
        }
        HookState {
            state: State {
                // The spec version the state complies with: the runtime's,
                // not the config's (runtime.md#state).
                oci_version: runoci_proto::OCI_VERSION.to_string(),
                id: id.to_string(),
                status: Status::Creating,
                pid,
                bundle: bundle.display().to_string(),
                rootfs: String::new(),
                created: String::new(),
                owner: String::new(),
                annotations,
                exit: None,
            },
        }
    }

    /// The OCI state document with `status`, pretty-printed as the
    /// reference does (scripts grep it).
    pub fn json(&self, status: Status) -> String {
        hook_state_json(&State {
            status,
            ..self.state.clone()
        })
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn set_rootfs(&mut self, rootfs: String) {
        self.state.rootfs = rootfs;
    }
}

/// The state given to hooks: the spec's fields only.
pub fn hook_state_json(state: &State) -> String {
    let mut v = serde_json::to_value(state).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        for k in ["rootfs", "created", "owner", "exit"] {
            o.remove(k);
        }
    }
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            env: None,
            timeout: None,
        }
    }

    /// runtime.md, Lifecycle step 13: a failing poststop hook is a warning
    /// and the next one runs; every other stage stops at its first failure.
    #[test]
    fn poststop_runs_every_hook_other_stages_stop_at_the_first_failure() {
        let dir = std::env::temp_dir().join(format!("runoci-hooks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("second");
        let hooks = [sh("exit 3"), sh(&format!("touch {}", marker.display()))];

        assert_eq!(run_poststop("c", &hooks, "{}"), 1, "one of two failed");
        assert!(
            marker.exists(),
            "the poststop hook after the failing one ran"
        );

        std::fs::remove_file(&marker).unwrap();
        let err = run_stage(Stage::Poststart, &hooks, "{}").unwrap_err();
        assert!(
            err.message()
                .contains("poststart hook [0] /bin/sh: exited with status 3"),
            "{err:?}"
        );
        assert!(!marker.exists(), "poststart stopped at its first failure");
        let _ = std::fs::remove_dir_all(&dir);
        for stage in Stage::ALL {
            assert_eq!(
                stage.failure_is_fatal(),
                stage != Stage::Poststop,
                "{stage}"
            );
        }
    }
}
