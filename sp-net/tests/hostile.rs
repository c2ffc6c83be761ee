//! Hostile peers over real loopback sockets: garbage, wrong types, oversize and
//! truncated frames, a slow-loris handshake, data sent to send-only sockets, a bad IPC
//! type byte, and many connect/disconnect cycles. The socket must stay up, other pipes
//! must be unaffected, and statistics must record each event.

use std::time::Duration;

use sp_net::{Socket, SocketOptions, SocketType};
use sp_proto::wire::MaxRecvSize;
use sp_proto::DropReason;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

const LIMIT: Duration = Duration::from_secs(20);

fn header(t: SocketType) -> [u8; 8] {
    sp_proto::wire::encode_header(t)
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u64).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

/// A PULL listening on TCP with one well-behaved PUSH attached.
async fn pull_with_good_peer() -> (Socket, Socket, String) {
    let pull = Socket::new(SocketType::Pull);
    let ep = pull.listen("tcp://127.0.0.1:0").await.unwrap();
    let url = ep.url().to_string();
    drop(ep);
    let good = Socket::new(SocketType::Push);
    good.dial(&url).await.unwrap();
    good.wait_for_pipes(1).await.unwrap();
    (pull, good, url)
}

fn addr(url: &str) -> String {
    url.trim_start_matches("tcp://").to_owned()
}

/// Reads until the peer closes the connection (or 5 s pass); returns bytes read.
async fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return all,
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Err(_) => panic!("connection was not closed"),
        }
    }
}

async fn good_peer_still_works(pull: &Socket, good: &Socket) {
    good.send("still fine").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().body, "still fine");
}

