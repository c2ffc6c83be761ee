//! `ws://` and `wss://`: the SP WebSocket mapping over a TCP (or TLS) connection from the
//! [`Network`].
//!
//! - **Upgrade.** The dialer sends `GET <path>` with exactly one subprotocol token, its
//!   peer's name (`rep.sp.nanomsg.org` for a REQ socket); the listener answers `101` with
//!   exactly `Upgrade: websocket` and `Connection: Upgrade` and echoes the client's
//!   spelling of the token, or refuses before upgrading: `400` for a missing, foreign or
//!   unrecognised subprotocol (nanomsg's reason phrases), `404` for a path no listener
//!   serves. The HTTP upgrade decisions are `sp_proto::wire::ws_http`; the SP rules
//!   `sp_proto::wire::ws`.
//! - **Path routing.** Several listeners (of one socket or of several) can share a host and
//!   port with different paths, as in NNG: the first `ws://` listener on an address binds
//!   the TCP port, later ones on the same address (spelled the same way, same network)
//!   register their path with it, and the port is released when the last one goes. A path
//!   matches exactly (the query is ignored): a listener at `ws://host:port` serves only
//!   `/`, unlike nanomsg, which serves every path. `ws://` and `wss://` cannot share a
//!   port; the TLS and TCP settings, the handshake timeout and the connection limit of the
//!   first listener on a port apply to every connection accepted on it (the path is only
//!   known after the upgrade request is read).
//! - **Upgrades in flight.** A port runs at most `max_connections` (of its first
//!   listener) upgrades at once, each within the handshake timeout; a connection beyond
//!   that is closed at once, unread. Every connection is reported to the socket of its
//!   path ([`PortEvent`]); one whose path is not known (refused at the limit, unreadable
//!   request, unknown path, timed out before its request was complete) to every socket
//!   listening on the port.
//! - **Data.** One SP message is one binary WebSocket message, fragmented at
//!   [`DEFAULT_SEND_FRAGMENT`](sp_proto::wire::ws::DEFAULT_SEND_FRAGMENT); dialers mask
//!   every frame with a fresh key from the OS CSPRNG (`ws_keys.rs`), and draw their
//!   `Sec-WebSocket-Key` from it too, never from the socket's seed. Received fragments are
//!   reassembled, pings answered, and a text message (close 1003), a message over the
//!   socket's maximum receive size (1009) or a protocol error (1002) ends the connection
//!   with that close code; the connection then lingers briefly, discarding input, so the
//!   close frame is not lost to a TCP reset. The pipe itself is `ws_pipe.rs`, with the
//!   optional heartbeat ([`WsPing`]) that closes the pipe of a peer gone silent.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use super::ws_keys::KeySource;
use bytes::BytesMut;
use sp_proto::wire::ws::dialer_offer;
use sp_proto::wire::ws_frame::WsRole;
use sp_proto::wire::ws_http::{
    self, ClientUpgradeError, HttpError, Reject, ResponseError, ServerUpgrade,
};
use sp_proto::wire::MaxRecvSize;
use sp_proto::SocketType;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::tls::{PeerCertificates, TlsConfig};
use super::ws_pipe::pipe_halves;
use super::{Conn, Io, Network, StreamOptions, WsPing};
use crate::pipe::Established;
use crate::release::{Hold, Holding};
use crate::url::{Family, HostPort, Url};

/// What a `ws://` port reports about a connection to the socket listening at its path,
/// which only the HTTP request names; before that, to every socket listening on the port.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PortEvent<'a> {
    /// The connection was accepted.
    Accepted,
    /// The connection was accepted and closed at once, unread: the port already had as
    /// many upgrades in flight as its limit.
    Refused,
    /// The connection's upgrade failed or was refused, and the connection closed.
    Failed {
        /// The peer's address.
        peer: &'a str,
        /// Why.
        error: &'a str,
    },
}

