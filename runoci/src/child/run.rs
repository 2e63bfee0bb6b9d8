//! Running a list of steps: the state they hand on, and what each does.

use super::Step::{self, *};
use super::{
    alt_syscall, cwd, identity, io_priority, lsm, memory_policy, oom_score_adj, personality, pid1,
    rlimits, scheduler, session, session_keyring, signals, sysctl, umask, user_caps,
};
use crate::error::{Context, Error, Result};
use crate::namespaces::Plan;
use crate::options::ContainerOptions;
use crate::process;
use crate::rootfs::{self, RootfsInput};
use crate::spec::{Process, Spec};
use crate::sync::{ChildChannel, ParentHooks, ToParent};
use nix::sched::CloneFlags;
use runoci_core::hooks::HookState;
use runoci_core::hooks::Stage;
use runoci_proto::Status;
use std::convert::Infallible;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

pub struct ChildArgs<'a> {
    pub spec: &'a Spec,
    pub opts: &'a ContainerOptions,
    pub ns: &'a Plan,
    pub chan: ChildChannel,
    pub rootfs: PathBuf,
    /// runc-style create: an O_PATH fd of the exec FIFO.
    pub exec_fifo: Option<OwnedFd>,
    /// The `tasks` files of the v1 cgroups to join
    /// (`runoci_core::cgroups::JoinFds`).
    pub cgroup_tasks: Vec<(usize, OwnedFd)>,
}

/// What differs between the init and an exec'd process.
pub enum Mode<'a> {
    Init(&'a ChildArgs<'a>),
    /// The namespaces of the container's init to join, user first.
    Exec(&'a [(CloneFlags, OwnedFd, String)]),
}

/// The steps' shared state.
pub struct Ctx<'a> {
    pub spec: &'a Spec,
    pub process: &'a Process,
    pub chan: &'a ChildChannel,
    /// process.args (with the init's `-- args`).
    pub args: Vec<String>,
    pub preserve_fds: u32,
    /// A console socket was given: `process.terminal` gets a pty.
    pub console_socket: bool,
    /// The session keyring to join (`_ses.<id>`); none with
    /// `--no-new-keyring`.
    pub session_keyring: Option<String>,
    pub mode: Mode<'a>,
    program: PathBuf,
    hook_state: Option<HookState>,
    root: Option<OwnedFd>,
    started: Option<std::fs::File>,
    /// The idmapped mounts the parent made, by `mounts[]` index.
    idmapped: Vec<(usize, OwnedFd)>,
    /// `linux.mountLabel` when it applies (`CheckMountLabel`).
    mount_label: Option<&'a str>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        spec: &'a Spec,
        process: &'a Process,
        chan: &'a ChildChannel,
        args: Vec<String>,
        preserve_fds: u32,
        console_socket: bool,
        mode: Mode<'a>,
    ) -> Ctx<'a> {
        Ctx {
            spec,
            process,
            chan,
            args,
            preserve_fds,
            console_socket,
            session_keyring: None,
            mode,
            program: PathBuf::new(),
            hook_state: None,
            root: None,
            started: None,
            idmapped: Vec::new(),
            mount_label: None,
        }
    }

    fn init(&self, step: Step) -> Result<&'a ChildArgs<'a>> {
        match self.mode {
            Mode::Init(a) => Ok(a),
            Mode::Exec(_) => Err(Error::new(format!("{step:?}: a step of the init only"))),
        }
    }

    /// Whether the init has a mount namespace of its own, new or joined by
    /// path. A joined one gets the whole rootfs set-up, as runc does: it
    /// must see the bundle's rootfs (a copy of the host's namespace, not
    /// another container's after its pivot_root).
    fn own_mountns(&self) -> bool {
        matches!(self.mode, Mode::Init(a) if a.ns.has_mount())
    }

    fn in_userns(a: &ChildArgs) -> bool {
        a.ns.new_user() || a.ns.join_of(CloneFlags::CLONE_NEWUSER).is_some()
    }

    fn hook_state(&self) -> Result<&HookState> {
        self.hook_state
            .as_ref()
            .ok_or_else(|| Error::new("hooks before the parent's Start"))
    }
}

