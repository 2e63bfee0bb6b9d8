//! A session of its own for every process the runtime starts (the init
//! and `exec`'d ones), as runc's nsexec does, terminal or not: a process
//! left in the caller's session is, in its pid namespace, a member of a
//! session whose leader is outside it. CRIU refuses to dump that ("A
//! session leader of N(1) is outside of its pid namespace"), and the
//! caller's terminal job control (SIGINT, SIGTSTP to its foreground group)
//! would reach the container directly as well as through the runtime's
//! forwarding. With `process.terminal` the pty then becomes the session's
//! controlling terminal (`crate::console`).

use crate::error::{Context, Result};

pub fn apply() -> Result<()> {
    // Never a process group leader here: a child of clone(), not of a
    // setpgid, so setsid cannot fail with EPERM.
    nix::unistd::setsid().ctx("setsid")?;
    Ok(())
}
