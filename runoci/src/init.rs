//! The child: everything between clone() and execve(), in the container's
//! new namespaces. Each step is in the order the kernel and the spec need;
//! the comments say why where it matters.

use crate::container::{ContainerOptions, HookState};
use crate::error::{Context, Error, Result};
use crate::namespaces::Plan;
use crate::process;
use crate::rootfs::{self, RootfsPlan};
use crate::spec::Spec;
use crate::sync::{Channel, Message, ParentHooks};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct ChildArgs<'a> {
    pub spec: &'a Spec,
    pub opts: &'a ContainerOptions,
    pub ns: &'a Plan,
    pub chan: Channel,
    pub rootfs: PathBuf,
    /// runc-style create: an O_PATH fd of the exec FIFO.
    pub exec_fifo: Option<OwnedFd>,
}

/// Entry point right after clone(); never returns.
pub fn child_main(args: ChildArgs) -> ! {
    // Not dumpable until execve: other processes in the container cannot
    // open /proc/<pid>/exe (the runoci binary) or our fds (CVE-2019-5736).
    // (Rootless: right after the id maps are written, see `run`.)
    if nix::unistd::geteuid().is_root() {
        set_non_dumpable();
    }
    let err = match run(&args) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    if args.chan.send(&Message::Error(err.to_string())).is_err() {
        // The runtime is gone (runc-style create already returned): say it
        // where the caller of the container can see it.
        eprintln!("runoci: container {}: {err}", args.opts.id);
    }
    // SAFETY: _exit skips atexit handlers and destructors of the parent's
    // copied state, which must not run twice.
    unsafe { libc::_exit(1) }
}

enum Never {}

fn set_non_dumpable() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

