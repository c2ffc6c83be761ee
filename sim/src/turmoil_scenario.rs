//! Layer 2: the scenario files on the real `sp-net` sockets over turmoil.
//!
//! [`run`] builds a turmoil simulation from a [`Scenario`]: one turmoil host per scenario
//! host (hosts with `count` expand as on layer 1), and per socket an `sp-net`
//! [`Socket::with_config`] over a [`TurmoilNetwork`] of that host, with the socket's type,
//! options, raw flag and a seed derived from the run's seed. Endpoints listen on
//! `tcp://*:port` and dial `tcp://host:port` with their priorities and reconnect delays.
//! Sockets in `recv = "auto"` mode receive in a task (REP and RESPONDENT answer as the
//! scenario says, after the reply delay); every other timeline action is posted to its
//! host and performed there at its virtual time (within turmoil's 1 ms tick). The same
//! expectation code as layer 1 then checks what the real sockets did.
//!
//! # What maps, and what is refused
//!
//! Two-way partitions cut the turmoil link and reset the connections crossing it
//! ([`Fabric`]); crashes and restarts are turmoil's `crash` and `bounce`; link latency and
//! jitter become turmoil's per-link latency range. Anything without a faithful model is
//! refused before the run with [`TurmoilError::Unsupported`], naming each step,
//! expectation or link setting and why, never skipped silently:
//! one-way partitions and one-way link settings, loss / duplication / reordering / rate /
//! capacity (turmoil's TCP does not retransmit), dialers without jitter, more than
//! [`MAX_HOSTS`] hosts (turmoil is too slow for them), `net_drops` expectations (turmoil
//! counts no drops) and `from_host` filters. Listener restarts close the listening
//! endpoint (and its connections) and bind it again after the down time.
//! A scenario may restrict steps and expectations to a layer (`layers = ["proto"]`);
//! those are listed in [`Report::skipped`].
//!
//! The counters differ in one respect: `refused` counts pipes the protocol refused
//! (`sp-net`'s `pipes_refused`); handshake failures are not included.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use sp_net::stats::PipeEvent;
use sp_net::{Socket, SocketOptions};
use sp_proto::{Instant, ProtoStats, SocketType};
use tokio::sync::{broadcast, Notify};

use crate::def::{host_matches, ms, EndpointDef, HostDef, LinkDef, RecvMode, SocketDef};
use crate::record::Recorder;
use crate::scenario::{
    check, on_layer, play, Action, Driver, Expect, Layer, Outcome, Report, Scenario,
};
use crate::scenario::{CheckResult, ScenarioError};
use crate::trace::What;
use crate::turmoil_net::{Fabric, TurmoilNetwork};
use crate::{Sent, SocketLog};

/// One part of a scenario layer 2 cannot run faithfully.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedItem {
    /// Which part: `step 1 at 300ms (partition, oneway)`, `expect 4 (net_drops)`,
    /// `links.default`, `host c socket push dial c:1`.
    pub what: String,
    /// Why it has no faithful model on turmoil.
    pub reason: &'static str,
}

impl fmt::Display for UnsupportedItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.reason)
    }
}

/// Why a scenario did not run on layer 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TurmoilError {
    /// The scenario uses actions, expectations or settings layer 2 does not model.
    Unsupported {
        /// The scenario's name.
        scenario: String,
        /// The file, if loaded from one.
        file: Option<PathBuf>,
        /// Every unsupported part, in file order.
        items: Vec<UnsupportedItem>,
    },
    /// The file could not be loaded or the run failed (bad definition, a host's
    /// software failed, turmoil stopped).
    Scenario(ScenarioError),
}

impl TurmoilError {
    /// The unsupported parts, if that is why the scenario did not run.
    pub fn unsupported(&self) -> Option<&[UnsupportedItem]> {
        match self {
            Self::Unsupported { items, .. } => Some(items),
            Self::Scenario(_) => None,
        }
    }
}

