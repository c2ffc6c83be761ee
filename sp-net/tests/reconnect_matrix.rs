//! Reconnect after the listener restarts, for every protocol pair over every transport,
//! each side listening in turn; and max-size rejection on every transport.

mod common;

use std::time::Duration;

use common::{exchange_once, fresh_url, setup_tls, Transport, FIRST_SIDES};
use sp_net::{Socket, SocketOptions, SocketType};
use sp_proto::wire::MaxRecvSize;

const LIMIT: Duration = Duration::from_secs(30);

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

async fn restart_cycle(a_type: SocketType, tr: Transport, a_listens: bool) {
    let a = socket(a_type);
    let b = socket(a_type.peer());
    setup_tls(tr, &a, &b);
    let (listener, dialer) = if a_listens { (&a, &b) } else { (&b, &a) };
    let ep = listener.listen(&fresh_url(tr, "reconnect")).await.unwrap();
    let url = ep.url().to_string();
    dialer.dial(&url).await.unwrap();
    a.wait_for_pipes(1).await.unwrap();
    b.wait_for_pipes(1).await.unwrap();
    exchange_once(&a, &b, "before").await;

    ep.close();
    dialer.wait_for_pipes_at_most(0).await.unwrap();
    listener.wait_for_pipes_at_most(0).await.unwrap();
    let _ep2 = listener.listen(&url).await.unwrap();
    a.wait_for_pipes(1).await.unwrap();
    b.wait_for_pipes(1).await.unwrap();
    exchange_once(&a, &b, "after").await;
    assert!(dialer.stats().socket.connects >= 2);
}

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
    setup_tls(tr, &pull, &push);
    pull.set_options(SocketOptions {
        max_recv_size: MaxRecvSize::Limited(1024),
        ..fast_reconnect()
    });
    let ep = pull.listen(&fresh_url(tr, "reconnect")).await.unwrap();
    push.dial(ep.url()).await.unwrap();
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
