//! `tmpcopyup`: runc's mount option (podman puts it on the tmpfs mounts of
//! `--read-only` and `--tmpfs`): the fresh tmpfs gets a copy of what the
//! directory it covers held, so an image's `/run` or `/tmp` content stays
//! visible.
//!
//! The covered directory is opened before the mount; afterwards it is still
//! readable through that fd. Entries are copied by type (directories,
//! regular files, symlinks; devices, fifos and sockets are skipped), with
//! mode, owner and times kept. Nothing is followed: every entry is taken
//! with `lstat`, and only directories we just saw as directories are
//! entered.

use crate::error::{Context, Result};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Copies the contents of `from` into `to` (both existing directories).
pub fn copy_dir_contents(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).with_ctx(|| format!("tmpcopyup: read {}", from.display()))? {
        let entry = entry.ctx("tmpcopyup: read entry")?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        copy_entry(&src, &dst).with_ctx(|| format!("tmpcopyup: copy {}", src.display()))?;
    }
    Ok(())
}

fn copy_entry(src: &Path, dst: &Path) -> std::io::Result<()> {
    let meta = fs::symlink_metadata(src)?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(src)?, dst)?;
        std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))?;
        return Ok(());
    }
    if ft.is_dir() {
        fs::create_dir(dst)?;
        for entry in fs::read_dir(src)? {
            let entry = entry?;
            copy_entry(&entry.path(), &dst.join(entry.file_name()))?;
        }
    } else if ft.is_file() {
        fs::copy(src, dst)?;
    } else {
        return Ok(());
    }
    std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))?;
    fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    Ok(())
}
