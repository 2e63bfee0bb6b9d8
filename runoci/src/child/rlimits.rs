//! `process.rlimits`: each `type` set to `soft`/`hard` with setrlimit,
//! before the user switch (raising a hard limit needs CAP_SYS_RESOURCE).

use crate::error::{Error, Result};
use crate::spec::{self, Process};

pub fn set_rlimits(process: &Process) -> Result<()> {
    for (i, r) in process.rlimits.iter().enumerate() {
        let res = spec::rlimit_resource(&r.typ).ok_or_else(|| {
            Error::new(format!("process.rlimits[{i}]: unknown rlimit {:?}", r.typ))
        })?;
        if let Err(e) = crate::sys::rlimit::set(res, r.soft, r.hard) {
            let hint = if e.raw_os_error() == Some(libc::EPERM) {
                " (a hard limit above the current one needs CAP_SYS_RESOURCE)"
            } else {
                ""
            };
            return Err(Error::new(format!(
                "process.rlimits[{i}]: setrlimit {} soft {} hard {}: {e}{hint}",
                r.typ, r.soft, r.hard
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(typ: &str, soft: u64, hard: u64) -> Process {
        Process {
            rlimits: vec![crate::spec::Rlimit {
                typ: typ.into(),
                soft,
                hard,
            }],
            ..Default::default()
        }
    }

    fn error_of(typ: &str, soft: u64, hard: u64) -> String {
        set_rlimits(&with(typ, soft, hard))
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn unknown_rlimit_names_its_index() {
        let e = error_of("RLIMIT_NOPE", 1, 1);
        assert!(
            e.contains("process.rlimits[0]") && e.contains("RLIMIT_NOPE"),
            "{e}"
        );
    }

    #[test]
    fn the_current_limits_can_be_set_again() {
        let (soft, hard) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_CORE).unwrap();
        set_rlimits(&with("RLIMIT_CORE", soft, hard)).unwrap();
    }

    #[test]
    fn a_soft_limit_above_the_hard_one_is_reported_with_the_field() {
        let e = error_of("RLIMIT_CORE", 2, 1);
        assert!(
            e.contains("process.rlimits[0]: setrlimit RLIMIT_CORE soft 2 hard 1"),
            "{e}"
        );
    }
}
