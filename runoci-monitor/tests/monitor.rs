//! runoci-monitor against a real child process, over its real socket.
//! Must run as root (the peer-credential tests switch users).

mod common;

use common::{children_of, spawn, spawn_with, Opts};
use runoci_proto::{
    decode_reply, encode_request, Event, ProtoError, Reply, Request, Signal, Status,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Read one reply line from a raw connection.
fn read_reply(s: &UnixStream) -> Reply {
    let mut line = Vec::new();
    BufReader::new(s).read_until(b'\n', &mut line).unwrap();
    decode_reply(&line)
        .unwrap_or_else(|e| panic!("bad reply {:?}: {e}", String::from_utf8_lossy(&line)))
}

/// After the reply, the monitor closes the connection.
fn assert_closed(s: &mut UnixStream) {
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(
        rest.is_empty(),
        "expected the connection closed, read {:?}",
        String::from_utf8_lossy(&rest)
    );
}

fn assert_error_reply_and_close(s: &mut UnixStream, contains: &str) {
    match read_reply(s) {
        Reply::Error(e) => assert!(
            e.contains(contains),
            "expected an error about {contains:?}, saw {e:?}"
        ),
        other => panic!("expected an error about {contains:?}, saw {other:?}"),
    }
    assert_closed(s);
}

/// A `wait` the monitor has taken: sent in one write behind a `state` on
/// the same connection. The monitor answers every complete line of what it
/// read in order before it turns to another client, so the `state` answer
/// proves the wait is pending (a kill sent afterwards cannot overtake it,
/// and the monitor cannot finish before answering it).
struct PendingWait(BufReader<UnixStream>);

fn pending_wait(m: &common::Monitor) -> PendingWait {
    let mut s = m.raw();
    s.write_all(b"{\"version\":1,\"request\":\"state\"}\n{\"version\":1,\"request\":\"wait\"}\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).unwrap();
    match decode_reply(&line) {
        Ok(Reply::State(_)) => PendingWait(r),
        other => panic!("expected the state answer before the wait, saw {other:?}"),
    }
}

impl PendingWait {
    /// The exit the wait is answered with.
    fn exit(mut self) -> runoci_proto::ExitStatus {
        let mut line = Vec::new();
        self.0.read_until(b'\n', &mut line).unwrap();
        match decode_reply(&line) {
            Ok(Reply::Exit(e)) => e,
            other => panic!("expected the wait answered with the exit, saw {other:?}"),
        }
    }
}

/// Start time (/proc/PID/stat field 22) of `pid`, if it exists.
fn start_time(pid: i32) -> Option<u64> {
    runoci_core::procfs::read_stat(pid).map(|st| st.start_time)
}

/// Poll `cond` for up to 10 s.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_still_serves(m: &common::Monitor) {
    let st = m.client().state().unwrap();
    assert_eq!(
        st.status,
        Status::Running,
        "another client should still get state"
    );
}

#[test]
fn state_reports_running_with_the_init_pid() {
    let m = spawn();
    let st = m.client().state().unwrap();
    assert_eq!(st.status, Status::Running);
    assert_eq!(st.pid, m.init_pid, "state pid should be the init's");
    assert_eq!(st.bundle, "/nonexistent/bundle");
    assert_eq!(st.annotations.get("test").map(String::as_str), Some("yes"));
    assert_eq!(st.exit, None);
    // Several requests on one connection.
    let mut c = m.client();
    for _ in 0..3 {
        assert_eq!(c.state().unwrap().pid, m.init_pid);
    }
    let stats = c.stats().unwrap();
    assert!(stats.running && stats.pid == m.init_pid, "{stats:?}");
    assert!(
        stats.monitor_rss_bytes > 0 && stats.rss_bytes > 0,
        "{stats:?}"
    );
}

#[test]
fn kill_term_is_reported_to_every_waiter_as_signal_15() {
    let mut m = spawn();
    let init_start = start_time(m.init_pid).expect("the init runs");
    // Every wait is pending before the kill.
    let waiters: Vec<PendingWait> = (0..5).map(|_| pending_wait(&m)).collect();
    m.client().kill("SIGTERM".parse().unwrap(), false).unwrap();
    for w in waiters {
        let exit = w.exit();
        assert_eq!((exit.code, exit.signal), (None, Some(15)), "{exit:?}");
        assert_eq!(exit.as_exit_code(), 143);
        assert!(exit.finished_at > 0 && !exit.oom_killed, "{exit:?}");
    }
    m.assert_exits_cleanly(EXIT_TIMEOUT);
    // The monitor reaped its child before exiting: an unreaped init would
    // now be a zombie of PID 1 (which does not reap here), still listed.
    assert_ne!(
        start_time(m.init_pid),
        Some(init_start),
        "the init {} is left unreaped after the monitor exited",
        m.init_pid
    );
}

#[test]
fn kill_by_number_and_exit_code_is_reported() {
    let mut m = spawn_with(Opts {
        cmd: vec![
            "/bin/sh".into(),
            "-c".into(),
            "trap 'exit 7' USR1; while :; do sleep 0.05; done".into(),
        ],
        ..Opts::default()
    });
    // The trap is set once the loop has started its first sleep.
    wait_for("the shell's loop to start", || {
        !children_of(m.init_pid).is_empty()
    });
    let mut s = m.raw();
    // A shell user's request: signal as a number. Then a pipelined state,
    // which queues behind the wait and must say stopped.
    s.write_all(b"{\"version\":1,\"request\":\"kill\",\"signal\":10}\n")
        .unwrap();
    assert_eq!(read_reply(&s), Reply::Ok);
    s.write_all(b"{\"version\":1,\"request\":\"wait\"}\n{\"version\":1,\"request\":\"state\"}\n")
        .unwrap();
    let mut r = BufReader::new(&s);
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).unwrap();
    let Reply::Exit(exit) = decode_reply(&line).unwrap() else {
        panic!("expected exit, saw {line:?}")
    };
    assert_eq!((exit.code, exit.signal), (Some(7), None));
    line.clear();
    r.read_until(b'\n', &mut line).unwrap();
    let Reply::State(st) = decode_reply(&line).unwrap() else {
        panic!("expected state, saw {line:?}")
    };
    assert_eq!(st.status, Status::Stopped, "state asked after the exit");
    assert_eq!(st.exit, Some(exit));
    m.assert_exits_cleanly(EXIT_TIMEOUT);
}

