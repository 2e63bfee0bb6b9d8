//! `process.user` (uid, gid, additionalGids), `process.capabilities` and
//! `process.noNewPrivileges`, with the container's seccomp filter
//! (`linux.seccomp`, compiled by `crate::seccomp`) loaded at the one
//! moment the privileges allow.

use crate::error::{Context, Error, Result};
use crate::spec::{self, Process};
use caps::{CapSet, CapsHashSet};
use nix::sys::prctl;
use nix::unistd::{Gid, Uid};
use std::os::fd::OwnedFd;

/// Drop to the process's user and capabilities with the container's
/// filter loaded at the right moment: before the drop without
/// no_new_privs (loading then needs CAP_SYS_ADMIN), after it — the last
/// thing before exec — with (as runc). Returns the notification listener,
/// if any.
pub fn apply(seccomp: Option<&spec::Seccomp>, process: &Process) -> Result<Option<OwnedFd>> {
    use crate::seccomp::{compiled, load};
    let compiled = match seccomp {
        Some(s) => Some((s, compiled(s)?)),
        None => None,
    };
    let mut listener = None;
    if let (false, Some((s, ctx))) = (process.no_new_privileges, &compiled) {
        listener = load(s, ctx)?;
    }
    set_user_and_caps(process)?;
    if process.no_new_privileges {
        set_no_new_privileges()?;
        if let Some((s, ctx)) = &compiled {
            listener = load(s, ctx)?;
        }
    }
    Ok(listener)
}

fn cap_set(names: &[String], field: &str) -> Result<CapsHashSet> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            spec::capability(n).and_then(to_caps).ok_or_else(|| {
                Error::new(format!(
                    "process.capabilities.{field}[{i}]: unknown capability {n:?}"
                ))
            })
        })
        .collect()
}

/// The `caps` crate's error as ours (the error type lives in runoci-core,
/// which does not link `caps`).
fn caps_error(e: caps::errors::CapsError) -> Error {
    Error::new(e.to_string())
}

/// The `caps` crate's value for a kernel capability number (the spec
/// model's table holds the numbers; only this crate links `caps`).
pub fn to_caps(number: u8) -> Option<caps::Capability> {
    caps::all().into_iter().find(|cap| cap.index() == number)
}

/// Switch to the configured user, keeping exactly the configured
/// capabilities. Order matters: the bounding set is dropped while we still
/// hold CAP_SETPCAP; KEEPCAPS carries the permitted set across setuid; the
/// other sets are set after it; ambient last (it needs permitted and
/// inheritable).
fn set_user_and_caps(process: &Process) -> Result<()> {
    let caps = process.capabilities.as_ref();
    let wanted = match caps {
        Some(c) => Some((
            cap_set(&c.bounding, "bounding")?,
            cap_set(&c.effective, "effective")?,
            cap_set(&c.permitted, "permitted")?,
            cap_set(&c.inheritable, "inheritable")?,
            cap_set(&c.ambient, "ambient")?,
        )),
        None => None,
    };
    if let Some((bounding, ..)) = &wanted {
        for cap in caps::all() {
            if !bounding.contains(&cap)
                && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false)
            {
                caps::drop(None, CapSet::Bounding, cap)
                    .map_err(caps_error)
                    .with_ctx(|| format!("drop {cap} from the bounding set"))?;
            }
        }
    }
    prctl::set_keepcaps(true)
        .map_err(std::io::Error::from)
        .ctx("prctl(PR_SET_KEEPCAPS)")?;
    let user = &process.user;
    let gids: Vec<libc::gid_t> = user.additional_gids.clone();
    // Where setgroups is denied (an unprivileged id map, or a rootless
    // engine's namespace that denies it) an empty list is left as it is;
    // the kernel refuses the call, and additionalGids would fail below.
    let skip = gids.is_empty() && runoci_core::userns::setgroups_denied();
    let groups: Vec<Gid> = gids.iter().map(|g| Gid::from_raw(*g)).collect();
    let set = if skip {
        Ok(())
    } else {
        nix::unistd::setgroups(&groups)
    };
    if let Err(e) = set {
        // In a user namespace with setgroups denied, an empty list is fine.
        if !(gids.is_empty() && e == nix::errno::Errno::EPERM) {
            return Err(Error::from(std::io::Error::from(e))
                .context(format!("setgroups {gids:?} (process.user.additionalGids)")));
        }
    }
    let (uid, gid) = (Uid::from_raw(user.uid), Gid::from_raw(user.gid));
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(std::io::Error::from)
        .with_ctx(|| format!("setresgid {} (process.user.gid)", user.gid))?;
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(std::io::Error::from)
        .with_ctx(|| format!("setresuid {} (process.user.uid)", user.uid))?;
    if let Some((_, effective, permitted, inheritable, ambient)) = wanted {
        // Inheritable while permitted is still full; effective before
        // permitted shrinks (the kernel wants effective ⊆ permitted).
        caps::set(None, CapSet::Inheritable, &inheritable)
            .map_err(caps_error)
            .ctx("set inheritable capabilities")?;
        caps::set(None, CapSet::Effective, &effective)
            .map_err(caps_error)
            .ctx("set effective capabilities")?;
        caps::set(None, CapSet::Permitted, &permitted).map_err(caps_error).ctx(
            "set permitted capabilities (process.capabilities.effective must be within permitted)",
        )?;
        caps::clear(None, CapSet::Ambient)
            .map_err(caps_error)
            .ctx("clear ambient capabilities")?;
        // The kernel only lets a capability be ambient when it is both
        // permitted and inheritable; like runc, others are skipped.
        for cap in ambient
            .into_iter()
            .filter(|c| permitted.contains(c) && inheritable.contains(c))
        {
            caps::raise(None, CapSet::Ambient, cap)
                .map_err(caps_error)
                .with_ctx(|| {
                    format!("raise ambient {cap} (it must be in permitted and inheritable)")
                })?;
        }
    }
    let _ = prctl::set_keepcaps(false);
    Ok(())
}

fn set_no_new_privileges() -> Result<()> {
    prctl::set_no_new_privs()
        .map_err(std::io::Error::from)
        .ctx("prctl(PR_SET_NO_NEW_PRIVS)")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_capability_names_set_and_index() {
        let e = cap_set(&["CAP_CHOWN".into(), "CAP_NOPE".into()], "bounding")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("process.capabilities.bounding[1]") && e.contains("CAP_NOPE"),
            "{e}"
        );
        assert_eq!(
            cap_set(&["CAP_CHOWN".into()], "effective").unwrap().len(),
            1
        );
    }

    #[test]
    fn capability_table_matches_the_caps_crate() {
        let names: Vec<&str> = spec::names::capability_names().collect();
        assert_eq!(names.len(), caps::all().len());
        for cap in caps::all() {
            let name = cap.to_string();
            assert_eq!(spec::capability(&name), Some(cap.index()), "{name}");
            assert_eq!(to_caps(cap.index()), Some(cap), "{name}");
        }
    }
}
