//! BUS (0x70): every message goes to every directly connected peer; messages from all
//! peers are fair-queued to the user (wire-facts §9, §14, §16.10). No SP header travels on
//! the wire, and the protocol does not forward: a full mesh, or a raw reflector, is needed
//! for everyone to hear everyone.
//!
//! * **Send** is best effort and never blocks: each writable pipe gets the same buffer (a
//!   cheap [`Message`] clone); a pipe that is not writable (back-pressure) is skipped and
//!   counted as [`DropReason::PipeBusy`](crate::DropReason::PipeBusy). With no pipe at all the message goes nowhere and
//!   `send` still succeeds, as in nanomsg and NNG. A cooked send clears any header.
//! * **Receive** is lossless: a pipe whose queue is full is paused.
//! * **Raw mode** (NNG and mangos conventions, not nanomsg's 8-byte pointer): a received
//!   message's header is the 4-byte big-endian id ([`PipeId::get`]) of the pipe it came
//!   from. A raw send with a header of 4 or more bytes skips the pipe whose id equals the
//!   first 4 bytes (so a reflector never echoes a message to its origin); an empty header
//!   sends to all pipes; a header of 1 to 3 bytes is refused with
//!   [`SendErrorKind::BadHeader`] (nanomsg refuses malformed headers with `EINVAL`; NNG
//!   would send to all). The header is local routing data and is never transmitted (NNG
//!   would transmit bytes after the first 4).

use bytes::Bytes;

use super::common::{has_core, Core};
use crate::inbound::{Inbound, OnFull};
use crate::message::Message;
use crate::pipes::{FanOut, PipeId, PipeInfo};
use crate::protocol::{Config, PipeRefused, Protocol, SendError, SendErrorKind};
use crate::socket_type::SocketType;
use crate::time::Instant;
use crate::wire::backtrace::first_word;

/// The BUS state machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bus {
    /// Every attached pipe and whether it can take a message now.
    pipes: FanOut,
    inbound: Inbound,
    core: Core,
}

impl Bus {
    /// A new BUS socket.
    pub fn new(config: Config) -> Self {
        let inbound = Inbound::new(config.options.recv_queue(), OnFull::Pause);
        Self {
            pipes: FanOut::default(),
            inbound,
            core: Core::new(config),
        }
    }

    /// The attached pipes, in id order.
    pub fn pipes(&self) -> impl Iterator<Item = PipeId> + '_ {
        self.pipes.iter().map(|(pipe, _)| pipe)
    }

    /// The pipe a raw send must skip: `Ok(None)` to send to all (also when the header
    /// names no valid pipe id), `Err` for a header that is neither empty nor at least one
    /// word long.
    fn excluded_pipe(&self, msg: &Message) -> Result<Option<PipeId>, ()> {
        if !self.core.raw || msg.header.is_empty() {
            return Ok(None);
        }
        first_word(&msg.header).map(PipeId::new).ok_or(())
    }
}

has_core!(Bus { receiver: inbound });

impl Protocol for Bus {
    fn socket_type(&self) -> SocketType {
        SocketType::Bus
    }

    fn handle_pipe_added(
        &mut self,
        _now: Instant,
        pipe: PipeId,
        info: PipeInfo,
    ) -> Result<(), PipeRefused> {
        self.pipes.add(pipe, info)?;
        self.inbound.add_pipe(pipe, info.recv_priority);
        Ok(())
    }

    fn handle_pipe_removed(&mut self, _now: Instant, pipe: PipeId) {
        if self.pipes.remove(pipe) {
            self.inbound.remove_pipe(pipe);
        }
    }

    fn handle_message(&mut self, _now: Instant, pipe: PipeId, payload: Bytes) {
        self.core.arrived(payload.len());
        let header = if self.core.raw {
            Bytes::copy_from_slice(&pipe.get().to_be_bytes())
        } else {
            Bytes::new()
        };
        let msg = Message {
            header,
            body: payload,
            pipe: Some(pipe),
        };
        // Unknown pipes are counted as dropped by `inbound`.
        self.core.receive(&mut self.inbound, pipe, msg);
    }

    fn handle_writable(&mut self, _now: Instant, pipe: PipeId) {
        self.pipes.set_writable(pipe);
    }

    fn send(&mut self, _now: Instant, msg: Message) -> Result<(), SendError> {
        let msg = self.core.refuse_without_peers(self.pipes.len(), msg)?;
        let Ok(excluded) = self.excluded_pipe(&msg) else {
            return Err(SendError::new(SendErrorKind::BadHeader, msg));
        };
        self.pipes
            .send(&Message::new(msg.body), excluded, &mut self.core);
        Ok(())
    }
}
