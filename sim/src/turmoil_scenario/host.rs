//! A host's software on layer 2: its real `sp-net` sockets, the application tasks that
//! receive and answer, the mailbox the runner posts timeline actions to, and what they
//! record.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use sp_net::stats::PipeEvent;
use sp_net::{Socket, SocketOptions};
use sp_proto::{Instant, SocketType};
use tokio::sync::{broadcast, Notify};

use crate::def::{ms, EndpointDef, HostDef, RecvMode, SocketDef};
use crate::record::Recorder;
use crate::trace::What;
use crate::turmoil_net::{Fabric, TurmoilNetwork};

/// Virtual time inside a host.
pub(super) fn now() -> Instant {
    Instant::ZERO + turmoil::sim_elapsed().unwrap_or_default()
}

/// What the hosts record, shared with the runner (every host runs on this thread).
#[derive(Default)]
pub(super) struct Shared {
    pub(super) rec: Recorder,
    /// Every incarnation of every socket, oldest first.
    pub(super) sockets: BTreeMap<String, Vec<Socket>>,
}

#[derive(Clone, Default)]
pub(super) struct SharedRef(Arc<Mutex<Shared>>);

impl SharedRef {
    pub(super) fn lock(&self) -> MutexGuard<'_, Shared> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn note(&self, at: Instant, node: &str, socket: Option<&str>, what: What) {
        self.lock().rec.note(at, node, socket, what);
    }

    fn note_socket(&self, at: Instant, full: &str, what: What) {
        self.lock().rec.note_socket(at, full, what);
    }
}