/// Entry point of the init right after clone(); never returns.
pub fn child_main(mut args: ChildArgs) -> ! {
    // Not dumpable until execve: other processes in the container cannot
    // open /proc/<pid>/exe (the runoci binary) or our fds (CVE-2019-5736).
    // (Rootless: right after the id maps are written, see WaitForParent.)
    if nix::unistd::geteuid().is_root() {
        set_non_dumpable();
    }
    // Die with the runtime while we are being set up.
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    // Into our cgroups first, while single-threaded, before anything of
    // the container runs or a cgroup namespace is made (its root is the
    // cgroup we are in); the runtime moves us where this failed.
    let tasks = std::mem::take(&mut args.cgroup_tasks);
    if !args.chan.join_cgroups(tasks) {
        runoci_core::sys::process::exit_now(1)
    }
    let err = match run_init(&args) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    if args.chan.send(&ToParent::Error(err.to_string())).is_err() {
        // The runtime is gone (runc-style create already returned): say it
        // where the caller of the container can see it.
        eprintln!("runoci: container {}: {err}", args.opts.id);
    }
    // _exit skips atexit handlers and destructors of the parent's copied
    // state, which must not run twice.
    runoci_core::sys::process::exit_now(1)
}

pub fn set_non_dumpable() {
    let _ = nix::sys::prctl::set_dumpable(false);
}

fn run_init(a: &ChildArgs) -> Result<Infallible> {
    let process = a
        .spec
        .process
        .as_ref()
        .ok_or_else(|| Error::new("process: missing"))?;
    let mut args = process.args.clone();
    args.extend(a.opts.extra_args.iter().cloned());
    let mut ctx = Ctx::new(
        a.spec,
        process,
        &a.chan,
        args,
        a.opts.preserve_fds,
        a.opts.console_socket.is_some(),
        Mode::Init(a),
    );
    if a.opts.new_session_keyring {
        ctx.session_keyring = Some(session_keyring::name(&a.opts.id));
    }
    run_steps(super::INIT.iter().copied(), &mut ctx)
}

/// Apply `steps` in order; the last (Exec) does not return on success.
pub fn run_steps(steps: impl IntoIterator<Item = Step>, ctx: &mut Ctx) -> Result<Infallible> {
    for step in steps {
        if let Some(never) = apply(step, ctx)? {
            return Ok(never);
        }
    }
    Err(Error::new("the child's steps ended without Exec"))
}

