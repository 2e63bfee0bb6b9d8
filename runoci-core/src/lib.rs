//! runoci-core: what the monitor and `kill`/`state`/`destroy` share with
//! creation: the container record (`state`), `lifecycle` (the only caller
//! of the poststop stage), `hooks`, `cgroups`, `pidfd`, `mountinfo`,
//! `procfs`, the LSM probes (`lsm`), signal waits (`forward`), the config
//! model (`spec`) and the error type. It links no clap, caps or libseccomp.
pub mod cgroups;
pub mod error;
pub mod forward;
pub mod hooks;
pub mod ids;
pub mod lifecycle;
pub mod log;
pub mod lsm;
pub mod mountinfo;
pub mod pidfd;
pub mod procfs;
pub mod resctrl;
pub mod spec;
pub mod state;
pub mod sys;
pub mod userns;
