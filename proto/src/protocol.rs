//! Requests, replies and events of the monitor socket, and their framing:
//! one JSON object per line, each carrying `"version"`.

use crate::signal::{truncate, Signal};
use crate::{ExitStatus, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::io;

/// The protocol version this crate speaks. Every message carries it; a
/// request with another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;
/// Longest request line the monitor accepts, newline included.
pub const MAX_REQUEST_LEN: usize = 64 * 1024;
/// Longest reply or event line the [`Client`](crate::Client) accepts. A
/// `state` reply carries the config's annotations, and a config.json may
/// hold up to 100 MiB: the bound is above any reply a monitor can owe, and
/// only guards a client against a peer that never ends its line.
pub const MAX_REPLY_LEN: usize = 256 * 1024 * 1024;
/// The socket's file name inside the container's state directory.
pub const SOCKET_NAME: &str = "monitor.sock";

/// What a client asks the monitor, one per line:
/// `{"version":1,"request":"kill","signal":"TERM","all":false}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "lowercase")]
pub enum Request {
    /// The state document; answered with [`Reply::State`].
    State,
    /// Send `signal` to the container's init (through its pidfd), or with
    /// `all` to every process of the container. Answered with [`Reply::Ok`].
    Kill {
        signal: Signal,
        #[serde(default)]
        all: bool,
    },
    /// Answered with [`Reply::Exit`] once the container has exited (and the
    /// monitor has cleaned up after it): right away if it already has.
    Wait,
    /// Turns the connection into a stream of [`Event`] lines, `started`
    /// first. The monitor reads nothing more from it.
    Events,
    /// Resource figures; answered with [`Reply::Stats`].
    Stats,
}

const REQUEST_NAMES: &[&str] = &["state", "kill", "wait", "events", "stats"];

impl Request {
    /// The value of the `"request"` field.
    pub fn name(&self) -> &'static str {
        match self {
            Request::State => "state",
            Request::Kill { .. } => "kill",
            Request::Wait => "wait",
            Request::Events => "events",
            Request::Stats => "stats",
        }
    }
}

/// Figures about the container's init and the monitor, from `/proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Stats {
    /// The container init's pid (0 once it is gone).
    pub pid: i32,
    pub running: bool,
    /// CPU time of the init process, in microseconds.
    pub cpu_user_usec: u64,
    pub cpu_system_usec: u64,
    /// Resident memory of the init process, in bytes.
    pub rss_bytes: u64,
    /// Resident memory of the monitor itself, in bytes.
    pub monitor_rss_bytes: u64,
    /// Connections the monitor holds, this one included.
    pub clients: u32,
    /// OOM notifications seen while the container ran.
    pub oom_events: u64,
}

/// The monitor's answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `{"version":1,"ok":true}` (kill).
    Ok,
    /// `{"version":1,"ok":true,"state":{...}}`.
    State(Box<State>),
    /// `{"version":1,"ok":true,"exit":{...}}` (wait).
    Exit(ExitStatus),
    /// `{"version":1,"ok":true,"stats":{...}}`.
    Stats(Stats),
    /// `{"version":1,"ok":false,"error":"..."}`.
    Error(String),
}

/// Something that happened to the container, one line each on an `events`
/// connection: `{"version":1,"event":"exited","exit":{...}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    /// The container is running with init `pid`. Always the first event.
    Started { pid: i32 },
    /// The cgroup reported an out-of-memory condition.
    Oom,
    /// The container has exited and the monitor has cleaned up after it.
    /// Always the last event; the monitor closes the connection after it.
    Exited { exit: ExitStatus },
}

