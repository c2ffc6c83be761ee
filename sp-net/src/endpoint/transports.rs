//! The [`Transport`] of each URL kind: byte streams from the [`Network`] (tcp, ipc and
//! tls+tcp, framed after the SP header exchange), inproc, and ws/wss.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use sp_proto::wire::{FrameFormat, MaxRecvSize};
use sp_proto::SocketType;

use super::{setup_failed, Acceptor, Connector, Env, Error, Setup, SetupError, Transport};
use crate::future::BoxFuture;
use crate::pipe::Established;
use crate::release::Hold;
use crate::stats::Count;
use crate::stream::{self, StreamReader, StreamWriter};
use crate::transport::inproc::{self, InprocListener, InprocReader, InprocWriter, QueueReceiver};
use crate::transport::tls::TlsConfig;
use crate::transport::ws::{self, PortEvent, PortSink, WsListener, WsSettings};
use crate::transport::{Conn, Listener, Network, StreamOptions};
use crate::url::Url;

// ---------------------------------------------------------------------------------------
// Byte streams: tcp://, ipc://, abstract://, tls+tcp://.

/// tcp, ipc and tls+tcp: a byte stream from the network (inside TLS for `tls+tcp://`),
/// then the SP header exchange and the frame codec.
pub(super) struct Stream;

/// What a byte-stream connection's set-up needs.
#[derive(Clone, Copy)]
struct StreamSetup {
    ours: SocketType,
    format: FrameFormat,
    max_recv: MaxRecvSize,
    handshake_timeout: Duration,
}

impl StreamSetup {
    fn new(url: &Url, env: &Env<'_>) -> Self {
        Self {
            ours: env.ours,
            format: match url {
                Url::Ipc(_) | Url::Abstract(_) => FrameFormat::Ipc,
                _ => FrameFormat::Tcp,
            },
            max_recv: env.cfg.max_recv,
            handshake_timeout: env.cfg.handshake_timeout,
        }
    }

    /// The SP header exchange on `conn`, then the frame codec.
    async fn run(self, mut conn: Conn) -> Result<Established, SetupError> {
        if let Err(e) = stream::handshake(self.ours, &mut conn, self.handshake_timeout).await {
            return Err(SetupError {
                peer: conn.peer,
                step: "SP handshake",
                error: e.to_string(),
            });
        }
        let Conn {
            io,
            peer,
            peer_certificates,
        } = conn;
        let (reader, writer, direct) = crate::transport::split(io, self.format);
        Ok(Established {
            peer,
            peer_certificates,
            reader: Box::new(StreamReader::new(reader, self.format, self.max_recv)),
            writer: Box::new(StreamWriter::new(writer, self.format, direct.clone())),
            direct,
        })
    }
}

/// The plain TCP URL under a TLS one (the network only knows byte streams).
fn stream_url(url: &Url) -> Url {
    match url {
        Url::TlsTcp { addr } => Url::Tcp {
            addr: addr.clone(),
            local: None,
        },
        other => other.clone(),
    }
}

impl Transport for Stream {
    fn check_dial(&self, url: &Url) -> Result<(), Error> {
        if let Url::Tcp {
            local: Some(local), ..
        } = url
        {
            let lit = local.trim_start_matches('[').trim_end_matches(']');
            if lit != "*" && lit.parse::<std::net::IpAddr>().is_err() {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("local interface {local:?} must be an IP address or * (interface names are not supported)"),
                )));
            }
        }
        Ok(())
    }

    fn listen<'a>(
        &'a self,
        url: &'a Url,
        env: Env<'a>,
        _hold: &'a Hold,
    ) -> BoxFuture<'a, Result<Box<dyn Acceptor>, Error>> {
        Box::pin(async move {
            if let Url::Tcp {
                local: Some(local), ..
            } = url
            {
                // nanomsg's `local;` names where a dialer connects from; a listener has
                // nothing to do with it, and ignoring it would hide a mistyped URL.
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("a listener's URL takes no local address (`{local};`): give the address to bind as the host"),
                )));
            }
            let tls = match url {
                Url::TlsTcp { .. } => Some(env.listen_tls()?),
                _ => None,
            };
            let listener = env.network.bind_with(&stream_url(url), env.cfg.tcp).await?;
            let bound = match url {
                Url::TlsTcp { .. } => url.with_port(listener.local_url().port().unwrap_or(0)),
                _ => listener.local_url(),
            };
            Ok(Box::new(StreamAcceptor {
                listener,
                bound,
                tls,
                setup: StreamSetup::new(url, &env),
            }) as Box<dyn Acceptor>)
        })
    }

    fn dial(&self, url: &Url, env: Env<'_>) -> Result<Box<dyn Connector>, Error> {
        let tls = match url {
            Url::TlsTcp { .. } => Some(env.dial_tls()?),
            _ => None,
        };
        Ok(Box::new(StreamConnector {
            network: env.network.clone(),
            url: url.clone(),
            tls,
            tcp: env.cfg.tcp,
            setup: StreamSetup::new(url, &env),
        }))
    }
}