fn run(a: &ChildArgs) -> Result<Never> {
    let spec = a.spec;
    let process = spec
        .process
        .as_ref()
        .ok_or_else(|| Error::new("process: missing"))?;
    // Die with the runtime while we are being set up.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };

    // A user namespace to join comes first: the others are then owned by it.
    if let Some(j) = a.ns.join_of(CloneFlags::CLONE_NEWUSER) {
        nix::sched::setns(&j.fd, CloneFlags::CLONE_NEWUSER)
            .with_ctx(|| format!("join user namespace {}", j.path))?;
    }
    // Wait for the parent: id maps written, cgroups joined.
    let host_pid = match a.chan.recv()? {
        Some((Message::Start { host_pid }, _)) => host_pid,
        Some((Message::Error(e), _)) => return Err(Error::new(e)),
        _ => return Err(Error::new("creation channel: expected Start")),
    };
    set_non_dumpable();
    let in_userns = a.ns.new_user() || a.ns.join_of(CloneFlags::CLONE_NEWUSER).is_some();
    if in_userns {
        // Become root of the new namespace (mapped per uidMappings).
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())
            .ctx("setresgid 0 in the user namespace")?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())
            .ctx("setresuid 0 in the user namespace")?;
    }
    for j in
        a.ns.joins
            .iter()
            .filter(|j| j.flag != CloneFlags::CLONE_NEWUSER && j.flag != CloneFlags::CLONE_NEWPID)
    {
        nix::sched::setns(&j.fd, j.flag).with_ctx(|| format!("join namespace {}", j.path))?;
    }
    if a.ns.unshare_cgroup {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).ctx("unshare cgroup namespace")?;
    }
    let state = HookState::new(spec, a.opts, host_pid);
    crate::debug!("container {}: child: in its namespaces", a.opts.id);

    a.chan
        .send(&Message::RunHooks(ParentHooks::CreateRuntime))?;
    a.chan.expect_proceed()?;

    if let Some(h) = &spec.hostname {
        nix::unistd::sethostname(h).with_ctx(|| format!("sethostname {h:?}"))?;
    }
    if let Some(d) = &spec.domainname {
        let c = std::ffi::CString::new(d.as_str())
            .map_err(|_| Error::new("domainname contains NUL"))?;
        // SAFETY: valid pointer and length.
        if unsafe { libc::setdomainname(c.as_ptr(), d.len()) } < 0 {
            return Err(Error::from(std::io::Error::last_os_error())
                .context(format!("setdomainname {d:?}")));
        }
    }
    if let Some(adj) = process.oom_score_adj {
        crate::procfs::write("/proc/self/oom_score_adj", adj.to_string().as_bytes())
            .ctx("process.oomScoreAdj (lowering it needs CAP_SYS_RESOURCE)")?;
    }

    // Files we create during set-up get exactly the modes we ask for.
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(0) };
    let new_mountns = a.ns.clone_flags.contains(CloneFlags::CLONE_NEWNS);
    check_mount_label(spec.linux.as_ref().and_then(|l| l.mount_label.as_deref()))?;
    let root = if new_mountns {
        let plan = RootfsPlan {
            spec,
            bundle: &a.opts.bundle,
            rootfs: a.rootfs.clone(),
            extra_binds: &a.opts.bind_mounts,
            in_userns,
            new_cgroupns: a.ns.unshare_cgroup,
        };
        let t = crate::log::timer();
        let root = rootfs::prepare(&plan)?;
        crate::debug!(
            "container {}: child: mounts done{}",
            a.opts.id,
            crate::log::elapsed(t)
        );
        Some(root)
    } else {
        None
    };
    if let Some(h) = &spec.hooks {
        // createContainer: container namespaces, before pivot_root.
        crate::hooks::run_stage(
            "createContainer",
            &h.create_container,
            &state.json("creating"),
        )?;
    }
    a.chan.send(&Message::RunHooks(ParentHooks::PreChroot))?;
    a.chan.expect_proceed()?;
    match root {
        Some(root) => {
            rootfs::pivot(&root)?;
            crate::debug!("container {}: child: pivot_root done", a.opts.id);
        }
        None => {
            // Without a mount namespace there is nothing to pivot: chroot,
            // as runc --no-pivot would, still confined by the fd-based
            // lookups.
            nix::unistd::chroot(&a.rootfs).with_ctx(|| format!("chroot {}", a.rootfs.display()))?;
            nix::unistd::chdir("/").ctx("chdir /")?;
        }
    }
    let sysctl = spec
        .linux
        .as_ref()
        .map(|l| l.sysctl.clone())
        .unwrap_or_default();
    if new_mountns && !sysctl.is_empty() {
        crate::procfs::require_mounted("linux.sysctl")?;
        for (k, v) in &sysctl {
            // Validated at load: the key names a file under /proc/sys.
            let file = crate::spec::sysctl_file(k)
                .ok_or_else(|| Error::new(format!("linux.sysctl: invalid key {k:?}")))?;
            let path = format!("/proc/sys/{file}");
            crate::procfs::write(&path, v.as_bytes())
                .with_ctx(|| format!("linux.sysctl {k}={v}"))?;
        }
    }
    make_cwd(&process.cwd)?;
    if new_mountns {
        rootfs::finish(spec)?;
    }
    nix::unistd::chdir(Path::new(&process.cwd))
        .with_ctx(|| format!("chdir to process.cwd {}", process.cwd))?;
    check_cwd_inside(&process.cwd)?;
    process::set_rlimits(process)?;
    set_alt_syscall(spec)?;
    set_selinux_label(process.selinux_label.as_deref())?;
    set_apparmor_profile(process.apparmor_profile.as_deref())?;

    let mut args: Vec<String> = process.args.clone();
    args.extend(a.opts.extra_args.iter().cloned());
    let env = &process.env;
    // Resolve now (before caps drop and seccomp) so a missing binary is
    // reported by `create`, not after `start`.
    let program = process::find_program(args.first().map(String::as_str).unwrap_or(""), env)?;
    if !program.exists() {
        return Err(Error::new(format!(
            "exec {}: no such file in the rootfs",
            program.display()
        )));
    }

    if process.terminal && a.opts.console_socket.is_some() {
        let (master, slave) = crate::console::open_pty()?;
        crate::console::set_size(&master, process.console_size);
        a.chan
            .send_with_fds(&Message::ConsoleMaster, &[master.as_raw_fd()])?;
        drop(master);
        crate::console::attach_slave(&slave)?;
    }
    let listener = crate::seccomp::drop_privileges_with_filter(
        spec.linux.as_ref().and_then(|l| l.seccomp.as_ref()),
        process,
    )?;
    if let Some(fd) = listener {
        a.chan
            .send_with_fds(&Message::SeccompListener, &[fd.as_raw_fd()])?;
    }
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(spec.umask() as libc::mode_t) };
    process::close_fds_on_exec(a.opts.preserve_fds)?;

    crate::debug!(
        "container {}: child: ready to exec {}",
        a.opts.id,
        program.display()
    );
    // Setup is done; the parent may go away as soon as it reads Ready
    // (runc-style create), so the death signal is cleared before we say it:
    // cleared after, a parent quick to exit would take us with it. Should
    // the parent die in between, the send fails and we exit.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
    a.chan.send(&Message::Ready)?;

    let started = match &a.exec_fifo {
        Some(fifo) => Some(wait_for_start(fifo)?),
        None => None,
    };
    if let Some(h) = &spec.hooks {
        // startContainer: in the container, after start, before the program
        // (with the program's credentials, as runc runs them).
        crate::hooks::run_stage("startContainer", &h.start_container, &state.json("created"))?;
    }
    if let Some(mut f) = started {
        // Only now does `start` go on to its poststart hooks: they must
        // follow startContainer (a failed one closes the FIFO unwritten,
        // and `start` reports that the init exited).
        std::io::Write::write_all(&mut f, b"0").ctx("write exec FIFO")?;
    }

    if !a.opts.run_as_init {
        return run_with_our_init(a, &program, &args, env);
    }
    reset_signals();
    Err(process::exec(&program, &args, env))
}

