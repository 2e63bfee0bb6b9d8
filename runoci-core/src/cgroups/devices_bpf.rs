//! cgroup v2 device rules: a `BPF_PROG_TYPE_CGROUP_DEVICE` program built
//! from `linux.resources.devices`, attached to the container's cgroup2
//! directory with raw `bpf(2)` calls (no BPF library).
//!
//! Semantics are those of the v1 files we write for the same config
//! (`devices::v1_rules`: `a` to `devices.deny`, then each rule in order),
//! so a config means the same on v1 and v2. We replay those writes the
//! way the kernel's v1 device controller does (`security/device_cgroup.c`):
//! - a rule of type `a` sets the default (allow or deny) and clears the
//!   exceptions;
//! - a rule that goes against the default adds an exception (merged into
//!   one with the same type, major and minor);
//! - a rule that goes with the default takes its access bits away from the
//!   exception with the same type, major and minor (dropped when empty).
//!
//! and check an access as v1 does: under default deny, allowed when one
//! exception grants every requested bit; under default allow, denied when
//! one exception shares any requested bit. This is runc's approach (its
//! device emulator reduces the rules, then the filter is generated), and
//! it is the "last matching rule wins" reading of the list.
//!
//! The program (one block per exception, then the default):
//! ```text
//!   r2 = ctx->access_type & 0xffff   ; BPF_DEVCG_DEV_BLOCK 1 / CHAR 2
//!   r3 = ctx->access_type >> 16      ; BPF_DEVCG_ACC_MKNOD 1 / READ 2 / WRITE 4
//!   r4 = ctx->major
//!   r5 = ctx->minor
//!   ; per exception:
//!   if w2 != TYPE goto next          ; 32-bit compares (JMP32)
//!   if w4 != MAJOR goto next         ; omitted for a wildcard
//!   if w5 != MINOR goto next         ; omitted for a wildcard
//!   w1 = w3; w1 &= ACCESS
//!   if w1 != w3 goto next            ; default deny: all bits granted
//!   if w1 == 0 goto next             ; default allow: any bit denied
//!   r0 = !DEFAULT; exit
//! next:
//!   ...
//!   r0 = DEFAULT; exit
//! ```
//! It is attached with `BPF_F_ALLOW_MULTI`; programs we attached before
//! (an `update` with new rules) are detached after the new one is in, so
//! there is no moment without a filter.

use super::error::CgroupError;
use crate::spec::DeviceCgroup;
use crate::sys::bpf;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

const DEV_BLOCK: u8 = 1;
const DEV_CHAR: u8 = 2;
const ACC_MKNOD: u8 = 1;
const ACC_READ: u8 = 2;
const ACC_WRITE: u8 = 4;

/// One exception of the emulated v1 controller: type (`DEV_BLOCK` or
/// `DEV_CHAR`), major and minor (`None` = any), access bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception {
    pub typ: u8,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

/// The v1 controller's state after the rules: the default and the
/// exceptions to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emulated {
    pub default_allow: bool,
    pub exceptions: Vec<Exception>,
}

impl Emulated {
    /// Replays `a` to `devices.deny` and then each rule, as the kernel does.
    /// Rules must have been validated (`devices::validate`).
    pub fn from_rules(rules: &[DeviceCgroup]) -> Result<Emulated, CgroupError> {
        super::devices::validate(rules)?;
        let mut state = Emulated {
            default_allow: false,
            exceptions: Vec::new(),
        };
        for rule in rules {
            state.apply(rule);
        }
        Ok(state)
    }

    fn apply(&mut self, rule: &DeviceCgroup) {
        let typ = match rule.typ.as_deref() {
            Some("b") => DEV_BLOCK,
            Some("c") => DEV_CHAR,
            _ => {
                // `a` (or none): the kernel looks only at the type letter.
                self.default_allow = rule.allow;
                self.exceptions.clear();
                return;
            }
        };
        let number = |n: Option<i64>| n.filter(|n| *n >= 0).map(|n| n as u32);
        let new = Exception {
            typ,
            major: number(rule.major),
            minor: number(rule.minor),
            access: access_bits(rule.access.as_deref()),
        };
        let same = |e: &Exception| e.typ == new.typ && e.major == new.major && e.minor == new.minor;
        if rule.allow != self.default_allow {
            match self.exceptions.iter_mut().find(|e| same(e)) {
                Some(e) => e.access |= new.access,
                None => self.exceptions.push(new),
            }
        } else {
            for e in self.exceptions.iter_mut().filter(|e| same(e)) {
                e.access &= !new.access;
            }
            self.exceptions.retain(|e| e.access != 0);
        }
    }

