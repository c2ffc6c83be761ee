//! A node's state machine: the real `sp-proto` protocol value, optionally behind a
//! deliberately broken wrapper ([`Bug`]) for the tests that show each property can fail.

use bytes::Bytes;

use crate::coverage::Recorder;
use sp_proto::context::{ContextId, Contexts};
use sp_proto::{
    AnyProtocol, Event, Instant, Message, PipeId, PipeInfo, PipeRefused, Priority, Protocol,
    RecvError, SendError, Transmit,
};

/// A bug planted into one node. Each one breaks exactly one rule, so that the property
/// checking that rule must find a counterexample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bug {
    /// REQ: every incoming reply's request id is rewritten to the current request's, so a
    /// late reply to an earlier request is taken as the answer.
    ReqTakesAnyReply,
    /// REP or RESPONDENT: a reply leaves by another attached pipe than the request came from.
    ReplyOnWrongPipe,
    /// SURVEYOR: the protocol is always told it is time zero, so its deadline never
    /// passes.
    SurveyorClockFrozen,
    /// SURVEYOR: every response's survey id is rewritten to the current survey's.
    SurveyorTakesAnyResponse,
    /// PUSH: every pipe is attached with the highest priority, whatever it was given.
    PushIgnoresPriority,
    /// SUB: subscribes to everything on top of its own subscriptions.
    SubTakesEverything,
    /// Raw BUS: the header naming the origin pipe is dropped on send, so a reflected
    /// message also goes back where it came from.
    BusEchoes,
    /// PAIR: a second pipe, which the protocol refuses, is reported as attached.
    PairTakesSecondPeer,
    /// REQ: resend timers are swallowed (and none is ever reported), so a lost request is
    /// never sent again.
    ReqNeverResends,
    /// SURVEYOR: deadline timers are swallowed (and none is ever reported), so a survey
    /// never ends.
    SurveyorNeverExpires,
    /// Any node: every incoming message is handed to the protocol twice.
    TakesEverythingTwice,
    /// PUSH: `handle_writable` is swallowed, so a pipe that took one message never takes
    /// another.
    PushIgnoresWritable,
    /// Any node: its hop limit is raised to 255 whatever it was configured with.
    IgnoresTtl,
    /// Any node: every second incoming message vanishes before the protocol sees it,
    /// counted nowhere.
    SilentDrop,
    /// A dialer (the `a` end of its links) never schedules a reconnect after a link
    /// breaks.
    BackoffNeverFires,
    /// Any node: its receive queue limit is raised to 64 whatever it was configured with.
    IgnoresQueueLimit,
    /// SUB: unsubscribing is swallowed, so the topic stays in force.
    SubIgnoresUnsubscribe,
    /// REQ or SURVEYOR with contexts: a reply (response) to one context's request
    /// (survey) is rewritten to carry the id of another context's, so it is delivered
    /// there.
    CrossesContexts,
    /// Polyamorous PAIR v1: a message addressed to a pipe that is gone is sent to another
    /// attached pipe instead of being dropped.
    PolyRedirectsGone,
    /// Any node: a close keeps what the user had not read, so a receive after the close
    /// still hands it over.
    KeepsQueueOnClose,
    /// SUB: back-pressure is switched off whatever it was configured with, so a full
    /// queue drops (the oldest) instead of pausing its pipe.
    SubDropsWhenFull,
}

/// One node's protocol, as the model drives it. The checker keeps states by their hash:
/// the protocol values derive `Hash` and `Eq` over every field.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Machine {
    proto: AnyProtocol,
    bug: Option<Bug>,
    /// Attached pipes, for [`Bug::ReplyOnWrongPipe`].
    pipes: Vec<PipeId>,
    /// Incoming messages seen, for [`Bug::SilentDrop`].
    seen: u8,
    /// Where inputs are recorded for table coverage (not part of the state).
    recorder: Recorder,
    /// The contexts the user opened, in order; empty when it uses only the default one.
    contexts: Vec<ContextId>,
}

impl Machine {
    /// Wraps `proto`, with `bug` planted if given.
    pub fn new(mut proto: AnyProtocol, bug: Option<Bug>) -> Self {
        if bug == Some(Bug::IgnoresTtl) {
            let mut options = proto.options().clone();
            options.set_max_ttl(255).expect("255 is a valid TTL");
            proto.set_options(options);
        }
        if bug == Some(Bug::IgnoresQueueLimit) {
            let mut options = proto.options().clone();
            options
                .set_recv_queue(64)
                .expect("64 is a valid queue length");
            proto.set_options(options);
        }
        if bug == Some(Bug::SubDropsWhenFull) {
            let mut options = proto.options().clone();
            options.sub_back_pressure = false;
            proto.set_options(options);
        }
        if bug == Some(Bug::SubTakesEverything) {
            if let AnyProtocol::Sub(s) = &mut proto {
                s.subscribe(b"");
            }
        }
        Self {
            proto,
            bug,
            pipes: Vec::new(),
            seen: 0,
            recorder: Recorder::default(),
            contexts: Vec::new(),
        }
    }

