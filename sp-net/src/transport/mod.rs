//! The transport seam: byte-stream connections (TCP, IPC) behind one small trait, so the
//! simulator can substitute its own network without touching protocol or socket code.
//! TLS (`tls+tcp://`) and WebSocket (`ws://`, `wss://`) run over the connections it
//! opens; in-process pipes (`inproc.rs`) and shared `ws://` ports are registered per
//! [`Network::namespace`]. The endpoint layer (`endpoint/`) adapts each to its one
//! transport trait and runs the accept and dial loops.

use std::io;
use std::sync::Arc;

use sp_proto::wire::frame::FrameFormat;
use tokio::io::{AsyncRead, AsyncWrite};

use direct::{DirectWriter, Half, SharedWrite};

use crate::url::Url;

pub(crate) mod direct;
pub(crate) mod inproc;
mod inproc_queue;
mod read_side;
pub(crate) use read_side::ReadSide;
#[cfg(unix)]
pub mod ipc;
pub mod tcp;
pub mod tls;
pub(crate) mod ws;
mod ws_keys;
mod ws_pipe;

pub use crate::future::BoxFuture;

/// A bidirectional byte stream.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {
    /// The stream as `Any`, to recognise stream types that split without a lock.
    fn as_any(&self) -> &dyn std::any::Any;
    /// The stream as a boxed `Any` (see [`as_any`](Self::as_any)).
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

/// Stream types that split into owned halves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owned {
    Tcp,
    #[cfg(unix)]
    Unix,
}

/// Which owned split `io` supports, if any. Takes `&dyn Io`, not the box: a
/// `Box<dyn Io>` is itself an `Io` (the blanket impl), and asking the box would answer
/// for the box's own type.
fn owned_halves(io: &dyn Io) -> Option<Owned> {
    let any = io.as_any();
    if any.is::<tokio::net::TcpStream>() {
        return Some(Owned::Tcp);
    }
    #[cfg(unix)]
    if any.is::<tokio::net::UnixStream>() {
        return Some(Owned::Unix);
    }
    None
}

/// Splits a connection into its read and write halves: TCP and Unix streams into their
/// owned halves (no lock between the two directions), the write half shared with the
/// pipe's slot for write-through ([`direct`]), anything else through `tokio::io::split`
/// (and no write-through). `format` is the framing of the connection's messages.
pub(crate) fn split(
    io: Box<dyn Io>,
    format: FrameFormat,
) -> (ReadSide, BoxWrite, Option<Arc<DirectWriter>>) {
    let shared = |half| {
        let direct = Arc::new(DirectWriter::new(half, format));
        let write: BoxWrite = Box::new(SharedWrite(direct.clone()));
        (write, Some(direct))
    };
    match owned_halves(&*io) {
        Some(Owned::Tcp) => {
            if let Ok(s) = io.into_any().downcast::<tokio::net::TcpStream>() {
                let (r, w) = s.into_split();
                let (w, direct) = shared(Half::Tcp(w));
                return (ReadSide::Tcp(r), w, direct);
            }
            unreachable!("checked type");
        }
        #[cfg(unix)]
        Some(Owned::Unix) => {
            if let Ok(s) = io.into_any().downcast::<tokio::net::UnixStream>() {
                let (r, w) = s.into_split();
                let (w, direct) = shared(Half::Unix(w));
                return (ReadSide::Unix(r), w, direct);
            }
            unreachable!("checked type");
        }
        None => {}
    }
    let (r, w) = tokio::io::split(io);
    (ReadSide::Other(Box::new(r)), Box::new(w), None)
}

/// The read half of a connection.
pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a connection.
pub type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// An established byte-stream connection.
pub struct Conn {
    /// The stream.
    pub io: Box<dyn Io>,
    /// The peer's address, for logs.
    pub peer: String,
    /// The certificates the peer presented in a TLS handshake on this connection (set by
    /// the TLS layer; `None` for plain streams).
    pub peer_certificates: Option<tls::PeerCertificates>,
}

