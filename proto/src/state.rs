//! The OCI state document and the exit record, as runoci writes them to the
//! state directory and serves them over the monitor socket.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Lifecycle status, as the runtime spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// How the container's init ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ExitStatus {
    /// Exit code when it exited, None when killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// Signal number when killed by a signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Seconds since the epoch when the exit was seen.
    #[serde(default)]
    pub finished_at: u64,
    /// The cgroup reported an OOM kill while the container ran.
    #[serde(default)]
    pub oom_killed: bool,
}

impl ExitStatus {
    /// The shell's convention, as conmon writes it: the code, or 128+N for
    /// signal N.
    pub fn as_exit_code(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 255,
        }
    }
}

/// The OCI state document (runtime.md "State"), plus what runc prints that
/// engines read (`created`, `owner`, `rootfs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    /// 0 when there is no process (stopped before a pid existed).
    #[serde(default)]
    pub pid: i32,
    pub bundle: String,
    #[serde(default)]
    pub rootfs: String,
    /// RFC 3339 creation time.
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Set once the container has exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitStatus>,
}

/// The runtime-spec version runoci implements: the state's `ociVersion`
/// and the newest config version `features` reports (`ociVersionMax`).
pub const OCI_VERSION: &str = "1.3.0";

/// The annotation run_oci puts in the state handed to hooks.
pub const CONTAINER_ROOT_ANNOTATION: &str = "org.chromium.run_oci.container_root";
