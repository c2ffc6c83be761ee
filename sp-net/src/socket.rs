//! The public asynchronous socket.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sp_proto::wire::MaxRecvSize;
use sp_proto::{AnyProtocol, Config, Message, PipeId, PipeInfo, Priority, Protocol, SocketType};
use tokio::task::JoinHandle;

use crate::core::{Shared, SharedRef};
pub use crate::endpoint::Endpoint;
use crate::endpoint::{self, EndpointConfig, Env, Stopper};
use crate::error::Error;
use crate::readiness::{ChangeWatch, Readiness, ReadinessProbe};
use crate::stats::Statistics;
use crate::transport::tls::{PeerCertificates, TlsConfig};
use crate::transport::{Network, StreamOptions, TokioNetwork, WsPing};
use crate::url::IntoUrl;

/// Socket options with nanomsg-compatible meanings. Endpoint-related values (priorities,
/// reconnect, max receive size) are copied into each endpoint when it is created, as in
/// nanomsg.
#[derive(Clone, Debug)]
pub struct SocketOptions {
    /// Send timeout (`None`: wait forever, nanomsg's -1).
    pub send_timeout: Option<Duration>,
    /// Receive timeout (`None`: wait forever).
    pub recv_timeout: Option<Duration>,
    /// Largest message accepted from a peer (default 1 MiB).
    pub max_recv_size: MaxRecvSize,
    /// Send priority for new endpoints (1 highest .. 16, default 8).
    pub send_priority: Priority,
    /// Receive priority for new endpoints.
    pub recv_priority: Priority,
    /// First reconnect delay (default 100 ms).
    pub reconnect_min: Duration,
    /// Reconnect delay cap (default 5 s).
    pub reconnect_max: Duration,
    /// Time allowed for the SP header exchange (default 10 s).
    pub handshake_timeout: Duration,
    /// Messages queued per pipe before the protocol sees it as busy (default 128).
    pub send_queue: usize,
    /// How long `close` waits for queued messages to be written (default 1 s).
    pub linger: Duration,
    /// TCP settings (TCP_NODELAY on, keepalive off) for TCP-based connections (tcp,
    /// tls+tcp, ws, wss) of endpoints created afterwards; set
    /// [`StreamOptions::keepalive`] to notice a dead or silent peer.
    pub tcp: StreamOptions,
    /// WebSocket heartbeat of `ws://`/`wss://` pipes of endpoints created afterwards
    /// (default `None`: no pings sent).
    pub ws_ping: Option<WsPing>,
    /// Connections one listener keeps open at once (default 1024). A connection accepted
    /// beyond it is closed at once and counted in
    /// [`SocketStats::connections_refused`](crate::stats::SocketStats::connections_refused).
    /// On `ws://`/`wss://` it counts upgraded connections, and the first listener's value
    /// on a port also bounds the HTTP upgrades in flight on that port.
    pub max_connections: usize,
}

/// Default of [`SocketOptions::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