    /// Whether the emulated controller lets `access` (bits) to the device
    /// through: what the generated program answers.
    pub fn allows(&self, typ: u8, major: u32, minor: u32, access: u8) -> bool {
        let matching = self.exceptions.iter().filter(|e| {
            e.typ == typ
                && !matches!(e.major, Some(m) if m != major)
                && !matches!(e.minor, Some(m) if m != minor)
        });
        if self.default_allow {
            !matching.into_iter().any(|e| e.access & access != 0)
        } else {
            matching.into_iter().any(|e| access & !e.access == 0)
        }
    }
}

fn access_bits(access: Option<&str>) -> u8 {
    let access = access.unwrap_or("rwm");
    let mut bits = 0;
    for (letter, bit) in [('m', ACC_MKNOD), ('r', ACC_READ), ('w', ACC_WRITE)] {
        if access.contains(letter) {
            bits |= bit;
        }
    }
    bits
}

pub use crate::sys::bpf::Insn;

// Opcodes: class | op | source.
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JMP32_JNE_K: u8 = 0x56; // BPF_JMP32 | BPF_JNE | BPF_K
const JMP32_JNE_X: u8 = 0x5e; // BPF_JMP32 | BPF_JNE | BPF_X
const JMP32_JEQ_K: u8 = 0x16; // BPF_JMP32 | BPF_JEQ | BPF_K
const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// The program for `state` (see the module docs).
pub fn program(state: &Emulated) -> Vec<Insn> {
    // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
    let mut insns = vec![
        insn(LDX_MEM_W, R2, R1, 0, 0),
        insn(ALU32_AND_K, R2, 0, 0, 0xffff),
        insn(LDX_MEM_W, R3, R1, 0, 0),
        insn(ALU32_RSH_K, R3, 0, 0, 16),
        insn(LDX_MEM_W, R4, R1, 4, 0),
        insn(LDX_MEM_W, R5, R1, 8, 0),
    ];
    let default = i32::from(state.default_allow);
    for e in &state.exceptions {
        // Jumps hold the index of the block's end until the block is known.
        let mut block = vec![insn(JMP32_JNE_K, R2, 0, -1, i32::from(e.typ))];
        if let Some(major) = e.major {
            block.push(insn(JMP32_JNE_K, R4, 0, -1, major as i32));
        }
        if let Some(minor) = e.minor {
            block.push(insn(JMP32_JNE_K, R5, 0, -1, minor as i32));
        }
        block.push(insn(ALU32_MOV_X, R1, R3, 0, 0));
        block.push(insn(ALU32_AND_K, R1, 0, 0, i32::from(e.access)));
        if state.default_allow {
            block.push(insn(JMP32_JEQ_K, R1, 0, -1, 0));
        } else {
            block.push(insn(JMP32_JNE_X, R1, R3, -1, 0));
        }
        block.push(insn(ALU64_MOV_K, R0, 0, 0, 1 - default));
        block.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.off == -1 {
                ins.off = (len - i - 1) as i16;
            }
        }
        insns.extend(block);
    }
    insns.push(insn(ALU64_MOV_K, R0, 0, 0, default));
    insns.push(insn(JMP_EXIT, 0, 0, 0, 0));
    insns
}