/// runc's exec.fifo: opening it for writing blocks until `start` opens it
/// for reading. The caller writes one byte once the container is ready to
/// run its program, so `start` knows we got past the startContainer hooks.
fn wait_for_start(fifo: &std::os::fd::OwnedFd) -> Result<std::fs::File> {
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .ctx("open exec FIFO for writing")
}

fn make_cwd(cwd: &str) -> Result<()> {
    if !cwd.starts_with('/') {
        return Err(Error::new(format!("process.cwd {cwd:?}: must be absolute")));
    }
    refuse_fd_cwd(cwd)?;
    let root = std::fs::File::open("/").ctx("open /")?;
    rootfs::resolve::mkdir_all_in_root(
        root.as_raw_fd(),
        Path::new(cwd),
        rootfs::resolve::Kind::Dir,
    )
    .with_ctx(|| format!("create process.cwd {cwd}"))?;
    Ok(())
}

/// Refuse a cwd that names an fd (CVE-2024-21626: /proc/self/fd/N would
/// leave the process holding a directory of the host, through an fd of
/// ours): any `/proc/<pid|self|thread-self>/fd/...` or
/// `/proc/<pid>/task/<tid>/fd/...`, after `.` and `..` are taken out. A
/// symlink in the rootfs that leads there is caught after the chdir (the
/// directory is then outside the root).
pub fn refuse_fd_cwd(cwd: &str) -> Result<()> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(cwd).components() {
        match c {
            std::path::Component::Normal(n) => parts.push(n.to_str().unwrap_or("")),
            std::path::Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let is_fd = |w: &str| w == "fd" || w == "fdinfo" || w == "cwd" || w == "root";
    let names_fd = parts.first() == Some(&"proc")
        && (parts.get(2).is_some_and(|w| is_fd(w))
            || (parts.get(2) == Some(&"task") && parts.get(4).is_some_and(|w| is_fd(w))));
    if names_fd {
        return Err(Error::new(format!(
            "process.cwd {cwd:?}: refusing a cwd under /proc/*/fd (it would reach the runtime's file descriptors)"
        )));
    }
    Ok(())
}

/// After chdir: the kernel says "(unreachable)" for a cwd outside our root.
fn check_cwd_inside(cwd: &str) -> Result<()> {
    let now = nix::unistd::getcwd().ctx("getcwd")?;
    if !now.starts_with("/") || now.to_string_lossy().contains("(unreachable)") {
        return Err(Error::new(format!(
            "process.cwd {cwd:?}: resolves outside the container"
        )));
    }
    Ok(())
}

/// Chromium OS's alternate syscall table (a prctl only its kernels have).
fn set_alt_syscall(spec: &Spec) -> Result<()> {
    let Some(table) = spec.linux.as_ref().and_then(|l| l.alt_syscall.as_deref()) else {
        return Ok(());
    };
    const PR_ALT_SYSCALL: libc::c_int = 0x4372_4f53;
    const PR_ALT_SYSCALL_SET_SYSCALL_TABLE: libc::c_ulong = 1;
    let c =
        std::ffi::CString::new(table).map_err(|_| Error::new("linux.altSyscall contains NUL"))?;
    // SAFETY: prctl with a valid C string pointer.
    let rc = unsafe {
        libc::prctl(
            PR_ALT_SYSCALL,
            PR_ALT_SYSCALL_SET_SYSCALL_TABLE,
            c.as_ptr(),
            0,
            0,
        )
    };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::new(format!(
            "linux.altSyscall {table:?}: this kernel has no alternate syscall tables (a Chromium OS kernel feature): {e}"
        )));
    }
    Ok(())
}

/// SELinux is on when selinuxfs is known and mounted (its `enforce` file).
pub fn selinux_enabled() -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .map(|f| f.contains("selinuxfs"))
        .unwrap_or(false)
        && Path::new("/sys/fs/selinux/enforce").exists()
}

/// `linux.mountLabel` needs SELinux: say so before mounting anything.
pub fn check_mount_label(label: Option<&str>) -> Result<()> {
    match label.filter(|l| !l.is_empty()) {
        Some(l) if !selinux_enabled() => Err(Error::new(format!(
            "linux.mountLabel {l:?}: SELinux is not enabled on this host"
        ))),
        _ => Ok(()),
    }
}