/// One socket's listener on a port: where the port reports its connections.
#[derive(Clone)]
pub(crate) struct PortSink {
    /// The socket (a port reports a connection of unknown path once to each socket,
    /// however many of its listeners share the port).
    pub(crate) socket: usize,
    /// Counts (and logs) an event in the socket's statistics.
    pub(crate) report: Arc<dyn Fn(PortEvent<'_>) + Send + Sync>,
}

/// What a `ws://` endpoint's connections are set up with, from its socket.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WsSettings {
    /// The socket's type (the subprotocol offered or served).
    pub(crate) ours: SocketType,
    /// Largest message accepted (over all fragments).
    pub(crate) max_recv: MaxRecvSize,
    /// Time allowed for the TCP/TLS and HTTP upgrade handshakes.
    pub(crate) handshake_timeout: Duration,
    /// Upgrades a listener's port runs at once (a listener's apply to its whole port).
    pub(crate) max_upgrades: usize,
    /// TCP settings of the connections (a listener's apply to its whole port: the first
    /// listener on a port binds it).
    pub(crate) tcp: StreamOptions,
    /// The heartbeat of each pipe, if any.
    pub(crate) ping: Option<WsPing>,
}

/// Why a WebSocket upgrade failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WsHandshakeError {
    /// The TCP or TLS layer failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The peer's HTTP head was unreadable.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The server's answer was a refusal or not a valid upgrade.
    #[error(transparent)]
    Response(#[from] ResponseError),
    /// The handshake took longer than the handshake timeout.
    #[error("WebSocket handshake timed out")]
    TimedOut,
    /// A listener refused the peer's request with this answer.
    #[error("refused with {} {}: {}", .0.status, .0.reason, .0.detail)]
    Refused(Reject),
}

impl From<ClientUpgradeError> for WsHandshakeError {
    fn from(e: ClientUpgradeError) -> Self {
        match e {
            ClientUpgradeError::Http(e) => Self::Http(e),
            ClientUpgradeError::Response(e) => Self::Response(e),
        }
    }
}

/// Checks that a `ws://` URL can be written into a request line.
pub(crate) fn check_url(url: &Url) -> io::Result<()> {
    if let Url::Ws { path, .. } = url {
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("WebSocket path {path:?} cannot be sent in a request"),
            ));
        }
    }
    Ok(())
}

fn tcp_url(addr: &HostPort) -> Url {
    Url::Tcp {
        addr: addr.clone(),
        local: None,
    }
}

// ---------------------------------------------------------------------------------------
// Listening: one TCP listener per address, shared by every path.

/// A connection that completed the upgrade, handed to the listener of its path.
pub(super) struct Upgraded {
    pub(super) io: Box<dyn Io>,
    pub(super) leftover: BytesMut,
    pub(super) peer: String,
    pub(super) peer_certificates: Option<PeerCertificates>,
}

/// A listener registered for one path.
struct Route {
    id: u64,
    ours: SocketType,
    sink: PortSink,
    tx: mpsc::UnboundedSender<Upgraded>,
}

/// The listener a connection's request was routed to.
struct Routed {
    sink: PortSink,
    tx: mpsc::UnboundedSender<Upgraded>,
}

/// What the accept loop of a shared port needs.
struct HubState {
    routes: Mutex<HashMap<String, Route>>,
    tls: Option<TlsConfig>,
    handshake_timeout: Duration,
    max_upgrades: usize,
}

