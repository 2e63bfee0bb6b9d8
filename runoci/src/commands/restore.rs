//! `runoci restore`: a container from a checkpoint, by CRIU. Without
//! `--detach`, `--pid-file` or `--console-socket` the restored init is
//! held by its own monitor as after `start` (run_oci); with them it is the
//! caller's child as after runc's `create` (CRIU restores it as a sibling
//! of itself: our child, left to the engine's subreaper when we exit).
//! The id must be free; on failure nothing is left and the error quotes
//! CRIU's log.

use super::checkpoint::{dirs, options, BINDS, DESCRIPTORS};
use super::start::MakeInit;
use crate::cli::{Cli, RestoreArgs};
use crate::container::Created;
use crate::criu::{self, request};
use crate::error::{Context, Error, Result};
use crate::options::{ContainerOptions, Dialect};
use crate::spec::Spec;
use runoci_proto::Status;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

struct Restore {
    images: PathBuf,
    work: PathBuf,
    o: request::Options,
}

pub fn restore(cli: &Cli, a: &RestoreArgs) -> Result<i32> {
    runoci_core::ids::validate(&a.id)?;
    super::refuse_no_pivot(a.no_pivot)?;
    let (images, work) = dirs(&a.criu, false)?;
    let r = Restore {
        images,
        work,
        o: options(&a.criu)?,
    };
    let detached = a.detach || a.pid_file.is_some() || a.console_socket.is_some();
    let bundle = super::absolute(a.bundle.as_deref().unwrap_or(Path::new(".")))?;
    let mut opts = ContainerOptions {
        id: a.id.clone(),
        container_dir: bundle.clone(),
        dialect: if detached {
            Dialect::Runc
        } else {
            Dialect::RunOci
        },
        bundle,
        bind_mounts: read_binds(&r.images)?,
        systemd_cgroup: cli.systemd_cgroup,
        run_as_init: true,
        console_socket: a.console_socket.clone(),
        ..Default::default()
    };
    let spec = super::load_spec(&opts)?;
    request::external_namespaces(&spec)?;
    let make = |spec: &Spec, opts: &ContainerOptions| restore_init(spec, opts, &r);
    if !detached {
        let monitor = super::start::monitor_path(cli)?;
        let (sd, lock) = super::claim_state_dir(&cli.root, &spec, &mut opts)?;
        let start = super::start::MonitoredStart {
            sd: &sd,
            spec: &spec,
            opts: &opts,
            monitor: &monitor,
            log_file: None,
            make: MakeInit(&make),
        };
        super::start::under_monitor(start, lock)?;
        return Ok(0);
    }
    let (sd, _lock) = super::claim_state_dir(&cli.root, &spec, &mut opts)?;
    let result = make(&spec, &opts).and_then(|created| {
        let hooks = spec.hooks.clone().unwrap_or_default();
        let recorded = created
            .record(&sd, Status::Running, 0, &hooks.poststop, &[])
            .and_then(|()| match &a.pid_file {
                Some(p) => super::create::write_pid_file(p, created.pid),
                None => Ok(()),
            });
        if let Err(e) = recorded {
            created.abandon();
            return Err(e);
        }
        Ok(())
    });
    match result {
        Ok(()) => Ok(0),
        Err(e) => {
            // Once, if the restore got as far as the prestart hooks.
            let hooks = spec.hooks.clone().unwrap_or_default();
            runoci_core::lifecycle::poststop_once(&sd, &hooks.poststop);
            let _ = sd.remove();
            Err(e.context(format!("container {}: restore", a.id)))
        }
    }
}

/// A JSON file the checkpoint wrote into the images, `None` when absent
/// (a checkpoint without it): the images come from outside, so a file
/// that does not parse is an error, not an empty list.
fn read_images_json<T: serde::de::DeserializeOwned>(
    images: &Path,
    name: &str,
) -> Result<Option<T>> {
    let path = images.join(name);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::new(format!("read {}: {e}", path.display()))),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::new(format!("{}: {e}", path.display())))
}

/// The `-b A:B` bind mounts the checkpointed container was started with
/// (`BINDS` in the images, absent when none): bound again from the same
/// host sources, checked as `-b` checks them (an absolute source, no
/// `..` in the destination).
fn read_binds(images: &Path) -> Result<Vec<(PathBuf, String)>> {
    let binds: Vec<(String, String)> = read_images_json(images, BINDS)?.unwrap_or_default();
    binds
        .into_iter()
        .map(|(src, dst)| {
            let what = format!("{}: -b {src}:{dst}", images.join(BINDS).display());
            if !src.starts_with('/') {
                return Err(Error::new(format!("{what}: the source is not absolute")));
            }
            crate::spec::no_dot_dot(&what, &dst)?;
            Ok((PathBuf::from(src), dst))
        })
        .collect()
}

