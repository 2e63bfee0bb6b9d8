//! The names `config.json` and the command line use for kernel constants
//! (capabilities, rlimits, securebits, propagation, namespaces, mount
//! options; signals are `runoci_proto::Signal`'s), and the constants they stand for. Validation and
//! container creation share these tables, so a name that validates is a name
//! creation can use.

use nix::mount::MsFlags;
use nix::sched::CloneFlags;

/// The capabilities by their spec names, with the kernel's numbers
/// (`<linux/capability.h>`): a plain table, so that what reads the config
/// needs no capability library (the creation code converts the number where
/// it applies capabilities).
const CAPABILITIES: [(&str, u8); 41] = [
    ("CAP_CHOWN", 0),
    ("CAP_DAC_OVERRIDE", 1),
    ("CAP_DAC_READ_SEARCH", 2),
    ("CAP_FOWNER", 3),
    ("CAP_FSETID", 4),
    ("CAP_KILL", 5),
    ("CAP_SETGID", 6),
    ("CAP_SETUID", 7),
    ("CAP_SETPCAP", 8),
    ("CAP_LINUX_IMMUTABLE", 9),
    ("CAP_NET_BIND_SERVICE", 10),
    ("CAP_NET_BROADCAST", 11),
    ("CAP_NET_ADMIN", 12),
    ("CAP_NET_RAW", 13),
    ("CAP_IPC_LOCK", 14),
    ("CAP_IPC_OWNER", 15),
    ("CAP_SYS_MODULE", 16),
    ("CAP_SYS_RAWIO", 17),
    ("CAP_SYS_CHROOT", 18),
    ("CAP_SYS_PTRACE", 19),
    ("CAP_SYS_PACCT", 20),
    ("CAP_SYS_ADMIN", 21),
    ("CAP_SYS_BOOT", 22),
    ("CAP_SYS_NICE", 23),
    ("CAP_SYS_RESOURCE", 24),
    ("CAP_SYS_TIME", 25),
    ("CAP_SYS_TTY_CONFIG", 26),
    ("CAP_MKNOD", 27),
    ("CAP_LEASE", 28),
    ("CAP_AUDIT_WRITE", 29),
    ("CAP_AUDIT_CONTROL", 30),
    ("CAP_SETFCAP", 31),
    ("CAP_MAC_OVERRIDE", 32),
    ("CAP_MAC_ADMIN", 33),
    ("CAP_SYSLOG", 34),
    ("CAP_WAKE_ALARM", 35),
    ("CAP_BLOCK_SUSPEND", 36),
    ("CAP_AUDIT_READ", 37),
    ("CAP_PERFMON", 38),
    ("CAP_BPF", 39),
    ("CAP_CHECKPOINT_RESTORE", 40),
];

/// A capability's kernel number by its spec name, exactly as the spec
/// spells it (`CAP_KILL` → 5); `None` for anything else.
pub fn capability(name: &str) -> Option<u8> {
    lookup(&CAPABILITIES, name)
}

/// Every capability name the table knows, in kernel order.
pub fn capability_names() -> impl Iterator<Item = &'static str> {
    CAPABILITIES.iter().map(|(name, _)| *name)
}

/// The 16 Linux resource limits, by their spec names.
const RLIMITS: [(&str, libc::__rlimit_resource_t); 16] = [
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
];

/// A resource limit by its spec name (`RLIMIT_NOFILE`).
pub fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    lookup(&RLIMITS, name)
}

/// The securebits of `linux.skipSecurebits` (run_oci), as bit values
/// (`<linux/securebits.h>`).
const SECUREBITS: [(&str, u32); 8] = [
    ("NOROOT", 1 << 0),
    ("NOROOT_LOCKED", 1 << 1),
    ("NO_SETUID_FIXUP", 1 << 2),
    ("NO_SETUID_FIXUP_LOCKED", 1 << 3),
    ("KEEP_CAPS", 1 << 4),
    ("KEEP_CAPS_LOCKED", 1 << 5),
    ("NO_CAP_AMBIENT_RAISE", 1 << 6),
    ("NO_CAP_AMBIENT_RAISE_LOCKED", 1 << 7),
];