    /// The same, with `n` contexts opened for its user (REQ, REP, SURVEYOR, RESPONDENT).
    ///
    /// # Panics
    /// If the protocol has no contexts (a configuration error).
    pub fn with_contexts(mut self, n: u8) -> Self {
        for _ in 0..n {
            let ctx = self.proto.open_context().expect("a protocol with contexts");
            self.contexts.push(ctx);
        }
        self
    }

    /// The user's context number `i`: the `i`th opened one, or the default context when
    /// none was opened.
    fn context(&self, i: u8) -> ContextId {
        self.contexts
            .get(usize::from(i))
            .copied()
            .unwrap_or(ContextId::DEFAULT)
    }

    /// Every context the user works with.
    pub fn context_ids(&self) -> Vec<ContextId> {
        if self.contexts.is_empty() {
            vec![ContextId::DEFAULT]
        } else {
            self.contexts.clone()
        }
    }

    /// The planted bug, if any.
    pub fn bug(&self) -> Option<Bug> {
        self.bug
    }

    /// The protocol value.
    pub fn proto(&self) -> &AnyProtocol {
        &self.proto
    }

    /// The protocol value, mutable (for set-up such as subscriptions).
    pub fn proto_mut(&mut self) -> &mut AnyProtocol {
        &mut self.proto
    }

