//! One module per command.
pub mod check;
pub mod checkpoint;
pub mod create;
pub mod destroy;
pub mod exec;
pub mod features;
pub mod kill;
pub mod monitor_client;
pub mod ps;
pub mod resources;
pub mod restore;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;

use crate::cli::RunArgs;
use crate::error::{Context, Error, Result};
use crate::options::{ContainerOptions, Dialect};
use std::path::{Path, PathBuf};

pub(super) fn absolute(p: &Path) -> Result<PathBuf> {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().ctx("getcwd")?.join(p)
    };
    joined
        .canonicalize()
        .with_ctx(|| format!("bundle {}", joined.display()))
}

/// The bundle's config.json, loaded and validated; errors name the
/// container, and a missing config.json says how to make one.
pub fn load_spec(opts: &ContainerOptions) -> Result<crate::spec::Spec> {
    let mut spec = load_checked(&opts.bundle).map_err(|e| {
        let mut msg = format!("container {}: {e}", opts.id);
        let config = opts.bundle.join(runoci_core::state::CONFIG_JSON);
        if std::fs::symlink_metadata(&config).is_err() {
            msg.push_str(&format!(
                " (is {} an OCI bundle? `runoci spec --bundle {}` writes a starter config.json)",
                opts.bundle.display(),
                opts.bundle.display()
            ));
        }
        Error::new(msg)
    })?;
    if let Some(socket) = &opts.notify_socket {
        crate::notify_socket::setup_spec(&mut spec, socket);
    }
    Ok(spec)
}

/// The bundle's config.json, validated, with what only this crate can
/// check (the seccomp filter compiles) and what only this host can take
/// (cgroup files, resctrl, network devices): for the commands that create
/// a container, before they create anything.
pub fn load_checked(bundle: &Path) -> Result<crate::spec::Spec> {
    let spec = crate::spec::load(bundle)?;
    crate::seccomp::check(&spec)?;
    check_host(&spec)?;
    Ok(spec)
}

/// The config values this host cannot apply, refused naming the field.
fn check_host(spec: &crate::spec::Spec) -> Result<()> {
    let Some(linux) = spec.linux.as_ref() else {
        return Ok(());
    };
    if let Some(rdt) = &linux.intel_rdt {
        runoci_core::resctrl::check(rdt)?;
    }
    crate::netdev::check_host(linux)?;
    if let Some(resources) = &linux.resources {
        // No cgroup filesystem at all is setup_cgroup's error to report.
        if let Ok(layout) = runoci_core::cgroups::Layout::detect() {
            runoci_core::cgroups::check_host(resources, &layout)?;
        }
    }
    Ok(())
}

/// A creation's first record: the creator (this process), the spec's
/// poststop and poststart hooks and the cgroup it is about to make, so
/// that the record need not be written again before the init exists.
pub fn first_record(
    spec: &crate::spec::Spec,
    opts: &ContainerOptions,
) -> runoci_core::state::RuntimeRecord {
    let hooks = spec.hooks.clone().unwrap_or_default();
    runoci_core::state::RuntimeRecord {
        owner_uid: nix::unistd::getuid().as_raw(),
        poststop: hooks.poststop,
        poststart: hooks.poststart,
        creator: Some(runoci_core::state::ProcessRef::current()),
        cgroup: crate::cgroup_setup::planned_record(spec, opts),
        ..Default::default()
    }
}

/// Claims the container's state directory for a creation: made, locked
/// and recorded with the creator (this process) and the spec's poststop
/// and poststart hooks before its name appears; `opts` learns where it is
/// and the lock's fd (held until the container is recorded or undone).
pub fn claim_state_dir(
    root: &Path,
    spec: &crate::spec::Spec,
    opts: &mut ContainerOptions,
) -> Result<(runoci_core::state::StateDir, runoci_core::state::Lock)> {
    let first = first_record(spec, opts);
    let (sd, lock) =
        runoci_core::state::StateDir::create_locked(root, &opts.id, &opts.bundle, &first)?;
    opts.container_dir = sd.dir.clone();
    opts.state_dir = Some(sd.dir.clone());
    opts.recorded_cgroup = first.cgroup;
    opts.lock_fd = Some(lock.raw_fd());
    Ok((sd, lock))
}

/// `--no-pivot` (runc's chroot instead of pivot_root, for roots where
/// pivot_root fails) is refused rather than dropped: a chroot leaves the
/// host's mount tree reachable from the container, and runoci always
/// pivots.
pub fn refuse_no_pivot(no_pivot: bool) -> Result<()> {
    if no_pivot {
        return Err(Error::new(
            "--no-pivot: not supported (runoci always uses pivot_root; a chroot would leave the host's root reachable)",
        ));
    }
    Ok(())
}

/// The options shared by `run` and `start`, from their command line.
pub fn container_options(args: &RunArgs) -> Result<ContainerOptions> {
    runoci_core::ids::validate(&args.id)?;
    refuse_no_pivot(args.no_pivot)?;
    let mut bundle = args.bundle.clone().or_else(|| args.container_path.clone());
    // runc's flags say runc's dialect (`create` is runc's whatever its flags).
    let mut dialect = if args.bundle.is_some()
        || args.detach
        || args.pid_file.is_some()
        || args.console_socket.is_some()
    {
        Dialect::Runc
    } else {
        Dialect::RunOci
    };
    let mut binds = Vec::new();
    for b in &args.bind_mount {
        match b.split_once(':') {
            Some((src, dst)) if !src.is_empty() && !dst.is_empty() => {
                // As mounts[].destination in config.json: refused, not
                // normalised, so what is mounted is what was asked for.
                crate::spec::no_dot_dot(&format!("-b {b}"), dst)?;
                let src = absolute(Path::new(src)).with_ctx(|| format!("-b {b}"))?;
                binds.push((src, dst.to_string()));
            }
            Some(_) => {
                return Err(Error::new(format!(
                    "-b {b:?}: expected HOST_PATH:CONTAINER_PATH"
                )))
            }
            // runc's `-b DIR`: the bundle.
            None if bundle.is_none() => {
                bundle = Some(PathBuf::from(b));
                dialect = Dialect::Runc;
            }
            None => {
                return Err(Error::new(format!(
                    "-b {b:?}: expected HOST_PATH:CONTAINER_PATH"
                )))
            }
        }
    }
    let bundle = absolute(&bundle.unwrap_or_else(|| PathBuf::from("."))).map_err(|e| {
        Error::new(format!(
            "container {}: {e} (give the bundle directory, which holds config.json and the rootfs, with -c/--bundle)",
            args.id
        ))
    })?;
    Ok(ContainerOptions {
        id: args.id.clone(),
        container_dir: bundle.clone(),
        dialect,
        bundle,
        extra_args: args.extra_args.clone(),
        bind_mounts: binds,
        cgroup_parent: args.cgroup_parent.clone(),
        systemd_cgroup: false,
        use_current_user: args.use_current_user,
        run_as_init: !args.dont_run_as_init,
        exec_fifo: None,
        preserve_fds: args.preserve_fds,
        console_socket: None,
        state_dir: None,
        lock_fd: None,
        new_session_keyring: !args.no_new_keyring,
        notify_socket: crate::notify_socket::from_env()?,
        recorded_cgroup: None,
    })
}
