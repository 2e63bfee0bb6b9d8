//! Start a real runoci-monitor over a real child process, without a
//! container runtime: the test forks; the fork spawns the "container" (so
//! it is the fork's child, as the init is the monitor's), opens a pidfd for
//! it, and execs runoci-monitor with the pidfd and a listening socket the
//! test bound beforehand.
#![allow(dead_code)]

use runoci_proto::{Client, State, Status};
use std::collections::BTreeMap;
use std::ffi::{c_char, CString};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct Opts {
    /// The container's init: absolute path first.
    pub cmd: Vec<String>,
    pub owner_uid: Option<u32>,
    /// Pass an eventfd as --oom-eventfd; the test keeps the other end.
    pub oom_eventfd: bool,
    /// An annotation "big" of this many bytes in the state: a large reply.
    pub annotation_bytes: usize,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            cmd: vec!["/bin/sleep".into(), "30".into()],
            owner_uid: None,
            oom_eventfd: false,
            annotation_bytes: 0,
        }
    }
}

pub struct Monitor {
    pub pid: i32,
    pub init_pid: i32,
    pub dir: PathBuf,
    pub sock: PathBuf,
    pub oom_eventfd: Option<OwnedFd>,
    exited: Option<i32>,
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Decimal digits of `n` into `buf`, NUL-terminated, without allocating
/// (runs between fork and exec).
fn fmt_int(mut n: u64, buf: &mut [u8; 24]) -> *const c_char {
    let mut i = buf.len() - 1;
    buf[i] = 0;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf[i..].as_ptr().cast()
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn spawn() -> Monitor {
    spawn_with(Opts::default())
}

pub fn spawn_with(opts: Opts) -> Monitor {
    let dir = std::env::temp_dir().join(format!(
        "runoci-mon-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let state = State {
        oci_version: "1.0.2".into(),
        id: dir.file_name().unwrap().to_string_lossy().into_owned(),
        status: Status::Running,
        pid: 0, // the monitor takes the pid from --pid
        bundle: "/nonexistent/bundle".into(),
        rootfs: "/nonexistent/bundle/rootfs".into(),
        created: "2024-01-01T00:00:00Z".into(),
        owner: "root".into(),
        annotations: if opts.annotation_bytes > 0 {
            BTreeMap::from([
                ("test".into(), "yes".into()),
                ("big".into(), "x".repeat(opts.annotation_bytes)),
            ])
        } else {
            BTreeMap::from([("test".into(), "yes".into())])
        },
        exit: None,
    };
    std::fs::write(dir.join("state.json"), serde_json::to_vec(&state).unwrap()).unwrap();
    let sock = dir.join("monitor.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let log = std::fs::File::create(dir.join("monitor.log")).unwrap();

    let oom = opts.oom_eventfd.then(|| {
        // SAFETY: eventfd has no memory effects; the fd is checked below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
        // SAFETY: a fresh fd that nothing else owns.
        unsafe { OwnedFd::from_raw_fd(fd) }
    });

    // Everything the child needs is prepared here: between fork and exec a
    // multi-threaded process may only make async-signal-safe calls.
    let init_c: Vec<CString> = opts.cmd.iter().map(|s| cstr(s)).collect();
    let mut init_argv: Vec<*const c_char> = init_c.iter().map(|c| c.as_ptr()).collect();
    init_argv.push(std::ptr::null());
    // RUNOCI_MONITOR_BIN runs the suite against another build (a static
    // one, an installed one).
    let exe = std::env::var("RUNOCI_MONITOR_BIN");
    let exe = cstr(
        exe.as_deref()
            .unwrap_or(env!("CARGO_BIN_EXE_runoci-monitor")),
    );
    let fixed: Vec<CString> = [
        "--state-dir",
        dir.to_str().unwrap(),
        "--pid",
        "--pidfd",
        "--listen-fd",
    ]
    .iter()
    .map(|s| cstr(s))
    .collect();
    let listen_fd = listener.as_raw_fd();
    let listen_s = cstr(&listen_fd.to_string());
    let uid_flag = cstr("--uid");
    let uid_s = opts.owner_uid.map(|u| cstr(&u.to_string()));
    let oom_flag = cstr("--oom-eventfd");
    let oom_s = oom.as_ref().map(|fd| cstr(&fd.as_raw_fd().to_string()));
    let oom_raw: RawFd = oom.as_ref().map_or(-1, |fd| fd.as_raw_fd());
    let mut pipe = [0; 2];
    // SAFETY: pipe2 writes two fds into `pipe`.
    let ret = unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(ret, 0, "pipe2: {}", std::io::Error::last_os_error());
    let log_fd = log.as_raw_fd();

    // SAFETY: the child only makes async-signal-safe calls (fork, execv,
    // dup2, fcntl, write, prctl, syscall) on data prepared above, and ends
    // in execv or _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: see above.
        unsafe {
            libc::dup2(log_fd, 1);
            libc::dup2(log_fd, 2);
            // As the runtime's spawner does: orphans come back to us.
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0);
            let init = libc::fork();
            if init == 0 {
                libc::execv(init_argv[0], init_argv.as_ptr());
                libc::_exit(127);
            }
            if init < 0 {
                libc::_exit(120);
            }
            let pidfd = libc::syscall(libc::SYS_pidfd_open, init, 0) as RawFd;
            if pidfd < 0 {
                libc::_exit(121);
            }
            libc::write(pipe[1], (&init as *const i32).cast(), 4);
            libc::close(pipe[1]);
            // The fds the monitor inherits: not close-on-exec.
            for fd in [listen_fd, pidfd, oom_raw] {
                if fd >= 0 {
                    libc::fcntl(fd, libc::F_SETFD, 0);
                }
            }
            let mut pid_buf = [0u8; 24];
            let mut pidfd_buf = [0u8; 24];
            let mut argv: [*const c_char; 16] = [std::ptr::null(); 16];
            let mut n = 0;
            for p in [
                exe.as_ptr(),
                fixed[0].as_ptr(),
                fixed[1].as_ptr(),
                fixed[2].as_ptr(),
                fmt_int(init as u64, &mut pid_buf),
                fixed[3].as_ptr(),
                fmt_int(pidfd as u64, &mut pidfd_buf),
                fixed[4].as_ptr(),
                listen_s.as_ptr(),
            ] {
                argv[n] = p;
                n += 1;
            }
            if let Some(u) = &uid_s {
                argv[n] = uid_flag.as_ptr();
                argv[n + 1] = u.as_ptr();
                n += 2;
            }
            if let Some(o) = &oom_s {
                argv[n] = oom_flag.as_ptr();
                argv[n + 1] = o.as_ptr();
            }
            libc::execv(exe.as_ptr(), argv.as_ptr());
            libc::_exit(122);
        }
    }
    // SAFETY: closing our copy of the write end; the child has its own.
    unsafe { libc::close(pipe[1]) };
    // SAFETY: pipe[0] is ours alone from here on.
    let mut rd = unsafe { std::fs::File::from_raw_fd(pipe[0]) };
    let mut buf = [0u8; 4];
    let got = rd.read_exact(&mut buf);
    drop(listener); // the monitor has its own copy
    let mut m = Monitor {
        pid,
        init_pid: 0,
        dir,
        sock,
        oom_eventfd: oom,
        exited: None,
    };
    if got.is_err() {
        let st = m.wait_exit(Duration::from_secs(5));
        panic!("spawn helper failed (exit {st:?}); log:\n{}", m.log());
    }
    m.init_pid = i32::from_ne_bytes(buf);
    m
}

impl Monitor {
    pub fn client(&self) -> Client {
        let c = Client::connect(&self.sock).unwrap_or_else(|e| {
            panic!("connect {}: {e}; log:\n{}", self.sock.display(), self.log())
        });
        c.set_timeout(Some(Duration::from_secs(20))).unwrap();
        c
    }

    pub fn raw(&self) -> std::os::unix::net::UnixStream {
        let s = std::os::unix::net::UnixStream::connect(&self.sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("monitor.log")).unwrap_or_default()
    }

    /// Wait for the monitor process to exit; its wait status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        if self.exited.is_some() {
            return self.exited;
        }
        let end = Instant::now() + timeout;
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes only `status`.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                self.exited = Some(status);
                return self.exited;
            }
            if Instant::now() > end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Assert the monitor exits 0 on its own within `timeout`.
    pub fn assert_exits_cleanly(&mut self, timeout: Duration) {
        let st = self.wait_exit(timeout);
        let st = st.unwrap_or_else(|| {
            panic!(
                "monitor still running after {timeout:?}; log:\n{}",
                self.log()
            )
        });
        assert!(
            libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
            "expected monitor exit 0, saw wait status {st:#x}; log:\n{}",
            self.log()
        );
    }

    /// /proc/PID/status fields of the monitor, in kB.
    pub fn status_kb(&self, field: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{}/status", self.pid))
    }
}

/// Children of `ppid` as (pid, state letter, command).
pub fn children_of(ppid: i32) -> Vec<(i32, char, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Some(st) = runoci_core::procfs::read_stat(pid) else {
            continue;
        };
        let (state, parent, comm) = (st.state, st.ppid, st.comm);
        if parent == ppid {
            out.push((pid, state, comm));
        }
    }
    out
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if self.exited.is_none() {
            // A failed test: leave no processes behind.
            // SAFETY: kill has no memory effects; the monitor is our
            // unreaped child, so its pid is still its own.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            if self.init_pid > 0 {
                // The init is the (killed) monitor's child: unreaped until
                // reparented, so this still names it.
                // SAFETY: as above.
                unsafe { libc::kill(self.init_pid, libc::SIGKILL) };
            }
            self.wait_exit(Duration::from_secs(5));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
