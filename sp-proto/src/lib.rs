//! # sp-proto: the Scalability Protocols as sans-IO state machines
//!
//! This crate holds everything that decides behaviour in an SP stack (PAIR, REQ/REP,
//! PUSH/PULL, PUB/SUB, SURVEYOR/RESPONDENT, BUS) and nothing that does I/O. It is fully
//! deterministic: it contains no networking code, never reads a clock (time is an argument,
//! see [`time::Instant`]) and draws every random number from a caller-supplied seed. The
//! tokio driver in `sp-net`, the simulator in `sim` and an embedder's own event loop all
//! run the very same code.
//!
//! ```text
//! bytes from a transport -> wire codec (handshake, framing, max size)     [wire]
//!   -> payload -> protocol state machine (per socket type, per pipe)       [proto]
//!   -> messages for the user, transmits for pipes, timers, events
//! ```
//!
//! The driving contract (inputs, then drain `poll_transmit`/`poll_event`, then arm
//! `poll_timeout`) is described on [`Protocol`].
//!
//! ```
//! use sp_proto::{proto, Config, Instant, Message, PipeId, PipeInfo, Protocol};
//!
//! let now = Instant::ZERO;
//! let mut push = proto::Push::new(Config::cooked(1));
//! let pipe = PipeId::new(7).unwrap();
//! push.handle_pipe_added(now, pipe, PipeInfo::default()).unwrap();
//! push.send(now, Message::from("job")).unwrap();
//! let t = push.poll_transmit().unwrap();
//! assert_eq!((t.pipe, &t.msg.body[..]), (pipe, &b"job"[..]));
//! ```
#![forbid(unsafe_code)]

pub mod backoff;
pub mod context;
pub mod device;
pub mod drain;
pub mod inbound;
pub mod message;
pub mod options;
pub mod pipes;
pub mod proto;
pub mod protocol;
pub mod rng;
pub mod socket_type;
pub mod stats;
pub mod subscriptions;
pub mod testing;
pub mod time;
pub mod wire;

pub use context::{ContextError, ContextId, Contexts};
pub use drain::{Drain, Output};
pub use message::Message;
pub use options::{OptionError, Options};
pub use pipes::{PipeId, PipeInfo, Priority};
pub use proto::AnyProtocol;
pub use protocol::{
    Config, Event, PipeRefused, Protocol, RecvError, SendError, SendErrorKind, Transmit,
};
pub use socket_type::SocketType;
pub use stats::{DropReason, ProtoStats};
pub use time::Instant;

/// The user guide's chapter on embedding, compiled and run as a doctest so its code
/// cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../docs/embedding.md")]
pub struct EmbeddingGuide;

/// Formats bytes as lowercase hex pairs separated by spaces.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Debug-formats a byte string as text when printable, hex otherwise.
pub(crate) struct BytesDisplay<'a>(pub(crate) &'a [u8]);

impl std::fmt::Debug for BytesDisplay<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            write!(f, "{:?}", String::from_utf8_lossy(self.0))
        } else {
            write!(f, "[{}]", hex(self.0))
        }
    }
}
