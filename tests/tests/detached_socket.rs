//! The monitor socket of a real detached container (a busybox container
//! started with `runoci start`), through `runoci_proto::Client` and raw
//! bytes: every request type, many clients at once, hostile clients that
//! must not stop it serving the others, and peers that are not allowed.

mod detached_common;

use detached_common::*;
use runoci_proto::{Client, Event, ProtoError, Signal};
use runoci_tests::{pid_alive, unique_id, Bundle, Runtime};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Option<Duration> = Some(Duration::from_secs(30));

fn client(sock: &Path) -> Client {
    let c = Client::connect(sock).unwrap_or_else(|e| panic!("connect {}: {e}", sock.display()));
    c.set_timeout(T).unwrap();
    c
}

/// A running container whose init ignores most signals (a shell as PID 1).
fn running(bundle: &mut Bundle, rt: &Runtime, prefix: &str) -> (String, PathBuf, i32) {
    let id = unique_id(prefix);
    set_args(bundle, &forever_args(&id));
    start_ok(rt, bundle, &id, &[]);
    let sock = state_dir(rt, &id).join("monitor.sock");
    (id.clone(), sock, container_pid(rt, &id))
}

/// The state answer, asserted to say running with `pid`.
#[track_caller]
fn assert_serving(sock: &Path, pid: i32, after: &str) {
    let st = client(sock)
        .state()
        .unwrap_or_else(|e| panic!("after {after}: expected the monitor to answer state, got {e}"));
    assert_eq!(st.pid, pid, "after {after}: state {st:?}");
    assert_eq!(st.status.as_str(), "running", "after {after}: state {st:?}");
}

/// Reads until end of stream (or the timeout); returns what came.
fn read_to_close(s: &mut UnixStream) -> (String, bool) {
    s.set_read_timeout(T).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return (String::from_utf8_lossy(&buf).into_owned(), true),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // A reset after our unread input counts as closed.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&buf).into_owned(), true)
            }
            Err(_) => return (String::from_utf8_lossy(&buf).into_owned(), false),
        }
    }
}

#[test]
fn state_stats_kill_wait_and_events_on_a_running_container() {
    let mut bundle = Bundle::new("s-req");
    let rt = Runtime::runoci();
    let (id, sock, pid) = running(&mut bundle, &rt, "s-req");
    let monitor = monitor_pid(&rt, &id);

    let mut c = client(&sock);
    let st = c.state().expect("state");
    assert_eq!(st.id, id, "state {st:?}");
    assert_eq!(
        st.pid, pid,
        "state's pid should be container.pid; state {st:?}"
    );
    assert_eq!(st.status.as_str(), "running", "state {st:?}");
    assert_eq!(st.bundle, bundle.path_str(), "state {st:?}");
    assert!(st.exit.is_none(), "a running container has no exit: {st:?}");
    let stats = c.stats().expect("stats");
    assert!(stats.running && stats.pid == pid, "stats {stats:?}");
    assert!(
        stats.monitor_rss_bytes > 0,
        "expected the monitor's RSS in stats {stats:?}"
    );

    // A waiter and a subscriber, both before the exit.
    let waiter = {
        let c = client(&sock);
        std::thread::spawn(move || c.wait())
    };
    let mut events = client(&sock).events().expect("subscribe");
    match events.next() {
        Some(Ok(Event::Started { pid: p })) => {
            assert_eq!(p, pid, "expected started with the init's pid")
        }
        other => panic!("expected the first event to be started, got {other:?}"),
    }

    // PID 1 without a handler ignores USR1: the kill succeeds, it runs on.
    c.kill(Signal::new(libc::SIGUSR1).unwrap(), false)
        .expect("kill USR1");
    assert!(pid_alive(pid), "expected the init to ignore SIGUSR1");
    assert_eq!(c.state().expect("state").status.as_str(), "running");

    // Every process of the container, through its cgroup.
    c.kill(Signal::KILL, true).expect("kill KILL all");
    let exit = waiter.join().unwrap().expect("wait answers with the exit");
    assert_eq!(
        exit.signal,
        Some(9),
        "wait: expected the exit by SIGKILL, got {exit:?}"
    );
    assert!(
        state_dir(&rt, &id).join("exit-status").exists(),
        "expected wait to answer only once exit-status is written"
    );
    match events.next() {
        Some(Ok(Event::Exited { exit })) => {
            assert_eq!(exit.signal, Some(9), "exited event {exit:?}")
        }
        other => panic!("expected an exited event after the kill, got {other:?}"),
    }
    assert!(
        events.next().is_none(),
        "expected the stream to end after exited"
    );

    // The old connection still answers while the monitor finishes.
    match c.state() {
        Ok(st) => {
            assert_eq!(st.status.as_str(), "stopped", "state after the exit {st:?}");
            assert_eq!(
                st.exit.and_then(|e| e.signal),
                Some(9),
                "state after the exit {st:?}"
            );
            match c.kill(Signal::TERM, false) {
                Err(ProtoError::Remote(e)) => {
                    assert!(e.contains("exited"), "kill after the exit: {e}")
                }
                Err(ProtoError::Closed) | Err(ProtoError::Io(_)) => {}
                other => panic!("expected kill after the exit to fail, got {other:?}"),
            }
        }
        // The monitor may already be gone.
        Err(ProtoError::Closed) | Err(ProtoError::Io(_)) => {}
        Err(e) => panic!("state after the exit: {e}"),
    }
    drop(c);
    wait_monitor_done(&rt, &id, monitor);
    wait_until(
        &format!("{} to be removed after the monitor exits", sock.display()),
        || !sock.exists(),
    );
    match Client::connect(&sock) {
        Err(ProtoError::Io(e))
            if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {}
        Err(e) => panic!("expected ENOENT or ECONNREFUSED connecting after the exit, got {e}"),
        Ok(_) => panic!("expected no monitor to answer after the exit"),
    }
    let st = rt.state(&id);
    assert_eq!(st["status"], "stopped", "runoci state from the files: {st}");
    rt.run(["destroy", &id]).assert_ok();
}