/// Everything that can go wrong speaking the protocol.
#[derive(Debug)]
pub enum ProtoError {
    Io(io::Error),
    /// A line longer than the limit.
    TooLong {
        max: usize,
    },
    /// Not JSON, not an object, or fields of the wrong shape.
    Malformed(String),
    MissingVersion,
    /// The peer speaks another version (what it sent, quoted).
    UnsupportedVersion(String),
    UnknownRequest(String),
    BadSignal(String),
    /// The monitor answered `"ok":false` with this error.
    Remote(String),
    /// A well-formed reply that does not answer the request.
    UnexpectedReply(String),
    /// The connection closed before a full reply arrived.
    Closed,
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoError::Io(e) => write!(f, "monitor socket: {e}"),
            ProtoError::TooLong { max } => write!(f, "line longer than {max} bytes"),
            ProtoError::Malformed(m) => write!(f, "malformed message: {m}"),
            ProtoError::MissingVersion => f.write_str("message has no \"version\""),
            ProtoError::UnsupportedVersion(v) => write!(
                f,
                "unsupported protocol version {v} (this side speaks {PROTOCOL_VERSION})"
            ),
            ProtoError::UnknownRequest(r) => write!(f, "unknown request {r:?}"),
            ProtoError::BadSignal(s) => write!(f, "not a signal: {s:?}"),
            ProtoError::Remote(e) => write!(f, "monitor: {e}"),
            ProtoError::UnexpectedReply(r) => write!(f, "unexpected reply: {r}"),
            ProtoError::Closed => f.write_str("monitor closed the connection"),
        }
    }
}

impl std::error::Error for ProtoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProtoError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ProtoError {
    fn from(e: io::Error) -> Self {
        ProtoError::Io(e)
    }
}

/// Adds `"version"` in front of a message's own fields.
#[derive(Serialize)]
struct Versioned<'a, T> {
    version: u32,
    #[serde(flatten)]
    body: &'a T,
}

#[derive(Serialize)]
struct WireReplyRef<'a> {
    version: u32,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a State>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit: Option<&'a ExitStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<&'a Stats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Deserialize)]
struct WireReply {
    ok: bool,
    #[serde(default)]
    state: Option<Box<State>>,
    #[serde(default)]
    exit: Option<ExitStatus>,
    #[serde(default)]
    stats: Option<Stats>,
    #[serde(default)]
    error: Option<String>,
}

fn to_line<T: Serialize>(msg: &T, out: &mut Vec<u8>) {
    // Our messages are structs with string keys: serializing them into a
    // Vec cannot fail.
    serde_json::to_writer(&mut *out, msg).expect("protocol messages always serialize");
    out.push(b'\n');
}

/// Append `req` as one line (newline included) to `out`.
pub fn encode_request_into(req: &Request, out: &mut Vec<u8>) {
    to_line(
        &Versioned {
            version: PROTOCOL_VERSION,
            body: req,
        },
        out,
    )
}

/// `req` as one line, newline included.
pub fn encode_request(req: &Request) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    encode_request_into(req, &mut v);
    v
}

/// Append `reply` as one line (newline included) to `out`.
pub fn encode_reply_into(reply: &Reply, out: &mut Vec<u8>) {
    let mut w = WireReplyRef {
        version: PROTOCOL_VERSION,
        ok: true,
        state: None,
        exit: None,
        stats: None,
        error: None,
    };
    match reply {
        Reply::Ok => {}
        Reply::State(s) => w.state = Some(s),
        Reply::Exit(e) => w.exit = Some(e),
        Reply::Stats(s) => w.stats = Some(s),
        Reply::Error(e) => {
            w.ok = false;
            w.error = Some(e);
        }
    }
    to_line(&w, out)
}

/// `reply` as one line, newline included.
pub fn encode_reply(reply: &Reply) -> Vec<u8> {
    let mut v = Vec::with_capacity(256);
    encode_reply_into(reply, &mut v);
    v
}

/// Append `event` as one line (newline included) to `out`.
pub fn encode_event_into(event: &Event, out: &mut Vec<u8>) {
    to_line(
        &Versioned {
            version: PROTOCOL_VERSION,
            body: event,
        },
        out,
    )
}

/// `event` as one line, newline included.
pub fn encode_event(event: &Event) -> Vec<u8> {
    let mut v = Vec::with_capacity(128);
    encode_event_into(event, &mut v);
    v
}

