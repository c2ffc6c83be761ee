//! A loopback TCP proxy that can cut and heal a link, so the simulator's partition
//! scenarios can be replayed against real peers (libnanomsg, NNG) over real sockets.
//!
//! The proxy listens on `127.0.0.1:<port>` and relays every connection to one loopback
//! upstream address. Two ways to fail the link, both undone by [`Proxy::heal`]:
//!
//! - [`Proxy::cut`] closes every relayed connection and closes each new one as soon as
//!   it is accepted, which both sides see the way they see a reset followed by refused
//!   reconnections.
//! - [`Proxy::black_hole`] stops relaying and keeps both sockets of every connection
//!   open, as a silent network failure does: no FIN, no RST. What either side sends
//!   waits (in the kernels' buffers, then in the sender's) and is relayed, in order,
//!   after the heal; new connections wait in the listen backlog, unaccepted. This is a
//!   black hole for the SP layer only: the proxy's kernel still acknowledges data and
//!   answers TCP keepalive probes, so kernel timers (keepalive, `TCP_USER_TIMEOUT`)
//!   cannot notice it; an application-level heartbeat (a WebSocket ping) or timeout can.
//!
//! An optional one-way delay per chunk models a slow link.
//!
//! It is bounded: at most [`MAX_CONNECTIONS`] relayed connections at once (more are
//! closed on accept), one buffer of [`CHUNK`] bytes per direction, and no queue (a chunk
//! is written before the next one is read, so back-pressure reaches the sender).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The most connections relayed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// The relay buffer per direction, in bytes.
pub const CHUNK: usize = 16 * 1024;
/// How long a connection to the upstream may take before the relayed one is dropped.
const CONNECT_LIMIT: Duration = Duration::from_secs(2);

/// The state of the proxied link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Relaying.
    Up,
    /// Connections closed, new ones closed on accept.
    Cut,
    /// Nothing relayed, nothing closed, new connections left unaccepted.
    BlackHole,
}

