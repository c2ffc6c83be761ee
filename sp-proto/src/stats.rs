//! Per-socket protocol statistics. Every message a state machine drops is counted here
//! with its reason, so a user can always see why a message did not arrive.

use core::fmt;

/// Why a protocol dropped a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The SP header inside the message was malformed (no request id word, a PAIR v1 hop
    /// word out of range, a body too short for its header).
    MalformedHeader,
    /// The backtrace or hop count exceeded the socket's TTL.
    TtlExceeded,
    /// A reply or response whose id is not that of any request or survey in progress
    /// (late, duplicate, or cancelled).
    StaleId,
    /// A survey response that arrived after the survey deadline.
    SurveyExpired,
    /// A message that arrived on a socket type that never receives (data sent to a PUB or
    /// a PUSH).
    UnexpectedData,
    /// Fan-out skipped a pipe that could not take the message (back-pressure).
    PipeBusy,
    /// A receive or send queue was full.
    QueueFull,
    /// The pipe a reply was addressed to is gone.
    PipeGone,
    /// A request or survey was cancelled by a newer one before it completed.
    Cancelled,
    /// A message arrived that no subscription matched (SUB filtering; counted, not an
    /// error).
    Unsubscribed,
    /// A queued message was discarded because its pipe was removed before it was read.
    PipeClosed,
    /// A received message the user had not read when it closed the socket.
    SocketClosed,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [Self; 12] = [
        Self::MalformedHeader,
        Self::TtlExceeded,
        Self::StaleId,
        Self::SurveyExpired,
        Self::UnexpectedData,
        Self::PipeBusy,
        Self::QueueFull,
        Self::PipeGone,
        Self::Cancelled,
        Self::Unsubscribed,
        Self::PipeClosed,
        Self::SocketClosed,
    ];

    /// A short snake_case name for logs and reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::MalformedHeader => "malformed_header",
            Self::TtlExceeded => "ttl_exceeded",
            Self::StaleId => "stale_id",
            Self::SurveyExpired => "survey_expired",
            Self::UnexpectedData => "unexpected_data",
            Self::PipeBusy => "pipe_busy",
            Self::QueueFull => "queue_full",
            Self::PipeGone => "pipe_gone",
            Self::Cancelled => "cancelled",
            Self::Unsubscribed => "unsubscribed",
            Self::PipeClosed => "pipe_closed",
            Self::SocketClosed => "socket_closed",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Counters kept by every protocol state machine.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ProtoStats {
    /// Messages received from pipes (before any filtering or dropping).
    pub msgs_in: u64,
    /// Payload bytes received from pipes.
    pub bytes_in: u64,
    /// Messages handed to pipes for transmission.
    pub msgs_out: u64,
    /// Payload bytes handed to pipes.
    pub bytes_out: u64,
    /// Messages delivered to the user.
    pub delivered: u64,
    /// Requests re-sent (REQ).
    pub resends: u64,
    drops: [u64; DropReason::ALL.len()],
}

impl ProtoStats {
    /// Counts one dropped message.
    pub fn drop_one(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
    }

    /// Counts `n` dropped messages.
    pub fn drop_many(&mut self, reason: DropReason, n: u64) {
        self.drops[reason.index()] += n;
    }

    /// How many messages were dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    /// Total drops over all reasons.
    pub fn dropped_total(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Non-zero drop counters, in reason order.
    pub fn drops(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .into_iter()
            .map(|r| (r, self.dropped(r)))
            .filter(|(_, n)| *n > 0)
    }

    /// Counts one received payload.
    pub fn count_in(&mut self, len: usize) {
        self.msgs_in += 1;
        self.bytes_in += len as u64;
    }

    /// Counts one transmitted payload.
    pub fn count_out(&mut self, len: usize) {
        self.msgs_out += 1;
        self.bytes_out += len as u64;
    }
}

impl fmt::Debug for ProtoStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("ProtoStats");
        s.field("msgs_in", &self.msgs_in)
            .field("bytes_in", &self.bytes_in)
            .field("msgs_out", &self.msgs_out)
            .field("bytes_out", &self.bytes_out)
            .field("delivered", &self.delivered);
        if self.resends > 0 {
            s.field("resends", &self.resends);
        }
        for (r, n) in self.drops() {
            s.field(r.name(), &n);
        }
        s.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_index_their_own_counter() {
        let mut s = ProtoStats::default();
        for (i, r) in DropReason::ALL.into_iter().enumerate() {
            assert_eq!(r.index(), i);
            s.drop_many(r, i as u64 + 1);
        }
        for (i, r) in DropReason::ALL.into_iter().enumerate() {
            assert_eq!(s.dropped(r), i as u64 + 1);
        }
        assert_eq!(
            s.dropped_total(),
            (1..=DropReason::ALL.len() as u64).sum::<u64>()
        );
    }
}