impl Conn {
    /// A plain (not yet TLS) connection to `peer`.
    pub fn new(io: Box<dyn Io>, peer: impl Into<String>) -> Self {
        Self {
            io,
            peer: peer.into(),
            peer_certificates: None,
        }
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("peer", &self.peer).finish()
    }
}

/// A bound listener.
pub trait Listener: Send {
    /// Waits for the next connection.
    fn accept(&mut self) -> BoxFuture<'_, io::Result<Conn>>;
    /// The address actually bound (port 0 replaced by the chosen port).
    fn local_url(&self) -> Url;
}

/// TCP settings a socket asks for on its connections (tcp, tls+tcp, ws and wss).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamOptions {
    /// TCP_NODELAY (default on, as NNG and mangos; nanomsg defaults to off).
    pub nodelay: bool,
    /// TCP keepalive: `None` (the default, as nanomsg and NNG) leaves it off.
    pub keepalive: Option<TcpKeepalive>,
    /// `TCP_USER_TIMEOUT` (Linux and Android): the longest that sent data may stay
    /// unacknowledged before the kernel resets the connection. Keepalive probes are only
    /// sent while nothing is outstanding, so a pipe that keeps *sending* into a silent
    /// network is closed by this timeout, not by keepalive (without it, after about 15
    /// minutes of retransmissions). `None` (the default) keeps the OS's behaviour. Rounded
    /// up to whole milliseconds, at least 1 ms; elsewhere than Linux and Android, setting
    /// it makes every connection fail with `ErrorKind::Unsupported`.
    pub user_timeout: Option<std::time::Duration>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            nodelay: true,
            keepalive: None,
            user_timeout: None,
        }
    }
}

/// TCP keepalive (`SO_KEEPALIVE`) and its timings: after `idle` without traffic the
/// kernel sends a probe every `interval`; after `count` unanswered probes it resets the
/// connection, and the pipe ends (counted in
/// [`SocketStats::pipes_closed_for_silence`](crate::stats::SocketStats::pipes_closed_for_silence)).
/// A dead or silent peer is so noticed after about `idle + interval * count`. A field
/// left `None` keeps the operating system's value (on Linux `net.ipv4.tcp_keepalive_time`
/// 7200 s, `tcp_keepalive_intvl` 75 s, `tcp_keepalive_probes` 9). The kernel counts in
/// whole seconds: durations are rounded up to the next second, and at least 1 s; a
/// `count` of 0 is raised to 1. `interval` and `count` are applied on Linux, Android,
/// macOS, iOS, FreeBSD and NetBSD; elsewhere the OS's values stay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpKeepalive {
    /// Time without traffic before the first probe (`TCP_KEEPIDLE`).
    pub idle: Option<std::time::Duration>,
    /// Time between probes (`TCP_KEEPINTVL`).
    pub interval: Option<std::time::Duration>,
    /// Unanswered probes before the connection is reset (`TCP_KEEPCNT`).
    pub count: Option<u32>,
}

/// A WebSocket heartbeat for `ws://` and `wss://` pipes: when nothing has been received
/// for `interval`, a Ping frame is sent; when nothing (the Pong or any other frame) has
/// been received `timeout` after that, the pipe closes, counted in
/// [`SocketStats::pipes_closed_for_silence`](crate::stats::SocketStats::pipes_closed_for_silence).
/// A silent peer is so noticed `interval + timeout` after the last frame received from
/// it. The Ping carries no payload; a peer that answers it as RFC 6455 requires (NNG and
/// this library do) keeps its pipe while idle. libnanomsg 1.1.5 sends no Pong (and hands
/// the Ping to its application as an empty message): do not set this toward it
/// (docs/options.md, "Dead-peer detection").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsPing {
    /// Silence before a Ping is sent.
    pub interval: std::time::Duration,
    /// Time allowed for the peer to answer (with anything) before the pipe closes.
    pub timeout: std::time::Duration,
}

