//! The loop device ioctls (`struct loop_config` has no libc or nix type).

use std::os::fd::{AsRawFd, BorrowedFd};

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
pub const LO_FLAGS_READ_ONLY: u32 = 1;
pub const LO_FLAGS_AUTOCLEAR: u32 = 4;

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

/// LOOP_CTL_GET_FREE on /dev/loop-control: the number of a free device.
pub fn get_free(ctl: BorrowedFd<'_>) -> std::io::Result<i32> {
    // SAFETY: an ioctl without argument.
    let n = super::check(unsafe { libc::ioctl(ctl.as_raw_fd(), LOOP_CTL_GET_FREE) }.into())?;
    Ok(n as i32)
}

/// LOOP_CONFIGURE: back the loop device `dev` with `backing`, with
/// `flags` (LO_FLAGS_*).
pub fn configure(dev: BorrowedFd<'_>, backing: BorrowedFd<'_>, flags: u32) -> std::io::Result<()> {
    // SAFETY: LoopConfig is plain data; zero is valid for every field.
    let mut cfg: LoopConfig = unsafe { std::mem::zeroed() };
    cfg.fd = backing.as_raw_fd() as u32;
    cfg.info.lo_flags = flags;
    // SAFETY: the kernel reads a loop_config from a live pointer.
    let rc = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_CONFIGURE, &cfg as *const LoopConfig) };
    super::check(rc.into())?;
    Ok(())
}
