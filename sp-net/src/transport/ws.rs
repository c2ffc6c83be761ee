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
//!   port; the TLS settings and handshake timeout of the first listener on a port apply to
//!   every connection accepted on it (the path is only known after both).
//! - **Data.** One SP message is one binary WebSocket message, fragmented at
//!   [`DEFAULT_SEND_FRAGMENT`](sp_proto::wire::ws::DEFAULT_SEND_FRAGMENT); dialers mask
//!   every frame with a fresh key from the OS CSPRNG (`ws_keys.rs`), and draw their
//!   `Sec-WebSocket-Key` from it too, never from the socket's seed. Received fragments are
//!   reassembled, pings answered, and a text message (close 1003), a message over the
//!   socket's maximum receive size (1009) or a protocol error (1002) ends the connection
//!   with that close code; the connection then lingers briefly, discarding input, so the
//!   close frame is not lost to a TCP reset.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use super::ws_keys::KeySource;
use bytes::{Bytes, BytesMut};
use sp_proto::wire::ws::dialer_offer;
use sp_proto::wire::ws_frame::{
    WsDecoder, WsEncoder, WsEvent, WsFrameError, WsRole, CLOSE_NORMAL, MAX_CONTROL_PAYLOAD,
};
use sp_proto::wire::ws_http::{
    self, ClientUpgradeError, HttpError, Refusal, Reject, ResponseError, ServerUpgrade,
};
use sp_proto::wire::MaxRecvSize;
use sp_proto::{Message, SocketType};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::tls::TlsConfig;
use super::{BoxFuture, BoxRead, BoxWrite, Conn, Io, Network};
use crate::pipe::{Established, MsgRead, MsgWrite, PipeEnd};
use crate::stats::Count;
use crate::url::{Family, HostPort, Url};

/// Counts a listener's connection events in its socket's statistics. The shared port's
/// accept loop counts an accepted connection (and a failed upgrade) on the socket whose
/// path it asked for, which only the HTTP request names.
pub(crate) type Counter = Arc<dyn Fn(Count) + Send + Sync>;

/// What a `ws://` endpoint's connections are set up with, from its socket.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WsSettings {
    /// The socket's type (the subprotocol offered or served).
    pub(crate) ours: SocketType,
    /// Largest message accepted (over all fragments).
    pub(crate) max_recv: MaxRecvSize,
    /// Time allowed for the TCP/TLS and HTTP upgrade handshakes.
    pub(crate) handshake_timeout: Duration,
}

/// How long a connection closed for a peer's error keeps draining input after sending its
/// close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(2);
/// Most bytes discarded while lingering.
const CLOSE_DRAIN_MAX: usize = 16 * 1024 * 1024;
/// Encoded bytes gathered before a write.
const FLUSH_AT: usize = 64 * 1024;

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
struct Upgraded {
    io: Box<dyn Io>,
    leftover: BytesMut,
    peer: String,
}

/// A listener registered for one path.
struct Route {
    id: u64,
    ours: SocketType,
    count: Counter,
    tx: mpsc::UnboundedSender<Upgraded>,
}

/// What the accept loop of a shared port needs.
struct HubState {
    routes: Mutex<HashMap<String, Route>>,
    tls: Option<TlsConfig>,
    handshake_timeout: Duration,
}

impl HubState {
    fn routes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Route>> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
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

/// Removes its route when the listener's task ends.
struct RouteGuard {
    hub: Arc<Hub>,
    path: String,
    id: u64,
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        let mut routes = self.hub.state.routes();
        if routes.get(&self.path).is_some_and(|r| r.id == self.id) {
            routes.remove(&self.path);
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
    handshake_timeout: Duration,
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
    let listener = network.bind(&tcp_url(addr)).await?;
    let port = listener.local_url().port().unwrap_or(addr.port);
    key.port = port;
    let state = Arc::new(HubState {
        routes: Mutex::new(HashMap::new()),
        tls,
        handshake_timeout,
    });
    let accept = tokio::spawn(accept_loop(listener, state.clone())).abort_handle();
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let hub = Arc::new(Hub {
        id,
        key: key.clone(),
        state,
        accept,
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
        Some(pipe_halves(WsRole::Server, up, self.max_recv))
    }
}

/// Starts a `ws://`/`wss://` listener, counting its connection events with `count`.
pub(crate) async fn listen(
    network: &Arc<dyn Network>,
    url: &Url,
    tls: Option<TlsConfig>,
    settings: WsSettings,
    count: Counter,
) -> io::Result<WsListener> {
    let WsSettings {
        ours,
        max_recv,
        handshake_timeout,
    } = settings;
    check_url(url)?;
    let Url::Ws { addr, path, .. } = url else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a ws:// URL",
        ));
    };
    let path = ws_http::target_path(path).unwrap_or_else(|| "/".to_owned());
    let hub = find_or_bind(network, addr, tls, handshake_timeout).await?;
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
                ours,
                count,
                tx,
            },
        );
    }
    Ok(WsListener {
        url: url.with_port(hub.port),
        rx,
        max_recv,
        _guard: RouteGuard { hub, path, id },
    })
}

