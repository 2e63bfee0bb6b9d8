//! The monitor's event loop: one thread, one epoll (mio), a handful of fds:
//! the listening socket, SIGCHLD (a signalfd), the init's
//! pidfd, optionally an OOM eventfd, and one socket per client.

use crate::clients::{Clients, Mode, Turn, FIRST_CLIENT};
use crate::log;
use crate::sys;
use mio::net::UnixListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use runoci_core::state::RuntimeRecord;
use runoci_proto::{Event, ExitStatus, MonitorArgs, Reply, Request, State, Stats, Status};
use std::io::{self, ErrorKind};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const PIDFD: Token = Token(2);
const OOM: Token = Token(3);
/// Reads per client per wakeup before the others get their turn.
const READS_PER_TURN: usize = 16;
/// After the exit: how long to go on flushing replies at most, and how long
/// a quiet spell ends it.
const FINISH_GRACE: Duration = Duration::from_secs(5);
const FINISH_IDLE: Duration = Duration::from_millis(100);
/// How long the loop must have been idle before it drops its clean code
/// pages (see `trim`).
const IDLE_BEFORE_TRIM: Duration = Duration::from_millis(500);
/// What the command line gave the monitor, its fds adopted.
pub struct Config {
    /// As given; `oom_events_file` (cgroup v2: `memory.events`) is watched
    /// with inotify, an `oom` event sent when its `oom_kill` count grows.
    pub args: MonitorArgs,
    pub pidfd: OwnedFd,
    pub listener: OwnedFd,
    pub oom_fd: Option<OwnedFd>,
    /// The container's record as read at start: the cleanup goes by it if
    /// the one on disk is gone by the time the init exits.
    pub record: RuntimeRecord,
}

pub struct Monitor {
    poll: Poll,
    listener: UnixListener,
    signals: SignalFd,
    pidfd: OwnedFd,
    oom_fd: Option<OwnedFd>,
    clients: Clients,
    state: State,
    state_dir: PathBuf,
    init_pid: i32,
    allowed_uids: [u32; 3],
    exit: Option<ExitStatus>,
    oom_events: u64,
    /// cgroup v2: the memory.events file and the oom_kill count last seen.
    oom_file: Option<(PathBuf, u64)>,
    /// `Config::record`, kept as its JSON: one allocation instead of a
    /// few dozen strings (a cgroup path per hierarchy, twice) spread over
    /// the heap pages for the container's whole life. Read back on a kill
    /// and at the exit.
    record: Box<[u8]>,
}

