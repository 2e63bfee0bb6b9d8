//! `runoci start` of a new container (run_oci dialect): create it in the
//! background under its own monitor and return once it runs.
//!
//! runoci forks; the child becomes the monitor: a new session, a child
//! subreaper, stdio to the log or /dev/null. It creates the container (so
//! the init is its child for life), runs poststart hooks, records the
//! state, binds monitor.sock, reports "running" (or the exact error) to the
//! waiting runoci over a pipe, and execs the small `runoci-monitor` binary,
//! handing it the init's pidfd and the listening socket.

use crate::cli::{Cli, RunArgs};
use crate::container::{self, Created};
use crate::error::{Context, Error, Result};
use crate::options::ContainerOptions;
use crate::spec::Spec;
use runoci_core::hooks::Stage;
use runoci_core::state::{self, StateDir};
use runoci_proto::{MonitorArgs, MonitorReady, Status};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub fn start_new(cli: &Cli, args: &RunArgs, log_file: Option<&Path>) -> Result<i32> {
    let mut opts = super::container_options(args)?;
    opts.systemd_cgroup = cli.systemd_cgroup;
    if !opts.bundle.join(state::CONFIG_JSON).exists() {
        return Err(Error::new(format!(
            "container {} does not exist, and {} has no config.json to create it from",
            opts.id,
            opts.bundle.display()
        )));
    }
    let mut spec = super::load_checked(&opts.bundle)?;
    if let Some(socket) = &opts.notify_socket {
        crate::notify_socket::setup_spec(&mut spec, socket);
    }
    let monitor = monitor_path(cli)?;
    let (sd, lock) = super::claim_state_dir(&cli.root, &spec, &mut opts)?;
    let make = MakeInit(&|spec, opts| container::create(spec, opts));
    let start = MonitoredStart {
        sd: &sd,
        spec: &spec,
        opts: &opts,
        monitor: &monitor,
        log_file,
        make,
    };
    under_monitor(start, lock).map(|()| 0)
}

/// How the monitor's init comes to be: created, or restored by CRIU.
#[derive(Clone, Copy)]
pub struct MakeInit<'a>(pub &'a dyn Fn(&Spec, &ContainerOptions) -> Result<Created>);

/// One start under a monitor: the record, the container, the monitor
/// binary, its log, and how the init comes to be.
#[derive(Clone, Copy)]
pub struct MonitoredStart<'a> {
    pub sd: &'a StateDir,
    pub spec: &'a Spec,
    pub opts: &'a ContainerOptions,
    pub monitor: &'a Path,
    pub log_file: Option<&'a Path>,
    pub make: MakeInit<'a>,
}

/// Makes the container's init (`make`) in a forked creator that becomes
/// its monitor; returns once it runs, or with the error, nothing left.
pub(super) fn under_monitor(start: MonitoredStart<'_>, lock: state::Lock) -> Result<()> {
    let MonitoredStart { sd, opts, .. } = start;
    match start_in(start, lock) {
        Ok(()) => Ok(()),
        Err(e) => {
            // Under the lock: the creator is gone by now, and a `destroy`
            // that ended it may have cleaned up already.
            if let Ok(Some(_lock)) = sd.lock_if_present() {
                if abandon_recorded(sd).is_ok() {
                    let _ = sd.remove();
                }
            }
            Err(e.context(format!("container {}", opts.id)))
        }
    }
}

/// The monitor failed after the container was recorded (it could not be
/// exec'd or could not start serving), or the start was interrupted: the
/// init is nobody's child now. Kill it (its recorded start time proves the
/// pid is still it) and whatever else is in its cgroups, and undo the
/// rest: poststop once, mounts, cgroups.
fn abandon_recorded(sd: &StateDir) -> Result<()> {
    let record = sd.read_record()?;
    runoci_core::lifecycle::kill_container(&sd.id, &record, std::time::Duration::from_secs(5))?;
    runoci_core::lifecycle::finish(sd, &record)
}

