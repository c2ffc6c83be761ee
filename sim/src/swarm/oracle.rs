//! The swarm's safety oracles: rules every run must keep, judged over its events in the
//! order they happened, stopping at the first violation (with its virtual time and the
//! event). The rules are those of `sp-model`'s properties (`sp-model/src/props.rs`),
//! restated over the simulator's events: the model checker's predicates judge its own
//! model states, not a trace, so they cannot be called here.
//!
//! They read identities from the message bodies the swarm generates: every body is
//! `tag~sender~step~i` (`tag` is the topic for PUB, `m` or `probe` otherwise), and
//! REP and RESPONDENT answer `request@host`.
//!
//! * **REQ** delivers only the reply to its request in progress, at most once
//!   (`REQ_CURRENT_REPLY`), per context: a reply delivered on context `k` answers the
//!   request in progress on `k`.
//! * **SURVEYOR** delivers only responses to its survey in progress, within the deadline
//!   (`SURVEY_CURRENT`), per context likewise.
//! * **SUB** delivers only messages a current subscription prefixes (`SUB_FILTER_ORDER`).
//! * **PUSH** never passes over an attached higher-priority pipe to a PULL that receives
//!   at once (`PUSH_PRIORITY`; see `priority.rs` for when it is judged).
//! * **BUS** never delivers a socket's own message back to it (`BUS_NO_ECHO`).
//! * **PULL and PAIR** never deliver a message twice, unless the scenario turns link
//!   duplication on (a fault TCP never makes).
//! * **PUSH and PAIR** lose nothing between peers that stayed connected: when neither
//!   the sender nor any of its peers saw a pipe close, crashed, or was partitioned, and
//!   no link lost frames, every message the sender's protocol accepted is delivered by
//!   the end of the run.
//! * **No loop past the TTL**: a frame that crossed devices carries at most one
//!   backtrace word more than the largest TTL of its sender's host (the socket that
//!   accepted it checked its TTL, the device added one hop; the next socket drops what
//!   is over). Layer 1, whose trace has the frames.
//! * **A closed socket is closed**: after the application closes a socket (and until
//!   its host restarts) it delivers nothing, accepts no send and gets no new pipe; and
//!   by the end of the run no socket still has a pipe to it (its peers saw their pipes
//!   close; layer 1, whose trace names peers by socket).
//! * **No message over the maximum receive size** reaches a socket's protocol: a frame
//!   longer than the receiver's `max_recv_size` closes its connection instead, counted
//!   as a network drop `oversize` (layer 1, whose trace has the frames).
//! * **Every drop is counted**: a cooked PULL, SUB, REQ or SURVEYOR whose host never crashed and
//!   whose application receives at once delivered or counted dropped (with a
//!   receive-side reason) every message handed to its protocol (layer 1, whose trace
//!   has the frames).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use sp_proto::Instant;

use super::super::scenario::{Action, CheckResult, Scenario};
use super::priority::Priorities;
use crate::def::{host_matches, RecvMode, SocketDef};
use crate::trace::{body_text, time_text, TraceEvent, What};

/// What the oracles keep per socket.
#[derive(Debug, Default)]
struct SockState {
    /// REQ: per context (0: the default), the request in progress, and whether its reply
    /// was delivered.
    request: BTreeMap<u32, (Bytes, bool)>,
    /// SURVEYOR: per context, the survey in progress and when it started.
    survey: BTreeMap<u32, (Bytes, Instant)>,
    /// SUB: the current subscriptions.
    topics: BTreeSet<Bytes>,
}

/// Judges `trace` (a run of `sc`) after the fact: ok, or the first violation. A run of
/// a scenario with `oracles = true` is judged the same way while it goes, by a watch
/// its recorder feeds.
pub fn check(sc: &Scenario, trace: &[TraceEvent]) -> CheckResult {
    let mut w = Watch::new(sc);
    for e in trace {
        w.feed(e);
    }
    w.verdict(trace)
}

/// The oracles watching a run: every event is judged as it is recorded, and the first
/// violation is kept (the driver stops the run at its next timeline step).
#[derive(Debug)]
pub(crate) struct Watch {
    oracles: Oracles,
    violation: Option<String>,
    events: u64,
    recvs: u64,
}

