//! Validation of `linux.seccomp`: every name from a fixed set (actions,
//! comparison operators, architectures, flags) is known, argument indexes
//! are syscall arguments, and a NOTIFY filter has a listener to hand its fd
//! to. What only libseccomp can judge is checked by `runoci::seccomp`,
//! which compiles the filter right after loading.

use super::error::SpecError;
use super::names::{SECCOMP_ACTIONS, SECCOMP_ARCHES, SECCOMP_FLAGS, SECCOMP_OPS};
use super::types::Seccomp;

type Checked = Result<(), SpecError>;

fn known(path: String, what: &str, set: &[&str], name: &str) -> Checked {
    if set.contains(&name) {
        return Ok(());
    }
    Err(SpecError::invalid(path, format!("unknown {what} {name:?}")))
}

pub(crate) fn check_seccomp(seccomp: &Seccomp) -> Checked {
    const FIELD: &str = "linux.seccomp";
    let action = |path: String, name: &str| known(path, "action", &SECCOMP_ACTIONS, name);
    action(format!("{FIELD}.defaultAction"), &seccomp.default_action)?;
    for (i, arch) in seccomp.architectures.iter().enumerate() {
        let path = format!("{FIELD}.architectures[{i}]");
        known(path, "architecture", &SECCOMP_ARCHES, arch)?;
    }
    for (i, flag) in seccomp.flags.iter().enumerate() {
        known(format!("{FIELD}.flags[{i}]"), "flag", &SECCOMP_FLAGS, flag)?;
    }
    for (i, rule) in seccomp.syscalls.iter().enumerate() {
        let field = format!("{FIELD}.syscalls[{i}]");
        action(format!("{field}.action"), &rule.action)?;
        for (j, arg) in rule.args.iter().enumerate() {
            let path = format!("{field}.args[{j}]");
            known(format!("{path}.op"), "operator", &SECCOMP_OPS, &arg.op)?;
            if arg.index > 5 {
                return Err(SpecError::invalid(
                    format!("{path}.index"),
                    format!("{} is not a syscall argument (0-5)", arg.index),
                ));
            }
        }
    }
    // The child hands the listener fd to listenerPath once the filter is
    // loaded: without one, it would have nowhere to go.
    if seccomp.wants_notify() && seccomp.listener_path.as_deref().unwrap_or("").is_empty() {
        return Err(SpecError::invalid(
            format!("{FIELD}.listenerPath"),
            "SCMP_ACT_NOTIFY needs a listener socket",
        ));
    }
    Ok(())
}