/// Runs `insns` on a device access the way the kernel would, for the
/// instructions `program` emits (a tiny interpreter for the unit tests and
/// for checking a program against its emulated rules).
pub fn interpret(insns: &[Insn], typ: u8, major: u32, minor: u32, access: u8) -> Option<bool> {
    let ctx = [u32::from(typ) | (u32::from(access) << 16), major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    for _ in 0..insns.len() + 1 {
        let i = insns.get(pc)?;
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        let w = |v: u64| v & 0xffff_ffff;
        let imm32 = i.imm as u32 as u64;
        pc += 1;
        match i.code {
            LDX_MEM_W => {
                if src != 1 || i.off % 4 != 0 {
                    return None;
                }
                r[dst] = u64::from(*ctx.get(i.off as usize / 4)?);
            }
            ALU32_AND_K => r[dst] = w(r[dst]) & imm32,
            ALU32_RSH_K => r[dst] = w(r[dst]) >> (i.imm & 31),
            ALU32_MOV_X => r[dst] = w(r[src]),
            ALU64_MOV_K => r[dst] = i64::from(i.imm) as u64,
            JMP32_JNE_K | JMP32_JNE_X | JMP32_JEQ_K => {
                let rhs = if i.code == JMP32_JNE_X {
                    w(r[src])
                } else {
                    imm32
                };
                let taken = if i.code == JMP32_JEQ_K {
                    w(r[dst]) == rhs
                } else {
                    w(r[dst]) != rhs
                };
                if taken {
                    pc = pc.checked_add_signed(isize::from(i.off))?;
                }
            }
            JMP_EXIT => return Some(r[0] != 0),
            _ => return None,
        }
    }
    None
}

/// How many device programs are attached to the cgroup2 directory `dir`.
pub fn attached_programs(dir: &Path) -> Result<usize, CgroupError> {
    let cgroup: OwnedFd = std::fs::File::open(dir)
        .map_err(|e| CgroupError::io(dir, "open", e))?
        .into();
    bpf::attached(cgroup.as_fd())
        .map(|ids| ids.len())
        .map_err(|e| CgroupError::io(dir, "bpf(BPF_PROG_QUERY)", e))
}

/// Builds the program for `rules` and attaches it to the cgroup2
/// directory `dir`, replacing device programs attached there before.
pub fn apply(dir: &Path, rules: &[DeviceCgroup]) -> Result<(), CgroupError> {
    let state = Emulated::from_rules(rules)?;
    let insns = program(&state);
    let err = |op: &'static str| move |e: std::io::Error| CgroupError::io(dir, op, e);
    let prog =
        bpf::load_cgroup_device(&insns).map_err(err("bpf(BPF_PROG_LOAD) of the device filter"))?;
    let cgroup: OwnedFd = std::fs::File::open(dir).map_err(err("open"))?.into();
    let before = bpf::attached(cgroup.as_fd()).map_err(err("bpf(BPF_PROG_QUERY)"))?;
    bpf::attach_cgroup_device(cgroup.as_fd(), prog.as_fd())
        .map_err(err("bpf(BPF_PROG_ATTACH) of the device filter"))?;
    for id in before {
        let Ok(old) = bpf::prog_by_id(id) else {
            continue; // gone meanwhile
        };
        match bpf::detach_cgroup_device(cgroup.as_fd(), old.as_fd()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(err("bpf(BPF_PROG_DETACH) of the old device filter")(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: bool, typ: &str, major: i64, minor: i64, access: &str) -> DeviceCgroup {
        DeviceCgroup {
            allow,
            typ: Some(typ.to_string()),
            major: (major != -1).then_some(major),
            minor: (minor != -1).then_some(minor),
            access: Some(access.to_string()),
        }
    }

    fn all(allow: bool) -> DeviceCgroup {
        DeviceCgroup {
            allow,
            typ: None,
            major: None,
            minor: None,
            access: Some("rwm".to_string()),
        }
    }

    const RWM: u8 = ACC_READ | ACC_WRITE | ACC_MKNOD;
    const RW: u8 = ACC_READ | ACC_WRITE;

    /// Program and emulator agree on every combination over a grid of devices.
    fn check_agrees(state: &Emulated) {
        let insns = program(state);
        for typ in [DEV_BLOCK, DEV_CHAR] {
            for major in [0, 1, 5, 10, 136, 254, 0x8000_0001] {
                for minor in [0, 1, 3, 7, 200, 229, 0xffff_fffe] {
                    for access in 1..=7 {
                        assert_eq!(
                            interpret(&insns, typ, major, minor, access),
                            Some(state.allows(typ, major, minor, access)),
                            "{state:?} type {typ} {major}:{minor} access {access}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn no_rules_is_deny_everything() {
        let state = Emulated::from_rules(&[]).unwrap();
        assert!(!state.default_allow && state.exceptions.is_empty());
        let insns = program(&state);
        assert_eq!(insns.len(), 8);
        assert_eq!(insns[6], insn(ALU64_MOV_K, R0, 0, 0, 0));
        assert_eq!(insns[7], insn(JMP_EXIT, 0, 0, 0, 0));
        assert_eq!(interpret(&insns, DEV_CHAR, 1, 3, ACC_READ), Some(false));
    }

    #[test]
    fn prologue_reads_type_access_major_minor() {
        let insns = program(&Emulated::from_rules(&[]).unwrap());
        assert_eq!(
            insns[..6],
            [
                Insn {
                    code: 0x61,
                    regs: 0x12,
                    off: 0,
                    imm: 0
                },
                Insn {
                    code: 0x54,
                    regs: 0x02,
                    off: 0,
                    imm: 0xffff
                },
                Insn {
                    code: 0x61,
                    regs: 0x13,
                    off: 0,
                    imm: 0
                },
                Insn {
                    code: 0x74,
                    regs: 0x03,
                    off: 0,
                    imm: 16
                },
                Insn {
                    code: 0x61,
                    regs: 0x14,
                    off: 4,
                    imm: 0
                },
                Insn {
                    code: 0x61,
                    regs: 0x15,
                    off: 8,
                    imm: 0
                },
            ]
        );
    }

    #[test]
    fn one_allow_rule_is_one_block_with_jumps_to_its_end() {
        let state = Emulated::from_rules(&[all(false), rule(true, "c", 1, 3, "rw")]).unwrap();
        assert_eq!(
            state.exceptions,
            [Exception {
                typ: DEV_CHAR,
                major: Some(1),
                minor: Some(3),
                access: RW
            }]
        );
        let insns = program(&state);
        assert_eq!(
            insns[6..],
            [
                insn(JMP32_JNE_K, R2, 0, 7, 2),
                insn(JMP32_JNE_K, R4, 0, 6, 1),
                insn(JMP32_JNE_K, R5, 0, 5, 3),
                insn(ALU32_MOV_X, R1, R3, 0, 0),
                insn(ALU32_AND_K, R1, 0, 0, 6),
                insn(JMP32_JNE_X, R1, R3, 2, 0),
                insn(ALU64_MOV_K, R0, 0, 0, 1),
                insn(JMP_EXIT, 0, 0, 0, 0),
                insn(ALU64_MOV_K, R0, 0, 0, 0),
                insn(JMP_EXIT, 0, 0, 0, 0),
            ]
        );
        assert_eq!(interpret(&insns, DEV_CHAR, 1, 3, RW), Some(true));
        assert_eq!(interpret(&insns, DEV_CHAR, 1, 3, ACC_WRITE), Some(true));
        assert_eq!(
            interpret(&insns, DEV_CHAR, 1, 3, RWM),
            Some(false),
            "m not granted"
        );
        assert_eq!(interpret(&insns, DEV_BLOCK, 1, 3, ACC_READ), Some(false));
        assert_eq!(interpret(&insns, DEV_CHAR, 1, 5, ACC_READ), Some(false));
        check_agrees(&state);
    }

    #[test]
    fn wildcards_omit_their_compare() {
        let state = Emulated::from_rules(&[rule(true, "c", 136, -1, "rwm")]).unwrap();
        let insns = program(&state);
        // type, major, (no minor), mov, and, jne, mov r0, exit; then default.
        assert_eq!(insns.len(), 6 + 7 + 2);
        assert_eq!(interpret(&insns, DEV_CHAR, 136, 12345, RWM), Some(true));
        assert_eq!(interpret(&insns, DEV_CHAR, 137, 0, ACC_READ), Some(false));
        check_agrees(&state);
    }

    #[test]
    fn allow_all_then_deny_one_denies_any_shared_access_bit() {
        let state = Emulated::from_rules(&[all(true), rule(false, "c", 10, 229, "w")]).unwrap();
        assert!(state.default_allow);
        let insns = program(&state);
        assert_eq!(interpret(&insns, DEV_CHAR, 10, 229, ACC_READ), Some(true));
        assert_eq!(interpret(&insns, DEV_CHAR, 10, 229, RW), Some(false));
        assert_eq!(interpret(&insns, DEV_CHAR, 10, 229, ACC_WRITE), Some(false));
        assert_eq!(interpret(&insns, DEV_CHAR, 10, 228, RWM), Some(true));
        assert_eq!(interpret(&insns, DEV_BLOCK, 8, 0, RWM), Some(true));
        check_agrees(&state);
    }

    #[test]
    fn last_rule_wins_for_the_same_device() {
        // deny-all, allow 1:7, deny 1:7 again: denied.
        let state = Emulated::from_rules(&[
            all(false),
            rule(true, "c", 1, 7, "rwm"),
            rule(false, "c", 1, 7, "rwm"),
        ])
        .unwrap();
        assert!(state.exceptions.is_empty());
        assert!(!state.allows(DEV_CHAR, 1, 7, ACC_READ));
        // ... and allowed again after a later allow.
        let state = Emulated::from_rules(&[
            all(false),
            rule(true, "c", 1, 7, "rwm"),
            rule(false, "c", 1, 7, "w"),
            rule(true, "c", 1, 7, "w"),
        ])
        .unwrap();
        assert!(state.allows(DEV_CHAR, 1, 7, RWM));
        check_agrees(&state);
        // A partial deny takes only its bits away.
        let state = Emulated::from_rules(&[
            all(false),
            rule(true, "c", 1, 7, "rwm"),
            rule(false, "c", 1, 7, "w"),
        ])
        .unwrap();
        assert!(state.allows(DEV_CHAR, 1, 7, ACC_READ | ACC_MKNOD));
        assert!(!state.allows(DEV_CHAR, 1, 7, ACC_WRITE));
        check_agrees(&state);
    }

    #[test]
    fn a_later_type_a_rule_resets_everything_before_it() {
        let state = Emulated::from_rules(&[
            rule(true, "c", 1, 3, "rwm"),
            all(true),
            rule(false, "b", -1, -1, "m"),
            all(false),
            rule(true, "c", 5, 0, "rw"),
        ])
        .unwrap();
        assert_eq!(
            state,
            Emulated {
                default_allow: false,
                exceptions: vec![Exception {
                    typ: DEV_CHAR,
                    major: Some(5),
                    minor: Some(0),
                    access: RW
                }],
            }
        );
        check_agrees(&state);
    }

    #[test]
    fn runcs_defaults_after_a_deny_all() {
        // What setup_cgroup sends for a config with `deny all`: the rule,
        // then runc's defaults.
        let mut rules = vec![all(false)];
        rules.extend(super::super::devices::runc_default_rules());
        let state = Emulated::from_rules(&rules).unwrap();
        assert_eq!(state.exceptions.len(), 12);
        assert!(state.allows(DEV_CHAR, 1, 3, RW));
        assert!(state.allows(DEV_CHAR, 136, 4, RW));
        assert!(state.allows(DEV_CHAR, 10, 229, ACC_MKNOD));
        assert!(!state.allows(DEV_CHAR, 10, 229, ACC_READ));
        assert!(!state.allows(DEV_BLOCK, 8, 0, ACC_READ));
        check_agrees(&state);
    }

    #[test]
    fn big_numbers_compare_as_32_bit() {
        let state =
            Emulated::from_rules(&[all(false), rule(true, "c", 0x8000_0001, 0xffff_fffe, "r")])
                .unwrap();
        let insns = program(&state);
        assert_eq!(
            interpret(&insns, DEV_CHAR, 0x8000_0001, 0xffff_fffe, ACC_READ),
            Some(true)
        );
        check_agrees(&state);
    }

    #[test]
    fn bad_rules_are_refused_before_any_program() {
        let err = Emulated::from_rules(&[rule(true, "x", 1, 1, "r")]).unwrap_err();
        assert!(
            err.to_string().contains("linux.resources.devices[0].type"),
            "{err}"
        );
    }

    #[test]
    fn instructions_are_8_bytes_as_the_kernel_reads_them() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }
}
