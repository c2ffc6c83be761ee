//! PAIR v0 (0x10, nanomsg's PAIR): a one-to-one link with exactly one peer and no SP
//! header (wire-facts §10).
//!
//! A second pipe is refused with [`PipeRefused::Busy`] (nanomsg `EISCONN`, NNG `NNG_EBUSY`);
//! the driver closes it and its dialer keeps retrying, so it attaches once the current
//! peer is gone. Sending never queues: the message goes to the peer if its pipe is writable,
//! otherwise `send` returns [`SendErrorKind::WouldBlock`] (also when there is no peer).
//! Receiving is lossless: a full receive queue pauses the pipe. Raw mode behaves exactly
//! like cooked mode, since there is no header; any header a user supplies is cleared.

use bytes::Bytes;

use super::common::{has_core, Core};
use crate::inbound::{Inbound, OnFull};
use crate::message::Message;
use crate::pipes::{PipeId, PipeInfo};
use crate::protocol::{Config, PipeRefused, Protocol, SendError, SendErrorKind};
use crate::socket_type::SocketType;
use crate::time::Instant;

/// The one attached peer and whether its pipe can take a message now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Peer {
    pipe: PipeId,
    writable: bool,
}

/// The PAIR v0 state machine (cooked and raw behave the same).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pair0 {
    peer: Option<Peer>,
    inbound: Inbound,
    core: Core,
}

impl Pair0 {
    /// A new PAIR v0 socket.
    pub fn new(config: Config) -> Self {
        let inbound = Inbound::new(config.options.recv_queue(), OnFull::Pause);
        Self {
            peer: None,
            inbound,
            core: Core::new(config),
        }
    }

    /// The pipe of the current peer, if one is attached.
    pub fn peer(&self) -> Option<PipeId> {
        self.peer.map(|p| p.pipe)
    }

    /// Whether a message can be sent now (a peer is attached and its pipe is writable).
    pub fn can_send(&self) -> bool {
        self.peer.is_some_and(|p| p.writable)
    }
}

has_core!(Pair0 { receiver: inbound });

impl Protocol for Pair0 {
    fn socket_type(&self) -> SocketType {
        SocketType::Pair0
    }

    fn handle_pipe_added(
        &mut self,
        _now: Instant,
        pipe: PipeId,
        info: PipeInfo,
    ) -> Result<(), PipeRefused> {
        match self.peer {
            Some(p) if p.pipe == pipe => Err(PipeRefused::Duplicate(pipe)),
            Some(_) => Err(PipeRefused::Busy),
            None => {
                self.peer = Some(Peer {
                    pipe,
                    writable: true,
                });
                self.inbound.add_pipe(pipe, info.recv_priority);
                Ok(())
            }
        }
    }

    fn handle_pipe_removed(&mut self, _now: Instant, pipe: PipeId) {
        if self.peer.is_some_and(|p| p.pipe == pipe) {
            self.peer = None;
            self.inbound.remove_pipe(pipe);
        }
    }

    fn handle_message(&mut self, _now: Instant, pipe: PipeId, payload: Bytes) {
        self.core.arrived(payload.len());
        // A pipe that is not the peer is unknown to `inbound`, which counts the drop.
        self.core.receive_body(&mut self.inbound, pipe, payload);
    }

    fn handle_writable(&mut self, _now: Instant, pipe: PipeId) {
        if let Some(p) = self.peer.as_mut().filter(|p| p.pipe == pipe) {
            p.writable = true;
        }
    }

    fn send(&mut self, _now: Instant, msg: Message) -> Result<(), SendError> {
        let mut msg = self
            .core
            .refuse_without_peers(usize::from(self.peer.is_some()), msg)?;
        let Some(peer) = self.peer.as_mut().filter(|p| p.writable) else {
            return Err(SendError::new(SendErrorKind::WouldBlock, msg));
        };
        peer.writable = false;
        let pipe = peer.pipe;
        msg.header = Bytes::new();
        msg.pipe = None;
        self.core.transmit(pipe, msg);
        Ok(())
    }
}
