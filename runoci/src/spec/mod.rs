//! The container configuration: model (`types`), loading and validation.
mod types;
pub use types::*;
