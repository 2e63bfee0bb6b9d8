//! The compiled seccomp filter of a container, kept in its state directory
//! for `exec`. libseccomp's rule building for an engine's default profile
//! (~325 names, 3 architectures) is ~10M instructions, about 3 ms: more
//! than the rest of an `exec`, which Kubernetes runs for every exec probe.
//! The first `exec` compiles the filter as before and writes the kernel's
//! BPF program next to the record (`seccomp.bpf`); later ones load that
//! program as it is. The file names the config it was compiled from, so a
//! config changed in the bundle since is compiled afresh.
//!
//! Only filters libseccomp would load with no more than the spec's TSYNC,
//! LOG and SPEC_ALLOW flags are kept: a notification listener, and the
//! flag that goes with it, stay libseccomp's to set up.

use crate::spec::Seccomp;
use std::io::Read;
use std::path::Path;

pub const FILE: &str = "seccomp.bpf";

const MAGIC: &[u8; 8] = b"runoci1\n";

/// What an exec'd process loads: the cached program (raw BPF) with the
/// seccomp(2) flags its config asks for.
pub struct CachedFilter {
    pub bpf: Vec<u8>,
    pub flags: u32,
}

/// Whether the program of `s` is one to keep (see the module's doc).
pub fn keeps(s: &Seccomp) -> bool {
    flags(s).is_some()
}

/// The seccomp(2) flags of `s`, or None when the filter is not kept (see
/// the module's doc).
fn flags(s: &Seccomp) -> Option<u32> {
    if s.wants_notify() {
        return None;
    }
    let mut flags = 0;
    for f in &s.flags {
        flags |= match f.as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => libc::SECCOMP_FILTER_FLAG_TSYNC,
            "SECCOMP_FILTER_FLAG_LOG" => libc::SECCOMP_FILTER_FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            _ => return None,
        } as u32;
    }
    Some(flags)
}

/// The key a kept program is filed under: the config itself, as JSON.
fn key(s: &Seccomp) -> Option<Vec<u8>> {
    serde_json::to_vec(s).ok()
}

/// The program kept in `dir` for exactly `s`, if there is one.
pub fn read(dir: &Path, s: &Seccomp) -> Option<CachedFilter> {
    let flags = flags(s)?;
    let key = key(s)?;
    let mut data = Vec::new();
    std::fs::File::open(dir.join(FILE))
        .ok()?
        .read_to_end(&mut data)
        .ok()?;
    let rest = data.strip_prefix(MAGIC.as_slice())?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len) as usize;
    let (stored, bpf) = (rest.get(..len)?, rest.get(len..)?);
    // A BPF instruction (struct sock_filter) is 8 bytes.
    if stored != key || bpf.is_empty() || !bpf.len().is_multiple_of(8) {
        return None;
    }
    Some(CachedFilter {
        bpf: bpf.to_vec(),
        flags,
    })
}

/// Keeps the program of `ctx`, compiled from `s`, in `dir` (best effort:
/// an exec must not fail because the record cannot be written) and
/// returns it; None when the filter is not one to keep (see [`keeps`]),
/// or libseccomp cannot export it (the child then compiles it, as
/// without a cache).
pub fn keep(dir: &Path, s: &Seccomp, ctx: &libseccomp::ScmpFilterContext) -> Option<CachedFilter> {
    let flags = flags(s)?;
    let key = key(s)?;
    let mut data = Vec::with_capacity(MAGIC.len() + 4 + key.len() + 4096);
    data.extend_from_slice(MAGIC);
    data.extend_from_slice(&(key.len() as u32).to_le_bytes());
    data.extend_from_slice(&key);
    let bpf = export(ctx)?;
    data.extend_from_slice(&bpf);
    let _ = runoci_core::state::write_atomic(&dir.join(FILE), &data);
    Some(CachedFilter { bpf, flags })
}

/// The kernel program of `ctx` (libseccomp 2.5 exports only to an fd).
fn export(ctx: &libseccomp::ScmpFilterContext) -> Option<Vec<u8>> {
    use std::io::Seek;
    let mut f = memfd().ok()?;
    ctx.export_bpf(&f).ok()?;
    f.rewind().ok()?;
    let mut bpf = Vec::new();
    f.read_to_end(&mut bpf).ok()?;
    (!bpf.is_empty() && bpf.len().is_multiple_of(8)).then_some(bpf)
}

fn memfd() -> std::io::Result<std::fs::File> {
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    let fd = memfd_create(c"runoci-seccomp", MemFdCreateFlag::MFD_CLOEXEC)
        .map_err(std::io::Error::from)?;
    Ok(std::fs::File::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_and_keep(dir: &Path, s: &Seccomp) -> Option<CachedFilter> {
        keep(dir, s, &crate::seccomp::build(s).ok()?)
    }

    fn profile() -> Seccomp {
        serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]
        }))
        .unwrap()
    }

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("runoci-bpf-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_kept_program_is_found_for_the_same_config_only() {
        let d = dir("same");
        let s = profile();
        assert!(read(&d, &s).is_none(), "nothing kept yet");
        let made = compile_and_keep(&d, &s).expect("kept");
        assert_eq!(made.flags, libc::SECCOMP_FILTER_FLAG_LOG as u32);
        let found = read(&d, &s).expect("found");
        assert_eq!(found.bpf, made.bpf);
        let mut other = s.clone();
        other.syscalls[0].names.push("openat".into());
        assert!(
            read(&d, &other).is_none(),
            "another config is not this program"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn listeners_and_unknown_flags_are_left_to_libseccomp() {
        let d = dir("notify");
        let mut s = profile();
        s.syscalls[0].action = "SCMP_ACT_NOTIFY".into();
        assert!(compile_and_keep(&d, &s).is_none());
        let mut s = profile();
        s.flags = vec!["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV".into()];
        assert!(compile_and_keep(&d, &s).is_none());
        assert!(!d.join(FILE).exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_truncated_file_is_not_loaded() {
        let d = dir("trunc");
        let s = profile();
        compile_and_keep(&d, &s).unwrap();
        let data = std::fs::read(d.join(FILE)).unwrap();
        std::fs::write(d.join(FILE), &data[..data.len() - 3]).unwrap();
        assert!(read(&d, &s).is_none());
        let _ = std::fs::remove_dir_all(&d);
    }
}