struct StreamAcceptor {
    listener: Box<dyn Listener>,
    bound: Url,
    tls: Option<TlsConfig>,
    setup: StreamSetup,
}

impl Acceptor for StreamAcceptor {
    fn local_url(&self) -> Url {
        self.bound.clone()
    }

    fn accept(&mut self) -> BoxFuture<'_, Option<Setup>> {
        Box::pin(async move {
            let conn = loop {
                match self.listener.accept().await {
                    Ok(conn) => break conn,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            };
            let (tls, setup) = (self.tls.clone(), self.setup);
            Some(Box::pin(async move {
                let conn = match tls {
                    None => conn,
                    Some(tls) => {
                        let peer = conn.peer.clone();
                        let failed = |error: String| SetupError {
                            peer,
                            step: "TLS handshake",
                            error,
                        };
                        match tokio::time::timeout(setup.handshake_timeout, tls.accept(conn)).await
                        {
                            Ok(Ok(c)) => c,
                            Ok(Err(e)) => return Err(failed(e.to_string())),
                            Err(_) => return Err(failed("TLS handshake timed out".to_owned())),
                        }
                    }
                };
                setup.run(conn).await
            }) as Setup)
        })
    }
}

struct StreamConnector {
    network: Arc<dyn Network>,
    url: Url,
    tls: Option<TlsConfig>,
    tcp: StreamOptions,
    setup: StreamSetup,
}

impl Connector for StreamConnector {
    /// The network's connection, with the TLS client handshake for `tls+tcp://`.
    fn connect(&mut self) -> BoxFuture<'_, io::Result<Setup>> {
        Box::pin(async move {
            let timeout = self.setup.handshake_timeout;
            let conn = self
                .network
                .connect_with(&stream_url(&self.url), self.tcp)
                .await?;
            let conn = match (&self.url, &self.tls) {
                (Url::TlsTcp { addr }, Some(tls)) => {
                    tokio::time::timeout(timeout, tls.connect(conn, &addr.host))
                        .await
                        .map_err(|_| {
                            io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
                        })??
                }
                _ => conn,
            };
            Ok(Box::pin(self.setup.run(conn)) as Setup)
        })
    }
}

// ---------------------------------------------------------------------------------------
// inproc://

/// In-process pipes, in the address space of the socket's network.
pub(super) struct Inproc;

impl Transport for Inproc {
    fn listen<'a>(
        &'a self,
        url: &'a Url,
        env: Env<'a>,
        _hold: &'a Hold,
    ) -> BoxFuture<'a, Result<Box<dyn Acceptor>, Error>> {
        Box::pin(async move {
            let Url::Inproc(name) = url else {
                return Err(not_for(url));
            };
            Ok(Box::new(InprocAcceptor {
                listener: InprocListener::bind(env.network, name)?,
                url: url.clone(),
                ours: env.ours,
                max_recv: env.cfg.max_recv,
            }) as Box<dyn Acceptor>)
        })
    }

    fn dial(&self, url: &Url, env: Env<'_>) -> Result<Box<dyn Connector>, Error> {
        let Url::Inproc(name) = url else {
            return Err(not_for(url));
        };
        Ok(Box::new(InprocConnector {
            network: env.network.clone(),
            name: name.clone(),
            ours: env.ours,
            max_recv: env.cfg.max_recv,
        }))
    }
}