/// The line without its trailing `\n` or `\r\n`.
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parse one line into a JSON object whose `"version"` is ours.
fn parse_versioned(line: &[u8], max: usize) -> Result<serde_json::Map<String, Value>, ProtoError> {
    if line.len() > max {
        return Err(ProtoError::TooLong { max });
    }
    let value: Value =
        serde_json::from_slice(trim_eol(line)).map_err(|e| ProtoError::Malformed(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(ProtoError::Malformed("not a JSON object".into()));
    };
    match obj.get("version") {
        None => Err(ProtoError::MissingVersion),
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(PROTOCOL_VERSION)) => Ok(obj),
        Some(v) => Err(ProtoError::UnsupportedVersion(quote(v))),
    }
}

/// A peer's value, shown in an error message at bounded length.
fn quote(v: &Value) -> String {
    let s = v.to_string();
    truncate(&s, 64).to_owned()
}

fn malformed(e: serde_json::Error) -> ProtoError {
    ProtoError::Malformed(e.to_string())
}

/// Parse one request line (a trailing newline is allowed). Never panics,
/// whatever the bytes; lines longer than [`MAX_REQUEST_LEN`] are refused
/// before parsing.
pub fn decode_request(line: &[u8]) -> Result<Request, ProtoError> {
    let obj = parse_versioned(line, MAX_REQUEST_LEN)?;
    match obj.get("request") {
        None => return Err(ProtoError::Malformed("no \"request\" field".into())),
        Some(Value::String(name)) if !REQUEST_NAMES.contains(&name.as_str()) => {
            return Err(ProtoError::UnknownRequest(truncate(name, 64).to_owned()))
        }
        Some(Value::String(_)) => {}
        Some(v) => {
            return Err(ProtoError::Malformed(format!(
                "\"request\" must be a string, not {}",
                quote(v)
            )))
        }
    }
    serde_json::from_value(Value::Object(obj)).map_err(|e| {
        // Keep the signal error's own words ("not a signal: ...").
        let msg = e.to_string();
        if msg.starts_with("not a signal") {
            ProtoError::BadSignal(msg)
        } else {
            ProtoError::Malformed(msg)
        }
    })
}

/// Parse one reply line. An `"ok":false` reply decodes to
/// `Ok(Reply::Error(..))`; what is not a valid reply is an `Err`.
pub fn decode_reply(line: &[u8]) -> Result<Reply, ProtoError> {
    let obj = parse_versioned(line, MAX_REPLY_LEN)?;
    let w: WireReply = serde_json::from_value(Value::Object(obj)).map_err(malformed)?;
    Ok(match w {
        WireReply {
            ok: false, error, ..
        } => Reply::Error(error.unwrap_or_else(|| "unspecified error".into())),
        WireReply { state: Some(s), .. } => Reply::State(s),
        WireReply { exit: Some(e), .. } => Reply::Exit(e),
        WireReply { stats: Some(s), .. } => Reply::Stats(s),
        _ => Reply::Ok,
    })
}

