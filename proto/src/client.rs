//! A small blocking client for the monitor socket.

use crate::protocol::*;
use crate::{ExitStatus, Signal, State};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One connection to a container's monitor.
///
/// `state`, `kill` and `stats` can be asked any number of times on one
/// connection; `wait` and `events` take the connection over.
pub struct Client {
    reader: BufReader<UnixStream>,
    line: Vec<u8>,
}

impl Client {
    /// Connect to the socket at `path` (`<root>/<id>/monitor.sock`).
    pub fn connect(path: impl AsRef<Path>) -> Result<Client, ProtoError> {
        let stream = UnixStream::connect(path)?;
        Ok(Client {
            reader: BufReader::new(stream),
            line: Vec::new(),
        })
    }

    /// Connect to the monitor of container `id` under state root `root`
    /// (runoci's default root is `/run/containers`).
    pub fn connect_container(root: impl AsRef<Path>, id: &str) -> Result<Client, ProtoError> {
        Client::connect(socket_path(root, id))
    }

    /// Limit how long one reply may take (`None`: wait forever, the
    /// default). `wait` and `events` honour it too.
    pub fn set_timeout(&self, timeout: Option<Duration>) -> Result<(), ProtoError> {
        self.reader.get_ref().set_read_timeout(timeout)?;
        self.reader.get_ref().set_write_timeout(timeout)?;
        Ok(())
    }

    /// Send one request and read its reply. An `"ok":false` reply comes back
    /// as `Ok(Reply::Error(..))`.
    pub fn request(&mut self, req: &Request) -> Result<Reply, ProtoError> {
        self.send(req)?;
        self.read_line()?;
        decode_reply(&self.line)
    }

    /// The container's state document.
    pub fn state(&mut self) -> Result<State, ProtoError> {
        match self.request(&Request::State)? {
            Reply::State(s) => Ok(*s),
            other => Err(unexpected(other)),
        }
    }

    /// Signal the container's init, or with `all` every process in it.
    pub fn kill(&mut self, signal: Signal, all: bool) -> Result<(), ProtoError> {
        match self.request(&Request::Kill { signal, all })? {
            Reply::Ok => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Resource figures of the container's init and of the monitor.
    pub fn stats(&mut self) -> Result<crate::Stats, ProtoError> {
        match self.request(&Request::Stats)? {
            Reply::Stats(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    /// Block until the container has exited and the monitor has cleaned up.
    pub fn wait(mut self) -> Result<ExitStatus, ProtoError> {
        match self.request(&Request::Wait)? {
            Reply::Exit(e) => Ok(e),
            other => Err(unexpected(other)),
        }
    }

    /// Subscribe to the container's events: `started`, then `oom` as they
    /// happen, then `exited`, after which the iterator ends.
    pub fn events(mut self) -> Result<Events, ProtoError> {
        self.send(&Request::Events)?;
        Ok(Events {
            client: self,
            done: false,
        })
    }

    fn send(&mut self, req: &Request) -> Result<(), ProtoError> {
        self.reader.get_mut().write_all(&encode_request(req))?;
        Ok(())
    }

    /// Read one line into `self.line`, at most [`MAX_REPLY_LEN`] bytes.
    /// `Ok(false)` at a clean end of stream.
    fn read_line_or_eof(&mut self) -> Result<bool, ProtoError> {
        self.line.clear();
        let limit = MAX_REPLY_LEN as u64 + 1;
        let n = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Ok(false);
        }
        if self.line.last() != Some(&b'\n') {
            if self.line.len() > MAX_REPLY_LEN {
                return Err(ProtoError::TooLong { max: MAX_REPLY_LEN });
            }
            return Err(ProtoError::Closed);
        }
        Ok(true)
    }

    fn read_line(&mut self) -> Result<(), ProtoError> {
        if self.read_line_or_eof()? {
            Ok(())
        } else {
            Err(ProtoError::Closed)
        }
    }
}

fn unexpected(reply: Reply) -> ProtoError {
    match reply {
        Reply::Error(e) => ProtoError::Remote(e),
        other => ProtoError::UnexpectedReply(format!("{other:?}")),
    }
}

/// `<root>/<id>/monitor.sock`.
pub fn socket_path(root: impl AsRef<Path>, id: &str) -> PathBuf {
    root.as_ref().join(id).join(SOCKET_NAME)
}

/// The event stream of one container; see [`Client::events`].
pub struct Events {
    client: Client,
    done: bool,
}

impl Iterator for Events {
    type Item = Result<Event, ProtoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = match self.client.read_line_or_eof() {
            Ok(false) => None,
            Ok(true) => Some(decode_event(&self.client.line)),
            Err(e) => Some(Err(e)),
        };
        // The stream ends after `exited`, at end of file, or at an error.
        self.done = !matches!(item, Some(Ok(Event::Started { .. } | Event::Oom)));
        item
    }
}
