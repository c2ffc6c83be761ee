//! PUSH (pipeline sender, 0x50): load-balances each message to exactly one PULL peer,
//! in strict send-priority order and round-robin within a priority. No SP header.
//! Data arriving from a peer is discarded and counted (nanomsg ignores it, NNG closes).

use bytes::Bytes;

use super::common::{has_core, send_only_discards_data, Core};
use crate::message::Message;
use crate::pipes::{PipeId, PipeInfo, PriorityRing};
use crate::protocol::{Config, PipeRefused, Protocol, SendError, SendErrorKind};
use crate::socket_type::SocketType;
use crate::time::Instant;

/// The PUSH state machine. Raw differs from cooked only in passing a user-supplied header
/// through (PIPELINE itself has no header).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Push {
    writable: PriorityRing,
    core: Core,
}

impl Push {
    /// A new PUSH socket.
    pub fn new(config: Config) -> Self {
        Self {
            writable: PriorityRing::new(),
            core: Core::new(config),
        }
    }

    /// Whether some pipe can take a message now.
    pub fn can_send(&self) -> bool {
        self.writable.any_active()
    }
}

has_core!(Push);

impl Protocol for Push {
    fn socket_type(&self) -> SocketType {
        SocketType::Push
    }

    fn handle_pipe_added(
        &mut self,
        _now: Instant,
        pipe: PipeId,
        info: PipeInfo,
    ) -> Result<(), PipeRefused> {
        self.writable.attach_writable(pipe, info.send_priority)
    }

    fn handle_pipe_removed(&mut self, _now: Instant, pipe: PipeId) {
        self.writable.remove(pipe);
    }

    send_only_discards_data!();

    fn handle_writable(&mut self, _now: Instant, pipe: PipeId) {
        self.writable.activate(pipe);
    }

    fn send(&mut self, _now: Instant, msg: Message) -> Result<(), SendError> {
        let mut msg = self.core.refuse_without_peers(self.writable.len(), msg)?;
        let Some(pipe) = self.writable.take() else {
            return Err(SendError::new(SendErrorKind::WouldBlock, msg));
        };
        msg.pipe = None;
        if !self.core.raw {
            // PIPELINE has no protocol header; a cooked user's header is not sent.
            msg.header = Bytes::new();
        }
        self.core.transmit(pipe, msg);
        Ok(())
    }
}
