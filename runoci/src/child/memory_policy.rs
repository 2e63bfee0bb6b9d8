//! `linux.memoryPolicy`: the NUMA memory policy, with set_mempolicy(2).
//! It is inherited across fork and kept across execve.

use crate::error::{Error, Result};
use crate::spec::{attrs, Spec};

pub fn apply(spec: &Spec) -> Result<()> {
    let Some(p) = spec.linux.as_ref().and_then(|l| l.memory_policy.as_ref()) else {
        return Ok(());
    };
    // Validated at load: names, nodes as the mode needs them.
    let mut mode = attrs::lookup(&attrs::MEMPOLICY_MODES, &p.mode)
        .ok_or_else(|| Error::new(format!("linux.memoryPolicy.mode: unknown {:?}", p.mode)))?;
    for flag in &p.flags {
        mode |= attrs::lookup(&attrs::MEMPOLICY_FLAGS, flag)
            .ok_or_else(|| Error::new(format!("linux.memoryPolicy.flags: unknown {flag:?}")))?;
    }
    let nodes = attrs::parse_id_list(p.nodes.as_deref().unwrap_or(""))
        .map_err(|e| Error::new(format!("linux.memoryPolicy.nodes: {e}")))?;
    crate::sys::mempolicy::set_own(mode, &nodes).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EINVAL) {
            " (a node that is not online or not in the cpuset's mems, or a mode or flag this kernel lacks)"
        } else {
            ""
        };
        Error::new(format!(
            "linux.memoryPolicy: set_mempolicy {} nodes {:?} flags {:?}: {e}{hint}",
            p.mode,
            p.nodes.as_deref().unwrap_or(""),
            p.flags
        ))
    })
}