impl Monitor {
    pub fn new(cfg: Config, mut state: State) -> io::Result<Monitor> {
        let poll = Poll::new()?;
        // The init is running: that is why the monitor was started. The
        // command line's pid wins over whatever state.json said.
        state.pid = cfg.args.pid;
        state.status = Status::Running;
        state.exit = None;

        let std_listener = std::os::unix::net::UnixListener::from(cfg.listener);
        std_listener.set_nonblocking(true)?;
        let mut listener = UnixListener::from_std(std_listener);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;

        // Orphaned container processes are reparented to the monitor (a
        // subreaper): SIGCHLD tells it to reap them.
        // A signalfd rather than a handler: no handler registry to keep
        // (signal-hook's held 8 kB of heap for life). SIGCHLD stays
        // blocked; the hooks the monitor runs get an empty mask from
        // std's spawn.
        let mut chld = SigSet::empty();
        chld.add(Signal::SIGCHLD);
        chld.thread_block().map_err(io::Error::from)?;
        let signals = SignalFd::with_flags(&chld, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(io::Error::from)?;
        poll.registry().register(
            &mut SourceFd(&signals.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )?;
        // A pidfd becomes readable when its process exits.
        poll.registry().register(
            &mut SourceFd(&cfg.pidfd.as_raw_fd()),
            PIDFD,
            Interest::READABLE,
        )?;
        let clients = Clients::new(poll.registry(), &state.id)?;
        let mut m = Monitor {
            poll,
            listener,
            signals,
            pidfd: cfg.pidfd,
            oom_fd: None,
            clients,
            state,
            state_dir: cfg.args.state_dir,
            init_pid: cfg.args.pid,
            allowed_uids: [0, sys::geteuid(), cfg.args.owner_uid.unwrap_or(0)],
            exit: None,
            oom_events: 0,
            oom_file: None,
            record: serde_json::to_vec(&cfg.record)?.into_boxed_slice(),
        };
        if let Some(fd) = cfg.oom_fd {
            m.watch_oom(fd)?;
        } else if let Some(path) = cfg.args.oom_events_file {
            let fd = sys::inotify_modify(&path)?;
            m.oom_file = Some((path.clone(), sys::oom_kill_count(&path)));
            m.watch_oom(fd)?;
        }
        Ok(m)
    }

    /// Hook point for OOM notification: `fd` becomes readable each time the
    /// container's cgroup reports an OOM (a cgroup v1 `memory.oom_control`
    /// eventfd, or any fd the caller makes readable on OOM; it is drained
    /// and each wakeup counts as one `oom` event).
    pub fn watch_oom(&mut self, fd: OwnedFd) -> io::Result<()> {
        sys::set_nonblocking(fd.as_fd())?;
        self.poll
            .registry()
            .register(&mut SourceFd(&fd.as_raw_fd()), OOM, Interest::READABLE)?;
        self.oom_fd = Some(fd);
        Ok(())
    }

    /// The record as read at start (it was serialized from a valid one).
    fn record(&self) -> RuntimeRecord {
        serde_json::from_slice(&self.record).unwrap_or_default()
    }

    /// Serve until the container has exited and the replies owed are out.
    pub fn run(mut self) -> io::Result<()> {
        // Start-up's garbage is freed by now, and (tcache off, see `runoci
        // start`) merged into free space low in the heap. The two buffers
        // kept for life, allocated (the record: copied) now, land in it
        // rather than above it, so the trim below gives back every page
        // above them: heap 20 -> 12 kB.
        self.record = Box::from(&*self.record);
        let mut events = Events::with_capacity(64);
        // The init (or an orphan) may have exited before SIGCHLD was
        // hooked; catch up.
        self.reap();
        let mut deadline: Option<Instant> = None;
        // Start-up is over (`start` has its ready line): give back what it
        // touched now, not after a wait, so that a host starting many
        // containers at once holds few untrimmed monitors at any time.
        crate::trim::drop_clean_file_pages();
        // Each burst of requests leaves code pages mapped again; drop them
        // once the loop has been idle for a moment.
        let mut trim_due = false;
        loop {
            if self.exit.is_some() && deadline.is_none() {
                deadline = Some(Instant::now() + FINISH_GRACE);
            }
            let timeout = match deadline {
                _ if self.clients.has_leftovers() => Some(Duration::ZERO),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        log(&self.state.id, "giving up on slow clients after the exit");
                        return Ok(());
                    }
                    Some(left.min(FINISH_IDLE))
                }
                None if trim_due => Some(IDLE_BEFORE_TRIM),
                None => None,
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if events.is_empty() && deadline.is_none() && trim_due {
                crate::trim::drop_clean_file_pages();
                trim_due = false;
                continue;
            }
            trim_due = true;
            if deadline.is_some()
                && events.is_empty()
                && !self.clients.has_leftovers()
                && self.clients.flushed()
            {
                return Ok(());
            }
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.clients.accept(&self.listener, &self.allowed_uids),
                    SIGNALS => {
                        // Only SIGCHLD is in the signalfd; draining it is
                        // enough (reap() collects every exited child).
                        while let Ok(Some(_)) = self.signals.read_signal() {}
                        self.reap();
                    }
                    PIDFD => self.reap(),
                    OOM => {
                        if self
                            .oom_fd
                            .as_ref()
                            .is_some_and(|fd| sys::drain(fd.as_fd()))
                        {
                            self.on_oom_wakeup();
                        }
                    }
                    Token(t) => {
                        let slot = t - FIRST_CLIENT;
                        if ev.is_error() || ev.is_write_closed() {
                            // The peer is gone both ways: nothing can be
                            // delivered any more.
                            self.clients.drop_client(slot);
                            continue;
                        }
                        if ev.is_readable() || ev.is_read_closed() {
                            self.read_client(slot);
                        }
                        if ev.is_writable() {
                            self.clients.flush(slot);
                        }
                    }
                }
            }
            for slot in self.clients.take_leftovers() {
                self.read_client(slot);
            }
        }
    }

    /// Read what the client sent and answer the complete lines, for at
    /// most READS_PER_TURN reads.
    // Not inlined into `run`: its locals would grow the loop's frame, which
    // stays on the stack, dirty, for the monitor's whole life.
    #[inline(never)]
    fn read_client(&mut self, slot: usize) {
        // Lines left over while a reply was unsent come first.
        self.answer(slot);
        let mut chunk = [0u8; 4096];
        let mut turn_used_up = true;
        for _ in 0..READS_PER_TURN {
            match self.clients.read(slot, &mut chunk) {
                Turn::More => self.answer(slot),
                Turn::Done => {
                    turn_used_up = false;
                    break;
                }
                Turn::Gone => return,
            }
        }
        self.clients.end_turn(slot, turn_used_up);
        self.answer(slot);
        self.clients.flush(slot);
    }

    /// Answer every complete request the client has sent, in order.
    fn answer(&mut self, slot: usize) {
        while let Some(req) = self.clients.next_request(slot) {
            self.handle(slot, req);
        }
    }

    fn handle(&mut self, slot: usize, req: Request) {
        let reply = match req {
            Request::State => Reply::State(Box::new(self.current_state())),
            Request::Stats => Reply::Stats(self.stats()),
            Request::Kill { signal, all } => match self.kill(signal.number(), all) {
                Ok(()) => Reply::Ok,
                Err(e) => Reply::Error(e),
            },
            Request::Wait => match self.exit {
                Some(exit) => Reply::Exit(exit),
                None => {
                    self.clients.set_mode(slot, Mode::Waiting);
                    return;
                }
            },
            Request::Events => {
                self.clients.set_mode(slot, Mode::Events);
                let pid = self.init_pid;
                self.clients.send_event(slot, &Event::Started { pid });
                if let Some(exit) = self.exit {
                    self.clients.send_event(slot, &Event::Exited { exit });
                    self.clients.close_after_flush(slot);
                }
                return;
            }
        };
        self.clients.send_reply(slot, &reply);
    }

    /// `pause`/`resume` change the status in state.json behind our back:
    /// while the container runs, that file's status wins.
    fn current_state(&self) -> State {
        let mut st = self.state.clone();
        if self.exit.is_none() {
            let paused = std::fs::read(self.state_dir.join("state.json"))
                .ok()
                .and_then(|d| serde_json::from_slice::<State>(&d).ok())
                .is_some_and(|f| f.status == Status::Paused);
            if paused {
                st.status = Status::Paused;
            }
        }
        st
    }

    fn kill(&self, sig: i32, all: bool) -> Result<(), String> {
        if self.exit.is_some() {
            return Err("container has exited".into());
        }
        // Every process: the cgroup's. Without a cgroup the init alone,
        // through the pidfd the monitor holds.
        let record = self.record();
        if all && record.cgroup.is_some() {
            return runoci_core::lifecycle::kill_all(&record, sig).map_err(|e| e.to_string());
        }
        runoci_core::lifecycle::signal_init(&record, &self.pidfd, sig).map_err(|e| {
            match e.raw_os_error() {
                Some(libc::ESRCH) => "container has exited".to_owned(),
                _ => format!("kill {sig}: {e}"),
            }
        })
    }

    fn stats(&self) -> Stats {
        let running = self.exit.is_none();
        let (cpu_user_usec, cpu_system_usec, rss_bytes) = if running {
            sys::proc_usage(&self.init_pid.to_string())
        } else {
            (0, 0, 0)
        };
        Stats {
            pid: if running { self.init_pid } else { 0 },
            running,
            cpu_user_usec,
            cpu_system_usec,
            rss_bytes,
            monitor_rss_bytes: sys::proc_usage("self").2,
            clients: self.clients.count() as u32,
            oom_events: self.oom_events,
        }
    }

    /// Reap every child that has exited; the init's exit ends the container.
    // Not inlined into `run`: its locals would grow the loop's frame, which
    // stays on the stack, dirty, for the monitor's whole life.
    #[inline(never)]
    fn reap(&mut self) {
        loop {
            match sys::reap_one() {
                Ok(Some((pid, how))) if pid == self.init_pid && self.exit.is_none() => {
                    let (code, signal) = match how {
                        sys::Reaped::Exited(c) => (Some(c), None),
                        sys::Reaped::Signaled(s) => (None, Some(s)),
                    };
                    self.on_exit(code, signal);
                }
                Ok(Some(_)) => {} // an orphan of the container: reaped, done
                Ok(None) => return,
                Err(e) => {
                    log(&self.state.id, &format!("waitpid: {e}"));
                    return;
                }
            }
        }
    }

    fn on_exit(&mut self, code: Option<i32>, signal: Option<i32>) {
        // An OOM kill and the init's death come together, and the loop may
        // see the death first: catch up, so that subscribers get `oom`
        // before `exited` and the exit says oomKilled.
        self.catch_up_oom();
        let finished_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let exit = ExitStatus {
            code,
            signal,
            finished_at,
            oom_killed: self.oom_events > 0,
        };
        // From here on `state` says stopped, whoever asks.
        self.state.status = Status::Stopped;
        self.state.exit = Some(exit);
        // Record the exit, run poststop hooks, undo mounts and cgroups. It
        // blocks the loop; requests that arrive meanwhile wait in the
        // socket's backlog and are answered afterwards. It must reap the
        // children it starts itself; whatever it leaves, the loop reaps.
        let exit = match runoci_core::lifecycle::container_exited(
            &self.state_dir,
            &exit,
            &self.record(),
        ) {
            Ok(recorded) => recorded,
            Err(e) => {
                log(&self.state.id, &format!("cleaning up after the exit: {e}"));
                exit
            }
        };
        self.state.exit = Some(exit);
        self.exit = Some(exit);
        // The monitor's own record of the exit, in the container's log
        // (with --log_dir) like conmon's.
        let how = match (exit.code, exit.signal) {
            (Some(c), _) => format!("exited with code {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            (None, None) => "exited".to_owned(),
        };
        log(
            &self.state.id,
            &format!(
                "container init {} {how}{}; cleaned up",
                self.init_pid,
                if exit.oom_killed { " (OOM killed)" } else { "" }
            ),
        );
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&self.pidfd.as_raw_fd()));
        // Waiters get the exit, then whatever they queued behind the wait;
        // subscribers get the last event and are closed.
        for slot in self.clients.in_mode(Mode::Waiting) {
            self.clients.send_reply(slot, &Reply::Exit(exit));
            self.clients.set_mode(slot, Mode::Requests);
            self.answer(slot);
        }
        for slot in self.clients.in_mode(Mode::Events) {
            self.clients.send_event(slot, &Event::Exited { exit });
            self.clients.close_after_flush(slot);
        }
    }

    /// Takes an OOM the loop has not seen yet: v2's count is read again
    /// (a count that has not grown sends nothing, so the wakeup still to
    /// come is harmless), v1's eventfd drained.
    fn catch_up_oom(&mut self) {
        let pending = self.oom_file.is_some()
            || self
                .oom_fd
                .as_ref()
                .is_some_and(|fd| sys::drain(fd.as_fd()));
        if pending {
            self.on_oom_wakeup();
        }
    }

    /// The OOM fd woke us: v1's eventfd is one OOM; v2's memory.events also
    /// changes for other reasons, so there only a grown oom_kill count is.
    fn on_oom_wakeup(&mut self) {
        let Some((path, seen)) = &mut self.oom_file else {
            self.on_oom();
            return;
        };
        let now = sys::oom_kill_count(path);
        if now > *seen {
            *seen = now;
            self.on_oom();
        }
    }

    /// The container's cgroup reported an OOM: tell the subscribers, and
    /// remember it for the exit status.
    pub fn on_oom(&mut self) {
        if self.exit.is_some() {
            return;
        }
        self.oom_events += 1;
        for slot in self.clients.in_mode(Mode::Events) {
            self.clients.send_event(slot, &Event::Oom);
        }
    }
}
