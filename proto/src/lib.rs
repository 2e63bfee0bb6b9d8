//! runoci's monitor socket protocol, the OCI state document and the exit
//! record. Pure data plus a small blocking client: tooling links only this
//! crate.
//!
//! Every detached container has a monitor listening on
//! `<root>/<id>/monitor.sock` (root `/run/containers` by default). The
//! protocol is newline-delimited JSON; see `PROTOCOL.md` in this crate for
//! the wire format, which is simple enough for `socat` and `nc -U`.
//!
//! ```no_run
//! use runoci_proto::{Client, Event, Signal};
//!
//! # fn main() -> Result<(), runoci_proto::ProtoError> {
//! let sock = "/run/containers/web/monitor.sock";
//! let state = Client::connect(sock)?.state()?;
//! println!("{} is {} with pid {}", state.id, state.status.as_str(), state.pid);
//!
//! // Watch it in the background...
//! let events = Client::connect(sock)?.events()?;
//! // ...ask it to stop...
//! Client::connect(sock)?.kill("TERM".parse::<Signal>()?, false)?;
//! // ...and wait for the monitor to have cleaned up after it.
//! let exit = Client::connect(sock)?.wait()?;
//! println!("exited with {}", exit.as_exit_code());
//! for event in events {
//!     if let Event::Exited { exit } = event? {
//!         assert_eq!(exit.signal, Some(15));
//!     }
//! }
//! # Ok(())
//! # }
//! ```
mod client;
mod monitor;
mod protocol;
mod signal;
mod state;

pub use client::{socket_path, Client, Events};
pub use monitor::{MonitorArgs, MonitorReady};
pub use protocol::*;
pub use signal::{parse_signal, Signal, SIGRTMAX, SIGRTMIN};
pub use state::*;