/// A securebit's value (not its index) by its name (`KEEP_CAPS` → 0x10).
pub fn securebit(name: &str) -> Option<u32> {
    lookup(&SECUREBITS, name)
}

/// Mount propagation names, as in `linux.rootfsPropagation` and mount
/// options; the `r` variants add `MS_REC`.
const PROPAGATIONS: [(&str, MsFlags); 8] = [
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// The propagation flags for `name` (`rprivate` → `MS_PRIVATE | MS_REC`).
pub fn propagation(name: &str) -> Option<MsFlags> {
    lookup(&PROPAGATIONS, name)
}

/// `CLONE_NEWTIME` (Linux 5.6); nix 0.29 has no name for it.
const CLONE_NEWTIME: CloneFlags = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);

const NAMESPACES: [(&str, CloneFlags); 8] = [
    ("pid", CloneFlags::CLONE_NEWPID),
    ("network", CloneFlags::CLONE_NEWNET),
    ("mount", CloneFlags::CLONE_NEWNS),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("user", CloneFlags::CLONE_NEWUSER),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("time", CLONE_NEWTIME),
];

/// The clone flag of a namespace type as the spec names it (`network`).
pub fn namespace_flag(typ: &str) -> Option<CloneFlags> {
    lookup(&NAMESPACES, typ)
}

/// A mount's `options`, sorted into what mount(2) and the code around it
/// need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags to set (`ro` → `MS_RDONLY`). Holds `MS_REC` when `recursive`.
    pub flags: MsFlags,
    /// Flags the options turn off (`rw` → `MS_RDONLY`), for remounts and
    /// bind mounts that would otherwise inherit them.
    pub clear: MsFlags,
    /// Propagation to apply with a separate mount(2) (`MS_PRIVATE` ...), with
    /// `MS_REC` for the `r` variants and when `recursive` is set.
    pub propagation: MsFlags,
    /// Every option not known here, joined with `,`: the filesystem's data.
    pub data: String,
    /// `loop`: mount through a loop device (run_oci).
    pub loop_device: bool,
    /// `dm=...`: dm-verity parameters (run_oci).
    pub verity: Option<String>,
    /// `rbind` or `recursive`.
    pub recursive: bool,
    /// `tmpcopyup` (runc's extension, podman sets it on tmpfs mounts): fill
    /// the new tmpfs with what the directory under it held.
    pub tmpcopyup: bool,
    /// `rro`, `rnosuid`, ...: attributes set on the mount and every mount
    /// under it with mount_setattr(AT_RECURSIVE), after the mount.
    pub recursive_attrs: RecursiveAttrs,
    /// `idmap` (`Some(false)`) or `ridmap` (`Some(true)`, every submount
    /// of an rbind idmapped too).
    pub idmap: Option<bool>,
}

/// mount_setattr(2)'s `attr_set` and `attr_clr` (`MOUNT_ATTR_*`), and the
/// options they came from, for errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecursiveAttrs {
    pub set: u64,
    pub clear: u64,
    pub options: Vec<&'static str>,
}

impl RecursiveAttrs {
    pub fn is_empty(&self) -> bool {
        self.options.is_empty()
    }
}

