//! Reading and writing cgroup control files, refusing anything that is not a
//! regular file: a symlink planted in place of `cgroup.procs` must not make
//! us write a pid (or a limit) somewhere else, and a FIFO must not block us.

use super::error::CgroupError;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Flags common to reads and writes: never follow a final symlink, never
/// leak into exec'd children, never block opening a FIFO, never become our
/// controlling terminal.
const SAFE_OPEN_FLAGS: i32 = libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY;

/// Writes `contents` to the existing control file `path` in a single
/// `write(2)` (the kernel takes one value per write). The file is never
/// created: cgroupfs makes its files itself, and a missing file means the
/// controller or feature is absent.
pub fn write_file(path: &Path, contents: &str) -> Result<(), CgroupError> {
    let mut file = open_regular(path, true)?;
    let written = file
        .write(contents.as_bytes())
        .map_err(|e| CgroupError::io(path, "write", e))?;
    if written != contents.len() {
        return Err(CgroupError::io(
            path,
            "write",
            std::io::Error::new(
                ErrorKind::WriteZero,
                format!("short write: {written} of {} bytes", contents.len()),
            ),
        ));
    }
    Ok(())
}

/// Reads the whole control file `path` as text.
pub fn read_file(path: &Path) -> Result<String, CgroupError> {
    let mut file = open_regular(path, false)?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| CgroupError::io(path, "read", e))?;
    Ok(text)
}

/// Reads a control file that holds one value, without its trailing newline.
pub fn read_value(path: &Path) -> Result<String, CgroupError> {
    Ok(read_file(path)?.trim_end().to_string())
}

pub(super) fn open_regular(path: &Path, write: bool) -> Result<File, CgroupError> {
    let op = if write { "write" } else { "read" };
    let mut options = std::fs::OpenOptions::new();
    if write {
        options.write(true).truncate(true);
    } else {
        options.read(true);
    }
    let file = match options.custom_flags(SAFE_OPEN_FLAGS).open(path) {
        Ok(file) => file,
        // O_NOFOLLOW on a symlink.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(CgroupError::NotRegularFile {
                path: path.into(),
                op,
                kind: "symlink",
            })
        }
        // O_WRONLY|O_NONBLOCK on a FIFO that has no reader.
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            return Err(CgroupError::NotRegularFile {
                path: path.into(),
                op,
                kind: describe(path),
            })
        }
        Err(e) => return Err(CgroupError::io(path, "open", e)),
    };
    let file_type = file
        .metadata()
        .map_err(|e| CgroupError::io(path, "fstat", e))?
        .file_type();
    if !file_type.is_file() {
        let kind = if file_type.is_fifo() {
            "FIFO"
        } else if file_type.is_dir() {
            "directory"
        } else if file_type.is_char_device() || file_type.is_block_device() {
            "device"
        } else if file_type.is_socket() {
            "socket"
        } else {
            "special file"
        };
        return Err(CgroupError::NotRegularFile {
            path: path.into(),
            op,
            kind,
        });
    }
    Ok(file)
}

/// Names the type of `path` for an error message (best effort, no follow).
fn describe(path: &Path) -> &'static str {
    match std::fs::symlink_metadata(path).map(|m| m.file_type()) {
        Ok(t) if t.is_fifo() => "FIFO",
        Ok(t) if t.is_socket() => "socket",
        Ok(t) if t.is_char_device() || t.is_block_device() => "device",
        _ => "special file",
    }
}

/// True when `path` exists as something (without following a final symlink).
pub fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::testutil::TempDir;

    #[test]
    fn writes_and_truncates_a_regular_file() {
        let dir = TempDir::new("fs-write");
        let file = dir.path().join("memory.max");
        std::fs::write(&file, "something long\n").unwrap();
        write_file(&file, "4096").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "4096");
        assert_eq!(read_value(&file).unwrap(), "4096");
    }

    #[test]
    fn never_creates_a_missing_file() {
        let dir = TempDir::new("fs-missing");
        let file = dir.path().join("pids.max");
        let err = write_file(&file, "10").unwrap_err().to_string();
        assert!(err.contains("pids.max") && err.contains("open"), "{err}");
        assert!(!file.exists());
    }

    #[test]
    fn refuses_a_symlink() {
        let dir = TempDir::new("fs-symlink");
        let target = dir.path().join("target");
        std::fs::write(&target, "").unwrap();
        let link = dir.path().join("cgroup.procs");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = write_file(&link, "1").unwrap_err();
        assert!(
            matches!(
                err,
                CgroupError::NotRegularFile {
                    kind: "symlink",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("cgroup.procs"));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
        assert!(read_file(&link).is_err());
    }

    #[test]
    fn refuses_a_fifo_without_and_with_a_reader() {
        let dir = TempDir::new("fs-fifo");
        let fifo = dir.path().join("cgroup.procs");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = write_file(&fifo, "1").unwrap_err();
        assert!(
            matches!(err, CgroupError::NotRegularFile { kind: "FIFO", .. }),
            "{err}"
        );
        // With a reader present the open succeeds; fstat must refuse it.
        let _reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let err = write_file(&fifo, "1").unwrap_err();
        assert!(
            matches!(err, CgroupError::NotRegularFile { kind: "FIFO", .. }),
            "{err}"
        );
        let err = read_file(&fifo).unwrap_err();
        assert!(matches!(err, CgroupError::NotRegularFile { .. }), "{err}");
    }

    #[test]
    fn refuses_a_directory() {
        let dir = TempDir::new("fs-dir");
        let err = read_file(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                CgroupError::NotRegularFile {
                    kind: "directory",
                    ..
                }
            ),
            "{err}"
        );
    }
}
