//! Reading `config.json` from a bundle and turning it into a `Spec`.

use super::error::SpecError;
use super::types::{Process, Spec};
use super::validate::{check_process, validate};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest `config.json` we read.
pub const MAX_CONFIG_SIZE: u64 = 100 * 1024 * 1024;

/// Loads `bundle_dir/config.json`: refuses a symlink (`O_NOFOLLOW`), anything
/// but a regular file, and files over `MAX_CONFIG_SIZE`; then parses and
/// validates it.
pub fn load(bundle_dir: &Path) -> Result<Spec, SpecError> {
    let path = bundle_dir.join("config.json");
    let origin = path.display().to_string();
    let text = read_json_file(&path, &origin, Symlinks::Refuse)?;
    parse(&text, &origin)
}

/// Loads `exec --process FILE`: read as `config.json` is (never blocks on a
/// FIFO, regular files only, at most `MAX_CONFIG_SIZE`), parsed as the
/// `process` object and validated as config.json's `process` is. A symlink
/// is followed: the caller named the file, it is not planted in a bundle.
/// Error paths start with `process.`, as in config.json.
pub fn load_process(path: &Path) -> Result<Process, SpecError> {
    let origin = path.display().to_string();
    let text = read_json_file(path, &origin, Symlinks::Follow)?;
    let process: Process = deserialize(&text, "process").map_err(|err| err.with_origin(&origin))?;
    check_process(&process).map_err(|err| err.with_origin(&origin))?;
    Ok(process)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Symlinks {
    Refuse,
    Follow,
}

fn read_json_file(path: &Path, origin: &str, symlinks: Symlinks) -> Result<String, SpecError> {
    let io_error = |action, source| SpecError::Io {
        origin: origin.to_string(),
        action,
        source,
    };
    // O_NONBLOCK: a FIFO planted as config.json must not hang us in open();
    // it is refused below as not a regular file. Regular files ignore it.
    let nofollow = match symlinks {
        Symlinks::Refuse => libc::O_NOFOLLOW,
        Symlinks::Follow => 0,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nofollow | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|err| {
            if err.raw_os_error() == Some(libc::ELOOP) && is_symlink(path) {
                SpecError::Symlink {
                    origin: origin.to_string(),
                }
            } else {
                io_error("open", err)
            }
        })?;
    let metadata = file.metadata().map_err(|err| io_error("stat", err))?;
    if !metadata.is_file() {
        return Err(SpecError::NotRegularFile {
            origin: origin.to_string(),
        });
    }
    if metadata.len() > MAX_CONFIG_SIZE {
        return Err(SpecError::TooLarge {
            origin: origin.to_string(),
        });
    }
    let bytes = read_at_most(file, MAX_CONFIG_SIZE).map_err(|err| io_error("read", err))?;
    let Some(bytes) = bytes else {
        // It grew while we were reading it.
        return Err(SpecError::TooLarge {
            origin: origin.to_string(),
        });
    };
    String::from_utf8(bytes).map_err(|err| SpecError::NotUtf8 {
        origin: origin.to_string(),
        byte: err.utf8_error().valid_up_to(),
    })
}

/// The whole of `file`, or `None` if it holds more than `limit` bytes.
fn read_at_most(file: File, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    let over = u64::try_from(bytes.len()).map_or(true, |len| len > limit);
    Ok(if over { None } else { Some(bytes) })
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Parses `json` as a configuration and validates it. `origin` names the
/// source in error messages (usually the file's path).
pub fn parse(json: &str, origin: &str) -> Result<Spec, SpecError> {
    let spec = parse_model(json, origin)?;
    validate(&spec).map_err(|err| err.with_origin(origin))?;
    Ok(spec)
}

/// The configuration model of `json`, before validation: what the
/// reference's parser accepts (its fixtures hold values runoci refuses).
pub(crate) fn parse_model(json: &str, origin: &str) -> Result<Spec, SpecError> {
    let mut spec: Spec = deserialize(json, "").map_err(|err| err.with_origin(origin))?;
    normalize(&mut spec);
    Ok(spec)
}

/// A JSON object as `T`; error paths are prefixed with `root` (`process`
/// for a process.json, empty for config.json).
fn deserialize<T: serde::de::DeserializeOwned>(json: &str, root: &str) -> Result<T, SpecError> {
    // serde's derive would also take a JSON array as a struct, by position.
    let is_object = json.trim_start().starts_with('{');
    if !is_object && serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok() {
        return Err(SpecError::invalid(root, "not a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        from_serde(&join_path(root, &path), err.into_inner())
    })?;
    // Trailing non-whitespace after the document.
    deserializer.end().map_err(|err| from_serde(root, err))?;
    Ok(value)
}

/// A serde_json error as ours: syntax errors with their position, data
/// errors with the JSON path (`.` is serde_path_to_error's top level).
fn from_serde(path: &str, err: serde_json::Error) -> SpecError {
    use serde_json::error::Category;
    let message = message_without_position(&err);
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => SpecError::Syntax {
            origin: String::new(),
            line: err.line(),
            column: err.column(),
            message,
        },
        Category::Data => match missing_field_name(&message) {
            Some(field) => SpecError::invalid(join_path(path, field), "missing"),
            None => SpecError::invalid(path, message),
        },
    }
}

/// serde_json appends " at line L column C" to every message.
fn message_without_position(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_string()
}

/// `missing field `root`` → `root`.
fn missing_field_name(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
}

fn join_path(parent: &str, field: &str) -> String {
    if field.is_empty() {
        parent.to_string()
    } else if parent.is_empty() {
        field.to_string()
    } else {
        format!("{parent}.{field}")
    }
}

/// Values that mean "not set" written as empty strings, as runc accepts
/// them, become `None` so creation code has one case to handle.
fn normalize(spec: &mut Spec) {
    let Some(linux) = spec.linux.as_mut() else {
        return;
    };
    if linux.rootfs_propagation.as_deref() == Some("") {
        linux.rootfs_propagation = None;
    }
}
