//! Signals on the wire: a name ("TERM", "SIGTERM", "RTMIN+3") or a number.

use crate::ProtoError;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The Linux signal names and their numbers. The numbers are the
/// asm-generic ones (x86, arm, arm64, riscv, powerpc, s390, loongarch);
/// on mips, sparc and alpha send numbers instead of names.
const NAMES: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// First real-time signal as glibc and runc count it (32 and 33 are taken
/// by the C library).
pub const SIGRTMIN: i32 = 34;
/// Last real-time signal.
pub const SIGRTMAX: i32 = 64;

/// A signal number that is valid to send: 1..=64.
///
/// Serialized as its name when it has one (`"TERM"`), as a number otherwise;
/// deserialized from either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(i32);

impl Signal {
    pub const TERM: Signal = Signal(15);
    pub const KILL: Signal = Signal(9);

    /// `n` as a signal, if it is one (1..=64).
    pub fn new(n: i32) -> Result<Signal, ProtoError> {
        if (1..=SIGRTMAX).contains(&n) {
            Ok(Signal(n))
        } else {
            Err(ProtoError::BadSignal(n.to_string()))
        }
    }

    pub fn number(self) -> i32 {
        self.0
    }

    /// The name without `SIG` ("TERM"), for the signals that have one.
    pub fn name(self) -> Option<&'static str> {
        NAMES
            .iter()
            .find(|(_, n)| *n == self.0)
            .map(|(name, _)| *name)
    }
}

/// Parse a signal given as a name (`TERM`, `SIGTERM`, `term`, `RTMIN+2`,
/// `SIGRTMAX-1`) or a number (`15`) into its number.
pub fn parse_signal(s: &str) -> Result<i32, ProtoError> {
    s.parse::<Signal>().map(Signal::number)
}

impl FromStr for Signal {
    type Err = ProtoError;

    fn from_str(s: &str) -> Result<Signal, ProtoError> {
        let bad = || ProtoError::BadSignal(truncate(s, 32).to_owned());
        let t = s.trim();
        if t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty() {
            return t.parse::<i32>().map_err(|_| bad()).and_then(Signal::new);
        }
        let upper = t.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        if let Some(&(_, n)) = NAMES.iter().find(|(nm, _)| *nm == name) {
            return Ok(Signal(n));
        }
        let rt = |base: &str, sign: i32, anchor: i32| -> Option<i32> {
            let rest = name.strip_prefix(base)?;
            if rest.is_empty() {
                return Some(anchor);
            }
            let off = rest.strip_prefix(if sign > 0 { '+' } else { '-' })?;
            let off: i32 = off.parse().ok()?;
            let n = anchor + sign * off;
            (SIGRTMIN..=SIGRTMAX).contains(&n).then_some(n)
        };
        rt("RTMIN", 1, SIGRTMIN)
            .or_else(|| rt("RTMAX", -1, SIGRTMAX))
            .map(Signal)
            .ok_or_else(bad)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "SIG{n}"),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(n) => s.serialize_str(n),
            None => s.serialize_i32(self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Signal, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Signal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a signal name (\"TERM\", \"SIGTERM\") or number (15)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Signal, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Signal, E> {
                i32::try_from(v)
                    .map_err(|_| E::custom(ProtoError::BadSignal(v.to_string())))
                    .and_then(|n| Signal::new(n).map_err(E::custom))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Signal, E> {
                i32::try_from(v)
                    .map_err(|_| E::custom(ProtoError::BadSignal(v.to_string())))
                    .and_then(|n| Signal::new(n).map_err(E::custom))
            }
        }
        d.deserialize_any(V)
    }
}

/// At most `max` bytes of `s`, cut on a character boundary (error messages
/// quote what the peer sent, but not without bound).
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_and_without_sig_prefix_and_numbers() {
        for s in ["TERM", "SIGTERM", "term", "SigTerm", "15", " 15 "] {
            assert_eq!(parse_signal(s).unwrap(), 15, "{s:?}");
        }
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGCHLD").unwrap(), 17);
        assert_eq!(parse_signal("IOT").unwrap(), 6);
        assert_eq!(parse_signal("RTMIN").unwrap(), 34);
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), 37);
        assert_eq!(parse_signal("RTMAX-1").unwrap(), 63);
        assert_eq!(parse_signal("64").unwrap(), 64);
    }

    #[test]
    fn rejects_what_is_not_a_signal() {
        for s in [
            "",
            "0",
            "65",
            "-1",
            "SIG",
            "TERMX",
            "RTMIN+31",
            "RTMAX+1",
            "99999999999",
        ] {
            assert!(
                matches!(parse_signal(s), Err(ProtoError::BadSignal(_))),
                "{s:?} was accepted"
            );
        }
    }

    #[test]
    fn serializes_as_name_when_it_has_one() {
        assert_eq!(serde_json::to_string(&Signal::TERM).unwrap(), "\"TERM\"");
        assert_eq!(
            serde_json::to_string(&Signal::new(40).unwrap()).unwrap(),
            "40"
        );
        let s: Signal = serde_json::from_str("\"SIGKILL\"").unwrap();
        assert_eq!(s, Signal::KILL);
        let s: Signal = serde_json::from_str("9").unwrap();
        assert_eq!(s, Signal::KILL);
        assert!(serde_json::from_str::<Signal>("0").is_err());
        assert!(serde_json::from_str::<Signal>("1.5").is_err());
        assert!(serde_json::from_str::<Signal>("null").is_err());
    }
}
