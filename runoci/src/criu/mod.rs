//! Checkpoint and restore through CRIU's RPC interface: `criu swrk FD`
//! over a SOCK_SEQPACKET pair, requests and replies in CRIU's rpc.proto.
//!
//! The message types are rust-criu's (checkpoint-restore's own crate,
//! generated from CRIU's rpc.proto); the exchange is ours, because
//! rust-criu 0.6's `Criu` has no pre-dump request, drops the restore reply
//! (the restored init's pid) and takes notify callbacks as plain `fn`s.
//! What is asked of CRIU, built from the spec, is in `request.rs`.

pub mod request;

use crate::error::{Context, Error, Result};
use protobuf::Message;
use rust_criu::rust_criu_protobuf::rpc;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The criu binary: `RUNOCI_CRIU`, else `criu` on PATH.
pub fn binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("RUNOCI_CRIU") {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join("criu"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::new("criu not found on PATH (install criu, e.g. `apt-get install criu`)")
        })
}

/// Whether CRIU works here: `Ok(version line)`, or why not (the binary is
/// missing, or `criu check`'s last error lines).
pub fn usable() -> std::result::Result<String, String> {
    let criu = binary().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(&criu)
        .arg("check")
        .output()
        .map_err(|e| format!("run {} check: {e}", criu.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && text.contains("Looks good") {
        let version = std::process::Command::new(&criu)
            .arg("--version")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .replace('\n', ", ")
            })
            .unwrap_or_default();
        return Ok(version);
    }
    Err(format!(
        "`criu check` fails: {}",
        last_errors(&text, 3).unwrap_or_else(|| text.trim().to_string())
    ))
}

/// The last `n` lines of a CRIU log that say `Error`, each from `Error`
/// on (without its timestamp and pid), joined by " | ", or `None` when
/// none does.
pub fn last_errors(log: &str, n: usize) -> Option<String> {
    let errors: Vec<&str> = log
        .lines()
        .filter_map(|l| l.find("Error").map(|i| &l[i..]))
        .collect();
    if errors.is_empty() {
        return None;
    }
    Some(errors[errors.len().saturating_sub(n)..].join(" | "))
}

/// CRIU's reason from its log file `log`, for an error message: the
/// log's last errors, else `otherwise` (CRIU's own message, when it sent
/// one), else where to look.
pub fn reason_from_log(log: &Path, otherwise: &str) -> String {
    match std::fs::read_to_string(log) {
        Ok(text) => match last_errors(&text, 3) {
            Some(e) => format!("{e} (log: {})", log.display()),
            None if !otherwise.is_empty() => format!("{otherwise} (log: {})", log.display()),
            None => format!("see {}", log.display()),
        },
        Err(_) if !otherwise.is_empty() => format!("{otherwise} (log: {})", log.display()),
        Err(e) => format!("no log at {}: {e}", log.display()),
    }
}

/// A `criu swrk` service process and our end of its socket.
pub struct Swrk {
    sock: OwnedFd,
    child: std::process::Child,
}

/// Whoever drops a `Swrk` (a reply read, or an error before any request
/// was sent) ends criu and reaps it: EOF on its socket ends its service
/// loop, and it is our child (unreaped, a zombie for our life and, on a
/// PID 1 that does not reap, after it).
impl Drop for Swrk {
    fn drop(&mut self) {
        let _ = nix::sys::socket::shutdown(self.sock.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        let _ = self.child.wait();
    }
}

impl Swrk {
    /// Starts `criu swrk`, with our stdio (a restored process's stdio
    /// pipes are inherited from there: `inherit_fd` names fds 0-2).
    pub fn spawn() -> Result<Swrk> {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let criu = binary()?;
        // Ours close-on-exec; criu's end inherited by the exec (runoci is
        // single-threaded here: no other exec sees it), closed here after.
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::empty(),
        )
        .ctx("socketpair for criu swrk")?;
        nix::fcntl::fcntl(
            ours.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .ctx("set close-on-exec")?;
        let child = std::process::Command::new(&criu)
            .arg("swrk")
            .arg(theirs.as_raw_fd().to_string())
            .spawn()
            .with_ctx(|| format!("run {} swrk", criu.display()))?;
        drop(theirs);
        Ok(Swrk { sock: ours, child })
    }