#[test]
fn kill_all_without_a_cgroup_reaches_the_init_and_a_bad_signal_is_refused() {
    let m = spawn();
    let mut s = m.raw();
    s.write_all(b"{\"version\":1,\"request\":\"kill\",\"signal\":\"NOPE\"}\n")
        .unwrap();
    assert_error_reply_and_close(&mut s, "not a signal");
    assert_still_serves(&m);
    // Without a cgroup in the record, kill all signals the init (through
    // the monitor's pidfd); a record naming the init changes nothing.
    let start = runoci_core::procfs::read_stat(m.init_pid)
        .unwrap()
        .start_time;
    std::fs::write(
        m.dir.join("runtime.json"),
        format!("{{\"pid\":{},\"pidStartTime\":{start}}}", m.init_pid),
    )
    .unwrap();
    let wait = pending_wait(&m);
    m.client().kill(Signal::KILL, true).unwrap();
    let exit = wait.exit();
    assert_eq!(
        exit.signal,
        Some(9),
        "kill all must reach the init: {exit:?}"
    );
}

#[test]
fn events_stream_started_then_exited() {
    let mut m = spawn();
    let mut events = m.client().events().unwrap();
    assert_eq!(
        events.next().unwrap().unwrap(),
        Event::Started { pid: m.init_pid }
    );
    m.client().kill(Signal::TERM, false).unwrap();
    match events.next().unwrap().unwrap() {
        Event::Exited { exit } => assert_eq!(exit.signal, Some(15), "{exit:?}"),
        other => panic!("expected exited, saw {other:?}"),
    }
    assert!(
        events.next().is_none(),
        "the stream should end after exited"
    );
    m.assert_exits_cleanly(EXIT_TIMEOUT);
}

#[test]
fn oom_eventfd_becomes_an_oom_event_and_marks_the_exit() {
    let mut m = spawn_with(Opts {
        oom_eventfd: true,
        ..Opts::default()
    });
    let mut events = m.client().events().unwrap();
    assert!(matches!(
        events.next().unwrap().unwrap(),
        Event::Started { .. }
    ));
    let fd = m.oom_eventfd.as_ref().unwrap();
    let one = 1u64.to_ne_bytes();
    // SAFETY: writes 8 bytes from `one` to the eventfd.
    let n = unsafe { libc::write(std::os::fd::AsRawFd::as_raw_fd(fd), one.as_ptr().cast(), 8) };
    assert_eq!(n, 8, "write to the OOM eventfd");
    assert_eq!(events.next().unwrap().unwrap(), Event::Oom);
    assert_eq!(m.client().stats().unwrap().oom_events, 1);
    m.client().kill(Signal::KILL, false).unwrap();
    match events.next().unwrap().unwrap() {
        Event::Exited { exit } => assert!(exit.oom_killed && exit.signal == Some(9), "{exit:?}"),
        other => panic!("expected exited, saw {other:?}"),
    }
    m.assert_exits_cleanly(EXIT_TIMEOUT);
}

