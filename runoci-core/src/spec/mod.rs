//! The container configuration: model (`types`), loading (`load`),
//! validation (`validate`, `seccomp`) and the kernel constants its names stand for
//! (`names`; `attrs` for the per-process attributes and CPU/node lists).
pub mod attrs;
mod error;
mod load;
pub mod names;
mod net_devices;
mod resources;
mod seccomp;
mod stage;
mod sysctl;
#[cfg(test)]
mod tests;
mod types;
mod userids;
mod validate;

pub use error::SpecError;
pub use load::{load, load_process, parse, MAX_CONFIG_SIZE};
pub use names::{
    capability, capability_names, mount_option_names, mount_options, namespace_flag,
    namespace_names, propagation, rlimit_resource, securebit, MountOptions, RecursiveAttrs,
};
pub use resources::*;
pub use stage::Stage;
pub use sysctl::sysctl_file;
pub use types::*;
pub use userids::{check_id, parse_id, MAX_ID};
pub use validate::{check_process, no_dot_dot, validate};

impl Mount {
    /// Whether this mount is idmapped, and if so whether every submount
    /// of its tree is too: `Some(true)` for `ridmap`, `Some(false)` for
    /// `idmap` or mappings without either option (runc 1.2: mappings
    /// imply `idmap`).
    pub fn idmap(&self) -> Option<bool> {
        mount_options(&self.options)
            .idmap
            .or((!self.uid_mappings.is_empty() || !self.gid_mappings.is_empty()).then_some(false))
    }

    /// A bind mount, by its type or its options (`bind`, `rbind`).
    pub fn is_bind(&self) -> bool {
        matches!(self.typ.as_deref(), Some("bind") | Some("rbind"))
            || mount_options(&self.options)
                .flags
                .contains(nix::mount::MsFlags::MS_BIND)
    }
}

/// The file mode creation mask when the config sets none.
pub const DEFAULT_UMASK: u32 = 0o022;

impl Spec {
    /// The container process's umask: `process.user.umask` (spec 1.1), else
    /// run_oci's `process.umask`, else 0022.
    pub fn umask(&self) -> u32 {
        self.process
            .as_ref()
            .and_then(|process| process.user.umask.or(process.umask))
            .unwrap_or(DEFAULT_UMASK)
    }

    /// Whether `linux.namespaces` lists a namespace of type `typ` (`"uts"`).
    pub fn has_namespace(&self, typ: &str) -> bool {
        self.linux
            .as_ref()
            .is_some_and(|linux| linux.namespaces.iter().any(|ns| ns.typ == typ))
    }
}