impl Watch {
    /// Watches a run of `sc`.
    pub(crate) fn new(sc: &Scenario) -> Self {
        Self {
            oracles: Oracles::new(sc),
            violation: None,
            events: 0,
            recvs: 0,
        }
    }

    /// Judges one event (nothing more after the first violation).
    pub(crate) fn feed(&mut self, e: &TraceEvent) {
        if self.violation.is_some() {
            return;
        }
        self.events += 1;
        if matches!(e.what, What::Recv { .. }) {
            self.recvs += 1;
        }
        if let Some(why) = self.oracles.judge(e) {
            self.violation = Some(format!("at {}: `{e}`: {why}", time_text(e.at)));
        }
    }

    /// Whether a rule was broken.
    pub(crate) fn violated(&self) -> bool {
        self.violation.is_some()
    }

    /// The verdict at the end of the run, with the end-of-run rules (nothing lost between
    /// peers that stayed connected, every drop counted, no pipe left to a closed socket)
    /// judged over the whole `trace`.
    pub(crate) fn verdict(&self, trace: &[TraceEvent]) -> CheckResult {
        let v = match &self.violation {
            Some(v) => Err(v.clone()),
            None => self
                .oracles
                .nothing_lost(trace)
                .and_then(|()| self.oracles.drops_counted())
                .and_then(|()| self.oracles.closed_pipes_gone())
                .map(|()| format!("{} events, {} deliveries judged", self.events, self.recvs)),
        };
        CheckResult {
            what: "safety oracles".into(),
            ok: v.is_ok(),
            detail: v.unwrap_or_else(|e| e),
        }
    }
}

#[derive(Debug)]
struct Oracles {
    defs: BTreeMap<String, SocketDef>,
    state: BTreeMap<String, SockState>,
    /// Deliveries at PULL and PAIR sockets, by body.
    delivered: BTreeMap<Bytes, u32>,
    /// Per socket: frames handed to the protocol, messages delivered, receive drops
    /// counted (layer 1 traces frames; layer 2 does not).
    accounts: BTreeMap<String, [u64; 3]>,
    /// Hosts that crashed (their queued messages went with them, uncounted).
    crashed: BTreeSet<String>,
    /// Sockets closed by their application (until their host restarts), with when.
    closed: BTreeMap<String, Instant>,
    /// Sockets ever closed (what was queued in them went with them, uncounted).
    ever_closed: BTreeSet<String>,
    /// Per socket, its open pipes by peer socket.
    open: BTreeMap<String, BTreeMap<String, u32>>,
    /// PUSH pipe priorities and attachments.
    priorities: Priorities,
    duplication: bool,
    lossy: bool,
}

fn reset(def: &SocketDef) -> SockState {
    SockState {
        topics: def
            .subscribe
            .iter()
            .map(|t| Bytes::from(t.clone()))
            .collect(),
        ..SockState::default()
    }
}

/// Whether a protocol drop (`proto:reason` in the trace) is of a message that arrived,
/// rather than of one the socket was sending (cancelled, or skipped by fan-out).
fn receive_drop(reason: &str) -> bool {
    reason
        .strip_prefix("proto:")
        .is_some_and(|r| !matches!(r, "cancelled" | "pipe_busy" | "pipe_gone"))
}

/// The part of a reply body before its last `@` (the request it answers).
fn request_of(body: &[u8]) -> &[u8] {
    match body.iter().rposition(|&c| c == b'@') {
        Some(i) => &body[..i],
        None => body,
    }
}

/// The sender field of a generated body (`tag~sender~...`).
fn sender_of(body: &[u8]) -> Option<&[u8]> {
    body.split(|&c| c == b'~').nth(1)
}

