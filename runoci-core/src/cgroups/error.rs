//! The one error type of the cgroup module. Every variant's message is one
//! line and names the file, directory or config field involved.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A system call on a cgroup file or directory failed.
    #[error("{path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// A cgroup "file" turned out to be a symlink, FIFO, device, directory…
    #[error("{path}: refusing to {op}: not a regular file ({kind})")]
    NotRegularFile {
        path: PathBuf,
        op: &'static str,
        kind: &'static str,
    },
    /// A value of `linux.resources` (or `linux.cpu`) cannot be applied.
    #[error("{field}: {reason}")]
    InvalidValue { field: String, reason: String },
    /// The cgroup path from the config or the command line is unusable.
    #[error("cgroup path {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },
    /// The container's cgroup already holds live processes.
    #[error("{path}: cgroup already in use by process(es) {pids:?}")]
    InUse { path: PathBuf, pids: Vec<i32> },
    /// Processes of the cgroup outlived SIGKILL for as long as we waited.
    #[error("{path}: process(es) {pids:?} still there after SIGKILL")]
    Survivors { path: PathBuf, pids: Vec<i32> },
    /// A file of the cgroup held something we could not parse.
    #[error("{path}: unexpected contents {contents:?}")]
    BadContents { path: PathBuf, contents: String },
    /// Signalling a process of the cgroup failed.
    #[error("kill({pid}, {signal}): {source}")]
    Signal {
        pid: i32,
        signal: i32,
        #[source]
        source: io::Error,
    },
}

impl CgroupError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: io::Error) -> Self {
        CgroupError::Io {
            path: path.into(),
            op,
            source,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CgroupError::InvalidValue {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Into the runtime's error, for callers outside cgroups (the error type
/// does not know this module, so the two do not import each other).
impl From<CgroupError> for crate::error::Error {
    fn from(e: CgroupError) -> Self {
        crate::error::Error::new(e.to_string())
    }
}
