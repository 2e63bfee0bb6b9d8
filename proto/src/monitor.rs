//! The handshake between `runoci start` and the `runoci-monitor` it execs:
//! the monitor's command line ([`MonitorArgs`]) and the one line it reports
//! on `--ready-fd` ([`MonitorReady`]). Both sides use these types, so the
//! argv cannot drift from its parser.

use std::path::PathBuf;

/// The monitor's command line:
///
/// ```text
/// runoci-monitor --state-dir DIR --pid PID --pidfd N --listen-fd M
///                [--uid OWNER_UID] [--oom-eventfd K | --oom-events-file PATH]
///                [--ready-fd FD]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorArgs {
    pub state_dir: PathBuf,
    /// The container's init, a child of the monitor.
    pub pid: i32,
    /// A pidfd for `pid`, inherited.
    pub pidfd: i32,
    /// The bound and listening `monitor.sock`, inherited.
    pub listen_fd: i32,
    pub owner_uid: Option<u32>,
    /// cgroup v1: the eventfd that signals OOMs, inherited.
    pub oom_eventfd: Option<i32>,
    /// cgroup v2: the `memory.events` file to watch.
    pub oom_events_file: Option<PathBuf>,
    /// Where to report [`MonitorReady`], inherited.
    pub ready_fd: Option<i32>,
}

impl MonitorArgs {
    pub const USAGE: &'static str = "usage: runoci-monitor --state-dir DIR --pid PID --pidfd FD \
--listen-fd FD [--uid OWNER_UID] [--oom-eventfd FD | --oom-events-file PATH] [--ready-fd FD]";

    /// The arguments (after the program name) that [`MonitorArgs::parse`]
    /// reads back.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--state-dir".into(),
            self.state_dir.display().to_string(),
            "--pid".into(),
            self.pid.to_string(),
            "--pidfd".into(),
            self.pidfd.to_string(),
            "--listen-fd".into(),
            self.listen_fd.to_string(),
        ];
        let mut opt = |flag: &str, v: Option<String>| {
            if let Some(v) = v {
                args.push(flag.into());
                args.push(v);
            }
        };
        opt("--uid", self.owner_uid.map(|u| u.to_string()));
        opt("--ready-fd", self.ready_fd.map(|f| f.to_string()));
        opt("--oom-eventfd", self.oom_eventfd.map(|f| f.to_string()));
        opt(
            "--oom-events-file",
            self.oom_events_file
                .as_ref()
                .map(|p| p.display().to_string()),
        );
        args
    }

    /// Parses the arguments after the program name (`--flag value` or
    /// `--flag=value`). Err names what is wrong; an empty Err means
    /// `--help`/`-h` was asked for.
    pub fn parse(mut argv: impl Iterator<Item = String>) -> Result<MonitorArgs, String> {
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
        if oom_eventfd.is_some() && oom_events_file.is_some() {
            return Err("--oom-eventfd and --oom-events-file exclude each other".into());
        }
        Ok(MonitorArgs {
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
}

/// What `start` reads on the ready pipe: the monitor serves (`ok`), or the
/// creator failed and says why (`error <message>`). Nothing at all (the
/// pipe closed without a line) means the monitor died before reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorReady {
    Ok,
    Error(String),
}

impl MonitorReady {
    /// The line written to the pipe, newline included.
    pub fn encode(&self) -> String {
        match self {
            MonitorReady::Ok => "ok\n".into(),
            MonitorReady::Error(e) => format!("error {e}\n"),
        }
    }

    /// What was read from the pipe; None when it is not a report (empty:
    /// the writer died first).
    pub fn decode(text: &str) -> Option<MonitorReady> {
        let text = text.trim();
        if text == "ok" {
            Some(MonitorReady::Ok)
        } else {
            text.strip_prefix("error ")
                .map(|e| MonitorReady::Error(e.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<MonitorArgs, String> {
        MonitorArgs::parse(s.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn parses_the_command_line_the_runtime_passes() {
        let a = parse("--state-dir /run/containers/x --pid 42 --pidfd 3 --listen-fd=4 --uid 1000")
            .unwrap();
        assert_eq!(a.state_dir, PathBuf::from("/run/containers/x"));
        assert_eq!(
            (a.pid, a.pidfd, a.listen_fd, a.owner_uid),
            (42, 3, 4, Some(1000))
        );
        assert_eq!((a.oom_eventfd, a.ready_fd), (None, None));
    }

    #[test]
    fn args_round_trip() {
        let mut a = MonitorArgs {
            state_dir: "/run/containers/web".into(),
            pid: 7,
            pidfd: 5,
            listen_fd: 6,
            owner_uid: Some(0),
            oom_eventfd: Some(9),
            oom_events_file: None,
            ready_fd: Some(8),
        };
        assert_eq!(MonitorArgs::parse(a.to_args().into_iter()), Ok(a.clone()));
        a.oom_eventfd = None;
        a.oom_events_file = Some("/sys/fs/cgroup/unified/x/memory.events".into());
        a.owner_uid = None;
        a.ready_fd = None;
        assert_eq!(MonitorArgs::parse(a.to_args().into_iter()), Ok(a));
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
            "--state-dir d --pid 1 --pidfd 3 --listen-fd 4 --oom-eventfd 5 --oom-events-file f",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad:?}: no reason given");
        }
        assert_eq!(parse("--pid 1 --help"), Err(String::new()));
    }

    #[test]
    fn ready_round_trips() {
        for r in [
            MonitorReady::Ok,
            MonitorReady::Error("create: hook exited with status 1".into()),
        ] {
            assert_eq!(MonitorReady::decode(&r.encode()), Some(r));
        }
    }

    #[test]
    fn ready_refuses_what_is_not_a_report() {
        for bad in ["", "\n", "okay", "error", "errors happen", "OK"] {
            assert_eq!(MonitorReady::decode(bad), None, "{bad:?}");
        }
    }
}