impl HubState {
    fn routes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Route>> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reports `events` of a connection whose path is not known, once to each socket
    /// listening on the port.
    fn report_to_port(&self, events: &[PortEvent<'_>]) {
        let mut sinks: Vec<PortSink> = Vec::new();
        for route in self.routes().values() {
            if !sinks.iter().any(|s| s.socket == route.sink.socket) {
                sinks.push(route.sink.clone());
            }
        }
        for sink in sinks {
            for &event in events {
                (sink.report)(event);
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct HubKey {
    net: usize,
    host: String,
    family: u8,
    port: u16,
}

/// A bound port; stops accepting (and releases the port) when the last route holding it
/// goes.
struct Hub {
    id: u64,
    key: HubKey,
    state: Arc<HubState>,
    accept: tokio::task::AbortHandle,
    /// The holds of the endpoints that wait for the port to be released: the last
    /// listener's, put here when it goes; kept (with the accept loop's own clone of this
    /// list) until the accept loop, with the TCP listener, is dropped.
    retiring: Arc<Mutex<Vec<Hold>>>,
    port: u16,
    // Keeps the network (and so its identity in `key`) alive as long as the port.
    _network: Arc<dyn Network>,
}

type Hubs = HashMap<HubKey, (u64, Weak<Hub>)>;
static HUBS: LazyLock<Mutex<Hubs>> = LazyLock::new(Default::default);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn hubs() -> std::sync::MutexGuard<'static, Hubs> {
    HUBS.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.accept.abort();
        let mut reg = hubs();
        if reg.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            reg.remove(&self.key);
        }
    }
}

/// Removes its route when the listener's task ends; the last one of a port stops the
/// port, with its endpoint's hold kept until the port is released.
struct RouteGuard {
    hub: Arc<Hub>,
    path: String,
    id: u64,
    hold: Hold,
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        {
            let mut routes = self.hub.state.routes();
            if routes.get(&self.path).is_some_and(|r| r.id == self.id) {
                routes.remove(&self.path);
            }
        }
        // Strong references to a hub are made only under the registry's lock (from its
        // weak entry): if this is the last one, taking the entry out under that lock
        // means nobody can join the port any more, and it stops when `hub` is dropped
        // just after this.
        let mut reg = hubs();
        if Arc::strong_count(&self.hub) == 1 {
            if reg
                .get(&self.hub.key)
                .is_some_and(|(id, _)| *id == self.hub.id)
            {
                reg.remove(&self.hub.key);
            }
            self.hub
                .retiring
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.hold.clone());
        }
    }
}

fn family_code(f: Family) -> u8 {
    match f {
        Family::Any => 0,
        Family::V4 => 4,
        Family::V6 => 6,
    }
}

async fn find_or_bind(
    network: &Arc<dyn Network>,
    addr: &HostPort,
    tls: Option<TlsConfig>,
    settings: &WsSettings,
) -> io::Result<Arc<Hub>> {
    let mut key = HubKey {
        net: network.namespace(),
        host: addr.host.clone(),
        family: family_code(addr.family),
        port: addr.port,
    };
    if addr.port != 0 {
        let existing = hubs().get(&key).and_then(|(_, w)| w.upgrade());
        if let Some(hub) = existing {
            if hub.state.tls.is_some() != tls.is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "ws:// and wss:// listeners cannot share a port",
                ));
            }
            return Ok(hub);
        }
    }
    let listener = network.bind_with(&tcp_url(addr), settings.tcp).await?;
    let port = listener.local_url().port().unwrap_or(addr.port);
    key.port = port;
    let state = Arc::new(HubState {
        routes: Mutex::new(HashMap::new()),
        tls,
        handshake_timeout: settings.handshake_timeout,
        max_upgrades: settings.max_upgrades,
    });
    let retiring = Arc::new(Mutex::new(Vec::new()));
    let accept = accept_loop(listener, state.clone());
    // The accept loop keeps the retiring holds until it has been dropped.
    let accept = tokio::spawn(Holding::new(accept, retiring.clone())).abort_handle();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let hub = Arc::new(Hub {
        id,
        key: key.clone(),
        state,
        accept,
        retiring,
        port,
        _network: network.clone(),
    });
    hubs().insert(key, (id, Arc::downgrade(&hub)));
    Ok(hub)
}

/// A `ws://`/`wss://` listener of one socket: the connections upgraded for its path.
pub(crate) struct WsListener {
    url: Url,
    rx: mpsc::UnboundedReceiver<Upgraded>,
    max_recv: MaxRecvSize,
    ping: Option<WsPing>,
    _guard: RouteGuard,
}

impl WsListener {
    /// The bound address (port 0 replaced by the port of the shared listener).
    pub(crate) fn local_url(&self) -> Url {
        self.url.clone()
    }

    /// The next upgraded connection as a pipe's reader and writer; `None` once the port
    /// stops accepting.
    pub(crate) async fn accept(&mut self) -> Option<Established> {
        let up = self.rx.recv().await?;
        Some(pipe_halves(WsRole::Server, up, self.max_recv, self.ping))
    }
}