#[test]
fn hundred_concurrent_clients_all_get_state() {
    let m = spawn();
    let conns: Vec<UnixStream> = (0..100).map(|_| m.raw()).collect();
    for c in &conns {
        (&*c).write_all(&encode_request(&Request::State)).unwrap();
    }
    for (i, c) in conns.iter().enumerate() {
        match read_reply(c) {
            Reply::State(st) => assert_eq!(st.pid, m.init_pid),
            other => panic!("client {i}: expected state, saw {other:?}"),
        }
    }
    // And 100 threads at once, each with its own client.
    let sock = m.sock.clone();
    let threads: Vec<_> = (0..100)
        .map(|_| {
            let sock = sock.clone();
            std::thread::spawn(move || runoci_proto::Client::connect(sock)?.state())
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap().pid, m.init_pid);
    }
}

#[test]
fn garbage_bytes_get_an_error_and_others_are_still_served() {
    let m = spawn();
    let mut s = m.raw();
    s.write_all(b"\x00\xff\xfe\x01garbage\n").unwrap();
    assert_error_reply_and_close(&mut s, "malformed");
    assert_still_serves(&m);
}

#[test]
fn ten_mib_line_gets_an_error_and_others_are_still_served() {
    let m = spawn();
    let mut s = m.raw();
    let mut w = s.try_clone().unwrap();
    // The monitor stops reading at 64 KiB, so the writer sees EPIPE.
    let writer = std::thread::spawn(move || {
        let block = vec![b'a'; 64 * 1024];
        for _ in 0..160 {
            if w.write_all(&block).is_err() {
                return;
            }
        }
    });
    assert_error_reply_and_close(&mut s, "longer than 65536");
    writer.join().unwrap();
    assert_still_serves(&m);
}

#[test]
fn unknown_request_and_wrong_version_get_errors() {
    let m = spawn();
    let mut s = m.raw();
    s.write_all(b"{\"version\":1,\"request\":\"checkpoint\"}\n")
        .unwrap();
    assert_error_reply_and_close(&mut s, "unknown request \"checkpoint\"");
    let mut s = m.raw();
    s.write_all(b"{\"version\":2,\"request\":\"state\"}\n")
        .unwrap();
    assert_error_reply_and_close(&mut s, "unsupported protocol version 2");
    let mut s = m.raw();
    s.write_all(b"{\"request\":\"state\"}\n").unwrap();
    assert_error_reply_and_close(&mut s, "version");
    let err = m.client().request(&Request::State).unwrap();
    assert!(matches!(err, Reply::State(_)));
}

#[test]
fn half_written_request_blocks_nobody_and_completes_later() {
    let m = spawn();
    let mut half = m.raw();
    half.write_all(b"{\"version\":1,\"requ").unwrap();
    assert_still_serves(&m);
    half.write_all(b"est\":\"state\"}\n").unwrap();
    assert!(matches!(read_reply(&half), Reply::State(_)));
}

#[test]
fn silent_client_blocks_nobody() {
    let m = spawn();
    let _silent: Vec<UnixStream> = (0..10).map(|_| m.raw()).collect();
    assert_still_serves(&m);
}

#[test]
fn last_request_without_newline_is_answered_at_eof() {
    let m = spawn();
    let mut s = m.raw();
    s.write_all(b"{\"version\":1,\"request\":\"state\"}")
        .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(matches!(read_reply(&s), Reply::State(_)));
    assert_closed(&mut s);
}

