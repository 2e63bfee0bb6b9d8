//! The monitor's clients: accepting them (peer credentials checked), reading
//! their requests a line at a time, and queueing and flushing what they are
//! owed. What a request means is the monitor's business (`monitor.rs`); this
//! module only keeps each client's bytes moving, and bounded.

use crate::sys;
use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use runoci_proto::{
    decode_request, encode_event_into, encode_reply_into, Event, ProtoError, Reply, Request,
    MAX_REQUEST_LEN,
};
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::AsFd;

/// Client tokens are `FIRST_CLIENT + slot`; the ones below are the
/// monitor's own fds.
pub const FIRST_CLIENT: usize = 4;
/// Connections held at once; the next one gets an error and is closed.
const MAX_CLIENTS: usize = 1024;
/// Unsent events an `events` subscriber may have queued before it is
/// dropped for not reading. Replies have no such cap: a client is owed the
/// whole reply to each request, and it cannot make more pile up than one,
/// because it is not read from (nor its queued requests answered) while a
/// reply to it is unsent.
const MAX_EVENT_BACKLOG: usize = 1024 * 1024;
/// Buffers grown past this (a large request, a slow reader) are shrunk back
/// once empty.
const KEEP_CAPACITY: usize = 4096;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answering requests in order.
    Requests,
    /// A `wait` is pending; later requests queue behind it.
    Waiting,
    /// An `events` subscriber: input is discarded.
    Events,
}

struct Client {
    stream: UnixStream,
    /// Unparsed input; never longer than MAX_REQUEST_LEN plus one read.
    input: Vec<u8>,
    /// How much of `input` is known to hold no newline.
    scanned: usize,
    output: Vec<u8>,
    mode: Mode,
    /// Close once `output` is flushed; read nothing more.
    closing: bool,
    /// The peer shut its writing side.
    read_eof: bool,
    /// Reading stopped because a reply is unsent: resume once it is out.
    stalled: bool,
}

impl Client {
    /// A reply is still unsent: answer nothing more and read nothing more
    /// until it is out, so what a client is owed stays one reply.
    fn owes_reply(&self) -> bool {
        self.mode == Mode::Requests && !self.output.is_empty()
    }
}

/// What one read from a client came to.
pub enum Turn {
    /// Bytes arrived: answer the lines they complete, then read again.
    More,
    /// Nothing more to read now (would block, end of input, or a reply is
    /// owed first).
    Done,
    /// The client is gone or was dropped.
    Gone,
}

pub struct Clients {
    registry: Registry,
    slots: Vec<Option<Client>>,
    /// Clients with input left over after their turn.
    again: Vec<usize>,
    /// Scratch for encoding a reply or event.
    scratch: Vec<u8>,
    /// The container's id, for the log.
    id: String,
}

impl Clients {
    pub fn new(registry: &Registry, id: &str) -> io::Result<Clients> {
        Ok(Clients {
            registry: registry.try_clone()?,
            slots: Vec::new(),
            again: Vec::new(),
            scratch: Vec::new(),
            id: id.to_owned(),
        })
    }

