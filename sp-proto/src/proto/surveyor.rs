//! SURVEYOR (0x62): sends one survey to every connected RESPONDENT and collects the
//! responses that arrive before the survey deadline (wire-facts §7, §14).
//!
//! # Cooked mode
//!
//! * Survey ids start at a random value drawn from [`Config::seed`], are incremented per
//!   survey and carry bit 31 (`| 0x8000_0000`); the header on the wire is that one word.
//! * [`send`](Protocol::send) starts a new survey. It cancels the survey in progress on
//!   the same context: responses already queued for it are dropped as
//!   [`DropReason::Cancelled`], responses to its id that arrive later as
//!   [`DropReason::StaleId`]. The same body buffer goes to every writable pipe (O(1)
//!   clones, no copy); a pipe that is not writable misses the survey
//!   ([`DropReason::PipeBusy`], once per pipe skipped), like nanomsg's `nn_dist`. With no
//!   pipe at all the survey still starts.
//! * The deadline is `now + Options::survey_deadline()` (1 s by default, as in every
//!   implementation; the draft RFC's 60 s is not used, wire-facts C2). When it passes,
//!   [`Event::SurveyExpired`] is emitted; responses still queued are discarded and
//!   counted as [`DropReason::SurveyExpired`] (nanomsg discards them too), and responses
//!   to that survey arriving later are counted the same way.
//! * [`recv`](Protocol::recv) follows nanomsg (wire-facts E11): before any survey
//!   [`RecvError::WrongState`]; during a survey a queued response or
//!   [`RecvError::WouldBlock`]; the first recv after the deadline
//!   [`RecvError::TimedOut`], later ones `WrongState` until the next survey.
//! * A response whose payload is shorter than 4 bytes or whose first word lacks bit 31 is
//!   dropped as [`DropReason::MalformedHeader`] and the pipe is kept (nanomsg; NNG closes
//!   the pipe). Exactly 4 header bytes are stripped.
//! * Responses are fair-queued by receive priority, up to `Options::recv_queue()` per pipe
//!   and context; beyond that the newest response is dropped ([`DropReason::QueueFull`]):
//!   responses are best-effort and the respondent must not be back-pressured by a survey
//!   that will soon end.
//! * Contexts ([`Contexts::open_context`]) run independent surveys side by side, each with
//!   its own id, deadline and response queue; responses are routed by survey id. The
//!   trait's `send`/`recv` use [`ContextId::DEFAULT`].
//!
//! # Raw mode
//!
//! `send` takes a complete backtrace in the header (a multiple of 4 bytes, every word but
//! the last with bit 31 clear, the last with bit 31 set) and sends it verbatim to every
//! writable pipe; anything else is [`SendErrorKind::BadHeader`]. `recv` returns the
//! response's stack down to its bit-31 word as the header (NNG's layout), with no survey
//! state, deadline or id check. Raw sockets have no contexts.
//!
//! Nobody resends surveys and nobody checks the depth of outgoing surveys, whatever the
//! draft RFC says (wire-facts C3, C4); neither do we.

use alloc::collections::BTreeMap;

use bytes::Bytes;

use super::common::{has_core, Core};
use crate::inbound::{Inbound, OnFull};
use crate::message::Message;
use crate::options::Options;
use crate::pipes::{FanOut, PipeId, PipeInfo};
use crate::protocol::{Config, Event, PipeRefused, Protocol, RecvError, SendError, SendErrorKind};
use crate::rng::Rng;
use crate::socket_type::SocketType;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::backtrace::{first_word, id_header, is_whole_backtrace, Backtrace, ID_FLAG};

pub use crate::context::ContextId;
use crate::context::{ContextError, ContextTable, Contexts};

/// Where one context stands in its survey.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SurveyState {
    /// No survey yet, or its expiry was already reported.
    Idle,
    /// A survey is collecting responses until `deadline`.
    Active { id: u32, deadline: Instant },
    /// The deadline passed; the next recv reports [`RecvError::TimedOut`].
    TimedOut,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Context {
    state: SurveyState,
    /// The id of this context's last survey when it ended by reaching its deadline: late
    /// responses to it are counted as [`DropReason::SurveyExpired`] rather than stale.
    expired_id: Option<u32>,
    responses: Inbound,
}

/// The SURVEYOR state machine (cooked or raw, see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Surveyor {
    /// The last survey id handed out, before bit 31 is set.
    last_id: u32,
    pipes: FanOut,
    contexts: ContextTable<Context>,
    /// Survey id -> the context whose survey is in progress with that id.
    in_progress: BTreeMap<u32, ContextId>,
    core: Core,
}

