//! `exec`: a new process in a running container. The parent enters the
//! container's pid namespace for the clone; the child joins the other
//! namespaces of the container's init (user first), its cgroups are the
//! container's, and the process is set up as the init's was: rlimits,
//! user, capabilities, no_new_privs, environment.

use crate::error::{Context, Error, Result};
use crate::spec::{Process, Spec};
use crate::sync::{self, Channel, Message};
use nix::sched::CloneFlags;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct ExecRequest {
    pub id: String,
    pub init_pid: i32,
    pub spec: Spec,
    pub process: Process,
    pub cgroup: Option<crate::cgroups::Cgroup>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
}

/// Namespaces of the init to join, in an order the kernel accepts: user
/// first (it owns the others), mount last but one so paths of the others
/// still resolve through the host's /proc, pid for children only.
const ORDER: &[(&str, &str)] = &[
    ("user", "user"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("network", "net"),
    ("cgroup", "cgroup"),
    ("time", "time"),
    ("mount", "mnt"),
];

struct Joins {
    pid: Option<OwnedFd>,
    others: Vec<(CloneFlags, OwnedFd, String)>,
}

fn open_joins(req: &ExecRequest) -> Result<Joins> {
    let listed: Vec<&str> = req
        .spec
        .linux
        .as_ref()
        .map(|l| l.namespaces.iter().map(|n| n.typ.as_str()).collect())
        .unwrap_or_default();
    let own = |name: &str| std::fs::read_link(format!("/proc/self/ns/{name}")).ok();
    let open = |name: &str| -> Result<Option<OwnedFd>> {
        let p = format!("/proc/{}/ns/{name}", req.init_pid);
        // Same namespace as ours (host): nothing to join.
        if std::fs::read_link(&p).ok() == own(name) {
            return Ok(None);
        }
        let f = std::fs::File::open(&p).with_ctx(|| format!("open {p}"))?;
        Ok(Some(f.into()))
    };
    let mut j = Joins {
        pid: None,
        others: Vec::new(),
    };
    if listed.contains(&"pid") {
        j.pid = open("pid")?;
    }
    for (typ, name) in ORDER {
        if !listed.contains(typ) {
            continue;
        }
        if let Some(fd) = open(name)? {
            let flag = crate::spec::namespace_flag(typ).unwrap_or(CloneFlags::empty());
            j.others.push((flag, fd, name.to_string()));
        }
    }
    Ok(j)
}

pub struct Spawned {
    pub pid: i32,
    pub pidfd: OwnedFd,
}

/// Start the process; returns once it exec'd.
pub fn spawn(req: &ExecRequest) -> Result<Spawned> {
    let joins = open_joins(req)?;
    let (parent, child) = sync::pair()?;
    // Not dumpable from before the clone (CVE-2019-5736): the child appears
    // in the container's /proc the moment it exists, before it could make
    // itself non-dumpable; the flag is copied by clone, so there is no
    // window in which a container process may open /proc/PID/exe (the
    // runoci binary) or its fds. This process never becomes the
    // container's; it has no use for being dumpable.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let restore = match &joins.pid {
        Some(fd) => {
            let own = std::fs::File::open("/proc/self/ns/pid").ctx("open own pid namespace")?;
            nix::sched::setns(fd, CloneFlags::CLONE_NEWPID)
                .ctx("enter the container's pid namespace")?;
            Some(own)
        }
        None => None,
    };
    // SAFETY: fork semantics (no new stack); single-threaded; the child
    // never returns from child_main.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid == 0 {
        drop(parent);
        child_main(req, &joins, child);
    }
    let err = std::io::Error::last_os_error();
    if let Some(own) = restore {
        let _ = nix::sched::setns(&own, CloneFlags::CLONE_NEWPID);
    }
    if pid < 0 {
        return Err(Error::from(err).context("clone the exec process"));
    }
    drop(child);
    let pid = pid as i32;
    let pidfd = crate::pidfd::open(pid).ctx("pidfd_open of the exec process")?;
    let result = (|| -> Result<()> {
        if let Some(cg) = &req.cgroup {
            cg.add_pid(pid)?;
        }
        parent.send(&Message::Start { host_pid: pid })?;
        drive(req, &parent)
    })();
    if let Err(e) = result {
        let _ = crate::pidfd::send_signal(&pidfd, libc::SIGKILL);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        return Err(e);
    }
    Ok(Spawned { pid, pidfd })
}

