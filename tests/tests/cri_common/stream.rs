//! The client side of CRI's streaming `Exec`, as `kubectl exec` reaches it
//! through the kubelet: the URL CRI's Exec returns (containerd's stream
//! server, on 127.0.0.1) upgraded to a WebSocket with the
//! `v4.channel.k8s.io` protocol, whose binary messages start with their
//! channel: 1 stdout, 2 stderr, 3 the exec's status (JSON). Nothing is
//! sent on stdin (channel 0).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What one streamed exec gave back.
#[derive(Debug, Default)]
pub struct Streamed {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The status document of channel 3 (`{"status":"Success"}`, or a
    /// Failure whose `details.causes` hold the `ExitCode`).
    pub status: String,
}

impl Streamed {
    /// The exit code the status reports (0 on Success).
    pub fn exit_code(&self) -> Option<i32> {
        let v: serde_json::Value = serde_json::from_str(&self.status).ok()?;
        if v["status"] == "Success" {
            return Some(0);
        }
        v["details"]["causes"]
            .as_array()?
            .iter()
            .find(|c| c["reason"] == "ExitCode")?["message"]
            .as_str()?
            .parse()
            .ok()
    }
}

/// Reads the exec at `url` (`http://127.0.0.1:PORT/exec/TOKEN`) to its end.
pub fn exec(url: &str) -> Streamed {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http URL: {url}"));
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut conn = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: cnVub2NpLWNyaS10ZXN0IQ==\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n"
    )
    .expect("send upgrade");
    let mut reader = BufReader::new(conn);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("read status");
    assert!(
        status_line.starts_with("HTTP/1.1 101"),
        "no upgrade from {url}: {status_line}"
    );
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut out = Streamed::default();
    while let Some((opcode, payload)) = frame(&mut reader) {
        match opcode {
            // Close.
            0x8 => break,
            // Binary or text: a channel's bytes.
            0x1 | 0x2 => match payload.split_first() {
                Some((1, data)) => out.stdout.extend_from_slice(data),
                Some((2, data)) => out.stderr.extend_from_slice(data),
                Some((3, data)) => out.status.push_str(&String::from_utf8_lossy(data)),
                _ => {}
            },
            _ => {}
        }
    }
    out
}

/// One frame from the server (never masked, never fragmented here):
/// its opcode and payload; None at the end of the stream.
fn frame(r: &mut impl Read) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    r.read_exact(&mut head).ok()?;
    let len = match head[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).ok()?;
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            r.read_exact(&mut b).ok()?;
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).ok()?;
    Some((head[0] & 0x0f, payload))
}
