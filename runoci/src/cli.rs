//! The command line: the run_oci dialect (`run|start|kill|destroy`) and the
//! runc dialect engines call, in one clap definition.

use crate::error::{Error, Result};
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
\x20                 runoci kill [-S SIGNAL] ID;  runoci destroy ID\n\
runc dialect:     runoci create --bundle B ID; runoci start ID; runoci state ID;\n\
\x20                 runoci kill ID [SIGNAL]; runoci delete [-f] ID\n\
tools:            runoci spec; runoci check",
    after_help = "Examples:\n  \
mkdir -p /tmp/demo/rootfs && runoci spec --bundle /tmp/demo   # then fill rootfs/\n  \
runoci run -c /tmp/demo demo -- -c 'echo hello'   # appended to process.args [\"sh\"]\n  \
runoci run -c /var/lib/bundles/web web -- --port 8080\n  \
runoci start -c ./bundle svc && runoci state svc && runoci kill -S TERM svc && runoci destroy svc\n  \
runoci check\n\n\
Without --log or -l, messages go to stderr when it is a terminal, else to syslog (/dev/log).\n\
State: /run/containers/ID (--root); an unprivileged caller's: $XDG_RUNTIME_DIR/runoci/ID.\n\
Man pages: runoci(8), runoci-COMMAND(8)."
)]
pub struct Cli {
    /// Directory for container state [default: /run/containers;
    /// unprivileged: $XDG_RUNTIME_DIR/runoci]
    #[arg(long = "root", global = true, value_name = "DIR")]
    pub root_arg: Option<PathBuf>,
    /// The state root: `--root`, else [`state_root`]'s (set by
    /// [`Cli::resolve_root`]).
    #[arg(skip)]
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
    /// Have systemd own the cgroup (a transient scope over D-Bus);
    /// cgroupsPath is "slice:prefix:name".
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

impl Cli {
    /// Sets `root`: `--root`, else [`state_root`]'s. Without a usable
    /// XDG_RUNTIME_DIR an unprivileged caller gets an error naming it,
    /// except for the commands that keep no state and a foreground `run`,
    /// which runs without a record when it may not write the root (as the
    /// reference's `run -u`).
    pub fn resolve_root(&mut self) -> Result<()> {
        self.root = match &self.root_arg {
            Some(dir) => dir.clone(),
            None => match state_root(
                runoci_core::userns::rootless_caller(),
                std::env::var_os("XDG_RUNTIME_DIR"),
            ) {
                Ok(dir) => dir,
                Err(_) if self.keeps_no_state() => PathBuf::from(DEFAULT_ROOT),
                Err(e) => return Err(e),
            },
        };
        Ok(())
    }

    fn keeps_no_state(&self) -> bool {
        match &self.command {
            Command::Spec(_) | Command::Features | Command::Check(_) => true,
            Command::Run(a) => !a.detach,
            _ => false,
        }
    }
}

/// The default state root: `/run/containers`, or for an unprivileged
/// caller (see `userns::rootless_caller`) `$XDG_RUNTIME_DIR/runoci`, as
/// runc keeps `$XDG_RUNTIME_DIR/runc` (the monitor's socket is there too).
/// XDG_RUNTIME_DIR must be an absolute path to a directory the caller may
/// write; it is not made here (it is the session's: pam_systemd, or a
/// rootless engine, makes it).
pub fn state_root(rootless: bool, xdg_runtime_dir: Option<std::ffi::OsString>) -> Result<PathBuf> {
    if !rootless {
        return Ok(PathBuf::from(DEFAULT_ROOT));
    }
    let uid = nix::unistd::geteuid();
    let fix = "pass --root DIR, or set XDG_RUNTIME_DIR to a directory you own";
    let dir = match xdg_runtime_dir.filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            return Err(Error::new(format!(
                "no state root for unprivileged uid {uid}: XDG_RUNTIME_DIR is not set ({fix})"
            )))
        }
    };
    let usable = dir.is_absolute()
        && dir.is_dir()
        && nix::unistd::access(
            &dir,
            nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
        )
        .is_ok();
    if !usable {
        return Err(Error::new(format!(
            "no state root for unprivileged uid {uid}: XDG_RUNTIME_DIR={} is not an absolute path to a directory uid {uid} may write ({fix})",
            dir.display()
        )));
    }
    Ok(dir.join("runoci"))
}

