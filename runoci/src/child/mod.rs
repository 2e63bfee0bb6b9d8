//! The child: everything between clone() and execve(), as a list of named
//! steps (`INIT` for the container's init, `exec_steps` for `runoci exec`), each
//! applying one config field or group from its own module. The order is
//! data (tested below); where it matters for security or for the kernel,
//! the step's comment in `INIT` says why.

pub mod alt_syscall;
pub mod cwd;
pub mod identity;
pub mod io_priority;
pub mod lsm;
pub mod memory_policy;
pub mod oom_score_adj;
pub mod personality;
pub mod pid1;
pub mod rlimits;
pub mod scheduler;
pub mod session;
pub mod session_keyring;
pub mod signals;
pub mod sysctl;
pub mod umask;
pub mod user_caps;

mod run;

pub use run::{child_main, run_steps, set_non_dumpable, ChildArgs, Ctx, Mode};

/// Declares `Step` with its variants in the init's order, `INIT`, the list
/// of them all in that order, and `Step::in_exec`, true for those marked
/// `[exec]`. A step's doc says why it is where it is.
macro_rules! steps {
    (@exec exec) => { true };
    (@exec) => { false };
    ($($(#[$doc:meta])* $name:ident $([$tag:ident])?,)*) => {
        /// One step of the child's set-up.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Step {
            $($(#[$doc])* $name,)*
        }

        /// The container's init: every step, in order.
        pub const INIT: &[Step] = &[$(Step::$name,)*];

        impl Step {
            /// Whether a process `exec`'d into a running container takes
            /// this step too (it has no namespaces of its own, no rootfs).
            pub const fn in_exec(self) -> bool {
                match self {
                    $(Step::$name => steps!(@exec $($tag)?),)*
                }
            }
        }
    };
}

steps! {
    /// A user namespace to join comes first: the others are then owned by it.
    JoinUserNamespace,
    /// The parent has written the id maps and placed us in the cgroups we
    /// did not join ourselves (first thing after clone, `child_main`).
    WaitForParent [exec],
    /// Root of a new user namespace (mapped per uidMappings) before joining
    /// or creating anything it owns.
    BecomeNamespaceRoot,
    /// `linux.namespaces` entries with a `path` (but user and pid).
    JoinNamespaces [exec],
    /// A new cgroup namespace, after the parent placed us in our cgroups
    /// (its root is the cgroup we are in when unsharing).
    UnshareCgroupNamespace,
    /// The container's own session keyring (`session_keyring`), unless
    /// `--no-new-keyring`. After the namespaces: in a user namespace the
    /// keyring is made by, and belongs to, the container's root; before
    /// anything runs in the container, so nothing it runs ever holds the
    /// caller's keys. `exec` joins the container's by its name.
    SessionKeyring [exec],
    /// `hooks.prestart` and `hooks.createRuntime`, run by the parent.
    CreateRuntimeHooks,
    /// `hostname`, `domainname` (`identity`).
    Identity,
    /// `process.oomScoreAdj` (`oom_score_adj`).
    OomScoreAdj,
    /// umask 0 while setting up (`umask`).
    SetupUmask,
    /// Before mounting anything: whether `linux.mountLabel` applies (with
    /// SELinux; without, it is ignored and the runtime warns, as crun).
    CheckMountLabel,
    /// `mounts`, `linux.devices`, `linux.rootfsPropagation` (`rootfs`).
    Mounts,
    /// createContainer hooks run in the container's namespaces, before
    /// pivot_root (they still see the host's tree).
    CreateContainerHooks,
    /// `hooks.prechroot`, run by the parent.
    PrechrootHooks,
    /// pivot_root into `root.path` (chroot without a mount namespace).
    Pivot,
    /// `linux.sysctl` (`sysctl`). After pivot_root: /proc/sys is then the
    /// container's own.
    Sysctl,
    /// `process.cwd` created (`cwd`), before masking and `root.readonly`, which would forbid it.
    CreateCwd,
    /// `linux.maskedPaths` (`rootfs::masked_paths`). After pivot_root, so
    /// the paths resolve in the container's root;
    /// masked first, then read-only, then the root read-only (last: the
    /// others are mounts inside it).
    MaskedPaths,
    /// `linux.readonlyPaths` (`rootfs::readonly_paths`).
    ReadonlyPaths,
    /// `root.readonly` and the final `linux.rootfsPropagation`.
    RootReadonly,
    /// `process.cwd` entered (`cwd`). After every mount: the cwd checked is the one the program gets.
    EnterCwd [exec],
    /// `process.rlimits` (`rlimits`). Before the user switch: raising a hard limit needs CAP_SYS_RESOURCE.
    Rlimits [exec],
    /// `process.scheduler` (`scheduler`), then `process.ioPriority`
    /// (`io_priority`), `linux.personality` (`personality`) and
    /// `linux.memoryPolicy` (`memory_policy`), as runc applies them to
    /// the init and to `exec`'d processes. Before the capability drop
    /// (real-time policies need CAP_SYS_NICE, IOPRIO_CLASS_RT
    /// CAP_SYS_ADMIN) and seccomp (a profile may forbid the calls); late,
    /// so the runtime's own set-up runs with the caller's. (A
    /// `SCHED_DEADLINE` task may not fork without
    /// `SCHED_FLAG_RESET_ON_FORK`: startContainer hooks and `-i` fork.)
    Scheduler [exec],
    IoPriority [exec],
    Personality [exec],
    MemoryPolicy [exec],
    /// `linux.altSyscall` (`alt_syscall`).
    AltSyscall,
    /// `process.selinuxLabel`, `process.apparmorProfile` (`lsm`). The exec
    /// attributes need a procfs write the dropped user may lack.
    Lsm [exec],
    /// `process.args[0]` looked up in the container's PATH. Before caps
    /// drop and seccomp: a missing binary is reported by
    /// `create`, not after `start`.
    FindProgram [exec],
    /// A session of our own (`session`), terminal or not; before
    /// `Console`, which makes the pty its controlling terminal. Late: the
    /// creator's process group (which `destroy --force` kills during a
    /// creation) holds us through most of the set-up; after this our
    /// parent-death signal and the cgroup's kill do.
    NewSession [exec],
    /// `process.terminal`, `process.consoleSize` (`crate::console`).
    /// Needs the container's /dev/ptmx (after pivot_root) and, for the
    /// /dev/console bind, CAP_SYS_ADMIN (before the drop).
    Console [exec],
    /// `process.user`, `process.capabilities`, `process.noNewPrivileges`
    /// and `linux.seccomp` (`user_caps`).
    UserCapsSeccomp [exec],
    /// `process.user.umask` (`umask`).
    Umask [exec],
    /// CVE-2024-21626: after every step that opens an fd, none of ours
    /// reaches the program.
    CloseFds [exec],
    /// The parent may go away as soon as it reads Ready (runc-style
    /// create): the death signal is cleared before we say it, else a
    /// parent quick to exit would take us with it.
    ClearDeathSignal [exec],
    /// Tell the parent set-up is done.
    Ready,
    /// runc-style create: block on the exec FIFO until `start`.
    WaitForStart,
    /// `hooks.startContainer`: in the container, after start, before the program,
    /// with the program's credentials (as runc).
    StartContainerHooks,
    /// Only now does `start` go on to its poststart hooks.
    ReleaseStart,
    /// Signals reset (`signals`), then execve of the program, or with `-i`
    /// our init as PID 1 (`pid1`).
    Exec [exec],
}

/// A process `exec`'d into a running container: the init's steps marked
/// `[exec]`, in the init's order.
pub fn exec_steps() -> impl Iterator<Item = Step> {
    INIT.iter().copied().filter(|s| s.in_exec())
}

#[cfg(test)]
mod tests {
    use super::Step::*;
    use super::*;

    fn pos(list: &[Step], s: Step) -> usize {
        list.iter()
            .position(|x| *x == s)
            .unwrap_or_else(|| panic!("{s:?} not in the list"))
    }

    fn before(list: &[Step], a: Step, b: Step) {
        assert!(pos(list, a) < pos(list, b), "{a:?} must come before {b:?}");
    }

    fn exec() -> Vec<Step> {
        exec_steps().collect()
    }

    #[test]
    fn each_step_once() {
        for list in [INIT, &exec()] {
            for s in list {
                assert_eq!(list.iter().filter(|x| *x == s).count(), 1, "{s:?}");
            }
        }
    }

    #[test]
    fn exec_sets_up_a_process_not_a_container() {
        let exec = exec();
        for container_only in [
            JoinUserNamespace,
            BecomeNamespaceRoot,
            Identity,
            Mounts,
            Pivot,
            Sysctl,
            MaskedPaths,
            RootReadonly,
            Ready,
            WaitForStart,
        ] {
            assert!(!exec.contains(&container_only), "{container_only:?}");
        }
        // The copies exec had lost: the cwd check, the LSM labels.
        assert!(exec.contains(&EnterCwd) && exec.contains(&Lsm), "{exec:?}");
    }

    #[test]
    fn rootfs_steps_around_pivot_root() {
        before(INIT, CheckMountLabel, Mounts);
        before(INIT, Mounts, CreateContainerHooks);
        before(INIT, CreateContainerHooks, Pivot);
        for after in [Sysctl, MaskedPaths, ReadonlyPaths, RootReadonly, Console] {
            before(INIT, Pivot, after);
        }
        before(INIT, CreateCwd, RootReadonly);
        before(INIT, MaskedPaths, ReadonlyPaths);
        before(INIT, ReadonlyPaths, RootReadonly);
        before(INIT, RootReadonly, EnterCwd);
    }

    #[test]
    fn privileges_are_dropped_after_what_needs_them() {
        for list in [INIT, &exec()] {
            for needs_privilege in [
                Rlimits,
                Scheduler,
                IoPriority,
                Personality,
                MemoryPolicy,
                Lsm,
                FindProgram,
                Console,
            ] {
                before(list, needs_privilege, UserCapsSeccomp);
            }
            before(list, NewSession, Console);
            before(list, UserCapsSeccomp, CloseFds);
            before(list, CloseFds, Exec);
            assert_eq!(list.last(), Some(&Exec));
        }
    }

    #[test]
    fn namespaces_first_user_namespace_before_the_others() {
        assert_eq!(INIT[0], JoinUserNamespace);
        before(INIT, WaitForParent, BecomeNamespaceRoot);
        before(INIT, BecomeNamespaceRoot, JoinNamespaces);
        before(INIT, JoinNamespaces, Identity);
        assert_eq!(&exec()[..2], &[WaitForParent, JoinNamespaces]);
    }

    #[test]
    fn session_keyring_in_the_container_s_namespaces_before_its_hooks() {
        for list in [INIT, &exec()] {
            before(list, JoinNamespaces, SessionKeyring);
            before(list, SessionKeyring, Exec);
        }
        before(INIT, BecomeNamespaceRoot, SessionKeyring);
        before(INIT, SessionKeyring, CreateRuntimeHooks);
    }

    #[test]
    fn start_handshake_order() {
        before(INIT, ClearDeathSignal, Ready);
        before(INIT, Ready, WaitForStart);
        before(INIT, WaitForStart, StartContainerHooks);
        before(INIT, StartContainerHooks, ReleaseStart);
        before(INIT, ReleaseStart, Exec);
    }
}