fn not_for(url: &Url) -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} URL given to another transport", url.scheme()),
    ))
}

/// An inproc pipe once the peer's type passed the check that stands for the SP header
/// exchange of the other transports. `side` names the peer (dialer or listener) in the
/// error.
fn inproc_pipe(
    ours: SocketType,
    (side, peer): (&str, SocketType),
    from_peer: QueueReceiver,
    to_peer: InprocWriter,
    max_recv: MaxRecvSize,
) -> Result<Established, SetupError> {
    if !ours.accepts_peer_id(peer.wire_id()) {
        return Err(SetupError {
            peer: "inproc".to_owned(),
            step: "inproc type check",
            error: format!("{side} of the wrong type {peer}"),
        });
    }
    Ok(Established {
        peer: "inproc".to_owned(),
        peer_certificates: None,
        reader: Box::new(InprocReader::new(from_peer, max_recv)),
        writer: Box::new(to_peer),
        direct: None,
    })
}

struct InprocAcceptor {
    listener: InprocListener,
    url: Url,
    ours: SocketType,
    max_recv: MaxRecvSize,
}

impl Acceptor for InprocAcceptor {
    fn local_url(&self) -> Url {
        self.url.clone()
    }

    fn accept(&mut self) -> BoxFuture<'_, Option<Setup>> {
        Box::pin(async move {
            let offer = self.listener.accept().await?;
            let (ours, max_recv) = (self.ours, self.max_recv);
            Some(Box::pin(async move {
                let _ = offer.reply.send(ours);
                inproc_pipe(
                    ours,
                    ("dialer", offer.dialer_type),
                    offer.from_dialer,
                    InprocWriter(Some(offer.to_dialer)),
                    max_recv,
                )
            }) as Setup)
        })
    }
}

struct InprocConnector {
    /// Held, not just its namespace, so that the namespace stays this network's.
    network: Arc<dyn Network>,
    name: String,
    ours: SocketType,
    max_recv: MaxRecvSize,
}

impl Connector for InprocConnector {
    fn connect(&mut self) -> BoxFuture<'_, io::Result<Setup>> {
        Box::pin(async move {
            let d = inproc::connect(self.network.namespace(), &self.name, self.ours).await?;
            let (ours, max_recv) = (self.ours, self.max_recv);
            Ok(Box::pin(async move {
                let listener = ("listener", d.listener_type);
                inproc_pipe(ours, listener, d.reader, d.writer, max_recv)
            }) as Setup)
        })
    }
}

// ---------------------------------------------------------------------------------------
// ws://, wss://

/// The SP WebSocket mapping over a network connection (inside TLS for `wss://`).
pub(super) struct Ws;

impl Transport for Ws {
    fn listen<'a>(
        &'a self,
        url: &'a Url,
        env: Env<'a>,
        hold: &'a Hold,
    ) -> BoxFuture<'a, Result<Box<dyn Acceptor>, Error>> {
        Box::pin(async move {
            let tls = match url {
                Url::Ws { tls: true, .. } => Some(env.listen_tls()?),
                _ => None,
            };
            let listener = ws::listen(
                env.network,
                url,
                tls,
                ws_settings(&env),
                port_sink(&env),
                hold,
            )
            .await?;
            Ok(Box::new(WsAcceptor(listener)) as Box<dyn Acceptor>)
        })
    }

    fn dial(&self, url: &Url, env: Env<'_>) -> Result<Box<dyn Connector>, Error> {
        let tls = match url {
            Url::Ws { tls: true, .. } => Some(env.dial_tls()?),
            _ => None,
        };
        ws::check_url(url)?;
        Ok(Box::new(WsConnector {
            network: env.network.clone(),
            url: url.clone(),
            tls,
            settings: ws_settings(&env),
        }))
    }
}

