//! The hook stages config.json names, in its order.

use super::types::{Hook, Hooks};

/// A hook stage, named as config.json (and every message and log) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Precreate,
    Prechroot,
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Stage {
    /// Every stage, in config.json's order.
    pub const ALL: [Stage; 8] = [
        Stage::Precreate,
        Stage::Prechroot,
        Stage::Prestart,
        Stage::CreateRuntime,
        Stage::CreateContainer,
        Stage::StartContainer,
        Stage::Poststart,
        Stage::Poststop,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Precreate => "precreate",
            Stage::Prechroot => "prechroot",
            Stage::Prestart => "prestart",
            Stage::CreateRuntime => "createRuntime",
            Stage::CreateContainer => "createContainer",
            Stage::StartContainer => "startContainer",
            Stage::Poststart => "poststart",
            Stage::Poststop => "poststop",
        }
    }

    /// This stage's hooks in `hooks`.
    pub fn of(self, hooks: &Hooks) -> &[Hook] {
        match self {
            Stage::Precreate => &hooks.precreate,
            Stage::Prechroot => &hooks.prechroot,
            Stage::Prestart => &hooks.prestart,
            Stage::CreateRuntime => &hooks.create_runtime,
            Stage::CreateContainer => &hooks.create_container,
            Stage::StartContainer => &hooks.start_container,
            Stage::Poststart => &hooks.poststart,
            Stage::Poststop => &hooks.poststop,
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Stage {
    /// Whether a failing hook of this stage fails the operation. Every
    /// stage's does but poststop's: runtime.md, Lifecycle step 13 (1.3.0),
    /// "If any `poststop` hook fails, the runtime MUST log a warning, but
    /// the remaining hooks and lifecycle continue as if the hook had
    /// succeeded". (A failing poststart hook warned up to 1.2; 1.3.0's step
    /// 9 makes it an error that stops the container, as runc always did.)
    pub fn failure_is_fatal(self) -> bool {
        self != Stage::Poststop
    }
}
