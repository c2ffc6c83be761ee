//! A loopback TCP proxy that can cut and heal a link, so the simulator's partition
//! scenarios can be replayed against real peers (libnanomsg, NNG) over real sockets.
//!
//! The proxy listens on `127.0.0.1:<port>` and relays every connection to one loopback
//! upstream address. [`Proxy::cut`] closes every relayed connection and, until
//! [`Proxy::heal`], closes each new one as soon as it is accepted, which both sides see
//! the way they see a real link failure followed by refused reconnections. An optional
//! one-way delay per chunk models a slow link.
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

/// A running proxy; stops (closing every relayed connection) when dropped.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
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
        let (cut, watch) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, upstream, delay, watch));
        Ok(Self { addr, cut, task })
    }

    /// Starts a proxy for an SP URL `tcp://127.0.0.1:port`.
    pub async fn for_url(upstream: &str, delay: Duration) -> io::Result<Self> {
        let addr = upstream
            .strip_prefix("tcp://")
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("not a tcp://ip:port URL: {upstream}"),
                )
            })?;
        Self::start(addr, delay).await
    }

    /// The proxy's own address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SP URL to dial instead of the upstream's.
    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    /// Cuts the link: closes every relayed connection and closes new ones on accept.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Heals the link: new connections are relayed again.
    pub fn heal(&self) {
        self.cut.send_replace(false);
    }

    /// Whether the link is cut.
    pub fn is_cut(&self) -> bool {
        *self.cut.borrow()
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    delay: Duration,
    cut: watch::Receiver<bool>,
) {
    let mut relays = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                if *cut.borrow() || relays.len() >= MAX_CONNECTIONS {
                    drop(client);
                    continue;
                }
                relays.spawn(relay(client, upstream, delay, cut.clone()));
            }
            Some(_) = relays.join_next(), if !relays.is_empty() => {}
        }
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    delay: Duration,
    mut cut: watch::Receiver<bool>,
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
        _ = pump(cr, sw, delay) => {}
        _ = pump(sr, cw, delay) => {}
        _ = cut.wait_for(|&c| c) => {}
    }
    // Dropping both streams closes both connections.
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
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
    }
}
