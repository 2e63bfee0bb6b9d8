//! Running OCI hooks: the state document on stdin, `env` replacing the
//! environment (a scrubbed one when absent), `args[0]` replaced by `path`
//! as the reference does, and `timeout` enforced by killing the hook.

use crate::error::{Error, Result};
use crate::spec::Hook;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCRUBBED_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Run each hook of `stage` in order; the first failure stops the stage.
pub fn run_stage(stage: &str, hooks: &[Hook], state_json: &str) -> Result<()> {
    for (i, hook) in hooks.iter().enumerate() {
        let t = crate::log::timer();
        run_one(hook, state_json)
            .map_err(|e| e.context(format!("{stage} hook [{i}] {}", hook.path)))?;
        crate::debug!(
            "{stage} hook [{i}] {}: ok{}",
            hook.path,
            crate::log::elapsed(t)
        );
    }
    Ok(())
}

fn run_one(hook: &Hook, state_json: &str) -> Result<()> {
    let mut cmd = Command::new(&hook.path);
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
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    if let (Some(deadline), Some(pidfd)) = (deadline, &pidfd) {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut pfd = libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n > 0 {
                break;
            }
            if n == 0 || Instant::now() >= deadline {
                let _ = crate::pidfd::send_signal(pidfd, libc::SIGKILL);
                let _ = child.wait();
                return Err(Error::new(format!(
                    "timed out after {}s; killed",
                    hook.timeout.unwrap_or(0)
                )));
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
