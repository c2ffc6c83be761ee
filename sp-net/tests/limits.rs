//! Resource limits over real loopback sockets: a listener keeps at most
//! `SocketOptions::max_connections` connections; more are closed at once (before any SP
//! header is sent) and counted, and a freed slot is usable again.

use std::time::Duration;

use sp_net::{Socket, SocketOptions, SocketType};
use tokio::io::AsyncReadExt;
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
