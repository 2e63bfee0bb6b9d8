//! `process.ioPriority`: the I/O class and level, with ioprio_set(2).
//!
//! Set on the process itself (`IOPRIO_WHO_PROCESS`), not its process
//! group as runc does: every process of the container descends from it
//! and inherits the priority, while the group may still be the caller's
//! (a `run` from a shell), whose I/O priority is not the container's to
//! change.

use crate::error::{Error, Result};
use crate::spec::{attrs, Process};

pub fn apply(process: &Process) -> Result<()> {
    let Some(io) = &process.io_priority else {
        return Ok(());
    };
    // Validated at load: a known class, a level in 0..=7.
    let class = attrs::lookup(&attrs::IOPRIO_CLASSES, &io.class)
        .ok_or_else(|| Error::new(format!("process.ioPriority.class: unknown {:?}", io.class)))?;
    crate::sys::ioprio::set_own(class, io.priority as u16).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EPERM) {
            " (IOPRIO_CLASS_RT needs CAP_SYS_ADMIN or CAP_SYS_NICE)"
        } else {
            ""
        };
        Error::new(format!(
            "process.ioPriority: ioprio_set {} {}: {e}{hint}",
            io.class, io.priority
        ))
    })
}