    /// The criu process (restore puts it in the container's cgroups: what
    /// it forks is born there).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `req` and answers CRIU's notifications with `on_notify`
    /// (its script name, the message, an fd it passed) until the reply
    /// to `req`. A failed reply is an error on one line with CRIU's
    /// reason: the last errors of its `log`, else its message.
    pub fn call(
        mut self,
        req: &rpc::Criu_req,
        log: &Path,
        mut on_notify: impl FnMut(&str, &rpc::Criu_notify, Option<OwnedFd>) -> Result<()>,
    ) -> Result<rpc::Criu_resp> {
        // Reaped when `self` is dropped, after its socket is shut (Drop).
        self.exchange(req, log, &mut on_notify)
    }

    fn exchange(
        &mut self,
        req: &rpc::Criu_req,
        log: &Path,
        on_notify: &mut impl FnMut(&str, &rpc::Criu_notify, Option<OwnedFd>) -> Result<()>,
    ) -> Result<rpc::Criu_resp> {
        self.send(req)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let (n, mut fds) = crate::sys::socket::recv_with_fds::<1>(self.sock.as_fd(), &mut buf)
                .ctx("read criu's reply")?;
            if n == 0 {
                return Err(Error::new(format!(
                    "criu exited without replying ({}): {}",
                    self.child
                        .wait()
                        .map(|s| s.to_string())
                        .unwrap_or_else(|e| e.to_string()),
                    reason_from_log(log, "")
                )));
            }
            let resp = rpc::Criu_resp::parse_from_bytes(&buf[..n])
                .map_err(|e| Error::new(format!("criu's reply does not parse: {e}")))?;
            if resp.type_() == rpc::Criu_req_type::NOTIFY {
                let script = resp.notify.script().to_string();
                let ok = on_notify(&script, &resp.notify, fds.pop());
                let mut ack = rpc::Criu_req::new();
                ack.set_type(rpc::Criu_req_type::NOTIFY);
                ack.set_notify_success(ok.is_ok());
                self.send(&ack)?;
                ok.with_ctx(|| format!("criu notification {script}"))?;
                continue;
            }
            if !resp.success() {
                // CRIU's message ends in a newline.
                let reason = reason_from_log(log, resp.cr_errmsg().trim());
                return Err(Error::new(format!(
                    "criu {:?} failed{}: {reason}",
                    req.type_(),
                    if resp.cr_errno() != 0 {
                        format!(" ({})", nix::errno::Errno::from_raw(resp.cr_errno()))
                    } else {
                        String::new()
                    },
                )));
            }
            if resp.type_() != req.type_() {
                return Err(Error::new(format!(
                    "criu replied {:?} to {:?}",
                    resp.type_(),
                    req.type_()
                )));
            }
            return Ok(resp);
        }
    }

    fn send(&self, req: &rpc::Criu_req) -> Result<()> {
        let bytes = req
            .write_to_bytes()
            .map_err(|e| Error::new(format!("encode the criu request: {e}")))?;
        let n = nix::unistd::write(&self.sock, &bytes).ctx("write to criu")?;
        if n != bytes.len() {
            return Err(Error::new("short write to criu's socket"));
        }
        Ok(())
    }
}

/// Opens `dir` (made 0700 with its missing parents, as runc's MkdirAll
/// does: engines pass a fresh path under a directory of their own; an
/// existing one is reused, a container is checkpointed again into the
/// same place) for CRIU, which reaches it through /proc/<our pid>/fd/N.
pub fn open_dir(dir: &Path, create: bool) -> Result<std::fs::File> {
    if create && !dir.is_dir() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_ctx(|| format!("mkdir {}", dir.display()))?;
    }
    std::fs::File::open(dir).with_ctx(|| format!("open {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_error_lines_of_a_log_are_quoted() {
        let log = "(00.0) Version: 3.17.1\nError (criu/vdso.c:613): vdso: Failed\n(00.1) x\n(00.48)      1: Error (criu/crtools.c:260): Could not initialize\n";
        assert_eq!(
            last_errors(log, 3).as_deref(),
            Some("Error (criu/vdso.c:613): vdso: Failed | Error (criu/crtools.c:260): Could not initialize")
        );
        assert_eq!(
            last_errors(log, 1).as_deref(),
            Some("Error (criu/crtools.c:260): Could not initialize")
        );
        assert_eq!(last_errors("all good\n", 3), None);
    }
}