impl Surveyor {
    /// A new SURVEYOR socket.
    pub fn new(config: Config) -> Self {
        let mut rng = Rng::new(config.seed);
        let pipes = FanOut::default();
        let default = new_context(&pipes, &config.options);
        Self {
            last_id: rng.next_u32(),
            pipes,
            contexts: ContextTable::new(default),
            in_progress: BTreeMap::new(),
            core: Core::new(config),
        }
    }

    /// The id (bit 31 set) of the survey in progress on `ctx`, if one is collecting
    /// responses.
    pub fn current_survey(&self, ctx: ContextId) -> Option<u32> {
        match self.contexts.get(ctx)?.state {
            SurveyState::Active { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The deadline of the survey in progress on `ctx`, if any.
    pub fn deadline(&self, ctx: ContextId) -> Option<Instant> {
        match self.contexts.get(ctx)?.state {
            SurveyState::Active { deadline, .. } => Some(deadline),
            _ => None,
        }
    }

    /// The next survey id, skipping ids still in progress on another context.
    fn next_survey_id(&mut self) -> u32 {
        loop {
            self.last_id = self.last_id.wrapping_add(1);
            let id = self.last_id | ID_FLAG;
            if !self.in_progress.contains_key(&id) {
                return id;
            }
        }
    }

    /// Ends the survey of `ctx` because a new one replaces it.
    fn cancel_survey(&mut self, ctx: ContextId) {
        let Some(c) = self.contexts.get_mut(ctx) else {
            return;
        };
        if let SurveyState::Active { id, .. } = c.state {
            self.in_progress.remove(&id);
        }
        c.state = SurveyState::Idle;
        c.expired_id = None;
        c.responses.clear(
            DropReason::Cancelled,
            &mut self.core.stats,
            &mut self.core.events,
        );
    }

    /// Expires every survey whose deadline is at or before `now`.
    fn expire_due(&mut self, now: Instant) {
        for c in self.contexts.values_mut() {
            let SurveyState::Active { id, deadline } = c.state else {
                continue;
            };
            if now < deadline {
                continue;
            }
            self.in_progress.remove(&id);
            c.state = SurveyState::TimedOut;
            c.expired_id = Some(id);
            c.responses.clear(
                DropReason::SurveyExpired,
                &mut self.core.stats,
                &mut self.core.events,
            );
            self.core.events.push_back(Event::SurveyExpired);
        }
    }

    fn send_raw(&mut self, msg: Message) -> Result<(), SendError> {
        if !is_whole_backtrace(&msg.header) {
            return Err(SendError::new(SendErrorKind::BadHeader, msg));
        }
        let survey = Message::with_header(msg.header, msg.body);
        self.pipes.send(&survey, None, &mut self.core);
        Ok(())
    }

    fn handle_response(&mut self, now: Instant, pipe: PipeId, payload: Bytes) {
        self.expire_due(now);
        let Some(id) = first_word(&payload).filter(|w| w & ID_FLAG != 0) else {
            self.core.dropped(DropReason::MalformedHeader);
            return;
        };
        let Some(ctx) = self.in_progress.get(&id).copied() else {
            let expired = self.contexts.values().any(|c| c.expired_id == Some(id));
            self.core.dropped(if expired {
                DropReason::SurveyExpired
            } else {
                DropReason::StaleId
            });
            return;
        };
        let Some(c) = self.contexts.get_mut(ctx) else {
            self.core.dropped(DropReason::StaleId);
            return;
        };
        let mut msg = Message::new(payload.slice(4..));
        msg.pipe = Some(pipe);
        self.core.receive(&mut c.responses, pipe, msg);
    }

    fn handle_raw_response(&mut self, pipe: PipeId, payload: Bytes) {
        let bt = match Backtrace::parse(&payload, self.core.options.max_ttl()) {
            Ok(bt) => bt,
            Err(e) => return self.core.dropped(e.drop_reason()),
        };
        let Some(c) = self.contexts.get_mut(ContextId::DEFAULT) else {
            return;
        };
        let mut msg = Message::with_header(bt.header, bt.body);
        msg.pipe = Some(pipe);
        self.core.receive(&mut c.responses, pipe, msg);
    }
}

impl Contexts for Surveyor {
    /// Opens a new context; a raw socket has none.
    fn open_context(&mut self) -> Result<ContextId, ContextError> {
        if self.core.raw {
            return Err(ContextError::Raw);
        }
        let ctx = new_context(&self.pipes, &self.core.options);
        Ok(self.contexts.open(ctx))
    }

    /// Closes a context: its survey ends (later responses count as stale) and responses
    /// still queued are dropped as [`DropReason::Cancelled`].
    fn close_context(&mut self, ctx: ContextId) -> bool {
        let Some(mut closed) = self.contexts.close(ctx) else {
            return false;
        };
        if let SurveyState::Active { id, .. } = closed.state {
            self.in_progress.remove(&id);
        }
        closed.responses.clear(
            DropReason::Cancelled,
            &mut self.core.stats,
            &mut self.core.events,
        );
        true
    }

    /// Starts a survey on `ctx` (see [`Protocol::send`] and the module docs).
    fn send_in(&mut self, ctx: ContextId, now: Instant, msg: Message) -> Result<(), SendError> {
        if !self.contexts.contains(ctx) {
            return Err(SendError::new(SendErrorKind::NoSuchContext, msg));
        }
        if self.core.raw {
            return self.send_raw(msg);
        }
        let msg = self.core.refuse_without_peers(self.pipes.len(), msg)?;
        self.expire_due(now);
        self.cancel_survey(ctx);
        let id = self.next_survey_id();
        let deadline = now + self.core.options.survey_deadline();
        self.in_progress.insert(id, ctx);
        if let Some(c) = self.contexts.get_mut(ctx) {
            c.state = SurveyState::Active { id, deadline };
        }
        let survey = Message::with_header(id_header(id), msg.body);
        self.pipes.send(&survey, None, &mut self.core);
        Ok(())
    }

    /// Receives a response for the survey on `ctx` (see [`Protocol::recv`] and the module
    /// docs for the error sequence).
    fn recv_in(&mut self, ctx: ContextId, now: Instant) -> Result<Message, RecvError> {
        if !self.core.raw {
            self.expire_due(now);
        }
        let raw = self.core.raw;
        let c = self.contexts.get_mut(ctx).ok_or(RecvError::NoSuchContext)?;
        if !raw {
            match c.state {
                SurveyState::Idle => return Err(RecvError::WrongState),
                SurveyState::TimedOut => {
                    c.state = SurveyState::Idle;
                    return Err(RecvError::TimedOut);
                }
                SurveyState::Active { .. } => {}
            }
        }
        self.core.deliver(&mut c.responses).map(|(_, msg)| msg)
    }
}

/// A new context in no survey, with a response queue for every attached pipe.
fn new_context(pipes: &FanOut, options: &Options) -> Context {
    let mut responses = Inbound::new(options.recv_queue(), OnFull::DropNewest);
    for (pipe, info) in pipes.iter() {
        responses.add_pipe(pipe, info.recv_priority);
    }
    Context {
        state: SurveyState::Idle,
        expired_id: None,
        responses,
    }
}

has_core!(Surveyor { contexts });

impl Protocol for Surveyor {
    fn socket_type(&self) -> SocketType {
        SocketType::Surveyor
    }

    fn handle_pipe_added(
        &mut self,
        _now: Instant,
        pipe: PipeId,
        info: PipeInfo,
    ) -> Result<(), PipeRefused> {
        self.pipes.add(pipe, info)?;
        for c in self.contexts.values_mut() {
            c.responses.add_pipe(pipe, info.recv_priority);
        }
        Ok(())
    }

    fn handle_pipe_removed(&mut self, _now: Instant, pipe: PipeId) {
        if !self.pipes.remove(pipe) {
            return;
        }
        for c in self.contexts.values_mut() {
            c.responses.remove_pipe(pipe);
        }
    }

    fn handle_message(&mut self, now: Instant, pipe: PipeId, payload: Bytes) {
        self.core.arrived(payload.len());
        if self.core.raw {
            self.handle_raw_response(pipe, payload);
        } else {
            self.handle_response(now, pipe, payload);
        }
    }

    fn handle_writable(&mut self, _now: Instant, pipe: PipeId) {
        self.pipes.set_writable(pipe);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if !self.core.raw {
            self.expire_due(now);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.contexts
            .values()
            .filter_map(|c| match c.state {
                SurveyState::Active { deadline, .. } => Some(deadline),
                _ => None,
            })
            .min()
    }

    fn set_options(&mut self, options: Options) {
        for c in self.contexts.values_mut() {
            c.responses.set_capacity(options.recv_queue());
        }
        self.core.options = options;
    }

    /// SURVEYOR's surveys expire on a timer.
    fn uses_clock(&self) -> bool {
        true
    }
}
