//! Raw system calls creation needs that nix does not wrap, each in a safe
//! function with the invariants its `unsafe` block relies on stated once.
//! No other module of this crate holds `unsafe` for a syscall: they call
//! these.

pub mod netlink;