/// Where the restored tree goes: criu joins the container's cgroup before
/// it restores anything (what it forks is born there). cgroupfs: the
/// cgroup made first. `--systemd-cgroup`: the scope, started with criu's
/// pid in it (runc's `Apply(criu's pid)` too); its cgroup is known once
/// systemd started it. The restored init keeps the scope when criu exits.
struct Placement<'a> {
    scope: Option<&'a crate::systemd::ScopePlan>,
    cgroup: Option<runoci_core::cgroups::Cgroup>,
}

impl Placement<'_> {
    fn join(&mut self, spec: &Spec, opts: &ContainerOptions, criu: i32) -> Result<()> {
        match (self.scope, &self.cgroup) {
            (Some(plan), _) => {
                self.cgroup = Some(crate::systemd::start_scope(plan, spec, opts, criu)?)
            }
            (None, Some(cg)) => cg.add_pid(criu)?,
            (None, None) => {}
        }
        Ok(())
    }
}

/// The container's cgroup (or scope) made, its rootfs bound where CRIU
/// wants a root, CRIU asked; the restored init, our child.
fn restore_init(spec: &Spec, opts: &ContainerOptions, r: &Restore) -> Result<Created> {
    let scope = crate::systemd::ScopePlan::for_container(spec, opts)?;
    let mut place = Placement {
        scope: scope.as_ref(),
        cgroup: match scope {
            Some(_) => None,
            None => crate::cgroup_setup::setup_cgroup(spec, opts)?,
        },
    };
    let result = restore_in_cgroup(spec, opts, r, &mut place);
    let cgroup = place.cgroup;
    match result {
        Ok((pid, pidfd)) => Ok(Created {
            pid,
            pidfd,
            cgroup,
            resctrl: None,
            systemd_unit: scope.map(|s| s.unit),
            hook_state: opts.hook_state(spec, pid),
            no_new_keyring: true,
            binds: opts.bind_mounts.clone(),
        }),
        Err(e) => {
            if let Some(cg) = &cgroup {
                // CRIU kills what it restored when it fails; anything
                // left in the cgroup goes with it, and is waited for: a
                // cgroup is not removed while a process is still in it.
                let _ = cg.kill_all_and_wait(std::time::Duration::from_secs(3));
                let _ = cg.destroy();
            }
            if let Some(plan) = &scope {
                let _ = crate::systemd::stop(&plan.unit);
            }
            Err(e)
        }
    }
}

