//! The timeline's actions, as written in scenario files.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::def::LinkOverride;

/// What `send`, `request` and `survey` steps say: a body, sent once or repeatedly.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SendAction {
    /// `host.socket`.
    pub socket: String,
    /// The body; `{i}` in it is the repetition index.
    pub body: String,
    /// Repetitions (default 1).
    #[serde(default)]
    pub count: Option<usize>,
    /// Interval between repetitions in milliseconds.
    #[serde(default)]
    pub every_ms: Option<f64>,
    /// `request` and `survey` only: the socket's context number to send on (opened on
    /// first use; its replies or responses are received on it). Absent or 0: the
    /// socket's default context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<u32>,
}

impl SendAction {
    /// The body of repetition `i`, and the context number to send it on.
    pub(crate) fn body(&self, i: usize) -> (Bytes, u32) {
        (
            Bytes::from(self.body.replace("{i}", &i.to_string())),
            self.context.unwrap_or(0),
        )
    }
}

/// A timeline action.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// The application sends.
    Send(SendAction),
    /// A REQ sends a request (a send that checks the socket is a REQ).
    Request(SendAction),
    /// A SURVEYOR starts a survey (a send that checks the socket is a SURVEYOR).
    Survey(SendAction),
    /// A SUB subscribes to a topic.
    Subscribe {
        /// `host.socket`.
        socket: String,
        /// The topic.
        topic: String,
    },
    /// A SUB unsubscribes.
    Unsubscribe {
        /// `host.socket`.
        socket: String,
        /// The topic.
        topic: String,
    },
    /// The application receives what is ready (for `recv = "manual"` sockets).
    Recv {
        /// `host.socket`.
        socket: String,
        /// At most this many (default: all).
        #[serde(default)]
        max: Option<usize>,
    },
    /// Cut the network between host patterns: a black hole (packets are held, the
    /// connections stay open, nothing is reset).
    Partition {
        /// One side (a host, `*`, or a prefix ending in `*`).
        a: String,
        /// The other side.
        b: String,
        /// Only `a -> b`.
        #[serde(default)]
        oneway: bool,
    },
    /// Repair a partition.
    Repair {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// Only `a -> b`.
        #[serde(default)]
        oneway: bool,
    },
    /// Reset every connection between host patterns (both ends see it reset); the
    /// network stays up.
    Reset {
        /// One side.
        a: String,
        /// The other side.
        b: String,
    },
    /// A host crashes (state lost).
    Crash {
        /// The host.
        host: String,
        /// A power loss (layer 1 only): no FIN leaves the host, so its peers keep their
        /// connections half-open until they send to it after its restart (answered by a
        /// reset) or their keepalive finds it gone.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        silent: bool,
    },
    /// A crashed host restarts from its definition.
    Restart {
        /// The host.
        host: String,
    },
    /// A listener closes and binds again after `down_ms`.
    RestartListener {
        /// `host.socket`.
        socket: String,
        /// The listener's address.
        addr: String,
        /// How long it stays down.
        #[serde(default)]
        down_ms: f64,
    },
    /// Changes the link between two host patterns from now on: an override added at run
    /// time (later overrides win), for latency spikes, clogging (a long latency that
    /// holds frames in stream order without dropping them) and changing fault rates.
    Link(LinkOverride),
    /// The application closes the dialer of `socket` to `addr`: its connection closes
    /// (the peer sees it go) and it does not dial again (until its host restarts).
    CloseDialer {
        /// `host.socket`.
        socket: String,
        /// The dialer's address.
        addr: String,
    },
    /// The application closes the whole socket: its listeners and dialers stop, its
    /// connections close (the peers see their pipes go), and it takes no operation
    /// (later steps on it are ignored) until its host restarts.
    Close {
        /// `host.socket`.
        socket: String,
    },
    /// The host of `socket` turns hostile: it writes `frame` straight onto every pipe of
    /// the socket, past its protocol (layer 1 only). The receivers must refuse it, count
    /// why, and go on serving their other peers.
    Hostile {
        /// `host.socket`.
        socket: String,
        /// What it writes.
        frame: HostileFrame,
    },
    /// Nothing: only lets time pass (marks a point in the timeline).
    Wait {},
}

/// A frame a hostile host writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostileFrame {
    /// A length prefix announcing 4 GiB, over any receiver's maximum receive size (the
    /// receiver closes the connection before allocating: `net_drops` `oversize`).
    Oversize,
    /// A 2-byte message: too short for the SP header of REQ/REP, SURVEYOR/RESPONDENT
    /// and PAIR v1 (the protocol drops it, `malformed_header`); an ordinary body to the
    /// others.
    Malformed,
}

impl Action {
    /// The action's name as written in files (`send`, `partition`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Send(_) => "send",
            Self::Request(_) => "request",
            Self::Survey(_) => "survey",
            Self::Subscribe { .. } => "subscribe",
            Self::Unsubscribe { .. } => "unsubscribe",
            Self::Recv { .. } => "recv",
            Self::Partition { .. } => "partition",
            Self::Repair { .. } => "repair",
            Self::Reset { .. } => "reset",
            Self::Crash { .. } => "crash",
            Self::Restart { .. } => "restart",
            Self::RestartListener { .. } => "restart_listener",
            Self::Link(_) => "link",
            Self::Hostile { .. } => "hostile",
            Self::CloseDialer { .. } => "close_dialer",
            Self::Close { .. } => "close",
            Self::Wait {} => "wait",
        }
    }
}
