//! PULL (pipeline receiver, 0x51): fair-queues messages from all PUSH peers by receive
//! priority. No SP header. Back-pressure: a pipe whose queue is full is paused, so a
//! slow receiver pushes load towards other PULL sockets instead of losing messages.

use bytes::Bytes;

use super::common::Outputs;
use crate::inbound::{Inbound, OnFull};
use crate::message::Message;
use crate::options::Options;
use crate::pipes::{PipeId, PipeInfo};
use crate::protocol::{
    Config, Event, PipeRefused, Protocol, RecvError, SendError, SendErrorKind, Transmit,
};
use crate::socket_type::SocketType;
use crate::stats::ProtoStats;
use crate::time::Instant;

/// The PULL state machine (cooked and raw behave the same).
#[derive(Clone, Debug)]
pub struct Pull {
    options: Options,
    raw: bool,
    inbound: Inbound,
    out: Outputs,
}

impl Pull {
    /// A new PULL socket.
    pub fn new(config: Config) -> Self {
        let inbound = Inbound::new(config.options.recv_queue(), OnFull::Pause);
        Self {
            options: config.options,
            raw: config.raw,
            inbound,
            out: Outputs::default(),
        }
    }
}

impl Protocol for Pull {
    fn socket_type(&self) -> SocketType {
        SocketType::Pull
    }

    fn is_raw(&self) -> bool {
        self.raw
    }

    fn add_pipe(&mut self, _now: Instant, pipe: PipeId, info: PipeInfo) -> Result<(), PipeRefused> {
        if self.inbound.contains(pipe) {
            return Err(PipeRefused::Duplicate(pipe));
        }
        self.inbound.add_pipe(pipe, info.recv_priority);
        Ok(())
    }

    fn remove_pipe(&mut self, _now: Instant, pipe: PipeId) {
        self.inbound.remove_pipe(pipe);
    }

    fn handle_message(&mut self, _now: Instant, pipe: PipeId, payload: Bytes) {
        self.out.arrived(payload.len());
        let mut msg = Message::new(payload);
        msg.pipe = Some(pipe);
        self.inbound
            .push(pipe, msg, &mut self.out.stats, &mut self.out.events);
    }

    fn handle_writable(&mut self, _now: Instant, _pipe: PipeId) {}

    fn handle_timeout(&mut self, _now: Instant) {}

    fn send(&mut self, _now: Instant, msg: Message) -> Result<(), SendError> {
        Err(SendError::new(SendErrorKind::NotSupported, msg))
    }

    fn recv(&mut self, _now: Instant) -> Result<Message, RecvError> {
        let (_, msg) = self
            .inbound
            .pop(&mut self.out.events)
            .ok_or(RecvError::WouldBlock)?;
        self.out.delivered();
        Ok(msg)
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
        self.inbound.set_capacity(options.recv_queue());
        self.options = options;
    }

    fn uses_clock(&self) -> bool {
        false
    }
}
