//! Talking to a container's monitor, when it lives.

use crate::error::Result;
use crate::state::StateDir;
use runoci_proto::State;

/// None when there is no monitor to ask (gone, or never had one).
pub fn try_state(_sd: &StateDir) -> Option<Result<State>> {
    None
}

pub fn try_kill(_sd: &StateDir, _signal: i32, _all: bool) -> Option<Result<()>> {
    None
}
