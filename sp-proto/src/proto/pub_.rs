//! PUB (publisher, 0x20): every message goes to every connected SUB peer (wire-facts §8).
//!
//! There is no SP header: the wire payload is the body, and subscribers filter locally.
//! Fan-out clones the [`Message`], which shares the body buffer (a reference count, no
//! copy). Delivery is best-effort, as in nanomsg: a pipe that cannot take the message now
//! (its previous write is still pending) is skipped and the skip is counted as
//! [`DropReason::PipeBusy`](crate::DropReason::PipeBusy); `send` itself never blocks and never fails. NNG's per-pipe
//! drop-oldest queue, if wanted, belongs to the driver's output buffer.
//!
//! With no pipe attached a published message reaches nobody and is simply gone: no drop
//! is counted, since no subscriber missed it (this is also why messages published before
//! a connection exists are lost). [`ProtoStats::msgs_out`](crate::ProtoStats::msgs_out) counts one per pipe written.
//!
//! Data arriving from a peer (a SUB never sends, so this is a misbehaving peer) is
//! discarded and counted as [`DropReason::UnexpectedData`](crate::DropReason::UnexpectedData); nanomsg aborts here and NNG
//! closes the pipe. Raw PUB behaves exactly like cooked PUB.

use bytes::Bytes;

use super::common::{has_core, send_only_discards_data, Core};
use crate::message::Message;
use crate::pipes::{FanOut, PipeId, PipeInfo};
use crate::protocol::{Config, PipeRefused, Protocol, SendError};
use crate::socket_type::SocketType;
use crate::time::Instant;

/// The PUB state machine (raw differs only in passing a user-supplied header through).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pub {
    /// Every attached pipe and whether it can take a message now.
    pipes: FanOut,
    core: Core,
}

impl Pub {
    /// A new PUB socket.
    pub fn new(config: Config) -> Self {
        Self {
            pipes: FanOut::default(),
            core: Core::new(config),
        }
    }

    /// Number of attached pipes (subscribers).
    pub fn pipe_count(&self) -> usize {
        self.pipes.len()
    }
}

has_core!(Pub);

impl Protocol for Pub {
    fn socket_type(&self) -> SocketType {
        SocketType::Pub
    }

    fn handle_pipe_added(
        &mut self,
        _now: Instant,
        pipe: PipeId,
        info: PipeInfo,
    ) -> Result<(), PipeRefused> {
        self.pipes.add(pipe, info)
    }

    fn handle_pipe_removed(&mut self, _now: Instant, pipe: PipeId) {
        self.pipes.remove(pipe);
    }

    send_only_discards_data!();

    fn handle_writable(&mut self, _now: Instant, pipe: PipeId) {
        self.pipes.set_writable(pipe);
    }

    fn send(&mut self, _now: Instant, msg: Message) -> Result<(), SendError> {
        let mut msg = self.core.refuse_without_peers(self.pipes.len(), msg)?;
        msg.pipe = None;
        if !self.core.raw {
            // PUB/SUB has no protocol header; a cooked user's header is not sent.
            msg.header = Bytes::new();
        }
        self.pipes.send(&msg, None, &mut self.core);
        Ok(())
    }
}