#[tokio::test]
async fn garbage_instead_of_a_header_is_refused() {
    tokio::time::timeout(LIMIT, async {
        let (pull, good, url) = pull_with_good_peer().await;
        let mut s = TcpStream::connect(addr(&url)).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let got = read_until_closed(&mut s).await;
        assert_eq!(
            got,
            header(SocketType::Pull),
            "we send our header, then close"
        );
        assert_eq!(pull.stats().socket.handshake_failures, 1);
        good_peer_still_works(&pull, &good).await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn bad_version_reserved_bytes_and_wrong_type_are_refused() {
    tokio::time::timeout(LIMIT, async {
        let (pull, good, url) = pull_with_good_peer().await;
        let bad: [[u8; 8]; 3] = [
            [0, b'S', b'P', 1, 0, 0x50, 0, 0],       // version 1
            [0, b'S', b'P', 0, 0, 0x50, 0x12, 0x34], // reserved bytes set (E4)
            header(SocketType::Rep),                 // a REP is not a PULL's peer
        ];
        for h in bad {
            let mut s = TcpStream::connect(addr(&url)).await.unwrap();
            s.write_all(&h).await.unwrap();
            read_until_closed(&mut s).await;
        }
        assert_eq!(pull.stats().socket.handshake_failures, 3);
        assert_eq!(pull.pipe_count(), 1);
        good_peer_still_works(&pull, &good).await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn oversize_length_closes_only_that_connection_without_allocating() {
    tokio::time::timeout(LIMIT, async {
        let (pull, good, _url) = pull_with_good_peer().await;
        pull.set_options(SocketOptions {
            max_recv_size: MaxRecvSize::Limited(1024),
            ..SocketOptions::default()
        });
        // Options apply to endpoints created afterwards: listen again with the limit.
        let ep = pull.listen("tcp://127.0.0.1:0").await.unwrap();
        let mut s = TcpStream::connect(addr(&ep.url().to_string()))
            .await
            .unwrap();
        s.write_all(&header(SocketType::Push)).await.unwrap();
        // Claim an absurd length (2^62): refused from the length field alone.
        s.write_all(&(1u64 << 62).to_be_bytes()).await.unwrap();
        read_until_closed(&mut s).await;
        assert_eq!(pull.stats().socket.frame_errors, 1);
        good_peer_still_works(&pull, &good).await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn truncated_frame_then_close_is_counted_and_harmless() {
    tokio::time::timeout(LIMIT, async {
        let (pull, good, url) = pull_with_good_peer().await;
        let mut events = pull.pipe_events();
        let mut s = TcpStream::connect(addr(&url)).await.unwrap();
        s.write_all(&header(SocketType::Push)).await.unwrap();
        let mut h = [0u8; 8];
        s.read_exact(&mut h).await.unwrap();
        // One whole message, then half of another, then hang up.
        s.write_all(&frame(b"whole")).await.unwrap();
        let half = &frame(b"never finished")[..10];
        s.write_all(half).await.unwrap();
        drop(s);
        // Added, then Removed.
        loop {
            if let sp_net::stats::PipeEvent::Removed { .. } = events.recv().await.unwrap() {
                break;
            }
        }
        let mut got = vec![pull.recv().await.unwrap().body];
        good.send("after").await.unwrap();
        got.push(pull.recv().await.unwrap().body);
        got.sort();
        assert_eq!(got, ["after", "whole"]);
        assert_eq!(
            pull.stats().socket.frame_errors,
            1,
            "the truncated frame is a framing error"
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn slow_loris_handshake_times_out() {
    tokio::time::timeout(LIMIT, async {
        let pull = Socket::new(SocketType::Pull);
        pull.set_options(SocketOptions {
            handshake_timeout: Duration::from_millis(200),
            ..SocketOptions::default()
        });
        let ep = pull.listen("tcp://127.0.0.1:0").await.unwrap();
        let mut s = TcpStream::connect(addr(&ep.url().to_string()))
            .await
            .unwrap();
        s.write_all(&[0, b'S']).await.unwrap(); // and then nothing
        read_until_closed(&mut s).await;
        assert_eq!(pull.stats().socket.handshake_failures, 1);
        assert_eq!(pull.pipe_count(), 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn data_sent_to_pub_and_push_is_discarded_and_counted() {
    tokio::time::timeout(LIMIT, async {
        for (t, peer) in [
            (SocketType::Pub, SocketType::Sub),
            (SocketType::Push, SocketType::Pull),
        ] {
            let s = Socket::new(t);
            let ep = s.listen("tcp://127.0.0.1:0").await.unwrap();
            let mut c = TcpStream::connect(addr(&ep.url().to_string()))
                .await
                .unwrap();
            c.write_all(&header(peer)).await.unwrap();
            let mut h = [0u8; 8];
            c.read_exact(&mut h).await.unwrap();
            s.wait_for_pipes(1).await.unwrap();
            for _ in 0..3 {
                c.write_all(&frame(b"unexpected")).await.unwrap();
            }
            // The socket keeps working for its own traffic on the same pipe.
            s.send("out").await.unwrap();
            let mut got = [0u8; 11];
            c.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, &frame(b"out")[..], "{t}");
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            while s.stats().protocol.dropped(DropReason::UnexpectedData) < 3 {
                tick.tick().await;
            }
            assert_eq!(s.pipe_count(), 1, "{t}: the pipe is kept");
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn bad_ipc_type_byte_closes_that_connection() {
    tokio::time::timeout(LIMIT, async {
        let path = std::env::temp_dir().join(format!("sp-hostile-{}.sock", std::process::id()));
        let url = format!("ipc://{}", path.display());
        let pull = Socket::new(SocketType::Pull);
        let _ep = pull.listen(&url).await.unwrap();
        let good = Socket::new(SocketType::Push);
        good.dial(&url).await.unwrap();
        good.wait_for_pipes(1).await.unwrap();
        let mut s = UnixStream::connect(&path).await.unwrap();
        s.write_all(&header(SocketType::Push)).await.unwrap();
        let mut h = [0u8; 8];
        s.read_exact(&mut h).await.unwrap();
        let mut bad = vec![0x02];
        bad.extend_from_slice(&5u64.to_be_bytes());
        bad.extend_from_slice(b"hello");
        s.write_all(&bad).await.unwrap();
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0, "closed without a reply");
        assert_eq!(pull.stats().socket.frame_errors, 1);
        good.send("ok").await.unwrap();
        assert_eq!(pull.recv().await.unwrap().body, "ok");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn thousands_of_connect_disconnect_cycles_leave_no_pipes_behind() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let (pull, good, url) = pull_with_good_peer().await;
        for i in 0..2000 {
            let mut s = TcpStream::connect(addr(&url)).await.unwrap();
            if i % 2 == 0 {
                // Complete the handshake before hanging up half of the time.
                s.write_all(&header(SocketType::Push)).await.unwrap();
                let mut h = [0u8; 8];
                s.read_exact(&mut h).await.unwrap();
            }
        }
        pull.wait_for_pipes_at_most(1).await.unwrap();
        good_peer_still_works(&pull, &good).await;
        let st = pull.stats().socket;
        assert_eq!(st.accepts, 2001);
        assert_eq!(pull.pipe_count(), 1);
    })
    .await
    .unwrap();
}
