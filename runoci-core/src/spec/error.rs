//! Why a `config.json` was refused. Every message is one line and starts with
//! the file it came from (the "origin"), then, where there is one, the JSON
//! path of the bad value.

use std::fmt;
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be opened, stat'ed or read.
    #[error("{origin}: cannot {action}: {source}")]
    Io {
        origin: String,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{origin}: is a symlink; refusing to follow it")]
    Symlink { origin: String },
    #[error("{origin}: is not a regular file")]
    NotRegularFile { origin: String },
    #[error("{origin}: larger than 100 MiB")]
    TooLarge { origin: String },
    #[error("{origin}: not valid UTF-8 (at byte {byte})")]
    NotUtf8 { origin: String, byte: usize },
    /// Not JSON at all: where the parser stopped, and why.
    #[error("{origin}: invalid JSON at line {line} column {column}: {message}")]
    Syntax {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// Valid JSON that is not a valid configuration: a wrong type, a missing
    /// field, or a value that validation refused. `path` is the JSON path
    /// (`process.capabilities.bounding[2]`), empty for the whole document.
    #[error("{}", Located { origin, path, message })]
    Invalid {
        origin: String,
        path: String,
        message: String,
    },
}

impl SpecError {
    /// A validation error at `path`; the origin is filled in by `parse`.
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError::Invalid {
            origin: String::new(),
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same error, told as coming from `origin` (a file name).
    pub fn with_origin(mut self, new_origin: &str) -> Self {
        match &mut self {
            SpecError::Io { origin, .. }
            | SpecError::Symlink { origin }
            | SpecError::NotRegularFile { origin }
            | SpecError::TooLarge { origin }
            | SpecError::NotUtf8 { origin, .. }
            | SpecError::Syntax { origin, .. }
            | SpecError::Invalid { origin, .. } => *origin = new_origin.to_string(),
        }
        self
    }

    /// The JSON path of the refused value, if the error is about one.
    pub fn json_path(&self) -> Option<&str> {
        match self {
            SpecError::Invalid { path, .. } if !path.is_empty() => Some(path),
            _ => None,
        }
    }
}

/// `origin: path: message`, leaving out the parts that are empty.
struct Located<'a> {
    origin: &'a str,
    path: &'a str,
    message: &'a str,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.origin.is_empty() {
            write!(f, "{}: ", self.origin)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(self.message)
    }
}

/// Into the runtime's error (kept here so `error` does not import `spec`).
impl From<SpecError> for crate::error::Error {
    fn from(e: SpecError) -> Self {
        crate::error::Error::new(e.to_string())
    }
}
