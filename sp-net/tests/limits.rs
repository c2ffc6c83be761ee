//! Resource limits over real loopback sockets: a listener keeps at most
//! `SocketOptions::max_connections` connections; more are closed at once (before any SP
//! header is sent) and counted, and a freed slot is usable again. A `ws://` port runs at
//! most as many HTTP upgrades at once, so connections that never finish their request
//! cannot pile up.

use std::time::Duration;

use sp_net::{Socket, SocketOptions, SocketType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMIT: Duration = Duration::from_secs(20);

/// What a raw TCP client gets from the listener: the SP header (accepted) or nothing
/// before the connection closes (refused).
async fn first_bytes(addr: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8];
    while got.len() < 8 {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("listener neither answered nor closed"),
        }
    }
    got
}

async fn pull_with_limit(max: usize) -> (Socket, String) {
    let pull = Socket::new(SocketType::Pull);
    pull.set_options(SocketOptions {
        max_connections: max,
        ..SocketOptions::default()
    });
    let ep = pull.listen("tcp://127.0.0.1:0").await.unwrap();
    let url = ep.url().to_string();
    drop(ep);
    (pull, url)
}

#[test]
fn default_limit_is_1024() {
    assert_eq!(SocketOptions::default().max_connections, 1024);
}

#[tokio::test]
async fn tcp_listener_closes_connections_beyond_the_limit() {
    tokio::time::timeout(LIMIT, async {
        let (pull, url) = pull_with_limit(2).await;
        let addr = url.trim_start_matches("tcp://").to_owned();
        let a = Socket::new(SocketType::Push);
        let b = Socket::new(SocketType::Push);
        a.dial(&url).await.unwrap();
        b.dial(&url).await.unwrap();
        pull.wait_for_pipes(2).await.unwrap();

        // Full: a third connection is closed without a byte, and counted.
        assert_eq!(first_bytes(&addr).await, b"");
        assert_eq!(first_bytes(&addr).await, b"");
        let s = pull.stats().socket;
        assert_eq!(s.connections_refused, 2);
        assert_eq!(s.accepts, 4);
        assert_eq!(pull.pipe_count(), 2);

        // The connections inside the limit are unaffected.
        a.send("a").await.unwrap();
        b.send("b").await.unwrap();
        let mut got = vec![
            pull.recv().await.unwrap().body,
            pull.recv().await.unwrap().body,
        ];
        got.sort();
        assert_eq!(got, ["a", "b"]);

        // A freed slot takes a new connection, which gets the SP header.
        a.close().await;
        pull.wait_for_pipes_at_most(1).await.unwrap();
        assert_eq!(
            first_bytes(&addr).await,
            sp_proto::wire::encode_header(SocketType::Pull)
        );
        assert_eq!(pull.stats().socket.connections_refused, 2);
    })
    .await
    .expect("timed out");
}

#[tokio::test]
async fn refused_dialer_gets_in_when_a_slot_frees() {
    tokio::time::timeout(LIMIT, async {
        let (pull, url) = pull_with_limit(1).await;
        let fast = SocketOptions {
            reconnect_min: Duration::from_millis(5),
            reconnect_max: Duration::from_millis(20),
            ..SocketOptions::default()
        };
        let first = Socket::new(SocketType::Push);
        first.dial(&url).await.unwrap();
        pull.wait_for_pipes(1).await.unwrap();
        let second = Socket::new(SocketType::Push);
        second.set_options(fast);
        second.dial(&url).await.unwrap();
        // The second dialer is refused (and keeps retrying) while the first holds the slot.
        let mut events = pull.pipe_events();
        while pull.stats().socket.connections_refused == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(pull.pipe_count(), 1);
        first.close().await;
        // Removed (first), then added (second).
        loop {
            if let sp_net::stats::PipeEvent::Added { .. } = events.recv().await.unwrap() {
                break;
            }
        }
        second.send("through").await.unwrap();
        assert_eq!(pull.recv().await.unwrap().body, "through");
    })
    .await
    .expect("timed out");
}

#[tokio::test]
async fn ws_port_closes_connections_beyond_its_upgrades_in_flight() {
    tokio::time::timeout(LIMIT, async {
        let rep = Socket::new(SocketType::Rep);
        rep.set_options(SocketOptions {
            max_connections: 2,
            ..SocketOptions::default()
        });
        let ep = rep.listen("ws://127.0.0.1:0/").await.unwrap();
        let port = ep.url().port().unwrap();
        let addr = format!("127.0.0.1:{port}");

        // Two connections that start their request and stall hold both upgrade slots
        // (the port accepts in connection order, so they are in before the third).
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: rep.sp.nanomsg.org\r\n\r\n"
        );
        let (first_half, second_half) = request.split_at(20);
        let mut stalled = TcpStream::connect(&addr).await.unwrap();
        stalled.write_all(first_half.as_bytes()).await.unwrap();
        let _stalled_too = TcpStream::connect(&addr).await.unwrap();

        // A third is closed unread, without an answer, and counted.
        assert_eq!(first_bytes(&addr).await, b"");
        let s = rep.stats().socket;
        assert_eq!((s.connections_refused, s.accepts), (1, 1), "{s:?}");

        // The first stalled request completes: it becomes a pipe and frees its slot ...
        stalled.write_all(second_half.as_bytes()).await.unwrap();
        let mut answer = [0u8; 12];
        stalled.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 101");
        rep.wait_for_pipes(1).await.unwrap();

        // ... which a real dialer then gets through.
        let req = Socket::new(SocketType::Req);
        req.dial(ep.url()).await.unwrap();
        rep.wait_for_pipes(2).await.unwrap();
        let s = rep.stats().socket;
        assert_eq!((s.connections_refused, s.accepts), (1, 3), "{s:?}");
    })
    .await
    .expect("timed out");
}
