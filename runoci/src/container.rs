//! Creating a container, from the parent's side: one path for `run`, the
//! detached `start`, runc's `create` and (later) `exec`.
//!
//! The parent clones the child into its new namespaces, writes its id maps,
//! places it in its cgroups, answers its requests to run hooks in the
//! runtime namespace, and learns that the program exec'd when the creation
//! channel (close-on-exec) reaches EOF.

use crate::child::{child_main, ChildArgs};
use crate::error::{Context, Error, Result};
use crate::namespaces::{self, Plan};
use crate::options::ContainerOptions;
use crate::rootfs;
use crate::spec::{IdMapping, Spec};
use crate::sync::{self, ParentChannel, ParentHooks, ToChild, ToParent};
use nix::sched::CloneFlags;
use runoci_core::cgroups;
use runoci_core::hooks::HookState;
use runoci_core::hooks::Stage;
use runoci_proto::{State, Status};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// A container whose init exists: exec'd, or waiting on the exec FIFO.
pub struct Created {
    pub pid: i32,
    /// A pidfd of the init: signals and waits cannot hit a recycled pid.
    pub pidfd: OwnedFd,
    pub cgroup: Option<cgroups::Cgroup>,
    /// `--systemd-cgroup`: the scope holding the cgroup.
    pub systemd_unit: Option<runoci_core::state::SystemdUnit>,
    /// The resctrl group of `linux.intelRdt`, when one was joined.
    pub resctrl: Option<runoci_core::resctrl::ResctrlRecord>,
    pub hook_state: HookState,
    /// `--no-new-keyring`: recorded for `exec`.
    pub no_new_keyring: bool,
    /// run_oci's `-b A:B` bind mounts: recorded for `checkpoint`.
    pub binds: Vec<(PathBuf, String)>,
}

impl Created {
    /// Records the container in `sd` as now `status`: runtime.json (the
    /// init and `monitor_pid`, the process that waits for it — 0 when
    /// none does yet, as after runc's `create` — with their start times,
    /// the cgroups, the poststop hooks as created and the `poststart`
    /// hooks still to run), state.json and container.pid.
    pub fn record(
        &self,
        sd: &runoci_core::state::StateDir,
        status: Status,
        monitor_pid: i32,
        poststop: &[crate::spec::Hook],
        poststart: &[crate::spec::Hook],
    ) -> Result<()> {
        use runoci_core::state;
        sd.write_record(&state::RuntimeRecord {
            pid: self.pid,
            pid_start_time: runoci_core::procfs::pid_start_time(self.pid).unwrap_or(0),
            monitor_pid,
            monitor_start_time: runoci_core::procfs::pid_start_time(monitor_pid).unwrap_or(0),
            cgroup: self.cgroup.as_ref().map(|c| c.to_record()),
            resctrl: self.resctrl.clone(),
            systemd_unit: self.systemd_unit.clone(),
            owner_uid: nix::unistd::getuid().as_raw(),
            poststop: poststop.to_vec(),
            poststart: poststart.to_vec(),
            // Recorded: no creation in progress any more.
            creator: None,
            no_new_keyring: self.no_new_keyring,
            binds: self
                .binds
                .iter()
                .map(|(src, dst)| (src.display().to_string(), dst.clone()))
                .collect(),
        })?;
        sd.write_state(&self.state_document(status))?;
        sd.write_atomic(state::PID_FILE, format!("{}\n", self.pid).as_bytes())
    }

    /// The state document to record for a container now in `status`.
    pub fn state_document(&self, status: Status) -> State {
        let mut st = self.hook_state.state().clone();
        st.status = status;
        st.created = crate::log::rfc3339_now();
        st.owner = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_default();
        st
    }

    /// Kill and reap the init and remove its cgroups: the failure path.
    pub fn abandon(self) {
        kill_and_reap(self.pid, &self.pidfd);
        if let Some(cg) = &self.cgroup {
            let _ = cg.destroy();
        }
        if let Some(unit) = &self.systemd_unit {
            let _ = crate::systemd::stop(unit);
        }
        if let Some(rdt) = &self.resctrl {
            let _ = runoci_core::resctrl::remove(rdt);
        }
    }
}