impl Oracles {
    fn new(sc: &Scenario) -> Self {
        let mut defs = BTreeMap::new();
        for h in sc.hosts.iter().flat_map(|h| h.expand()) {
            for s in h.sockets {
                defs.insert(format!("{}.{}", h.name, s.name), s);
            }
        }
        let state = defs.iter().map(|(k, d)| (k.clone(), reset(d))).collect();
        let links = std::iter::once(sc.links.default.clone())
            .chain(sc.links.pairs.iter().map(|o| o.apply(&sc.links.default)));
        let (mut duplication, mut lossy) = (false, false);
        for l in links {
            duplication |= l.duplicate > 0.0;
            lossy |= l.loss > 0.0;
        }
        for st in &sc.steps {
            match &st.action {
                Action::Link(o) => {
                    duplication |= o.duplicate.is_some_and(|p| p > 0.0);
                    lossy |= o.loss.is_some_and(|p| p > 0.0);
                }
                Action::Partition { oneway: true, .. } => lossy = true,
                _ => {}
            }
        }
        let priorities = Priorities::new(&defs);
        Self {
            defs,
            state,
            delivered: BTreeMap::new(),
            accounts: BTreeMap::new(),
            crashed: BTreeSet::new(),
            closed: BTreeMap::new(),
            ever_closed: BTreeSet::new(),
            open: BTreeMap::new(),
            priorities,
            duplication,
            lossy,
        }
    }

    /// The rule event `e` breaks, if any (and what it changes in the state).
    fn judge(&mut self, e: &TraceEvent) -> Option<String> {
        let full = e.socket.as_ref().map(|s| format!("{}.{s}", e.node));
        if let Some(s) = &full {
            let count = |i: usize, n: u64, a: &mut BTreeMap<String, [u64; 3]>| {
                a.entry(s.clone()).or_default()[i] += n;
            };
            match &e.what {
                What::Deliver { .. } => count(0, 1, &mut self.accounts),
                What::Recv { .. } => count(1, 1, &mut self.accounts),
                What::Drop { reason, count: n } if receive_drop(reason) => {
                    count(2, *n, &mut self.accounts);
                }
                _ => {}
            }
        }
        if let Some(why) = full.as_deref().and_then(|s| self.closed_rule(s, &e.what)) {
            return Some(why);
        }
        match (&e.what, full) {
            (What::Connect { peer, .. }, Some(s)) => {
                self.priorities.pipe(&s, peer, true);
                *self
                    .open
                    .entry(s)
                    .or_default()
                    .entry(peer.clone())
                    .or_default() += 1;
                None
            }
            (What::Disconnect { peer, .. }, Some(s)) => {
                self.priorities.pipe(&s, peer, false);
                if let Some(n) = self.open.get_mut(&s).and_then(|m| m.get_mut(peer)) {
                    *n = n.saturating_sub(1);
                }
                None
            }
            (What::SocketClosed, Some(s)) => {
                self.closed.insert(s.clone(), e.at);
                self.ever_closed.insert(s);
                None
            }
            (What::Restart | What::Crash, None) => {
                if matches!(e.what, What::Crash) {
                    self.crashed.insert(e.node.clone());
                }
                let on_host = |k: &String| k.split_once('.').map(|x| x.0) == Some(e.node.as_str());
                self.closed.retain(|k, _| !on_host(k));
                self.open.retain(|k, _| !on_host(k));
                self.priorities.host_reset(&e.node);
                for (k, d) in &self.defs {
                    if k.split_once('.').map(|x| x.0) == Some(e.node.as_str()) {
                        self.state.insert(k.clone(), reset(d));
                    }
                }
                None
            }
            (What::Send { body, ctx }, Some(s)) => {
                self.sent(&s, body, *ctx, e.at);
                None
            }
            (What::Subscribe { topic, on }, Some(s)) => {
                if let Some(st) = self.state.get_mut(&s) {
                    if *on {
                        st.topics.insert(topic.clone());
                    } else {
                        st.topics.remove(topic);
                    }
                }
                None
            }
            (What::Recv { body, ctx, .. }, Some(s)) => self.received(&s, body, *ctx, e.at),
            (What::Hops { from, hops }, Some(_)) => self.within_ttl(from, *hops),
            (What::Deliver { len, .. }, Some(s)) => self.within_max_recv(&s, *len),
            _ => None,
        }
    }

    /// The rule event `what` at socket `s` breaks if `s` is closed: it delivers
    /// nothing, accepts no send and gets no pipe.
    fn closed_rule(&self, s: &str, what: &What) -> Option<String> {
        let at = self.closed.get(s)?;
        let did = match what {
            What::Recv { .. } => "delivered a message",
            What::Send { .. } => "accepted a send",
            What::Connect { .. } => "got a new pipe",
            _ => return None,
        };
        Some(format!(
            "{s} {did} after its application closed it at {}",
            time_text(*at)
        ))
    }