/// Connect as `uid` from a forked child and send `state`; the child exits 0
/// if the reply was ok, 1 if it was an error, 2+ if it could not ask.
fn state_as_uid(sock: &std::path::Path, uid: u32) -> i32 {
    let path = std::ffi::CString::new(sock.to_str().unwrap()).unwrap();
    let req = encode_request(&Request::State);
    // SAFETY: the child only makes async-signal-safe calls on data
    // prepared before the fork, and ends in _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: see above; sockaddr_un is plain data.
        unsafe {
            if libc::setgid(uid) != 0 || libc::setuid(uid) != 0 {
                libc::_exit(2);
            }
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            let mut addr: libc::sockaddr_un = std::mem::zeroed();
            addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
            for (i, b) in path.as_bytes().iter().enumerate() {
                addr.sun_path[i] = *b as libc::c_char;
            }
            let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
            if libc::connect(fd, (&addr as *const libc::sockaddr_un).cast(), len) != 0 {
                libc::_exit(3);
            }
            libc::write(fd, req.as_ptr().cast(), req.len());
            let mut buf = [0u8; 4096];
            let mut got = 0;
            loop {
                let n = libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got);
                if n <= 0 {
                    break;
                }
                got += n as usize;
                if buf[..got].contains(&b'\n') || got == buf.len() {
                    break;
                }
            }
            let reply = &buf[..got];
            let has = |pat: &[u8]| reply.windows(pat.len()).any(|w| w == pat);
            libc::_exit(if has(b"\"ok\":true") {
                0
            } else if has(b"\"ok\":false") && has(b"permission denied") {
                1
            } else {
                4
            });
        }
    }
    let mut status = 0;
    // SAFETY: waitpid writes only `status`.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "client child died: {status:#x}");
    libc::WEXITSTATUS(status)
}

fn open_socket_to_everyone(m: &common::Monitor) {
    // The 0600 socket already keeps others out; open it up so that the
    // monitor's own peer check is what is tested.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&m.sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::set_permissions(&m.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn non_root_peer_is_refused() {
    let m = spawn();
    open_socket_to_everyone(&m);
    assert_eq!(
        state_as_uid(&m.sock, 65534),
        1,
        "uid 65534 should get a permission-denied reply"
    );
    assert_still_serves(&m);
}

#[test]
fn owner_uid_is_allowed() {
    let m = spawn_with(Opts {
        owner_uid: Some(65534),
        ..Opts::default()
    });
    open_socket_to_everyone(&m);
    assert_eq!(
        state_as_uid(&m.sock, 65534),
        0,
        "the --uid owner should be served"
    );
    assert_eq!(
        state_as_uid(&m.sock, 65533),
        1,
        "another uid should be refused"
    );
}

#[test]
fn orphans_are_reaped_and_no_zombies_are_left() {
    // The init leaves an orphan behind (a backgrounded subshell's child),
    // which is reparented to the monitor, a subreaper.
    let mut m = spawn_with(Opts {
        cmd: vec![
            "/bin/sh".into(),
            "-c".into(),
            "(sleep 1 &); exec sleep 30".into(),
        ],
        ..Opts::default()
    });
    let orphan = |(pid, _, comm): &(i32, char, String)| *pid != m.init_pid && comm == "sleep";
    wait_for("the orphan to be reparented to the monitor", || {
        children_of(m.pid).iter().any(orphan)
    });
    wait_for(
        "the orphan to exit and be reaped, leaving only the init",
        || {
            let kids = children_of(m.pid);
            kids.len() == 1 && kids[0].0 == m.init_pid
        },
    );
    assert_still_serves(&m);
    m.client().kill(Signal::TERM, false).unwrap();
    m.assert_exits_cleanly(EXIT_TIMEOUT);
}

#[test]
fn monitor_exits_when_the_init_exits_by_itself() {
    let go = std::env::temp_dir().join(format!("runoci-mon-go-{}-exit3", std::process::id()));
    let _ = std::fs::remove_file(&go);
    let mut m = spawn_with(Opts {
        cmd: vec![
            "/bin/sh".into(),
            "-c".into(),
            format!(
                "while [ ! -e {} ]; do sleep 0.05; done; exit 3",
                go.display()
            ),
        ],
        ..Opts::default()
    });
    // The init exits by itself once told to, after the wait is pending.
    let wait = pending_wait(&m);
    std::fs::write(&go, b"").unwrap();
    let exit = wait.exit();
    let _ = std::fs::remove_file(&go);
    assert_eq!(
        (exit.code, exit.signal, exit.as_exit_code()),
        (Some(3), None, 3)
    );
    m.assert_exits_cleanly(EXIT_TIMEOUT);
}

#[test]
fn client_errors_are_typed() {
    let mut m = spawn();
    let wait = pending_wait(&m);
    m.client().kill(Signal::KILL, false).unwrap();
    wait.exit();
    m.assert_exits_cleanly(EXIT_TIMEOUT);
    assert!(matches!(
        runoci_proto::Client::connect(&m.sock),
        Err(ProtoError::Io(_))
    ));
}