/// The recursive options, runc's table: set (`true`) or clear an attribute
/// on the whole tree. The atime attributes are one field, not bits:
/// changing any of them clears `MOUNT_ATTR__ATIME` too, as mount_setattr(2)
/// requires, so `ratime` and `rnostrictatime` mean relatime.
const RECURSIVE_OPTIONS: [(&str, bool, u64); 18] = [
    ("rro", true, libc::MOUNT_ATTR_RDONLY),
    ("rrw", false, libc::MOUNT_ATTR_RDONLY),
    ("rnosuid", true, libc::MOUNT_ATTR_NOSUID),
    ("rsuid", false, libc::MOUNT_ATTR_NOSUID),
    ("rnodev", true, libc::MOUNT_ATTR_NODEV),
    ("rdev", false, libc::MOUNT_ATTR_NODEV),
    ("rnoexec", true, libc::MOUNT_ATTR_NOEXEC),
    ("rexec", false, libc::MOUNT_ATTR_NOEXEC),
    ("rnodiratime", true, libc::MOUNT_ATTR_NODIRATIME),
    ("rdiratime", false, libc::MOUNT_ATTR_NODIRATIME),
    ("rrelatime", true, libc::MOUNT_ATTR_RELATIME),
    ("rnorelatime", false, libc::MOUNT_ATTR_RELATIME),
    ("rnoatime", true, libc::MOUNT_ATTR_NOATIME),
    ("ratime", false, libc::MOUNT_ATTR_NOATIME),
    ("rstrictatime", true, libc::MOUNT_ATTR_STRICTATIME),
    ("rnostrictatime", false, libc::MOUNT_ATTR_STRICTATIME),
    ("rnosymfollow", true, libc::MOUNT_ATTR_NOSYMFOLLOW),
    ("rsymfollow", false, libc::MOUNT_ATTR_NOSYMFOLLOW),
];

fn is_atime(attr: u64) -> bool {
    attr & libc::MOUNT_ATTR__ATIME == attr
}

/// `MS_NOSYMFOLLOW` (Linux 5.10); neither nix 0.29 nor libc name it.
const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

/// Options that set a flag (`true`) or clear it (`false`), as runc's table.
const FLAG_OPTIONS: [(&str, bool, MsFlags); 30] = [
    ("ro", true, MsFlags::MS_RDONLY),
    ("rw", false, MsFlags::MS_RDONLY),
    ("nosuid", true, MsFlags::MS_NOSUID),
    ("suid", false, MsFlags::MS_NOSUID),
    ("nodev", true, MsFlags::MS_NODEV),
    ("dev", false, MsFlags::MS_NODEV),
    ("noexec", true, MsFlags::MS_NOEXEC),
    ("exec", false, MsFlags::MS_NOEXEC),
    ("sync", true, MsFlags::MS_SYNCHRONOUS),
    ("async", false, MsFlags::MS_SYNCHRONOUS),
    ("dirsync", true, MsFlags::MS_DIRSYNC),
    ("remount", true, MsFlags::MS_REMOUNT),
    ("mand", true, MsFlags::MS_MANDLOCK),
    ("nomand", false, MsFlags::MS_MANDLOCK),
    ("noatime", true, MsFlags::MS_NOATIME),
    ("atime", false, MsFlags::MS_NOATIME),
    ("nodiratime", true, MsFlags::MS_NODIRATIME),
    ("diratime", false, MsFlags::MS_NODIRATIME),
    ("bind", true, MsFlags::MS_BIND),
    ("relatime", true, MsFlags::MS_RELATIME),
    ("norelatime", false, MsFlags::MS_RELATIME),
    ("strictatime", true, MsFlags::MS_STRICTATIME),
    ("nostrictatime", false, MsFlags::MS_STRICTATIME),
    ("lazytime", true, MsFlags::MS_LAZYTIME),
    ("nolazytime", false, MsFlags::MS_LAZYTIME),
    ("silent", true, MsFlags::MS_SILENT),
    ("loud", false, MsFlags::MS_SILENT),
    ("nosymfollow", true, MS_NOSYMFOLLOW),
    ("symfollow", false, MS_NOSYMFOLLOW),
    // fstab's "defaults": nothing to set; kept out of the data.
    ("defaults", true, MsFlags::empty()),
];

/// The options [`mount_options`] takes by name besides [`FLAG_OPTIONS`]
/// and the propagations (besides `dm=...`, which carries a value).
const OTHER_OPTIONS: [&str; 6] = ["rbind", "recursive", "loop", "tmpcopyup", "idmap", "ridmap"];

