//! The command line: the run_oci dialect (`run|start|kill|destroy`) and the
//! runc dialect engines call, in one clap definition.

use crate::log::LogFormat;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub const DEFAULT_ROOT: &str = "/run/containers";

#[derive(Debug, Parser)]
#[command(
    name = "runoci",
    version,
    about = "A daemonless OCI container runtime",
    long_about = "runoci runs OCI bundles (a config.json and a root filesystem).\n\n\
run_oci dialect:  runoci run|start [-c BUNDLE] [-b SRC:DST]... ID [-- ARGS]\n\
                  runoci kill [-S SIGNAL] ID;  runoci destroy ID\n\
runc dialect:     runoci create --bundle B ID; runoci start ID; runoci state ID;\n\
                  runoci kill ID [SIGNAL]; runoci delete [-f] ID",
    after_help = "Examples:\n  runoci run -c /var/lib/bundles/web web -- --port 8080\n  runoci start -c ./bundle svc && runoci kill -S TERM svc && runoci destroy svc"
)]
pub struct Cli {
    /// Directory for container state.
    #[arg(long, global = true, default_value = DEFAULT_ROOT, value_name = "DIR")]
    pub root: PathBuf,
    /// Write log messages to FILE (engines pass this).
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Format of --log: text or json lines.
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log each step with timings.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Take cgroupsPath as systemd's "slice:prefix:name".
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// run_oci: write log messages (and hooks' output) to a file in DIR.
    #[arg(short = 'l', long = "log_dir", global = true, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// The runoci-monitor binary (default: next to runoci; or RUNOCI_MONITOR).
    #[arg(long = "monitor-path", global = true, value_name = "PATH")]
    pub monitor_path: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and run a container in the foreground; exits with its status.
    Run(RunArgs),
    /// Start a created container (runc); or create and start one in the
    /// background, under its monitor (run_oci).
    Start(RunArgs),
    /// Create a container and leave it waiting for `start` (runc).
    Create(RunArgs),
    /// Send a signal to a container (default TERM).
    Kill(KillArgs),
    /// Remove a stopped container (poststop hooks, mounts, cgroups, record).
    #[command(visible_alias = "delete")]
    Destroy(DestroyArgs),
    /// Run a process in a running container.
    Exec(ExecArgs),
    /// Freeze every process of a container (cgroup freezer).
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// Change a running container's cgroup limits.
    Update(UpdateArgs),
    /// Resource usage (`--stats`) of a container, as runc prints it.
    Events(EventsArgs),
    /// The runtime-spec features document of this runtime.
    Features,
    /// Print a container's OCI state as JSON.
    State(IdArg),
    /// List the containers under --root.
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// The processes of a container (`--format json`: their host pids).
    Ps(PsArgs),
}

#[derive(Debug, Args, Clone)]
pub struct IdArg {
    /// The container id.
    pub id: String,
}

#[derive(Debug, Args, Clone)]
pub struct KillArgs {
    /// run_oci: the signal name (TERM, SIGKILL) or number.
    #[arg(short = 'S', long = "signal", value_name = "SIGNAL")]
    pub signal_opt: Option<String>,
    /// Signal every process of the container, not only its init.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The container id.
    pub id: String,
    /// runc: the signal as a second argument.
    pub signal: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct DestroyArgs {
    /// Kill a running container first (SIGKILL).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The container id.
    pub id: String,
}

#[derive(Debug, Args, Clone)]
pub struct ListArgs {
    /// table or json.
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// Print ids only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args, Clone)]
pub struct PsArgs {
    /// table (the host's `ps` output, filtered) or json (an array of pids).
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// The container id.
    pub id: String,
    /// Options for the host's `ps` (default `-ef`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// Options of `run` and `start` (both dialects).
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// run_oci: the bundle directory (default: the current directory).
    #[arg(short = 'c', long = "container_path", value_name = "PATH")]
    pub container_path: Option<PathBuf>,
    /// runc: the bundle directory.
    #[arg(long = "bundle", value_name = "PATH")]
    pub bundle: Option<PathBuf>,
    /// run_oci: bind mount host path A at B in the container (A:B);
    /// runc: `-b DIR` without a colon is the bundle.
    #[arg(short = 'b', long = "bind_mount", value_name = "A:B")]
    pub bind_mount: Vec<String>,
    /// Parent cgroup of the container.
    #[arg(short = 'p', long = "cgroup_parent", value_name = "NAME")]
    pub cgroup_parent: Option<String>,
    /// Map only the current user and group (to root) in a user namespace.
    #[arg(short = 'u', long = "use_current_user")]
    pub use_current_user: bool,
    /// Do not run the program as PID 1; a small init reaps and forwards.
    #[arg(short = 'i', long = "dont_run_as_init")]
    pub dont_run_as_init: bool,
    /// runc: run detached (create + start).
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// runc: write the init's pid to FILE.
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// runc: send the pty master over this Unix socket.
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// runc: pass N extra fds (from 3) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// runc: accepted for compatibility.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// runc: accepted for compatibility.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// The container id.
    pub id: String,
    /// Arguments appended to process.args.
    #[arg(last = true)]
    pub extra_args: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ExecArgs {
    /// The process as a JSON file (the config.json "process" object).
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Allocate a pty (needs --console-socket unless interactive).
    #[arg(short = 't', long)]
    pub tty: bool,
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Return once the process runs.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Working directory in the container.
    #[arg(long)]
    pub cwd: Option<String>,
    /// KEY=VALUE, added to the environment.
    #[arg(short = 'e', long)]
    pub env: Vec<String>,
    /// UID[:GID].
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional gids.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_NAME).
    #[arg(short = 'c', long)]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Accepted for runc compatibility (LSM labels are applied per config).
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    #[arg(long)]
    pub apparmor: Option<String>,
    /// The container id.
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct UpdateArgs {
    /// A linux.resources JSON file ("-" for stdin).
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// Memory limit in bytes.
    #[arg(long)]
    pub memory: Option<i64>,
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<i64>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<i64>,
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// The container id.
    pub id: String,
}

#[derive(Debug, Args, Clone)]
pub struct EventsArgs {
    /// Print resource usage once and exit.
    #[arg(long)]
    pub stats: bool,
    /// The container id.
    pub id: String,
}
