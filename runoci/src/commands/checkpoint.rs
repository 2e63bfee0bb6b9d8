//! `runoci checkpoint`: dump a running container with CRIU. Without
//! `--leave-running` CRIU ends the container once dumped: its monitor (or
//! the engine) sees the init exit, and the container is `stopped`.
//! On failure the container runs on, untouched, and the error quotes
//! CRIU's log (kept in the work path).

use crate::cli::{CheckpointArgs, CriuArgs};
use crate::criu::{self, request};
use crate::error::{Context, Error, Result};
use runoci_core::cgroups::Cgroup;
use runoci_core::state::{RuntimeRecord, StateDir};
use runoci_proto::Status;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The images and work directories: absolute, made if missing (0700).
pub(super) fn dirs(a: &CriuArgs, create_images: bool) -> Result<(PathBuf, PathBuf)> {
    let abs = |p: &Path| -> Result<PathBuf> {
        Ok(if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().ctx("getcwd")?.join(p)
        })
    };
    let images = abs(a.image_path.as_deref().unwrap_or(Path::new("checkpoint")))?;
    if !create_images && !images.is_dir() {
        return Err(Error::new(format!(
            "--image-path {}: no checkpoint there",
            images.display()
        )));
    }
    let work = match &a.work_path {
        Some(w) => abs(w)?,
        None => images.clone(),
    };
    Ok((images, work))
}

/// The request options both commands share, parsed from their flags.
pub(super) fn options(a: &CriuArgs) -> Result<request::Options> {
    Ok(request::Options {
        tcp_established: a.tcp_established,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        cgroups_mode: Some(request::parse_cgroups_mode(&a.manage_cgroups_mode)?),
        empty_ns: request::parse_empty_ns(&a.empty_ns)?,
        ..Default::default()
    })
}

/// The file a restore reads the init's stdio from: which of fds 0-2 were
/// pipes or files outside the container (runc's descriptors.json), to
/// hand the caller's back.
pub const DESCRIPTORS: &str = "descriptors.json";

/// The file that carries run_oci's `-b A:B` bind mounts (host source,
/// destination) from the record to a restore: CRIU's external mounts,
/// keyed by destination.
pub const BINDS: &str = "runoci-binds.json";

pub fn checkpoint(root: &Path, a: &CheckpointArgs) -> Result<i32> {
    // A pre-dump leaves the container running whatever --leave-running
    // says: CRIU does not read it for a PRE_DUMP.
    let o = request::Options {
        leave_running: a.leave_running,
        pre_dump: a.pre_dump,
        parent_path: a.parent_path.clone(),
        ..options(&a.criu)?
    };
    let sd = StateDir::open(root, &a.id)?;
    // No destroy, kill-all or second checkpoint while CRIU works.
    let _lock = sd.lock()?;
    let st = super::state::from_files(&sd)?;
    if st.status != Status::Running {
        return Err(Error::new(format!(
            "container {}: it is {}: only a running container can be checkpointed",
            a.id,
            st.status.as_str()
        )));
    }
    let record = sd.read_record()?;
    let bundle = PathBuf::from(&st.bundle);
    let spec = crate::spec::load(&bundle).map_err(|e| Error::new(e.to_string()))?;
    dump(&spec, &bundle, &record, &a.criu, &o)
        .map_err(|e| e.context(format!("container {}: checkpoint", a.id)))?;
    Ok(0)
}

