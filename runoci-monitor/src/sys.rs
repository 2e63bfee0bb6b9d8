//! The few system calls the monitor makes, wrapped where libc is raw.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// What std's runtime does before a Rust `main` and the monitor relies on
/// (its `main` is the C one, see main.rs): fds 0-2 open, on /dev/null if
/// they were not, so that no socket or pidfd the monitor gets becomes its
/// stderr; SIGPIPE ignored, so that a client that hangs up makes a write
/// fail with EPIPE instead of killing the monitor (std's spawn still gives
/// the hooks the default disposition).
pub fn process_setup() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only reads the fd's flags; any integer is safe to ask.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
        {
            // SAFETY: a constant C string; the new fd is the lowest free
            // one, `fd`, kept open for the process's life.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
    // SAFETY: SIG_IGN installs no handler code.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Take ownership of an fd inherited across execve, after checking that it
/// is open, and mark it close-on-exec so that the hooks `container_exited`
/// runs do not inherit the monitor's socket or pidfd.
pub fn adopt_fd(fd: RawFd, what: &str) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::other(format!("{what}: fd {fd} is negative")));
    }
    // SAFETY: F_GETFD only reads the fd's flags; any integer is safe to ask.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: fd {fd}: {e}")));
    }
    // SAFETY: setting FD_CLOEXEC on an open fd has no other effect.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the fd is open (F_GETFD succeeded) and was handed to this
    // process on its command line for it alone: nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The pid a pidfd refers to, from /proc/self/fdinfo (-1 once reaped).
pub fn pidfd_pid(pidfd: BorrowedFd<'_>) -> io::Result<i32> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd()))?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| io::Error::other("not a pidfd (no Pid: in its fdinfo)"))
}

/// Whether the process behind `pidfd` is this process's child, without
/// reaping it (WNOWAIT). ECHILD means it is not.
pub fn is_our_child(pidfd: BorrowedFd<'_>) -> io::Result<bool> {
    // SAFETY: siginfo_t is plain data; all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid writes only into `info`, which outlives the call.
    let ret = unsafe {
        libc::waitid(
            libc::P_PIDFD,
            pidfd.as_raw_fd() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    match ret {
        0 => Ok(true),
        _ if io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) => Ok(false),
        _ => Err(io::Error::last_os_error()),
    }
}

/// How a reaped child ended.
pub enum Reaped {
    Exited(i32),
    Signaled(i32),
}

/// Reap one exited child, if any: `Ok(None)` when none is left to reap
/// right now (or there are no children at all).
pub fn reap_one() -> io::Result<Option<(i32, Reaped)>> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only `status`.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            let how = if libc::WIFSIGNALED(status) {
                Reaped::Signaled(libc::WTERMSIG(status))
            } else {
                Reaped::Exited(libc::WEXITSTATUS(status))
            };
            return Ok(Some((pid, how)));
        }
        if pid == 0 {
            return Ok(None);
        }
        match io::Error::last_os_error() {
            e if e.raw_os_error() == Some(libc::EINTR) => continue,
            e if e.raw_os_error() == Some(libc::ECHILD) => return Ok(None),
            e => return Err(e),
        }
    }
}

/// The uid of the process at the other end of a connected Unix socket, as
/// it was when it connected.
pub fn peer_uid(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `cred`.
    let ret = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    check(ret.into()).map(|_| cred.uid)
}

/// Whether `fd` is a socket in the listening state.
pub fn is_listening_socket(fd: BorrowedFd<'_>) -> bool {
    let mut val: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `val`.
    let ret = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut val as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    ret == 0 && val != 0
}

/// Become a child subreaper: orphaned container processes are reparented
/// to the monitor, which reaps them.
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument.
    let ret = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };
    check(ret.into()).map(drop)
}

pub fn geteuid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// Read and discard what an eventfd (or any notification fd) holds.
/// Returns whether anything was read.
pub fn drain(fd: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 64];
    let mut any = false;
    loop {
        // SAFETY: read writes at most buf.len() bytes into buf.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            any = true;
            continue;
        }
        if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return any;
    }
}

pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL only change the file status flags.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) };
    check(ret.into()).map(drop)
}

/// CPU time (user, system) in microseconds and resident bytes of `pid`
/// (`"self"` for the monitor), from /proc. Zeros when it is gone.
pub fn proc_usage(pid: &str) -> (u64, u64, u64) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let kb = s.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
            kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024);
    let (user, sys) = runoci_core::procfs::read_stat(pid).map_or((0, 0), |st| (st.utime, st.stime));
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    (user * 1_000_000 / hz, sys * 1_000_000 / hz, rss)
}

/// An inotify fd that becomes readable when `path` is modified (cgroup v2
/// event files such as memory.events notify this way).
pub fn inotify_modify(path: &std::path::Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: inotify_init1 returns a new fd or -1.
    let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: valid fd and C string.
    if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), libc::IN_MODIFY) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// The `oom_kill N` count of a cgroup v2 memory.events file (0 if unreadable).
pub fn oom_kill_count(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| runoci_core::cgroups::parse_oom_kill(&t))
        .unwrap_or(0)
}

/// Drop the page table entries of `len` bytes at `addr`, a whole clean,
/// read-only, file-backed private mapping of ours (`trim` checks that):
/// later accesses refault the same file data.
pub fn drop_clean_pages(addr: usize, len: usize) {
    // SAFETY: on such a mapping DONTNEED changes no content, only what is
    // resident; nothing holds a reference the kernel could invalidate.
    unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_DONTNEED) };
}

/// Drop the main thread's stack pages from `stack_lo` (the bottom of its
/// mapping) up to the page under this function's frame: what start-up's
/// deepest calls dirtied and the idle loop never reaches again.
#[inline(never)]
pub fn drop_stack_below_caller(stack_lo: usize) {
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    // Kept: this frame's page and room below it for the calls made from
    // here (madvise's return address; libc's wrapper is a bare syscall).
    let end = here.saturating_sub(256) & !(page - 1);
    if end > stack_lo {
        // SAFETY: nothing below the stack pointer is live: this thread is
        // the only one on this stack, no signal handler runs on it (SIGCHLD
        // comes through a signalfd), and its next use of those pages gets
        // zeroed ones from the kernel, as a stack that grows anew does.
        unsafe {
            libc::madvise(
                stack_lo as *mut libc::c_void,
                end - stack_lo,
                libc::MADV_DONTNEED,
            )
        };
    }
}

/// Give the heap's free pages back to the kernel (glibc keeps them
/// otherwise: a monitor's start-up garbage would stay resident for life).
pub fn release_free_heap() {
    // SAFETY: malloc_trim only returns free memory; it takes no pointer.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn oom_kill_count_reads_memory_events_and_is_zero_when_unreadable() {
        let dir = std::env::temp_dir().join(format!("runoci-sys-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("memory.events");
        std::fs::write(&file, "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n").unwrap();
        let count = super::oom_kill_count(&file);
        let missing = super::oom_kill_count(&dir.join("absent"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((count, missing), (1, 0));
    }

    #[test]
    fn proc_usage_of_self_has_memory_and_of_no_process_is_zero() {
        let (_, _, rss) = super::proc_usage("self");
        assert!(rss > 0);
        assert_eq!(super::proc_usage(&i32::MAX.to_string()), (0, 0, 0));
    }
}
