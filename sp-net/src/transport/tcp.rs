//! TCP connections and listeners.

use std::io;

use tokio::net::{TcpListener, TcpStream};

use super::{BoxFuture, Conn, Listener};
use crate::url::{Family, HostPort, Url};

async fn resolve(addr: &HostPort) -> io::Result<Vec<std::net::SocketAddr>> {
    let all: Vec<_> = tokio::net::lookup_host(addr.socket_addr_string())
        .await?
        .collect();
    let filtered: Vec<_> = all
        .into_iter()
        .filter(|a| match addr.family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        })
        .collect();
    if filtered.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no address for {}", addr.socket_addr_string()),
        ));
    }
    Ok(filtered)
}

fn into_conn(stream: TcpStream, nodelay: bool) -> io::Result<Conn> {
    stream.set_nodelay(nodelay)?;
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    Ok(Conn {
        io: Box::new(stream),
        peer,
    })
}

/// Connects to the first address of `addr` that accepts.
pub(crate) async fn connect(addr: &HostPort, nodelay: bool) -> io::Result<Conn> {
    let mut last = None;
    for a in resolve(addr).await? {
        match TcpStream::connect(a).await {
            Ok(s) => return into_conn(s, nodelay),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")))
}

struct TcpListen {
    listener: TcpListener,
    url: Url,
    nodelay: bool,
}

impl Listener for TcpListen {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<Conn>> {
        Box::pin(async move {
            let (s, _) = self.listener.accept().await?;
            into_conn(s, self.nodelay)
        })
    }

    fn local_url(&self) -> Url {
        self.url.clone()
    }
}

/// Binds a TCP listener; the returned listener reports the bound port.
pub(crate) async fn bind(
    url: &Url,
    addr: &HostPort,
    nodelay: bool,
) -> io::Result<Box<dyn Listener>> {
    let mut last = None;
    for a in resolve(addr).await? {
        match TcpListener::bind(a).await {
            Ok(listener) => {
                let port = listener.local_addr()?.port();
                return Ok(Box::new(TcpListen {
                    listener,
                    url: url.with_port(port),
                    nodelay,
                }));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")))
}
