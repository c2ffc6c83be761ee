//! The simulator proper: hosts, sockets, connections, links and virtual time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sp_proto::backoff::Backoff;
use sp_proto::pipes::PipeIdAllocator;
use sp_proto::rng::Rng;
use sp_proto::wire::frame::{encode_frame, FrameDecoder, FrameFormat, MaxRecvSize};
use sp_proto::wire::handshake::Handshake;
use sp_proto::{
    AnyProtocol, DropReason, Event, Instant, Message, PipeId, PipeInfo, ProtoStats, Protocol,
    SocketType,
};

use crate::def::{host_matches, ms, HostDef, LinkDef, LinksDef, RecvMode, SocketDef};
use crate::record::{Recorder, Sent, SocketLog};
use crate::trace::{TraceEvent, What};
use crate::SimError;

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
}

struct Sock {
    full: String,
    def: SocketDef,
    proto: AnyProtocol,
    alloc: PipeIdAllocator,
    pipes: BTreeMap<PipeId, (ConnId, usize)>,
    paused: BTreeSet<PipeId>,
    listeners: Vec<Listener>,
    dialers: Vec<Dialer>,
    armed: Option<Instant>,
    reply_pending: bool,
    drops_seen: [u64; DropReason::ALL.len()],
}

struct Host {
    def: HostDef,
    up: bool,
    inc: u64,
    sockets: Vec<Sock>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct End {
    host: usize,
    sock: usize,
    inc: u64,
    ep: EpRef,
    pipe: Option<PipeId>,
    closed: bool,
    ty: SocketType,
}

#[derive(Default)]
struct Dir {
    inflight: usize,
    owed: bool,
    busy_until: Instant,
    last_arrival: Instant,
    backlog: VecDeque<(Bytes, bool)>,
}

struct Conn {
    ends: [Option<End>; 2],
    dirs: [Dir; 2],
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
    link_rngs: BTreeMap<(usize, usize), Rng>,
    links: LinksDef,
    link_cache: BTreeMap<(usize, usize), LinkDef>,
    hosts: Vec<Host>,
    host_ix: BTreeMap<String, usize>,
    bound: BTreeMap<String, (usize, usize, usize)>,
    blocked: BTreeSet<(usize, usize)>,
    conns: BTreeMap<ConnId, Conn>,
    gone: BTreeMap<ConnId, &'static str>,
    next_conn: ConnId,
    dirty: BTreeSet<(usize, usize)>,
    rec: Recorder,
    net_drops: BTreeMap<&'static str, u64>,
    frames: u64,
    events: u64,
}

impl Sim {
    /// An empty network at time zero whose every random choice derives from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            now: Instant::ZERO,
            seq: 0,
            queue: BTreeMap::new(),
            rng: Rng::new(seed),
            link_rngs: BTreeMap::new(),
            links: LinksDef::default(),
            link_cache: BTreeMap::new(),
            hosts: Vec::new(),
            host_ix: BTreeMap::new(),
            bound: BTreeMap::new(),
            blocked: BTreeSet::new(),
            conns: BTreeMap::new(),
            gone: BTreeMap::new(),
            next_conn: 1,
            dirty: BTreeSet::new(),
            rec: Recorder::default(),
            net_drops: BTreeMap::new(),
            frames: 0,
            events: 0,
        }
    }

    /// Sets the links (default and per-pair overrides). Applies to frames sent from now on.
    pub fn set_links(&mut self, links: LinksDef) -> Result<(), SimError> {
        links.default.validate()?;
        for o in &links.pairs {
            o.apply(&links.default).validate()?;
        }
        self.links = links;
        self.link_cache.clear();
        Ok(())
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
            let ix = self.hosts.len();
            self.host_ix.insert(h.name.clone(), ix);
            self.link_cache.clear();
            self.hosts.push(Host {
                def: h,
                up: false,
                inc: 0,
                sockets: Vec::new(),
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
        &self.net_drops
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
        Ok((h, s))
    }

    // ----- user commands -------------------------------------------------------------

    /// The application on socket `name` sends `body`. A refusal by the protocol is not an
    /// error of the simulation: it is traced (`send_failed`) and returned as `Ok(false)`.
    pub fn send(&mut self, name: &str, body: impl Into<Bytes>) -> Result<bool, SimError> {
        let (h, s) = self.find_up(name)?;
        let ok = self.app_send(h, s, body.into());
        self.settle();
        Ok(ok)
    }

    /// Changes a SUB socket's subscriptions.
    pub fn subscribe(&mut self, name: &str, topic: &[u8], on: bool) -> Result<(), SimError> {
        let (h, s) = self.find_up(name)?;
        let sock = &mut self.hosts[h].sockets[s];
        let AnyProtocol::Sub(sub) = &mut sock.proto else {
            return Err(SimError::Config(format!("{name} is not a SUB socket")));
        };
        if on {
            sub.subscribe(topic);
        } else {
            let _ = sub.unsubscribe(topic);
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
        while n < max {
            let now = self.now;
            let Ok(m) = self.hosts[h].sockets[s].proto.recv(now) else {
                break;
            };
            self.record_recv(h, s, m);
            n += 1;
        }
        self.dirty.insert((h, s));
        self.settle();
        Ok(n)
    }

    /// Cuts the network between hosts matching `a` and hosts matching `b` (exact names,
    /// `*`, or prefixes ending in `*`). Two-way: connections between them break at once
    /// (both ends see the pipe go) and new ones are refused. One-way (`a -> b` only):
    /// frames from `a` to `b` vanish silently, connections stay up (half-open), and
    /// dials between them fail.
    pub fn partition(&mut self, a: &str, b: &str, oneway: bool) {
        let pairs = self.pairs(a, b);
        for &(x, y) in &pairs {
            self.blocked.insert((x, y));
            if !oneway {
                self.blocked.insert((y, x));
            }
        }
        self.note_net(What::Partition {
            a: a.to_owned(),
            b: b.to_owned(),
            oneway,
        });
        if !oneway {
            let cut: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|(_, c)| {
                    let hs: Vec<usize> = c.ends.iter().flatten().map(|e| e.host).collect();
                    hs.len() == 2
                        && self.blocked.contains(&(hs[0], hs[1]))
                        && self.blocked.contains(&(hs[1], hs[0]))
                })
                .map(|(&id, _)| id)
                .collect();
            for c in cut {
                self.gone.insert(c, "partition");
                self.close_end(c, 0, "partition");
                self.close_end(c, 1, "partition");
            }
        }
        self.settle();
    }

    /// Undoes [`partition`](Self::partition) for the same patterns.
    pub fn repair(&mut self, a: &str, b: &str, oneway: bool) {
        for (x, y) in self.pairs(a, b) {
            self.blocked.remove(&(x, y));
            if !oneway {
                self.blocked.remove(&(y, x));
            }
        }
        self.note_net(What::Repair {
            a: a.to_owned(),
            b: b.to_owned(),
            oneway,
        });
        self.settle();
    }

    fn pairs(&self, a: &str, b: &str) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for (xn, &x) in &self.host_ix {
            for (yn, &y) in &self.host_ix {
                if x != y && host_matches(a, xn) && host_matches(b, yn) {
                    v.push((x, y));
                }
            }
        }
        v
    }

    /// The host crashes: its sockets and their state are gone, listeners stop, peers see
    /// their pipes close after one link delay.
    pub fn crash(&mut self, host: &str) -> Result<(), SimError> {
        let &h = self
            .host_ix
            .get(host)
            .ok_or_else(|| SimError::NoSuchHost(host.to_owned()))?;
        if !self.hosts[h].up {
            return Ok(());
        }
        self.note(h, None, What::Crash);
        for s in 0..self.hosts[h].sockets.len() {
            self.retire_socket_log(h, s);
        }
        self.hosts[h].up = false;
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for c in ids {
            for end in 0..2 {
                let on_host = self
                    .conns
                    .get(&c)
                    .and_then(|cn| cn.ends[end])
                    .is_some_and(|e| e.host == h && !e.closed);
                if on_host {
                    self.close_conn(c, end, "crash");
                }
            }
        }
        self.bound.retain(|_, v| v.0 != h);
        self.hosts[h].sockets.clear();
        self.hosts[h].inc += 1;
        self.settle();
        Ok(())
    }

    /// A crashed host starts again: fresh sockets from its definition.
    pub fn restart(&mut self, host: &str) -> Result<(), SimError> {
        let &h = self
            .host_ix
            .get(host)
            .ok_or_else(|| SimError::NoSuchHost(host.to_owned()))?;
        if self.hosts[h].up {
            return Ok(());
        }
        self.note(h, None, What::Restart);
        self.start_host(h)?;
        self.settle();
        Ok(())
    }

    /// The listener of socket `name` on `addr` closes (its pipes close; peers see them
    /// go) and binds again after `down`.
    pub fn restart_listener(
        &mut self,
        name: &str,
        addr: &str,
        down: Duration,
    ) -> Result<(), SimError> {
        let (h, s) = self.find_up(name)?;
        let inc = self.hosts[h].inc;
        let ep = self.hosts[h].sockets[s]
            .listeners
            .iter()
            .position(|l| l.addr == addr)
            .ok_or_else(|| SimError::Config(format!("{name} does not listen on {addr}")))?;
        self.hosts[h].sockets[s].listeners[ep].bound = false;
        self.bound.remove(addr);
        self.note(
            h,
            Some(s),
            What::ListenerDown {
                addr: addr.to_owned(),
            },
        );
        let ids: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.ends[1].is_some_and(|e| {
                    e.host == h && e.sock == s && e.ep == EpRef::Listen(ep) && !e.closed
                })
            })
            .map(|(&id, _)| id)
            .collect();
        for c in ids {
            self.close_conn(c, 1, "listener_closed");
        }
        self.schedule(self.now + down, Ev::ListenerUp { h, s, inc, ep });
        self.settle();
        Ok(())
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

    fn net_drop(&mut self, h: usize, reason: &'static str) {
        *self.net_drops.entry(reason).or_default() += 1;
        self.note(
            h,
            None,
            What::Drop {
                reason: reason.to_owned(),
                count: 1,
            },
        );
    }

    fn start_host(&mut self, h: usize) -> Result<(), SimError> {
        let def = self.hosts[h].def.clone();
        let inc = self.hosts[h].inc;
        let mut socks = Vec::new();
        for sd in &def.sockets {
            let seed = self.rng.next_u64();
            let mut srng = Rng::new(seed);
            let ty = sd.socket_type()?;
            let mut proto = AnyProtocol::new(ty, sd.config(srng.next_u64())?);
            if let AnyProtocol::Sub(sub) = &mut proto {
                for t in &sd.subscribe {
                    sub.subscribe(t.as_bytes());
                }
            }
            let alloc = PipeIdAllocator::new(&mut srng);
            let listeners = sd
                .listen
                .iter()
                .map(|e| {
                    Ok(Listener {
                        addr: e.addr.clone(),
                        info: e.pipe_info()?,
                        bound: false,
                    })
                })
                .collect::<Result<Vec<_>, SimError>>()?;
            let dialers = sd
                .dial
                .iter()
                .map(|e| {
                    let min = e
                        .reconnect_min_ms
                        .map_or(sp_proto::backoff::DEFAULT_RECONNECT_MIN, ms);
                    let max = e
                        .reconnect_max_ms
                        .map_or(sp_proto::backoff::DEFAULT_RECONNECT_MAX, ms);
                    let mut backoff = Backoff::new(min, max, srng.next_u64());
                    backoff.set_jitter(e.reconnect_jitter.unwrap_or(true));
                    Ok(Dialer {
                        addr: e.addr.clone(),
                        target: None,
                        info: e.pipe_info()?,
                        backoff,
                        conn: None,
                    })
                })
                .collect::<Result<Vec<_>, SimError>>()?;
            let full = format!("{}.{}", def.name, sd.name);
            self.rec.log(&full);
            socks.push(Sock {
                full,
                def: sd.clone(),
                proto,
                alloc,
                pipes: BTreeMap::new(),
                paused: BTreeSet::new(),
                listeners,
                dialers,
                armed: None,
                reply_pending: false,
                drops_seen: [0; DropReason::ALL.len()],
            });
        }
        let host = &mut self.hosts[h];
        host.sockets = socks;
        host.up = true;
        for s in 0..self.hosts[h].sockets.len() {
            for ep in 0..self.hosts[h].sockets[s].listeners.len() {
                self.bind(h, s, ep)?;
            }
            for ep in 0..self.hosts[h].sockets[s].dialers.len() {
                self.schedule(self.now, Ev::Dial { h, s, inc, ep });
            }
            self.dirty.insert((h, s));
        }
        Ok(())
    }

    fn bind(&mut self, h: usize, s: usize, ep: usize) -> Result<(), SimError> {
        let addr = self.hosts[h].sockets[s].listeners[ep].addr.clone();
        if let Some(&(oh, os, _)) = self.bound.get(&addr) {
            if (oh, os) != (h, s) {
                return Err(SimError::Config(format!("address {addr} already in use")));
            }
        }
        self.bound.insert(addr.clone(), (h, s, ep));
        self.hosts[h].sockets[s].listeners[ep].bound = true;
        self.note(h, Some(s), What::ListenerUp { addr });
        Ok(())
    }

    fn retire_socket_log(&mut self, h: usize, s: usize) {
        let sock = &self.hosts[h].sockets[s];
        let resends = sock.proto.stats().resends;
        let full = sock.full.clone();
        self.rec.log(&full).resends_before += resends;
    }

    fn link(&mut self, from: usize, to: usize) -> LinkDef {
        if let Some(l) = self.link_cache.get(&(from, to)) {
            return l.clone();
        }
        let l = self
            .links
            .resolve(&self.hosts[from].def.name, &self.hosts[to].def.name);
        self.link_cache.insert((from, to), l.clone());
        l
    }

    fn link_rng(&mut self, from: usize, to: usize) -> &mut Rng {
        if !self.link_rngs.contains_key(&(from, to)) {
            let r = self.rng.fork();
            self.link_rngs.insert((from, to), r);
        }
        self.link_rngs.get_mut(&(from, to)).expect("inserted above")
    }

    /// One-way delay for a frame from `from` to `to`: latency plus a jitter sample.
    fn delay(&mut self, from: usize, to: usize) -> Duration {
        let l = self.link(from, to);
        let jitter_us = (l.jitter_ms * 1000.0).round() as u64;
        let j = if jitter_us > 0 {
            self.link_rng(from, to).below(jitter_us + 1)
        } else {
            0
        };
        ms(l.latency_ms) + Duration::from_micros(j)
    }

    fn roll(&mut self, from: usize, to: usize, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let r = self.link_rng(from, to).below(1 << 53) as f64 / (1u64 << 53) as f64;
        r < p
    }

    fn is_blocked(&self, from: usize, to: usize) -> bool {
        self.blocked.contains(&(from, to))
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
            Ev::Reply { h, s, inc, body } => {
                let host = &self.hosts[h];
                if host.up && host.inc == inc {
                    self.hosts[h].sockets[s].reply_pending = false;
                    self.app_send(h, s, body);
                }
            }
            Ev::ListenerUp { h, s, inc, ep } => {
                let host = &self.hosts[h];
                if host.up && host.inc == inc {
                    // Cannot fail: this socket bound the address before.
                    let _ = self.bind(h, s, ep);
                }
            }
        }
    }

    fn on_timer(&mut self, h: usize, s: usize, inc: u64) {
        let host = &self.hosts[h];
        if !host.up || host.inc != inc {
            return;
        }
        let now = self.now;
        let sock = &mut self.hosts[h].sockets[s];
        if sock.proto.poll_timeout().is_some_and(|t| t <= now) {
            sock.armed = None;
            sock.proto.handle_timeout(now);
            self.note(h, Some(s), What::Timer);
            self.dirty.insert((h, s));
        }
    }

    fn on_dial(&mut self, h: usize, s: usize, inc: u64, ep: usize) {
        let host = &self.hosts[h];
        if !host.up || host.inc != inc {
            return;
        }
        let d = &self.hosts[h].sockets[s].dialers[ep];
        if d.conn.is_some() {
            return;
        }
        let addr = d.addr.clone();
        let target = self
            .host_ix
            .get(addr.split(':').next().unwrap_or(""))
            .copied();
        let Some(th) = target else {
            self.note(
                h,
                Some(s),
                What::ConnectFailed {
                    addr,
                    reason: "unknown_host",
                },
            );
            self.schedule_redial(h, s, ep);
            return;
        };
        let ty = self.hosts[h].sockets[s].proto.socket_type();
        let c = self.next_conn;
        self.next_conn += 1;
        self.hosts[h].sockets[s].dialers[ep].conn = Some(c);
        self.hosts[h].sockets[s].dialers[ep].target = Some(th);
        self.conns.insert(
            c,
            Conn {
                ends: [
                    Some(End {
                        host: h,
                        sock: s,
                        inc,
                        ep: EpRef::Dial(ep),
                        pipe: None,
                        closed: false,
                        ty,
                    }),
                    None,
                ],
                dirs: [Dir::default(), Dir::default()],
                target: th,
                addr,
            },
        );
        let d = self.delay(h, th);
        self.schedule(self.now + d, Ev::Syn { c });
    }

    fn on_syn(&mut self, c: ConnId) {
        let Some(conn) = self.conns.get(&c) else {
            return;
        };
        let Some(dialer) = conn.ends[0] else {
            return;
        };
        let th = conn.target;
        let addr = conn.addr.clone();
        let back = self.delay(th, dialer.host);
        if self.is_blocked(dialer.host, th) || self.is_blocked(th, dialer.host) {
            self.schedule(
                self.now + back,
                Ev::Refused {
                    c,
                    reason: "unreachable",
                },
            );
            return;
        }
        let listener = self.bound.get(&addr).copied();
        let Some((lh, ls, lep)) = listener.filter(|&(lh, ..)| self.hosts[lh].up) else {
            self.schedule(
                self.now + back,
                Ev::Refused {
                    c,
                    reason: "refused",
                },
            );
            return;
        };
        let ty = self.hosts[lh].sockets[ls].proto.socket_type();
        let inc = self.hosts[lh].inc;
        let arrival = self.now + back;
        let conn = self.conns.get_mut(&c).expect("checked above");
        conn.ends[1] = Some(End {
            host: lh,
            sock: ls,
            inc,
            ep: EpRef::Listen(lep),
            pipe: None,
            closed: false,
            ty,
        });
        conn.dirs[1].last_arrival = arrival;
        self.schedule(arrival, Ev::Header { c, to: 0 });
    }

    fn on_refused(&mut self, c: ConnId, reason: &'static str) {
        let Some(conn) = self.conns.remove(&c) else {
            return;
        };
        let Some(e) = conn.ends[0] else {
            return;
        };
        if !self.end_alive(&e) {
            return;
        }
        let EpRef::Dial(ep) = e.ep else {
            return;
        };
        let addr = conn.addr.clone();
        self.note(e.host, Some(e.sock), What::ConnectFailed { addr, reason });
        self.hosts[e.host].sockets[e.sock].dialers[ep].conn = None;
        self.schedule_redial(e.host, e.sock, ep);
    }

    fn schedule_redial(&mut self, h: usize, s: usize, ep: usize) {
        let inc = self.hosts[h].inc;
        let d = &mut self.hosts[h].sockets[s].dialers[ep];
        let delay = d.backoff.next_delay();
        let addr = d.addr.clone();
        self.note(h, Some(s), What::Backoff { addr, delay });
        self.schedule(self.now + delay, Ev::Dial { h, s, inc, ep });
    }

    /// The peer's 8-byte SP header arrives at end `to`: check it with the real handshake
    /// codec, attach the pipe, and (dialer side) send our header back.
    fn on_header(&mut self, c: ConnId, to: usize) {
        let Some(conn) = self.conns.get(&c) else {
            return;
        };
        let (Some(me), Some(peer)) = (conn.ends[to], conn.ends[1 - to]) else {
            return;
        };
        if !self.end_alive(&me) {
            return;
        }
        let now = self.now;
        let peer_header = Handshake::new(peer.ty, now, HANDSHAKE_TIMEOUT).local_header();
        let mut hs = Handshake::new(me.ty, now, HANDSHAKE_TIMEOUT);
        let peer_name = self.end_name(&peer);
        let checked = match hs.feed(&peer_header) {
            Ok((_, Some(t))) => me.ty.accepts_peer_id(t.wire_id()),
            _ => false,
        };
        if !checked {
            let full = self.hosts[me.host].sockets[me.sock].full.clone();
            self.rec.log(&full).refused += 1;
            self.note(
                me.host,
                Some(me.sock),
                What::Refused {
                    peer: peer_name,
                    reason: "bad_peer",
                },
            );
            self.close_conn(c, to, "bad_peer");
            return;
        }
        let sock = &mut self.hosts[me.host].sockets[me.sock];
        let info = match me.ep {
            EpRef::Listen(i) => sock.listeners[i].info,
            EpRef::Dial(i) => sock.dialers[i].info,
        };
        let pipe = sock.alloc.allocate();
        if let Err(e) = sock.proto.add_pipe(now, pipe, info) {
            sock.alloc.release(pipe);
            let reason = match e {
                sp_proto::PipeRefused::Busy => "busy",
                _ => "duplicate",
            };
            self.dirty.insert((me.host, me.sock));
            let full = self.hosts[me.host].sockets[me.sock].full.clone();
            self.rec.log(&full).refused += 1;
            self.note(
                me.host,
                Some(me.sock),
                What::Refused {
                    peer: peer_name,
                    reason,
                },
            );
            self.close_conn(c, to, reason);
            return;
        }
        sock.pipes.insert(pipe, (c, to));
        let full = sock.full.clone();
        self.dirty.insert((me.host, me.sock));
        if let Some(conn) = self.conns.get_mut(&c) {
            if let Some(e) = conn.ends[to].as_mut() {
                e.pipe = Some(pipe);
            }
        }
        self.rec.log(&full).connects.push(now);
        self.note(
            me.host,
            Some(me.sock),
            What::Connect {
                peer: peer_name,
                pipe,
            },
        );
        if let EpRef::Dial(i) = me.ep {
            self.hosts[me.host].sockets[me.sock].dialers[i]
                .backoff
                .reset();
            let d = self.delay(me.host, peer.host);
            let conn = self.conns.get_mut(&c).expect("checked above");
            let at = (now + d).max(conn.dirs[to].last_arrival);
            conn.dirs[to].last_arrival = at;
            self.schedule(at, Ev::Header { c, to: 1 - to });
        }
    }

    /// Closes end `end` of connection `c` now and tells the other end after one link
    /// delay (after the frames already on their way, as a FIN follows the data).
    fn close_conn(&mut self, c: ConnId, end: usize, reason: &'static str) {
        self.close_end(c, end, reason);
        let Some(conn) = self.conns.get(&c) else {
            return;
        };
        let (Some(me), Some(peer)) = (conn.ends[end], conn.ends[1 - end]) else {
            return;
        };
        if peer.closed {
            return;
        }
        let last = conn.dirs[end].last_arrival;
        let d = self.delay(me.host, peer.host);
        self.schedule((self.now + d).max(last), Ev::Fin { c, to: 1 - end });
    }

    /// End `end` of `c` is gone: remove its pipe, drop what waited for it, and let a
    /// dialer plan its next attempt.
    fn close_end(&mut self, c: ConnId, end: usize, reason: &'static str) {
        let Some(conn) = self.conns.get_mut(&c) else {
            return;
        };
        let Some(e) = conn.ends[end].as_mut() else {
            return;
        };
        if e.closed {
            return;
        }
        e.closed = true;
        let e = *e;
        let lost = conn.dirs[1 - end].backlog.len();
        conn.dirs[1 - end].backlog.clear();
        let peer = conn.ends[1 - end];
        let both_closed = conn.ends.iter().all(|x| x.is_none_or(|x| x.closed));
        if both_closed {
            self.conns.remove(&c);
        }
        self.gone.entry(c).or_insert("conn_closed");
        let peer_name = peer.map(|p| self.end_name(&p));
        for _ in 0..lost {
            self.net_drop(e.host, "conn_closed");
        }
        let host = &self.hosts[e.host];
        if !host.up || host.inc != e.inc {
            return;
        }
        let now = self.now;
        if let Some(pipe) = e.pipe {
            let sock = &mut self.hosts[e.host].sockets[e.sock];
            sock.pipes.remove(&pipe);
            sock.paused.remove(&pipe);
            sock.alloc.release(pipe);
            sock.proto.remove_pipe(now, pipe);
            self.dirty.insert((e.host, e.sock));
            self.note(
                e.host,
                Some(e.sock),
                What::Disconnect {
                    peer: peer_name.unwrap_or_default(),
                    pipe,
                    reason,
                },
            );
        }
        if let EpRef::Dial(ep) = e.ep {
            let d = &mut self.hosts[e.host].sockets[e.sock].dialers[ep];
            if d.conn == Some(c) {
                d.conn = None;
                if e.pipe.is_none() {
                    let addr = d.addr.clone();
                    self.note(e.host, Some(e.sock), What::ConnectFailed { addr, reason });
                }
                self.schedule_redial(e.host, e.sock, ep);
            }
        }
    }

    fn on_frame(&mut self, c: ConnId, to: usize, bytes: Bytes, counted: bool) {
        let target = self.conns.get(&c).and_then(|cn| cn.ends[to]);
        let Some(me) = target.filter(|e| self.end_alive(e) && e.pipe.is_some()) else {
            if counted {
                if let Some(cn) = self.conns.get_mut(&c) {
                    cn.dirs[1 - to].inflight = cn.dirs[1 - to].inflight.saturating_sub(1);
                }
            }
            let h = target
                .map(|e| e.host)
                .or_else(|| self.conns.get(&c).map(|cn| cn.target));
            if let Some(h) = h {
                let reason = if self.hosts[h].up {
                    self.gone.get(&c).copied().unwrap_or("conn_closed")
                } else {
                    "host_down"
                };
                self.net_drop(h, reason);
            } else {
                let reason = self.gone.get(&c).copied().unwrap_or("conn_closed");
                *self.net_drops.entry(reason).or_default() += 1;
                self.note_net(What::Drop {
                    reason: reason.to_owned(),
                    count: 1,
                });
            }
            return;
        };
        let pipe = me.pipe.expect("filtered above");
        if self.hosts[me.host].sockets[me.sock].paused.contains(&pipe) {
            if let Some(cn) = self.conns.get_mut(&c) {
                cn.dirs[1 - to].backlog.push_back((bytes, counted));
            }
            return;
        }
        self.deliver(c, to, me, bytes, counted);
    }

    /// Decodes one frame with the real codec and hands it to the protocol.
    fn deliver(&mut self, c: ConnId, to: usize, me: End, bytes: Bytes, counted: bool) {
        let pipe = me.pipe.expect("only attached ends receive");
        let mut buf = BytesMut::from(&bytes[..]);
        let mut dec = FrameDecoder::new(FrameFormat::Tcp, MaxRecvSize::Unlimited);
        let Ok(Some(payload)) = dec.decode(&mut buf) else {
            self.net_drop(me.host, "bad_frame");
            self.close_conn(c, to, "bad_frame");
            return;
        };
        if self.rec.tracing {
            let from = self
                .conns
                .get(&c)
                .and_then(|cn| cn.ends[1 - to])
                .map(|p| self.end_name(&p))
                .unwrap_or_default();
            self.note(
                me.host,
                Some(me.sock),
                What::Deliver {
                    from,
                    len: payload.len(),
                },
            );
        }
        self.frames += 1;
        let now = self.now;
        self.hosts[me.host].sockets[me.sock]
            .proto
            .handle_message(now, pipe, payload);
        self.dirty.insert((me.host, me.sock));
        if counted {
            if let Some(cn) = self.conns.get_mut(&c) {
                cn.dirs[1 - to].inflight = cn.dirs[1 - to].inflight.saturating_sub(1);
            }
            self.try_credit(c, 1 - to);
        }
    }

    /// Gives the writer of direction `dir` its writability back if the link has room.
    fn try_credit(&mut self, c: ConnId, dir: usize) {
        let Some(conn) = self.conns.get(&c) else {
            return;
        };
        let Some(me) = conn.ends[dir] else {
            return;
        };
        let Some(peer) = conn.ends[1 - dir] else {
            return;
        };
        let (owed, busy_until, inflight) = (
            conn.dirs[dir].owed,
            conn.dirs[dir].busy_until,
            conn.dirs[dir].inflight,
        );
        if !owed || busy_until > self.now || !self.end_alive(&me) {
            return;
        }
        let cap = self.link(me.host, peer.host).capacity_frames;
        if inflight >= cap {
            return;
        }
        let Some(pipe) = me.pipe else {
            return;
        };
        if let Some(cn) = self.conns.get_mut(&c) {
            cn.dirs[dir].owed = false;
        }
        let now = self.now;
        self.hosts[me.host].sockets[me.sock]
            .proto
            .handle_writable(now, pipe);
        self.dirty.insert((me.host, me.sock));
    }

    /// A protocol wrote `payload` on the pipe of end `from` of `c`.
    fn transmit(&mut self, c: ConnId, from: usize, framed: Bytes) {
        let Some(conn) = self.conns.get(&c) else {
            return;
        };
        let (Some(me), Some(peer)) = (conn.ends[from], conn.ends[1 - from]) else {
            return;
        };
        let (fh, th) = (me.host, peer.host);
        let link = self.link(fh, th);
        if let Some(cn) = self.conns.get_mut(&c) {
            cn.dirs[from].owed = true;
        }
        let lost = if self.is_blocked(fh, th) {
            Some("partition")
        } else if self.roll(fh, th, link.loss) {
            Some("loss")
        } else {
            None
        };
        let now = self.now;
        if let Some(reason) = lost {
            self.net_drop(fh, reason);
            self.try_credit(c, from);
            return;
        }
        let ser = (framed.len() as u64)
            .saturating_mul(1_000_000_000)
            .checked_div(link.rate_bytes_per_s)
            .map_or(Duration::ZERO, Duration::from_nanos);
        let delay = self.delay(fh, th);
        let reorder = self.roll(fh, th, link.reorder);
        let dup = self.roll(fh, th, link.duplicate);
        let dup_delay = if dup { Some(self.delay(fh, th)) } else { None };
        let cn = self.conns.get_mut(&c).expect("checked above");
        let dir = &mut cn.dirs[from];
        let depart = dir.busy_until.max(now) + ser;
        dir.busy_until = depart;
        let mut arrival = depart + delay;
        if !reorder {
            arrival = arrival.max(dir.last_arrival);
        }
        dir.last_arrival = dir.last_arrival.max(arrival);
        dir.inflight += 1;
        let to = 1 - from;
        if let Some(d2) = dup_delay {
            self.schedule(
                depart + d2.max(delay),
                Ev::Frame {
                    c,
                    to,
                    bytes: framed.clone(),
                    counted: false,
                },
            );
        }
        self.schedule(
            arrival,
            Ev::Frame {
                c,
                to,
                bytes: framed,
                counted: true,
            },
        );
        if depart > now {
            self.schedule(depart, Ev::Depart { c, dir: from });
        } else {
            self.try_credit(c, from);
        }
    }

    fn app_send(&mut self, h: usize, s: usize, body: Bytes) -> bool {
        let now = self.now;
        let sock = &mut self.hosts[h].sockets[s];
        let r = sock.proto.send(now, Message::new(body.clone()));
        let survey = sock.proto.socket_type() == SocketType::Surveyor && !sock.def.raw;
        self.dirty.insert((h, s));
        let refused = r.as_ref().err().map(|e| format!("{:?}", e.kind));
        self.rec.send(now, &sock.full, body, refused, survey);
        r.is_ok()
    }

    fn record_recv(&mut self, h: usize, s: usize, m: Message) {
        let sock = &self.hosts[h].sockets[s];
        let from = m
            .pipe
            .and_then(|p| sock.pipes.get(&p))
            .and_then(|&(c, end)| self.conns.get(&c).and_then(|cn| cn.ends[1 - end]));
        let from_host = from.map(|e| self.hosts[e.host].def.name.clone());
        let from_name = from.filter(|_| self.rec.tracing).map(|e| self.end_name(&e));
        let ty = sock.proto.socket_type();
        let survey = ty == SocketType::Surveyor;
        self.rec.recv(
            self.now,
            &sock.full,
            m.body.clone(),
            survey,
            from_host,
            from_name,
        );
        let sock = &self.hosts[h].sockets[s];
        if let Some(reply) = sock.def.replier(ty) {
            let body = reply.answer(&m.body);
            let delay = ms(reply.delay_ms);
            if delay.is_zero() {
                self.app_send(h, s, body);
            } else {
                let inc = self.hosts[h].inc;
                self.hosts[h].sockets[s].reply_pending = true;
                self.schedule(self.now + delay, Ev::Reply { h, s, inc, body });
            }
        }
    }

    /// Drains every socket touched since the last settle, until all are quiet.
    fn settle(&mut self) {
        while let Some((h, s)) = self.dirty.pop_first() {
            if self.hosts[h].up && s < self.hosts[h].sockets.len() {
                self.drain(h, s);
            }
        }
    }

    /// The sans-IO contract: after any input, drain transmits and events until both are
    /// empty, let the application receive, then arm the socket's timer.
    fn drain(&mut self, h: usize, s: usize) {
        for _ in 0..1_000_000 {
            let mut progress = false;
            while let Some(t) = self.hosts[h].sockets[s].proto.poll_transmit() {
                progress = true;
                let sock = &self.hosts[h].sockets[s];
                let Some(&(c, end)) = sock.pipes.get(&t.pipe) else {
                    continue;
                };
                let mut framed = BytesMut::new();
                encode_frame(FrameFormat::Tcp, &t.msg.header, &t.msg.body, &mut framed);
                self.transmit(c, end, framed.freeze());
            }
            let mut resumed = Vec::new();
            while let Some(ev) = self.hosts[h].sockets[s].proto.poll_event() {
                progress = true;
                match ev {
                    Event::PausePipe(p) => {
                        self.hosts[h].sockets[s].paused.insert(p);
                    }
                    Event::ResumePipe(p) => {
                        self.hosts[h].sockets[s].paused.remove(&p);
                        resumed.push(p);
                    }
                    Event::RequestResent { .. } => {
                        self.note(h, Some(s), What::Event("request_resent"));
                    }
                    Event::SurveyExpired => {
                        self.note(h, Some(s), What::Event("survey_expired"));
                    }
                    _ => self.note(h, Some(s), What::Event("other")),
                }
            }
            for p in resumed {
                progress |= self.flush_backlog(h, s, p);
            }
            let sock = &self.hosts[h].sockets[s];
            if sock.def.recv == RecvMode::Auto
                && sock.proto.socket_type().can_recv()
                && !sock.reply_pending
            {
                let now = self.now;
                while !self.hosts[h].sockets[s].reply_pending {
                    let Ok(m) = self.hosts[h].sockets[s].proto.recv(now) else {
                        break;
                    };
                    progress = true;
                    self.record_recv(h, s, m);
                }
            }
            if !progress {
                break;
            }
        }
        self.note_drops(h, s);
        let now = self.now;
        let inc = self.hosts[h].inc;
        let sock = &mut self.hosts[h].sockets[s];
        if let Some(t) = sock.proto.poll_timeout() {
            if sock.armed != Some(t) {
                sock.armed = Some(t);
                self.schedule(t.max(now), Ev::Timer { h, s, inc });
            }
        }
    }

    fn flush_backlog(&mut self, h: usize, s: usize, pipe: PipeId) -> bool {
        let Some(&(c, to)) = self.hosts[h].sockets[s].pipes.get(&pipe) else {
            return false;
        };
        let mut any = false;
        while !self.hosts[h].sockets[s].paused.contains(&pipe) {
            let Some(cn) = self.conns.get_mut(&c) else {
                break;
            };
            let Some((bytes, counted)) = cn.dirs[1 - to].backlog.pop_front() else {
                break;
            };
            let Some(me) = cn.ends[to] else {
                break;
            };
            any = true;
            self.deliver(c, to, me, bytes, counted);
        }
        any
    }

    fn note_drops(&mut self, h: usize, s: usize) {
        let sock = &mut self.hosts[h].sockets[s];
        let stats = sock.proto.stats();
        let mut new = Vec::new();
        for (i, r) in DropReason::ALL.into_iter().enumerate() {
            let n = stats.dropped(r);
            if n > sock.drops_seen[i] {
                new.push((r, n - sock.drops_seen[i]));
                sock.drops_seen[i] = n;
            }
        }
        if new.is_empty() {
            return;
        }
        let full = sock.full.clone();
        let log = self.rec.log(&full);
        for &(r, n) in &new {
            *log.drops.entry(r).or_default() += n;
        }
        for (r, n) in new {
            self.note(
                h,
                Some(s),
                What::Drop {
                    reason: format!("proto:{}", r.name()),
                    count: n,
                },
            );
        }
    }
}
