//! TCP connections and listeners.

use std::io;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::{BoxFuture, Conn, Listener, StreamOptions, TcpKeepalive};
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

/// Whole seconds, rounded up, at least 1 (the kernel's unit for keepalive timings).
fn whole_seconds(d: Duration) -> Duration {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}

/// Turns TCP keepalive on with `k`'s timings (the OS's for those left `None`).
pub(crate) fn set_keepalive(stream: &TcpStream, k: &TcpKeepalive) -> io::Result<()> {
    let sock = socket2::SockRef::from(stream);
    sock.set_keepalive(true)?;
    let mut params = socket2::TcpKeepalive::new();
    if let Some(idle) = k.idle {
        params = params.with_time(whole_seconds(idle));
    }
    // The interval and the count are set where socket2 offers both; elsewhere the OS's
    // values apply.
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "netbsd"
    ))]
    {
        if let Some(interval) = k.interval {
            params = params.with_interval(whole_seconds(interval));
        }
        if let Some(count) = k.count {
            params = params.with_retries(count.max(1));
        }
    }
    sock.set_tcp_keepalive(&params)
}

/// Sets `TCP_USER_TIMEOUT` (whole milliseconds, at least 1).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_user_timeout(stream: &TcpStream, timeout: Duration) -> io::Result<()> {
    let ms = timeout.as_millis() + u128::from(timeout.subsec_nanos() % 1_000_000 > 0);
    let ms = Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX).max(1));
    socket2::SockRef::from(stream).set_tcp_user_timeout(Some(ms))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_user_timeout(_: &TcpStream, _: Duration) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "TCP_USER_TIMEOUT exists only on Linux and Android",
    ))
}

fn into_conn(stream: TcpStream, options: StreamOptions) -> io::Result<Conn> {
    stream.set_nodelay(options.nodelay)?;
    if let Some(k) = &options.keepalive {
        set_keepalive(&stream, k)?;
    }
    if let Some(t) = options.user_timeout {
        set_user_timeout(&stream, t)?;
    }
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    Ok(Conn::new(Box::new(stream), peer))
}

/// nanomsg's `tcp://iface;host:port` local part: an address literal to bind the dialing
/// socket to (`*` means any). Interface names are not resolved.
fn local_address(local: &str, remote: SocketAddr) -> io::Result<SocketAddr> {
    let any = if remote.is_ipv4() {
        IpAddr::from([0u8; 4])
    } else {
        IpAddr::from([0u16; 8])
    };
    let ip = match local.trim_start_matches('[').trim_end_matches(']') {
        "*" | "" => any,
        lit => lit.parse::<IpAddr>().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("local interface {local:?} must be an IP address (interface names are not supported)"),
            )
        })?,
    };
    Ok(SocketAddr::new(ip, 0))
}

async fn connect_one(remote: SocketAddr, local: Option<&str>) -> io::Result<TcpStream> {
    let Some(local) = local else {
        return TcpStream::connect(remote).await;
    };
    let socket = if remote.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(local_address(local, remote)?)?;
    socket.connect(remote).await
}

/// Connects to the first address of `addr` that accepts, from the local address `local`
/// if given.
pub(crate) async fn connect(
    addr: &HostPort,
    local: Option<&str>,
    options: StreamOptions,
) -> io::Result<Conn> {
    let mut last = None;
    for a in resolve(addr).await? {
        match connect_one(a, local).await {
            Ok(s) => return into_conn(s, options),
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")))
}

struct TcpListen {
    listener: TcpListener,
    url: Url,
    options: StreamOptions,
}

impl Listener for TcpListen {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<Conn>> {
        Box::pin(async move {
            let (s, _) = self.listener.accept().await?;
            into_conn(s, self.options)
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
    options: StreamOptions,
) -> io::Result<Box<dyn Listener>> {
    let mut last = None;
    for a in resolve(addr).await? {
        match TcpListener::bind(a).await {
            Ok(listener) => {
                let port = listener.local_addr()?.port();
                return Ok(Box::new(TcpListen {
                    listener,
                    url: url.with_port(port),
                    options,
                }));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_part_parsing() {
        let v4: SocketAddr = "10.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(
            local_address("127.0.0.1", v4).unwrap(),
            "127.0.0.1:0".parse().unwrap()
        );
        assert_eq!(
            local_address("*", v4).unwrap(),
            "0.0.0.0:0".parse().unwrap()
        );
        assert_eq!(local_address("*", v6).unwrap(), "[::]:0".parse().unwrap());
        assert_eq!(
            local_address("[::1]", v6).unwrap(),
            "[::1]:0".parse().unwrap()
        );
        assert_eq!(
            local_address("eth0", v4).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    /// The options reach the kernel, on a dialed and on an accepted connection, as
    /// `getsockopt` reads them back. (That the kernel then probes and resets cannot be
    /// shown on loopback: its probes are always answered, and nothing here can black-hole
    /// them. The simulator models the timing, `sim/src/sim/keepalive.rs`.)
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    #[tokio::test]
    async fn keepalive_timings_reach_the_socket() {
        let options = StreamOptions {
            nodelay: true,
            keepalive: Some(TcpKeepalive {
                idle: Some(Duration::from_secs(7)),
                // Rounded up to whole seconds, as the kernel counts.
                interval: Some(Duration::from_millis(1500)),
                count: Some(4),
            }),
            user_timeout: Some(Duration::from_micros(2_500_500)),
        };
        let url: Url = "tcp://127.0.0.1:0".parse().unwrap();
        let Url::Tcp { addr, .. } = &url else {
            unreachable!()
        };
        let mut listener = bind(&url, addr, options).await.unwrap();
        let bound = listener.local_url();
        let Url::Tcp { addr: to, .. } = &bound else {
            unreachable!()
        };
        let (dialed, accepted) = tokio::join!(connect(to, None, options), listener.accept());
        for conn in [dialed.unwrap(), accepted.unwrap()] {
            let stream = conn.io.as_any().downcast_ref::<TcpStream>().unwrap();
            let sock = socket2::SockRef::from(stream);
            assert!(sock.keepalive().unwrap());
            assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(7));
            assert_eq!(
                sock.tcp_keepalive_interval().unwrap(),
                Duration::from_secs(2)
            );
            assert_eq!(sock.tcp_keepalive_retries().unwrap(), 4);
            #[cfg(any(target_os = "linux", target_os = "android"))]
            assert_eq!(
                sock.tcp_user_timeout().unwrap(),
                Some(Duration::from_millis(2501))
            );
        }
        // Off by default.
        let (dialed, accepted) = tokio::join!(
            connect(to, None, StreamOptions::default()),
            listener.accept()
        );
        let conn = dialed.unwrap();
        let stream = conn.io.as_any().downcast_ref::<TcpStream>().unwrap();
        assert!(!socket2::SockRef::from(stream).keepalive().unwrap());
        #[cfg(any(target_os = "linux", target_os = "android"))]
        assert_eq!(
            socket2::SockRef::from(stream).tcp_user_timeout().unwrap(),
            None
        );
        drop(accepted);
    }

    #[test]
    fn keepalive_durations_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), Duration::from_secs(1));
        assert_eq!(
            whole_seconds(Duration::from_millis(1)),
            Duration::from_secs(1)
        );
        assert_eq!(
            whole_seconds(Duration::from_secs(3)),
            Duration::from_secs(3)
        );
        assert_eq!(
            whole_seconds(Duration::from_millis(3001)),
            Duration::from_secs(4)
        );
    }
}