#[test]
fn a_hundred_concurrent_clients_are_all_answered() {
    let mut bundle = Bundle::new("s-100");
    let rt = Runtime::runoci();
    let (id, sock, pid) = running(&mut bundle, &rt, "s-100");
    let barrier = std::sync::Barrier::new(100);
    let results: Vec<Result<i32, String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..100)
            .map(|i| {
                let (sock, barrier) = (&sock, &barrier);
                s.spawn(move || {
                    let mut c = Client::connect(sock).map_err(|e| format!("connect: {e}"))?;
                    c.set_timeout(T).map_err(|e| e.to_string())?;
                    barrier.wait();
                    if i % 2 == 0 {
                        c.state().map(|s| s.pid).map_err(|e| format!("state: {e}"))
                    } else {
                        c.stats().map(|s| s.pid).map_err(|e| format!("stats: {e}"))
                    }
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let bad: Vec<String> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.as_ref() != Ok(&pid))
        .map(|(i, r)| format!("client {i}: {r:?}"))
        .collect();
    assert!(
        bad.is_empty(),
        "expected all 100 clients answered with pid {pid}, {} were not:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert_serving(&sock, pid, "100 clients");
    rt.run(["destroy", "--force", &id]).assert_ok();
}

#[test]
fn garbage_huge_half_written_and_silent_clients_do_not_stop_the_monitor() {
    let mut bundle = Bundle::new("s-bad");
    let rt = Runtime::runoci();
    let (id, sock, pid) = running(&mut bundle, &rt, "s-bad");

    // A client that connects and never writes, and one that writes half a
    // request: both held open for the whole test.
    let silent = UnixStream::connect(&sock).expect("connect silent");
    let mut half = UnixStream::connect(&sock).expect("connect half");
    half.write_all(br#"{"version":1,"requ"#).unwrap();
    assert_serving(&sock, pid, "a silent client and a half-written request");

    // Garbage bytes: an error reply, then the connection is closed.
    let mut g = UnixStream::connect(&sock).expect("connect garbage");
    g.write_all(b"\x00\xff\xfe garbage {{{ \x07\n").unwrap();
    let (text, closed) = read_to_close(&mut g);
    assert!(
        text.contains("\"ok\":false") && text.contains("malformed"),
        "expected a malformed-message error for garbage, got {text:?}"
    );
    assert!(closed, "expected the monitor to close a garbage connection");
    assert_serving(&sock, pid, "garbage bytes");

    // Not a request of this protocol: no version, unknown request.
    for (line, want) in [
        (&b"{\"request\":\"state\"}\n"[..], "version"),
        (
            &b"{\"version\":1,\"request\":\"checkpoint\"}\n"[..],
            "unknown request",
        ),
        (
            &b"{\"version\":2,\"request\":\"state\"}\n"[..],
            "unsupported protocol version",
        ),
    ] {
        let mut s = UnixStream::connect(&sock).expect("connect");
        s.write_all(line).unwrap();
        let (text, closed) = read_to_close(&mut s);
        assert!(
            text.contains(want) && closed,
            "sent {:?}: expected an error containing {want:?} and a close, got {text:?} (closed: {closed})",
            String::from_utf8_lossy(line)
        );
    }

    // A 10 MiB line: refused once it passes the limit, connection closed.
    let mut big = UnixStream::connect(&sock).expect("connect big");
    let mut big_w = big.try_clone().unwrap();
    big_w.set_write_timeout(T).unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..10 {
            // EPIPE/ECONNRESET once the monitor has closed it: expected.
            if big_w.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = big_w.write_all(b"\n");
    });
    let (text, closed) = read_to_close(&mut big);
    writer.join().unwrap();
    assert!(
        text.contains("longer than 65536"),
        "expected the 10 MiB line refused as too long, got {text:?}"
    );
    assert!(
        closed,
        "expected the monitor to close the 10 MiB connection"
    );
    assert_serving(&sock, pid, "a 10 MiB line");

    // The half-written request is still held, unanswered; finishing it
    // gets it answered.
    half.set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(
        half.read(&mut b).is_err(),
        "expected no answer to half a request"
    );
    half.write_all(b"est\":\"state\"}\n").unwrap();
    half.set_read_timeout(T).unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(&half), &mut line).unwrap();
    assert!(
        line.contains("\"ok\":true") && line.contains(&format!("\"pid\":{pid}")),
        "expected the completed request answered, got {line:?}"
    );
    let mut c = client(&sock);
    c.kill(Signal::KILL, false)
        .expect("kill with hostile clients around");
    drop(silent);
    let monitor = monitor_pid(&rt, &id);
    wait_monitor_done(&rt, &id, monitor);
    assert_eq!(exit_status(&rt, &id), 137);
    rt.run(["destroy", &id]).assert_ok();
}

/// Outcome of a peer that connects as uid 65534.
const REFUSED_WITH_ERROR: i32 = 0;
const CLOSED_WITHOUT_REPLY: i32 = 1;
const CONNECT_EACCES: i32 = 10;
const SERVED: i32 = 20;

/// Forks a child that drops to uid/gid 65534 (keeping CAP_DAC_OVERRIDE if
/// `keep_dac`, so that it gets past the socket's mode and meets the
/// monitor's own check), connects, asks for the state and reports what
/// happened as its exit code.
fn connect_as_nobody(sock: &Path, keep_dac: bool) -> i32 {
    use std::os::unix::ffi::OsStrExt;
    // Everything the child needs is made before fork: it only makes
    // system calls.
    // SAFETY: sockaddr_un is plain data.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let path = sock.as_os_str().as_bytes();
    assert!(path.len() < addr.sun_path.len(), "socket path too long");
    for (d, s) in addr.sun_path.iter_mut().zip(path) {
        *d = *s as libc::c_char;
    }
    let req = b"{\"version\":1,\"request\":\"state\"}\n";
    let mut buf = [0u8; 4096];
    // SAFETY: the child only makes async-signal-safe calls and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: raw system calls in the forked child.
        unsafe {
            libc::alarm(20);
            if keep_dac {
                libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0);
            }
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                libc::_exit(30);
            }
            if keep_dac {
                #[repr(C)]
                struct Header {
                    version: u32,
                    pid: i32,
                }
                #[repr(C)]
                #[derive(Clone, Copy)]
                struct Data {
                    effective: u32,
                    permitted: u32,
                    inheritable: u32,
                }
                let mut h = Header {
                    version: 0x2008_0522,
                    pid: 0,
                };
                let mut d = [Data {
                    effective: 0,
                    permitted: 0,
                    inheritable: 0,
                }; 2];
                if libc::syscall(libc::SYS_capget, &mut h as *mut Header, d.as_mut_ptr()) != 0 {
                    libc::_exit(31);
                }
                let dac = 1u32 << 1; // CAP_DAC_OVERRIDE
                if d[0].permitted & dac == 0 {
                    libc::_exit(32);
                }
                d[0].effective = dac;
                d[1].effective = 0;
                if libc::syscall(libc::SYS_capset, &mut h as *mut Header, d.as_ptr()) != 0 {
                    libc::_exit(33);
                }
            }
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                libc::_exit(34);
            }
            let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
            if libc::connect(fd, &addr as *const _ as *const libc::sockaddr, len) != 0 {
                let errno = *libc::__errno_location();
                libc::_exit(if errno == libc::EACCES || errno == libc::EPERM {
                    CONNECT_EACCES
                } else {
                    35
                });
            }
            // The write may fail if the monitor already hung up.
            libc::write(fd, req.as_ptr().cast(), req.len());
            let mut got = 0usize;
            loop {
                let n = libc::read(fd, buf.as_mut_ptr().add(got).cast(), buf.len() - got);
                if n <= 0 {
                    break;
                }
                got += n as usize;
                if buf[..got].contains(&b'\n') || got == buf.len() {
                    break;
                }
            }
            let text = &buf[..got];
            let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
            let code = if got == 0 {
                CLOSED_WITHOUT_REPLY
            } else if has(b"\"ok\":false") && has(b"permission denied") {
                REFUSED_WITH_ERROR
            } else if has(b"\"ok\":true") {
                SERVED
            } else {
                36
            };
            libc::_exit(code);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child (it has an alarm: it ends).
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid, "waitpid");
    assert!(
        libc::WIFEXITED(status),
        "the uid 65534 peer did not exit normally (status {status:#x})"
    );
    libc::WEXITSTATUS(status)
}

