//! RESPONDENT (0x63): receives surveys from SURVEYOR peers and answers each on the pipe it
//! came from, echoing its backtrace (wire-facts §7, §14).
//!
//! # Cooked mode
//!
//! * Surveys from all pipes are fair-queued by receive priority; a pipe whose queue is
//!   full is paused (nothing is lost at the respondent). Any number of surveyors may be
//!   connected (wire-facts C8: nanomsg's doc says one, its code and NNG allow many).
//! * The backtrace is parsed on arrival, with `Options::max_ttl()` words at most (request
//!   id included). A payload with no bit-31 word is dropped as
//!   [`DropReason::MalformedHeader`](crate::DropReason::MalformedHeader), one with too many words as
//!   [`DropReason::TtlExceeded`](crate::DropReason::TtlExceeded); the pipe stays open either way (nanomsg; NNG closes on
//!   the former).
//! * [`recv`](crate::Protocol::recv) remembers the survey's pipe and backtrace. Every recv first
//!   forgets a survey received earlier and not yet answered (nanomsg's implicit cancel),
//!   even when it then returns [`RecvError::WouldBlock`](crate::RecvError::WouldBlock).
//! * [`send`](crate::Protocol::send) without a survey to answer is
//!   [`SendErrorKind::WrongState`](crate::SendErrorKind::WrongState). The response goes back on the survey's pipe with the
//!   full backtrace as its header. Responses are best-effort, as in nanomsg: when that
//!   pipe is gone the response is dropped as [`DropReason::PipeGone`](crate::DropReason::PipeGone), when it cannot take
//!   a message now as [`DropReason::PipeBusy`](crate::DropReason::PipeBusy); `send` still succeeds (the surveyor would
//!   have discarded a late answer anyway).
//! * Contexts ([`Contexts::open_context`](crate::Contexts::open_context)) each hold their own survey to answer, so a
//!   service can answer several surveys concurrently; they all draw from the same
//!   fair queue. The trait's `send`/`recv` use [`ContextId::DEFAULT`].
//!
//! # Raw mode
//!
//! `recv` returns the header `[id of the source pipe, bit 31 clear] + backtrace`, like
//! nanomsg's `xrespondent` (the TTL is checked on the received backtrace). `send` pops the
//! first word of the header as the pipe to answer on and sends the rest of the header
//! unchanged. The header must be at least 8 bytes, a multiple of 4, and start with a valid
//! pipe id (1..=0x7fff_ffff), else [`SendErrorKind::BadHeader`](crate::SendErrorKind::BadHeader); an id naming no current
//! pipe drops the message as [`DropReason::PipeGone`](crate::DropReason::PipeGone). Raw sockets have no contexts.

use super::replier::{protocol_via_replier, OnBusy, Replier};
pub use crate::context::ContextId;
use crate::protocol::Config;
use crate::socket_type::SocketType;

/// The Respondent state machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Respondent(Replier);

impl Respondent {
    /// A new Respondent socket.
    pub fn new(config: Config) -> Self {
        Self(Replier::new(SocketType::Respondent, config, OnBusy::Drop))
    }

    /// Whether `ctx` holds a survey it can answer with `send_in`.
    pub fn is_pending(&self, ctx: ContextId) -> bool {
        self.0.is_pending(ctx)
    }
}

protocol_via_replier!(Respondent);
