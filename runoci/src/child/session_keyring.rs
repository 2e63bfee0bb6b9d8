//! A session keyring of the container's own, `_ses.<id>`, as runc makes
//! one (unless `--no-new-keyring`): without it the container's processes
//! share the caller's session keyring and could read or link the keys
//! the host session holds. `exec` joins the container's by its name.

use crate::error::{Error, Result};
use std::ffi::CString;

/// `KEY_OTH_SEARCH`: in a user namespace the container's users are not
/// the key's owner.
const OTHER_SEARCH: u32 = 0x0000_0008;
/// `KEY_USR_SEARCH`.
const USER_SEARCH: u32 = 0x0008_0000;

/// The keyring's name for container `id`.
pub fn name(id: &str) -> String {
    format!("_ses.{id}")
}

/// Joins (and, for the init, makes searchable) the session keyring
/// `name`. A kernel without keyrings (ENOSYS) is not an error, as for
/// runc: VFS credentials remain the real protection.
pub fn join(name: &str, make_searchable_in_userns: Option<bool>) -> Result<()> {
    let cname = CString::new(name)
        .map_err(|_| Error::new(format!("session keyring {name:?}: NUL in the name")))?;
    let serial = match crate::sys::keyring::join_session(&cname) {
        Ok(serial) => serial,
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            crate::debug!("session keyring {name}: the kernel has no keyrings");
            return Ok(());
        }
        Err(e) => {
            return Err(Error::new(format!(
                "join session keyring {name}: {e} (--no-new-keyring keeps the caller's)"
            )))
        }
    };
    if let Some(in_userns) = make_searchable_in_userns {
        let add = if in_userns { OTHER_SEARCH } else { USER_SEARCH };
        crate::sys::keyring::permissions(serial)
            .and_then(|perm| crate::sys::keyring::set_permissions(serial, perm | add))
            .map_err(|e| Error::new(format!("session keyring {name}: set permissions: {e}")))?;
    }
    Ok(())
}