impl Default for SocketOptions {
    fn default() -> Self {
        Self {
            send_timeout: None,
            recv_timeout: None,
            max_recv_size: MaxRecvSize::DEFAULT,
            send_priority: Priority::DEFAULT,
            recv_priority: Priority::DEFAULT,
            reconnect_min: sp_proto::backoff::DEFAULT_RECONNECT_MIN,
            reconnect_max: sp_proto::backoff::DEFAULT_RECONNECT_MAX,
            handshake_timeout: sp_proto::wire::handshake::DEFAULT_HANDSHAKE_TIMEOUT,
            send_queue: 128,
            linger: Duration::from_secs(1),
            tcp: StreamOptions::default(),
            ws_ping: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// An optional duration readable without a lock: nanoseconds, `u64::MAX` for none.
struct AtomicTimeout(std::sync::atomic::AtomicU64);

impl AtomicTimeout {
    const NONE: u64 = u64::MAX;

    fn encode(d: Option<Duration>) -> u64 {
        d.map_or(Self::NONE, |d| {
            u64::try_from(d.as_nanos())
                .unwrap_or(Self::NONE - 1)
                .min(Self::NONE - 1)
        })
    }

    fn new(d: Option<Duration>) -> Self {
        Self(std::sync::atomic::AtomicU64::new(Self::encode(d)))
    }

    fn set(&self, d: Option<Duration>) {
        self.0
            .store(Self::encode(d), std::sync::atomic::Ordering::Relaxed);
    }

    fn get(&self) -> Option<Duration> {
        match self.0.load(std::sync::atomic::Ordering::Relaxed) {
            Self::NONE => None,
            n => Some(Duration::from_nanos(n)),
        }
    }
}

struct Inner {
    shared: SharedRef,
    socket_type: SocketType,
    options: Mutex<SocketOptions>,
    /// Copies of the send and receive timeouts, read by every send and receive without
    /// the options lock.
    send_timeout: AtomicTimeout,
    recv_timeout: AtomicTimeout,
    network: Arc<dyn Network>,
    endpoints: Mutex<Vec<Stopper>>,
    timer: JoinHandle<()>,
    seed: Mutex<u64>,
    tls: Mutex<Option<TlsConfig>>,
    /// The runtime the socket's tasks run on, so that dropping the last handle outside
    /// it (a `BlockingSocket` on a plain thread) still lingers instead of cutting the
    /// connections at once.
    runtime: tokio::runtime::Handle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        shutdown(&self.shared);
        self.timer.abort();
        let endpoints = std::mem::take(self.endpoints.get_mut().unwrap_or_else(|e| e.into_inner()));
        let linger = self
            .options
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .linger;
        // Let the writers flush what was accepted, as `close` does, in the background.
        self.runtime
            .spawn(linger_then_stop(self.shared.clone(), endpoints, linger));
    }
}

/// Waits until every pipe has flushed and gone (or `linger` passes), then stops the
/// endpoints, which drops whatever connections remain, and waits until they have let go
/// of their listening sockets and connections.
async fn linger_then_stop(shared: SharedRef, endpoints: Vec<Stopper>, linger: Duration) {
    let mut count = shared.pipe_count.subscribe();
    let _ = tokio::time::timeout(linger, count.wait_for(|&c| c == 0)).await;
    Stopper::stop_all(endpoints).await;
}

fn shutdown(shared: &Shared) {
    shared.shutdown();
}

/// An SP socket driven by tokio. Cheap to clone; all clones are the same socket, and it
/// closes when the last clone is dropped (or on [`close`](Self::close)).
#[derive(Clone)]
pub struct Socket {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("type", &self.inner.socket_type)
            .finish()
    }
}

/// The runtime a new socket's tasks run on: the current one, else a panic that says what
/// to do instead of tokio's generic message.
#[track_caller]
fn current_runtime(constructor: &str) -> tokio::runtime::Handle {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => h,
        Err(_) => panic!(
            "sp_net::{constructor} must be called inside a tokio runtime (from async code, or \
             within Runtime::enter); use sp_net::BlockingSocket outside one"
        ),
    }
}

impl Socket {
    /// A cooked socket of `socket_type` on the real network.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (the socket spawns its tasks on the current one), with a
    /// message that says so. Code that is not async uses [`BlockingSocket`](crate::BlockingSocket),
    /// which brings its own runtime.
    #[track_caller]
    pub fn new(socket_type: SocketType) -> Self {
        let runtime = current_runtime("Socket::new");
        Self::build(
            runtime,
            socket_type,
            Config::cooked(seed_from_entropy()),
            Arc::new(TokioNetwork::new()),
        )
    }

    /// A raw socket (for devices) of `socket_type` on the real network.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as [`Socket::new`].
    #[track_caller]
    pub fn new_raw(socket_type: SocketType) -> Self {
        let runtime = current_runtime("Socket::new_raw");
        Self::build(
            runtime,
            socket_type,
            Config::raw(seed_from_entropy()),
            Arc::new(TokioNetwork::new()),
        )
    }

    /// A socket with an explicit protocol configuration and network (the simulator's
    /// seam).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as [`Socket::new`].
    #[track_caller]
    pub fn with_config(socket_type: SocketType, config: Config, network: Arc<dyn Network>) -> Self {
        let runtime = current_runtime("Socket::with_config");
        Self::build(runtime, socket_type, config, network)
    }

    /// A socket whose tasks run on `runtime`.
    fn build(
        runtime: tokio::runtime::Handle,
        socket_type: SocketType,
        config: Config,
        network: Arc<dyn Network>,
    ) -> Self {
        let seed = config.seed;
        let options = SocketOptions::default();
        let proto = AnyProtocol::new(socket_type, config);
        let shared = Shared::new(proto, seed, options.send_queue);
        let timer = runtime.spawn(timer_task(shared.clone()));
        Self {
            inner: Arc::new(Inner {
                shared,
                socket_type,
                send_timeout: AtomicTimeout::new(options.send_timeout),
                recv_timeout: AtomicTimeout::new(options.recv_timeout),
                options: Mutex::new(options),
                network,
                endpoints: Mutex::new(Vec::new()),
                timer,
                seed: Mutex::new(seed),
                tls: Mutex::new(None),
                runtime,
            }),
        }
    }

