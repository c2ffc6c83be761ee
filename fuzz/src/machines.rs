//! State-machine targets: one per protocol family, each a socket of one of the family's
//! types (cooked or raw, options from the input) driven through an arbitrary sequence of
//! [`Op`]s by a driver that keeps the sans-IO contract (it honours `PausePipe` and only
//! calls `handle_writable` for a pipe that used up its writability), checking:
//!
//! - nothing panics, and every drain of outputs terminates;
//! - a transmit only goes to an attached pipe that is writable (flow control);
//! - cooked REQ and SURVEYOR headers are one 32-bit id with bit 31 set; cooked REP and
//!   RESPONDENT headers are backtraces (pipe words, then the id word with bit 31 set,
//!   within the TTL); PAIR v1 hop words stay below 256; other cooked headers are empty;
//! - after `handle_timeout(now)` the next deadline is in the future (no busy timer);
//! - the counters agree with the driver: `msgs_in` is what it fed, `msgs_out` what it
//!   took, and the messages held (`msgs_in - delivered - drops`) stay within the receive
//!   queues; once every pipe is gone and everything receivable is received, none is held.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use sp_proto::{
    AnyProtocol, Config, ContextId, Contexts, DropReason, Event, Instant, Message, PipeId,
    PipeInfo, Priority, ProtoStats, Protocol, SocketType,
};

/// One input to the state machine.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    /// A connection finished its handshake.
    AddPipe {
        /// Send priority (mod 16, plus 1).
        send_prio: u8,
        /// Receive priority.
        recv_prio: u8,
    },
    /// A connection is gone (index into the attached pipes).
    RemovePipe(u8),
    /// Arbitrary payload bytes from a pipe.
    Message {
        /// Index into the attached pipes.
        pipe: u8,
        /// The payload (SP header and body).
        payload: Vec<u8>,
    },
    /// A well-formed payload from a pipe: `hops` pipe words and an id word (backtrace
    /// protocols), a hop word (PAIR v1), or just the body.
    WellFormed {
        /// Index into the attached pipes.
        pipe: u8,
        /// Backtrace words before the id (mod 10) or the PAIR v1 hop count.
        hops: u8,
        /// Request or survey id (bit 31 forced).
        id: u32,
        /// The body.
        body: Vec<u8>,
    },
    /// A reply echoing the last header transmitted on a pipe.
    Echo {
        /// Index into the attached pipes.
        pipe: u8,
        /// The body.
        body: Vec<u8>,
    },
    /// A pipe can take another message.
    Writable(u8),
    /// Time passes (milliseconds); due timers fire.
    Advance(u16),
    /// The user sends (the header only matters in raw mode).
    Send {
        /// Raw header.
        header: Vec<u8>,
        /// Body.
        body: Vec<u8>,
        /// PAIR v1 polyamorous destination (index into the attached pipes).
        to: Option<u8>,
    },
    /// Raw REP/RESPONDENT reply routed to a pipe: header `[pipe id][id | bit 31]`.
    RawReply {
        /// Index into the attached pipes.
        pipe: u8,
        /// The id.
        id: u32,
    },
    /// The user receives once.
    Recv,
    /// SUB subscribes.
    Subscribe(Vec<u8>),
    /// SUB unsubscribes.
    Unsubscribe(Vec<u8>),
    /// Opens a context.
    OpenContext,
    /// Closes a context (index into the open ones).
    CloseContext(u8),
    /// Sends in a context.
    SendIn {
        /// Index into the open contexts.
        ctx: u8,
        /// Body.
        body: Vec<u8>,
    },
    /// Receives in a context.
    RecvIn(u8),
}

/// A whole run: the socket and its options, then the operations.
#[derive(Arbitrary, Debug)]
pub struct Scenario {
    /// Which type of the family.
    pub role: bool,
    /// Raw mode.
    pub raw: bool,
    /// Protocol seed.
    pub seed: u64,
    /// Receive queue length (mod 8, plus 1: small queues reach the full paths).
    pub recv_queue: u8,
    /// TTL (mod 12, plus 1).
    pub ttl: u8,
    /// REQ resend interval in ms (0: off).
    pub resend_ms: u16,
    /// Survey deadline in ms (plus 1).
    pub deadline_ms: u16,
    /// REQ fail-fast with no peers.
    pub fail_no_peers: bool,
    /// PAIR v1 polyamorous.
    pub polyamorous: bool,
    /// SUB drops the oldest when full.
    pub sub_prefer_new: bool,
    /// The operations.
    pub ops: Vec<Op>,
}