fn dump(
    spec: &crate::spec::Spec,
    bundle: &Path,
    record: &RuntimeRecord,
    a: &CriuArgs,
    o: &request::Options,
) -> Result<()> {
    let (images_path, work_path) = dirs(a, true)?;
    let images = criu::open_dir(&images_path, true)?;
    if let Some(p) = &o.parent_path {
        // Relative to the images (made above: `..` resolves through
        // them). A missing one is said here, by its flag, rather than
        // left to CRIU's log.
        let parent = images_path.join(p);
        if !parent.is_dir() {
            return Err(Error::new(format!(
                "--parent-path {p}: no (pre-)dump at {}",
                parent.display()
            )));
        }
    }
    let work = criu::open_dir(&work_path, true)?;
    let rootfs = crate::rootfs::rootfs_path(spec, bundle)?;
    let pid = record.pid;
    let mut externals = Vec::new();
    for ns in request::external_namespaces(spec)? {
        let ino = std::fs::metadata(&ns.path)
            .with_ctx(|| format!("linux.namespaces: {}", ns.path))?
            .ino();
        externals.push(format!("{}[{ino}]:{}", ns.kind, ns.key));
    }
    // Seen through the init's root: a masked path that is a file there is
    // a bind of /dev/null. Resolved inside that root: a stat of
    // /proc/PID/root/PATH would follow the container's absolute symlinks
    // on the host.
    let init_root = std::fs::File::open(format!("/proc/{pid}/root"))
        .with_ctx(|| format!("open /proc/{pid}/root"))?;
    let mut mounts = request::dump_mounts(spec, |p| {
        crate::resolve::open_in_root(init_root.as_raw_fd(), Path::new(p), libc::O_PATH)
            .ok()
            .and_then(|fd| crate::resolve::fstat(fd.as_raw_fd()).ok())
            .is_some_and(|st| st.st_mode & libc::S_IFMT != libc::S_IFDIR)
    });
    mounts.extend(
        record
            .binds
            .iter()
            .map(|(_, dst)| (dst.clone(), dst.clone())),
    );
    let stdio = stdio(pid)?;
    if !o.pre_dump {
        let json = serde_json::to_vec(&stdio.keys).map_err(|e| Error::new(e.to_string()))?;
        runoci_core::state::write_atomic(&images_path.join(DESCRIPTORS), &json)
            .with_ctx(|| format!("write {}", images_path.join(DESCRIPTORS).display()))?;
        externals.extend(stdio.external);
        let json = serde_json::to_vec(&record.binds).map_err(|e| Error::new(e.to_string()))?;
        runoci_core::state::write_atomic(&images_path.join(BINDS), &json)
            .with_ctx(|| format!("write {}", images_path.join(BINDS).display()))?;
    }
    let req = request::dump(
        o,
        request::DumpTarget {
            pid,
            rootfs: &rootfs.display().to_string(),
            freezer: freezer(record),
            mounts,
            externals,
        },
        images.as_raw_fd(),
        work.as_raw_fd(),
    );
    let log = work_path.join(req.opts.log_file());
    criu::Swrk::spawn()?.call(&req, &log, |_, _, _| Ok(()))?;
    Ok(())
}

/// The init's fds 0-2 as a restore hands them back (runc's
/// descriptors.json): a pipe by its `pipe:[ino]`, a file opened outside
/// the container's mounts (the caller's /dev/null, a log file) by CRIU's
/// external-file key `file[mnt_id:ino]` (hex), also returned in
/// `external` for the dump: CRIU cannot dump a file on a mount it does not
/// see, and restores an external one from the fd the restore inherits.
/// Anything else (a tty, a file in the container) as its path.
struct Stdio {
    keys: Vec<String>,
    external: Vec<String>,
}

fn stdio(pid: i32) -> Result<Stdio> {
    let mounts = runoci_core::mountinfo::read(Path::new(&format!("/proc/{pid}/mountinfo")))
        .with_ctx(|| format!("read /proc/{pid}/mountinfo"))?;
    let mut out = Stdio {
        keys: Vec::new(),
        external: Vec::new(),
    };
    for i in 0..3 {
        let fd = format!("/proc/{pid}/fd/{i}");
        let Ok(link) = std::fs::read_link(&fd) else {
            out.keys.push(String::new());
            continue;
        };
        let link = link.display().to_string();
        let mnt_id = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{i}"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("mnt_id:"))
                    .and_then(|v| v.trim().parse::<u32>().ok())
            });
        let outside =
            link.starts_with('/') && mnt_id.is_some_and(|id| !mounts.iter().any(|m| m.id == id));
        match (outside, std::fs::metadata(&fd)) {
            (true, Ok(meta)) => {
                let key = format!("file[{:x}:{:x}]", mnt_id.unwrap_or(0), meta.ino());
                out.external.push(key.clone());
                out.keys.push(key);
            }
            _ => out.keys.push(link),
        }
    }
    Ok(out)
}

/// The cgroup CRIU freezes the container with: v1's freezer, else the
/// v2 directory (CRIU 3.14+); without one CRIU stops the tasks by ptrace.
fn freezer(record: &RuntimeRecord) -> Option<String> {
    let cg = Cgroup::from_record(record.cgroup.as_ref()?);
    let dir = cg
        .controller_dir("freezer")
        .map(|(_, dir)| dir)
        .or(cg.unified_dir())?;
    Some(dir.display().to_string())
}
