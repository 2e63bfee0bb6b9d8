//! `hostname` and `domainname`, set in the container's uts namespace.

use crate::error::{Context, Error, Result};
use crate::spec::Spec;

pub fn apply(spec: &Spec) -> Result<()> {
    if let Some(h) = &spec.hostname {
        nix::unistd::sethostname(h).with_ctx(|| format!("sethostname {h:?}"))?;
    }
    if let Some(d) = &spec.domainname {
        let c = std::ffi::CString::new(d.as_str())
            .map_err(|_| Error::new("domainname contains NUL"))?;
        crate::sys::uts::set_domainname(c.as_bytes())
            .with_ctx(|| format!("setdomainname {d:?}"))?;
    }
    Ok(())
}
