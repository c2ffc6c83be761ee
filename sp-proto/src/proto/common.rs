//! Output plumbing shared by every protocol: the transmit and event queues and the
//! statistics, with helpers that keep the counters honest.

use std::collections::VecDeque;

use crate::message::Message;
use crate::pipes::PipeId;
use crate::protocol::{Event, Transmit};
use crate::stats::{DropReason, ProtoStats};

/// The outputs a protocol accumulates between polls, and its counters.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outputs {
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) stats: ProtoStats,
}

impl Outputs {
    /// Queues `msg` for `pipe` and counts it.
    pub(crate) fn transmit(&mut self, pipe: PipeId, msg: Message) {
        self.stats.count_out(msg.wire_len());
        self.transmits.push_back(Transmit { pipe, msg });
    }

    /// Counts an arriving payload.
    pub(crate) fn arrived(&mut self, len: usize) {
        self.stats.count_in(len);
    }

    /// Counts a dropped message.
    pub(crate) fn dropped(&mut self, reason: DropReason) {
        self.stats.drop_one(reason);
    }

    /// Counts a message handed to the user.
    pub(crate) fn delivered(&mut self) {
        self.stats.delivered += 1;
    }
}
