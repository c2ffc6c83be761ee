//! PULL (pipeline receiver, 0x51): fair-queues messages from all PUSH peers by receive
//! priority. No SP header. Back-pressure: a pipe whose queue is full is paused, so a
//! slow receiver pushes load towards other PULL sockets instead of losing messages.

use bytes::Bytes;

use super::common::{has_core, receive_only_pipes, Core};
use crate::inbound::{Inbound, OnFull};
use crate::pipes::PipeId;
use crate::protocol::{Config, Protocol};
use crate::socket_type::SocketType;
use crate::time::Instant;

/// The PULL state machine (cooked and raw behave the same).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pull {
    inbound: Inbound,
    core: Core,
}

impl Pull {
    /// A new PULL socket.
    pub fn new(config: Config) -> Self {
        let inbound = Inbound::new(config.options.recv_queue(), OnFull::Pause);
        Self {
            inbound,
            core: Core::new(config),
        }
    }
}

has_core!(Pull { receiver: inbound });

impl Protocol for Pull {
    fn socket_type(&self) -> SocketType {
        SocketType::Pull
    }

    receive_only_pipes!(inbound);

    fn handle_message(&mut self, _now: Instant, pipe: PipeId, payload: Bytes) {
        self.core.arrived(payload.len());
        self.core.receive_body(&mut self.inbound, pipe, payload);
    }
}