    /// The runtime the socket's tasks run on.
    pub(crate) fn runtime(&self) -> &tokio::runtime::Handle {
        &self.inner.runtime
    }

    /// The socket type.
    pub fn socket_type(&self) -> SocketType {
        self.inner.socket_type
    }

    /// Whether this is a raw socket (for devices).
    pub fn is_raw(&self) -> bool {
        self.inner.shared.lock().proto.is_raw()
    }

    /// A copy of the current options.
    pub fn options(&self) -> SocketOptions {
        self.inner
            .options
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the options (endpoint-related values apply to endpoints created later).
    pub fn set_options(&self, options: SocketOptions) {
        self.inner.shared.lock().pipe_queue = options.send_queue.max(1);
        let mut current = self.inner.options.lock().unwrap_or_else(|e| e.into_inner());
        self.inner.send_timeout.set(options.send_timeout);
        self.inner.recv_timeout.set(options.recv_timeout);
        *current = options;
    }

    /// Changes the protocol options (TTL, resend interval, survey deadline, ...).
    pub fn set_protocol_options(&self, options: sp_proto::Options) {
        self.inner.shared.lock().proto.set_options(options);
    }

    /// The protocol options in force.
    pub fn protocol_options(&self) -> sp_proto::Options {
        self.inner.shared.lock().proto.options().clone()
    }

    /// Runs `f` on the protocol state machine (subscriptions, contexts), then drains its
    /// outputs.
    pub fn with_protocol<R>(&self, f: impl FnOnce(&mut AnyProtocol) -> R) -> R {
        let shared = &self.inner.shared;
        let now = shared.now();
        let mut st = shared.lock();
        let r = f(st.input());
        let mut w = st.drain(now);
        w.users = true;
        drop(st);
        shared.wake(w);
        r
    }

    /// The endpoint settings from the current options.
    fn endpoint_config(&self) -> EndpointConfig {
        let o = self.options();
        EndpointConfig {
            info: PipeInfo {
                send_priority: o.send_priority,
                recv_priority: o.recv_priority,
            },
            max_recv: o.max_recv_size,
            handshake_timeout: o.handshake_timeout,
            tcp: o.tcp,
            ws_ping: o.ws_ping,
            max_connections: o.max_connections,
            reconnect_min: o.reconnect_min,
            reconnect_max: o.reconnect_max,
        }
    }

    /// What the endpoint layer needs from this socket.
    fn env(&self) -> Env<'_> {
        Env {
            ours: self.inner.socket_type,
            cfg: self.endpoint_config(),
            network: &self.inner.network,
            tls: self
                .inner
                .tls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            shared: &self.inner.shared,
        }
    }

    fn next_seed(&self) -> u64 {
        let mut s = self.inner.seed.lock().unwrap_or_else(|e| e.into_inner());
        *s = sp_proto::rng::Rng::new(*s).next_u64();
        *s
    }

    /// Sets the TLS settings used by `tls+tcp://` and `wss://` endpoints created
    /// afterwards.
    pub fn set_tls(&self, tls: TlsConfig) {
        *self.inner.tls.lock().unwrap_or_else(|e| e.into_inner()) = Some(tls);
    }

