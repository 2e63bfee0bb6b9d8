//! `runoci run`: create the container, wait for it, return its status.
//! runoci itself is the parent; signals it gets are forwarded to the init.
//! The container is recorded under the root while it runs.

use crate::cli::{Cli, RunArgs};
use crate::container;
use crate::error::Result;
use runoci_core::forward::Forwarder;
use runoci_core::hooks;
use runoci_core::hooks::Stage;
use runoci_core::lifecycle;
use runoci_core::state::{self, StateDir};
use runoci_proto::Status;

pub fn run(cli: &Cli, args: &RunArgs) -> Result<i32> {
    if args.detach {
        // runc's `run -d`: create, then start; the caller (or init) is the
        // parent, as after `create`.
        super::create::create(cli, args)?;
        return super::create::start_created(&cli.root, &args.id);
    }
    let mut opts = super::container_options(args)?;
    opts.systemd_cgroup = cli.systemd_cgroup;
    opts.console_socket = args.console_socket.clone();
    let spec = super::load_spec(&opts)?;

    // The container is recorded under the root like a detached one, so
    // `state`, `list`, `kill`, `exec` find it while it runs, the id cannot
    // be run twice at once, and if runoci itself is killed `destroy` can
    // still clean up after it. runoci stands in for the monitor. A caller
    // who may not write the root (an unprivileged `run -u` with the
    // default root) runs without a record, as the reference does.
    let hooks = spec.hooks.clone().unwrap_or_default();
    // The lock is ours until the container is recorded (or undone).
    let (sd, lock) = match super::claim_state_dir(&cli.root, &spec, &mut opts) {
        Ok((sd, lock)) => (Some(sd), Some(lock)),
        Err(e) if !StateDir::exists(&cli.root, &opts.id) && !writable_dir(&cli.root) => {
            crate::debug!("container {}: running without a record: {e}", opts.id);
            (None, None)
        }
        Err(e) => return Err(e),
    };
    let remove_record = || {
        if let Some(sd) = &sd {
            let _ = sd.remove();
        }
    };
    let forwarder = match Forwarder::block() {
        Ok(f) => f,
        Err(e) => {
            remove_record();
            return Err(e);
        }
    };
    let created = match container::create(&spec, &opts) {
        Ok(c) => c,
        Err(e) => {
            remove_record();
            return Err(e.context(format!("container {}", opts.id)));
        }
    };
    // runoci waits for the init: it stands in for the monitor.
    let recorded = match &sd {
        Some(sd) => created.record(
            sd,
            Status::Running,
            std::process::id() as i32,
            &hooks.poststop,
            &[],
        ),
        None => Ok(()),
    };
    // Recorded (or failed, and undone below under the lock we take again).
    drop(lock);
    let started = recorded.and_then(|()| {
        hooks::run_stage(
            Stage::Poststart,
            &hooks.poststart,
            &created.hook_state.json(Status::Running),
        )
    });
    let cgroup = created.cgroup.clone();
    let resctrl = created.resctrl.clone();
    let stopped = created.hook_state.json(Status::Stopped);
    let code = match started {
        Ok(()) => forwarder.wait(created.pid, &created.pidfd, "the container"),
        Err(e) => {
            created.abandon();
            Err(e.context(format!("container {}", opts.id)))
        }
    };
    // Poststop once (not again if a `destroy --force` ran it), then the
    // cgroups; the record goes last, and only when nothing it names is
    // left (else `destroy` can still find it). A `destroy --force` that
    // cleaned up first has removed it: nothing to do then.
    let finished = match &sd {
        Some(sd) => match sd.lock_if_present() {
            Ok(Some(_lock)) => {
                // The record may be short of the full one if writing it failed.
                let record = sd.read_record().unwrap_or_else(|_| state::RuntimeRecord {
                    cgroup: cgroup.as_ref().map(|c| c.to_record()),
                    resctrl: resctrl.clone(),
                    poststop: hooks.poststop.clone(),
                    ..Default::default()
                });
                match (args.keep, &code) {
                    // As the monitor does for a detached container:
                    // exit and "stopped" recorded, then the cleanup
                    // (container_exited takes the lock itself).
                    (true, Ok(code)) => {
                        drop(_lock);
                        lifecycle::container_exited(&sd.dir, &exit_status(*code), &record)
                            .map(|_| ())
                    }
                    _ => {
                        let done = lifecycle::finish(sd, &record);
                        if done.is_ok() {
                            remove_record();
                        }
                        done
                    }
                }
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        },
        None => {
            hooks::run_poststop(&opts.id, &hooks.poststop, &stopped);
            match &cgroup {
                Some(cg) => cg
                    .destroy()
                    .map_err(|e| crate::error::Error::new(format!("remove cgroup: {e}"))),
                None => Ok(()),
            }
            .and_then(|()| match &resctrl {
                Some(rdt) => runoci_core::resctrl::remove(rdt),
                None => Ok(()),
            })
        }
    };
    if let Err(e) = finished {
        eprintln!("runoci: container {}: {e}", opts.id);
    }
    code
}

/// The exit as `forward::wait` reports it (128+N for signal N).
fn exit_status(code: i32) -> runoci_proto::ExitStatus {
    let finished_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (code, signal) = if code > 128 {
        (None, Some(code - 128))
    } else {
        (Some(code), None)
    };
    runoci_proto::ExitStatus {
        code,
        signal,
        finished_at,
        oom_killed: false,
    }
}

/// `dir` exists and we may create entries in it.
fn writable_dir(dir: &std::path::Path) -> bool {
    use nix::unistd::{access, AccessFlags};
    dir.is_dir() && access(dir, AccessFlags::W_OK | AccessFlags::X_OK).is_ok()
}
