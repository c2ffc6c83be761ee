//! Shared pieces of the transport-matrix tests: transports, fresh addresses, TLS settings
//! and the exchange each protocol pair promises.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sp_net::transport::tls::TlsConfig;
use sp_net::{Socket, SocketType};

/// Every transport the matrices cover.
#[derive(Clone, Copy, Debug)]
pub enum Transport {
    Tcp,
    Ipc,
    Inproc,
    Tls,
    Ws,
    Wss,
}

impl Transport {
    /// Whether sockets on this transport need TLS settings.
    pub fn needs_tls(self) -> bool {
        matches!(self, Self::Tls | Self::Wss)
    }
}

/// The first side of every protocol pair (its peer is the other side).
pub const FIRST_SIDES: [SocketType; 7] = [
    SocketType::Pair0,
    SocketType::Pair1,
    SocketType::Req,
    SocketType::Push,
    SocketType::Pub,
    SocketType::Surveyor,
    SocketType::Bus,
];

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A listen address not used before in this process (port 0 for TCP-based ones).
pub fn fresh_url(t: Transport, tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    match t {
        Transport::Tcp => "tcp://127.0.0.1:0".into(),
        Transport::Tls => "tls+tcp://127.0.0.1:0".into(),
        Transport::Ipc => {
            format!(
                "ipc://{}/sp-{tag}-{}-{n}.sock",
                std::env::temp_dir().display(),
                std::process::id()
            )
        }
        Transport::Inproc => format!("inproc://{tag}-{n}"),
        Transport::Ws => format!("ws://127.0.0.1:0/{tag}-{n}"),
        Transport::Wss => format!("wss://127.0.0.1:0/{tag}-{n}"),
    }
}

/// TLS settings that both serve and trust one fresh self-signed certificate.
pub fn shared_tls() -> TlsConfig {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (pem, key) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    TlsConfig::from_pem(
        Some(pem.as_bytes()),
        Some(key.as_bytes()),
        Some(pem.as_bytes()),
        false,
    )
    .unwrap()
    .with_server_name("localhost")
}

/// Gives both sockets the same TLS settings when the transport needs them.
pub fn setup_tls(t: Transport, a: &Socket, b: &Socket) {
    if t.needs_tls() {
        let tls = shared_tls();
        a.set_tls(tls.clone());
        b.set_tls(tls);
    }
}

/// One exchange the protocol pair promises; `a` is the first side, `b` its peer.
pub async fn exchange_once(a: &Socket, b: &Socket, tag: &str) {
    match a.socket_type() {
        SocketType::Pair0 | SocketType::Pair1 | SocketType::Bus => {
            a.send(format!("{tag} a")).await.unwrap();
            assert_eq!(b.recv().await.unwrap().body, format!("{tag} a"));
            b.send(format!("{tag} b")).await.unwrap();
            assert_eq!(a.recv().await.unwrap().body, format!("{tag} b"));
        }
        SocketType::Req => {
            let ctx = a.open_context().unwrap();
            ctx.send(format!("{tag} q")).await.unwrap();
            let q = b.recv().await.unwrap();
            b.send(q.body).await.unwrap();
            assert_eq!(ctx.recv().await.unwrap().body, format!("{tag} q"));
        }
        SocketType::Push | SocketType::Pub => {
            a.send(format!("{tag} m")).await.unwrap();
            assert_eq!(b.recv().await.unwrap().body, format!("{tag} m"));
        }
        SocketType::Surveyor => {
            let mut o = a.protocol_options();
            o.set_survey_deadline(Duration::from_secs(5)).unwrap();
            a.set_protocol_options(o);
            let mut survey = a.survey(format!("{tag} s")).await.unwrap();
            let q = b.recv().await.unwrap();
            b.send(q.body).await.unwrap();
            assert_eq!(
                survey.next().await.unwrap().unwrap().body,
                format!("{tag} s")
            );
        }
        other => unreachable!("{other} is not a first side"),
    }
}

/// A socket of type `listener` listening at `url` and one of type `dialer` connected to
/// it, returned once the dialer has its pipe.
pub async fn connected(listener: SocketType, url: &str, dialer: SocketType) -> (Socket, Socket) {
    let l = Socket::new(listener);
    let ep = l.listen(url).await.unwrap();
    let d = Socket::new(dialer);
    d.dial(ep.url()).await.unwrap();
    d.wait_for_pipes(1).await.unwrap();
    (l, d)
}
