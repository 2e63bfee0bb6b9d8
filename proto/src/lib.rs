//! runoci's monitor socket protocol, the OCI state document and the exit
//! record. Pure data: tooling links only this crate.
mod state;
pub use state::*;