async fn accept_loop(mut listener: Box<dyn super::Listener>, state: Arc<HubState>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => {
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

/// Runs the server side of the upgrade on one accepted connection, within the timeout.
async fn serve(state: Arc<HubState>, conn: Conn) {
    let peer = conn.peer.clone();
    let outcome = tokio::time::timeout(state.handshake_timeout, upgrade_server(&state, conn))
        .await
        .unwrap_or(Err(WsHandshakeError::TimedOut));
    if let Err(e) = outcome {
        tracing::debug!(peer, error = %e, "WebSocket upgrade failed");
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

async fn upgrade_server(state: &HubState, conn: Conn) -> Result<(), WsHandshakeError> {
    let Conn { io, peer } = match &state.tls {
        Some(tls) => tls.accept(conn).await?,
        None => conn,
    };
    let mut io = io;
    let mut buf = BytesMut::with_capacity(2048);
    let mut found = None;
    let decision = loop {
        let route = |path: &str| {
            let r = state
                .routes()
                .get(path)
                .filter(|r| !r.tx.is_closed())
                .map(|r| (r.ours, r.count.clone(), r.tx.clone()))?;
            let ours = r.0;
            found = Some(r);
            Some(ours)
        };
        match ws_http::server_upgrade(&buf, route, sha1) {
            ServerUpgrade::Incomplete => read_more(&mut io, &mut buf).await?,
            decision => break decision,
        }
    };
    if let Some((_, count, _)) = &found {
        count(Count::Accept);
    }
    match decision {
        ServerUpgrade::Incomplete => unreachable!("the loop reads until a decision"),
        ServerUpgrade::Refuse { reject, why } => {
            refuse(&mut io, &reject).await?;
            match why {
                Refusal::Unreadable(e) => Err(e.into()),
                Refusal::NotFound(_) => Ok(()),
                Refusal::Refused => {
                    if let Some((_, count, _)) = &found {
                        count(Count::HandshakeFailure);
                    }
                    tracing::warn!(peer, status = reject.status, why = %reject.detail, "WebSocket upgrade refused");
                    Ok(())
                }
            }
        }
        ServerUpgrade::Accept { head_len, response } => {
            let Some((_, _, tx)) = found else {
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
            });
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------
// Dialing.

/// Opens the TCP (and for `wss://` the TLS) connection of a `ws://` dialer's attempt,
/// within `timeout`.
pub(crate) async fn connect(
    network: &dyn Network,
    url: &Url,
    tls: Option<&TlsConfig>,
    timeout: Duration,
) -> io::Result<Conn> {
    let Url::Ws { addr, .. } = url else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a ws:// URL",
        ));
    };
    let connected = async {
        let conn = network.connect(&tcp_url(addr)).await?;
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
    Ok(pipe_halves(WsRole::Client, up, settings.max_recv))
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
    let Conn { mut io, peer } = conn;
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
    })
}

// ---------------------------------------------------------------------------------------
// The pipe: frames in, frames out.

/// The write side, shared by the writer (messages) and the reader (pongs, close replies).
/// Frames are appended whole to `out` and written from it, so a write cancelled halfway
/// leaves the rest queued rather than a torn frame.
struct Sink {
    w: BoxWrite,
    out: BytesMut,
    enc: WsEncoder,
    /// Masking keys (used by a client only).
    keys: KeySource,
    closed: bool,
}

impl Sink {
    fn push_message(&mut self, m: &Message) {
        let Self { out, enc, keys, .. } = self;
        enc.encode_message(&m.header, &m.body, || keys.mask_key(), out);
    }

    fn push_pong(&mut self, payload: &[u8]) {
        let Self { out, enc, keys, .. } = self;
        // A ping's payload is at most 125 bytes, so this cannot fail.
        let _ = enc.encode_pong(payload, || keys.mask_key(), out);
    }

    /// Queues our Close frame (once).
    fn push_close(&mut self, code: u16, reason: &str) {
        if self.closed {
            return;
        }
        self.closed = true;
        let mut cut = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        let Self { out, enc, keys, .. } = self;
        let _ = enc.encode_close(code, &reason[..cut], || keys.mask_key(), out);
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.keys.failed() {
            // Frames masked while the OS supplied no randomness are never sent.
            self.out.clear();
            return Err(io::Error::other(
                "no OS randomness for WebSocket masking keys",
            ));
        }
        while !self.out.is_empty() {
            if self.w.write_buf(&mut self.out).await? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        self.w.flush().await
    }
}

type SharedSink = Arc<tokio::sync::Mutex<Sink>>;

/// Control frames the reader still owes the peer (kept across a cancelled read).
enum Owed {
    Pong(Bytes),
    Close(u16),
}

struct WsReader {
    r: Option<BoxRead>,
    buf: BytesMut,
    dec: WsDecoder,
    sink: SharedSink,
    owed: Option<Owed>,
    unflushed: bool,
}

impl WsReader {
    /// Sends what is owed; `true` when that was our Close reply (the pipe ends).
    async fn pay(&mut self) -> Result<bool, PipeEnd> {
        if self.owed.is_none() && !self.unflushed {
            return Ok(false);
        }
        let mut s = self.sink.lock().await;
        let closing = match self.owed.take() {
            Some(Owed::Pong(p)) => {
                s.push_pong(&p);
                false
            }
            Some(Owed::Close(code)) => {
                s.push_close(code, "");
                true
            }
            None => false,
        };
        self.unflushed = true;
        s.flush().await?;
        self.unflushed = false;
        if closing {
            let _ = s.w.shutdown().await;
        }
        Ok(closing)
    }

    /// Ends the connection for a peer's error: close frame with the error's code, then
    /// drain input for a while in the background.
    fn fail(&mut self, e: &WsFrameError) {
        let Some(mut r) = self.r.take() else { return };
        let sink = self.sink.clone();
        let code = e.close_code();
        let reason = e.to_string();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(CLOSE_LINGER, async move {
                {
                    let mut s = sink.lock().await;
                    s.push_close(code, &reason);
                    if s.flush().await.is_err() {
                        return;
                    }
                    let _ = s.w.shutdown().await;
                }
                let mut scratch = vec![0u8; 16 * 1024];
                let mut drained = 0;
                while drained < CLOSE_DRAIN_MAX {
                    match r.read(&mut scratch).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => drained += n,
                    }
                }
            })
            .await;
        });
    }

    async fn read_some(&mut self, out: &mut Vec<Bytes>) -> Result<(), PipeEnd> {
        if self.pay().await? {
            return Err(PipeEnd::Eof);
        }
        loop {
            loop {
                match self.dec.decode(&mut self.buf) {
                    Ok(Some(WsEvent::Message(m))) => out.push(m),
                    Ok(Some(WsEvent::Ping(p))) => {
                        self.owed = Some(Owed::Pong(p));
                        self.pay().await?;
                    }
                    Ok(Some(WsEvent::Close { code, .. })) => {
                        self.owed = Some(Owed::Close(code.unwrap_or(CLOSE_NORMAL)));
                        self.pay().await?;
                        return Err(PipeEnd::Eof);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.fail(&e);
                        return Err(PipeEnd::Ws(e));
                    }
                }
            }
            if !out.is_empty() {
                return Ok(());
            }
            let Some(r) = self.r.as_mut() else {
                return Err(PipeEnd::Eof);
            };
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(64 * 1024);
            }
            if r.read_buf(&mut self.buf).await? == 0 {
                return Err(PipeEnd::Eof);
            }
        }
    }
}

