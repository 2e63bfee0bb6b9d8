//! `linux.sysctl`: written under the container's /proc/sys, after
//! pivot_root (the /proc it reaches is then the container's own).

use crate::error::{Context, Error, Result};
use crate::spec::Spec;

/// The /proc/sys file of each entry, in the config's order.
pub fn files(spec: &Spec) -> Result<Vec<(String, &str, &str)>> {
    let Some(linux) = spec.linux.as_ref() else {
        return Ok(Vec::new());
    };
    linux
        .sysctl
        .iter()
        .map(|(k, v)| {
            // Validated at load: the key names a file under /proc/sys.
            let file = crate::spec::sysctl_file(k)
                .ok_or_else(|| Error::new(format!("linux.sysctl: invalid key {k:?}")))?;
            Ok((format!("/proc/sys/{file}"), k.as_str(), v.as_str()))
        })
        .collect()
}

/// Without a mount namespace of its own the container has no /proc/sys
/// of its own either: nothing is written (as before).
pub fn apply(spec: &Spec, new_mountns: bool) -> Result<()> {
    if !new_mountns {
        return Ok(());
    }
    let files = files(spec)?;
    if files.is_empty() {
        return Ok(());
    }
    runoci_core::procfs::require_mounted("linux.sysctl")?;
    for (path, k, v) in files {
        crate::procfs::write(&path, v.as_bytes()).with_ctx(|| format!("linux.sysctl {k}={v}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_proc_sys_files() {
        let mut spec = Spec::default();
        let mut linux = crate::spec::Linux::default();
        linux
            .sysctl
            .insert("net.ipv4.ip_forward".into(), "1".into());
        spec.linux = Some(linux);
        let f = files(&spec).unwrap();
        assert_eq!(
            f,
            [(
                "/proc/sys/net/ipv4/ip_forward".to_string(),
                "net.ipv4.ip_forward",
                "1"
            )]
        );
        assert!(files(&Spec::default()).unwrap().is_empty());
    }
}