/// `defer`: each subcommand's arguments are built only when it is the
/// one given (or its help is asked for), not all twenty on every call:
/// building the whole tree was a fifth of a `run`'s instructions before
/// the container and most of its heap growth.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Create and run a container in the foreground; exits with its status.
    #[command(
        after_help = "The container gets runoci's stdin, stdout and stderr; runoci exits with the\n\
container's exit status (128+N when killed by signal N).\n\n\
Examples:\n  \
runoci run -c /tmp/demo demo\n  \
runoci run -c /tmp/demo demo -- -c 'echo hello'   # arguments appended to process.args\n  \
runoci run --bundle /tmp/demo -b /srv/data:/data demo"
    )]
    Run(RunArgs),
    /// Start a created container (runc); or create and start one in the
    /// background, under its monitor (run_oci).
    #[command(
        after_help = "Returns once the container runs (exit 0), or with the exact error, leaving\n\
nothing behind. Its monitor answers state/kill/wait/events on\n\
/run/containers/ID/monitor.sock.\n\n\
Examples:\n  \
runoci start -c /tmp/demo svc -- sleep 1000     # run_oci: create and start\n  \
runoci create --bundle /tmp/demo svc && runoci start svc   # runc: start a created one"
    )]
    Start(RunArgs),
    /// Create a container and leave it waiting for `start` (runc).
    #[command(after_help = "Examples:\n  \
runoci create --bundle /tmp/demo --pid-file /tmp/demo.pid svc\n  \
runoci start svc")]
    Create(RunArgs),
    /// Send a signal to a container (default TERM).
    #[command(after_help = "Examples:\n  \
runoci kill svc                 # SIGTERM\n  \
runoci kill -S KILL svc         # run_oci style\n  \
runoci kill svc SIGHUP          # runc style; a number works too\n  \
runoci kill --all svc 9")]
    Kill(KillArgs),
    /// Remove a stopped container (poststop hooks, mounts, cgroups, record).
    #[command(
        visible_alias = "delete",
        after_help = "Examples:\n  \
runoci destroy svc\n  \
runoci delete --force svc       # SIGKILL it first if it still runs"
    )]
    Destroy(DestroyArgs),
    /// Run a process in a running container.
    #[command(after_help = "Examples:\n  \
runoci exec svc ps\n  \
runoci exec -e FOO=1 --cwd /tmp svc sh -c 'echo $FOO'\n  \
runoci exec --process process.json svc")]
    Exec(ExecArgs),
    /// Freeze every process of a container (cgroup freezer).
    #[command(after_help = "Example:\n  runoci pause svc && runoci resume svc")]
    Pause(IdArg),
    /// Thaw a paused container.
    #[command(after_help = "Example:\n  runoci pause svc && runoci resume svc")]
    Resume(IdArg),
    /// Change a running container's cgroup limits.
    #[command(after_help = "Examples:\n  \
runoci update --memory 268435456 --pids-limit 100 svc\n  \
echo '{\"pids\": {\"limit\": 50}}' | runoci update -r - svc")]
    Update(UpdateArgs),
    /// Resource usage (`--stats`) of a container, as runc prints it.
    #[command(after_help = "Examples:\n  \