#[test]
fn a_non_root_peer_is_refused() {
    let mut bundle = Bundle::new("s-peer");
    let rt = Runtime::runoci();
    let (id, sock, pid) = running(&mut bundle, &rt, "s-peer");

    // Plainly: the socket's mode (0600, root) or the monitor refuses.
    let code = connect_as_nobody(&sock, false);
    assert!(
        [REFUSED_WITH_ERROR, CLOSED_WITHOUT_REPLY, CONNECT_EACCES].contains(&code),
        "expected uid 65534 refused (connect EACCES, an error reply, or a close), child reported {code}"
    );
    // Past the file mode (CAP_DAC_OVERRIDE kept): the monitor's own
    // SO_PEERCRED check must refuse it.
    let code = connect_as_nobody(&sock, true);
    assert!(
        [REFUSED_WITH_ERROR, CLOSED_WITHOUT_REPLY].contains(&code),
        "expected the monitor to refuse uid 65534 (an error reply or a close), child reported {code} \
         (20: it was served, 10: connect was refused by the file mode, 3x: setup failed)"
    );
    assert_serving(&sock, pid, "refusing a non-root peer");
    rt.run(["destroy", "--force", &id]).assert_ok();
}

/// While the monitor runs a slow poststop hook, `runoci state` does not
/// queue behind it: the socket is gone, and the files already say stopped
/// with the exit status.
#[test]
fn state_answers_while_poststop_runs() {
    let mut bundle = Bundle::new("d-slowpost");
    let rt = Runtime::runoci();
    let hook = add_blocking_poststop(&mut bundle);
    let (id, sock, _pid) = running(&mut bundle, &rt, "d-slowpost");
    let monitor = monitor_pid(&rt, &id);
    rt.run(["kill", "-S", "KILL", &id]).assert_ok();
    wait_until("the poststop hook to start", || hook.started.exists());

    assert!(
        !sock.exists(),
        "expected monitor.sock removed before poststop"
    );
    let st = rt.run(["state", &id]);
    st.assert_ok();
    assert!(
        st.elapsed < Duration::from_secs(10),
        "state waited for the hook: {st}"
    );
    assert_eq!(st.json()["status"], "stopped", "{st}");
    assert_eq!(st.json()["exit"]["signal"], 9, "{st}");
    assert!(pid_alive(monitor), "expected the monitor still in poststop");

    hook.release();
    wait_monitor_done(&rt, &id, monitor);
    assert_eq!(hook_runs(&hook.log), 1, "poststop runs");
    rt.run(["destroy", &id]).assert_ok();
}