/// A command the runner posts to a host, performed inside the host's runtime.
pub(super) enum Cmd {
    Send {
        socket: String,
        body: Bytes,
        /// The context number (0: the socket's default context).
        ctx: u32,
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
    CloseDialer {
        socket: String,
        addr: String,
    },
    Close {
        socket: String,
    },
}

#[derive(Default)]
pub(super) struct Mailbox {
    queue: Mutex<VecDeque<Cmd>>,
    notify: Notify,
}

impl Mailbox {
    pub(super) fn post(&self, c: Cmd) {
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

    pub(super) fn clear(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The listeners and dialers of one host incarnation, by local socket name and address,
/// so that a listener restart can close one and bind it again, and a dialer be closed.
type Listeners = Arc<Mutex<BTreeMap<(String, String), sp_net::Endpoint>>>;

/// One socket of a running host incarnation.
#[derive(Clone)]
struct Local {
    sock: Socket,
    full: String,
    kick: Arc<Notify>,
    /// The contexts its application opened, by the scenario's number.
    contexts: Arc<Mutex<BTreeMap<u32, Arc<sp_net::Context>>>>,
}

fn socket_seed(seed: u64, host: usize, sock: usize, inc: u64) -> u64 {
    let mut z = seed ^ ((host as u64) << 32) ^ ((sock as u64) << 16) ^ inc;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(super) fn port(ep: &EndpointDef) -> Result<u16, String> {
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
        .send(now(), &l.full, (body, 0), refused, survey);
    l.kick.notify_waiters();
}

/// The application sends `body` on its context number `k` of `l` (opened, with a
/// receive loop of its own, on first use): the send's first poll decides at once, as
/// `try_send` does for the socket; one that has to wait is recorded when it completes.
fn ctx_send(shared: &SharedRef, l: &Local, k: u32, body: Bytes) {
    let opened = l
        .contexts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&k)
        .cloned();
    let ctx = match opened.map_or_else(|| l.sock.open_context().map(Arc::new), Ok) {
        Ok(c) => c,
        Err(e) => {
            let refused = Some(format!("{e:?}"));
            shared
                .lock()
                .rec
                .send(now(), &l.full, (body, k), refused, false);
            return;
        }
    };
    let fresh = l
        .contexts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(k, ctx.clone())
        .is_none();
    if fresh {
        let (shared, l, ctx) = (shared.clone(), l.clone(), ctx.clone());
        tokio::spawn(recv_loop(shared, l, None, Some((k, ctx))));
    }
    let record = {
        let (shared, full, kick) = (shared.clone(), l.full.clone(), l.kick.clone());
        move |body: Bytes, r: Result<(), sp_net::Error>| {
            let refused = r.err().map(|e| format!("{e:?}"));
            shared
                .lock()
                .rec
                .send(now(), &full, (body, k), refused, false);
            kick.notify_waiters();
        }
    };
    let sent = body.clone();
    let mut send = Box::pin(async move { ctx.send(sent).await });
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match send.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(r) => record(body, r),
        std::task::Poll::Pending => {
            tokio::spawn(async move { record(body, send.await) });
        }
    }
}

fn record_recv(shared: &SharedRef, full: &str, ty: SocketType, body: &Bytes, ctx: u32) {
    let survey = ty == SocketType::Surveyor;
    shared
        .lock()
        .rec
        .recv(now(), full, (body.clone(), ctx), survey, None, None);
}

/// An application always in `recv`, on the socket or on one of its contexts (`ctx`:
/// its number and the context); REP and RESPONDENT answer as `def` says.
async fn recv_loop(
    shared: SharedRef,
    l: Local,
    def: Option<SocketDef>,
    ctx: Option<(u32, Arc<sp_net::Context>)>,
) {
    let ty = l.sock.socket_type();
    let reply = def.and_then(|d| d.replier(ty).cloned());
    let k = ctx.as_ref().map_or(0, |c| c.0);
    loop {
        // Created before `recv`, so a send made while it fails is not missed.
        let kicked = l.kick.notified();
        let got = match &ctx {
            Some((_, c)) => c.recv().await,
            None => l.sock.recv().await,
        };
        match got {
            Ok(m) => {
                record_recv(&shared, &l.full, ty, &m.body, k);
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
            Ok(PipeEvent::Added { pipe, peer, .. }) => {
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
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// One incarnation of a host's software.
pub(super) async fn host_main(
    def: HostDef,
    index: usize,
    inc: u64,
    seed: u64,
    shared: SharedRef,
    fabric: Arc<Fabric>,
    mailbox: Arc<Mailbox>,
) -> turmoil::Result {
    // Held for as long as the software runs: a crash drops it after every task of the
    // host, and it closes the host's connections in the order of their addresses.
    let _crash = fabric.crash_guard(turmoil::lookup(def.name.as_str()));
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
        let mut o = sock.options();
        o.max_recv_size = sd.options.max_recv();
        if let Some(n) = sd.options.send_queue {
            o.send_queue = n;
        }
        sock.set_options(o);
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
            let e = sock
                .dial(&format!("tcp://{}:{}", ep.host(), port(ep)?))
                .await?;
            listeners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((sd.name.clone(), ep.addr.clone()), e);
        }
        sock.set_options(base);
        for t in &sd.subscribe {
            sock.subscribe(t.as_bytes())?;
        }
        let local = Local {
            sock,
            full,
            kick: Arc::new(Notify::new()),
            contexts: Arc::default(),
        };
        if sd.recv == RecvMode::Auto && ty.can_recv() {
            let l = local.clone();
            tokio::spawn(recv_loop(shared.clone(), l, Some(sd.clone()), None));
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
        Cmd::Send { socket, body, ctx } => match socks.get(&socket) {
            Some(l) if ctx != 0 => ctx_send(shared, l, ctx, body),
            Some(l) => app_send(shared, l, body),
            None => {}
        },
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
                    record_recv(shared, &l.full, ty, &m.body, 0);
                }
            }
        }
        Cmd::CloseDialer { socket, addr } => {
            let key = (socket.clone(), addr.clone());
            let dialer = listeners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            if let (Some(l), Some(d)) = (socks.get(&socket), dialer) {
                // Closing the endpoint stops its redials and closes its connection.
                d.close();
                shared.note_socket(now(), &l.full, What::DialerClosed { addr });
            }
        }
        Cmd::Close { socket } => {
            let Some(l) = socks.get(&socket) else { return };
            // Its endpoints go with it: a later listener restart or dialer close finds
            // none.
            listeners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|(s, _), _| *s != socket);
            // The close's first poll shuts the socket (every operation fails from now
            // on, the receive loop ends) before anything else runs at this instant;
            // the linger and the endpoints' stop go on in a task of their own.
            let sock = l.sock.clone();
            let mut close = Box::pin(async move { sock.close().await });
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            if close.as_mut().poll(&mut cx).is_pending() {
                tokio::spawn(close);
            }
            shared.note_socket(now(), &l.full, What::SocketClosed);
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