runoci events --stats svc       # resource usage once, as JSON\n  \
runoci events svc               # follow started/exited/oom events (monitor socket)")]
    Events(EventsArgs),
    /// List a container's processes.
    #[command(after_help = "Examples:\n  runoci ps svc\n  runoci ps -f json svc")]
    Ps(PsArgs),
    /// The runtime-spec features document of this runtime.
    #[command(after_help = "Example:\n  runoci features | grep -A3 namespaces")]
    Features,
    /// Print a container's OCI state as JSON.
    #[command(
        after_help = "Example:\n  runoci state svc     # {\"ociVersion\": ..., \"status\": \"running\", \"pid\": ...}"
    )]
    State(IdArg),
    /// List the containers under --root.
    #[command(
        visible_alias = "ls",
        after_help = "Examples:\n  runoci list\n  runoci list -q\n  runoci --root /run/runc list -f json"
    )]
    List(ListArgs),
    /// Write a starter config.json (like `runc spec`) into a bundle.
    #[command(
        after_help = "The config runs `sh` in the bundle's rootfs/ with runc's default mounts,\n\
namespaces, capabilities, masked and read-only paths. Unlike runc's,\n\
process.terminal is false: `runoci run` hands the container its own stdio.\n\
An existing config.json is never overwritten.\n\n\
Examples:\n  \
mkdir -p /tmp/demo/rootfs && runoci spec --bundle /tmp/demo\n  \
runoci spec --rootless          # user namespace mapping your uid and gid to root"
    )]
    Spec(SpecArgs),
    /// Checkpoint a running container to disk with CRIU.
    #[command(after_help = "Examples:\n  \
runoci checkpoint --image-path /var/lib/ckpt/svc svc          # svc stops\n  \
runoci checkpoint --leave-running --image-path /tmp/c svc     # svc goes on\n  \
runoci checkpoint --pre-dump --image-path /tmp/pre svc && \\\n    \
runoci checkpoint --parent-path ../pre --image-path /tmp/full svc")]
    Checkpoint(CheckpointArgs),
    /// Restore a container from a checkpoint with CRIU.
    #[command(
        after_help = "Without --detach (or --pid-file, --console-socket) the restored container\n\
runs under its own monitor, as after `start`; with them its init is the\n\
caller's child, as after runc's `create`.\n\n\
Examples:\n  \
runoci restore --image-path /var/lib/ckpt/svc -c /tmp/demo svc\n  \
runoci restore -d --pid-file /tmp/svc.pid --image-path /tmp/c --bundle /tmp/demo svc2"
    )]
    Restore(RestoreArgs),
    /// Report what this host supports and what it means for config.json.
    #[command(
        visible_alias = "doctor",
        after_help = "Probes namespaces, the cgroup layout and controllers, seccomp, openat2,\n\
pidfd_open, loop devices, device-mapper and LSMs; changes nothing; exits 0.\n\n\
Examples:\n  runoci check\n  runoci check --format json"
    )]
    Check(CheckArgs),
}