fn apply(step: Step, c: &mut Ctx) -> Result<Option<Infallible>> {
    let (spec, process) = (c.spec, c.process);
    match step {
        JoinUserNamespace => {
            if let Some(j) = c.init(step)?.ns.join_of(CloneFlags::CLONE_NEWUSER) {
                nix::sched::setns(&j.fd, CloneFlags::CLONE_NEWUSER)
                    .with_ctx(|| format!("join user namespace {}", j.path))?;
            }
        }
        WaitForParent => {
            let started = c.chan.wait_start()?;
            set_non_dumpable();
            if let Mode::Init(a) = c.mode {
                c.hook_state = Some(a.opts.hook_state(spec, started.host_pid));
            }
            c.idmapped = started.idmapped;
        }
        BecomeNamespaceRoot => {
            if Ctx::in_userns(c.init(step)?) {
                nix::unistd::setresgid(0.into(), 0.into(), 0.into())
                    .ctx("setresgid 0 in the user namespace")?;
                nix::unistd::setresuid(0.into(), 0.into(), 0.into())
                    .ctx("setresuid 0 in the user namespace")?;
            }
        }
        JoinNamespaces => match c.mode {
            Mode::Init(a) => {
                // The user namespace was joined first; a pid namespace
                // applies to children and was entered by the parent.
                let others = a.ns.joins.iter().filter(|j| {
                    j.flag != CloneFlags::CLONE_NEWUSER && j.flag != CloneFlags::CLONE_NEWPID
                });
                for j in others {
                    nix::sched::setns(&j.fd, j.flag)
                        .with_ctx(|| format!("join namespace {}", j.path))?;
                }
            }
            Mode::Exec(joins) => {
                for (flag, fd, name) in joins {
                    nix::sched::setns(fd, *flag)
                        .with_ctx(|| format!("join the container's {name} namespace"))?;
                }
            }
        },
        UnshareCgroupNamespace => {
            let a = c.init(step)?;
            if a.ns.unshare_cgroup {
                nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).ctx("unshare cgroup namespace")?;
            }
            crate::debug!("container {}: child: in its namespaces", a.opts.id);
        }
        SessionKeyring => {
            if let Some(name) = &c.session_keyring {
                // Only the init's keyring is made searchable (runc's
                // permissions); exec joins it as it is.
                let make_searchable = match c.mode {
                    Mode::Init(a) => Some(Ctx::in_userns(a)),
                    Mode::Exec(_) => None,
                };
                session_keyring::join(name, make_searchable)?;
            }
        }
        CreateRuntimeHooks => parent_hooks(c, ParentHooks::CreateRuntime)?,
        Identity => identity::apply(spec)?,
        OomScoreAdj => oom_score_adj::apply(process)?,
        SetupUmask => umask::for_setup(),
        CheckMountLabel => {
            c.mount_label = crate::rootfs::plan::mount_label(
                spec.linux.as_ref().and_then(|l| l.mount_label.as_deref()),
            );
        }
        Mounts => {
            let a = c.init(step)?;
            if c.own_mountns() {
                // Read now: the container's maps are written, and this is
                // the namespace the mounts are made in.
                let mapped = runoci_core::userns::MappedIds::of_self();
                let input = RootfsInput {
                    spec,
                    bundle: &a.opts.bundle,
                    rootfs: a.rootfs.clone(),
                    extra_binds: &a.opts.bind_mounts,
                    // Also under a rootless engine, whose namespace the
                    // container shares.
                    in_userns: Ctx::in_userns(a) || runoci_core::userns::in_user_namespace(),
                    mapped: &mapped,
                    mount_label: c.mount_label,
                    new_cgroupns: a.ns.unshare_cgroup,
                };
                let t = crate::log::timer();
                c.root = Some(rootfs::prepare(&input, &std::mem::take(&mut c.idmapped))?);
                crate::debug!(
                    "container {}: child: mounts done{}",
                    a.opts.id,
                    crate::log::elapsed(t)
                );
            }
        }
        CreateContainerHooks => {
            if let Some(h) = &spec.hooks {
                let state = c.hook_state()?.json(Status::Creating);
                runoci_core::hooks::run_stage(Stage::CreateContainer, &h.create_container, &state)?;
            }
        }
        PrechrootHooks => parent_hooks(c, ParentHooks::PreChroot)?,
        Pivot => {
            let a = c.init(step)?;
            match c.root.take() {
                Some(root) => {
                    rootfs::pivot(&root)?;
                    crate::debug!("container {}: child: pivot_root done", a.opts.id);
                }
                None => {
                    // Without a mount namespace there is nothing to pivot:
                    // chroot, as runc --no-pivot would, still confined by
                    // the fd-based lookups.
                    nix::unistd::chroot(&a.rootfs)
                        .with_ctx(|| format!("chroot {}", a.rootfs.display()))?;
                    nix::unistd::chdir("/").ctx("chdir /")?;
                }
            }
        }
        Sysctl => sysctl::apply(spec, c.own_mountns())?,
        CreateCwd => cwd::create(&process.cwd)?,
        MaskedPaths if c.own_mountns() => rootfs::masked_paths::apply(spec)?,
        ReadonlyPaths if c.own_mountns() => rootfs::readonly_paths::apply(spec)?,
        RootReadonly if c.own_mountns() => rootfs::finish(spec)?,
        MaskedPaths | ReadonlyPaths | RootReadonly => {}
        EnterCwd => cwd::enter(&process.cwd)?,
        Rlimits => rlimits::set_rlimits(process)?,
        Scheduler => scheduler::apply(process)?,
        IoPriority => io_priority::apply(process)?,
        Personality => personality::apply(spec)?,
        MemoryPolicy => memory_policy::apply(spec)?,
        AltSyscall => alt_syscall::apply(spec)?,
        Lsm => lsm::apply(process)?,
        FindProgram => {
            let arg0 = c.args.first().map(String::as_str).unwrap_or("");
            c.program = process::find_program(arg0, &process.env)?;
            if !c.program.exists() {
                return Err(Error::new(format!(
                    "exec {}: no such file in the rootfs",
                    c.program.display()
                )));
            }
        }
        NewSession => session::apply()?,
        Console => {
            if process.terminal && c.console_socket {
                // Only the init's pty becomes /dev/console.
                let bind_dev_console = matches!(c.mode, Mode::Init(_));
                crate::console::attach(c.chan, process, bind_dev_console)?;
            }
        }
        UserCapsSeccomp => {
            let seccomp = spec.linux.as_ref().and_then(|l| l.seccomp.as_ref());
            let listener = user_caps::apply(seccomp, process)?;
            // The container's listener already has the init's
            // notifications; an exec'd process's filter gets its own
            // listener, which nobody asked for: it is closed (dropped).
            if let (Some(fd), Mode::Init(_)) = (listener, &c.mode) {
                c.chan
                    .send_with_fds(&ToParent::SeccompListener, &[fd.as_raw_fd()])?;
            }
        }
        Umask => umask::apply(spec),
        CloseFds => process::close_fds_on_exec(c.preserve_fds)?,
        ClearDeathSignal => {
            let _ = nix::sys::prctl::set_pdeathsig(None);
        }
        Ready => {
            let a = c.init(step)?;
            crate::debug!(
                "container {}: child: ready to exec {}",
                a.opts.id,
                c.program.display()
            );
            // Should the parent die after the death signal was cleared,
            // this send fails and we exit.
            c.chan.send(&ToParent::Ready)?;
        }
        WaitForStart => {
            if let Some(fifo) = &c.init(step)?.exec_fifo {
                c.started = Some(wait_for_start(fifo)?);
            }
        }
        StartContainerHooks => {
            if let Some(h) = &spec.hooks {
                let state = c.hook_state()?.json(Status::Created);
                runoci_core::hooks::run_stage(Stage::StartContainer, &h.start_container, &state)?;
            }
        }
        ReleaseStart => {
            if let Some(mut f) = c.started.take() {
                // A failed startContainer hook closes the FIFO unwritten,
                // and `start` reports that the init exited.
                std::io::Write::write_all(&mut f, b"0").ctx("write exec FIFO")?;
            }
        }
        Exec => {
            if let Mode::Init(a) = c.mode {
                if !a.opts.run_as_init {
                    return pid1::run(a.chan.raw_fd(), &c.program, &c.args, &process.env).map(Some);
                }
            }
            signals::reset();
            return Err(process::exec(&c.program, &c.args, &process.env));
        }
    }
    Ok(None)
}

/// Ask the parent to run hooks in the runtime's namespaces and wait.
fn parent_hooks(c: &Ctx, stage: ParentHooks) -> Result<()> {
    c.chan.send(&ToParent::RunHooks(stage))?;
    c.chan.expect_proceed()
}

/// runc's exec.fifo: opening it for writing blocks until `start` opens it
/// for reading. One byte is written once the container is ready to run its
/// program (ReleaseStart), so `start` knows we got past the startContainer
/// hooks.
fn wait_for_start(fifo: &OwnedFd) -> Result<std::fs::File> {
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .ctx("open exec FIFO for writing")
}
