//! PUSH (pipeline sender, 0x50): load-balances each message to exactly one PULL peer,
//! in strict send-priority order and round-robin within a priority. No SP header.
//! Data arriving from a peer is discarded and counted (nanomsg ignores it, NNG closes).

use bytes::Bytes;

use super::common::Outputs;
use crate::message::Message;
use crate::options::Options;
use crate::pipes::{PipeId, PipeInfo, PriorityRing};
use crate::protocol::{
    Config, Event, PipeRefused, Protocol, RecvError, SendError, SendErrorKind, Transmit,
};
use crate::socket_type::SocketType;
use crate::stats::{DropReason, ProtoStats};
use crate::time::Instant;

/// The PUSH state machine. Raw differs from cooked only in passing a user-supplied header
/// through (PIPELINE itself has no header).
#[derive(Clone, Debug)]
pub struct Push {
    options: Options,
    raw: bool,
    writable: PriorityRing,
    out: Outputs,
}

impl Push {
    /// A new PUSH socket.
    pub fn new(config: Config) -> Self {
        Self {
            options: config.options,
            raw: config.raw,
            writable: PriorityRing::new(),
            out: Outputs::default(),
        }
    }

    /// Whether some pipe can take a message now.
    pub fn can_send(&self) -> bool {
        self.writable.any_active()
    }
}

impl Protocol for Push {
    fn socket_type(&self) -> SocketType {
        SocketType::Push
    }

    fn is_raw(&self) -> bool {
        self.raw
    }

    fn add_pipe(&mut self, _now: Instant, pipe: PipeId, info: PipeInfo) -> Result<(), PipeRefused> {
        if self.writable.contains(pipe) {
            return Err(PipeRefused::Duplicate(pipe));
        }
        self.writable.add(pipe, info.send_priority);
        self.writable.activate(pipe);
        Ok(())
    }

    fn remove_pipe(&mut self, _now: Instant, pipe: PipeId) {
        self.writable.remove(pipe);
    }

    fn handle_message(&mut self, _now: Instant, _pipe: PipeId, payload: Bytes) {
        self.out.arrived(payload.len());
        self.out.dropped(DropReason::UnexpectedData);
    }

    fn handle_writable(&mut self, _now: Instant, pipe: PipeId) {
        self.writable.activate(pipe);
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn send(&mut self, _now: Instant, mut msg: Message) -> Result<(), SendError> {
        let Some(pipe) = self.writable.take() else {
            return Err(SendError::new(SendErrorKind::WouldBlock, msg));
        };
        msg.pipe = None;
        if !self.raw {
            // PIPELINE has no protocol header; a cooked user's header is not sent.
            msg.header = Bytes::new();
        }
        self.out.transmit(pipe, msg);
        Ok(())
    }

    fn recv(&mut self, _now: Instant) -> Result<Message, RecvError> {
        Err(RecvError::NotSupported)
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn stats(&self) -> &ProtoStats {
        &self.out.stats
    }

    fn options(&self) -> &Options {
        &self.options
    }

    fn set_options(&mut self, options: Options) {
        self.options = options;
    }

    fn uses_clock(&self) -> bool {
        false
    }
}