/// The monitor binary: `--monitor-path`/RUNOCI_MONITOR, else next to us.
pub fn monitor_path(cli: &Cli) -> Result<PathBuf> {
    if let Some(p) = &cli.monitor_path {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os("RUNOCI_MONITOR") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ctx("locate the runoci binary")?;
    let p = exe.with_file_name("runoci-monitor");
    if !p.exists() {
        return Err(Error::new(format!(
            "runoci-monitor not found at {} (install it next to runoci, or set RUNOCI_MONITOR)",
            p.display()
        )));
    }
    Ok(p)
}

fn write_links(
    sd: &StateDir,
    spec: &Spec,
    opts: &ContainerOptions,
    log_file: Option<&Path>,
) -> Result<()> {
    let link = |target: &Path, name: &str| {
        std::os::unix::fs::symlink(target, sd.file(name))
            .with_ctx(|| format!("symlink {}", sd.file(name).display()))
    };
    std::fs::create_dir(sd.file("mountpoints")).ctx("mkdir mountpoints")?;
    link(
        &crate::rootfs::rootfs_path(spec, &opts.bundle)?,
        state::ROOT_LINK,
    )?;
    if let Some(log) = log_file {
        link(log, state::LOG_LINK)?;
    }
    Ok(())
}

fn start_in(start: MonitoredStart<'_>, lock: state::Lock) -> Result<()> {
    let MonitoredStart {
        sd,
        spec,
        opts,
        monitor,
        log_file,
        make,
    } = start;
    write_links(sd, spec, opts, log_file)?;
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx("pipe")?;
    // Ctrl-C (or TERM, HUP, QUIT) while we wait must stop the start, not
    // leave the creator — in its own session, out of the terminal's reach —
    // going on with a container nobody asked for any more. Held blocked
    // from before the fork, so none is lost; the creator gets the mask
    // back as it was.
    let stop = StopSignals::block();
    // Single-threaded (sys::process::fork's contract); the child goes on
    // to create the container and exec the monitor, or exits.
    match runoci_core::sys::process::fork().ctx("fork the monitor")? {
        nix::unistd::ForkResult::Child => {
            if let Some(stop) = &stop {
                stop.restore();
            }
            // The creator holds the record's lock (its copy of the fd)
            // until the exec of the monitor closes it, or until it exits.
            let _lock = lock;
            drop(report_r);
            let mut w = std::fs::File::from(report_w);
            let err = match become_monitor(sd, spec, opts, monitor, log_file, &mut w, make) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let _ = w.write_all(MonitorReady::Error(err.to_string()).encode().as_bytes());
            // Leave without running the parent's destructors twice.
            runoci_core::sys::process::exit_now(1)
        }
        nix::unistd::ForkResult::Parent { child } => {
            // Only the creator holds the lock from here: once it is gone
            // (exec'd as the monitor, or dead), destroy can go ahead.
            drop(lock);
            drop(report_w);
            let report = std::fs::File::from(report_r);
            if let Some(sig) = interrupted_while_waiting(&report, stop.as_ref()) {
                // The creator, its hooks and an init still in its process
                // group go at once; the caller (start_new) then undoes
                // what the record names.
                // (The creator may not have made its session yet: it
                // is killed by pid too.)
                let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                let _ = nix::sys::signal::killpg(child, nix::sys::signal::Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(child, None);
                return Err(Error::new(format!("interrupted by {}", sig.as_str())));
            }
            let mut msg = String::new();
            let _ = (&report).read_to_string(&mut msg);
            match MonitorReady::decode(&msg) {
                Some(MonitorReady::Ok) => Ok(()),
                Some(MonitorReady::Error(e)) => Err(Error::new(e)),
                None => Err(Error::new(
                    "the monitor died before reporting (see its log)",
                )),
            }
        }
    }
}

fn become_monitor(
    sd: &StateDir,
    spec: &Spec,
    opts: &ContainerOptions,
    monitor: &Path,
    log_file: Option<&Path>,
    report: &mut std::fs::File,
    make: MakeInit<'_>,
) -> Result<std::convert::Infallible> {
    nix::unistd::setsid().ctx("setsid")?;
    // The creator from here on is this process, leader of its own process
    // group (its hooks and the init are in it): what `destroy --force`
    // kills if it finds the creation still in progress.
    sd.update_record(|r| r.creator = Some(state::ProcessRef::current()))?;
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(std::io::Error::from)
        .ctx("PR_SET_CHILD_SUBREAPER")?;
    redirect_stdio(log_file)?;

    let created = (make.0)(spec, opts)?;
    match record_running(sd, spec, &created) {
        // The monitor itself reports "ok" on this pipe once it serves, so
        // `start` returns only when the container is really monitored.
        Ok(listener) => Err(exec_monitor(sd, monitor, &created, listener, report)),
        Err(e) => {
            let hooks = spec.hooks.clone().unwrap_or_default();
            created.abandon();
            runoci_core::lifecycle::poststop_once(sd, &hooks.poststop);
            Err(e)
        }
    }
}

fn redirect_stdio(log_file: Option<&Path>) -> Result<()> {
    let devnull = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .ctx("open /dev/null")?;
    let out: std::fs::File = match log_file {
        Some(p) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .with_ctx(|| format!("open log {}", p.display()))?,
        None => devnull.try_clone().ctx("dup /dev/null")?,
    };
    nix::unistd::dup2(devnull.as_raw_fd(), 0).ctx("dup2 stdin")?;
    nix::unistd::dup2(out.as_raw_fd(), 1).ctx("dup2 stdout")?;
    nix::unistd::dup2(out.as_raw_fd(), 2).ctx("dup2 stderr")?;
    Ok(())
}

/// poststart hooks, then the files that say the container runs, then the
/// socket.
fn record_running(
    sd: &StateDir,
    spec: &Spec,
    created: &Created,
) -> Result<std::os::unix::net::UnixListener> {
    let hooks = spec.hooks.clone().unwrap_or_default();
    runoci_core::hooks::run_stage(
        Stage::Poststart,
        &hooks.poststart,
        &created.hook_state.json(Status::Running),
    )?;
    // This process becomes the monitor (same pid after the exec).
    created.record(
        sd,
        Status::Running,
        std::process::id() as i32,
        &hooks.poststop,
        &[],
    )?;
    let sock = sd.file(state::SOCKET);
    let listener = std::os::unix::net::UnixListener::bind(&sock)
        .with_ctx(|| format!("bind {}", sock.display()))?;
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600))
        .ctx("chmod monitor.sock")?;
    Ok(listener)
}

