//! `loop` mounts: a loop device attached through /dev/loop-control with
//! autoclear, so it goes away with the last mount of it. Attached inside
//! the container's mount namespace, the mount dies with the container.

use crate::error::{Context, Error, Result};
use crate::sys::loopdev;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// An attached loop device; the fd is held until the mount is made.
pub struct LoopDevice {
    pub path: PathBuf,
    _fd: OwnedFd,
}

pub fn attach(backing: &Path, read_only: bool) -> Result<LoopDevice> {
    let ctl = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")
        .ctx("open /dev/loop-control (is the loop module loaded?)")?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(!read_only)
        .open(backing)
        .with_ctx(|| format!("open loop backing file {}", backing.display()))?;
    for _ in 0..8 {
        let n = loopdev::get_free(ctl.as_fd()).ctx("LOOP_CTL_GET_FREE")?;
        let path = PathBuf::from(format!("/dev/loop{n}"));
        let dev = std::fs::OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(&path)
            .with_ctx(|| format!("open {}", path.display()))?;
        let flags = loopdev::LO_FLAGS_AUTOCLEAR
            | if read_only {
                loopdev::LO_FLAGS_READ_ONLY
            } else {
                0
            };
        let Err(err) = loopdev::configure(dev.as_fd(), file.as_fd(), flags) else {
            return Ok(LoopDevice {
                path,
                _fd: dev.into(),
            });
        };
        // EBUSY: someone else took this device between GET_FREE and us.
        if err.raw_os_error() != Some(libc::EBUSY) {
            return Err(Error::from(err).context(format!("LOOP_CONFIGURE {}", path.display())));
        }
    }
    Err(Error::new("no free loop device after 8 tries"))
}

/// `dm=` (dm-verity) options: clear error, naming why.
pub fn verity_unsupported(options: &str) -> Result<()> {
    if !Path::new("/dev/mapper/control").exists() {
        return Err(Error::new(format!(
            "dm-verity option \"dm={options}\": this kernel has no device-mapper (/dev/mapper/control is missing)"
        )));
    }
    Err(Error::new(format!(
        "dm-verity option \"dm={options}\": dm-verity mounts are not supported by runoci yet"
    )))
}