/// A running proxy; stops (closing every relayed connection) when dropped.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    /// The upstream URL's scheme and path (`tcp`, `ws`; the path of a `ws` URL).
    scheme: String,
    path: String,
    link: watch::Sender<Link>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Starts a proxy on a free loopback port relaying to `upstream` (which must be a
    /// loopback address), delaying each chunk by `delay` in both directions.
    pub async fn start(upstream: SocketAddr, delay: Duration) -> io::Result<Self> {
        if !upstream.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the proxy relays to loopback addresses only",
            ));
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (link, watch) = watch::channel(Link::Up);
        let task = tokio::spawn(accept_loop(listener, upstream, delay, watch));
        Ok(Self {
            addr,
            scheme: "tcp".to_owned(),
            path: String::new(),
            link,
            task,
        })
    }

    /// Starts a proxy for an SP URL `tcp://127.0.0.1:port` or `ws://127.0.0.1:port/path`
    /// (the proxy relays the TCP connection under the WebSocket).
    pub async fn for_url(upstream: &str, delay: Duration) -> io::Result<Self> {
        let bad = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a tcp://ip:port or ws://ip:port/path URL: {upstream}"),
            )
        };
        let (scheme, rest) = upstream.split_once("://").ok_or_else(bad)?;
        let (host_port, path) = match (scheme, rest.find('/')) {
            ("tcp", None) => (rest, ""),
            ("ws", Some(i)) => rest.split_at(i),
            ("ws", None) => (rest, ""),
            _ => return Err(bad()),
        };
        let addr = host_port.parse::<SocketAddr>().map_err(|_| bad())?;
        let mut proxy = Self::start(addr, delay).await?;
        proxy.scheme = scheme.to_owned();
        proxy.path = path.to_owned();
        Ok(proxy)
    }

    /// The proxy's own address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SP URL to dial instead of the upstream's (same scheme and path).
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.addr, self.path)
    }

    /// Cuts the link: closes every relayed connection and closes new ones on accept.
    pub fn cut(&self) {
        self.link.send_replace(Link::Cut);
    }

    /// Makes the link a black hole: stops relaying, closes nothing, accepts nothing.
    pub fn black_hole(&self) {
        self.link.send_replace(Link::BlackHole);
    }

    /// Heals the link: what a black hole held is relayed, and new connections too.
    pub fn heal(&self) {
        self.link.send_replace(Link::Up);
    }

    /// The link's state.
    pub fn link(&self) -> Link {
        *self.link.borrow()
    }

    /// Whether the link is cut (closing connections).
    pub fn is_cut(&self) -> bool {
        self.link() == Link::Cut
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    delay: Duration,
    mut link: watch::Receiver<Link>,
) {
    let mut relays = JoinSet::new();
    loop {
        // A black hole leaves new connections in the backlog, unanswered.
        let accepting = *link.borrow_and_update() != Link::BlackHole;
        tokio::select! {
            accepted = listener.accept(), if accepting => {
                let Ok((client, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                if *link.borrow() == Link::Cut || relays.len() >= MAX_CONNECTIONS {
                    drop(client);
                    continue;
                }
                relays.spawn(relay(client, upstream, delay, link.clone()));
            }
            changed = link.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            Some(_) = relays.join_next(), if !relays.is_empty() => {}
        }
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    delay: Duration,
    mut link: watch::Receiver<Link>,
) {
    let Ok(Ok(server)) = tokio::time::timeout(CONNECT_LIMIT, TcpStream::connect(upstream)).await
    else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    tokio::select! {
        _ = pump(cr, sw, delay, link.clone()) => {}
        _ = pump(sr, cw, delay, link.clone()) => {}
        _ = link.wait_for(|&l| l == Link::Cut) => {}
    }
    // Dropping both streams closes both connections.
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    mut link: watch::Receiver<Link>,
) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        // In a black hole nothing is read: the sender's data waits, as unacknowledged
        // data waits for TCP's retransmission after a silent failure.
        if link.wait_for(|&l| l != Link::BlackHole).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        // A chunk read just before the black hole began waits for the heal too.
        if link.wait_for(|&l| l != Link::BlackHole).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn relays_cuts_and_heals() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = echo.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = echo.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut b = [0u8; 64];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 || s.write_all(&b[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let proxy = Proxy::start(up, Duration::ZERO).await.unwrap();
        let limit = Duration::from_secs(5);
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut b = [0u8; 4];
        tokio::time::timeout(limit, c.read_exact(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&b, b"ping");

        proxy.cut();
        let n = tokio::time::timeout(limit, c.read(&mut b)).await.unwrap();
        assert!(matches!(n, Ok(0) | Err(_)), "the cut closes the connection");
        let mut d = TcpStream::connect(proxy.addr()).await.unwrap();
        let n = tokio::time::timeout(limit, d.read(&mut b)).await.unwrap();
        assert!(matches!(n, Ok(0) | Err(_)), "closed on accept while cut");

        proxy.heal();
        let mut e = TcpStream::connect(proxy.addr()).await.unwrap();
        e.write_all(b"pong").await.unwrap();
        tokio::time::timeout(limit, e.read_exact(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&b, b"pong");
        assert!(Proxy::start("10.0.0.1:1".parse().unwrap(), Duration::ZERO)
            .await
            .is_err());
        let ws = Proxy::for_url("ws://127.0.0.1:9/sp", Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(ws.url(), format!("ws://{}/sp", ws.addr()));
        for bad in [
            "ipc:///tmp/x",
            "tcp://127.0.0.1:9/path",
            "ws://localhost:9/",
        ] {
            assert!(Proxy::for_url(bad, Duration::ZERO).await.is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_black_hole_holds_data_keeps_connections_and_relays_after_the_heal() {
        let (proxy, up, mut upstream_side, mut c) = connected_pair().await;
        let limit = Duration::from_secs(5);
        let quiet = Duration::from_millis(200);
        let mut b = [0u8; 4];

        proxy.black_hole();
        assert_eq!(proxy.link(), Link::BlackHole);
        c.write_all(b"held").await.unwrap();
        upstream_side.write_all(b"back").await.unwrap();
        // Nothing arrives either way, and neither side sees its connection end.
        assert!(tokio::time::timeout(quiet, upstream_side.read(&mut b))
            .await
            .is_err());
        assert!(tokio::time::timeout(quiet, c.read(&mut b)).await.is_err());
        // A new connection is not answered (it waits in the backlog).
        let mut late = TcpStream::connect(proxy.addr()).await.unwrap();
        late.write_all(b"late").await.unwrap();

        proxy.heal();
        tokio::time::timeout(limit, upstream_side.read_exact(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&b, b"held", "relayed after the heal");
        tokio::time::timeout(limit, c.read_exact(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&b, b"back");
        // The connection made during the black hole is relayed once healed.
        let (mut s, _) = tokio::time::timeout(limit, up.accept())
            .await
            .unwrap()
            .unwrap();
        tokio::time::timeout(limit, s.read_exact(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&b, b"late");
    }

    /// A proxy in front of a listener, and both ends of one relayed connection.
    async fn connected_pair() -> (Proxy, TcpListener, TcpStream, TcpStream) {
        let up = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy::start(up.local_addr().unwrap(), Duration::ZERO)
            .await
            .unwrap();
        let c = TcpStream::connect(proxy.addr()).await.unwrap();
        let (s, _) = up.accept().await.unwrap();
        (proxy, up, s, c)
    }
}
