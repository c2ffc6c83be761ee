//! What a model is built from: the nodes, the links between them, each node's workload
//! and the faults the checker may inject. [`crate::configs`] has the standard ones.

use std::time::Duration;

use sp_proto::{Priority, SocketType};

use crate::machine::Bug;

/// What a node's user does, within the model's budgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends `sends` messages (requests, surveys, publications...) and receives whatever
    /// its protocol delivers.
    Client {
        /// How many messages the user sends in all.
        sends: u8,
    },
    /// Receives, then answers each request with its body (REP), with its body and the
    /// node's name (RESPONDENT), or with its body addressed to the pipe it came from
    /// (polyamorous PAIR v1).
    Server,
    /// Only receives (PULL, SUB, or a PAIR/BUS that never sends).
    Sink,
    /// Raw BUS device: receives each message and sends it back out with its header, so it
    /// reaches every pipe but the one it came from.
    Reflector,
    /// One side of a two-socket raw device: receives each message and sends it, header
    /// and all, out of the node `to` (the device's other socket).
    Forward {
        /// The index of the device's other socket.
        to: u8,
    },
}

/// One node: a socket of the real protocol.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// A short name for traces (`req`, `rep1`).
    pub name: &'static str,
    /// Its socket type.
    pub socket_type: SocketType,
    /// Raw mode.
    pub raw: bool,
    /// What its user does.
    pub role: Role,
    /// SUB only: its subscriptions.
    pub subscriptions: &'static [&'static [u8]],
    /// SUB only: how many times its user may flip its first subscription (unsubscribe
    /// it, subscribe it again, ...), at any moment.
    pub topic_flips: u8,
    /// Contexts its user opens (REQ, REP, SURVEYOR, RESPONDENT); 0 uses only the default
    /// context. A client sends its `k`th message on context `k % contexts`; a server
    /// receives and answers on each.
    pub contexts: u8,
    /// PAIR v1 only: polyamorous mode (many peers, addressed sends).
    pub polyamorous: bool,
    /// SUB only: back-pressure (`sub_back_pressure`): a full pipe is paused, not dropped
    /// from.
    pub back_pressure: bool,
    /// Whether its user may close the socket, once, at any moment.
    pub may_close: bool,
    /// A bug planted into it, if any.
    pub bug: Option<Bug>,
}

impl NodeSpec {
    /// A cooked node.
    pub const fn new(name: &'static str, socket_type: SocketType, role: Role) -> Self {
        Self {
            name,
            socket_type,
            raw: false,
            role,
            subscriptions: &[],
            topic_flips: 0,
            contexts: 0,
            polyamorous: false,
            back_pressure: false,
            may_close: false,
            bug: None,
        }
    }

    /// The user's context slots: the contexts it opened, or the one default context.
    pub fn context_slots(&self) -> u8 {
        self.contexts.max(1)
    }
}

/// A connection between two nodes, with the send priority each end gives it.
#[derive(Clone, Debug)]
pub struct LinkSpec {
    /// One end (index into the nodes).
    pub a: usize,
    /// The other end.
    pub b: usize,
    /// `a`'s send priority for this pipe.
    pub priority_a: Priority,
    /// `b`'s send priority for this pipe.
    pub priority_b: Priority,
    /// Whether the link is attached in the initial state.
    pub initially_up: bool,
}

impl LinkSpec {
    /// An initially attached link with default priorities.
    pub const fn new(a: usize, b: usize) -> Self {
        Self {
            a,
            b,
            priority_a: Priority::DEFAULT,
            priority_b: Priority::DEFAULT,
            initially_up: true,
        }
    }
}

/// How many faults of each kind the checker may inject on one path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Faults {
    /// Messages lost in flight.
    pub losses: u8,
    /// Messages delivered twice.
    pub duplicates: u8,
    /// Links detached (a connection that breaks).
    pub detaches: u8,
    /// Links (re)attached after a detach, or attached late.
    pub attaches: u8,
}

/// How the checker schedules time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Schedule {
    /// Safety: timers may fire at any point, also while messages are in flight, so every
    /// race between a timer and a delivery is explored.
    AnyOrder,
    /// Liveness under fairness: a timer fires only when nothing is deliverable (links
    /// deliver faster than timers expire), and a detached link can always be attached
    /// again (a dialer's backoff eventually fires).
    Fair,
}

/// A whole model configuration.
#[derive(Clone, Debug)]
pub struct Spec {
    /// A name for reports.
    pub name: &'static str,
    /// The nodes.
    pub nodes: Vec<NodeSpec>,
    /// The links.
    pub links: Vec<LinkSpec>,
    /// Fault budgets.
    pub faults: Faults,
    /// Time scheduling.
    pub schedule: Schedule,
    /// REQ resend interval.
    pub resend_interval: Duration,
    /// SURVEYOR deadline.
    pub survey_deadline: Duration,
    /// Receive queue length of every node (small, so that back-pressure is explored).
    pub recv_queue: usize,
    /// The hop limit of every node (`max_ttl`).
    pub max_ttl: u8,
    /// Messages a link holds in flight per direction before its sender stops being
    /// writable.
    pub link_capacity: usize,
    /// No state later than this is explored (safety runs bound time by it).
    pub horizon: Duration,
    /// Reconnect backoff (min, max) of every link's dialer (its `a` end): when set, a
    /// broken link comes back only when the real `sp_proto::backoff::Backoff` says so, not
    /// by a free attach action.
    pub reconnect: Option<(Duration, Duration)>,
}

impl Spec {
    /// A configuration with the given nodes and links and default limits.
    pub fn new(name: &'static str, nodes: Vec<NodeSpec>, links: Vec<LinkSpec>) -> Self {
        Self {
            name,
            nodes,
            links,
            faults: Faults::default(),
            schedule: Schedule::AnyOrder,
            resend_interval: Duration::from_millis(100),
            survey_deadline: Duration::from_millis(50),
            recv_queue: 2,
            max_ttl: 8,
            link_capacity: 1,
            horizon: Duration::from_millis(400),
            reconnect: None,
        }
    }

    /// The same with `bug` planted into the node named `node`.
    ///
    /// # Panics
    /// If no node has that name (a test's typo).
    pub fn with_bug(mut self, node: &str, bug: Bug) -> Self {
        let n = self
            .nodes
            .iter_mut()
            .find(|n| n.name == node)
            .unwrap_or_else(|| panic!("no node named {node}"));
        n.bug = Some(bug);
        self
    }
}
