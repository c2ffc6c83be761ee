//! Endpoints: listeners and dialers.
//!
//! One accept loop ([`accept`], with the connection limit) and one dial loop ([`dial`],
//! with the reconnect backoff) run over the [`Transport`] trait, which every transport
//! implements ([`transports`]: byte streams — tcp, ipc, tls+tcp — from the
//! [`Network`]; inproc; ws and wss). Each produces an [`Established`] connection, the
//! pipe's reader and writer; the loops count what happens on the socket's core
//! ([`Shared::count`]). Which transport serves a URL is decided here, once
//! ([`transport_for`]).

mod accept;
mod dial;
mod transports;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use sp_proto::backoff::Backoff;
use sp_proto::wire::MaxRecvSize;
use sp_proto::{PipeInfo, SocketType};
use tokio::task::JoinHandle;

use crate::core::{Shared, SharedRef};
use crate::error::Error;
use crate::future::BoxFuture;
use crate::pipe::{Established, PipeEnd};
use crate::release::{self, Hold, Holding, Released};
use crate::stats::{Count, PipeEvent};
use crate::transport::tls::{TlsConfig, TlsError};
use crate::transport::{Network, StreamOptions, WsPing};
use crate::url::Url;

/// A handle to a listening or dialing endpoint. Dropping the handle leaves the endpoint
/// running until the socket closes; [`close`](Self::close) stops it earlier. (Do not
/// `mem::forget` it: that leaks the task's memory.)
#[derive(Debug)]
pub struct Endpoint {
    url: Url,
    task: JoinHandle<()>,
    released: Released,
}

impl Endpoint {
    /// The endpoint's address; for a listener bound to port 0, the port actually bound.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Stops the endpoint and closes its connections. The stop is started at once;
    /// await the returned [`Released`] to wait until the endpoint has let go of its
    /// resources: a listener's socket closed (its IPC socket file removed, its `ws://`
    /// port released if no other listener shares it), so that the address can be
    /// listened on again at once.
    pub fn close(self) -> Released {
        self.task.abort();
        self.released
    }

    /// What stops the endpoint's task and tells when it has let go of its resources
    /// (the socket keeps one to stop it on close).
    pub(crate) fn stopper(&self) -> Stopper {
        Stopper {
            task: self.task.abort_handle(),
            released: self.released.clone(),
        }
    }
}

/// Stops an endpoint from elsewhere than its handle (the socket, on close).
#[derive(Debug)]
pub(crate) struct Stopper {
    task: tokio::task::AbortHandle,
    released: Released,
}

impl Stopper {
    /// Stops the endpoints of `stoppers`, then waits until all have let go of their
    /// resources.
    pub(crate) async fn stop_all(stoppers: Vec<Self>) {
        for s in &stoppers {
            s.task.abort();
        }
        for s in stoppers {
            s.released.await;
        }
    }
}

/// Per-connection settings taken from the socket options when an endpoint is created.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EndpointConfig {
    /// Priorities of the endpoint's pipes.
    pub(crate) info: PipeInfo,
    /// Largest message accepted from a peer.
    pub(crate) max_recv: MaxRecvSize,
    /// Time allowed for a connection's set-up.
    pub(crate) handshake_timeout: Duration,
    /// TCP settings of TCP-based connections.
    pub(crate) tcp: StreamOptions,
    /// WebSocket heartbeat of ws/wss pipes.
    pub(crate) ws_ping: Option<WsPing>,
    /// Connections a listener keeps open at once.
    pub(crate) max_connections: usize,
    /// First reconnect delay of a dialer.
    pub(crate) reconnect_min: Duration,
    /// Reconnect delay cap of a dialer.
    pub(crate) reconnect_max: Duration,
}

/// What a transport needs from the socket to listen or dial.
pub(crate) struct Env<'a> {
    /// The socket's type (for handshakes).
    pub(crate) ours: SocketType,
    /// The endpoint's settings.
    pub(crate) cfg: EndpointConfig,
    /// The network the socket's connections go through.
    pub(crate) network: &'a Arc<dyn Network>,
    /// The socket's TLS settings, if set.
    pub(crate) tls: Option<TlsConfig>,
    /// The socket's core (for transports that count on it, ws).
    pub(crate) shared: &'a SharedRef,
}

impl Env<'_> {
    /// TLS settings for a dialer.
    pub(crate) fn dial_tls(&self) -> Result<TlsConfig, Error> {
        self.tls.clone().ok_or_else(|| {
            TlsError::Missing("TLS configuration (call Socket::set_tls before using tls+tcp://)")
                .into()
        })
    }

    /// TLS settings able to serve a listener.
    pub(crate) fn listen_tls(&self) -> Result<TlsConfig, Error> {
        let tls = self.dial_tls()?;
        if !tls.can_listen() {
            return Err(TlsError::Missing("certificate and key for a TLS listener").into());
        }
        Ok(tls)
    }
}

/// Why a connection's set-up failed: counted as a handshake failure and logged.
#[derive(Debug)]
pub(crate) struct SetupError {
    /// The peer, for the log.
    pub(crate) peer: String,
    /// Which step failed ("SP handshake", "TLS handshake", ...).
    pub(crate) step: &'static str,
    /// Why.
    pub(crate) error: String,
}

