//! The simulator's trace: everything that happened, in order, rendered as stable text.
//!
//! Times are elapsed virtual time since the start of the run (never wall-clock instants),
//! and every name comes from the scenario, so the same scenario and seed render the same
//! bytes: the text is fit for insta snapshots and for diffing two runs.

use std::fmt::{self, Write as _};
use std::time::Duration;

use bytes::Bytes;
use sp_proto::{Instant, PipeId};

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// When, in virtual time since the start of the run.
    pub at: Instant,
    /// The host it happened on (or the first host of a network event).
    pub node: String,
    /// The socket, when it concerns one.
    pub socket: Option<String>,
    /// What happened.
    pub what: What,
}

/// The kinds of trace events.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum What {
    /// A pipe was attached to the socket (handshake done, peer accepted).
    Connect {
        /// The peer socket, `host.socket`.
        peer: String,
        /// The pipe id at this end.
        pipe: PipeId,
    },
    /// A pipe was removed.
    Disconnect {
        /// The peer socket.
        peer: String,
        /// The pipe id at this end.
        pipe: PipeId,
        /// Why (`peer_closed`, `partition`, `crash`, `listener_closed`, ...).
        reason: &'static str,
    },
    /// A dial attempt failed before a pipe existed.
    ConnectFailed {
        /// The address dialled.
        addr: String,
        /// Why (`refused`, `bad_peer`, `busy`).
        reason: &'static str,
    },
    /// A dialer waits before its next attempt.
    Backoff {
        /// The address.
        addr: String,
        /// The delay chosen.
        delay: Duration,
    },
    /// The socket refused a pipe (PAIR already has its peer) or a peer of the wrong type.
    Refused {
        /// The peer socket.
        peer: String,
        /// Why.
        reason: &'static str,
    },
    /// The application closed a dialer: it dials no more.
    DialerClosed {
        /// The address it dialed.
        addr: String,
    },
    /// The application closed the whole socket: its endpoints and connections are gone
    /// until its host restarts.
    SocketClosed,
    /// The application sent a message.
    Send {
        /// The body.
        body: Bytes,
        /// The context it was sent on (0: the socket's own, the default context).
        ctx: u32,
    },
    /// The application's send failed.
    SendFailed {
        /// The body.
        body: Bytes,
        /// The error kind.
        kind: String,
    },
    /// A frame arrived and was given to the protocol.
    Deliver {
        /// The sending socket.
        from: String,
        /// Payload length (SP header and body).
        len: usize,
    },
    /// A frame carrying a backtrace of more than one word arrived (the message crossed a
    /// device): how many words it carries, so the oracles can check the TTL.
    Hops {
        /// The sending socket.
        from: String,
        /// Backtrace words (the request id included): the hops made so far.
        hops: usize,
    },
    /// The application received a message.
    Recv {
        /// The body.
        body: Bytes,
        /// The peer it came from, when the protocol says.
        from: Option<String>,
        /// The context it was received on (0: the default context).
        ctx: u32,
    },
    /// A message was dropped, by the network or by the protocol (`proto:` reasons are
    /// the protocol's [`DropReason`](sp_proto::DropReason) names).
    Drop {
        /// Why.
        reason: String,
        /// How many (protocol drops may be counted several at once).
        count: u64,
    },
    /// The socket's timer fired.
    Timer,
    /// A protocol event (`request_resent`, `survey_expired`).
    Event(&'static str),
    /// A partition began.
    Partition {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// Only `a -> b` is cut.
        oneway: bool,
    },
    /// A partition was repaired.
    Repair {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// Only `a -> b` is repaired.
        oneway: bool,
    },
    /// Every connection between two host patterns was reset.
    Reset {
        /// One side.
        a: String,
        /// The other side.
        b: String,
    },
    /// A link override was added (new latency or fault rates from now on).
    Link {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// Only `a -> b`.
        oneway: bool,
    },
    /// The host crashed: every socket and pipe gone, state lost.
    Crash,
    /// The host restarted with fresh sockets.
    Restart,
    /// A listener stopped.
    ListenerDown {
        /// Its address.
        addr: String,
    },
    /// A listener (re)started.
    ListenerUp {
        /// Its address.
        addr: String,
    },
    /// A listener could not be bound again (layer 2).
    ListenerFailed {
        /// Its address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// A SUB socket changed its subscriptions.
    Subscribe {
        /// The topic.
        topic: Bytes,
        /// Subscribed (true) or unsubscribed.
        on: bool,
    },
}

/// A message body as trace text: quoted when printable, hex otherwise.
pub(crate) fn body_text(b: &[u8]) -> String {
    if b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        format!("{:?}", String::from_utf8_lossy(b))
    } else {
        format!("[{}]", sp_proto::fmt::hex(b))
    }
}

