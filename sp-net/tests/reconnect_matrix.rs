//! Reconnect after the listener restarts, for every protocol pair over every transport,
//! each side listening in turn; and max-size rejection on every transport.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sp_net::transport::tls::TlsConfig;
use sp_net::{Socket, SocketOptions, SocketType};
use sp_proto::wire::MaxRecvSize;

const LIMIT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp,
    Ipc,
    Inproc,
    Tls,
    Ws,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn fresh_url(t: Transport) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    match t {
        Transport::Tcp => "tcp://127.0.0.1:0".into(),
        Transport::Tls => "tls+tcp://127.0.0.1:0".into(),
        Transport::Ipc => {
            format!(
                "ipc://{}/sp-reconnect-{}-{n}.sock",
                std::env::temp_dir().display(),
                std::process::id()
            )
        }
        Transport::Inproc => format!("inproc://reconnect-{n}"),
        Transport::Ws => format!("ws://127.0.0.1:0/reconnect-{n}"),
    }
}

fn fast_reconnect() -> SocketOptions {
    SocketOptions {
        reconnect_min: Duration::from_millis(5),
        reconnect_max: Duration::from_millis(40),
        ..SocketOptions::default()
    }
}

fn socket(t: SocketType) -> Socket {
    let s = Socket::new(t);
    s.set_options(fast_reconnect());
    if t == SocketType::Sub {
        s.subscribe("").unwrap();
    }
    s
}

fn shared_tls() -> TlsConfig {
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

/// One exchange the protocol pair promises; `a` is the first side.
async fn exchange(a: &Socket, b: &Socket, tag: &str) {
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
        other => unreachable!("{other}"),
    }
}

async fn restart_cycle(a_type: SocketType, tr: Transport, a_listens: bool) {
    let a = socket(a_type);
    let b = socket(a_type.peer());
    if matches!(tr, Transport::Tls) {
        let tls = shared_tls();
        a.set_tls(tls.clone());
        b.set_tls(tls);
    }
    let (listener, dialer) = if a_listens { (&a, &b) } else { (&b, &a) };
    let ep = listener.listen(&fresh_url(tr)).await.unwrap();
    let url = ep.url().to_string();
    dialer.dial(&url).await.unwrap();
    a.wait_for_pipes(1).await.unwrap();
    b.wait_for_pipes(1).await.unwrap();
    exchange(&a, &b, "before").await;

    ep.close();
    dialer.wait_for_pipes_at_most(0).await.unwrap();
    listener.wait_for_pipes_at_most(0).await.unwrap();
    let _ep2 = listener.listen(&url).await.unwrap();
    a.wait_for_pipes(1).await.unwrap();
    b.wait_for_pipes(1).await.unwrap();
    exchange(&a, &b, "after").await;
    assert!(dialer.stats().socket.connects >= 2);
}

const FIRST_SIDES: [SocketType; 7] = [
    SocketType::Pair0,
    SocketType::Pair1,
    SocketType::Req,
    SocketType::Push,
    SocketType::Pub,
    SocketType::Surveyor,
    SocketType::Bus,
];

async fn matrix(tr: Transport) {
    for a in FIRST_SIDES {
        for a_listens in [true, false] {
            tokio::time::timeout(LIMIT, restart_cycle(a, tr, a_listens))
                .await
                .unwrap_or_else(|_| panic!("{a} over {tr:?} (a listens: {a_listens}) timed out"));
        }
    }
}

#[tokio::test]
async fn reconnect_after_listener_restart_over_tcp() {
    matrix(Transport::Tcp).await;
}

#[tokio::test]
async fn reconnect_after_listener_restart_over_ipc() {
    matrix(Transport::Ipc).await;
}

#[tokio::test]
async fn reconnect_after_listener_restart_over_inproc() {
    matrix(Transport::Inproc).await;
}

#[tokio::test]
async fn reconnect_after_listener_restart_over_tls() {
    matrix(Transport::Tls).await;
}

#[tokio::test]
async fn reconnect_after_listener_restart_over_ws() {
    matrix(Transport::Ws).await;
}

async fn oversize_rejected(tr: Transport) {
    let pull = socket(SocketType::Pull);
    let push = socket(SocketType::Push);
    if matches!(tr, Transport::Tls) {
        let tls = shared_tls();
        pull.set_tls(tls.clone());
        push.set_tls(tls);
    }
    pull.set_options(SocketOptions {
        max_recv_size: MaxRecvSize::Limited(1024),
        ..fast_reconnect()
    });
    let ep = pull.listen(&fresh_url(tr)).await.unwrap();
    push.dial(&ep.url().to_string()).await.unwrap();
    push.wait_for_pipes(1).await.unwrap();
    push.send(vec![1u8; 1024]).await.unwrap();
    assert_eq!(
        pull.recv().await.unwrap().body.len(),
        1024,
        "{tr:?}: exactly the limit passes"
    );
    push.send(vec![2u8; 1025]).await.unwrap();
    pull.wait_for_pipes_at_most(0).await.unwrap();
    assert_eq!(pull.stats().socket.frame_errors, 1, "{tr:?}");
    pull.wait_for_pipes(1).await.unwrap();
    push.wait_for_pipes(1).await.unwrap();
    push.send("small").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().body, "small", "{tr:?}");
}

#[tokio::test]
async fn oversize_messages_are_rejected_on_every_transport() {
    for tr in [
        Transport::Tcp,
        Transport::Ipc,
        Transport::Tls,
        Transport::Inproc,
        Transport::Ws,
    ] {
        tokio::time::timeout(LIMIT, oversize_rejected(tr))
            .await
            .unwrap();
    }
}