#[derive(Debug, Args, Clone)]
pub struct SpecArgs {
    /// Where to write config.json (default: the current directory).
    #[arg(short = 'b', long = "bundle", value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// A config for an unprivileged user: a user namespace mapping the
    /// caller's uid and gid to root, no network namespace, /sys bound
    /// from the host, no cgroup settings.
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// text or json.
    #[arg(short = 'f', long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
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

// Options of `run` and `start` (both dialects). A `//` comment: with the
// subcommands deferred, a doc comment here would become their `about`.
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
    /// runc: keep the container's record (stopped, with its exit) after it
    /// exits, until `delete`; its cgroups and mounts still go.
    #[arg(long)]
    pub keep: bool,
    /// runc: write the init's pid to FILE.
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// runc: send the pty master over this Unix socket.
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// runc: pass N extra fds (from 3) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0, value_parser = parse_preserve_fds)]
    pub preserve_fds: u32,
    /// runc: chroot instead of pivot_root. Refused: runoci always pivots.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// runc: keep the caller's session keyring instead of a new one for
    /// the container.
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
    #[arg(short = 'g', long = "additional-gids", value_parser = parse_gid)]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_NAME).
    #[arg(short = 'c', long)]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long = "preserve-fds", default_value_t = 0, value_parser = parse_preserve_fds)]
    pub preserve_fds: u32,
    /// Exec in a paused container too (the process stays frozen until resume).
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Run in an existing sub-cgroup of the container's cgroup: one PATH
    /// (every hierarchy), or CONTROLLER[,CONTROLLER]:PATH, repeated.
    #[arg(long = "cgroup", value_name = "[CONTROLLER[,CONTROLLER]:]PATH")]
    pub cgroup: Vec<String>,
    /// The SELinux label of the exec'd process (replaces
    /// process.selinuxLabel).
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// The AppArmor profile of the exec'd process (replaces
    /// process.apparmorProfile).
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
    #[arg(long = "cpu-shares", alias = "cpu-share")]
    pub cpu_shares: Option<u64>,
    /// CPU realtime period (v1 only).
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime (v1 only).
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    /// Block IO weight, 10 to 1000.
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// The Intel RDT L3 cache schema line (`L3:...`) for the container's resctrl group.
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// The Intel RDT memory bandwidth schema line (`MB:...`).
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
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

/// A gid on the command line, through the one id check config.json uses.
fn parse_gid(text: &str) -> Result<u32, String> {
    crate::spec::parse_id("--additional-gids", text).map_err(|e| e.to_string())
}

/// The most fds `--preserve-fds` may name: fd 3+N must be an fd number (an
/// `int`). Without the bound 3+N wrapped to 2 and stderr was closed on exec.
pub const MAX_PRESERVE_FDS: u32 = i32::MAX as u32 - 3;

fn parse_preserve_fds(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if n <= MAX_PRESERVE_FDS => Ok(n),
        _ => Err(format!(
            "{text:?} is not a number of fds in 0..={MAX_PRESERVE_FDS}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unprivileged_caller_keeps_state_under_xdg_runtime_dir() {
        assert_eq!(
            state_root(false, Some("/tmp".into())).unwrap(),
            PathBuf::from(DEFAULT_ROOT)
        );
        assert_eq!(
            state_root(true, Some("/tmp".into())).unwrap(),
            PathBuf::from("/tmp/runoci")
        );
        for (xdg, says) in [
            (None, "XDG_RUNTIME_DIR is not set"),
            (Some(""), "XDG_RUNTIME_DIR is not set"),
            (Some("relative/dir"), "XDG_RUNTIME_DIR=relative/dir is not"),
            (
                Some("/nonexistent/xdg"),
                "XDG_RUNTIME_DIR=/nonexistent/xdg is not",
            ),
        ] {
            let err = state_root(true, xdg.map(Into::into))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says) && err.contains("--root"), "{err}");
        }
    }
}

// What `checkpoint` and `restore` share (runc's names); `//` as RunArgs'.
#[derive(Debug, Args, Clone)]
pub struct CriuArgs {
    /// Directory of the checkpoint images [default: ./checkpoint].
    #[arg(long = "image-path", value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Directory for CRIU's log and work files [default: the image path].
    #[arg(long = "work-path", value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets.
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow a shell job (a session and terminal from outside).
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// cgroups mode: soft (default), full, strict or ignore.
    #[arg(long = "manage-cgroups-mode", value_name = "MODE", default_value = "")]
    pub manage_cgroups_mode: String,
    /// Make this namespace empty instead of restoring it: network.
    #[arg(long = "empty-ns", value_name = "NS", default_value = "")]
    pub empty_ns: String,
}

#[derive(Debug, Args, Clone)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Leave the container running after the checkpoint.
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Dump memory only, to be followed by a checkpoint with --parent-path.
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// The previous (pre-)dump's images, relative to --image-path.
    #[arg(long = "parent-path", value_name = "DIR")]
    pub parent_path: Option<String>,
    /// The container id.
    pub id: String,
}

#[derive(Debug, Args, Clone)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// The bundle directory (default: the current directory).
    #[arg(
        short = 'b',
        long = "bundle",
        visible_alias = "container_path",
        short_alias = 'c',
        value_name = "PATH"
    )]
    pub bundle: Option<PathBuf>,
    /// runc: leave the restored init to the caller (no monitor).
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the restored init's pid here.
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Send the restored terminal's master to this Unix socket.
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// runc: chroot instead of pivot_root. Refused: runoci always pivots.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// The container id.
    pub id: String,
}