    /// The same, recording its inputs' transitions into `recorder`.
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        self.recorder = recorder;
        self
    }

    /// Feeds the protocol one input (named as the tables name it) at `now`, as the
    /// planted bug lets it see the time, and records the transition.
    fn input<R>(
        &mut self,
        now: Instant,
        name: &'static str,
        f: impl FnOnce(&mut AnyProtocol, Instant) -> R,
    ) -> R {
        let now = self.clock(now);
        let Self {
            proto,
            recorder,
            contexts,
            ..
        } = self;
        // The tables describe one context; a node whose user opened others is not
        // recorded (its default context's class says nothing about them).
        if contexts.is_empty() {
            recorder.observe(proto, now, name, |p| f(p, now))
        } else {
            f(proto, now)
        }
    }

    /// The time the protocol is told: `now`, or time zero under
    /// [`Bug::SurveyorClockFrozen`].
    fn clock(&self, now: Instant) -> Instant {
        if self.bug == Some(Bug::SurveyorClockFrozen) {
            Instant::ZERO
        } else {
            now
        }
    }

    /// SUB: subscribes to `topic` (`on`) or unsubscribes from it; `false` if this is not
    /// a SUB or the topic was not subscribed.
    pub fn set_topic(&mut self, topic: &[u8], on: bool) -> bool {
        let ignores = self.bug == Some(Bug::SubIgnoresUnsubscribe);
        let AnyProtocol::Sub(s) = &mut self.proto else {
            return false;
        };
        match on {
            true => {
                s.subscribe(topic);
                true
            }
            false if ignores => true,
            false => s.unsubscribe(topic).is_ok(),
        }
    }

    /// See [`Protocol::handle_pipe_added`].
    pub fn add_pipe(
        &mut self,
        now: Instant,
        pipe: PipeId,
        mut info: PipeInfo,
    ) -> Result<(), PipeRefused> {
        if self.bug == Some(Bug::PushIgnoresPriority) {
            info.send_priority = Priority::HIGHEST;
        }
        let r = self.input(now, "pipe_added", |p, now| {
            p.handle_pipe_added(now, pipe, info)
        });
        if r.is_ok() || self.bug == Some(Bug::PairTakesSecondPeer) {
            self.pipes.push(pipe);
            return Ok(());
        }
        r
    }

    /// See [`Protocol::handle_pipe_removed`].
    pub fn remove_pipe(&mut self, now: Instant, pipe: PipeId) {
        self.pipes.retain(|&p| p != pipe);
        self.input(now, "pipe_removed", |p, now| {
            p.handle_pipe_removed(now, pipe)
        });
    }

    /// See [`Protocol::handle_message`].
    pub fn handle_message(&mut self, now: Instant, pipe: PipeId, payload: Bytes) {
        let payload = match (self.bug, &self.proto) {
            (Some(Bug::ReqTakesAnyReply), AnyProtocol::Req(r)) => {
                rewrite_id(payload, r.request_id(ContextId::DEFAULT))
            }
            (Some(Bug::SurveyorTakesAnyResponse), AnyProtocol::Surveyor(s)) => {
                rewrite_id(payload, s.current_survey(ContextId::DEFAULT))
            }
            (Some(Bug::CrossesContexts), p) => {
                let open: Vec<u32> = self
                    .contexts
                    .iter()
                    .filter_map(|&c| match p {
                        AnyProtocol::Req(r) => r.request_id(c),
                        AnyProtocol::Surveyor(s) => s.current_survey(c),
                        _ => None,
                    })
                    .collect();
                let id = payload
                    .get(..4)
                    .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
                match id {
                    Some(id) if open.contains(&id) => {
                        rewrite_id(payload, open.iter().copied().find(|&o| o != id))
                    }
                    _ => payload,
                }
            }
            _ => payload,
        };
        self.seen = self.seen.wrapping_add(1);
        if self.bug == Some(Bug::SilentDrop) && self.seen % 2 == 0 {
            return;
        }
        if self.bug == Some(Bug::TakesEverythingTwice) {
            self.proto
                .handle_message(self.clock(now), pipe, payload.clone());
        }
        self.input(now, "message", |p, now| {
            p.handle_message(now, pipe, payload)
        });
    }

    /// See [`Protocol::handle_writable`].
    pub fn handle_writable(&mut self, now: Instant, pipe: PipeId) {
        if self.bug != Some(Bug::PushIgnoresWritable) {
            self.input(now, "writable", |p, now| p.handle_writable(now, pipe));
        }
    }

    /// See [`Protocol::handle_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.bug {
            Some(Bug::ReqNeverResends | Bug::SurveyorNeverExpires) => {}
            _ => self.input(now, "timeout", |p, now| p.handle_timeout(now)),
        }
    }

    /// See [`Protocol::send`].
    pub fn send(&mut self, now: Instant, msg: Message) -> Result<(), SendError> {
        self.send_on(now, 0, msg)
    }

    /// Sends on the user's context number `ctx` (see [`Machine::with_contexts`]).
    pub fn send_on(&mut self, now: Instant, ctx: u8, mut msg: Message) -> Result<(), SendError> {
        if self.bug == Some(Bug::BusEchoes) {
            msg.header = Bytes::new();
        }
        if self.bug == Some(Bug::PolyRedirectsGone) {
            if let Some(gone) = msg.pipe.filter(|p| !self.pipes.contains(p)) {
                msg.pipe = self.pipes.iter().copied().find(|&p| p != gone);
            }
        }
        let ctx = self.context(ctx);
        self.input(now, "send", |p, now| {
            if ctx == ContextId::DEFAULT {
                p.send(now, msg)
            } else {
                p.send_in(ctx, now, msg)
            }
        })
    }

    /// How many messages a user could receive now, found on a copy (the state is not
    /// changed).
    pub fn queued(&self, now: Instant) -> usize {
        let mut probe = self.proto.clone();
        (0..=u8::MAX)
            .take_while(|_| probe.recv(now).is_ok())
            .count()
    }

    /// See [`Protocol::recv`].
    pub fn recv(&mut self, now: Instant) -> Result<Message, RecvError> {
        self.recv_on(now, 0)
    }

    /// Receives on the user's context number `ctx` (see [`Machine::with_contexts`]).
    pub fn recv_on(&mut self, now: Instant, ctx: u8) -> Result<Message, RecvError> {
        let ctx = self.context(ctx);
        self.input(now, "recv", |p, now| {
            if ctx == ContextId::DEFAULT {
                p.recv(now)
            } else {
                p.recv_in(ctx, now)
            }
        })
    }

    /// See [`Protocol::close`]. Not recorded for table coverage: the tables have no
    /// close input (see docs/model-checking.md, "Limits").
    pub fn close(&mut self, now: Instant) {
        if self.bug != Some(Bug::KeepsQueueOnClose) {
            self.proto.close(self.clock(now));
        }
    }

    /// See [`Protocol::poll_transmit`].
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let mut t = self.proto.poll_transmit()?;
        if self.bug == Some(Bug::ReplyOnWrongPipe) {
            if let Some(&other) = self.pipes.iter().find(|&&p| p != t.pipe) {
                t.pipe = other;
            }
        }
        Some(t)
    }

    /// See [`Protocol::poll_event`].
    pub fn poll_event(&mut self) -> Option<Event> {
        self.proto.poll_event()
    }

    /// See [`Protocol::poll_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.bug {
            Some(Bug::ReqNeverResends | Bug::SurveyorNeverExpires) => None,
            _ => self.proto.poll_timeout(),
        }
    }
}

/// Replaces the first header word (a request or survey id) of `payload` with `id`.
fn rewrite_id(payload: Bytes, id: Option<u32>) -> Bytes {
    match id {
        Some(id) if payload.len() >= 4 => {
            let mut v = payload.to_vec();
            v[..4].copy_from_slice(&id.to_be_bytes());
            Bytes::from(v)
        }
        _ => payload,
    }
}
