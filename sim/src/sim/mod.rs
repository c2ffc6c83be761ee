//! The simulator proper: hosts, sockets, connections, links and virtual time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use sp_proto::backoff::Backoff;
use sp_proto::pipes::PipeIdAllocator;
use sp_proto::proto::SubscribeError;
use sp_proto::rng::Rng;
use sp_proto::{
    AnyProtocol, Drain, DropReason, Instant, PipeId, PipeInfo, ProtoStats, Protocol, SocketType,
};

use crate::def::{HostDef, LinksDef, SocketDef};
use crate::record::{Recorder, Sent, SocketLog};
use crate::trace::{TraceEvent, What};
use crate::SimError;

mod blackhole;
mod conn;
mod device;
mod drain;
mod host;
mod hostile;
mod keepalive;
mod net;
#[cfg(feature = "testing")]
mod planted;

pub(crate) use self::net::NET_DROP_REASONS;
#[cfg(feature = "testing")]
pub use self::planted::PlantedBug;

use self::net::Net;

/// Events processed at one instant before [`Sim::run_until`] reports a livelock.
const LIVELOCK_EVENTS: u64 = 5_000_000;

/// How long a handshake may take before the simulated connection gives up on it.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

type ConnId = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EpRef {
    Listen(usize),
    Dial(usize),
}

struct Listener {
    addr: String,
    info: PipeInfo,
    bound: bool,
}

struct Dialer {
    addr: String,
    target: Option<usize>,
    info: PipeInfo,
    backoff: Backoff,
    conn: Option<ConnId>,
    /// The application closed it: it dials no more.
    closed: bool,
}

struct Sock {
    full: String,
    def: SocketDef,
    proto: AnyProtocol,
    /// The drain loop over `proto`; write credits wait in it until the socket drains.
    drain: Drain,
    alloc: PipeIdAllocator,
    pipes: BTreeMap<PipeId, (ConnId, usize)>,
    paused: BTreeSet<PipeId>,
    listeners: Vec<Listener>,
    dialers: Vec<Dialer>,
    armed: Option<Instant>,
    reply_pending: bool,
    drops_seen: [u64; DropReason::ALL.len()],
    /// The contexts the application opened, by the scenario's number (REQ and SURVEYOR;
    /// 0, the default context, is never in it).
    contexts: BTreeMap<u32, sp_proto::ContextId>,
    /// The application closed the whole socket: no pipes, no timers, no application
    /// operations until its host restarts.
    closed: bool,
}

impl Sock {
    /// The protocol, to feed it an input or a command: the drain rule says its outputs
    /// were all taken since the last one (debug-asserted).
    fn input(&mut self) -> &mut AnyProtocol {
        self.assert_drained();
        &mut self.proto
    }

    /// Debug-asserts the drain rule before an input, or before the first of a batch of
    /// receives (which may follow each other and be drained after the batch).
    fn assert_drained(&self) {
        debug_assert!(
            self.proto.is_drained(),
            "{} was fed an input before its outputs were drained",
            self.full
        );
    }
}