fn clear_cloexec(fd: &impl AsRawFd) -> Result<()> {
    nix::fcntl::fcntl(
        fd.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .ctx("clear close-on-exec")?;
    Ok(())
}

fn exec_monitor(
    sd: &StateDir,
    monitor: &Path,
    created: &Created,
    listener: std::os::unix::net::UnixListener,
    report: &std::fs::File,
) -> Error {
    let listen: OwnedFd = listener.into();
    if let Err(e) = clear_cloexec(&listen)
        .and_then(|_| clear_cloexec(&created.pidfd))
        .and_then(|_| clear_cloexec(report))
    {
        return e;
    }
    // v1 memory cgroups signal OOMs through an eventfd the monitor polls.
    let oom = created
        .cgroup
        .as_ref()
        .and_then(|c| c.oom_eventfd().ok().flatten());
    let mut margs = MonitorArgs {
        state_dir: sd.dir.clone(),
        pid: created.pid,
        pidfd: created.pidfd.as_raw_fd(),
        listen_fd: listen.as_raw_fd(),
        owner_uid: Some(nix::unistd::getuid().as_raw()),
        oom_eventfd: None,
        oom_events_file: None,
        ready_fd: Some(report.as_raw_fd()),
    };
    if let Some(fd) = &oom {
        if let Err(e) = clear_cloexec(fd) {
            return e;
        }
        margs.oom_eventfd = Some(fd.as_raw_fd());
    } else {
        // cgroup v2: the monitor watches memory.events itself.
        margs.oom_events_file = created.cgroup.as_ref().and_then(|c| c.oom_events_file());
    }
    let mut args = vec![monitor.display().to_string()];
    args.extend(margs.to_args());
    crate::process::exec(monitor, &args, &monitor_env(std::env::vars()))
        .context("exec runoci-monitor")
}

/// The glibc tunable the monitor runs with: no per-thread cache of freed
/// chunks (tcache). The cache keeps start-up's freed chunks out of malloc's
/// bins, where `malloc_trim` cannot give back the pages between the chunks
/// still in use: without it the monitor's heap holds one page less (20 ->
/// 16 kB) for the container's whole life. It takes effect at exec only,
/// hence here; the hooks the monitor runs get their own environment.
const MONITOR_TUNABLE: &str = "glibc.malloc.tcache_count=0";

/// `runoci`'s environment for the monitor, with `MONITOR_TUNABLE` added to
/// any GLIBC_TUNABLES the caller set.
fn monitor_env(vars: impl Iterator<Item = (String, String)>) -> Vec<String> {
    let mut tunables = None;
    let mut env: Vec<String> = vars
        .filter_map(|(k, v)| {
            if k == "GLIBC_TUNABLES" {
                tunables = Some(v);
                return None;
            }
            Some(format!("{k}={v}"))
        })
        .collect();
    env.push(match tunables {
        Some(t) if !t.is_empty() => format!("GLIBC_TUNABLES={t}:{MONITOR_TUNABLE}"),
        _ => format!("GLIBC_TUNABLES={MONITOR_TUNABLE}"),
    });
    env
}

/// The stop signals (`forward::STOP_SIGNALS`) held blocked, with a
/// signalfd to see them; the mask is restored on drop.
struct StopSignals {
    old: nix::sys::signal::SigSet,
    fd: nix::sys::signalfd::SignalFd,
}

impl StopSignals {
    fn block() -> Option<StopSignals> {
        use nix::sys::signal::{SigSet, SigmaskHow};
        let mut mask = SigSet::empty();
        for s in runoci_core::forward::STOP_SIGNALS {
            mask.add(s);
        }
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut old)).ok()?;
        match nix::sys::signalfd::SignalFd::with_flags(
            &mask,
            nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
        ) {
            Ok(fd) => Some(StopSignals { old, fd }),
            Err(_) => {
                let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
                None
            }
        }
    }

    fn restore(&self) {
        let _ = nix::sys::signal::sigprocmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&self.old),
            None,
        );
    }
}

impl Drop for StopSignals {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Waits until `report` is readable (the creator reported, or died), or a
/// stop signal arrives: that signal.
fn interrupted_while_waiting(
    report: &std::fs::File,
    stop: Option<&StopSignals>,
) -> Option<nix::sys::signal::Signal> {
    let stop = stop?;
    match runoci_core::forward::wait_fd_or_signal(report.as_fd(), Some(&stop.fd), None) {
        runoci_core::forward::Woke::Signal(sig) => Some(sig),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::monitor_env;

    fn vars(v: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn monitor_env_adds_the_tunable_and_keeps_the_callers() {
        assert_eq!(
            monitor_env(vars(&[("PATH", "/bin")])),
            ["PATH=/bin", "GLIBC_TUNABLES=glibc.malloc.tcache_count=0"]
        );
        assert_eq!(
            monitor_env(vars(&[
                ("GLIBC_TUNABLES", "glibc.malloc.check=3"),
                ("A", "b")
            ])),
            [
                "A=b",
                "GLIBC_TUNABLES=glibc.malloc.check=3:glibc.malloc.tcache_count=0"
            ]
        );
    }
}
