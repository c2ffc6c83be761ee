//! The one drain loop of the driving contract, shared by every driver (sp-net's socket
//! core, the simulator, `testing::TestNet` and an embedder's own loop).
//!
//! After each input or command the driver takes every output with [`Drain::next`]: first
//! every [`Transmit`], then every [`Event`]. A driver that can take another message on a
//! pipe at once (its output buffer has room) says so with [`Drain::credit`] after taking
//! a transmit; the drain feeds that credit to
//! [`handle_writable`](Protocol::handle_writable) once the transmits taken so far are all
//! out, so the protocol never gets an input while it still holds transmits, and what the
//! credit lets it send comes next.
//!
//! ```
//! use sp_proto::{proto, Config, Drain, Instant, Message, Output, PipeId, PipeInfo, Protocol};
//!
//! let now = Instant::ZERO;
//! let mut push = proto::Push::new(Config::cooked(1));
//! let pipe = PipeId::new(7).unwrap();
//! push.handle_pipe_added(now, pipe, PipeInfo::default()).unwrap();
//! let mut drain = Drain::new();
//! let mut sent = Vec::new();
//! for body in ["a", "b"] {
//!     // Without the credit below, the pipe would stay busy and "b" would not go.
//!     push.send(now, Message::from(body)).unwrap();
//!     while let Some(out) = drain.next(&mut push, now) {
//!         if let Output::Transmit(t) = out {
//!             sent.push(t.msg.body);
//!             drain.credit(t.pipe); // the pipe's buffer has room again
//!         }
//!     }
//! }
//! assert_eq!(sent, ["a", "b"]);
//! assert!(push.is_drained());
//! ```

use alloc::collections::VecDeque;

use crate::pipes::PipeId;
use crate::protocol::{Event, Protocol, Transmit};
use crate::time::Instant;

/// One output of a protocol, as [`Drain::next`] hands it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// A message to write on a pipe.
    Transmit(Transmit),
    /// Something the driver must act on, or may report.
    Event(Event),
}

/// The drain loop (see the module docs). Keep one per protocol and reuse it: it holds
/// the write credits not yet fed back, in a buffer that is allocated once.
#[derive(Clone, Debug, Default)]
pub struct Drain {
    credits: VecDeque<PipeId>,
}

impl Drain {
    /// A drain with no credits pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next output of `proto`, or `None` once it has nothing left: every transmit
    /// first (feeding pending credits to `handle_writable` at `now` when the transmits run
    /// out), then every event.
    #[must_use]
    pub fn next<P: Protocol + ?Sized>(&mut self, proto: &mut P, now: Instant) -> Option<Output> {
        loop {
            if let Some(t) = proto.poll_transmit() {
                return Some(Output::Transmit(t));
            }
            let Some(pipe) = self.credits.pop_front() else {
                break;
            };
            proto.handle_writable(now, pipe);
        }
        let next = proto.poll_event().map(Output::Event);
        debug_assert!(
            next.is_some() || proto.is_drained(),
            "a drained protocol holds no output"
        );
        next
    }

    /// `pipe`, whose transmit the driver just took, can take another message now. The
    /// drain feeds this to the protocol after the transmits already queued.
    pub fn credit(&mut self, pipe: PipeId) {
        self.credits.push_back(pipe);
    }
}