    fn get(&mut self, slot: usize) -> Option<&mut Client> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    pub fn count(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// Every reply and event queued is out.
    pub fn flushed(&self) -> bool {
        self.slots.iter().flatten().all(|c| c.output.is_empty())
    }

    /// The slots of the clients in `mode`, as of now.
    pub fn in_mode(&self, mode: Mode) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&s| self.slots[s].as_ref().is_some_and(|c| c.mode == mode))
            .collect()
    }

    pub fn has_leftovers(&self) -> bool {
        !self.again.is_empty()
    }

    /// The clients whose input was left for another turn.
    pub fn take_leftovers(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.again)
    }

    fn come_back_to(&mut self, slot: usize) {
        if !self.again.contains(&slot) {
            self.again.push(slot);
        }
    }

    /// Accept every pending connection from a peer whose uid is in
    /// `allowed_uids`; others get one error line and are closed.
    pub fn accept(&mut self, listener: &UnixListener, allowed_uids: &[u32]) {
        loop {
            let (mut stream, _) = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ECONNABORTED, EMFILE...: the next accept may work.
                    crate::log(&self.id, &format!("accept: {e}"));
                    return;
                }
            };
            match sys::peer_uid(stream.as_fd()) {
                Ok(uid) if allowed_uids.contains(&uid) => {}
                Ok(uid) => {
                    refuse(
                        &mut stream,
                        &format!("permission denied: uid {uid} may not use this monitor"),
                    );
                    continue;
                }
                Err(e) => {
                    refuse(&mut stream, &format!("cannot check peer credentials: {e}"));
                    continue;
                }
            }
            let slot = match self.slots.iter().position(Option::is_none) {
                Some(s) => s,
                None if self.slots.len() < MAX_CLIENTS => {
                    self.slots.push(None);
                    self.slots.len() - 1
                }
                None => {
                    refuse(&mut stream, "too many clients");
                    continue;
                }
            };
            if let Err(e) = self.registry.register(
                &mut stream,
                Token(FIRST_CLIENT + slot),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                crate::log(&self.id, &format!("register client: {e}"));
                continue;
            }
            self.slots[slot] = Some(Client {
                stream,
                input: Vec::new(),
                scanned: 0,
                output: Vec::new(),
                mode: Mode::Requests,
                closing: false,
                read_eof: false,
                stalled: false,
            });
        }
    }

    pub fn drop_client(&mut self, slot: usize) {
        if let Some(mut c) = self.slots.get_mut(slot).and_then(Option::take) {
            let _ = self.registry.deregister(&mut c.stream);
        }
    }

    /// One read from the client into its input.
    pub fn read(&mut self, slot: usize, chunk: &mut [u8]) -> Turn {
        loop {
            let Some(c) = self.get(slot) else {
                return Turn::Gone;
            };
            if c.owes_reply() {
                // What it sends waits in the socket (its writes block once
                // that fills): `flush` resumes it when the reply is out.
                c.stalled = true;
                return Turn::Done;
            }
            let n = match c.stream.read(chunk) {
                Ok(0) => {
                    c.read_eof = true;
                    return Turn::Done;
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Turn::Done,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.drop_client(slot);
                    return Turn::Gone;
                }
            };
            if c.closing || c.mode == Mode::Events {
                return Turn::More; // nothing more is read from it: discarded
            }
            c.input.extend_from_slice(&chunk[..n]);
            if c.mode == Mode::Waiting && c.input.len() > MAX_REQUEST_LEN {
                // Requests queue behind a wait, but not without bound.
                let err = ProtoError::TooLong {
                    max: MAX_REQUEST_LEN,
                };
                self.reply_error_and_close(slot, &format!("input queued behind wait: {err}"));
                return Turn::Gone;
            }
            return Turn::More;
        }
    }

    /// After a client's turn: come back to it if its turn was used up
    /// (mio is edge triggered), and take a last request that ended without
    /// its newline (`printf ... | nc -U`) once its input has ended.
    pub fn end_turn(&mut self, slot: usize, turn_used_up: bool) {
        let Some(c) = self.get(slot) else {
            return;
        };
        let again = turn_used_up && !c.closing;
        if c.read_eof
            && c.mode == Mode::Requests
            && !c.closing
            && !c.input.is_empty()
            && c.input.last() != Some(&b'\n')
        {
            c.input.push(b'\n');
        }
        if again {
            self.come_back_to(slot);
        }
    }

    /// The next complete request line of the client, decoded; None when
    /// there is none yet or it may not be answered now. A line that does
    /// not decode, or input too long for one, gets an error and the client
    /// is closed.
    pub fn next_request(&mut self, slot: usize) -> Option<Request> {
        loop {
            let c = self.get(slot)?;
            if c.mode != Mode::Requests || c.closing {
                return None;
            }
            if c.owes_reply() {
                c.stalled = true;
                return None;
            }
            let Some(nl) = c.input[c.scanned..].iter().position(|&b| b == b'\n') else {
                c.scanned = c.input.len();
                if c.input.len() > MAX_REQUEST_LEN {
                    let err = ProtoError::TooLong {
                        max: MAX_REQUEST_LEN,
                    };
                    self.reply_error_and_close(slot, &err.to_string());
                }
                return None;
            };
            let end = c.scanned + nl + 1;
            let line: Vec<u8> = c.input.drain(..end).collect();
            c.scanned = 0;
            if c.input.is_empty() && c.input.capacity() > KEEP_CAPACITY {
                c.input.shrink_to(KEEP_CAPACITY);
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue; // blank lines are harmless (someone pressed enter)
            }
            match decode_request(&line) {
                Ok(req) => return Some(req),
                Err(e) => {
                    self.reply_error_and_close(slot, &e.to_string());
                    return None;
                }
            }
        }
    }

    pub fn set_mode(&mut self, slot: usize, mode: Mode) {
        if let Some(c) = self.get(slot) {
            c.mode = mode;
            if mode == Mode::Events {
                c.input = Vec::new();
                c.scanned = 0;
            }
        }
    }

    pub fn close_after_flush(&mut self, slot: usize) {
        if let Some(c) = self.get(slot) {
            c.closing = true;
            c.input = Vec::new();
        }
        self.flush(slot);
    }

    pub fn reply_error_and_close(&mut self, slot: usize, msg: &str) {
        self.send_reply(slot, &Reply::Error(msg.to_owned()));
        self.close_after_flush(slot);
    }

    pub fn send_reply(&mut self, slot: usize, reply: &Reply) {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        encode_reply_into(reply, &mut buf);
        self.queue(slot, &buf);
        self.scratch = buf;
    }

    /// Events are not asked for one by one: a subscriber that lets more
    /// than MAX_EVENT_BACKLOG of them pile up is dropped.
    pub fn send_event(&mut self, slot: usize, event: &Event) {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        encode_event_into(event, &mut buf);
        let backlog = self.get(slot).map_or(0, |c| c.output.len());
        if backlog + buf.len() > MAX_EVENT_BACKLOG {
            crate::log(
                &self.id,
                "dropping an events subscriber that does not read them",
            );
            self.drop_client(slot);
        } else {
            self.queue(slot, &buf);
        }
        self.scratch = buf;
    }

    /// Queue `bytes` for the client and try to send them now.
    fn queue(&mut self, slot: usize, bytes: &[u8]) {
        let Some(c) = self.get(slot) else {
            return;
        };
        c.output.extend_from_slice(bytes);
        self.flush(slot);
    }

    /// Send what is queued for the client, as far as its socket takes it.
    pub fn flush(&mut self, slot: usize) {
        let Some(c) = self.get(slot) else {
            return;
        };
        let mut sent = 0;
        while sent < c.output.len() {
            match c.stream.write(&c.output[sent..]) {
                Ok(0) => return self.drop_client(slot),
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // EPIPE and friends: the client went away.
                Err(_) => return self.drop_client(slot),
            }
        }
        c.output.drain(..sent);
        if c.output.is_empty() {
            if c.output.capacity() > KEEP_CAPACITY {
                c.output.shrink_to(KEEP_CAPACITY);
            }
            if c.stalled {
                // Its next requests may already be buffered, here or in the
                // socket; mio is edge triggered and will not say so again.
                c.stalled = false;
                self.come_back_to(slot);
                return;
            }
            if c.closing || (c.read_eof && c.mode == Mode::Requests && c.input.is_empty()) {
                self.drop_client(slot);
            }
        }
    }
}

/// One error line to a client that will not be served, then close it.
fn refuse(stream: &mut UnixStream, msg: &str) {
    let mut buf = Vec::with_capacity(128);
    encode_reply_into(&Reply::Error(msg.to_owned()), &mut buf);
    // The socket is fresh: its buffer takes one short line without blocking.
    let _ = stream.write(&buf);
}
