//! `NOTIFY_SOCKET` pass-through (podman `--sdnotify=container`, a systemd
//! unit of `Type=notify`): when runoci is given one, the container gets
//! it bound at runc's path, `/run/notify/notify.sock`, and that path in
//! its `NOTIFY_SOCKET`, so its `READY=1` reaches the engine's socket.
//!
//! runc binds a socket of its own there and relays the first `READY=`
//! line (adding `MAINPID`) from `start`, which then waits for it. runoci
//! binds the engine's socket itself: the container's messages reach the
//! engine unchanged, with no runoci process to outlive `create`; the
//! sender's pid the engine sees is the container process's, which is
//! what podman's proxy and `NotifyAccess=all` expect.

use crate::error::{Error, Result};
use crate::spec::{Mount, Spec};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Where the socket appears in the container (runc's path).
pub const IN_CONTAINER: &str = "/run/notify/notify.sock";

/// The caller's `NOTIFY_SOCKET`, checked where it enters: unset or empty
/// is none; otherwise an absolute path to a Unix socket. An abstract
/// socket (`@name`) belongs to the caller's network namespace and cannot
/// be bound into a container: refused, not silently dropped.
pub fn from_env() -> Result<Option<PathBuf>> {
    let Some(value) = std::env::var_os("NOTIFY_SOCKET").filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(value);
    check(&path)?;
    Ok(Some(path))
}

fn check(path: &Path) -> Result<()> {
    let shown = path.display();
    if path.as_os_str().as_encoded_bytes().starts_with(b"@") {
        return Err(Error::new(format!(
            "NOTIFY_SOCKET {shown}: an abstract socket cannot be passed into a container"
        )));
    }
    if !path.is_absolute() {
        return Err(Error::new(format!(
            "NOTIFY_SOCKET {shown}: not an absolute path"
        )));
    }
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_socket() => Ok(()),
        Ok(_) => Err(Error::new(format!("NOTIFY_SOCKET {shown}: not a socket"))),
        Err(e) => Err(Error::new(format!("NOTIFY_SOCKET {shown}: {e}"))),
    }
}

/// Adds the bind of `host` and the container's `NOTIFY_SOCKET` to `spec`
/// (in memory: config.json is not changed), replacing any
/// `NOTIFY_SOCKET` the config sets (the first of two would win in the
/// program's getenv). Read-only, nosuid, noexec, nodev as runc's:
/// sending to a socket needs no write access to its mount.
pub fn setup_spec(spec: &mut Spec, host: &Path) {
    spec.mounts.push(Mount {
        destination: IN_CONTAINER.into(),
        typ: Some("bind".into()),
        source: Some(host.display().to_string()),
        options: ["bind", "nosuid", "noexec", "nodev", "ro"]
            .map(String::from)
            .to_vec(),
        ..Default::default()
    });
    if let Some(process) = spec.process.as_mut() {
        process.env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
        process.env.push(format!("NOTIFY_SOCKET={IN_CONTAINER}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_absolute_socket_path_is_taken() {
        for (bad, why) in [
            ("@abstract", "abstract socket"),
            ("relative.sock", "not an absolute path"),
            ("/etc/hostname", "not a socket"),
            ("/nonexistent/notify.sock", "No such file"),
        ] {
            let e = check(Path::new(bad)).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn the_spec_gets_the_bind_and_replaces_the_variable() {
        let mut spec = Spec {
            process: Some(crate::spec::Process {
                env: vec!["NOTIFY_SOCKET=/elsewhere".into(), "A=1".into()],
                ..Default::default()
            }),
            ..Default::default()
        };
        setup_spec(&mut spec, Path::new("/run/host.sock"));
        let env = &spec.process.as_ref().unwrap().env;
        assert_eq!(env, &["A=1", "NOTIFY_SOCKET=/run/notify/notify.sock"]);
        let m = spec.mounts.last().unwrap();
        assert_eq!(
            (m.destination.as_str(), m.source.as_deref()),
            (IN_CONTAINER, Some("/run/host.sock"))
        );
    }
}
