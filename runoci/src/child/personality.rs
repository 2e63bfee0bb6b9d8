//! `linux.personality`: the execution domain, with personality(2).
//! `LINUX32` makes `uname` report a 32-bit machine (i686 on x86_64).

use crate::error::{Error, Result};
use crate::spec::{attrs, Spec};
use nix::sys::personality::{self, Persona};

pub fn apply(spec: &Spec) -> Result<()> {
    let Some(p) = spec.linux.as_ref().and_then(|l| l.personality.as_ref()) else {
        return Ok(());
    };
    // Validated at load: a known domain, no flags (the spec defines none).
    let domain = attrs::lookup(&attrs::PERSONALITY_DOMAINS, &p.domain)
        .ok_or_else(|| Error::new(format!("linux.personality.domain: unknown {:?}", p.domain)))?;
    personality::set(Persona::from_bits_retain(domain as i32))
        .map_err(|e| Error::new(format!("linux.personality: personality {}: {e}", p.domain)))?;
    Ok(())
}