    /// Keeps `ep`'s task to stop on close.
    fn track(&self, ep: Endpoint) -> Endpoint {
        self.inner
            .endpoints
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ep.stopper());
        ep
    }

    /// Binds a listener and starts accepting connections. Returns once bound.
    ///
    /// An I/O error (the address is in use, ...) is returned as [`Error::Listen`], which
    /// names the URL.
    ///
    /// `url` is a string or a [`Url`](crate::Url) (see [`IntoUrl`]).
    pub async fn listen(&self, url: impl IntoUrl) -> Result<Endpoint, Error> {
        let url = url.into_url()?;
        let ep = endpoint::listen(url.clone(), self.env())
            .await
            .map_err(|e| e.at(&url, true))?;
        Ok(self.track(ep))
    }

    /// Starts dialing `url` in the background, reconnecting with backoff whenever the
    /// connection fails or is lost. Returns at once (like nanomsg's `nn_connect`).
    ///
    /// An I/O error found before dialing starts is returned as [`Error::Dial`], which
    /// names the URL; failures to connect are not returned but retried (see the
    /// socket's statistics and pipe events).
    ///
    /// `url` is a string or a [`Url`](crate::Url) (see [`IntoUrl`]): `dial(ep.url())` dials a
    /// listener's [`Endpoint`].
    pub async fn dial(&self, url: impl IntoUrl) -> Result<Endpoint, Error> {
        let url = url.into_url()?;
        let ep = endpoint::dial(url.clone(), self.env(), || self.next_seed())
            .map_err(|e| e.at(&url, false))?;
        Ok(self.track(ep))
    }

    /// Sends a message, waiting (up to the send timeout) until the protocol accepts it.
    ///
    /// Dropping the future before it completes means the message was not sent.
    ///
    /// Every call first takes a unit of tokio's cooperative budget, so a loop of sends
    /// that never has to wait still gives way to the socket's own pipe tasks now and then,
    /// as tokio's channels do; [`try_send`](Self::try_send) never yields.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        // Before the send, not after: a future dropped while it gives way has sent
        // nothing (see `take_budget`).
        take_budget().await;
        let mut op = |p: &mut AnyProtocol, now, m| p.send(now, m);
        // Most sends succeed at once: try before building the waiting machinery, whose
        // futures would otherwise be set up (and the message moved through them) every
        // time.
        match self.inner.shared.send_once(msg.into(), &mut op)? {
            None => Ok(()),
            Some(msg) => self.send_with(msg, op).await,
        }
    }

    /// Receives a message, waiting up to the receive timeout.
    ///
    /// Cancellation-safe: dropping the future loses no message (messages stay queued in
    /// the protocol until a `recv` takes them). Like [`send`](Self::send), it first takes
    /// a unit of tokio's cooperative budget.
    pub async fn recv(&self) -> Result<Message, Error> {
        // Before taking a message, never after: a future dropped while it gives way (by a
        // timeout or a `select!`) must not have taken one.
        take_budget().await;
        let mut op = |p: &mut AnyProtocol, now| p.recv(now);
        // As in `send`: the waiting machinery only when nothing is ready.
        match self.inner.shared.recv_once(&mut op)? {
            Some(m) => Ok(m),
            None => self.recv_with(op).await,
        }
    }

    /// Sends without waiting: [`Error::WouldBlock`] if no pipe can take it now.
    pub fn try_send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let mut op = |p: &mut AnyProtocol, now, m| p.send(now, m);
        match self.inner.shared.send_once(msg.into(), &mut op)? {
            None => Ok(()),
            Some(_) => Err(Error::WouldBlock),
        }
    }

    /// Receives without waiting: [`Error::WouldBlock`] if nothing is ready.
    pub fn try_recv(&self) -> Result<Message, Error> {
        let mut op = |p: &mut AnyProtocol, now| p.recv(now);
        self.inner
            .shared
            .recv_once(&mut op)?
            .ok_or(Error::WouldBlock)
    }

    /// The send loop with the send timeout.
    pub(crate) async fn send_with(
        &self,
        msg: Message,
        op: impl FnMut(&mut AnyProtocol, sp_proto::Instant, Message) -> Result<(), sp_proto::SendError>,
    ) -> Result<(), Error> {
        let work = self.inner.shared.send_loop(msg, op);
        match self.inner.send_timeout.get() {
            Some(d) => tokio::time::timeout(d, work)
                .await
                .map_err(|_| Error::TimedOut)?,
            None => work.await,
        }
    }

    /// The receive loop with the receive timeout.
    pub(crate) async fn recv_with(
        &self,
        op: impl FnMut(&mut AnyProtocol, sp_proto::Instant) -> Result<Message, sp_proto::RecvError>,
    ) -> Result<Message, Error> {
        let work = self.inner.shared.recv_loop(op);
        match self.inner.recv_timeout.get() {
            Some(d) => tokio::time::timeout(d, work)
                .await
                .map_err(|_| Error::TimedOut)?,
            None => work.await,
        }
    }

    /// Statistics of this socket.
    pub fn stats(&self) -> Statistics {
        let st = self.inner.shared.lock();
        Statistics {
            socket: st.stats.clone(),
            protocol: st.proto.stats().clone(),
        }
    }

    /// Waits until at least `n` pipes are attached (or the socket closes).
    pub async fn wait_for_pipes(&self, n: usize) -> Result<(), Error> {
        let mut rx = self.inner.shared.pipe_count.subscribe();
        rx.wait_for(|&c| c >= n)
            .await
            .map(|_| ())
            .map_err(|_| Error::Closed)
    }

    /// Waits until at most `n` pipes are attached.
    pub async fn wait_for_pipes_at_most(&self, n: usize) -> Result<(), Error> {
        let mut rx = self.inner.shared.pipe_count.subscribe();
        rx.wait_for(|&c| c <= n)
            .await
            .map(|_| ())
            .map_err(|_| Error::Closed)
    }

    /// Subscribes to pipe events: pipes added and removed, and connections that failed
    /// their handshake (a receiver that falls more than 256 events behind skips the
    /// oldest).
    pub fn pipe_events(&self) -> tokio::sync::broadcast::Receiver<crate::stats::PipeEvent> {
        self.inner.shared.subscribe_pipe_events()
    }

    /// Counters of every attached pipe, in pipe-id order.
    pub fn pipe_stats(&self) -> Vec<crate::stats::PipeStats> {
        self.inner
            .shared
            .lock()
            .pipes
            .values()
            .map(|s| s.stats.clone())
            .collect()
    }

    /// The certificate chain the peer of `pipe` presented in its TLS handshake
    /// (tls+tcp and wss), for authorizing a peer by its certificate: a received
    /// [`Message::pipe`] names the pipe it came from. `None` for other transports, for a
    /// client that presented none, and once the pipe is gone.
    pub fn peer_certificates(&self, pipe: PipeId) -> Option<PeerCertificates> {
        let st = self.inner.shared.lock();
        st.pipes.get(&pipe)?.peer_certificates.clone()
    }

    /// Number of attached pipes.
    pub fn pipe_count(&self) -> usize {
        self.inner.shared.lock().pipes.len()
    }

    /// What a receive and a send would do if called now (see [`Readiness`]).
    pub fn readiness(&self) -> Readiness {
        crate::readiness::readiness(&self.inner.shared)
    }

    /// A handle that reads this socket's readiness without keeping it open.
    pub fn readiness_probe(&self) -> ReadinessProbe {
        ReadinessProbe::new(self.inner.shared.clone())
    }

    /// Calls `f` on the socket's runtime at once and again after every change that can
    /// change the socket's [`Readiness`] (several changes during one call of `f` give one
    /// more call), and once more after the socket closes; then stops. Dropping the
    /// returned guard stops it sooner. `f` must not block: it runs on a runtime worker.
    /// The watch does not keep the socket open.
    pub fn on_change(&self, f: impl FnMut() + Send + 'static) -> ChangeWatch {
        crate::readiness::watch(self.inner.shared.clone(), &self.inner.runtime, f)
    }

    /// Closes the socket: operations pending or started later fail with [`Error::Closed`],
    /// connections flush what was already accepted for sending (waiting at most the
    /// linger time), then every endpoint and connection stops. Returns once every
    /// listener's socket is closed (its IPC socket file removed, its `ws://` port released
    /// unless another socket's listener shares it) and every connection dropped, so the
    /// same addresses can be listened on again at once.
    pub async fn close(&self) {
        shutdown(&self.inner.shared);
        let endpoints = std::mem::take(
            &mut *self
                .inner
                .endpoints
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        linger_then_stop(self.inner.shared.clone(), endpoints, self.options().linger).await;
    }
}

async fn timer_task(shared: SharedRef) {
    loop {
        let notified = shared.timer.notified();
        let armed = {
            let st = shared.lock();
            if st.closed {
                return;
            }
            st.armed
        };
        match armed {
            Some(t) => {
                tokio::select! {
                    () = tokio::time::sleep_until(shared.to_tokio(t)) => {
                        let now = shared.now();
                        let mut st = shared.lock();
                        st.armed = None;
                        st.input().handle_timeout(now);
                        let mut w = st.drain(now);
                        w.users = true;
                        drop(st);
                        shared.wake(w);
                    }
                    () = notified => {}
                }
            }
            None => notified.await,
        }
    }
}

fn seed_from_entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}

/// Takes one unit of the task's cooperative budget (tokio's `coop`): ready at once
/// while the task has budget left, otherwise it yields once so that other tasks on the
/// same worker (the pipes' readers and writers) run. tokio's own channels and sockets
/// do the same, so a loop over sends or receives that never has to wait still gives
/// way after the budget (128 operations in tokio 1.x).
async fn take_budget() {
    tokio::task::coop::consume_budget().await;
}