impl MsgRead for WsReader {
    fn read<'a>(&'a mut self, out: &'a mut Vec<Bytes>) -> BoxFuture<'a, Result<(), PipeEnd>> {
        Box::pin(self.read_some(out))
    }
}

struct WsWriter {
    sink: SharedSink,
}

impl MsgWrite for WsWriter {
    fn write<'a>(
        &'a mut self,
        batch: &'a mut VecDeque<Message>,
    ) -> BoxFuture<'a, Result<(), PipeEnd>> {
        Box::pin(async move {
            let mut s = self.sink.lock().await;
            if s.closed {
                batch.clear();
                return Err(PipeEnd::Eof);
            }
            for m in batch.drain(..) {
                s.push_message(&m);
                if s.out.len() >= FLUSH_AT {
                    s.flush().await?;
                }
            }
            s.flush().await?;
            Ok(())
        })
    }

    fn close(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut s = self.sink.lock().await;
            s.push_close(CLOSE_NORMAL, "");
            if s.flush().await.is_ok() {
                let _ = s.w.shutdown().await;
            }
        })
    }
}

/// An upgraded connection as a pipe's reader and writer.
fn pipe_halves(role: WsRole, up: Upgraded, max_recv: MaxRecvSize) -> Established {
    let (r, w) = tokio::io::split(up.io);
    let sink = Arc::new(tokio::sync::Mutex::new(Sink {
        w: Box::new(w) as Box<dyn AsyncWrite + Send + Unpin>,
        out: BytesMut::with_capacity(FLUSH_AT),
        enc: WsEncoder::new(role),
        keys: KeySource::new(),
        closed: false,
    }));
    let reader = WsReader {
        r: Some(Box::new(r)),
        buf: up.leftover,
        dec: WsDecoder::new(role, max_recv),
        sink: sink.clone(),
        owed: None,
        unflushed: false,
    };
    Established {
        peer: up.peer,
        reader: Box::new(reader),
        writer: Box::new(WsWriter { sink }),
    }
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