    /// By the end of the run, no socket has a pipe to a socket that is closed: its
    /// peers saw their pipes close.
    fn closed_pipes_gone(&self) -> Result<(), String> {
        for (s, peers) in &self.open {
            for (peer, &n) in peers {
                if let (true, Some(at)) = (n > 0, self.closed.get(peer)) {
                    return Err(format!(
                        "{s} still has {n} pipe(s) to {peer}, closed at {}",
                        time_text(*at)
                    ));
                }
            }
        }
        Ok(())
    }

    fn kind(&self, s: &str) -> &str {
        self.defs.get(s).map_or("", |d| d.kind.as_str())
    }

    fn sent(&mut self, s: &str, body: &Bytes, ctx: u32, at: Instant) {
        let kind = self.kind(s).to_owned();
        if let Some(st) = self.state.get_mut(s) {
            match kind.as_str() {
                "req" => drop(st.request.insert(ctx, (body.clone(), false))),
                "surveyor" => drop(st.survey.insert(ctx, (body.clone(), at))),
                "push" => self.priorities.sent(s, body),
                _ => {}
            }
        }
    }

    /// The first rule a delivery of `body` at socket `s` on context `ctx` breaks, if any.
    /// REQ and SURVEYOR are judged per context: a reply or response belongs to the
    /// request or survey in progress on the context that delivered it.
    fn received(&mut self, s: &str, body: &Bytes, ctx: u32, at: Instant) -> Option<String> {
        let kind = self.kind(s).to_owned();
        let deadline = self
            .defs
            .get(s)
            .and_then(|d| d.options.to_options().ok())
            .map_or(Duration::ZERO, |o| o.survey_deadline());
        let st = self.state.get_mut(s)?;
        let on = if ctx == 0 {
            String::new()
        } else {
            format!(" on context {ctx}")
        };
        match kind.as_str() {
            "req" => match st.request.get_mut(&ctx) {
                Some((req, answered)) if req[..] == *request_of(body) => {
                    if *answered {
                        Some(format!("REQ delivered a second reply to one request{on}"))
                    } else {
                        *answered = true;
                        None
                    }
                }
                Some((req, _)) => Some(format!(
                    "REQ delivered a reply to another request than the one in progress{on} ({})",
                    body_text(req)
                )),
                None => Some(format!(
                    "REQ delivered a reply with no request in progress{on}"
                )),
            },
            "surveyor" => match st.survey.get(&ctx) {
                Some((sv, started)) if sv[..] == *request_of(body) => (at > *started + deadline)
                    .then(|| {
                        format!(
                            "SURVEYOR delivered a response after the deadline{on} ({} after {})",
                            time_text(Instant::ZERO + deadline),
                            time_text(*started)
                        )
                    }),
                _ => Some(format!(
                    "SURVEYOR delivered a response to an older survey{on}"
                )),
            },
            "sub" => (!st.topics.iter().any(|t| body.starts_with(t)))
                .then(|| "SUB delivered a message no subscription matches".into()),
            "bus" => (sender_of(body) == Some(s.as_bytes()))
                .then(|| "BUS echoed a socket's own message back to it".into()),
            "pull" | "pair" | "pair1" => {
                let n = self.delivered.entry(body.clone()).or_default();
                *n += 1;
                if *n > 1 && !self.duplication {
                    return Some("delivered twice".into());
                }
                let from = std::str::from_utf8(sender_of(body)?).ok()?;
                self.priorities.received(s, from, body)
            }
            _ => None,
        }
    }

    /// No loop past the TTL: a socket that accepted a message with at most its TTL in
    /// backtrace words passes it on with one more, so a frame from a socket of host `H`
    /// carries at most the largest TTL of `H`'s sockets plus one (a device's two sockets
    /// share a host; the next socket drops what is over its own TTL).
    fn within_ttl(&self, from: &str, hops: usize) -> Option<String> {
        let host = from.split_once('.').map_or(from, |x| x.0);
        let ttl = self
            .defs
            .iter()
            .filter(|(k, _)| k.split_once('.').map(|x| x.0) == Some(host))
            .map(|(_, d)| {
                d.options
                    .ttl
                    .unwrap_or(u32::from(sp_proto::wire::backtrace::DEFAULT_MAX_TTL))
            })
            .max()?;
        (hops as u64 > u64::from(ttl) + 1).then(|| {
            format!(
                "loop past TTL: {from} sent a message that had made {} hops (TTL {ttl})",
                hops - 1
            )
        })
    }