struct Host {
    def: HostDef,
    up: bool,
    inc: u64,
    sockets: Vec<Sock>,
    /// The device between two of the sockets, rebuilt with them at every start.
    device: Option<device::HostDevice>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct End {
    host: usize,
    sock: usize,
    inc: u64,
    ep: EpRef,
    pipe: Option<PipeId>,
    closed: bool,
    /// Closed by a power loss: no FIN left, so its peer's end is half-open.
    silent: bool,
    ty: SocketType,
}

#[derive(Default)]
struct Dir {
    inflight: usize,
    owed: bool,
    busy_until: Instant,
    last_arrival: Instant,
    backlog: VecDeque<(Bytes, bool)>,
    /// Events held by a black-hole partition, in order (see `blackhole.rs`).
    parked: VecDeque<Ev>,
    /// When the first of `parked` was held.
    parked_since: Instant,
    /// The sender reset the connection: nothing it sent will be retransmitted.
    aborted: bool,
}

struct Conn {
    ends: [Option<End>; 2],
    dirs: [Dir; 2],
    /// Each end's view of its peer's liveness (keepalive).
    live: [keepalive::Liveness; 2],
    target: usize,
    addr: String,
}

#[derive(Clone, Debug)]
enum Ev {
    Timer {
        h: usize,
        s: usize,
        inc: u64,
    },
    Dial {
        h: usize,
        s: usize,
        inc: u64,
        ep: usize,
    },
    Syn {
        c: ConnId,
    },
    Refused {
        c: ConnId,
        reason: &'static str,
    },
    Header {
        c: ConnId,
        to: usize,
    },
    Frame {
        c: ConnId,
        to: usize,
        bytes: Bytes,
        counted: bool,
    },
    Depart {
        c: ConnId,
        dir: usize,
    },
    Fin {
        c: ConnId,
        to: usize,
    },
    Release {
        c: ConnId,
        dir: usize,
    },
    Liveness {
        c: ConnId,
        end: usize,
    },
    Reply {
        h: usize,
        s: usize,
        inc: u64,
        body: Bytes,
    },
    ListenerUp {
        h: usize,
        s: usize,
        inc: u64,
        ep: usize,
    },
}

/// A deterministic, single-threaded network of SP sockets in virtual time.
///
/// Hosts hold sockets (the real `sp-proto` state machines); sockets listen and dial by
/// name; a dialer reaching a listener opens a connection whose SP header exchange is
/// modelled (the peer type is checked as on the wire); frames move through the real TCP
/// frame codec over links with latency, jitter, loss, duplication, reordering and
/// capacity. All randomness comes from one seed, and every collection is iterated in a
/// fixed order, so a run is a pure function of its definition, its inputs and the seed.
pub struct Sim {
    now: Instant,
    seq: u64,
    queue: BTreeMap<(Instant, u64), Ev>,
    rng: Rng,
    net: Net,
    hosts: Vec<Host>,
    host_ix: BTreeMap<String, usize>,
    bound: BTreeMap<String, (usize, usize, usize)>,
    conns: BTreeMap<ConnId, Conn>,
    gone: BTreeMap<ConnId, &'static str>,
    next_conn: ConnId,
    dirty: BTreeSet<(usize, usize)>,
    rec: Recorder,
    frames: u64,
    events: u64,
    #[cfg(feature = "testing")]
    planted: Option<PlantedBug>,
}

impl Sim {
    /// An empty network at time zero whose every random choice derives from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            now: Instant::ZERO,
            seq: 0,
            queue: BTreeMap::new(),
            rng: Rng::new(seed),
            net: Net::default(),
            hosts: Vec::new(),
            host_ix: BTreeMap::new(),
            bound: BTreeMap::new(),
            conns: BTreeMap::new(),
            gone: BTreeMap::new(),
            next_conn: 1,
            dirty: BTreeSet::new(),
            rec: Recorder::default(),
            frames: 0,
            events: 0,
            #[cfg(feature = "testing")]
            planted: None,
        }
    }

    /// Sets the links (default and per-pair overrides). Applies to frames sent from now on.
    pub fn set_links(&mut self, links: LinksDef) -> Result<(), SimError> {
        links.default.validate()?;
        for o in &links.pairs {
            o.apply(&links.default).validate()?;
        }
        self.net.set_links(links);
        Ok(())
    }

    /// Lets the swarm's safety oracles judge every event of this run as it happens.
    pub(crate) fn watch(&mut self, w: crate::swarm::oracle::Watch) {
        self.rec.watch = Some(w);
    }

    /// The oracles' verdict, when they watch this run.
    pub(crate) fn oracle_verdict(&self) -> Option<crate::scenario::CheckResult> {
        self.rec.oracle_verdict()
    }

    /// Whether the oracles watching this run saw a rule broken.
    pub(crate) fn violated(&self) -> bool {
        self.rec.violated()
    }

    /// Turns trace recording on or off (logs and counters are kept either way).
    pub fn set_tracing(&mut self, on: bool) {
        self.rec.tracing = on;
    }

    /// Adds the hosts `def` stands for (see [`HostDef::expand`]) and starts them: sockets
    /// open, listeners bind, dialers dial at once.
    pub fn add_host(&mut self, def: &HostDef) -> Result<(), SimError> {
        for h in def.expand() {
            if h.name.is_empty() || h.name.contains('.') || h.name.contains('*') {
                return Err(SimError::Config(format!("bad host name {:?}", h.name)));
            }
            if self.host_ix.contains_key(&h.name) {
                return Err(SimError::Config(format!("duplicate host {:?}", h.name)));
            }
            let mut names = BTreeSet::new();
            for s in &h.sockets {
                s.socket_type()?;
                s.options.to_options()?;
                if !names.insert(s.name.clone()) {
                    return Err(SimError::Config(format!(
                        "duplicate socket {:?} on {}",
                        s.name, h.name
                    )));
                }
                for e in s.listen.iter().chain(&s.dial) {
                    e.pipe_info()?;
                }
                for e in &s.listen {
                    if e.host() != h.name {
                        return Err(SimError::Config(format!(
                            "{}.{} listens on {} which is not on its host",
                            h.name, s.name, e.addr
                        )));
                    }
                }
            }
            device::HostDevice::build(&h)?;
            let ix = self.hosts.len();
            self.host_ix.insert(h.name.clone(), ix);
            self.net.cache.clear();
            self.hosts.push(Host {
                def: h,
                up: false,
                inc: 0,
                sockets: Vec::new(),
                device: None,
            });
            self.start_host(ix)?;
        }
        self.settle();
        Ok(())
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// When the next event is due, if any.
    pub fn next_event(&self) -> Option<Instant> {
        self.queue.keys().next().map(|k| k.0)
    }

    /// Processes the earliest event. Returns false when nothing is scheduled.
    pub fn step(&mut self) -> bool {
        let Some(((at, _), ev)) = self.queue.pop_first() else {
            return false;
        };
        self.now = self.now.max(at);
        self.events += 1;
        self.handle(ev);
        self.settle();
        true
    }

    /// Processes every event due at or before `t`, then sets the clock to `t`.
    pub fn run_until(&mut self, t: Instant) -> Result<(), SimError> {
        let mut same = 0u64;
        let mut last = self.now;
        while self.next_event().is_some_and(|n| n <= t) {
            self.step();
            if self.now == last {
                same += 1;
                if same > LIVELOCK_EVENTS {
                    return Err(SimError::Livelock(self.now));
                }
            } else {
                same = 0;
                last = self.now;
            }
        }
        self.now = self.now.max(t);
        Ok(())
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) -> Result<(), SimError> {
        self.run_until(self.now + d)
    }

    /// Every event recorded so far.
    pub fn trace(&self) -> &[TraceEvent] {
        &self.rec.trace
    }

    /// The trace as text, one event per line.
    pub fn trace_text(&self) -> String {
        crate::trace::render(&self.rec.trace)
    }

    /// What was recorded about socket `name` (`host.socket`).
    pub fn log(&self, name: &str) -> Option<&SocketLog> {
        self.rec.logs.get(name)
    }

    /// Every socket's log, by name.
    pub fn logs(&self) -> &BTreeMap<String, SocketLog> {
        &self.rec.logs
    }

    /// Every message sent by an application, in order.
    pub fn sent(&self) -> &[Sent] {
        &self.rec.sent
    }

    /// Frames the network dropped, by reason (`loss`, `partition`, `conn_closed`, ...).
    pub fn net_drops(&self) -> &BTreeMap<&'static str, u64> {
        &self.net.drops
    }

    /// Frames delivered to a protocol so far.
    pub fn frames_delivered(&self) -> u64 {
        self.frames
    }

    /// Events processed so far.
    pub fn events_processed(&self) -> u64 {
        self.events
    }

    /// The host names, in order.
    pub fn host_names(&self) -> impl Iterator<Item = &str> {
        self.host_ix.keys().map(String::as_str)
    }

    /// Every socket name (`host.socket`) defined, in order.
    pub fn socket_names(&self) -> Vec<String> {
        let mut v = Vec::new();
        for (name, &h) in &self.host_ix {
            for s in &self.hosts[h].def.sockets {
                v.push(format!("{name}.{}", s.name));
            }
        }
        v
    }

    /// The protocol counters of socket `name` in its current incarnation.
    pub fn stats(&self, name: &str) -> Option<&ProtoStats> {
        let (h, s) = self.find(name).ok()?;
        Some(self.hosts[h].sockets.get(s)?.proto.stats())
    }

    /// The state machine of socket `name` (for protocol-specific queries).
    pub fn protocol(&self, name: &str) -> Option<&AnyProtocol> {
        let (h, s) = self.find(name).ok()?;
        Some(&self.hosts[h].sockets.get(s)?.proto)
    }

    /// How many pipes socket `name` has now.
    pub fn pipe_count(&self, name: &str) -> usize {
        self.find(name)
            .ok()
            .and_then(|(h, s)| self.hosts[h].sockets.get(s))
            .map_or(0, |s| s.pipes.len())
    }

    /// Whether `host` is running.
    pub fn is_up(&self, host: &str) -> bool {
        self.host_ix.get(host).is_some_and(|&h| self.hosts[h].up)
    }

    fn find(&self, name: &str) -> Result<(usize, usize), SimError> {
        let (host, sock) = name
            .split_once('.')
            .ok_or_else(|| SimError::NoSuchSocket(name.to_owned()))?;
        let &h = self
            .host_ix
            .get(host)
            .ok_or_else(|| SimError::NoSuchSocket(name.to_owned()))?;
        let s = self.hosts[h]
            .def
            .sockets
            .iter()
            .position(|d| d.name == sock)
            .ok_or_else(|| SimError::NoSuchSocket(name.to_owned()))?;
        Ok((h, s))
    }

    fn find_up(&self, name: &str) -> Result<(usize, usize), SimError> {
        let (h, s) = self.find(name)?;
        if !self.hosts[h].up {
            return Err(SimError::HostDown(self.hosts[h].def.name.clone()));
        }
        if self.hosts[h].sockets[s].closed {
            return Err(SimError::SocketClosed(name.to_owned()));
        }
        Ok((h, s))
    }

    // ----- user commands -------------------------------------------------------------

    /// The application on socket `name` sends `body`. A refusal by the protocol is not an
    /// error of the simulation: it is traced (`send_failed`) and returned as `Ok(false)`.
    pub fn send(&mut self, name: &str, body: impl Into<Bytes>) -> Result<bool, SimError> {
        self.send_in(name, 0, body)
    }

    /// As [`send`](Self::send), on the socket's context number `ctx` (0: the default
    /// context; others are opened on first use, and their replies or responses are
    /// received on them as soon as they arrive). Only REQ and SURVEYOR have contexts.
    pub fn send_in(
        &mut self,
        name: &str,
        ctx: u32,
        body: impl Into<Bytes>,
    ) -> Result<bool, SimError> {
        let (h, s) = self.find_up(name)?;
        let sock = &mut self.hosts[h].sockets[s];
        if ctx != 0 && !sock.contexts.contains_key(&ctx) {
            use sp_proto::Contexts;
            let ty = sock.proto.socket_type();
            let id = match (ty, sock.def.raw) {
                (SocketType::Req | SocketType::Surveyor, false) => sock.proto.open_context().ok(),
                _ => None,
            }
            .ok_or_else(|| SimError::Config(format!("{name} ({ty}) has no contexts here")))?;
            sock.contexts.insert(ctx, id);
        }
        let ok = self.app_send(h, s, body.into(), ctx);
        self.settle();
        Ok(ok)
    }

    /// Changes a SUB socket's subscriptions.
    pub fn subscribe(&mut self, name: &str, topic: &[u8], on: bool) -> Result<(), SimError> {
        let (h, s) = self.find_up(name)?;
        let proto = &mut self.hosts[h].sockets[s].proto;
        let changed = if on {
            proto.subscribe(topic).map(drop)
        } else {
            proto.unsubscribe(topic)
        };
        if changed == Err(SubscribeError::NotSupported) {
            return Err(SimError::Config(format!("{name} is not a SUB socket")));
        }
        let topic = Bytes::copy_from_slice(topic);
        self.note(h, Some(s), What::Subscribe { topic, on });
        self.dirty.insert((h, s));
        self.settle();
        Ok(())
    }

    /// The application on `name` receives up to `max` messages now (for `recv = "manual"`
    /// sockets); returns how many it got.
    pub fn recv(&mut self, name: &str, max: usize) -> Result<usize, SimError> {
        let (h, s) = self.find_up(name)?;
        let mut n = 0;
        // A batch of receives, drained after the batch.
        self.hosts[h].sockets[s].assert_drained();
        while n < max {
            let now = self.now;
            let Ok(m) = self.hosts[h].sockets[s].proto.recv(now) else {
                break;
            };
            self.record_recv(h, s, m, 0);
            n += 1;
        }
        self.dirty.insert((h, s));
        self.settle();
        Ok(n)
    }

    // ----- internals -----------------------------------------------------------------

    fn schedule(&mut self, at: Instant, ev: Ev) {
        let at = at.max(self.now);
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    fn note(&mut self, h: usize, s: Option<usize>, what: What) {
        let host = &self.hosts[h];
        let socket = s
            .and_then(|s| host.def.sockets.get(s))
            .map(|d| d.name.as_str());
        self.rec.note(self.now, &host.def.name, socket, what);
    }

    fn note_net(&mut self, what: What) {
        self.rec.note(self.now, "net", None, what);
    }

    fn end_name(&self, e: &End) -> String {
        let host = &self.hosts[e.host].def;
        format!(
            "{}.{}",
            host.name,
            host.sockets.get(e.sock).map_or("?", |d| d.name.as_str())
        )
    }

    fn end_alive(&self, e: &End) -> bool {
        let host = &self.hosts[e.host];
        !e.closed && host.up && host.inc == e.inc
    }

    fn handle(&mut self, ev: Ev) {
        if let Some(ev) = self.park(ev) {
            self.dispatch(ev);
        }
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Timer { h, s, inc } => self.on_timer(h, s, inc),
            Ev::Dial { h, s, inc, ep } => self.on_dial(h, s, inc, ep),
            Ev::Syn { c } => self.on_syn(c),
            Ev::Refused { c, reason } => self.on_refused(c, reason),
            Ev::Header { c, to } => self.on_header(c, to),
            Ev::Frame {
                c,
                to,
                bytes,
                counted,
            } => self.on_frame(c, to, bytes, counted),
            Ev::Depart { c, dir } => self.try_credit(c, dir),
            Ev::Fin { c, to } => self.close_end(c, to, "peer_closed"),
            Ev::Release { c, dir } => self.on_release(c, dir),
            Ev::Liveness { c, end } => self.on_liveness(c, end),
            Ev::Reply { h, s, inc, body } => {
                let host = &self.hosts[h];
                if host.up && host.inc == inc && !host.sockets[s].closed {
                    self.hosts[h].sockets[s].reply_pending = false;
                    self.app_send(h, s, body, 0);
                }
            }
            Ev::ListenerUp { h, s, inc, ep } => {
                let host = &self.hosts[h];
                if host.up && host.inc == inc && !host.sockets[s].closed {
                    // Cannot fail: this socket bound the address before.
                    let _ = self.bind(h, s, ep);
                }
            }
        }
    }
}
