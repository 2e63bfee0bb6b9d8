//! What a creation needs beyond config.json: the container's id, bundle,
//! the command line's options and the runtime's own handles. Shared by the
//! parent (`container`) and the child (`child`), so neither imports the
//! other for it.

use crate::spec::Spec;
use runoci_core::hooks::HookState;
use std::path::PathBuf;

/// Everything about one container that is not in config.json.
#[derive(Debug, Clone, Default)]
pub struct ContainerOptions {
    pub id: String,
    /// Absolute bundle directory.
    pub bundle: PathBuf,
    /// `-- args` appended to process.args.
    pub extra_args: Vec<String>,
    /// `-b A:B`: host path, container path.
    pub bind_mounts: Vec<(PathBuf, String)>,
    pub cgroup_parent: Option<String>,
    pub systemd_cgroup: bool,
    pub use_current_user: bool,
    /// false with `-i`: our init is PID 1 and the program its child.
    pub run_as_init: bool,
    /// The directory named by the container_root annotation: the state
    /// directory for detached containers, the bundle for `run`.
    pub container_dir: PathBuf,
    /// The command line's dialect: only run_oci's adds the container_root
    /// annotation to the state; runc's state carries exactly the config's.
    pub dialect: Dialect,
    /// runc `create`: the child waits on this FIFO until `start`.
    pub exec_fifo: Option<PathBuf>,
    pub preserve_fds: u32,
    /// runc `--console-socket`: where the pty master goes when
    /// process.terminal is true.
    pub console_socket: Option<PathBuf>,
    /// The container's record under the root: its cgroups are noted there
    /// as soon as they exist, so that `destroy` finds them even if runoci
    /// dies before the container is fully created.
    pub state_dir: Option<PathBuf>,
    /// The fd of the record's lock the creator holds (`state::Lock`): the
    /// init closes its inherited copy at once, or it would hold the lock
    /// on (a created container waits on its FIFO for `start`, which takes
    /// that lock).
    pub lock_fd: Option<i32>,
    /// The container's own session keyring (`child::session_keyring`);
    /// false with `--no-new-keyring`.
    pub new_session_keyring: bool,
    /// The engine's `NOTIFY_SOCKET` (absolute, a socket): bound into the
    /// container for its sd_notify messages (`crate::notify_socket`).
    pub notify_socket: Option<PathBuf>,
    /// The cgroup the record's first version names already
    /// (`commands::first_record`): not written to the record again.
    pub recorded_cgroup: Option<runoci_core::cgroups::CgroupRecord>,
}

impl ContainerOptions {
    /// The state hooks are given for this container, with `pid` as its
    /// process.
    pub fn hook_state(&self, spec: &Spec, pid: i32) -> HookState {
        let container_root =
            (self.dialect == Dialect::RunOci).then_some(self.container_dir.as_path());
        HookState::new(spec, &self.id, &self.bundle, container_root, pid)
    }
}

/// Which command line a container was made from: the reference's run_oci
/// (`run|start -c BUNDLE`), or runc's that engines call (`create`, and
/// `run`/`start` with `--bundle` or another runc-only flag).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dialect {
    #[default]
    RunOci,
    Runc,
}