impl fmt::Display for TurmoilError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported {
                scenario,
                file,
                items,
            } => {
                if let Some(p) = file {
                    write!(f, "{}: ", p.display())?;
                }
                write!(f, "{scenario} is unsupported on layer 2 (turmoil): ")?;
                let v: Vec<String> = items.iter().map(ToString::to_string).collect();
                f.write_str(&v.join("; "))
            }
            Self::Scenario(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TurmoilError {}

impl From<ScenarioError> for TurmoilError {
    fn from(e: ScenarioError) -> Self {
        Self::Scenario(e)
    }
}

const ONEWAY: &str = "one-way partitions have no faithful model on turmoil's TCP";
const ONEWAY_LINK: &str = "one-way link settings have no model (turmoil links are symmetric)";
const LINK_FAULTS: &str = "loss, duplication, reordering, rate and capacity limits are not \
     modelled (turmoil's TCP does not retransmit)";
const TOO_MANY_HOSTS: &str = "more hosts than layer 2 runs in reasonable time (turmoil polls \
     every host's runtime on each 1 ms tick)";
/// The most hosts layer 2 runs; larger scenarios are refused as unsupported.
pub const MAX_HOSTS: usize = 64;
const NO_JITTER: &str = "sp-net dialers always jitter their reconnect delays";
const NET_DROPS: &str = "turmoil counts no network drops";
const FROM_HOST: &str = "the sending host of a message is not recorded on layer 2";

fn faults(l: &LinkDef) -> bool {
    let d = LinkDef::default();
    l.loss != 0.0
        || l.duplicate != 0.0
        || l.reorder != 0.0
        || l.rate_bytes_per_s != 0
        || l.capacity_frames != d.capacity_frames
}

/// The parts of `sc` that layer 2 cannot run (empty: it can run all of it). Steps and
/// expectations the scenario restricts to other layers are not considered.
pub fn unsupported(sc: &Scenario) -> Vec<UnsupportedItem> {
    let mut v = Vec::new();
    let mut item = |what: String, reason| v.push(UnsupportedItem { what, reason });
    let hosts: usize = sc.hosts.iter().map(|h| h.count.unwrap_or(1)).sum();
    if hosts > MAX_HOSTS {
        item(
            format!("{hosts} hosts (at most {MAX_HOSTS})"),
            TOO_MANY_HOSTS,
        );
    }
    if faults(&sc.links.default) {
        item("links.default".into(), LINK_FAULTS);
    }
    for (i, p) in sc.links.pairs.iter().enumerate() {
        let what = || format!("links.pair {i} ({} - {})", p.a, p.b);
        if p.oneway {
            item(what(), ONEWAY_LINK);
        }
        if faults(&p.apply(&sc.links.default)) {
            item(what(), LINK_FAULTS);
        }
    }
    for h in &sc.hosts {
        for s in &h.sockets {
            for e in &s.dial {
                if e.reconnect_jitter == Some(false) {
                    item(
                        format!("host {} socket {} dial {}", h.name, s.name, e.addr),
                        NO_JITTER,
                    );
                }
            }
        }
    }
    for (i, st) in sc.steps.iter().enumerate() {
        if !on_layer(st.layers.as_deref(), Layer::Turmoil) {
            continue;
        }
        let what =
            |extra: &str| format!("step {i} at {}ms ({}{extra})", st.at_ms, st.action.name());
        match &st.action {
            Action::Partition { oneway: true, .. } | Action::Repair { oneway: true, .. } => {
                item(what(", oneway"), ONEWAY);
            }
            _ => {}
        }
    }
    for (i, e) in sc.expects.iter().enumerate() {
        if !on_layer(e.layers.as_deref(), Layer::Turmoil) {
            continue;
        }
        let what = format!("expect {i}: {}", e.what());
        match &e.check {
            Expect::NetDrops { .. } => item(what, NET_DROPS),
            Expect::Received(c) if c.from_host.is_some() => item(what, FROM_HOST),
            _ => {}
        }
    }
    v
}

/// Loads `path` and runs it on layer 2 with `seed`.
pub fn run(path: impl AsRef<Path>, seed: u64) -> Result<Report, TurmoilError> {
    let path = path.as_ref();
    let sc = Scenario::load(path)?;
    match run_scenario(&sc, seed) {
        Ok(mut r) => {
            r.file = Some(path.to_owned());
            Ok(r)
        }
        Err(TurmoilError::Unsupported {
            scenario, items, ..
        }) => Err(TurmoilError::Unsupported {
            scenario,
            file: Some(path.to_owned()),
            items,
        }),
        Err(TurmoilError::Scenario(mut e)) => {
            e.file = Some(path.to_owned());
            Err(TurmoilError::Scenario(e))
        }
    }
}

/// Runs a parsed scenario on layer 2 with `seed` and checks its expectations.
pub fn run_scenario(sc: &Scenario, seed: u64) -> Result<Report, TurmoilError> {
    let items = unsupported(sc);
    if !items.is_empty() {
        return Err(TurmoilError::Unsupported {
            scenario: sc.name.clone(),
            file: None,
            items,
        });
    }
    Run::new(sc, seed)?.play()
}

/// Virtual time inside a host.
fn now() -> Instant {
    Instant::ZERO + turmoil::sim_elapsed().unwrap_or_default()
}

/// What the hosts record, shared with the runner (every host runs on this thread).
#[derive(Default)]
struct Shared {
    rec: Recorder,
    /// Every incarnation of every socket, oldest first.
    sockets: BTreeMap<String, Vec<Socket>>,
}

#[derive(Clone, Default)]
struct SharedRef(Arc<Mutex<Shared>>);

impl SharedRef {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn note(&self, at: Instant, node: &str, socket: Option<&str>, what: What) {
        self.lock().rec.note(at, node, socket, what);
    }

    fn note_socket(&self, at: Instant, full: &str, what: What) {
        self.lock().rec.note_socket(at, full, what);
    }
}

/// A command the runner posts to a host, performed inside the host's runtime.
enum Cmd {
    Send {
        socket: String,
        body: Bytes,
    },
    Subscribe {
        socket: String,
        topic: String,
        on: bool,
    },
    Recv {
        socket: String,
        max: usize,
    },
    RestartListener {
        socket: String,
        addr: String,
        down: Duration,
    },
}

#[derive(Default)]
struct Mailbox {
    queue: Mutex<VecDeque<Cmd>>,
    notify: Notify,
}

impl Mailbox {
    fn post(&self, c: Cmd) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(c);
        self.notify.notify_one();
    }

    fn pop(&self) -> Option<Cmd> {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    fn clear(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The listeners of one host incarnation, by local socket name and address, so that a
/// listener restart can close one and bind it again.
type Listeners = Arc<Mutex<BTreeMap<(String, String), sp_net::Endpoint>>>;

/// One socket of a running host incarnation.
struct Local {
    sock: Socket,
    full: String,
    kick: Arc<Notify>,
}

fn socket_seed(seed: u64, host: usize, sock: usize, inc: u64) -> u64 {
    let mut z = seed ^ ((host as u64) << 32) ^ ((sock as u64) << 16) ^ inc;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn port(ep: &EndpointDef) -> Result<u16, String> {
    ep.addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .ok_or_else(|| format!("address {:?} is not host:port", ep.addr))
}

fn endpoint_options(base: &SocketOptions, ep: &EndpointDef) -> Result<SocketOptions, String> {
    let mut o = base.clone();
    let info = ep.pipe_info().map_err(|e| e.to_string())?;
    o.send_priority = info.send_priority;
    o.recv_priority = info.recv_priority;
    if let Some(v) = ep.reconnect_min_ms {
        o.reconnect_min = ms(v);
    }
    if let Some(v) = ep.reconnect_max_ms {
        o.reconnect_max = ms(v);
    }
    Ok(o)
}

/// The application sends `body` on `sock` (without waiting, as layer 1 does).
fn app_send(shared: &SharedRef, l: &Local, body: Bytes) {
    let refused = l
        .sock
        .try_send(body.clone())
        .err()
        .map(|e| format!("{e:?}"));
    let survey = l.sock.socket_type() == SocketType::Surveyor && !l.sock.is_raw();
    shared
        .lock()
        .rec
        .send(now(), &l.full, body, refused, survey);
    l.kick.notify_waiters();
}

fn record_recv(shared: &SharedRef, full: &str, ty: SocketType, body: &Bytes) {
    let survey = ty == SocketType::Surveyor;
    shared
        .lock()
        .rec
        .recv(now(), full, body.clone(), survey, None, None);
}

/// An application always in `recv`; REP and RESPONDENT answer as the definition says.
async fn recv_loop(shared: SharedRef, l: Local, def: SocketDef) {
    let ty = l.sock.socket_type();
    let reply = def.replier(ty).cloned();
    loop {
        // Created before `recv`, so a send made while it fails is not missed.
        let kicked = l.kick.notified();
        match l.sock.recv().await {
            Ok(m) => {
                record_recv(&shared, &l.full, ty, &m.body);
                if let Some(r) = &reply {
                    let delay = ms(r.delay_ms);
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    app_send(&shared, &l, r.answer(&m.body));
                }
            }
            Err(sp_net::Error::Closed) => return,
            // Nothing to receive in this state (REQ without a request, a survey past
            // its deadline): wait for the application's next send.
            Err(_) => kicked.await,
        }
    }
}

/// Records when pipes attach (for `connect_rate` and `connects`).
async fn watch_pipes(shared: SharedRef, full: String, mut rx: broadcast::Receiver<PipeEvent>) {
    loop {
        match rx.recv().await {
            Ok(PipeEvent::Added { pipe, peer }) => {
                let at = now();
                let mut sh = shared.lock();
                sh.rec.log(&full).connects.push(at);
                sh.rec.note_socket(at, &full, What::Connect { peer, pipe });
            }
            Ok(PipeEvent::Removed { stats }) => {
                let what = What::Disconnect {
                    peer: stats.peer,
                    pipe: stats.pipe,
                    reason: "removed",
                };
                shared.note_socket(now(), &full, what);
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// One incarnation of a host's software.
async fn host_main(
    def: HostDef,
    index: usize,
    inc: u64,
    seed: u64,
    shared: SharedRef,
    fabric: Arc<Fabric>,
    mailbox: Arc<Mailbox>,
) -> turmoil::Result {
    let net = TurmoilNetwork::new(&fabric);
    let mut socks = BTreeMap::new();
    let listeners = Listeners::default();
    for (si, sd) in def.sockets.iter().enumerate() {
        let full = format!("{}.{}", def.name, sd.name);
        let ty = sd.socket_type()?;
        let sock = Socket::with_config(
            ty,
            sd.config(socket_seed(seed, index, si, inc))?,
            net.clone(),
        );
        {
            let mut sh = shared.lock();
            sh.sockets
                .entry(full.clone())
                .or_default()
                .push(sock.clone());
            sh.rec.log(&full);
        }
        tokio::spawn(watch_pipes(
            shared.clone(),
            full.clone(),
            sock.pipe_events(),
        ));
        let base = sock.options();
        for ep in &sd.listen {
            sock.set_options(endpoint_options(&base, ep)?);
            let e = sock.listen(&format!("tcp://*:{}", port(ep)?)).await?;
            listeners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((sd.name.clone(), ep.addr.clone()), e);
        }
        for ep in &sd.dial {
            sock.set_options(endpoint_options(&base, ep)?);
            sock.dial(&format!("tcp://{}:{}", ep.host(), port(ep)?))
                .await?;
        }
        sock.set_options(base);
        for t in &sd.subscribe {
            sock.subscribe(t.as_bytes())?;
        }
        let local = Local {
            sock,
            full,
            kick: Arc::new(Notify::new()),
        };
        if sd.recv == RecvMode::Auto && ty.can_recv() {
            let l = Local {
                sock: local.sock.clone(),
                full: local.full.clone(),
                kick: local.kick.clone(),
            };
            tokio::spawn(recv_loop(shared.clone(), l, sd.clone()));
        }
        socks.insert(sd.name.clone(), local);
    }
    loop {
        let posted = mailbox.notify.notified();
        while let Some(cmd) = mailbox.pop() {
            perform(&shared, &socks, &def, &listeners, cmd);
        }
        posted.await;
    }
}

fn perform(
    shared: &SharedRef,
    socks: &BTreeMap<String, Local>,
    def: &HostDef,
    listeners: &Listeners,
    cmd: Cmd,
) {
    match cmd {
        Cmd::Send { socket, body } => {
            if let Some(l) = socks.get(&socket) {
                app_send(shared, l, body);
            }
        }
        Cmd::Subscribe { socket, topic, on } => {
            if let Some(l) = socks.get(&socket) {
                let r = if on {
                    l.sock.subscribe(topic.as_bytes())
                } else {
                    l.sock.unsubscribe(topic.as_bytes())
                };
                let what = match r {
                    Ok(()) => What::Subscribe {
                        topic: Bytes::from(topic),
                        on,
                    },
                    Err(_) => What::Event("subscribe_failed"),
                };
                shared.note_socket(now(), &l.full, what);
            }
        }
        Cmd::Recv { socket, max } => {
            if let Some(l) = socks.get(&socket) {
                let ty = l.sock.socket_type();
                for _ in 0..max {
                    let Ok(m) = l.sock.try_recv() else { break };
                    record_recv(shared, &l.full, ty, &m.body);
                }
            }
        }
        Cmd::RestartListener { socket, addr, down } => {
            let key = (socket.clone(), addr.clone());
            let ep = def
                .sockets
                .iter()
                .find(|s| s.name == socket)
                .and_then(|s| s.listen.iter().find(|e| e.addr == addr));
            let old = listeners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            let (Some(l), Some(ep), Some(old)) = (socks.get(&socket), ep, old) else {
                let what = What::ListenerFailed {
                    addr,
                    reason: "no such listener".into(),
                };
                shared.note(now(), &def.name, Some(&socket), what);
                return;
            };
            // Closing the endpoint stops accepting and closes its connections.
            old.close();
            let what = What::ListenerDown { addr: addr.clone() };
            shared.note_socket(now(), &l.full, what);
            let (sock, full, shared, listeners, ep) = (
                l.sock.clone(),
                l.full.clone(),
                shared.clone(),
                listeners.clone(),
                ep.clone(),
            );
            tokio::spawn(async move {
                tokio::time::sleep(down).await;
                let base = sock.options();
                let bound = match (endpoint_options(&base, &ep), port(&ep)) {
                    (Ok(o), Ok(p)) => {
                        sock.set_options(o);
                        let r = sock.listen(&format!("tcp://*:{p}")).await;
                        sock.set_options(base);
                        r.map_err(|e| e.to_string())
                    }
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                match bound {
                    Ok(e) => {
                        listeners
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(key, e);
                        shared.note_socket(now(), &full, What::ListenerUp { addr });
                    }
                    Err(reason) => {
                        shared.note_socket(now(), &full, What::ListenerFailed { addr, reason });
                    }
                }
            });
        }
    }
}

/// A layer-2 run being played.
struct Run<'a> {
    sc: &'a Scenario,
    seed: u64,
    sim: turmoil::Sim<'static>,
    hosts: Vec<HostDef>,
    up: BTreeMap<String, bool>,
    mailboxes: BTreeMap<String, Arc<Mailbox>>,
    shared: SharedRef,
    fabric: Arc<Fabric>,
    steps: u64,
}

impl<'a> Run<'a> {
    fn err(&self, e: impl fmt::Display) -> TurmoilError {
        TurmoilError::Scenario(ScenarioError {
            file: None,
            seed: Some(self.seed),
            message: format!("{} (layer 2): {e}", self.sc.name),
        })
    }

    fn new(sc: &'a Scenario, seed: u64) -> Result<Self, TurmoilError> {
        let hosts: Vec<HostDef> = sc.hosts.iter().flat_map(HostDef::expand).collect();
        let links = &sc.links;
        let d = &links.default;
        let end = sc.end() - Instant::ZERO;
        // turmoil panics when a listener's SYN queue overflows; every dialer has at most
        // one connection attempt in flight, so room for all of them avoids that.
        let dialers: usize = hosts
            .iter()
            .flat_map(|h| &h.sockets)
            .map(|s| s.dial.len())
            .sum();
        let sim = turmoil::Builder::new()
            .rng_seed(seed)
            .tcp_capacity(64.max(2 * dialers + 16))
            .tick_duration(Duration::from_millis(1))
            .simulation_duration(end + Duration::from_secs(60))
            .min_message_latency(ms(d.latency_ms))
            .max_message_latency(ms(d.latency_ms + d.jitter_ms))
            .build();
        let mut run = Self {
            sc,
            seed,
            sim,
            hosts: Vec::new(),
            up: BTreeMap::new(),
            mailboxes: BTreeMap::new(),
            shared: SharedRef::default(),
            fabric: Fabric::new(),
            steps: 0,
        };
        let mut names = BTreeSet::new();
        for h in &hosts {
            if !names.insert(h.name.clone()) {
                return Err(run.err(format!("host {} defined twice", h.name)));
            }
            let mut local = BTreeSet::new();
            for s in &h.sockets {
                s.socket_type().map_err(|e| run.err(e))?;
                s.config(0).map_err(|e| run.err(e))?;
                if !local.insert(&s.name) {
                    return Err(run.err(format!("socket {}.{} defined twice", h.name, s.name)));
                }
                for e in s.listen.iter().chain(&s.dial) {
                    e.pipe_info().map_err(|e| run.err(e))?;
                    port(e).map_err(|e| run.err(e))?;
                }
            }
        }
        for (index, h) in hosts.iter().enumerate() {
            let mailbox = Arc::new(Mailbox::default());
            let incarnation = Arc::new(AtomicU64::new(0));
            let (def, shared, fabric, mb) = (
                h.clone(),
                run.shared.clone(),
                run.fabric.clone(),
                mailbox.clone(),
            );
            run.sim.host(h.name.as_str(), move || {
                let inc = incarnation.fetch_add(1, Ordering::SeqCst);
                host_main(
                    def.clone(),
                    index,
                    inc,
                    seed,
                    shared.clone(),
                    fabric.clone(),
                    mb.clone(),
                )
            });
            run.mailboxes.insert(h.name.clone(), mailbox);
            run.up.insert(h.name.clone(), true);
        }
        // Per-pair latency: only where an override changes the default.
        if !links.pairs.is_empty() {
            for (i, a) in hosts.iter().enumerate() {
                for b in &hosts[i + 1..] {
                    let l = links.resolve(&a.name, &b.name);
                    if l.latency_ms != d.latency_ms || l.jitter_ms != d.jitter_ms {
                        let (a, b) = (a.name.as_str(), b.name.as_str());
                        run.sim.set_link_latency(a, b, ms(l.latency_ms));
                        if l.jitter_ms > 0.0 {
                            run.sim.set_link_max_message_latency(
                                a,
                                b,
                                ms(l.latency_ms + l.jitter_ms),
                            );
                        }
                    }
                }
            }
        }
        run.hosts = hosts;
        Ok(run)
    }

    fn now(&self) -> Instant {
        Instant::ZERO + self.sim.elapsed()
    }

    /// The host and local socket name of `host.socket`, checked against the definitions.
    fn socket(
        &self,
        name: &str,
        want: Option<SocketType>,
    ) -> Result<(String, String), TurmoilError> {
        let (h, s) = name
            .split_once('.')
            .ok_or_else(|| self.err(format!("no socket {name:?}")))?;
        let def = self
            .hosts
            .iter()
            .find(|d| d.name == h)
            .and_then(|d| d.sockets.iter().find(|x| x.name == s))
            .ok_or_else(|| self.err(format!("no socket {name:?}")))?;
        if let Some(w) = want {
            let ty = def.socket_type().map_err(|e| self.err(e))?;
            if ty != w {
                return Err(self.err(format!("invalid definition: {name} is a {ty}, not a {w}")));
            }
        }
        Ok((h.to_owned(), s.to_owned()))
    }

    fn post(&self, host: &str, cmd: Cmd) {
        if self.up.get(host).copied().unwrap_or(false) {
            if let Some(m) = self.mailboxes.get(host) {
                m.post(cmd);
            }
        }
    }

    fn pairs(&self, a: &str, b: &str) -> Vec<(String, String)> {
        let mut v = BTreeSet::new();
        for x in &self.hosts {
            for y in &self.hosts {
                if x.name != y.name && host_matches(a, &x.name) && host_matches(b, &y.name) {
                    let (p, q) = if x.name < y.name { (x, y) } else { (y, x) };
                    v.insert((p.name.clone(), q.name.clone()));
                }
            }
        }
        v.into_iter().collect()
    }

    fn play(mut self) -> Result<Report, TurmoilError> {
        let sc = self.sc;
        play(&mut self, sc, Layer::Turmoil)?;
        let outcome = self.outcome();
        let checks: Vec<CheckResult> = sc
            .expects
            .iter()
            .filter(|e| on_layer(e.layers.as_deref(), Layer::Turmoil))
            .map(|e| check(&outcome, e))
            .collect();
        let trace = crate::trace::render(&self.shared.lock().rec.trace);
        Ok(Report {
            scenario: sc.name.clone(),
            file: None,
            seed: self.seed,
            end: self.now(),
            checks,
            events: self.steps,
            frames: outcome.frames,
            net_drops: BTreeMap::new(),
            trace,
            layer: Layer::Turmoil,
            skipped: sc.skipped_on(Layer::Turmoil),
        })
    }

    /// What the sockets did, read while the simulation (and its hosts) still exist.
    fn outcome(&self) -> TurmoilOutcome {
        let sh = self.shared.lock();
        let mut o = TurmoilOutcome {
            sent: sh.rec.sent.clone(),
            ..TurmoilOutcome::default()
        };
        for h in &self.hosts {
            let up = self.up.get(&h.name).copied().unwrap_or(false);
            for s in &h.sockets {
                let full = format!("{}.{}", h.name, s.name);
                let mut log = sh.rec.logs.get(&full).cloned().unwrap_or_default();
                let incs = sh.sockets.get(&full).map(Vec::as_slice).unwrap_or(&[]);
                let current = if up { incs.last() } else { None };
                let earlier = &incs[..incs.len() - usize::from(current.is_some())];
                for (k, sock) in incs.iter().enumerate() {
                    let st = sock.stats();
                    for (r, n) in st.protocol.drops() {
                        *log.drops.entry(r).or_default() += n;
                    }
                    log.refused += st.socket.pipes_refused;
                    o.frames += st.protocol.msgs_in;
                    if k < earlier.len() {
                        log.resends_before += st.protocol.resends;
                    }
                }
                if let Some(c) = current {
                    o.pipes.insert(full.clone(), c.pipe_count());
                    o.stats.insert(full.clone(), c.stats().protocol);
                }
                o.names.push(full.clone());
                o.logs.insert(full, log);
            }
        }
        o
    }
}

/// Layer 2: each action is posted to its host and performed there, or done to the
/// turmoil simulation itself (partitions, crashes).
impl Driver for Run<'_> {
    type Error = TurmoilError;

    fn advance(&mut self, t: Instant) -> Result<(), TurmoilError> {
        let target = t - Instant::ZERO;
        while self.sim.elapsed() < target {
            self.sim.step().map_err(|e| self.err(e))?;
            self.steps += 1;
        }
        Ok(())
    }

    fn send(
        &mut self,
        socket: &str,
        want: Option<SocketType>,
        body: Bytes,
    ) -> Result<(), TurmoilError> {
        let (h, s) = self.socket(socket, want)?;
        self.post(&h, Cmd::Send { socket: s, body });
        Ok(())
    }

    fn subscribe(&mut self, socket: &str, topic: &str, on: bool) -> Result<(), TurmoilError> {
        let (h, s) = self.socket(socket, Some(SocketType::Sub))?;
        let topic = topic.to_owned();
        self.post(
            &h,
            Cmd::Subscribe {
                socket: s,
                topic,
                on,
            },
        );
        Ok(())
    }

    fn recv(&mut self, socket: &str, max: usize) -> Result<(), TurmoilError> {
        let (h, s) = self.socket(socket, None)?;
        self.post(&h, Cmd::Recv { socket: s, max });
        Ok(())
    }

    fn partition(&mut self, a: &str, b: &str, oneway: bool, cut: bool) -> Result<(), TurmoilError> {
        if oneway {
            // Refused before the run by `unsupported`.
            let name = if cut { "partition" } else { "repair" };
            return Err(self.err(format!("action {name} is unsupported on layer 2")));
        }
        let at = self.now();
        for (x, y) in self.pairs(a, b) {
            if cut {
                self.sim.partition(x.as_str(), y.as_str());
                // Reset the connections crossing the cut; each end that was a pipe shows
                // as its socket's disconnect.
                self.fabric
                    .reset_between(self.sim.lookup(x.as_str()), self.sim.lookup(y.as_str()));
                let what = What::Partition {
                    a: x,
                    b: y,
                    oneway: false,
                };
                self.shared.note(at, "net", None, what);
            } else {
                self.sim.repair(x.as_str(), y.as_str());
                let what = What::Repair {
                    a: x,
                    b: y,
                    oneway: false,
                };
                self.shared.note(at, "net", None, what);
            }
        }
        Ok(())
    }

    fn crash(&mut self, host: &str, up: bool) -> Result<(), TurmoilError> {
        let Some(&was_up) = self.up.get(host) else {
            return Err(self.err(format!("no host {host:?}")));
        };
        let at = self.now();
        if was_up && !up {
            self.sim.crash(host);
            self.up.insert(host.to_owned(), false);
            if let Some(m) = self.mailboxes.get(host) {
                m.clear();
            }
            self.shared.note(at, host, None, What::Crash);
        } else if !was_up && up {
            self.sim.bounce(host);
            self.up.insert(host.to_owned(), true);
            self.shared.note(at, host, None, What::Restart);
        }
        Ok(())
    }

    fn restart_listener(
        &mut self,
        socket: &str,
        addr: &str,
        down: Duration,
    ) -> Result<(), TurmoilError> {
        let (h, s) = self.socket(socket, None)?;
        let cmd = Cmd::RestartListener {
            socket: s,
            addr: addr.to_owned(),
            down,
        };
        self.post(&h, cmd);
        Ok(())
    }
}

#[derive(Default)]
struct TurmoilOutcome {
    names: Vec<String>,
    logs: BTreeMap<String, SocketLog>,
    sent: Vec<Sent>,
    pipes: BTreeMap<String, usize>,
    stats: BTreeMap<String, ProtoStats>,
    frames: u64,
}

impl Outcome for TurmoilOutcome {
    fn socket_names(&self) -> Vec<String> {
        self.names.clone()
    }
    fn log(&self, name: &str) -> Option<&SocketLog> {
        self.logs.get(name)
    }
    fn sent(&self) -> &[Sent] {
        &self.sent
    }
    fn net_drops(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
    fn pipe_count(&self, name: &str) -> usize {
        self.pipes.get(name).copied().unwrap_or(0)
    }
    fn stats(&self, name: &str) -> Option<&ProtoStats> {
        self.stats.get(name)
    }
}