fn drive(req: &ExecRequest, chan: &Channel) -> Result<()> {
    loop {
        match chan.recv()? {
            Some((Message::ConsoleMaster, fds)) => {
                let (Some(master), Some(sock)) = (fds.first(), &req.console_socket) else {
                    return Err(Error::new("console master expected with its fd"));
                };
                crate::console::send_master(sock, master)?;
            }
            Some((Message::Ready, _)) => {}
            Some((Message::Error(e), _)) => return Err(Error::new(e)),
            Some((other, _)) => {
                return Err(Error::new(format!("exec channel: unexpected {other:?}")))
            }
            None => return Ok(()),
        }
    }
}

fn child_main(req: &ExecRequest, joins: &Joins, chan: Channel) -> ! {
    // SAFETY: prctl with integer arguments; not dumpable until execve
    // (CVE-2019-5736: the container must not reach our /proc/PID/exe).
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
    }
    let err = match child_setup(req, joins, &chan) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = chan.send(&Message::Error(err.to_string()));
    // SAFETY: leave without running destructors of the parent's state.
    unsafe { libc::_exit(127) }
}

enum Never {}

fn child_setup(req: &ExecRequest, joins: &Joins, chan: &Channel) -> Result<Never> {
    match chan.recv()? {
        Some((Message::Start { .. }, _)) => {}
        _ => return Err(Error::new("exec channel: expected Start")),
    }
    for (flag, fd, name) in &joins.others {
        nix::sched::setns(fd, *flag)
            .with_ctx(|| format!("join the container's {name} namespace"))?;
    }
    let p = &req.process;
    crate::init::refuse_fd_cwd(&p.cwd)?;
    nix::unistd::chdir(Path::new(&p.cwd)).with_ctx(|| format!("chdir to cwd {}", p.cwd))?;
    let cwd = nix::unistd::getcwd().ctx("getcwd")?;
    if cwd.to_string_lossy().contains("(unreachable)") {
        return Err(Error::new(format!(
            "cwd {}: resolves outside the container",
            p.cwd
        )));
    }
    crate::process::set_rlimits(p)?;
    crate::init::set_selinux_label(p.selinux_label.as_deref())?;
    crate::init::set_apparmor_profile(p.apparmor_profile.as_deref())?;
    let program =
        crate::process::find_program(p.args.first().map(String::as_str).unwrap_or(""), &p.env)?;
    if p.terminal && req.console_socket.is_some() {
        let (master, slave) = crate::console::open_pty()?;
        crate::console::set_size(&master, p.console_size);
        chan.send_with_fds(&Message::ConsoleMaster, &[master.as_raw_fd()])?;
        drop(master);
        nix::unistd::setsid().ctx("setsid")?;
        // SAFETY: TIOCSCTTY on our pty slave.
        if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
            return Err(Error::from(std::io::Error::last_os_error()).context("TIOCSCTTY"));
        }
        for fd in 0..3 {
            nix::unistd::dup2(slave.as_raw_fd(), fd).ctx("dup2 the pty onto stdio")?;
        }
    }
    let listener = crate::seccomp::drop_privileges_with_filter(
        req.spec.linux.as_ref().and_then(|l| l.seccomp.as_ref()),
        p,
    )?;
    // The container's listener already has the init's notifications; an
    // exec'd process's filter gets its own listener, which nobody asked
    // for: close it.
    drop(listener);
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(req.spec.umask() as libc::mode_t) };
    crate::process::close_fds_on_exec(req.preserve_fds)?;
    crate::init::reset_signals();
    unsafe_pdeath_clear();
    Err(crate::process::exec(&program, &p.args, &p.env))
}

fn unsafe_pdeath_clear() {
    // SAFETY: prctl with integer arguments. A detached exec outlives us.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
}
