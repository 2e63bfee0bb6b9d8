//! `exec`: a new process in a running container. The parent enters the
//! container's pid namespace for the clone (`namespaces::clone_child`, as
//! for the init); the child joins the other namespaces of the container's
//! init (user first), its cgroups are the container's, and the process is
//! set up by the init's own steps (`child::exec_steps`).

use crate::child::{run_steps, Ctx, Mode};
use crate::error::{Context, Error, Result};
use crate::namespaces;
use crate::spec::{Process, Spec};
use crate::sync::{self, ChildChannel, ParentChannel, ToChild, ToParent};
use nix::sched::CloneFlags;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

pub struct ExecRequest {
    pub id: String,
    /// The container's init, whose namespaces the process joins.
    pub init: runoci_core::state::ProcessRef,
    pub spec: Spec,
    pub process: Process,
    pub cgroup: Option<runoci_core::cgroups::Cgroup>,
    /// `--cgroup`: where in `cgroup` the process goes.
    pub sub_cgroups: runoci_core::cgroups::ExecSubCgroups,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
    /// The container's session keyring to join; none when it was created
    /// with `--no-new-keyring`.
    pub session_keyring: Option<String>,
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
        let p = format!("/proc/{}/ns/{name}", req.init.pid);
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
    // Checked after the opens, not before: a pid that was reused since
    // the record was read would have given another process's namespaces.
    if !runoci_core::procfs::same_process(req.init.pid, req.init.start_time) {
        return Err(Error::new(format!(
            "container {} is not running (its init, pid {}, is gone)",
            req.id, req.init.pid
        )));
    }
    Ok(j)
}

pub struct Spawned {
    pub pid: i32,
    pub pidfd: OwnedFd,
}

/// Start the process; returns once it exec'd.
pub fn spawn(req: &ExecRequest) -> Result<Spawned> {
    let in_sub = req.sub_cgroups != runoci_core::cgroups::ExecSubCgroups::default();
    if in_sub && req.cgroup.is_none() {
        return Err(Error::new(
            "--cgroup: the container has no cgroup (it runs without one)",
        ));
    }
    let joins = open_joins(req)?;
    let (parent, child) = sync::pair()?;
    // Not dumpable from before the clone (CVE-2019-5736): the child appears
    // in the container's /proc the moment it exists, before it could make
    // itself non-dumpable; the flag is copied by clone, so there is no
    // window in which a container process may open /proc/PID/exe (the
    // runoci binary) or its fds. This process never becomes the
    // container's; it has no use for being dumpable.
    crate::child::set_non_dumpable();
    let parent_fd = parent.raw_fd();
    let pid_ns = joins.pid.as_ref().map(|fd| (fd, "of the container"));
    // As the init does (`cgroups::join`): born in the cgroup2 directory,
    // writing itself into the v1 ones, instead of the runtime writing its
    // pid to every `cgroup.procs` (a global lock that waits for an RCU
    // grace period on a busy host). Not into sub-cgroups (`--cgroup`), nor
    // with execCPUAffinity, whose two masks go around the runtime's move.
    let self_join = req
        .cgroup
        .as_ref()
        .filter(|_| !in_sub && req.process.exec_cpu_affinity.is_none());
    let (pid, joined) = namespaces::clone_joining_cgroup(
        CloneFlags::empty(),
        pid_ns,
        self_join,
        "the exec process",
        move |tasks| {
            // The child's copy of the parent's end (never dropped here:
            // the child does not return).
            let _ = nix::unistd::close(parent_fd);
            if !child.join_cgroups(tasks) {
                runoci_core::sys::process::exit_now(127)
            }
            child_main(req, &joins.others, child)
        },
    )?;
    let pidfd = runoci_core::pidfd::open(pid).ctx("pidfd_open of the exec process")?;
    let result = (|| -> Result<()> {
        // The child waits for Start: both affinities are set around its
        // move into the cgroups, in the order the spec gives them.
        set_exec_cpu_affinity(pid, &req.process, "initial")?;
        match &req.cgroup {
            Some(cg) if in_sub => cg.add_pid_to_sub(pid, &req.sub_cgroups)?,
            Some(cg) => joined.finish(&parent, cg, pid)?,
            None => {}
        }
        set_exec_cpu_affinity(pid, &req.process, "final")?;
        parent.send(&ToChild::Start { host_pid: pid })?;
        drive(req, &parent)
    })();
    if let Err(e) = result {
        let _ = runoci_core::pidfd::send_signal(&pidfd, libc::SIGKILL);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        return Err(e);
    }
    Ok(Spawned { pid, pidfd })
}

/// `process.execCPUAffinity` (spec 1.2; for exec'd processes, not the
/// init): `initial` before the process joins the container's cgroups,
/// `final` right after (a cpuset cgroup resets the affinity on the move).
/// Set by the parent, as runc does, because the parent moves the process.
/// An absent or empty list leaves the affinity as it is.
fn set_exec_cpu_affinity(pid: i32, process: &Process, which: &str) -> Result<()> {
    let Some(affinity) = &process.exec_cpu_affinity else {
        return Ok(());
    };
    let list = match which {
        "initial" => affinity.initial.as_deref(),
        _ => affinity.final_.as_deref(),
    };
    let Some(list) = list.filter(|l| !l.trim().is_empty()) else {
        return Ok(());
    };
    let field = format!("process.execCPUAffinity.{which}");
    // Validated at load; parsed again here, by the same parser.
    let mask =
        crate::spec::attrs::parse_id_list(list).map_err(|e| Error::new(format!("{field}: {e}")))?;
    crate::sys::sched::set_affinity(pid, &mask).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EINVAL) {
            " (none of these CPUs is online or in the container's cpuset)"
        } else {
            ""
        };
        Error::new(format!("{field}: sched_setaffinity {list:?}: {e}{hint}"))
    })
}

fn drive(req: &ExecRequest, chan: &ParentChannel) -> Result<()> {
    loop {
        match chan.recv()? {
            Some((ToParent::ConsoleMaster, fds)) => {
                let (Some(master), Some(sock)) = (fds.first(), &req.console_socket) else {
                    return Err(Error::new("console master expected with its fd"));
                };
                crate::console::send_master(sock, master)?;
            }
            Some((ToParent::Ready, _)) => {}
            Some((ToParent::Error(e), _)) => return Err(Error::new(e)),
            Some((other, _)) => {
                return Err(Error::new(format!("exec channel: unexpected {other:?}")))
            }
            None => return Ok(()),
        }
    }
}

fn child_main(req: &ExecRequest, joins: &[(CloneFlags, OwnedFd, String)], chan: ChildChannel) -> ! {
    // Not dumpable until execve (CVE-2019-5736: the container must not
    // reach our /proc/PID/exe).
    let _ = nix::sys::prctl::set_dumpable(false);
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    let p = &req.process;
    let mut ctx = Ctx::new(
        &req.spec,
        p,
        &chan,
        p.args.clone(),
        req.preserve_fds,
        req.console_socket.is_some(),
        Mode::Exec(joins),
    );
    ctx.session_keyring = req.session_keyring.clone();
    let err = match run_steps(crate::child::exec_steps(), &mut ctx) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = chan.send(&ToParent::Error(err.to_string()));
    // Leave without running destructors of the parent's state.
    runoci_core::sys::process::exit_now(127)
}
