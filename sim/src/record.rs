//! What a run records, the same way on both layers: every application send, each
//! socket's log (receptions, surveys, pipe attachments, refusals, drops) and the trace.
//! Layer 1 ([`Sim`](crate::Sim)) and layer 2 (the turmoil run) each own one [`Recorder`]
//! and report to it; the expectations read what it kept.

use std::collections::BTreeMap;

use bytes::Bytes;
use sp_proto::{DropReason, Instant};

use crate::swarm::oracle::Watch;
use crate::trace::{TraceEvent, What};

/// A message the application received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// When.
    pub at: Instant,
    /// The body.
    pub body: Bytes,
    /// The host of the peer it came from, when the protocol reports the pipe.
    pub from_host: Option<String>,
}

/// A message an application sent (by a timeline action or an automatic reply).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// When.
    pub at: Instant,
    /// The sending socket, `host.socket`.
    pub socket: String,
    /// The body.
    pub body: Bytes,
    /// Whether the protocol accepted it.
    pub accepted: bool,
}

/// One survey started by a SURVEYOR and the responses its application received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SurveyRound {
    /// When the survey was sent.
    pub started: Option<Instant>,
    /// Response bodies, in arrival order.
    pub responses: Vec<Bytes>,
}

/// What the simulator recorded about one socket, kept across crashes and restarts.
#[derive(Clone, Debug, Default)]
pub struct SocketLog {
    /// Messages received by the application.
    pub received: Vec<Received>,
    /// Surveys (SURVEYOR only), in order.
    pub surveys: Vec<SurveyRound>,
    /// When each pipe of this socket was attached.
    pub connects: Vec<Instant>,
    /// Connections this socket refused (PAIR already paired, wrong peer type).
    pub refused: u64,
    /// Messages the protocol dropped, by reason, over every incarnation.
    pub drops: BTreeMap<DropReason, u64>,
    /// Protocol counters of earlier incarnations (lost state) plus the current one are
    /// reported by [`Sim::stats`](crate::Sim::stats); this holds the sum of the earlier
    /// ones' resends.
    pub resends_before: u64,
}

/// The recording of one run.
#[derive(Debug)]
pub(crate) struct Recorder {
    /// Each socket's log, by `host.socket`.
    pub(crate) logs: BTreeMap<String, SocketLog>,
    /// Every application send, in order.
    pub(crate) sent: Vec<Sent>,
    /// Every event, in order (while `tracing`).
    pub(crate) trace: Vec<TraceEvent>,
    /// Whether trace events are kept (logs and sends are kept either way).
    pub(crate) tracing: bool,
    /// The swarm's safety oracles, judging every event as it is recorded (scenarios with
    /// `oracles = true`).
    pub(crate) watch: Option<Watch>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            logs: BTreeMap::new(),
            sent: Vec::new(),
            trace: Vec::new(),
            tracing: true,
            watch: None,
        }
    }
}

impl Recorder {
    /// The log of socket `full` (`host.socket`), created empty on first use.
    pub(crate) fn log(&mut self, full: &str) -> &mut SocketLog {
        if !self.logs.contains_key(full) {
            self.logs.insert(full.to_owned(), SocketLog::default());
        }
        self.logs.get_mut(full).expect("just inserted")
    }

    /// A trace event on host `node`, about its socket `socket` if given.
    pub(crate) fn note(&mut self, at: Instant, node: &str, socket: Option<&str>, what: What) {
        if !self.tracing && self.watch.is_none() {
            return;
        }
        let e = TraceEvent {
            at,
            node: node.to_owned(),
            socket: socket.map(str::to_owned),
            what,
        };
        if let Some(w) = &mut self.watch {
            w.feed(&e);
        }
        if self.tracing {
            self.trace.push(e);
        }
    }

    /// The oracles' verdict, when they watch this run.
    pub(crate) fn oracle_verdict(&self) -> Option<crate::scenario::CheckResult> {
        self.watch.as_ref().map(|w| w.verdict(&self.trace))
    }

    /// Whether the oracles saw a rule broken.
    pub(crate) fn violated(&self) -> bool {
        self.watch.as_ref().is_some_and(Watch::violated)
    }

    /// A trace event about socket `full` (`host.socket`).
    pub(crate) fn note_socket(&mut self, at: Instant, full: &str, what: What) {
        let (node, socket) = full.split_once('.').unwrap_or((full, ""));
        self.note(at, node, Some(socket), what);
    }

    /// The application of `full` sent `body` on context `ctx` (0: the default):
    /// accepted, or refused with the error's kind. An accepted send of a cooked SURVEYOR
    /// (`survey`) on the default context starts a survey round.
    pub(crate) fn send(
        &mut self,
        at: Instant,
        full: &str,
        (body, ctx): (Bytes, u32),
        refused: Option<String>,
        survey: bool,
    ) {
        let accepted = refused.is_none();
        if accepted && survey && ctx == 0 {
            self.log(full).surveys.push(SurveyRound {
                started: Some(at),
                responses: Vec::new(),
            });
        }
        self.sent.push(Sent {
            at,
            socket: full.to_owned(),
            body: body.clone(),
            accepted,
        });
        let what = match refused {
            None => What::Send { body, ctx },
            Some(kind) => What::SendFailed { body, kind },
        };
        self.note_socket(at, full, what);
    }

    /// The application of `full` received `body` on context `ctx` (0: the default), from
    /// a peer on `from_host` (the peer socket `from` in the trace) when known; a
    /// SURVEYOR's (`survey`) on the default context counts as a response to its latest
    /// survey.
    pub(crate) fn recv(
        &mut self,
        at: Instant,
        full: &str,
        (body, ctx): (Bytes, u32),
        survey: bool,
        from_host: Option<String>,
        from: Option<String>,
    ) {
        let log = self.log(full);
        log.received.push(Received {
            at,
            body: body.clone(),
            from_host,
        });
        if survey && ctx == 0 {
            if let Some(r) = log.surveys.last_mut() {
                r.responses.push(body.clone());
            }
        }
        self.note_socket(at, full, What::Recv { body, from, ctx });
    }
}
