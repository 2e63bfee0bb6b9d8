//! runc's `create` and `start`: the init is made and left blocked on
//! `exec.fifo` in the state directory; `start` opens the FIFO, which lets
//! it run the program. The caller of `create` (conmon, containerd's shim)
//! is the init's parent from then on: runoci leaves no process behind.

use crate::cli::{Cli, RunArgs};
use crate::container;
use crate::error::{Context, Error, Result};
use crate::options::ContainerOptions;
use crate::spec::Spec;
use runoci_core::hooks::Stage;
use runoci_core::state::{self, StateDir};
use runoci_proto::Status;
use std::io::Read;
use std::path::Path;

pub fn create(cli: &Cli, args: &RunArgs) -> Result<i32> {
    let mut opts = super::container_options(args)?;
    opts.dialect = crate::options::Dialect::Runc;
    opts.systemd_cgroup = cli.systemd_cgroup;
    opts.preserve_fds = opts
        .preserve_fds
        .checked_add(listen_fds())
        .filter(|n| *n <= crate::cli::MAX_PRESERVE_FDS)
        .ok_or_else(|| {
            Error::new(format!(
                "--preserve-fds {} plus LISTEN_FDS {} passes fd {}",
                opts.preserve_fds,
                listen_fds(),
                i32::MAX
            ))
        })?;
    opts.console_socket = args.console_socket.clone();
    let spec = super::load_spec(&opts)?;
    if spec.process.as_ref().is_some_and(|p| p.terminal) && opts.console_socket.is_none() {
        return Err(Error::new(format!(
            "container {}: process.terminal is true but no --console-socket was given (a detached container needs one for its pty)",
            opts.id
        )));
    }
    // Held until the container is recorded or undone (we exit then).
    let (sd, _lock) = super::claim_state_dir(&cli.root, &spec, &mut opts)?;
    match create_in(&sd, &spec, &mut opts, args.pid_file.as_deref()) {
        Ok(()) => Ok(0),
        Err(e) => {
            let _ = sd.remove();
            Err(e.context(format!("container {}", opts.id)))
        }
    }
}

/// systemd socket activation: LISTEN_FDS fds from 3 pass through, as runc
/// does.
fn listen_fds() -> u32 {
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn create_in(
    sd: &StateDir,
    spec: &Spec,
    opts: &mut ContainerOptions,
    pid_file: Option<&Path>,
) -> Result<()> {
    // 0622: the init opens it for writing after switching to the
    // container's user (through its own fd: the 0700 state dir is not
    // traversed).
    let fifo = sd.file(state::EXEC_FIFO);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .with_ctx(|| format!("mkfifo {}", fifo.display()))?;
    std::fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622))
        .with_ctx(|| format!("chmod {}", fifo.display()))?;
    opts.exec_fifo = Some(fifo);
    let created = container::create(spec, opts)?;
    let record = || -> Result<()> {
        let hooks = spec.hooks.clone().unwrap_or_default();
        // No process waits for the init after `create`; `start` runs the
        // poststart hooks recorded here.
        created.record(sd, Status::Created, 0, &hooks.poststop, &hooks.poststart)?;
        if let Some(p) = pid_file {
            write_pid_file(p, created.pid)?;
        }
        Ok(())
    };
    if let Err(e) = record() {
        created.abandon();
        runoci_core::lifecycle::poststop_once(sd, &spec.hooks.clone().unwrap_or_default().poststop);
        return Err(e);
    }
    Ok(())
}

/// `--pid-file`: written atomically (temp + rename), as engines poll it.
pub fn write_pid_file(p: &Path, pid: i32) -> Result<()> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().ctx("getcwd")?.join(p)
    };
    state::write_atomic(&abs, pid.to_string().as_bytes())
        .with_ctx(|| format!("--pid-file {}", abs.display()))
}