/// Opens stream connections and listeners for the URLs it supports.
pub trait Network: Send + Sync + 'static {
    /// Connects to `url`.
    fn connect(&self, url: &Url) -> BoxFuture<'static, io::Result<Conn>>;
    /// Binds a listener at `url`.
    fn bind(&self, url: &Url) -> BoxFuture<'static, io::Result<Box<dyn Listener>>>;
    /// Connects with the socket's TCP settings; networks without such settings (a
    /// simulator) keep the default, which ignores them.
    fn connect_with(
        &self,
        url: &Url,
        _options: StreamOptions,
    ) -> BoxFuture<'static, io::Result<Conn>> {
        self.connect(url)
    }
    /// Binds with the socket's TCP settings for accepted connections (default: ignored).
    fn bind_with(
        &self,
        url: &Url,
        _options: StreamOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        self.bind(url)
    }
    /// Identifies the address space this network binds in: `ws://` listeners of sockets
    /// whose networks report the same namespace, on the same address, share one port
    /// (path routing), and `inproc://` names are bound per namespace (a dialer finds
    /// only listeners of its own). The default is this instance's identity (no sharing
    /// across instances); the real network is one namespace.
    ///
    /// The tables of bound names and shared ports are process-wide, keyed by this
    /// namespace, rather than owned by the network value: the real network's space is
    /// the process's (each socket makes its own `TokioNetwork`), and an implementation
    /// supplies only streams and this identity. `docs/embedding.md` gives the reasons.
    fn namespace(&self) -> usize {
        self as *const Self as *const u8 as usize
    }
}

/// The real network: tokio TCP and Unix sockets.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioNetwork {
    /// TCP settings used by the plain `connect`/`bind` (sockets pass their own through
    /// `connect_with`/`bind_with`).
    pub options: StreamOptions,
}

impl TokioNetwork {
    /// The real network with default TCP settings (TCP_NODELAY on, keepalive off).
    pub fn new() -> Self {
        Self::default()
    }
}

fn unsupported(url: &Url) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "transport {} is not available on this network",
            url.scheme()
        ),
    )
}

impl Network for TokioNetwork {
    fn namespace(&self) -> usize {
        0
    }

    fn connect(&self, url: &Url) -> BoxFuture<'static, io::Result<Conn>> {
        self.connect_with(url, self.options)
    }

    fn bind(&self, url: &Url) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        self.bind_with(url, self.options)
    }

    fn connect_with(
        &self,
        url: &Url,
        options: StreamOptions,
    ) -> BoxFuture<'static, io::Result<Conn>> {
        let url = url.clone();
        Box::pin(async move {
            match &url {
                Url::Tcp { addr, local } => tcp::connect(addr, local.as_deref(), options).await,
                #[cfg(unix)]
                Url::Ipc(path) => ipc::connect(path).await,
                #[cfg(target_os = "linux")]
                Url::Abstract(name) => ipc::connect_abstract(&url, name).await,
                _ => Err(unsupported(&url)),
            }
        })
    }

    fn bind_with(
        &self,
        url: &Url,
        options: StreamOptions,
    ) -> BoxFuture<'static, io::Result<Box<dyn Listener>>> {
        let url = url.clone();
        Box::pin(async move {
            match &url {
                Url::Tcp { addr, .. } => tcp::bind(&url, addr, options).await,
                #[cfg(unix)]
                Url::Ipc(path) => ipc::bind(&url, path).await,
                #[cfg(target_os = "linux")]
                Url::Abstract(name) => ipc::bind_abstract(&url, name),
                _ => Err(unsupported(&url)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tcp_and_unix_streams_in_a_box_split_into_owned_halves() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (dialed, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let boxed: Box<dyn Io> = Box::new(dialed.unwrap());
        assert_eq!(owned_halves(&*boxed), Some(Owned::Tcp));
        // The trap `owned_halves` avoids: asked directly, the box answers for itself.
        assert!(!boxed.as_any().is::<tokio::net::TcpStream>());
        drop(accepted);
        #[cfg(unix)]
        {
            let (a, _b) = tokio::net::UnixStream::pair().unwrap();
            let boxed: Box<dyn Io> = Box::new(a);
            assert_eq!(owned_halves(&*boxed), Some(Owned::Unix));
        }
        let (a, _b) = tokio::io::duplex(64);
        let boxed: Box<dyn Io> = Box::new(a);
        assert_eq!(owned_halves(&*boxed), None);
    }
}