/// Counts what a `ws://` port reports in the socket's statistics: a failed upgrade as
/// any failed set-up of a listener's connection.
fn port_sink(env: &Env<'_>) -> PortSink {
    let shared = env.shared.clone();
    PortSink {
        // The address of the shared state names the socket (works for loom's `Arc` too).
        socket: std::ptr::from_ref::<crate::core::Shared>(env.shared) as usize,
        report: Arc::new(move |event| match event {
            PortEvent::Accepted => shared.count(Count::Accept),
            PortEvent::Refused => shared.count(Count::Refused),
            PortEvent::Failed { peer, error } => {
                let e = SetupError {
                    peer: peer.to_owned(),
                    step: "WebSocket upgrade",
                    error: error.to_owned(),
                };
                setup_failed(&shared, &e, None);
            }
        }),
    }
}

fn ws_settings(env: &Env<'_>) -> WsSettings {
    WsSettings {
        ours: env.ours,
        max_recv: env.cfg.max_recv,
        handshake_timeout: env.cfg.handshake_timeout,
        max_upgrades: env.cfg.max_connections,
        tcp: env.cfg.tcp,
        ping: env.cfg.ws_ping,
    }
}

struct WsAcceptor(WsListener);

impl Acceptor for WsAcceptor {
    fn local_url(&self) -> Url {
        self.0.local_url()
    }

    fn accept(&mut self) -> BoxFuture<'_, Option<Setup>> {
        Box::pin(async move {
            // Upgraded (and counted) by the port's accept loop already.
            let conn = self.0.accept().await?;
            Some(Box::pin(async move { Ok(conn) }) as Setup)
        })
    }

    fn counts_accepts(&self) -> bool {
        true
    }
}

struct WsConnector {
    network: Arc<dyn Network>,
    url: Url,
    tls: Option<TlsConfig>,
    settings: WsSettings,
}

impl Connector for WsConnector {
    fn connect(&mut self) -> BoxFuture<'_, io::Result<Setup>> {
        Box::pin(async move {
            let settings = self.settings;
            let timeout = settings.handshake_timeout;
            let conn = ws::connect(
                &*self.network,
                &self.url,
                self.tls.as_ref(),
                timeout,
                settings.tcp,
            )
            .await?;
            let url = self.url.clone();
            Ok(Box::pin(async move {
                ws::upgrade(conn, &url, settings)
                    .await
                    .map_err(|e| SetupError {
                        peer: url.to_string(),
                        step: "WebSocket upgrade",
                        error: e.to_string(),
                    })
            }) as Setup)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use sp_proto::{Config, SocketType};

    use crate::future::BoxFuture;
    use crate::transport::{Conn, Listener, Network, TokioNetwork};
    use crate::url::Url;
    use crate::Socket;

    /// A network with no streams of its own, and so its own `inproc://` namespace.
    struct Isolated;

    impl Network for Isolated {
        fn connect(&self, url: &Url) -> BoxFuture<'static, std::io::Result<Conn>> {
            let e = std::io::Error::other(format!("no {url} here"));
            Box::pin(async move { Err(e) })
        }

        fn bind(&self, url: &Url) -> BoxFuture<'static, std::io::Result<Box<dyn Listener>>> {
            let e = std::io::Error::other(format!("no {url} here"));
            Box::pin(async move { Err(e) })
        }
    }

    fn pair(network: Arc<dyn Network>) -> Socket {
        Socket::with_config(SocketType::Pair0, Config::cooked(7), network)
    }

    #[tokio::test]
    async fn inproc_names_are_bound_per_network_namespace() {
        let name = "inproc://endpoint-namespace-test";
        let isolated: Arc<dyn Network> = Arc::new(Isolated);
        let listener = pair(isolated.clone());
        listener.listen(name).await.unwrap();

        // The real network is another namespace: the name is free there, and a dialer
        // there does not reach the listener above.
        let real = pair(Arc::new(TokioNetwork::new()));
        let real_listener = pair(Arc::new(TokioNetwork::new()));
        real_listener.listen(name).await.unwrap();
        real.dial(name).await.unwrap();
        real.wait_for_pipes(1).await.unwrap();

        // A dialer on the same network instance does.
        let dialer = pair(isolated);
        dialer.dial(name).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), listener.wait_for_pipes(1))
            .await
            .unwrap()
            .unwrap();
        dialer.send("hello").await.unwrap();
        assert_eq!(listener.recv().await.unwrap().body, "hello");
        assert_eq!(real_listener.pipe_count(), 1, "only the real dialer");
    }
}