/// runc `start` of a created container: release it from the FIFO.
pub fn start_created(root: &Path, id: &str) -> Result<i32> {
    let sd = StateDir::open(root, id)?;
    let _lock = sd.lock()?;
    // `start ID` of an id that exists lands here (run_oci's `start -c B ID`
    // too): anything but a created container is an id already in use, and
    // is left exactly as it is.
    let st = match super::state::from_files(&sd) {
        Ok(st) => st,
        // No state yet: another `start` of this id is creating it.
        Err(_) if !sd.file(state::EXEC_FIFO).exists() => {
            return Err(Error::new(format!(
                "container {id} already exists (being created, or left incomplete: destroy it)"
            )))
        }
        Err(e) => return Err(e),
    };
    if st.status != Status::Created {
        return Err(Error::new(format!(
            "container {id} already exists and is {}: only a created container can be started; \
             destroy it first or pick another id",
            st.status.as_str()
        )));
    }
    let fifo = sd.file(state::EXEC_FIFO);
    let record = sd.read_record()?;
    let started = wait_exec_fifo(&fifo, record.pid, record.pid_start_time)
        .with_ctx(|| format!("read {}", fifo.display()))?;
    let _ = std::fs::remove_file(&fifo);
    if !started {
        return Err(Error::new(format!(
            "container {id}: the init exited before it could start"
        )));
    }
    let mut st = sd.read_state()?;
    st.status = Status::Running;
    sd.write_state(&st)?;
    if let Err(e) = runoci_core::hooks::run_stage(
        Stage::Poststart,
        &record.poststart,
        &runoci_core::hooks::hook_state_json(&st),
    ) {
        // runtime.md, Lifecycle step 9 (1.3.0): a failing poststart hook
        // is an error; the container is stopped and the lifecycle goes on
        // at step 12 (destroyed, then its poststop hooks). The record
        // stays, stopped, for the caller's `delete`.
        let stopped = runoci_core::lifecycle::kill_container(id, &record, POSTSTART_KILL_LIMIT)
            .and_then(|()| {
                st.status = Status::Stopped;
                sd.write_state(&st)?;
                runoci_core::lifecycle::finish(&sd, &record)
            });
        if let Err(se) = stopped {
            eprintln!("runoci: {se}");
        }
        return Err(e.context(format!("container {id}")));
    }
    Ok(0)
}

/// How long the init may take to die after SIGKILL when a poststart hook
/// failed.
const POSTSTART_KILL_LIMIT: std::time::Duration = std::time::Duration::from_secs(4);

/// Lets the init run its program: opens `exec.fifo` for reading, which
/// completes the init's open for writing, and waits for its byte. Whether
/// the byte came; `false` when the init (`pid`, started at `start_time`)
/// is gone first. The open does not block and the init's pidfd is watched
/// alongside: an init that died before opening its side would otherwise
/// leave `start` blocked in open(2) for ever.
fn wait_exec_fifo(fifo: &Path, pid: i32, start_time: u64) -> std::io::Result<bool> {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    use std::os::unix::fs::OpenOptionsExt;
    // The pidfd first: until our open below the init cannot get past its
    // own, so an init missing now never ran its program. Opened after, a
    // quick program could have run, exited and been reaped already.
    let Some(pidfd) = runoci_core::pidfd::open_verified(pid, start_time) else {
        return Ok(false);
    };
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(fifo)?;
    loop {
        let mut fds = [
            PollFd::new(f.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        // Any event counts, flags nix does not know included.
        let [fifo, init] = fds.map(|p| p.revents() != Some(PollFlags::empty()));
        if fifo {
            let mut byte = [0u8; 1];
            match f.read(&mut byte) {
                Ok(n) => return Ok(n == 1),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if init {
            // The init is gone; a byte it wrote before dying still counts
            // (then its program ran and exited at once).
            let mut byte = [0u8; 1];
            return Ok(matches!(f.read(&mut byte), Ok(1)));
        }
    }
}