/// `process.selinuxLabel`: the label the program gets at execve, through
/// `/proc/thread-self/attr/exec` of a verified procfs.
pub fn set_selinux_label(label: Option<&str>) -> Result<()> {
    let Some(label) = label.filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    if !selinux_enabled() {
        return Err(Error::new(format!(
            "process.selinuxLabel {label:?}: SELinux is not enabled on this host"
        )));
    }
    crate::procfs::write("/proc/thread-self/attr/exec", label.as_bytes())
        .with_ctx(|| format!("process.selinuxLabel {label:?}"))
}

/// AppArmor is on when securityfs shows it and the module says enabled.
pub fn apparmor_enabled() -> bool {
    Path::new("/sys/kernel/security/apparmor").exists()
        && std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .map(|s| s.trim_start().starts_with('Y'))
            .unwrap_or(false)
}

/// `process.apparmorProfile`: "exec PROFILE" to the task's exec attribute
/// (the AppArmor-specific one where the kernel has stacking, else the
/// shared one), through a verified procfs, so the profile applies from
/// execve on.
pub fn set_apparmor_profile(profile: Option<&str>) -> Result<()> {
    let Some(profile) = profile.filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    if !apparmor_enabled() {
        return Err(Error::new(format!(
            "process.apparmorProfile {profile:?}: AppArmor is not enabled on this host"
        )));
    }
    let attr = if Path::new("/proc/thread-self/attr/apparmor/exec").exists() {
        "/proc/thread-self/attr/apparmor/exec"
    } else {
        "/proc/thread-self/attr/exec"
    };
    crate::procfs::write(attr, format!("exec {profile}").as_bytes())
        .with_ctx(|| format!("process.apparmorProfile {profile:?}"))
}

/// Undo what the runtime's process state would leak into the program: its
/// blocked signals and ignored SIGPIPE (Rust ignores it at start).
pub fn reset_signals() {
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            // SAFETY: resetting a disposition to the default.
            unsafe { libc::signal(sig as libc::c_int, libc::SIG_DFL) };
        }
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// `-i`: our own small init is PID 1: it forks the program, forwards every
/// signal to it, reaps every orphan, and exits with the program's status.
fn run_with_our_init(
    a: &ChildArgs,
    program: &Path,
    args: &[String],
    env: &[String],
) -> Result<Never> {
    let all = SigSet::all();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), None).ctx("block signals")?;
    // SAFETY: single-threaded; the child only execs.
    match unsafe { nix::unistd::fork() }.ctx("fork the program under our init")? {
        nix::unistd::ForkResult::Child => {
            reset_signals();
            Err(process::exec(program, args, env))
        }
        nix::unistd::ForkResult::Parent { child } => {
            // The init needs no fd but stdio: close the rest, which never
            // exec's close-on-exec would. That includes the creation channel
            // (the program's exec closes its copy; ours must go too, or the
            // parent would wait for EOF forever) and whatever runoci held
            // or inherited (its signalfd, the verified /dev/null, fds of
            // runoci's caller): PID 1 must not keep them in the container.
            // SAFETY: close_range only closes fds of this process; nothing
            // in the init loop uses an fd above 2.
            let rc = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
            if rc < 0 {
                // SAFETY: closing our own copy of the channel fd (old kernels).
                unsafe { libc::close(a.chan.raw_fd()) };
            }
            init_loop(child, &all)
        }
    }
}

/// Raw signal numbers and wait statuses throughout: nix's `Signal` has no
/// real-time signals, so its sigwait would swallow one unforwarded and its
/// waitpid would fail on a program killed by one, and the init would never
/// exit.
fn init_loop(main: nix::unistd::Pid, all: &SigSet) -> ! {
    let main = main.as_raw();
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: a valid, fully blocked signal set and an out pointer.
        if unsafe { libc::sigwait(all.as_ref(), &mut sig) } != 0 {
            continue;
        }
        if sig != libc::SIGCHLD {
            // SAFETY: plain kill of our own child.
            unsafe { libc::kill(main, sig) };
            continue;
        }
        loop {
            let mut status = 0;
            // SAFETY: reaping any child with a valid status pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            if pid == main && libc::WIFEXITED(status) {
                // SAFETY: leaving the process; nothing to unwind.
                unsafe { libc::_exit(libc::WEXITSTATUS(status)) }
            }
            if pid == main && libc::WIFSIGNALED(status) {
                // SAFETY: as above.
                unsafe { libc::_exit(128 + libc::WTERMSIG(status)) }
            }
        }
    }
}
