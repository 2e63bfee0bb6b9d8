//! runoci-monitor: the per-container monitor of a detached runoci container.
//!
//! `runoci start` forks a process that becomes the monitor: it makes itself
//! a session leader and child subreaper, creates the container (so the
//! container's init is its child), binds `<state_dir>/monitor.sock`, and
//! execs this binary with the inherited fds:
//!
//! ```text
//! runoci-monitor --state-dir DIR --pid PID --pidfd N --listen-fd M
//!                [--uid OWNER_UID] [--oom-eventfd K | --oom-events-file PATH]
//!                [--ready-fd FD]
//! ```
//!
//! It then serves the monitor socket until the init exits, reaps it and any
//! orphan, calls `runoci_core::lifecycle::container_exited`, tells its clients,
//! and exits 0. Exit 2: bad command line; 1: could not start serving.

mod monitor;
mod sys;
mod trim;

use monitor::{log, Config, Monitor};
use runoci_proto::{State, Status};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: runoci-monitor --state-dir DIR --pid PID --pidfd FD --listen-fd FD \
[--uid OWNER_UID] [--oom-eventfd FD | --oom-events-file PATH] [--ready-fd FD]";

/// The command line, by hand: the monitor stays small.
struct Args {
    state_dir: PathBuf,
    pid: i32,
    pidfd: i32,
    listen_fd: i32,
    owner_uid: Option<u32>,
    oom_eventfd: Option<i32>,
    oom_events_file: Option<PathBuf>,
    ready_fd: Option<i32>,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut state_dir, mut pid, mut pidfd, mut listen_fd) = (None, None, None, None);
    let (mut owner_uid, mut oom_eventfd, mut oom_events_file) = (None, None, None);
    let mut ready_fd = None;
    fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
        v.parse()
            .map_err(|_| format!("{flag}: not a number: {v:?}"))
    }
    while let Some(arg) = argv.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg, None),
        };
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| argv.next())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--state-dir" => state_dir = Some(PathBuf::from(value()?)),
            "--pid" => pid = Some(num(&flag, &value()?)?),
            "--pidfd" => pidfd = Some(num(&flag, &value()?)?),
            "--listen-fd" => listen_fd = Some(num(&flag, &value()?)?),
            "--uid" => owner_uid = Some(num(&flag, &value()?)?),
            "--oom-eventfd" => oom_eventfd = Some(num(&flag, &value()?)?),
            "--oom-events-file" => oom_events_file = Some(PathBuf::from(value()?)),
            "--ready-fd" => ready_fd = Some(num(&flag, &value()?)?),
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    let pid: i32 = pid.ok_or("--pid is required")?;
    if pid <= 0 {
        return Err(format!("--pid: {pid} is not a process id"));
    }
    Ok(Args {
        state_dir: state_dir.ok_or("--state-dir is required")?,
        pid,
        pidfd: pidfd.ok_or("--pidfd is required")?,
        listen_fd: listen_fd.ok_or("--listen-fd is required")?,
        owner_uid,
        oom_eventfd,
        oom_events_file,
        ready_fd,
    })
}

/// The state document the runtime wrote; a minimal one if it is missing or
/// unreadable, since the container must be supervised either way.
fn load_state(dir: &Path, id: &str) -> State {
    match runoci_core::state::StateDir::open_dir(dir).read_state() {
        Ok(s) => s,
        Err(e) => {
            log(id, &format!("{e}; serving a minimal state"));
            State {
                oci_version: "1.0.2".into(),
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

fn setup(args: Args) -> Result<Monitor, String> {
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
        state_dir: args.state_dir,
        pid: args.pid,
        pidfd,
        listener,
        owner_uid: args.owner_uid,
        oom_fd,
        oom_events_file: args.oom_events_file,
        record,
    };
    Monitor::new(cfg, state).map_err(|e| fail("event loop", e))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("runoci-monitor: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let ready_fd = args.ready_fd;
    let monitor = match setup(args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("runoci-monitor: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(fd) = ready_fd {
        // `runoci start` waits for this line: the container is monitored.
        match sys::adopt_fd(fd, "--ready-fd") {
            Ok(fd) => {
                let _ = std::io::Write::write_all(&mut std::fs::File::from(fd), b"ok\n");
            }
            Err(e) => {
                eprintln!("runoci-monitor: {e}");
                return ExitCode::from(1);
            }
        }
    }
    match monitor.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runoci-monitor: event loop: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, String> {
        parse_args(s.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn parses_the_command_line_the_runtime_passes() {
        let a = parse("--state-dir /run/containers/x --pid 42 --pidfd 3 --listen-fd=4 --uid 1000")
            .unwrap();
        assert_eq!(a.state_dir, Path::new("/run/containers/x"));
        assert_eq!(
            (a.pid, a.pidfd, a.listen_fd, a.owner_uid),
            (42, 3, 4, Some(1000))
        );
        assert_eq!(a.oom_eventfd, None);
    }

    #[test]
    fn refuses_incomplete_or_unknown_arguments() {
        for bad in [
            "",
            "--pid 1 --pidfd 3 --listen-fd 4",
            "--state-dir d --pid x --pidfd 3 --listen-fd 4",
            "--state-dir d --pid 0 --pidfd 3 --listen-fd 4",
            "--state-dir d --pid 1 --pidfd 3 --listen-fd",
            "--state-dir d --pid 1 --pidfd 3 --listen-fd 4 --verbose",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
