//! The model's state: every node's protocol value and what its user has seen, every
//! link's messages in flight, the clock and the faults left.

use std::collections::VecDeque;

use bytes::Bytes;
use sp_proto::backoff::Backoff;
use sp_proto::{Instant, Message, PipeId};

use crate::machine::Machine;
use crate::spec::Faults;

/// A global state of the modelled network.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct State {
    /// Virtual time.
    pub now: Instant,
    /// Every node, in the spec's order.
    pub nodes: Vec<Node>,
    /// Every link, in the spec's order.
    pub links: Vec<Link>,
    /// Faults the checker may still inject on this path.
    pub faults_left: Faults,
    /// Messages lost in flight: injected losses, queues cleared by a detach, transmits on
    /// a pipe that was already gone.
    pub lost: u8,
}

/// One node: its protocol and its user's observations.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Node {
    /// The protocol state machine.
    pub machine: Machine,
    /// What the user did and saw.
    pub user: User,
}

/// A message the user received.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Got {
    /// Its body.
    pub body: Bytes,
    /// How many messages this user had sent when it arrived.
    pub sent: u8,
    /// When it was received.
    pub at: Instant,
    /// The user's context number it was received on (0 without contexts).
    pub ctx: u8,
}

/// What a node's user did and saw: the observations the properties judge.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
pub struct User {
    /// Messages sent so far.
    pub sent: u8,
    /// Payloads the model handed to this node's protocol (`handle_message` calls).
    pub handed_in: u8,
    /// When each was sent.
    pub sent_at: Vec<Instant>,
    /// Messages received, in order.
    pub got: Vec<Got>,
    /// A server's received requests, not answered yet, per context slot.
    pub pending: Vec<Option<Message>>,
    /// Payloads delivered to this node, by link (servers and reflectors only).
    pub wire_in: Vec<(u8, Bytes)>,
    /// Payloads this node transmitted, by link (servers and reflectors only).
    pub wire_out: Vec<(u8, Bytes)>,
    /// Transmits that went to a lower-priority pipe while a higher-priority one could
    /// take the message.
    pub priority_inversions: u8,
    /// SUB: how many times the user flipped its first subscription; odd while it is
    /// unsubscribed.
    pub flips: u8,
    /// SUB: the payloads handed in that a subscription in force at that moment matched
    /// (a SUB may deliver exactly these: topics changed later do not touch its queue).
    pub admissible: Vec<Bytes>,
    /// The user closed the socket.
    pub closed: bool,
    /// Messages the closed socket still handed its user or transmitted.
    pub after_close: u8,
}

/// One link: a pipe between two nodes, with a FIFO per direction (direction 0 carries
/// `a` to `b`, direction 1 `b` to `a`).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Link {
    /// Attached at both ends.
    pub up: bool,
    /// How many times it was attached (part of its pipe ids, so a re-attached link has
    /// new ones).
    pub generation: u8,
    /// Messages in flight, per direction.
    pub queue: [VecDeque<Bytes>; 2],
    /// Per direction: the sender's last transmit filled the queue, so it is owed a
    /// `handle_writable` once the queue has room.
    pub blocked: [bool; 2],
    /// Per direction: the receiver paused reading.
    pub paused: [bool; 2],
    /// The dialer's reconnect backoff, when the spec sets one.
    pub backoff: Option<Backoff>,
    /// When the dialer tries again, while the link is down.
    pub redial_at: Option<Instant>,
}

impl Link {
    /// A link, attached or not.
    pub fn new(up: bool) -> Self {
        Self {
            up,
            generation: u8::from(up),
            queue: Default::default(),
            blocked: [false; 2],
            paused: [false; 2],
            backoff: None,
            redial_at: None,
        }
    }

    /// The pipe id both ends use for generation `generation` of link `link`.
    pub fn pipe_id(link: usize, generation: u8) -> PipeId {
        // Below 2^31 for any link index and generation the model uses.
        PipeId::new(1 + link as u32 + 64 * u32::from(generation)).expect("small pipe id")
    }

    /// Which link and generation a pipe id names.
    pub fn from_pipe(pipe: PipeId) -> (usize, u8) {
        let raw = pipe.get() - 1;
        ((raw % 64) as usize, (raw / 64) as u8)
    }
}