/// Starts a `ws://`/`wss://` listener, reporting its connection events to `sink`.
pub(crate) async fn listen(
    network: &Arc<dyn Network>,
    url: &Url,
    tls: Option<TlsConfig>,
    settings: WsSettings,
    sink: PortSink,
    hold: &Hold,
) -> io::Result<WsListener> {
    check_url(url)?;
    let Url::Ws { addr, path, .. } = url else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a ws:// URL",
        ));
    };
    let path = ws_http::target_path(path).unwrap_or_else(|| "/".to_owned());
    let hub = find_or_bind(network, addr, tls, &settings).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    {
        let mut routes = hub.state.routes();
        if routes.get(&path).is_some_and(|r| !r.tx.is_closed()) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("a WebSocket listener already serves {path} on this port"),
            ));
        }
        routes.insert(
            path.clone(),
            Route {
                id,
                ours: settings.ours,
                sink,
                tx,
            },
        );
    }
    Ok(WsListener {
        url: url.with_port(hub.port),
        rx,
        max_recv: settings.max_recv,
        ping: settings.ping,
        _guard: RouteGuard {
            hub,
            path,
            id,
            hold: hold.clone(),
        },
    })
}

async fn accept_loop(mut listener: Box<dyn super::Listener>, state: Arc<HubState>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => {
                    while conns.try_join_next().is_some() {}
                    if conns.len() >= state.max_upgrades {
                        tracing::warn!(peer = conn.peer, "WebSocket port at its limit of upgrades in flight; closing a new connection");
                        drop(conn);
                        state.report_to_port(&[PortEvent::Accepted, PortEvent::Refused]);
                        continue;
                    }
                    conns.spawn(serve(state.clone(), conn));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Runs the server side of the upgrade on one accepted connection, within the timeout,
/// and reports a failure to the socket of its path, if known, else to the port's.
async fn serve(state: Arc<HubState>, conn: Conn) {
    let peer = conn.peer.clone();
    let mut routed = None;
    let outcome = tokio::time::timeout(
        state.handshake_timeout,
        upgrade_server(&state, conn, &mut routed),
    )
    .await
    .unwrap_or(Err(WsHandshakeError::TimedOut));
    let Err(e) = outcome else { return };
    let error = e.to_string();
    let failed = PortEvent::Failed {
        peer: &peer,
        error: &error,
    };
    match routed {
        Some(Routed { sink, .. }) => (sink.report)(failed),
        None => state.report_to_port(&[PortEvent::Accepted, failed]),
    }
}

/// SHA-1 for `Sec-WebSocket-Accept` (sp-proto's upgrade code takes it as an argument).
pub(crate) fn sha1(data: &[u8]) -> [u8; 20] {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    let mut out = [0u8; 20];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Reads more of an HTTP head into `buf`; an error if the peer closed first.
async fn read_more<R: AsyncRead + Unpin + ?Sized>(
    io: &mut R,
    buf: &mut BytesMut,
) -> Result<(), WsHandshakeError> {
    buf.reserve(2048);
    if io.read_buf(buf).await? == 0 {
        return Err(HttpError::Truncated.into());
    }
    Ok(())
}

async fn refuse(io: &mut Box<dyn Io>, r: &Reject) -> Result<(), WsHandshakeError> {
    io.write_all(&r.to_bytes()).await?;
    io.flush().await?;
    let _ = io.shutdown().await;
    Ok(())
}

/// The server side of the upgrade; the listener the request names goes into `routed`
/// (and is told the connection was accepted) as soon as it is known.
async fn upgrade_server(
    state: &HubState,
    conn: Conn,
    routed: &mut Option<Routed>,
) -> Result<(), WsHandshakeError> {
    let Conn {
        io,
        peer,
        peer_certificates,
    } = match &state.tls {
        Some(tls) => tls.accept(conn).await?,
        None => conn,
    };
    let mut io = io;
    let mut buf = BytesMut::with_capacity(2048);
    let decision = loop {
        let route = |path: &str| {
            let routes = state.routes();
            let r = routes.get(path).filter(|r| !r.tx.is_closed())?;
            *routed = Some(Routed {
                sink: r.sink.clone(),
                tx: r.tx.clone(),
            });
            Some(r.ours)
        };
        match ws_http::server_upgrade(&buf, route, sha1) {
            ServerUpgrade::Incomplete => read_more(&mut io, &mut buf).await?,
            decision => break decision,
        }
    };
    if let Some(r) = routed {
        (r.sink.report)(PortEvent::Accepted);
    }
    match decision {
        ServerUpgrade::Incomplete => unreachable!("the loop reads until a decision"),
        ServerUpgrade::Refuse { reject, .. } => {
            refuse(&mut io, &reject).await?;
            Err(WsHandshakeError::Refused(reject))
        }
        ServerUpgrade::Accept { head_len, response } => {
            let Some(Routed { tx, .. }) = routed else {
                unreachable!("an accepted upgrade has a route");
            };
            let _ = buf.split_to(head_len);
            io.write_all(&response).await?;
            io.flush().await?;
            // If the listener went away meanwhile, dropping the connection closes it.
            let _ = tx.send(Upgraded {
                io,
                leftover: buf,
                peer,
                peer_certificates,
            });
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------
// Dialing.

/// Opens the TCP (and for `wss://` the TLS) connection of a `ws://` dialer's attempt,
/// with the TCP settings `tcp`, within `timeout`.
pub(crate) async fn connect(
    network: &dyn Network,
    url: &Url,
    tls: Option<&TlsConfig>,
    timeout: Duration,
    tcp: StreamOptions,
) -> io::Result<Conn> {
    let Url::Ws { addr, .. } = url else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a ws:// URL",
        ));
    };
    let connected = async {
        let conn = network.connect_with(&tcp_url(addr), tcp).await?;
        match tls {
            Some(tls) => tls.connect(conn, &addr.host).await,
            None => Ok(conn),
        }
    };
    tokio::time::timeout(timeout, connected)
        .await
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")))
}

/// The client upgrade on a connection [`connect`] opened, within the handshake timeout;
/// the upgraded connection as a pipe's reader and writer.
pub(crate) async fn upgrade(
    conn: Conn,
    url: &Url,
    settings: WsSettings,
) -> Result<Established, WsHandshakeError> {
    let mut keys = KeySource::new();
    let up = tokio::time::timeout(
        settings.handshake_timeout,
        upgrade_client(conn, url, settings.ours, &mut keys),
    )
    .await
    .unwrap_or(Err(WsHandshakeError::TimedOut))?;
    Ok(pipe_halves(
        WsRole::Client,
        up,
        settings.max_recv,
        settings.ping,
    ))
}

fn host_header(addr: &HostPort) -> String {
    if addr.host.contains(':') {
        format!("[{}]:{}", addr.host, addr.port)
    } else {
        format!("{}:{}", addr.host, addr.port)
    }
}

async fn upgrade_client(
    conn: Conn,
    url: &Url,
    ours: SocketType,
    keys: &mut KeySource,
) -> Result<Upgraded, WsHandshakeError> {
    let Url::Ws { addr, path, .. } = url else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a ws:// URL").into());
    };
    let Conn {
        mut io,
        peer,
        peer_certificates,
    } = conn;
    let mut nonce = [0u8; 16];
    keys.fill(&mut nonce)?;
    let key = ws_http::base64_encode(&nonce);
    let request = ws_http::request(&host_header(addr), path, &key, &dialer_offer(ours));
    io.write_all(&request).await?;
    io.flush().await?;
    let mut buf = BytesMut::with_capacity(2048);
    let head_len = loop {
        match ws_http::client_upgrade(&buf, ours, &key, sha1)? {
            Some(head_len) => break head_len,
            None => read_more(&mut io, &mut buf).await?,
        }
    };
    let _ = buf.split_to(head_len);
    Ok(Upgraded {
        io,
        leftover: buf,
        peer,
        peer_certificates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of RFC 6455 §1.3, with the SHA-1 the transport passes to sp-proto.
    #[test]
    fn accept_key_rfc6455_example() {
        assert_eq!(
            ws_http::accept_key("dGhlIHNhbXBsZSBub25jZQ==", sha1),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
