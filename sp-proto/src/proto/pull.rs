//! PULL (pipeline receiver, 0x51): fair-queues messages from all PUSH peers by receive
//! priority. No SP header. Back-pressure: a pipe whose queue is full is paused, so a
//! slow receiver pushes load towards other PULL sockets instead of losing messages.

use bytes::Bytes;

use super::common::{has_core, Core};
use crate::inbound::{Inbound, OnFull};
use crate::pipes::{PipeId, PipeInfo};
use crate::protocol::{Config, PipeRefused, Protocol};
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

    fn handle_pipe_added(
        &mut self,
        _now: Instant,
        pipe: PipeId,
        info: PipeInfo,
    ) -> Result<(), PipeRefused> {
        self.inbound.add_new_pipe(pipe, info.recv_priority)
    }

    fn handle_pipe_removed(&mut self, _now: Instant, pipe: PipeId) {
        self.inbound.remove_pipe(pipe);
    }

    fn handle_message(&mut self, _now: Instant, pipe: PipeId, payload: Bytes) {
        self.core.arrived(payload.len());
        self.core.receive_body(&mut self.inbound, pipe, payload);
    }

    fn handle_writable(&mut self, _now: Instant, _pipe: PipeId) {}
}
