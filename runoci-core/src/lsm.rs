//! Linux security modules: the one probe of whether SELinux or AppArmor
//! is enabled, used by the child (a label for a disabled LSM is refused)
//! and by `check` (which reports the same answer).

use std::path::Path;

/// The LSMs the kernel lists in `/sys/kernel/security/lsm`
/// ("lockdown,capability,apparmor"), in its order.
pub fn parse_lsm_list(text: &str) -> Vec<String> {
    text.trim()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The active LSMs, empty when securityfs is not readable.
pub fn active() -> Vec<String> {
    std::fs::read_to_string("/sys/kernel/security/lsm")
        .map(|t| parse_lsm_list(&t))
        .unwrap_or_default()
}

/// SELinux is on when selinuxfs is a known filesystem (`/proc/filesystems`)
/// and mounted (its `enforce` file exists).
pub fn selinux_on(proc_filesystems: &str, enforce_exists: bool) -> bool {
    enforce_exists
        && proc_filesystems
            .lines()
            .any(|l| l.split_whitespace().last() == Some("selinuxfs"))
}

/// AppArmor is on when securityfs shows it and the module's `enabled`
/// parameter says Y.
pub fn apparmor_on(securityfs_dir_exists: bool, enabled_param: &str) -> bool {
    securityfs_dir_exists && enabled_param.trim_start().starts_with('Y')
}

pub fn selinux_enabled() -> bool {
    selinux_on(
        &std::fs::read_to_string("/proc/filesystems").unwrap_or_default(),
        Path::new("/sys/fs/selinux/enforce").exists(),
    )
}

pub fn apparmor_enabled() -> bool {
    apparmor_on(
        Path::new("/sys/kernel/security/apparmor").exists(),
        &std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsm_list_is_split_on_commas() {
        assert_eq!(
            parse_lsm_list("lockdown,capability,apparmor\n"),
            ["lockdown", "capability", "apparmor"]
        );
        assert!(parse_lsm_list("").is_empty());
        assert!(parse_lsm_list("\n").is_empty());
    }

    #[test]
    fn selinux_needs_selinuxfs_known_and_mounted() {
        let fs = "nodev\tsysfs\nnodev\tselinuxfs\n\text4\n";
        assert!(selinux_on(fs, true));
        assert!(!selinux_on(fs, false), "not mounted");
        assert!(!selinux_on("nodev\tsysfs\n\text4\n", true), "not known");
        // A name that merely contains it is not it.
        assert!(!selinux_on("nodev\tnotselinuxfs\n", true));
    }

    #[test]
    fn apparmor_needs_securityfs_and_enabled_y() {
        assert!(apparmor_on(true, "Y\n"));
        assert!(!apparmor_on(true, "N\n"));
        assert!(!apparmor_on(false, "Y\n"));
        assert!(!apparmor_on(true, ""));
    }
}