/// Counts, reports (a [`PipeEvent::HandshakeFailed`]) and logs a failed set-up. `dialer`
/// is the URL of the dialer that made the connection, with whether this is the first
/// failure since it started or last had a pipe: a dialer logs that one at `warn`, and
/// the repeats of its retries at `debug`. A listener logs every failure at `warn`.
fn setup_failed(shared: &Shared, e: &SetupError, dialer: Option<(&Url, bool)>) -> (PipeEnd, bool) {
    shared.count(Count::HandshakeFailure);
    let reason = format!("{}: {}", e.step, e.error);
    match dialer {
        Some((url, true)) => {
            tracing::warn!(url = %url, reason = %reason, "dial: connection set-up failed; redialling");
        }
        Some((url, false)) => {
            tracing::debug!(url = %url, reason = %reason, "dial: connection set-up failed again");
        }
        None => {
            tracing::warn!(peer = %e.peer, error = %e.error, "{} failed; closing connection", e.step);
        }
    }
    shared.send_pipe_event(PipeEvent::HandshakeFailed {
        peer: dialer.map_or_else(|| e.peer.clone(), |(url, _)| url.to_string()),
        dialed: dialer.is_some(),
        reason,
    });
    (PipeEnd::Io(std::io::Error::other(e.error.clone())), false)
}

/// A connection's set-up (TLS, SP header exchange, WebSocket upgrade, inproc type
/// check), still to run.
pub(crate) type Setup = BoxFuture<'static, Result<Established, SetupError>>;

/// A bound listener of some transport.
pub(crate) trait Acceptor: Send {
    /// The address actually bound (port 0 replaced by the chosen port).
    fn local_url(&self) -> Url;
    /// The next incoming connection with its set-up; `None` once no more can come.
    fn accept(&mut self) -> BoxFuture<'_, Option<Setup>>;
    /// Whether the transport counts accepted connections (and failed set-ups) itself:
    /// a shared `ws://` port learns which socket a connection is for only from its
    /// request, and counts there (or, while it cannot know, on every socket listening on
    /// the port). The accept loop counts for every other transport.
    fn counts_accepts(&self) -> bool {
        false
    }
}

/// A dialer's way to its peer.
pub(crate) trait Connector: Send {
    /// Opens one connection: an error when it could not be opened (a connect failure),
    /// else its set-up.
    fn connect(&mut self) -> BoxFuture<'_, io::Result<Setup>>;
}

/// A transport: how to listen at and dial URLs of its kinds.
pub(crate) trait Transport: Sync {
    /// Checks a URL to dial before anything else (a dialer's local interface).
    fn check_dial(&self, _url: &Url) -> Result<(), Error> {
        Ok(())
    }
    /// Binds a listener at `url`. `hold` is the endpoint's hold on its resources, for a
    /// transport whose resources can outlive the listener's task (a shared `ws://` port
    /// keeps it until its accept loop is gone).
    fn listen<'a>(
        &'a self,
        url: &'a Url,
        env: Env<'a>,
        hold: &'a Hold,
    ) -> BoxFuture<'a, Result<Box<dyn Acceptor>, Error>>;
    /// A connector to `url`.
    fn dial(&self, url: &Url, env: Env<'_>) -> Result<Box<dyn Connector>, Error>;
}

/// The transport serving `url`.
fn transport_for(url: &Url) -> &'static dyn Transport {
    match url {
        Url::Inproc(_) => &transports::Inproc,
        Url::Ws { .. } => &transports::Ws,
        Url::Tcp { .. } | Url::TlsTcp { .. } | Url::Ipc(_) | Url::Abstract(_) => {
            &transports::Stream
        }
    }
}

/// Binds a listener at `url` and starts accepting connections on `env.shared`.
pub(crate) async fn listen(url: Url, env: Env<'_>) -> Result<Endpoint, Error> {
    if env.shared.is_closed() {
        return Err(Error::Closed);
    }
    let shared = env.shared.clone();
    let cfg = env.cfg;
    let (hold, released) = release::pair();
    let acceptor = transport_for(&url).listen(&url, env, &hold).await?;
    let bound = acceptor.local_url();
    let run = accept::run(shared, acceptor, cfg, hold.clone());
    let task = tokio::spawn(Holding::new(run, hold));
    Ok(Endpoint {
        url: bound,
        task,
        released,
    })
}

/// Starts dialing `url` in the background, reconnecting with backoff whose jitter is
/// seeded by `seed` (drawn only once the dialer is set up).
pub(crate) fn dial(url: Url, env: Env<'_>, seed: impl FnOnce() -> u64) -> Result<Endpoint, Error> {
    let transport = transport_for(&url);
    transport.check_dial(&url)?;
    if env.shared.is_closed() {
        return Err(Error::Closed);
    }
    let shared = env.shared.clone();
    let cfg = env.cfg;
    let (hold, released) = release::pair();
    let connector = transport.dial(&url, env)?;
    let backoff = Backoff::new(cfg.reconnect_min, cfg.reconnect_max, seed());
    let run = dial::run(shared, connector, url.clone(), cfg.info, backoff);
    let task = tokio::spawn(Holding::new(run, hold));
    Ok(Endpoint {
        url,
        task,
        released,
    })
}