fn kill_and_reap(pid: i32, pidfd: &OwnedFd) {
    let _ = runoci_core::pidfd::send_signal(pidfd, libc::SIGKILL);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
}

fn id_maps(spec: &Spec, opts: &ContainerOptions) -> (Vec<IdMapping>, Vec<IdMapping>) {
    if opts.use_current_user {
        let one = |id: u32| {
            vec![IdMapping {
                container_id: 0,
                host_id: id,
                size: 1,
            }]
        };
        return (
            one(nix::unistd::getuid().as_raw()),
            one(nix::unistd::getgid().as_raw()),
        );
    }
    let l = spec.linux.clone().unwrap_or_default();
    (l.uid_mappings, l.gid_mappings)
}

/// Create the container: on success its init exists and (without an exec
/// FIFO) runs the program; on error nothing of it is left.
pub fn create(spec: &Spec, opts: &ContainerOptions) -> Result<Created> {
    let t = crate::log::timer();
    let rootfs = rootfs::rootfs_path(spec, &opts.bundle)?;
    crate::debug!("container {}: rootfs {}", opts.id, rootfs.display());
    let mut ns = namespaces::plan(spec)?;
    if opts.use_current_user {
        ns.clone_flags |= CloneFlags::CLONE_NEWUSER;
    }
    crate::debug!(
        "container {}: namespaces: new {:?}, join [{}], cgroup ns {}, time ns {}",
        opts.id,
        ns.clone_flags,
        ns.joins
            .iter()
            .map(|j| j.path.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        ns.unshare_cgroup,
        ns.unshare_time
    );
    if spec.hostname.is_some()
        && !ns.clone_flags.contains(CloneFlags::CLONE_NEWUTS)
        && ns.join_of(CloneFlags::CLONE_NEWUTS).is_none()
    {
        return Err(Error::new(
            "hostname: set but the container has no uts namespace; add {\"type\": \"uts\"} to linux.namespaces",
        ));
    }
    if !ns.has_mount() {
        namespaces::check_mount_needed(spec, !opts.bind_mounts.is_empty())?;
    }
    crate::child::lsm::warn_ignored_mount_label(
        &opts.id,
        spec.linux.as_ref().and_then(|l| l.mount_label.as_deref()),
    );
    if let Some(h) = &spec.hooks {
        let pre = opts.hook_state(spec, 0);
        runoci_core::hooks::run_stage(Stage::Precreate, &h.precreate, &pre.json(Status::Creating))?;
    }
    if spec
        .mounts
        .iter()
        .any(|m| m.perform_in_intermediate_namespace)
    {
        enter_intermediate_namespace(spec, opts, &rootfs)?;
    }

    let tc = crate::log::timer();
    // With systemd the cgroup is the init's scope, made once it exists.
    let scope = crate::systemd::ScopePlan::for_container(spec, opts)?;
    let cgroup = match scope {
        Some(_) => None,
        None => crate::cgroup_setup::setup_cgroup(spec, opts)?,
    };
    crate::debug!(
        "container {}: cgroup {}{}",
        opts.id,
        cgroup.as_ref().map_or(String::new(), |c| c
            .to_record()
            .hierarchies
            .iter()
            .map(|h| h.dir.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")),
        crate::log::elapsed(tc)
    );
    if let (Some(dir), Some(cg)) = (&opts.state_dir, &cgroup) {
        let noted = runoci_core::state::StateDir::open_dir(dir)
            .update_record(|r| r.cgroup = Some(cg.to_record()));
        if let Err(e) = noted {
            let _ = cg.destroy();
            return Err(e);
        }
    }
    let rootfs_shown = rootfs.display().to_string();
    let result = spawn(spec, opts, &ns, rootfs, cgroup.as_ref(), scope.as_ref());
    match result {
        Ok(Spawned {
            pid,
            pidfd,
            chan,
            resctrl,
            scoped,
        }) => {
            let cgroup = cgroup.or(scoped);
            crate::debug!("container {}: init cloned, pid {pid}", opts.id);
            let mut hook_state = opts.hook_state(spec, pid);
            hook_state.set_rootfs(rootfs_shown);
            let created = Created {
                pid,
                pidfd,
                cgroup,
                systemd_unit: scope.map(|s| s.unit),
                resctrl,
                hook_state,
                no_new_keyring: !opts.new_session_keyring,
                binds: opts.bind_mounts.clone(),
            };
            match drive_child(spec, opts, &created, &chan) {
                Ok(()) => {
                    crate::debug!("container {}: created{}", opts.id, crate::log::elapsed(t));
                    Ok(created)
                }
                Err(e) => {
                    // The container existed (it had a pid): as the
                    // reference, its poststop hooks run once it is gone.
                    // With a record, only if the hooks had started, and
                    // once, whoever else (destroy) ends the container.
                    let stopped = created.hook_state.json(Status::Stopped);
                    created.abandon();
                    let poststop = spec.hooks.as_ref().map(|h| h.poststop.as_slice());
                    match (&opts.state_dir, poststop) {
                        (Some(dir), Some(hooks)) => runoci_core::lifecycle::poststop_once(
                            &runoci_core::state::StateDir::open_dir(dir),
                            hooks,
                        ),
                        (None, Some(hooks)) => {
                            runoci_core::hooks::run_poststop(&opts.id, hooks, &stopped);
                        }
                        (_, None) => {}
                    }
                    Err(e)
                }
            }
        }
        Err(e) => {
            if let Some(cg) = &cgroup {
                let _ = cg.destroy();
            }
            Err(e)
        }
    }
}

/// run_oci's performInIntermediateNamespace: the runtime itself moves to a
/// mount namespace of its own and mounts those entries there; the child,
/// cloned from it, inherits them; the host never sees them.
fn enter_intermediate_namespace(
    spec: &Spec,
    opts: &ContainerOptions,
    rootfs: &std::path::Path,
) -> Result<()> {
    nix::sched::unshare(CloneFlags::CLONE_NEWNS).ctx("unshare the intermediate mount namespace")?;
    let prop = spec
        .linux
        .as_ref()
        .and_then(|l| l.rootfs_propagation.as_deref())
        .and_then(crate::spec::propagation)
        .unwrap_or(nix::mount::MsFlags::MS_PRIVATE)
        | nix::mount::MsFlags::MS_REC;
    nix::mount::mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
        .ctx("set propagation of / in the intermediate namespace")?;
    rootfs::mount_intermediate(spec, &opts.bundle, rootfs)
}

/// What `spawn` made: the init, its pidfd, the parent's channel, the
/// resctrl group it joined and, with `--systemd-cgroup`, its scope's cgroup.
struct Spawned {
    pid: i32,
    pidfd: OwnedFd,
    chan: ParentChannel,
    resctrl: Option<runoci_core::resctrl::ResctrlRecord>,
    scoped: Option<cgroups::Cgroup>,
}

/// clone() the child and put it in its cgroup.
fn spawn(
    spec: &Spec,
    opts: &ContainerOptions,
    ns: &Plan,
    rootfs: PathBuf,
    cgroup: Option<&cgroups::Cgroup>,
    scope: Option<&crate::systemd::ScopePlan>,
) -> Result<Spawned> {
    let (parent_chan, child_chan) = sync::pair()?;
    // runc-style create: the child reopens the FIFO through this O_PATH fd.
    // Opened here, by the runtime, because the state directory is 0700
    // and a child in a user namespace (root mapped to another uid) could
    // not walk into it; the FIFO itself (0622) lets it write.
    let exec_fifo = match &opts.exec_fifo {
        Some(p) => Some(
            crate::resolve::open_host_path(p)
                .with_ctx(|| format!("open exec FIFO {}", p.display()))?,
        ),
        None => None,
    };
    // A new time namespace applies to children: unshare it for the clone
    // (with its offsets written before any process is in it) and come
    // back right after.
    let restore_time = if ns.unshare_time {
        let own = std::fs::File::open("/proc/self/ns/time").ctx("open own time namespace")?;
        nix::sched::unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
            .ctx("unshare time namespace")?;
        write_time_offsets(spec)?;
        Some(own)
    } else {
        None
    };
    // Non-dumpable before the clone, so the child is from its first
    // instruction (CVE-2019-5736: nothing in the container may open our
    // /proc/PID/exe or fds); execve makes the program dumpable again.
    // Rootless, the child stays dumpable until its id maps are written: an
    // unprivileged parent can only write /proc/PID files of a dumpable
    // child (no container process exists yet to exploit it).
    if nix::unistd::geteuid().is_root() {
        crate::child::set_non_dumpable();
    }
    let pid_ns = ns
        .join_of(CloneFlags::CLONE_NEWPID)
        .map(|j| (&j.fd, j.path.as_str()));
    let what = format!("with namespaces {:?}", ns.clone_flags);
    let parent_fd = parent_chan.raw_fd();
    // The closure owns the child's end of the channel, the rootfs path and
    // the FIFO: the parent drops them (closing its copies) once cloned.
    let cloned =
        namespaces::clone_joining_cgroup(ns.clone_flags, pid_ns, cgroup, &what, move |tasks| {
            // The child's copies of fds it must not hold: the creator's lock
            // and the parent's end of the channel (never dropped here: the
            // child does not return).
            if let Some(fd) = opts.lock_fd {
                let _ = nix::unistd::close(fd);
            }
            let _ = nix::unistd::close(parent_fd);
            child_main(ChildArgs {
                spec,
                opts,
                ns,
                chan: child_chan,
                rootfs,
                exec_fifo,
                cgroup_tasks: tasks,
            })
        });
    if let Some(own) = restore_time {
        let _ = nix::sched::setns(&own, CloneFlags::from_bits_retain(libc::CLONE_NEWTIME));
    }
    let (pid, joined) = cloned?;
    let pidfd = match runoci_core::pidfd::open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            return Err(Error::from(e).context("pidfd_open of the container init"));
        }
    };
    let mut resctrl = None;
    let mut scoped = None;
    let setup = || -> Result<()> {
        if let Some(plan) = scope {
            scoped = Some(crate::systemd::start_scope(plan, spec, opts, pid)?);
        }
        // Before the child goes on: whatever it forks inherits the group.
        if let Some(rdt) = spec.linux.as_ref().and_then(|l| l.intel_rdt.as_ref()) {
            resctrl = Some(crate::cgroup_setup::join_resctrl(opts, rdt, pid)?);
        }
        if ns.new_user() {
            let (u, g) = id_maps(spec, opts);
            namespaces::write_id_maps(pid, &u, &g)?;
        }
        // After the maps: an idmap may take the child's user namespace.
        rootfs::idmap::send_to_child(spec, &opts.bundle, ns, pid, &parent_chan)?;
        // Once its network namespace exists, before anything of the
        // container runs: the program finds its devices there.
        if let Some(linux) = spec.linux.as_ref() {
            crate::netdev::move_into(linux, pid)?;
        }
        // Last, so that the child's own writes overlap ours above; before
        // Start, so that it is in every cgroup before anything runs.
        if let Some(cg) = cgroup {
            joined.finish(&parent_chan, cg, pid)?;
        }
        parent_chan.send(&ToChild::Start { host_pid: pid })
    };
    if let Err(e) = setup() {
        kill_and_reap(pid, &pidfd);
        if let Some(rdt) = &resctrl {
            let _ = runoci_core::resctrl::remove(rdt);
        }
        if let Some(cg) = &scoped {
            let _ = cg.destroy();
        }
        if let Some(plan) = scope {
            let _ = crate::systemd::stop(&plan.unit);
        }
        return Err(e);
    }
    Ok(Spawned {
        pid,
        pidfd,
        chan: parent_chan,
        resctrl,
        scoped,
    })
}

fn write_time_offsets(spec: &Spec) -> Result<()> {
    let Some(offsets) = spec.linux.as_ref().and_then(|l| l.time_offsets.as_ref()) else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in offsets {
        text.push_str(&format!("{clock} {} {}\n", off.secs, off.nanosecs));
    }
    crate::procfs::write("/proc/self/timens_offsets", text.as_bytes()).ctx("linux.timeOffsets")
}

/// The prestart then createRuntime hooks, in the runtime's namespaces once
/// the container's exist (the child's request at creation, CRIU's
/// `setup-namespaces` at restore). With poststop hooks, the record first
/// notes that they started: from here on poststop must run once, whoever
/// ends the container, with this state if none is recorded.
pub fn create_runtime_hooks(spec: &Spec, opts: &ContainerOptions, hs: &HookState) -> Result<()> {
    let hooks = spec.hooks.clone().unwrap_or_default();
    if let (Some(dir), false) = (&opts.state_dir, hooks.poststop.is_empty()) {
        let doc = serde_json::to_vec(hs.state()).map_err(|e| Error::new(e.to_string()))?;
        runoci_core::state::StateDir::open_dir(dir)
            .write_atomic(runoci_core::state::HOOKS_STARTED, &doc)?;
    }
    let state = hs.json(Status::Creating);
    runoci_core::hooks::run_stage(Stage::Prestart, &hooks.prestart, &state)?;
    runoci_core::hooks::run_stage(Stage::CreateRuntime, &hooks.create_runtime, &state)
}

/// Serve the child's requests until it is ready (and, without an exec
/// FIFO, until its exec closed the channel).
fn drive_child(
    spec: &Spec,
    opts: &ContainerOptions,
    c: &Created,
    chan: &ParentChannel,
) -> Result<()> {
    let hooks = spec.hooks.clone().unwrap_or_default();
    let mut ready = false;
    loop {
        match chan.recv()? {
            Some((ToParent::RunHooks(stage), _)) => {
                let r = match stage {
                    ParentHooks::CreateRuntime => create_runtime_hooks(spec, opts, &c.hook_state),
                    ParentHooks::PreChroot => runoci_core::hooks::run_stage(
                        Stage::Prechroot,
                        &hooks.prechroot,
                        &c.hook_state.json(Status::Creating),
                    ),
                };
                match r {
                    Ok(()) => chan.send(&ToChild::Proceed)?,
                    Err(e) => {
                        let _ = chan.send(&ToChild::Error(e.to_string()));
                        return Err(e);
                    }
                }
            }
            Some((ToParent::ConsoleMaster, fds)) => {
                let (Some(master), Some(socket)) = (fds.first(), &opts.console_socket) else {
                    return Err(Error::new("console master expected with its fd"));
                };
                crate::console::send_master(socket, master)?;
            }
            Some((ToParent::SeccompListener, fds)) => {
                let path = spec
                    .linux
                    .as_ref()
                    .and_then(|l| l.seccomp.as_ref())
                    .and_then(|s| s.listener_path.as_deref());
                let (Some(fd), Some(path)) = (fds.first(), path) else {
                    return Err(Error::new(
                        "linux.seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath",
                    ));
                };
                let meta = spec
                    .linux
                    .as_ref()
                    .and_then(|l| l.seccomp.as_ref())
                    .and_then(|s| s.listener_metadata.as_deref())
                    .unwrap_or("");
                let msg = serde_json::json!({
                    "ociVersion": runoci_proto::OCI_VERSION,
                    "fds": ["seccompFd"],
                    "pid": c.pid,
                    "metadata": meta,
                    "state": serde_json::from_str::<serde_json::Value>(&c.hook_state.json(Status::Creating)).unwrap_or_default(),
                });
                crate::seccomp::send_listener(path, fd, &msg.to_string())?;
            }
            Some((ToParent::Ready, _)) => {
                ready = true;
                if opts.exec_fifo.is_some() {
                    return Ok(());
                }
            }
            Some((ToParent::Error(e), _)) => return Err(Error::new(e)),
            Some((ToParent::CgroupsJoined { .. }, _)) => {
                return Err(Error::new("the container init reported its cgroups twice"))
            }
            None if ready => return Ok(()),
            None => {
                return Err(Error::new(
                    "the container init died during set-up without saying why",
                ))
            }
        }
    }
}