/// Not an assertion of a hard limit: prints what a waiting monitor costs
/// (`cargo test --release -p runoci-monitor -- --nocapture rss`).
#[test]
fn rss_of_a_waiting_monitor() {
    let m = spawn();
    // Warm it up: a few requests of each kind, then let it wait.
    for _ in 0..20 {
        let mut c = m.client();
        c.state().unwrap();
        c.stats().unwrap();
    }
    let _events = m.client().events().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let rss = m.status_kb("VmRSS");
    let anon = m.status_kb("RssAnon");
    let file = m.status_kb("RssFile");
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("runoci-monitor ({profile}) while waiting: VmRSS {rss} kB, RssAnon {anon} kB, RssFile {file} kB");
    // Where it goes: resident kB per mapped file (anonymous memory as "[anon]").
    let smaps = std::fs::read_to_string(format!("/proc/{}/smaps", m.pid)).unwrap();
    let mut per_file: std::collections::BTreeMap<String, u64> = Default::default();
    let mut current = String::new();
    for line in smaps.lines() {
        let mut f = line.split_ascii_whitespace();
        match (f.next(), f.next()) {
            (Some("Rss:"), Some(kb)) => {
                *per_file.entry(current.clone()).or_default() += kb.parse::<u64>().unwrap_or(0)
            }
            (Some(first), _) if first.contains('-') && !first.ends_with(':') => {
                current = line
                    .split_ascii_whitespace()
                    .nth(5)
                    .unwrap_or("[anon]")
                    .to_owned();
            }
            _ => {}
        }
    }
    for (file, kb) in per_file.iter().filter(|(_, kb)| **kb > 0) {
        println!("    {kb:>5} kB  {file}");
    }
    assert!(rss < 8 * 1024, "monitor VmRSS {rss} kB: something grew");
}

const BIG: usize = 3 * 1024 * 1024;

#[test]
fn state_reply_larger_than_a_mib_is_delivered_whole() {
    let m = spawn_with(Opts {
        annotation_bytes: BIG,
        ..Opts::default()
    });
    let st = m.client().state().unwrap();
    assert_eq!(st.annotations.get("big").map(String::len), Some(BIG));
    // Twice on one connection, and a raw reader gets the same line.
    let mut c = m.client();
    for _ in 0..2 {
        assert_eq!(c.state().unwrap().annotations["big"].len(), BIG);
    }
    let mut s = m.raw();
    s.write_all(&encode_request(&Request::State)).unwrap();
    match read_reply(&s) {
        Reply::State(st) => assert_eq!(st.annotations["big"].len(), BIG),
        other => panic!("expected state, saw {other:?}"),
    }
}

/// A client that pipelines many requests for large replies and does not
/// read: the monitor answers one at a time (it reads no more from that
/// client while a reply is unsent), so its memory stays near one reply,
/// every request is answered in the end, and others are served meanwhile.
#[test]
fn client_that_does_not_read_is_owed_one_reply_at_a_time() {
    let m = spawn_with(Opts {
        annotation_bytes: BIG,
        ..Opts::default()
    });
    let s = m.raw();
    s.set_nonblocking(true).unwrap();
    let req = encode_request(&Request::State);
    let mut sent = 0usize;
    // Until the socket is full: the monitor stopped reading from us.
    'fill: while sent < 5000 {
        let mut off = 0;
        while off < req.len() {
            match (&s).write(&req[off..]) {
                Ok(n) => off += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && off == 0 => break 'fill,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("write: {e}"),
            }
        }
        sent += 1;
    }
    assert!(
        sent > 100,
        "only {sent} requests fit before the socket filled"
    );
    // Meanwhile everyone else is served, big replies and all.
    assert_eq!(m.client().state().unwrap().annotations["big"].len(), BIG);
    s.set_nonblocking(false).unwrap();
    let mut reader = BufReader::with_capacity(1 << 20, &s);
    let mut line = Vec::new();
    for i in 0..sent {
        line.clear();
        reader.read_until(b'\n', &mut line).unwrap();
        match decode_reply(&line) {
            Ok(Reply::State(st)) => assert_eq!(st.annotations["big"].len(), BIG, "reply {i}"),
            other => panic!("reply {i} of {sent}: expected state, saw {other:?}"),
        }
    }
    // Peak memory: a few copies of one reply, not `sent` of them
    // (which would be gigabytes).
    let peak = m.status_kb("VmHWM");
    assert!(
        peak < 64 * 1024,
        "monitor peak RSS {peak} kB answering {sent} pipelined 3 MiB replies"
    );
    assert_still_serves(&m);
}