fn restore_in_cgroup(
    spec: &Spec,
    opts: &ContainerOptions,
    r: &Restore,
    place: &mut Placement,
) -> Result<(i32, OwnedFd)> {
    let images = criu::open_dir(&r.images, false)?;
    let work = criu::open_dir(&r.work, true)?;
    let rootfs = crate::rootfs::rootfs_path(spec, &opts.bundle)?;
    create_mountpoints(spec, &external_mounts(spec, opts), &rootfs)?;
    // CRIU wants its root a mount point whose parent is not overmounted:
    // the rootfs, bound (recursively) under the state directory for the
    // time of the restore and detached after.
    let root = opts
        .state_dir
        .as_ref()
        .ok_or_else(|| Error::new("restore without a state directory"))?
        .join("criu-root");
    std::fs::create_dir(&root).with_ctx(|| format!("mkdir {}", root.display()))?;
    let bound = nix::mount::mount(
        Some(&rootfs),
        &root,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
        None::<&str>,
    )
    .with_ctx(|| format!("bind {} at {}", rootfs.display(), root.display()));
    let result = bound.and_then(|()| ask_criu(spec, opts, r, &root, &images, &work, place));
    let _ = nix::mount::umount2(&root, nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir(&root);
    result
}

/// CRIU's external mounts at restore: the config's bind mounts and the
/// `-b A:B` ones, each destination mapped to its host source.
fn external_mounts(spec: &Spec, opts: &ContainerOptions) -> Vec<(String, String)> {
    let mut mounts = request::restore_mounts(spec, &opts.bundle);
    mounts.extend(
        opts.bind_mounts
            .iter()
            .map(|(src, dst)| (dst.clone(), src.display().to_string())),
    );
    mounts
}

/// CRIU mounts the binds again where they were and fails on a mountpoint
/// the rootfs lacks (a fresh copy of the image's rootfs): each is made
/// first, resolved inside the rootfs (a symlink there cannot lead out),
/// a file for a file's bind, as runc does. Those under a tmpfs of the
/// config are the tmpfs's, restored with its content.
fn create_mountpoints(spec: &Spec, mounts: &[(String, String)], rootfs: &Path) -> Result<()> {
    use crate::resolve::{self, Kind};
    let tmpfs: Vec<&str> = spec
        .mounts
        .iter()
        .filter(|m| m.typ.as_deref() == Some("tmpfs"))
        .map(|m| m.destination.trim_end_matches('/'))
        .collect();
    let root = std::fs::File::open(rootfs).with_ctx(|| format!("open {}", rootfs.display()))?;
    for (dest, src) in mounts {
        let under_tmpfs = tmpfs
            .iter()
            .any(|t| Path::new(dest).starts_with(t) && Path::new(dest) != Path::new(t));
        if under_tmpfs {
            continue;
        }
        let kind = if Path::new(src).is_dir() {
            Kind::Dir
        } else {
            Kind::File
        };
        resolve::mkdir_all_in_root(root.as_raw_fd(), Path::new(dest), kind)
            .with_ctx(|| format!("create the mountpoint {dest} in {}", rootfs.display()))?;
    }
    Ok(())
}

fn ask_criu(
    spec: &Spec,
    opts: &ContainerOptions,
    r: &Restore,
    root: &Path,
    images: &std::fs::File,
    work: &std::fs::File,
    place: &mut Placement,
) -> Result<(i32, OwnedFd)> {
    // Namespaces joined by path at checkpoint, handed back by fd; criu
    // inherits them (not close-on-exec until it has run).
    let mut held = Vec::new();
    let mut inherit = Vec::new();
    for ns in request::external_namespaces(spec)? {
        let f =
            std::fs::File::open(&ns.path).with_ctx(|| format!("linux.namespaces: {}", ns.path))?;
        nix::fcntl::fcntl(
            f.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .ctx("clear close-on-exec")?;
        inherit.push((ns.key.to_string(), f.as_raw_fd()));
        held.push(f);
    }
    // The init's stdio pipes and outside files at checkpoint are ours now
    // (criu inherits our stdio): the engine's pipes go on, the caller's
    // /dev/null or log stands in for the one at checkpoint.
    let fds: Vec<String> = read_images_json(&r.images, DESCRIPTORS)?.unwrap_or_default();
    for (i, d) in fds.iter().enumerate().take(3) {
        if d.starts_with("pipe:") || d.starts_with("file[") {
            inherit.push((d.clone(), i as i32));
        }
    }
    let mut req = request::restore(
        &r.o,
        &root.display().to_string(),
        external_mounts(spec, opts),
        &inherit,
        images.as_raw_fd(),
        work.as_raw_fd(),
    );
    let log = r.work.join(req.opts.log_file());
    let swrk = criu::Swrk::spawn()?;
    if let Err(e) = place.join(spec, opts, swrk.pid()) {
        drop(swrk);
        return Err(e);
    }
    if place.cgroup.is_some() {
        let text = std::fs::read_to_string(format!("/proc/{}/cgroup", swrk.pid()))
            .ctx("read criu's cgroups")?;
        req.opts.mut_or_insert_default().cg_root = request::cgroup_roots(&text);
    }
    let mut console_sent = false;
    let resp = swrk.call(&req, &log, |script, notify, fd| {
        if script == "setup-namespaces" {
            // The restored init's namespaces exist, nothing of it runs
            // yet: where creation runs them (runc does the same).
            let hs = opts.hook_state(spec, notify.pid());
            return crate::container::create_runtime_hooks(spec, opts, &hs);
        }
        if script == "orphan-pts-master" {
            match (fd, &opts.console_socket) {
                (Some(master), Some(socket)) => {
                    crate::console::send_master(socket, &master)?;
                    console_sent = true;
                }
                // Dropped, the restored terminal would have no master (as
                // `create` of a terminal without one, refused; runc fails too).
                (Some(_), None) => {
                    return Err(Error::new(
                        "the checkpoint has a terminal: give --console-socket for its master",
                    ))
                }
                (None, _) => {}
            }
        }
        Ok(())
    })?;
    drop(held);
    let pid = resp.restore.pid();
    if opts.console_socket.is_some() && !console_sent {
        crate::log::emit_warning(format_args!(
            "container {}: --console-socket given but the checkpoint has no terminal",
            opts.id
        ));
    }
    let pidfd = runoci_core::pidfd::open(pid)
        .map_err(|e| Error::from(e).context("pidfd_open of the restored init"))?;
    Ok((pid, pidfd))
}