const MAX_PIPES: usize = 16;
const MAX_CONTEXTS: usize = 16;
const MAX_DRAIN: usize = 100_000;

struct Driver {
    proto: AnyProtocol,
    ty: SocketType,
    raw: bool,
    ttl: u8,
    recv_queue: usize,
    now: u64,
    next_pipe: u32,
    pipes: Vec<PipeId>,
    writable: BTreeSet<PipeId>,
    paused: BTreeSet<PipeId>,
    last_header: BTreeMap<PipeId, Bytes>,
    contexts: Vec<ContextId>,
    fed: u64,
    taken: u64,
}

impl Driver {
    fn pick(&self, i: u8) -> Option<PipeId> {
        (!self.pipes.is_empty()).then(|| self.pipes[usize::from(i) % self.pipes.len()])
    }

    fn instant(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    fn feed(&mut self, pipe: PipeId, payload: Bytes) {
        // The contract: a paused pipe is not read.
        if self.paused.contains(&pipe) {
            return;
        }
        self.fed += 1;
        self.proto.handle_message(self.instant(), pipe, payload);
    }

    fn check_header(&self, h: &[u8]) {
        if self.raw {
            return;
        }
        let words: Vec<u32> = h
            .chunks(4)
            .map(|w| u32::from_be_bytes(w.try_into().unwrap_or([0; 4])))
            .collect();
        match self.ty {
            SocketType::Req | SocketType::Surveyor => {
                assert_eq!(h.len(), 4, "{:?} header of {} bytes", self.ty, h.len());
                assert!(words[0] & 0x8000_0000 != 0, "id without bit 31");
            }
            SocketType::Rep | SocketType::Respondent => {
                assert!(
                    !h.is_empty() && h.len().is_multiple_of(4),
                    "backtrace of {} bytes",
                    h.len()
                );
                assert!(
                    words.len() <= usize::from(self.ttl),
                    "backtrace beyond the TTL"
                );
                let (last, rest) = words.split_last().expect("non-empty");
                assert!(last & 0x8000_0000 != 0, "backtrace id without bit 31");
                assert!(rest.iter().all(|w| w & 0x8000_0000 == 0), "bit 31 in a hop");
            }
            SocketType::Pair1 => {
                assert_eq!(h.len(), 4, "PAIR v1 header of {} bytes", h.len());
                assert!(words[0] < 0x100, "hop word out of range");
            }
            _ => assert!(h.is_empty(), "{:?} sent a header", self.ty),
        }
    }

    /// Drains every output, checking each.
    fn drain(&mut self) {
        for _ in 0..=MAX_DRAIN {
            let Some(t) = self.proto.poll_transmit() else {
                break;
            };
            self.taken += 1;
            assert!(
                self.pipes.contains(&t.pipe),
                "transmit on detached {:?}",
                t.pipe
            );
            assert!(
                self.writable.remove(&t.pipe),
                "transmit on {:?}, which is not writable",
                t.pipe
            );
            self.check_header(&t.msg.header);
            self.last_header.insert(t.pipe, t.msg.header.clone());
        }
        assert!(self.proto.poll_transmit().is_none(), "endless transmits");
        for _ in 0..=MAX_DRAIN {
            match self.proto.poll_event() {
                Some(Event::PausePipe(p)) => {
                    self.paused.insert(p);
                }
                Some(Event::ResumePipe(p)) => {
                    self.paused.remove(&p);
                }
                Some(_) => {}
                None => break,
            }
        }
        assert!(self.proto.poll_event().is_none(), "endless events");
        let s = self.proto.stats();
        assert_eq!(s.msgs_in, self.fed, "msgs_in differs from what was fed");
        assert_eq!(
            s.msgs_out, self.taken,
            "msgs_out differs from what was taken"
        );
        let (held_max, held_min) = held(self.ty, s);
        // Per pipe queue, plus what one pipe may deliver after its pause, plus one reply
        // or survey slot per context.
        let bound = (self.pipes.len() as u64 + 1) * (self.recv_queue as u64 + 1)
            + (self.contexts.len() as u64 + 1);
        assert!(
            held_min <= bound,
            "{held_min}..={held_max} messages held, bound {bound}: {s:?}"
        );
    }

    fn recv_all(&mut self) {
        let now = self.instant();
        for _ in 0..=MAX_DRAIN {
            if self.proto.recv(now).is_err() {
                break;
            }
            self.drain();
        }
        for ctx in self.contexts.clone() {
            for _ in 0..=MAX_DRAIN {
                if self.proto.recv_in(ctx, now).is_err() {
                    break;
                }
                self.drain();
            }
        }
    }

    fn step(&mut self, op: Op) {
        let now = self.instant();
        match op {
            Op::AddPipe {
                send_prio,
                recv_prio,
            } => {
                if self.pipes.len() >= MAX_PIPES {
                    return;
                }
                let pipe = PipeId::new(self.next_pipe).expect("small id");
                self.next_pipe += 1;
                let info = PipeInfo {
                    send_priority: Priority::new(send_prio % 16 + 1).expect("1..=16"),
                    recv_priority: Priority::new(recv_prio % 16 + 1).expect("1..=16"),
                };
                if self.proto.handle_pipe_added(now, pipe, info).is_ok() {
                    self.pipes.push(pipe);
                    self.writable.insert(pipe);
                }
            }
            Op::RemovePipe(i) => {
                if let Some(p) = self.pick(i) {
                    self.pipes.retain(|&q| q != p);
                    self.writable.remove(&p);
                    self.paused.remove(&p);
                    self.proto.handle_pipe_removed(now, p);
                }
            }
            Op::Message { pipe, payload } => {
                if let Some(p) = self.pick(pipe) {
                    self.feed(p, payload.into());
                }
            }
            Op::WellFormed {
                pipe,
                hops,
                id,
                body,
            } => {
                if let Some(p) = self.pick(pipe) {
                    let mut payload = Vec::new();
                    match self.ty.peer() {
                        SocketType::Req | SocketType::Surveyor => {
                            for h in 0..u32::from(hops % 10) {
                                payload.extend_from_slice(&(h + 1).to_be_bytes());
                            }
                            payload.extend_from_slice(&(id | 0x8000_0000).to_be_bytes());
                        }
                        SocketType::Rep | SocketType::Respondent => {
                            payload.extend_from_slice(&(id | 0x8000_0000).to_be_bytes());
                        }
                        SocketType::Pair1 => {
                            payload.extend_from_slice(&u32::from(hops).to_be_bytes())
                        }
                        _ => {}
                    }
                    payload.extend_from_slice(&body);
                    self.feed(p, payload.into());
                }
            }
            Op::Echo { pipe, body } => {
                if let Some(p) = self.pick(pipe) {
                    let header = self.last_header.get(&p).cloned().unwrap_or_default();
                    self.feed(p, [&header[..], &body].concat().into());
                }
            }
            Op::Writable(i) => {
                if let Some(p) = self.pick(i) {
                    if self.writable.insert(p) {
                        self.proto.handle_writable(now, p);
                    }
                }
            }
            Op::Advance(ms) => {
                self.now += u64::from(ms);
                let now = self.instant();
                if self.proto.poll_timeout().is_some_and(|t| t <= now) {
                    self.proto.handle_timeout(now);
                    self.drain();
                    if let Some(t) = self.proto.poll_timeout() {
                        assert!(t > now, "timer still due after handle_timeout");
                    }
                }
            }
            Op::Send { header, body, to } => {
                let header = if self.raw { header } else { Vec::new() };
                let mut msg = Message::with_header(header, body);
                msg.pipe = to.and_then(|i| self.pick(i));
                let _ = self.proto.send(now, msg);
            }
            Op::RawReply { pipe, id } => {
                if let Some(p) = self.pick(pipe) {
                    let mut header = p.get().to_be_bytes().to_vec();
                    header.extend_from_slice(&(id | 0x8000_0000).to_be_bytes());
                    let _ = self.proto.send(now, Message::with_header(header, "r"));
                }
            }
            Op::Recv => {
                let _ = self.proto.recv(now);
            }
            Op::Subscribe(topic) => {
                if let AnyProtocol::Sub(s) = &mut self.proto {
                    s.subscribe(&topic);
                }
            }
            Op::Unsubscribe(topic) => {
                if let AnyProtocol::Sub(s) = &mut self.proto {
                    let _ = s.unsubscribe(&topic);
                }
            }
            Op::OpenContext => {
                if self.contexts.len() < MAX_CONTEXTS {
                    self.contexts.extend(self.proto.open_context().ok());
                }
            }
            Op::CloseContext(i) => {
                if !self.contexts.is_empty() {
                    let ctx = self.contexts.remove(usize::from(i) % self.contexts.len());
                    assert!(
                        self.proto.close_context(ctx),
                        "an open context did not close"
                    );
                }
            }
            Op::SendIn { ctx, body } => {
                if let Some(&c) = self
                    .contexts
                    .get(usize::from(ctx) % self.contexts.len().max(1))
                {
                    let msg = Message::new(body);
                    let _ = self.proto.send_in(c, now, msg);
                }
            }
            Op::RecvIn(ctx) => {
                if let Some(&c) = self
                    .contexts
                    .get(usize::from(ctx) % self.contexts.len().max(1))
                {
                    let _ = self.proto.recv_in(c, now);
                }
            }
        }
        self.drain();
    }
}

/// Bounds on the messages a socket holds for the user, from its counters: received,
/// minus delivered, minus the drops of received messages. Some drop reasons count sent
/// messages (fan-out skips, replies to gone pipes, REP's reply backlog); REQ's
/// `Cancelled` counts both a cancelled request and an unread reply, hence two bounds.
fn held(ty: SocketType, s: &ProtoStats) -> (u64, u64) {
    let mut received_drops = [
        DropReason::MalformedHeader,
        DropReason::TtlExceeded,
        DropReason::StaleId,
        DropReason::SurveyExpired,
        DropReason::UnexpectedData,
        DropReason::Unsubscribed,
        DropReason::PipeClosed,
        DropReason::SocketClosed,
    ]
    .iter()
    .map(|&r| s.dropped(r))
    .sum::<u64>();
    if ty != SocketType::Rep {
        received_drops += s.dropped(DropReason::QueueFull);
    }
    if ty == SocketType::Surveyor {
        received_drops += s.dropped(DropReason::Cancelled);
    }
    let settled = s.delivered + received_drops;
    assert!(
        settled <= s.msgs_in,
        "more delivered and dropped than received: {s:?}"
    );
    let held_max = s.msgs_in - settled;
    let ambiguous = if ty == SocketType::Req {
        s.dropped(DropReason::Cancelled)
    } else {
        0
    };
    (held_max, held_max.saturating_sub(ambiguous))
}

fn run(types: [SocketType; 2], data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(sc) = Scenario::arbitrary(&mut u) else {
        return;
    };
    let ty = types[usize::from(sc.role)];
    let mut config = if sc.raw {
        Config::raw(sc.seed)
    } else {
        Config::cooked(sc.seed)
    };
    let ttl = sc.ttl % 12 + 1;
    let recv_queue = usize::from(sc.recv_queue % 8) + 1;
    let o = &mut config.options;
    o.set_max_ttl(u32::from(ttl)).expect("valid TTL");
    o.set_recv_queue(recv_queue).expect("valid queue");
    o.set_resend_interval(Some(Duration::from_millis(u64::from(sc.resend_ms))));
    o.set_survey_deadline(Duration::from_millis(u64::from(sc.deadline_ms) + 1))
        .expect("non-zero");
    o.fail_no_peers = sc.fail_no_peers;
    o.pair1_polyamorous = sc.polyamorous;
    o.sub_prefer_new = sc.sub_prefer_new;
    let mut d = Driver {
        proto: AnyProtocol::new(ty, config),
        ty,
        raw: sc.raw,
        ttl,
        recv_queue,
        now: 0,
        next_pipe: 1,
        pipes: Vec::new(),
        writable: BTreeSet::new(),
        paused: BTreeSet::new(),
        last_header: BTreeMap::new(),
        contexts: Vec::new(),
        fed: 0,
        taken: 0,
    };
    for op in sc.ops {
        d.step(op);
    }
    // Everything goes away: what was received is then either delivered or dropped.
    for p in d.pipes.clone() {
        d.step(Op::RemovePipe(0));
        assert!(!d.pipes.contains(&p));
    }
    d.recv_all();
    let s = d.proto.stats();
    let (_, held_min) = held(ty, s);
    assert_eq!(
        held_min, 0,
        "messages unaccounted for after every pipe left: {s:?}"
    );
}

/// PUSH or PULL.
pub fn pipeline(data: &[u8]) {
    run([SocketType::Push, SocketType::Pull], data);
}

/// REQ or REP.
pub fn reqrep(data: &[u8]) {
    run([SocketType::Req, SocketType::Rep], data);
}

/// PAIR v0 or v1.
pub fn pair(data: &[u8]) {
    run([SocketType::Pair0, SocketType::Pair1], data);
}

/// PUB or SUB.
pub fn pubsub(data: &[u8]) {
    run([SocketType::Pub, SocketType::Sub], data);
}

/// SURVEYOR or RESPONDENT.
pub fn survey(data: &[u8]) {
    run([SocketType::Surveyor, SocketType::Respondent], data);
}

/// BUS (cooked or raw; the role bit changes nothing).
pub fn bus(data: &[u8]) {
    run([SocketType::Bus, SocketType::Bus], data);
}
