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
//!
//! ## `no_std`
//!
//! The crate is `#![no_std]` with `alloc` when built without its default `std` feature
//! (`default-features = false`): everything above works the same, for an embedder's
//! own I/O stack on a target without an operating system (a heap allocator is needed).
//! `std` only switches on the `std` features of `bytes` and `thiserror`; the error
//! types implement `core::error::Error` (the same trait as `std::error::Error`) either
//! way.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod backoff;
pub mod context;
pub mod device;
pub mod drain;
pub mod fmt;
mod inbound;
pub mod message;
pub mod options;
pub mod pipes;
pub mod proto;
pub mod protocol;
pub mod rng;
pub mod socket_type;
pub mod state_class;
pub mod stats;
pub mod subscriptions;
#[cfg(feature = "testing")]
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
