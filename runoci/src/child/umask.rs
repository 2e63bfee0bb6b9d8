//! `process.user.umask`: 0 while the runtime sets the container up (files
//! it creates get exactly the modes it asks for), the configured one last.

use crate::spec::Spec;
use nix::sys::stat::{umask, Mode};

pub fn for_setup() {
    umask(Mode::empty());
}

pub fn apply(spec: &Spec) {
    // Validated at load: permission bits only.
    umask(Mode::from_bits_truncate(spec.umask() as libc::mode_t));
}
