//! `process.user.umask`: 0 while the runtime sets the container up (files
//! it creates get exactly the modes it asks for), the configured one last.

use crate::spec::Spec;

pub fn for_setup() {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(0) };
}

pub fn apply(spec: &Spec) {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(spec.umask() as libc::mode_t) };
}