/// Parse one line of an `events` stream. An error reply in its place (the
/// monitor refused the subscription) is returned as [`ProtoError::Remote`].
pub fn decode_event(line: &[u8]) -> Result<Event, ProtoError> {
    let obj = parse_versioned(line, MAX_REPLY_LEN)?;
    if !obj.contains_key("event") {
        if let Some(Value::Bool(false)) = obj.get("ok") {
            let err = obj
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unspecified error");
            return Err(ProtoError::Remote(err.to_owned()));
        }
    }
    serde_json::from_value(Value::Object(obj)).map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;
    use std::collections::BTreeMap;

    fn state() -> State {
        State {
            oci_version: "1.0.2".into(),
            id: "web".into(),
            status: Status::Running,
            pid: 42,
            bundle: "/srv/web".into(),
            rootfs: "/srv/web/rootfs".into(),
            created: "2024-01-01T00:00:00Z".into(),
            owner: "".into(),
            annotations: BTreeMap::from([("a".into(), "b".into())]),
            exit: None,
        }
    }

    #[test]
    fn requests_round_trip() {
        let reqs = [
            Request::State,
            Request::Kill {
                signal: Signal::TERM,
                all: false,
            },
            Request::Kill {
                signal: Signal::new(40).unwrap(),
                all: true,
            },
            Request::Wait,
            Request::Events,
            Request::Stats,
        ];
        for r in reqs {
            let line = encode_request(&r);
            assert_eq!(line.last(), Some(&b'\n'));
            assert_eq!(
                decode_request(&line).unwrap(),
                r,
                "{}",
                String::from_utf8_lossy(&line)
            );
        }
    }

    #[test]
    fn request_wire_format_is_what_the_docs_say() {
        assert_eq!(
            encode_request(&Request::Kill {
                signal: Signal::TERM,
                all: false
            }),
            b"{\"version\":1,\"request\":\"kill\",\"signal\":\"TERM\",\"all\":false}\n"
        );
        assert_eq!(
            encode_request(&Request::State),
            b"{\"version\":1,\"request\":\"state\"}\n"
        );
        // What a shell user types: number signals, SIG prefix, no "all",
        // CRLF, fields in any order.
        let r = decode_request(b"{\"signal\":15,\"request\":\"kill\",\"version\":1}\r\n").unwrap();
        assert_eq!(
            r,
            Request::Kill {
                signal: Signal::TERM,
                all: false
            }
        );
        let r = decode_request(br#"{"version":1,"request":"kill","signal":"SIGKILL","all":true}"#);
        assert_eq!(
            r.unwrap(),
            Request::Kill {
                signal: Signal::KILL,
                all: true
            }
        );
        // Unknown fields are ignored (a newer client's optional extras).
        let r = decode_request(br#"{"version":1,"request":"state","verbose":true}"#);
        assert_eq!(r.unwrap(), Request::State);
    }

    #[test]
    fn replies_round_trip() {
        let exit = ExitStatus {
            code: None,
            signal: Some(15),
            finished_at: 7,
            oom_killed: false,
        };
        let mut stopped = state();
        stopped.status = Status::Stopped;
        stopped.exit = Some(exit);
        let replies = [
            Reply::Ok,
            Reply::State(Box::new(state())),
            Reply::State(Box::new(stopped)),
            Reply::Exit(exit),
            Reply::Stats(Stats {
                pid: 3,
                running: true,
                clients: 2,
                ..Stats::default()
            }),
            Reply::Error("no such signal".into()),
        ];
        for r in replies {
            let line = encode_reply(&r);
            assert_eq!(
                decode_reply(&line).unwrap(),
                r,
                "{}",
                String::from_utf8_lossy(&line)
            );
        }
        assert_eq!(
            encode_reply(&Reply::Error("x".into())),
            b"{\"version\":1,\"ok\":false,\"error\":\"x\"}\n"
        );
        assert_eq!(encode_reply(&Reply::Ok), b"{\"version\":1,\"ok\":true}\n");
    }

    #[test]
    fn events_round_trip() {
        let exit = ExitStatus {
            code: Some(3),
            signal: None,
            finished_at: 9,
            oom_killed: true,
        };
        for e in [
            Event::Started { pid: 5 },
            Event::Oom,
            Event::Exited { exit },
        ] {
            let line = encode_event(&e);
            assert_eq!(
                decode_event(&line).unwrap(),
                e,
                "{}",
                String::from_utf8_lossy(&line)
            );
        }
        assert_eq!(
            encode_event(&Event::Started { pid: 5 }),
            b"{\"version\":1,\"event\":\"started\",\"pid\":5}\n"
        );
        let refused = encode_reply(&Reply::Error("permission denied".into()));
        assert!(
            matches!(decode_event(&refused), Err(ProtoError::Remote(e)) if e == "permission denied")
        );
    }

    #[test]
    fn malformed_requests_are_errors() {
        let cases: &[&[u8]] = &[
            b"",
            b"\n",
            b"\x00\xff\xfe garbage",
            b"not json",
            b"[1,2]",
            b"\"state\"",
            b"{\"version\":1}",
            b"{\"version\":1,\"request\":7}",
            b"{\"version\":1,\"request\":\"kill\"}",
            b"{\"version\":1,\"request\":\"kill\",\"signal\":{}}",
            b"{\"version\":1,\"request\":\"kill\",\"signal\":\"TERM\",\"all\":\"yes\"}",
            b"{\"version\":1,\"request\":\"state\"",
            b"{\"version\":1,\"request\":\"state\"}{}",
        ];
        for c in cases {
            assert!(
                matches!(decode_request(c), Err(ProtoError::Malformed(_))),
                "{:?} gave {:?}",
                String::from_utf8_lossy(c),
                decode_request(c)
            );
        }
        let r = decode_request(br#"{"version":1,"request":"kill","signal":"FOO"}"#);
        assert!(matches!(r, Err(ProtoError::BadSignal(_))), "{r:?}");
    }

    #[test]
    fn unknown_request_is_named() {
        let r = decode_request(br#"{"version":1,"request":"pause"}"#);
        assert!(
            matches!(&r, Err(ProtoError::UnknownRequest(n)) if n == "pause"),
            "{r:?}"
        );
    }

    #[test]
    fn version_is_required_and_checked() {
        let r = decode_request(br#"{"request":"state"}"#);
        assert!(matches!(r, Err(ProtoError::MissingVersion)), "{r:?}");
        for v in ["2", "0", "\"1\"", "1.5", "-1", "null"] {
            let line = format!(r#"{{"version":{v},"request":"state"}}"#);
            let r = decode_request(line.as_bytes());
            assert!(
                matches!(&r, Err(ProtoError::UnsupportedVersion(s)) if s == v),
                "{v}: {r:?}"
            );
        }
        // A newer client's new request is a version error, not "unknown".
        let r = decode_request(br#"{"version":2,"request":"checkpoint"}"#);
        assert!(matches!(r, Err(ProtoError::UnsupportedVersion(_))), "{r:?}");
        let r = decode_reply(br#"{"version":2,"ok":true}"#);
        assert!(matches!(r, Err(ProtoError::UnsupportedVersion(_))), "{r:?}");
    }

    #[test]
    fn oversized_request_is_refused_before_parsing() {
        let mut line = br#"{"version":1,"request":"state","pad":""#.to_vec();
        line.resize(MAX_REQUEST_LEN + 1, b'a');
        assert!(matches!(
            decode_request(&line),
            Err(ProtoError::TooLong {
                max: MAX_REQUEST_LEN
            })
        ));
        // Exactly at the limit is fine.
        let mut line = br#"{"version":1,"request":"state","pad":""#.to_vec();
        line.resize(MAX_REQUEST_LEN - 3, b'a');
        line.extend_from_slice(b"\"}\n");
        assert_eq!(line.len(), MAX_REQUEST_LEN);
        assert_eq!(decode_request(&line).unwrap(), Request::State);
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes() {
        // A small deterministic fuzz: prefixes and byte flips of valid lines,
        // deep nesting, and pseudo-random bytes.
        let mut seeds: Vec<Vec<u8>> = vec![
            encode_request(&Request::Kill {
                signal: Signal::TERM,
                all: true,
            }),
            encode_reply(&Reply::State(Box::new(state()))),
            encode_event(&Event::Exited {
                exit: ExitStatus::default(),
            }),
            "[".repeat(10_000).into_bytes(),
            format!("{}{}", "{\"a\":".repeat(5000), "}".repeat(5000)).into_bytes(),
        ];
        let mut x: u32 = 0x1234_5678;
        for _ in 0..200 {
            let v: Vec<u8> = (0..64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            seeds.push(v);
        }
        for s in &seeds {
            for cut in 0..s.len().min(80) {
                let _ = decode_request(&s[..cut]);
                let _ = decode_reply(&s[..cut]);
                let _ = decode_event(&s[..cut]);
                let mut flipped = s.clone();
                flipped[cut] ^= 0x5a;
                let _ = decode_request(&flipped);
                let _ = decode_reply(&flipped);
                let _ = decode_event(&flipped);
            }
        }
    }
}