    /// No message over a socket's maximum receive size reaches its protocol (the
    /// connection carrying it closes, counted as `oversize`).
    fn within_max_recv(&self, s: &str, len: usize) -> Option<String> {
        let max = self.defs.get(s)?.options.max_recv();
        (!max.allows(len as u64)).then(|| {
            format!("{s} took a {len}-byte message over its maximum receive size ({max:?})")
        })
    }

    /// The sockets socket `s` connects with: those listening where it dials, and those
    /// dialing where it listens.
    fn peers(&self, s: &str) -> Vec<String> {
        let Some(d) = self.defs.get(s) else {
            return vec![];
        };
        self.defs
            .iter()
            .filter(|(k, o)| {
                *k != s
                    && (d
                        .dial
                        .iter()
                        .any(|e| o.listen.iter().any(|l| l.addr == e.addr))
                        || o.dial
                            .iter()
                            .any(|e| d.listen.iter().any(|l| l.addr == e.addr)))
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Every message handed to a receive-only socket (PULL, SUB) or a REQ or SURVEYOR
    /// was delivered or counted dropped with a receive-side reason, when its host never
    /// crashed and its application receives at once (layer 1, which traces frames).
    fn drops_counted(&self) -> Result<(), String> {
        if self.accounts.values().all(|a| a[0] == 0) {
            return Ok(()); // no frames traced (layer 2)
        }
        for (s, [frames, recvs, drops]) in &self.accounts {
            let Some(d) = self.defs.get(s) else { continue };
            let host = s.split_once('.').map_or("", |x| x.0);
            // A raw socket's messages go to its device (or its application) unrecorded.
            let judged = matches!(d.kind.as_str(), "pull" | "sub" | "req" | "surveyor")
                && !d.raw
                && d.recv == RecvMode::Auto
                && !self.crashed.contains(host)
                && !self.ever_closed.contains(s);
            if judged && *frames != recvs + drops {
                return Err(format!(
                    "{s}: {frames} messages handed to the protocol, {recvs} delivered, \
                     {drops} counted dropped: {} unaccounted for",
                    frames.abs_diff(recvs + drops)
                ));
            }
        }
        Ok(())
    }

    /// Every message a PUSH or PAIR sender whose peers stayed connected sent arrived.
    fn nothing_lost(&self, trace: &[TraceEvent]) -> Result<(), String> {
        if self.lossy {
            return Ok(());
        }
        for (s, d) in &self.defs {
            if !matches!(d.kind.as_str(), "push" | "pair" | "pair1") {
                continue;
            }
            let mut group = self.peers(s);
            if group.is_empty() {
                continue;
            }
            group.push(s.clone());
            let hosts: Vec<&str> = group
                .iter()
                .filter_map(|g| g.split_once('.'))
                .map(|x| x.0)
                .collect();
            let broken = trace.iter().any(|e| match &e.what {
                What::Disconnect { .. } | What::Crash | What::SocketClosed => {
                    hosts.contains(&e.node.as_str())
                }
                What::Partition { a, b, .. } => hosts
                    .iter()
                    .any(|h| host_matches(a, h) || host_matches(b, h)),
                What::ListenerDown { .. } => hosts.contains(&e.node.as_str()),
                _ => false,
            });
            if broken {
                continue;
            }
            for e in trace {
                let What::Send { body, .. } = &e.what else {
                    continue;
                };
                if e.socket
                    .as_ref()
                    .map(|x| format!("{}.{x}", e.node))
                    .as_deref()
                    != Some(s)
                {
                    continue;
                }
                if !self.delivered.contains_key(body) {
                    return Err(format!(
                        "at {}: `{e}`: lost between peers that stayed connected \
                         ({s} and {})",
                        time_text(e.at),
                        group[..group.len() - 1].join(", ")
                    ));
                }
            }
        }
        Ok(())
    }
}
