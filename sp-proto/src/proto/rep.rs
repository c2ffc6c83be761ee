//! REP (replier, 0x31): receives requests fair-queued by receive priority and sends each
//! reply back to the pipe its request came from, with the request's backtrace.
//!
//! # Cooked mode
//!
//! * **Arrival.** Each request's backtrace is parsed when it arrives, with the hop limit
//!   [`Options::max_ttl`](crate::Options::max_ttl) (words, request id included). One without a word carrying bit 31
//!   is dropped as [`DropReason::MalformedHeader`](crate::DropReason::MalformedHeader), one with too many words as
//!   [`DropReason::TtlExceeded`](crate::DropReason::TtlExceeded); the pipe is kept either way (nanomsg; NNG closes it).
//!   So dropped requests never take a place in the receive queue.
//! * **Contexts** ([`ContextId`]) let a server answer several requests concurrently. Each
//!   remembers the pipe and backtrace of the request it last received. Any recv on a
//!   context forgets an unanswered request (nanomsg's implicit cancel). A send with
//!   nothing to answer fails with [`SendErrorKind::WrongState`](crate::SendErrorKind::WrongState).
//! * **Replies** carry the whole received stack as header (wire-facts E3). A reply for a
//!   pipe that is gone is dropped as [`DropReason::PipeGone`](crate::DropReason::PipeGone) and the send still
//!   succeeds. A reply for a pipe that cannot take it now waits in that pipe's backlog
//!   (up to [`Options::recv_queue`](crate::Options::recv_queue) replies; beyond that [`DropReason::QueueFull`](crate::DropReason::QueueFull)) and
//!   goes out on `handle_writable`: like NNG, and unlike nanomsg, a reply is not lost to
//!   back-pressure.
//!
//! # Raw mode (xrep)
//!
//! A received message's header is `[pipe id (bit 31 clear)] + received stack`; the hop
//! limit applies to the received words. On send, the first header word names the pipe and
//! the rest is sent as header: a header shorter than 8 bytes, not whole words, or whose
//! first word is no valid pipe id gives [`SendErrorKind::BadHeader`](crate::SendErrorKind::BadHeader); an unknown pipe is a
//! [`DropReason::PipeGone`](crate::DropReason::PipeGone) drop; a busy pipe uses the backlog as in cooked mode.
//! Contexts all behave like the socket itself.

use super::replier::{protocol_via_replier, OnBusy, Replier};
pub use crate::context::ContextId;
use crate::pipes::PipeId;
use crate::protocol::Config;
use crate::socket_type::SocketType;

/// The Rep state machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rep(Replier);

impl Rep {
    /// A new Rep socket.
    pub fn new(config: Config) -> Self {
        Self(Replier::new(SocketType::Rep, config, OnBusy::Backlog))
    }

    /// Whether `ctx` holds a request to answer.
    pub fn is_pending(&self, ctx: ContextId) -> bool {
        self.0.is_pending(ctx)
    }

    /// Replies waiting in the backlog of `pipe` for write credit.
    pub fn backlog(&self, pipe: PipeId) -> usize {
        self.0.backlog(pipe)
    }
}

protocol_via_replier!(Rep);
