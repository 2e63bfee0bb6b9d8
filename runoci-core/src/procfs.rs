//! The checks that a handle is on the real procfs (the writes through them
//! are `runoci::procfs::write`'s), and the one parser of `/proc/PID/stat`.
//!
//! Defends against CVE-2019-16884 / CVE-2025-52881: a container can mount
//! something else over `/proc` (or plant symlinks in it) so that a write
//! meant for `/proc/self/attr/exec` or `/proc/sys/...` lands elsewhere. We
//! open every procfs file with O_NOFOLLOW relative to a directory fd whose
//! filesystem magic we checked with fstatfs, and check the file again.

use crate::error::{Error, Result};
use crate::sys::fs::mount_id;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Whether `fd` is on a procfs; `what` names it in the error.
pub fn check_procfs(fd: &OwnedFd, what: &Path) -> Result<()> {
    let st = nix::sys::statfs::fstatfs(fd)
        .map_err(|e| Error::from(std::io::Error::from(e)).context(what.display()))?;
    let f_type = st.filesystem_type().0;
    if f_type as i64 != PROC_SUPER_MAGIC {
        return Err(Error::new(format!(
            "{}: not on procfs (f_type {f_type:#x}); refusing to write",
            what.display(),
        )));
    }
    Ok(())
}

/// After pivot_root: `/proc` must be a procfs for what goes through it
/// (`field`: masks and read-only binds of `/proc/self/fd/N`, sysctl writes).
/// Without this check a config with no proc mount fails later with "No such
/// file" naming the masked path or the key, which hides the cause.
pub fn require_mounted(field: &str) -> Result<()> {
    let st = match nix::sys::statfs::statfs("/proc") {
        Ok(st) => st,
        Err(e) => {
            let err = std::io::Error::from(e);
            return Err(Error::new(format!(
                "{field}: /proc is missing in the container ({err}); add a \"proc\" mount at /proc"
            )));
        }
    };
    let f_type = st.filesystem_type().0;
    if f_type as i64 != PROC_SUPER_MAGIC {
        return Err(Error::new(format!(
            "{field}: /proc is not mounted in the container (not on procfs: f_type {f_type:#x}); add a \"proc\" mount at /proc",
        )));
    }
    Ok(())
}

/// The file must be on the very procfs mount we verified, not on another
/// mount stacked on top of it: a bind of another procfs file over it (say
/// the host's /proc/sys/kernel/core_pattern over /proc/sys/net/... or
/// /proc/self/attr/exec) passes the filesystem check but would redirect
/// the write (CVE-2025-52881).
pub fn check_same_mount(proc_fd: &OwnedFd, fd: &OwnedFd, what: &str) -> Result<()> {
    if let (Some(a), Some(b)) = (mount_id(proc_fd.as_fd()), mount_id(fd.as_fd())) {
        if a != b {
            return Err(Error::new(format!(
                "{what}: another mount covers it (mount {b}, /proc is mount {a}); refusing to write"
            )));
        }
    }
    Ok(())
}

/// The fields of `/proc/PID/stat` we use (proc(5) numbering in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// [2] the command, without its parentheses; it may hold spaces and
    /// parentheses itself.
    pub comm: String,
    /// [3] `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
    pub state: char,
    /// [4]
    pub ppid: i32,
    /// [14], [15] CPU time in clock ticks.
    pub utime: u64,
    pub stime: u64,
    /// [22] start time in clock ticks since boot: with the pid, names one
    /// process across pid reuse.
    pub start_time: u64,
}

impl Stat {
    /// Exited: a zombie waiting to be reaped, or dead.
    pub fn is_gone(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// Parses the text of a stat file; `None` when it is not one.
pub fn parse_stat(text: &str) -> Option<Stat> {
    // The command is between the first '(' and the last ')': it may itself
    // hold both, and spaces, so fields are counted after the last ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    if close < open {
        return None;
    }
    let comm = text[open + 1..close].to_string();
    // Index 0 is field 3 (state).
    let fields: Vec<&str> = text[close + 1..].split_ascii_whitespace().collect();
    let mut state = fields.first()?.chars();
    let (Some(c), None) = (state.next(), state.next()) else {
        return None;
    };
    let num = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    Some(Stat {
        comm,
        state: c,
        ppid: fields.get(1)?.parse().ok()?,
        utime: num(14)?,
        stime: num(15)?,
        start_time: num(22)?,
    })
}

/// `/proc/<pid>/stat` (`pid` may be `self`); `None` when there is no such
/// process.
pub fn read_stat(pid: impl std::fmt::Display) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Start time of `pid` in clock ticks since boot (field 22 of stat), or
/// None when there is no such process or it has exited (a zombie).
pub fn pid_start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    read_stat(pid)
        .filter(|st| !st.is_gone())
        .map(|st| st.start_time)
}

/// `pid` is alive and is the process recorded with `start_time`.
pub fn same_process(pid: i32, start_time: u64) -> bool {
    pid > 0 && pid_start_time(pid) == Some(start_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real line (cat's own), fields 3 to 52.
    const CAT: &str = "4242 (cat) R 4200 4242 4200 34816 4242 4194304 97 0 0 0 3 7 0 0 20 0 1 0 123456 5726208 210 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn parses_the_fields_we_use() {
        let st = parse_stat(CAT).unwrap();
        assert_eq!(st.comm, "cat");
        assert_eq!(st.state, 'R');
        assert_eq!(st.ppid, 4200);
        assert_eq!((st.utime, st.stime), (3, 7));
        assert_eq!(st.start_time, 123456);
        assert!(!st.is_gone());
    }

    #[test]
    fn a_command_with_spaces_and_parentheses_does_not_shift_fields() {
        let line = CAT.replacen("(cat)", "(a) b (c) Z 1 )", 1);
        let st = parse_stat(&line).unwrap();
        assert_eq!(st.comm, "a) b (c) Z 1 ");
        assert_eq!((st.state, st.ppid, st.start_time), ('R', 4200, 123456));
    }

    #[test]
    fn zombies_and_dead_processes_are_gone() {
        let zombie = parse_stat(&CAT.replacen(") R ", ") Z ", 1)).unwrap();
        assert_eq!(zombie.state, 'Z');
        assert!(zombie.is_gone());
        assert!(parse_stat(&CAT.replacen(") R ", ") X ", 1))
            .unwrap()
            .is_gone());
    }

    #[test]
    fn refuses_what_is_not_a_stat_line() {
        for bad in [
            "",
            "4242 (cat)",
            "4242 cat R 1",
            "4242 (cat) R 4200 4242",
            ") (",
            &CAT.replacen(") R ", ") RR ", 1),
            &CAT.replacen(" 123456 ", " -1 ", 1),
        ] {
            assert_eq!(parse_stat(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_this_process() {
        // The reading thread is running; the process's main thread (what
        // "self" names) may be waiting for the test threads.
        assert_eq!(read_stat("thread-self").unwrap().state, 'R');
        let me = read_stat("self").unwrap();
        let by_pid = read_stat(std::process::id()).unwrap();
        assert_eq!(by_pid.start_time, me.start_time);
        assert_eq!(by_pid.ppid, nix::unistd::getppid().as_raw());
        assert_eq!(read_stat(i32::MAX), None);
    }
}