/// The children of `pid` (from /proc/PID/task/PID/children).
fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn kill_all_over_the_socket_signals_every_process_of_the_cgroup() {
    let mut bundle = Bundle::new("s-killall");
    let rt = Runtime::runoci();
    let id = unique_id("s-killall");
    // PID 1 without a handler ignores SIGUSR1; its child does not.
    bundle.set_args(&["sh", "-c", "sleep 1000 & exec sleep 1001"]);
    start_ok(&rt, &bundle, &id, &[]);
    let pid = container_pid(&rt, &id);
    let mut child = None;
    wait_until("the init's background sleep to run", || {
        child = children(pid).first().copied();
        child.is_some()
    });
    let child = child.unwrap();
    let sock = state_dir(&rt, &id).join("monitor.sock");
    // Only the init: the child is not signalled.
    client(&sock)
        .kill(Signal::new(libc::SIGUSR1).unwrap(), false)
        .expect("kill USR1");
    assert_serving(&sock, pid, "kill USR1 to the init");
    assert!(
        pid_alive(child),
        "a kill of the init alone reached its child"
    );
    // All: through the container's cgroup, the child too.
    client(&sock)
        .kill(Signal::new(libc::SIGUSR1).unwrap(), true)
        .expect("kill USR1 all");
    wait_until("the child to die of SIGUSR1 sent to all", || {
        !pid_alive(child)
    });
    assert!(pid_alive(pid), "PID 1 ignores SIGUSR1");
    assert_serving(&sock, pid, "kill USR1 to all");
}