/// Sorts mount options as the reference's `ParseMountOptions` does, with
/// runc's full table of flag names. A later option wins over an earlier
/// one (`ro,rw` is read-write).
pub fn mount_options(options: &[String]) -> MountOptions {
    let mut parsed = MountOptions {
        flags: MsFlags::empty(),
        clear: MsFlags::empty(),
        propagation: MsFlags::empty(),
        data: String::new(),
        loop_device: false,
        verity: None,
        recursive: false,
        tmpcopyup: false,
        recursive_attrs: RecursiveAttrs::default(),
        idmap: None,
    };
    let mut data: Vec<&str> = Vec::new();
    for option in options {
        let option = option.as_str();
        if let Some(&(_, set, flag)) = FLAG_OPTIONS.iter().find(|(name, ..)| *name == option) {
            if set {
                parsed.flags.insert(flag);
                parsed.clear.remove(flag);
            } else {
                parsed.flags.remove(flag);
                parsed.clear.insert(flag);
            }
        } else if let Some(&(name, set, attr)) =
            RECURSIVE_OPTIONS.iter().find(|(name, ..)| *name == option)
        {
            let rec = &mut parsed.recursive_attrs;
            if set {
                rec.set |= attr;
                rec.clear &= !attr;
            } else {
                rec.clear |= attr;
                rec.set &= !attr;
            }
            if is_atime(attr) {
                rec.clear |= libc::MOUNT_ATTR__ATIME;
            }
            rec.options.push(name);
        } else if option == "idmap" || option == "ridmap" {
            parsed.idmap = Some(option == "ridmap");
        } else if let Some(flags) = propagation(option) {
            parsed.propagation.insert(flags);
        } else if option == "rbind" {
            parsed.flags.insert(MsFlags::MS_BIND);
            parsed.recursive = true;
        } else if option == "recursive" {
            parsed.recursive = true;
        } else if option == "loop" {
            parsed.loop_device = true;
        } else if option == "tmpcopyup" {
            parsed.tmpcopyup = true;
        } else if let Some(verity) = option.strip_prefix("dm=") {
            parsed.verity = Some(verity.to_string());
        } else {
            data.push(option);
        }
    }
    if parsed.recursive {
        parsed.flags.insert(MsFlags::MS_REC);
        if !parsed.propagation.is_empty() {
            parsed.propagation.insert(MsFlags::MS_REC);
        }
    }
    parsed.data = data.join(",");
    parsed
}

/// Every mount option `mount_options` gives a meaning (the rest go to the
/// filesystem as data), sorted: what `features` reports as
/// `mountOptions`.
pub fn mount_option_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = FLAG_OPTIONS
        .iter()
        .map(|(name, ..)| *name)
        .chain(RECURSIVE_OPTIONS.iter().map(|(name, ..)| *name))
        .chain(PROPAGATIONS.iter().map(|(name, _)| *name))
        .chain(OTHER_OPTIONS)
        .collect();
    names.sort_unstable();
    names
}

fn lookup<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    table
        .iter()
        .find(|(known, _)| *known == name)
        .map(|&(_, value)| value)
}

/// Every namespace type the spec names and runoci makes (or joins).
pub fn namespace_names() -> impl Iterator<Item = &'static str> {
    NAMESPACES.iter().map(|(name, _)| *name)
}

/// `linux.seccomp` actions runoci compiles (`SCMP_ACT_KILL` is the old
/// name of `SCMP_ACT_KILL_THREAD`).
pub const SECCOMP_ACTIONS: [&str; 9] = [
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

/// `linux.seccomp.syscalls[].args[].op` comparison operators.
pub const SECCOMP_OPS: [&str; 7] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// `linux.seccomp.architectures`: the names libseccomp parses.
pub const SECCOMP_ARCHES: [&str; 24] = [
    "SCMP_ARCH_NATIVE",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_SHEB",
    "SCMP_ARCH_SH",
];

/// `linux.seccomp.flags`.
pub const SECCOMP_FLAGS: [&str; 4] = [
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];
