//! Respondent: placeholder until the implementation lands (every method panics).

use bytes::Bytes;

use crate::message::Message;
use crate::options::Options;
use crate::pipes::{PipeId, PipeInfo};
use crate::protocol::{Config, Event, PipeRefused, Protocol, RecvError, SendError, Transmit};
use crate::socket_type::SocketType;
use crate::stats::ProtoStats;
use crate::time::Instant;

/// The Respondent state machine (placeholder).
#[derive(Clone, Debug)]
pub struct Respondent {
    options: Options,
}

impl Respondent {
    /// A new socket.
    pub fn new(config: Config) -> Self {
        Self {
            options: config.options,
        }
    }
}

impl Protocol for Respondent {
    fn socket_type(&self) -> SocketType {
        SocketType::Respondent
    }
    fn is_raw(&self) -> bool {
        unimplemented!()
    }
    fn add_pipe(
        &mut self,
        _now: Instant,
        _pipe: PipeId,
        _info: PipeInfo,
    ) -> Result<(), PipeRefused> {
        unimplemented!()
    }
    fn remove_pipe(&mut self, _now: Instant, _pipe: PipeId) {
        unimplemented!()
    }
    fn handle_message(&mut self, _now: Instant, _pipe: PipeId, _payload: Bytes) {
        unimplemented!()
    }
    fn handle_writable(&mut self, _now: Instant, _pipe: PipeId) {
        unimplemented!()
    }
    fn handle_timeout(&mut self, _now: Instant) {
        unimplemented!()
    }
    fn send(&mut self, _now: Instant, _msg: Message) -> Result<(), SendError> {
        unimplemented!()
    }
    fn recv(&mut self, _now: Instant) -> Result<Message, RecvError> {
        unimplemented!()
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        unimplemented!()
    }
    fn poll_event(&mut self) -> Option<Event> {
        unimplemented!()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        unimplemented!()
    }
    fn stats(&self) -> &ProtoStats {
        unimplemented!()
    }
    fn options(&self) -> &Options {
        &self.options
    }
    fn set_options(&mut self, options: Options) {
        self.options = options;
    }
}