/// Elapsed time as `12.345ms` (three decimals only when needed).
pub(crate) fn time_text(t: Instant) -> String {
    let us = t.as_nanos() / 1_000;
    if us % 1_000 == 0 {
        format!("{}ms", us / 1_000)
    } else {
        format!("{}.{:03}ms", us / 1_000, us % 1_000)
    }
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect { peer, pipe } => write!(f, "connect {peer} pipe={pipe}"),
            Self::Disconnect { peer, pipe, reason } => {
                write!(f, "disconnect {peer} pipe={pipe} ({reason})")
            }
            Self::ConnectFailed { addr, reason } => write!(f, "connect_failed {addr} ({reason})"),
            Self::Backoff { addr, delay } => {
                write!(f, "backoff {addr} {}", time_text(Instant::ZERO + *delay))
            }
            Self::Refused { peer, reason } => write!(f, "refused {peer} ({reason})"),
            Self::Send { body, ctx: 0 } => write!(f, "send {}", body_text(body)),
            Self::Send { body, ctx } => write!(f, "send {} ctx={ctx}", body_text(body)),
            Self::SendFailed { body, kind } => {
                write!(f, "send_failed {} ({kind})", body_text(body))
            }
            Self::Deliver { from, len } => write!(f, "frame from {from} len={len}"),
            Self::Hops { from, hops } => write!(f, "frame from {from} hops={hops}"),
            Self::DialerClosed { addr } => write!(f, "dialer_closed {addr}"),
            Self::SocketClosed => f.write_str("socket_closed"),
            Self::Recv { body, from, ctx } => {
                write!(f, "recv {}", body_text(body))?;
                if let Some(p) = from {
                    write!(f, " from {p}")?;
                }
                if *ctx != 0 {
                    write!(f, " ctx={ctx}")?;
                }
                Ok(())
            }
            Self::Drop { reason, count } if *count == 1 => write!(f, "drop {reason}"),
            Self::Drop { reason, count } => write!(f, "drop {reason} x{count}"),
            Self::Timer => f.write_str("timer"),
            Self::Event(e) => write!(f, "event {e}"),
            Self::Partition { a, b, oneway } => {
                write!(
                    f,
                    "partition {a} {} {b}",
                    if *oneway { "->" } else { "<->" }
                )
            }
            Self::Repair { a, b, oneway } => {
                write!(f, "repair {a} {} {b}", if *oneway { "->" } else { "<->" })
            }
            Self::Reset { a, b } => write!(f, "reset {a} <-> {b}"),
            Self::Link { a, b, oneway } => {
                write!(f, "link {a} {} {b}", if *oneway { "->" } else { "<->" })
            }
            Self::Crash => f.write_str("crash"),
            Self::Restart => f.write_str("restart"),
            Self::ListenerDown { addr } => write!(f, "listener_down {addr}"),
            Self::ListenerUp { addr } => write!(f, "listener_up {addr}"),
            Self::ListenerFailed { addr, reason } => {
                write!(f, "listener_failed {addr} ({reason})")
            }
            Self::Subscribe { topic, on } => write!(
                f,
                "{} {}",
                if *on { "subscribe" } else { "unsubscribe" },
                body_text(topic)
            ),
        }
    }
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>10} {}", time_text(self.at), self.node)?;
        if let Some(s) = &self.socket {
            write!(f, ".{s}")?;
        }
        write!(f, " {}", self.what)
    }
}

/// Renders a trace, one event per line.
pub fn render(trace: &[TraceEvent]) -> String {
    let mut s = String::new();
    for e in trace {
        let _ = writeln!(s, "{e}");
    }
    s
}
