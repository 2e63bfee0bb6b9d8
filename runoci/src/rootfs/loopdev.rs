//! `loop` mounts: a loop device attached through /dev/loop-control with
//! autoclear, so it goes away with the last mount of it. Attached inside
//! the container's mount namespace, the mount dies with the container.

use crate::error::{Context, Error, Result};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LO_FLAGS_READ_ONLY: u32 = 1;
const LO_FLAGS_AUTOCLEAR: u32 = 4;

#[repr(C)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; 64],
    lo_crypt_name: [u8; 64],
    lo_encrypt_key: [u8; 32],
    lo_init: [u64; 2],
}

#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

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
        // SAFETY: ioctl without argument on a loop-control fd.
        let n = unsafe { libc::ioctl(ctl.as_raw_fd(), LOOP_CTL_GET_FREE) };
        if n < 0 {
            return Err(Error::from(std::io::Error::last_os_error()).context("LOOP_CTL_GET_FREE"));
        }
        let path = PathBuf::from(format!("/dev/loop{n}"));
        let dev = std::fs::OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(&path)
            .with_ctx(|| format!("open {}", path.display()))?;
        // SAFETY: LoopConfig is plain data; zero is valid for every field.
        let mut cfg: LoopConfig = unsafe { std::mem::zeroed() };
        cfg.fd = file.as_raw_fd() as u32;
        cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | if read_only { LO_FLAGS_READ_ONLY } else { 0 };
        // SAFETY: cfg is a valid loop_config for the call's duration.
        let rc = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_CONFIGURE, &cfg as *const LoopConfig) };
        if rc == 0 {
            return Ok(LoopDevice {
                path,
                _fd: dev.into(),
            });
        }
        let err = std::io::Error::last_os_error();
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
