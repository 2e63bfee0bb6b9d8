//! runoci-monitor: the per-container monitor of a detached runoci container.
//!
//! `runoci start` forks a process that becomes the monitor: it makes itself
//! a session leader and child subreaper, creates the container (so the
//! container's init is its child), binds `<state_dir>/monitor.sock`, and
//! execs this binary with the inherited fds, as
//! `runoci_proto::MonitorArgs` (the command line, built by `start` and
//! parsed here) and reports `runoci_proto::MonitorReady` on `--ready-fd`.
//!
//! It then serves the monitor socket until the init exits, reaps it and any
//! orphan, calls `runoci_core::lifecycle::container_exited`, tells its clients,
//! and exits 0. Exit 2: bad command line; 1: could not start serving.
//!
//! `main` is the C one (`no_main`): std's runtime set-up before a Rust
//! `main` (main thread info, a stack-overflow handler, which reads
//! /proc/self/maps) left ~4 kB of heap pages dirty for the container's
//! whole life. What of it the monitor relies on is `sys::process_setup`.

// Unit tests get the test harness's `main`.
#![cfg_attr(not(test), no_main)]

mod clients;
mod monitor;
mod sys;
mod trim;

use monitor::{Config, Monitor};
use runoci_proto::{MonitorArgs, MonitorReady, State, Status};
use std::os::fd::AsFd;
use std::path::Path;

/// The state document the runtime wrote; a minimal one if it is missing or
/// unreadable, since the container must be supervised either way.
fn load_state(dir: &Path, id: &str) -> State {
    match runoci_core::state::StateDir::open_dir(dir).read_state() {
        Ok(s) => s,
        Err(e) => {
            log(id, &format!("{e}; serving a minimal state"));
            State {
                oci_version: runoci_proto::OCI_VERSION.into(),
                id: id.to_owned(),
                status: Status::Running,
                pid: 0,
                bundle: String::new(),
                rootfs: String::new(),
                created: String::new(),
                owner: String::new(),
                annotations: Default::default(),
                exit: None,
            }
        }
    }
}

// Not inlined into `main`: start-up's locals would grow the frame that stays
// on the stack under the event loop for the monitor's whole life.
#[inline(never)]
fn setup(args: MonitorArgs) -> Result<Monitor, String> {
    let id = args
        .state_dir
        .file_name()
        .map_or_else(|| "?".into(), |n| n.to_string_lossy().into_owned());
    let fail = |what: &str, e: std::io::Error| format!("{what}: {e}");
    // Orphans of the container come to the monitor to be reaped. The
    // spawner set it already; it survives execve, this is a safety net.
    sys::set_child_subreaper().map_err(|e| fail("PR_SET_CHILD_SUBREAPER", e))?;
    let pidfd = sys::adopt_fd(args.pidfd, "--pidfd").map_err(|e| e.to_string())?;
    let listener = sys::adopt_fd(args.listen_fd, "--listen-fd").map_err(|e| e.to_string())?;
    let oom_fd = args
        .oom_eventfd
        .map(|fd| sys::adopt_fd(fd, "--oom-eventfd"))
        .transpose()
        .map_err(|e| e.to_string())?;
    if !sys::is_listening_socket(listener.as_fd()) {
        return Err(format!(
            "--listen-fd {}: not a listening socket",
            args.listen_fd
        ));
    }
    match sys::pidfd_pid(pidfd.as_fd()) {
        Ok(p) if p == args.pid => {}
        Ok(p) => {
            return Err(format!(
                "--pidfd {} is for pid {p}, not --pid {}",
                args.pidfd, args.pid
            ))
        }
        Err(e) => return Err(format!("--pidfd {}: {e}", args.pidfd)),
    }
    // waitid() on the init only works for the parent.
    match sys::is_our_child(pidfd.as_fd()) {
        Ok(true) => {}
        Ok(false) => return Err(format!("pid {} is not a child of the monitor", args.pid)),
        Err(e) => return Err(fail("waitid", e)),
    }
    let state = load_state(&args.state_dir, &id);
    let record = runoci_core::state::StateDir::open_dir(&args.state_dir)
        .read_record()
        .unwrap_or_default();
    let cfg = Config {
        args,
        pidfd,
        listener,
        oom_fd,
        record,
    };
    Monitor::new(cfg, state).map_err(|e| fail("event loop", e))
}

#[cfg_attr(not(test), no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    sys::process_setup();
    monitor_main().into()
}

/// The exit status: 0 served until the container exited, 1 could not start
/// serving (or the loop failed), 2 bad command line.
fn monitor_main() -> u8 {
    let args = match MonitorArgs::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{}", MonitorArgs::USAGE);
            return 0;
        }
        Err(e) => {
            eprintln!("runoci-monitor: {e}\n{}", MonitorArgs::USAGE);
            return 2;
        }
    };
    let ready_fd = args.ready_fd;
    let monitor = match setup(args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("runoci-monitor: {e}");
            return 1;
        }
    };
    if let Some(fd) = ready_fd {
        // `runoci start` waits for this line: the container is monitored.
        match sys::adopt_fd(fd, "--ready-fd") {
            Ok(fd) => {
                let _ = std::io::Write::write_all(
                    &mut std::fs::File::from(fd),
                    MonitorReady::Ok.encode().as_bytes(),
                );
            }
            Err(e) => {
                eprintln!("runoci-monitor: {e}");
                return 1;
            }
        }
    }
    match monitor.run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("runoci-monitor: event loop: {e}");
            1
        }
    }
}

/// One line on the monitor's stderr (the container's log with --log_dir).
pub fn log(id: &str, msg: &str) {
    eprintln!("runoci-monitor[{id}]: {msg}");
}
