//! ws:// over loopback: the HTTP upgrade checked byte by byte with a hand-written client
//! (wire-facts E14/E15), path routing on a shared port, frames from a raw peer
//! (fragments, ping, text, oversize, protocol errors) and large fragmented messages.

use std::time::Duration;

use sp_net::stats::PipeEvent;
use sp_net::{Error, Socket, SocketOptions, SocketType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_secs(20);
/// The key of RFC 6455 §1.3 and the accept value it yields.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn request(path: &str, port: u16, connection: &str, protocol: Option<&str>) -> String {
    let proto = protocol.map_or(String::new(), |p| {
        format!("Sec-WebSocket-Protocol: {p}\r\n")
    });
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: {connection}\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{proto}\r\n"
    )
}

/// Reads an HTTP head (up to the blank line) from `s`; the bytes after it stay unread
/// as long as the server sends nothing else before we ask (true for these tests).
async fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut b).await.unwrap(),
            1,
            "EOF inside head: {head:?}"
        );
        head.push(b[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Sends `req` to `port`; returns the response head and the stream.
async fn upgrade(port: u16, req: &str) -> (String, TcpStream) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let head = read_head(&mut s).await;
    (head, s)
}

fn status_line(head: &str) -> &str {
    head.split("\r\n").next().unwrap()
}

/// A client frame: masked with a fixed key (the server must unmask whatever key).
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut f = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        n @ 0..=125 => f.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

/// Reads one server frame: (fin, opcode, payload); checks it is unmasked.
async fn read_frame(s: &mut TcpStream) -> (bool, u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).await.unwrap();
    assert_eq!(h[1] & 0x80, 0, "server frames are unmasked");
    let len = match h[1] & 0x7f {
        126 => u64::from(s.read_u16().await.unwrap()),
        127 => s.read_u64().await.unwrap(),
        n => u64::from(n),
    };
    let mut payload = vec![0u8; len as usize];
    s.read_exact(&mut payload).await.unwrap();
    (h[0] & 0x80 != 0, h[0] & 0x0f, payload)
}

/// Expects a Close frame with `code`, then the end of the connection.
async fn expect_close(s: &mut TcpStream, code: u16) {
    let (fin, opcode, payload) = read_frame(s).await;
    assert!(fin);
    assert_eq!(opcode, 0x8, "close frame");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), code);
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest).await;
    assert!(rest.is_empty(), "nothing after the close frame");
}

#[tokio::test]
async fn upgrade_answers_e14_e15() {
    tokio::time::timeout(LIMIT, async {
        let rep = Socket::new(SocketType::Rep);
        let ep = rep.listen("ws://127.0.0.1:0/p").await.unwrap();
        let port = ep.url().port().unwrap();
        assert_ne!(port, 0);
        assert_eq!(ep.url().to_string(), format!("ws://127.0.0.1:{port}/p"));

        // Accepted: the exact 101 bytes, echoing the token.
        let (head, _s) = upgrade(
            port,
            &request("/p", port, "Upgrade", Some("rep.sp.nanomsg.org")),
        )
        .await;
        assert_eq!(
            head,
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Protocol: rep.sp.nanomsg.org\r\n\r\n"
            )
        );
        // A comma list in Connection; an upper-case token echoed as sent.
        let (head, _s2) = upgrade(
            port,
            &request("/p", port, "keep-alive, Upgrade", Some("REP.SP.NANOMSG.ORG")),
        )
        .await;
        assert_eq!(status_line(&head), "HTTP/1.1 101 Switching Protocols");
        assert!(head.contains("\r\nSec-WebSocket-Protocol: REP.SP.NANOMSG.ORG\r\n"), "{head}");
        // Query strings are ignored when routing.
        let (head, _s3) = upgrade(
            port,
            &request("/p?x=1", port, "Upgrade", Some("rep.sp.nanomsg.org")),
        )
        .await;
        assert_eq!(status_line(&head), "HTTP/1.1 101 Switching Protocols");
        rep.wait_for_pipes(3).await.unwrap();

        // Refusals, each followed by the end of the connection.
        for (req, want) in [
            (
                request("/p", port, "Upgrade", Some("req.sp.nanomsg.org")),
                "HTTP/1.1 400 Incompatible Socket Type",
            ),
            (
                request("/p", port, "Upgrade", None),
                "HTTP/1.1 400 Incompatible Socket Type",
            ),
            (
                request("/p", port, "Upgrade", Some("rep.sp.nanomsg.org, x")),
                "HTTP/1.1 400 Unrecognized Socket Type",
            ),
            (
                request("/p", port, "keep-alive", Some("rep.sp.nanomsg.org")),
                "HTTP/1.1 400 Bad Request",
            ),
            (
                request("/other", port, "Upgrade", Some("rep.sp.nanomsg.org")),
                "HTTP/1.1 404 Not Found",
            ),
            (
                request("/", port, "Upgrade", Some("rep.sp.nanomsg.org")),
                "HTTP/1.1 404 Not Found",
            ),
            (
                request("/p", port, "Upgrade", Some("rep.sp.nanomsg.org"))
                    .replace("Version: 13", "Version: 8"),
                "HTTP/1.1 426 Upgrade Required",
            ),
            (
                "GET /p HTTP/1.1\r\nbroken header\r\n\r\n".to_owned(),
                "HTTP/1.1 400 Bad Request",
            ),
            (
                format!("GET /p HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000)),
                "HTTP/1.1 431 Request Header Fields Too Large",
            ),
        ] {
            let (head, mut s) = upgrade(port, &req).await;
            assert_eq!(status_line(&head), want, "for {req:?}");
            assert!(head.contains("Connection: close\r\n"));
            let mut body = Vec::new();
            s.read_to_end(&mut body).await.unwrap();
            assert!(!body.is_empty(), "a reason in the body");
        }
        // Every refusal is counted: the five after routing on the path's socket, the
        // 404s and the unreadable requests on every socket of the port (here only one).
        let stats = rep.stats().socket;
        assert_eq!(stats.handshake_failures, 9, "{stats:?}");
        assert_eq!(stats.accepts, 12, "{stats:?}");
        assert_eq!(rep.pipe_count(), 3);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn client_request_bytes_and_refused_answers() {
    tokio::time::timeout(LIMIT, async {
        let raw = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = raw.local_addr().unwrap().port();
        let req = Socket::new(SocketType::Req);
        req.dial(&format!("ws://127.0.0.1:{port}/p")).await.unwrap();
        let (mut s, _) = raw.accept().await.unwrap();
        let head = read_head(&mut s).await;
        let lines: Vec<&str> = head.split("\r\n").collect();
        assert_eq!(lines[0], "GET /p HTTP/1.1");
        for want in [
            format!("Host: 127.0.0.1:{port}"),
            "Upgrade: websocket".to_owned(),
            "Connection: Upgrade".to_owned(),
            "Sec-WebSocket-Version: 13".to_owned(),
            "Sec-WebSocket-Protocol: rep.sp.nanomsg.org".to_owned(),
        ] {
            assert!(lines.contains(&want.as_str()), "{want} in {head}");
        }
        let key = lines
            .iter()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        assert_eq!(key.len(), 24, "16 random bytes in base64");
        assert!(key.ends_with("=="));
        // A 101 with a wrong accept value is refused by the client.
        s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n")
            .await
            .unwrap();
        // The client gives up on that connection and dials again with a fresh key.
        let (mut s2, _) = raw.accept().await.unwrap();
        let head2 = read_head(&mut s2).await;
        assert!(!head2.contains(key), "fresh key per attempt");
        s2.write_all(b"HTTP/1.1 400 Incompatible Socket Type\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let (_s3, _) = raw.accept().await.unwrap();
        assert!(req.stats().socket.handshake_failures >= 2);
        assert_eq!(req.pipe_count(), 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn handshake_timeout_applies_to_both_sides() {
    tokio::time::timeout(LIMIT, async {
        let quick = SocketOptions {
            handshake_timeout: Duration::from_millis(200),
            ..SocketOptions::default()
        };
        // Server: a client that connects and says nothing is dropped.
        let rep = Socket::new(SocketType::Rep);
        rep.set_options(quick.clone());
        let ep = rep.listen("ws://127.0.0.1:0/").await.unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", ep.url().port().unwrap()))
            .await
            .unwrap();
        let started = tokio::time::Instant::now();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        assert!(started.elapsed() >= Duration::from_millis(150));
        // ... and counted, though its path was never known.
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        while rep.stats().socket.handshake_failures == 0 {
            tick.tick().await;
        }
        assert_eq!(rep.stats().socket.accepts, 1);
        // Client: a server that accepts and never answers is given up on.
        let raw = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = raw.local_addr().unwrap().port();
        let req = Socket::new(SocketType::Req);
        req.set_options(quick);
        req.dial(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
        let (_silent, _) = raw.accept().await.unwrap();
        while req.stats().socket.handshake_failures == 0 {
            tick.tick().await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn raw_frames_fragments_ping_text_oversize() {
    tokio::time::timeout(LIMIT, async {
        let pull = Socket::new(SocketType::Pull);
        let ep = pull.listen("ws://127.0.0.1:0/in").await.unwrap();
        let port = ep.url().port().unwrap();
        let push_req = request("/in", port, "Upgrade", Some("pull.sp.nanomsg.org"));

        // A fragmented message with a ping between its fragments.
        let (head, mut s) = upgrade(port, &push_req).await;
        assert_eq!(status_line(&head), "HTTP/1.1 101 Switching Protocols");
        let mut wire = frame(false, 0x2, b"frag");
        wire.extend(frame(true, 0x9, b"are you there"));
        wire.extend(frame(false, 0x0, b"mented "));
        wire.extend(frame(true, 0x0, b"message"));
        wire.extend(frame(true, 0x2, b"")); // an empty message
        s.write_all(&wire).await.unwrap();
        assert_eq!(
            read_frame(&mut s).await,
            (true, 0xa, b"are you there".to_vec())
        );
        assert_eq!(pull.recv().await.unwrap().body, "fragmented message");
        assert_eq!(pull.recv().await.unwrap().body, "");
        // A text message: close 1003 and the pipe ends.
        s.write_all(&frame(true, 0x1, b"text")).await.unwrap();
        expect_close(&mut s, 1003).await;
        pull.wait_for_pipes_at_most(0).await.unwrap();

        // Oversize from the length alone (2 MiB announced, nothing sent): close 1009.
        let (_, mut s) = upgrade(port, &push_req).await;
        s.write_all(&[0x82, 0xff, 0, 0, 0, 0, 0, 0x20, 0, 0, 1, 2, 3, 4])
            .await
            .unwrap();
        expect_close(&mut s, 1009).await;

        // Oversize over fragments (17 x 64 KiB > 1 MiB), all bytes sent: still 1009, and
        // the close frame is not lost to a reset (the server drains what follows).
        let (_, mut s) = upgrade(port, &push_req).await;
        let chunk = vec![7u8; 64 * 1024];
        let mut wire = frame(false, 0x2, &chunk);
        for i in 1..17 {
            wire.extend(frame(i == 16, 0x0, &chunk));
        }
        let (mut r, mut w) = s.split();
        let (sent, ()) = tokio::join!(w.write_all(&wire), async {
            let mut h = [0u8; 4];
            r.read_exact(&mut h).await.unwrap();
            assert_eq!(h, [0x88, h[1], 0x03, 0xf1], "close 1009 first");
        });
        sent.unwrap();

        // Protocol errors: an unmasked client frame, a reserved opcode: close 1002.
        for bad in [vec![0x82, 0x01, b'x'], frame(true, 0x3, b"")] {
            let (_, mut s) = upgrade(port, &push_req).await;
            s.write_all(&bad).await.unwrap();
            expect_close(&mut s, 1002).await;
        }

        // The socket is still up for other pipes.
        let push = Socket::new(SocketType::Push);
        push.dial(ep.url()).await.unwrap();
        push.wait_for_pipes(1).await.unwrap();
        push.send("still here").await.unwrap();
        assert_eq!(pull.recv().await.unwrap().body, "still here");
        assert_eq!(pull.stats().socket.frame_errors, 5);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn server_fragments_at_64_kib_and_answers_close() {
    tokio::time::timeout(LIMIT, async {
        let push = Socket::new(SocketType::Push);
        let ep = push.listen("ws://127.0.0.1:0/").await.unwrap();
        let port = ep.url().port().unwrap();
        let (head, mut s) = upgrade(
            port,
            &request("/", port, "Upgrade", Some("push.sp.nanomsg.org")),
        )
        .await;
        assert_eq!(status_line(&head), "HTTP/1.1 101 Switching Protocols");
        push.wait_for_pipes(1).await.unwrap();
        let body: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        push.send(body.clone()).await.unwrap();
        let mut got = Vec::new();
        let mut frames = Vec::new();
        loop {
            let (fin, opcode, payload) = read_frame(&mut s).await;
            frames.push((opcode, payload.len()));
            got.extend_from_slice(&payload);
            if fin {
                break;
            }
        }
        assert_eq!(frames.len(), 16);
        assert_eq!(frames[0], (0x2, 65536));
        assert!(frames[1..].iter().all(|&f| f == (0x0, 65536)));
        assert_eq!(got, body);
        // Our Close is answered with a Close echoing the code, then the connection ends.
        s.write_all(&frame(true, 0x8, &[0x03, 0xe8, b'b', b'y', b'e']))
            .await
            .unwrap();
        expect_close(&mut s, 1000).await;
        push.wait_for_pipes_at_most(0).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn path_routing_on_one_port() {
    tokio::time::timeout(LIMIT, async {
        let a = Socket::new(SocketType::Rep);
        let ep_a = a.listen("ws://127.0.0.1:0/a").await.unwrap();
        let port = ep_a.url().port().unwrap();
        let b = Socket::new(SocketType::Rep);
        let ep_b = b.listen(&format!("ws://127.0.0.1:{port}/b")).await.unwrap();
        assert_eq!(ep_b.url().port(), Some(port));
        // A third socket of another type on the same port.
        let pull = Socket::new(SocketType::Pull);
        let _ep_c = pull
            .listen(&format!("ws://127.0.0.1:{port}/c"))
            .await
            .unwrap();
        // A path already served, or wss on a ws port, is refused.
        assert!(matches!(
            b.listen(&format!("ws://127.0.0.1:{port}/a")).await,
            Err(e) if e.io_kind() == Some(std::io::ErrorKind::AddrInUse)
        ));
        b.set_tls(sp_net::transport::tls::TlsConfig::from_pem(None, None, None, true).unwrap());
        assert!(b
            .listen(&format!("wss://127.0.0.1:{port}/s"))
            .await
            .is_err());

        for (sock, path) in [(&a, "a"), (&b, "b")] {
            let sock = sock.clone();
            let name = path.to_owned();
            tokio::spawn(async move {
                loop {
                    let Ok(q) = sock.recv().await else { return };
                    let mut r = q.body.to_vec();
                    r.extend_from_slice(format!(" via {name}").as_bytes());
                    if sock.send(r).await.is_err() {
                        return;
                    }
                }
            });
        }
        let req_a = Socket::new(SocketType::Req);
        req_a
            .dial(&format!("ws://127.0.0.1:{port}/a"))
            .await
            .unwrap();
        let req_b = Socket::new(SocketType::Req);
        req_b
            .dial(&format!("ws://127.0.0.1:{port}/b"))
            .await
            .unwrap();
        let push = Socket::new(SocketType::Push);
        push.dial(&format!("ws://127.0.0.1:{port}/c"))
            .await
            .unwrap();
        assert_eq!(req_a.request("x").await.unwrap().body, "x via a");
        assert_eq!(req_b.request("y").await.unwrap().body, "y via b");
        push.send("z").await.unwrap();
        assert_eq!(pull.recv().await.unwrap().body, "z");
        assert_eq!(a.pipe_count(), 1);
        assert_eq!(b.pipe_count(), 1);

        // Closing one listener frees its path; the others keep the port.
        ep_b.close().await;
        b.wait_for_pipes_at_most(0).await.unwrap();
        assert_eq!(req_a.request("again").await.unwrap().body, "again via a");
        let b2 = Socket::new(SocketType::Rep);
        let _ep_b2 = b2
            .listen(&format!("ws://127.0.0.1:{port}/b"))
            .await
            .unwrap();
    })
    .await
    .unwrap();
}

/// The next `HandshakeFailed` reason among `events`.
async fn next_failure(events: &mut tokio::sync::broadcast::Receiver<PipeEvent>) -> String {
    loop {
        if let PipeEvent::HandshakeFailed { reason, dialed, .. } = events.recv().await.unwrap() {
            assert!(!dialed);
            return reason;
        }
    }
}

#[tokio::test]
async fn refusals_before_routing_count_once_on_each_socket_of_the_port() {
    tokio::time::timeout(LIMIT, async {
        // Socket `a` listens at two paths of the port, `b` at a third.
        let a = Socket::new(SocketType::Rep);
        let mut a_events = a.pipe_events();
        let ep = a.listen("ws://127.0.0.1:0/a").await.unwrap();
        let port = ep.url().port().unwrap();
        let _ep_a2 = a
            .listen(&format!("ws://127.0.0.1:{port}/a2"))
            .await
            .unwrap();
        let b = Socket::new(SocketType::Pull);
        let mut b_events = b.pipe_events();
        let _ep_b = b.listen(&format!("ws://127.0.0.1:{port}/b")).await.unwrap();

        // An unknown path and an unreadable request: no socket is named, so each socket
        // of the port counts each once, with the reason.
        let (head, _s) = upgrade(
            port,
            &request("/nobody", port, "Upgrade", Some("rep.sp.nanomsg.org")),
        )
        .await;
        assert_eq!(status_line(&head), "HTTP/1.1 404 Not Found");
        for events in [&mut a_events, &mut b_events] {
            let reason = next_failure(events).await;
            assert!(
                reason.starts_with("WebSocket upgrade: refused with 404 Not Found")
                    && reason.contains("/nobody"),
                "{reason}"
            );
        }
        let (head, _s) = upgrade(port, "GET /a HTTP/1.1\r\nbroken header\r\n\r\n").await;
        assert_eq!(status_line(&head), "HTTP/1.1 400 Bad Request");
        for events in [&mut a_events, &mut b_events] {
            let reason = next_failure(events).await;
            assert!(reason.contains("400 Bad Request"), "{reason}");
        }
        // A refusal at a known path counts on its socket only.
        let (head, _s) = upgrade(
            port,
            &request("/b", port, "Upgrade", Some("rep.sp.nanomsg.org")),
        )
        .await;
        assert_eq!(status_line(&head), "HTTP/1.1 400 Incompatible Socket Type");
        let reason = next_failure(&mut b_events).await;
        assert!(reason.contains("400 Incompatible Socket Type"), "{reason}");

        let (sa, sb) = (a.stats().socket, b.stats().socket);
        assert_eq!((sa.accepts, sa.handshake_failures), (2, 2), "{sa:?}");
        assert_eq!((sb.accepts, sb.handshake_failures), (3, 3), "{sb:?}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn one_mib_messages_round_trip_both_ways() {
    tokio::time::timeout(LIMIT, async {
        let a = Socket::new(SocketType::Pair0);
        let ep = a.listen("ws://127.0.0.1:0/big").await.unwrap();
        let b = Socket::new(SocketType::Pair0);
        b.dial(ep.url()).await.unwrap();
        a.wait_for_pipes(1).await.unwrap();
        b.wait_for_pipes(1).await.unwrap();
        let body: Vec<u8> = (0..1024 * 1024u32).map(|i| (i * 7 % 256) as u8).collect();
        let rounds = 20;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            a.send(body.clone()).await.unwrap();
            let m = b.recv().await.unwrap();
            assert_eq!(m.body.len(), body.len());
            b.send(m.body).await.unwrap();
            assert!(a.recv().await.unwrap().body == body);
        }
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "ws: {rounds} round trips of 1 MiB in {secs:.3} s ({:.0} MiB/s one way)",
            f64::from(2 * rounds) / secs
        );
        // One byte over the limit ends the connection (close 1009); the dialer reconnects.
        let mut a_events = a.pipe_events();
        let mut b_events = b.pipe_events();
        let mut over = body.clone();
        over.push(0);
        b.send(over).await.unwrap();
        for events in [&mut a_events, &mut b_events] {
            while !matches!(
                events.recv().await.unwrap(),
                sp_net::stats::PipeEvent::Removed { .. }
            ) {}
        }
        assert_eq!(a.stats().socket.frame_errors, 1);
        a.wait_for_pipes(1).await.unwrap();
        b.wait_for_pipes(1).await.unwrap();
        b.send("after").await.unwrap();
        assert_eq!(a.recv().await.unwrap().body, "after");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn wss_needs_settings() {
    let s = Socket::new(SocketType::Pull);
    assert!(matches!(
        s.listen("wss://127.0.0.1:0/").await,
        Err(Error::Tls(_))
    ));
    assert!(matches!(
        s.dial("wss://127.0.0.1:1/").await,
        Err(Error::Tls(_))
    ));
    assert!(s.dial("ws://127.0.0.1:1/a b").await.is_err());
}

/// Relays one connection from `front` to `port`, returning every byte the client sent
/// once the client side closes.
async fn record_client_bytes(front: TcpListener, port: u16) -> Vec<u8> {
    let (mut client, _) = front.accept().await.unwrap();
    let mut server = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let mut seen = Vec::new();
    let up = async {
        let mut b = [0u8; 4096];
        loop {
            match cr.read(&mut b).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    seen.extend_from_slice(&b[..n]);
                    if sw.write_all(&b[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let down = async {
        let _ = tokio::io::copy(&mut sr, &mut cw).await;
    };
    tokio::select! { () = up => {}, () = down => {} }
    seen
}

/// The `Sec-WebSocket-Key` and the masking keys of the client frames in `bytes` (a
/// dialer's side of a connection: its upgrade request, then masked frames).
fn client_keys(bytes: &[u8]) -> (String, Vec<[u8; 4]>) {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = std::str::from_utf8(&bytes[..end]).unwrap();
    assert!(
        head.starts_with("GET / HTTP/1.1\r\n"),
        "path-less URL asks for /: {head}"
    );
    let key = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap()
        .to_owned();
    let mut masks = Vec::new();
    let mut at = end;
    while at + 2 <= bytes.len() {
        assert_ne!(bytes[at + 1] & 0x80, 0, "client frames are masked");
        let (len, ext) = match bytes[at + 1] & 0x7f {
            126 => (
                usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]])),
                2,
            ),
            127 => unreachable!("small test messages"),
            n => (usize::from(n), 0),
        };
        let m = at + 2 + ext;
        masks.push(bytes[m..m + 4].try_into().unwrap());
        at = m + 4 + len;
    }
    (key, masks)
}

/// RFC 6455 §5.3: masking keys must not be predictable. Two dialers built from the same
/// seed (so every replayed decision matches) still send different handshake nonces and
/// different masking keys, and no key repeats within a connection.
#[tokio::test]
async fn keys_come_from_the_os_not_the_seed() {
    use sp_net::transport::TokioNetwork;
    use sp_proto::protocol::Config;
    use std::sync::Arc;
    tokio::time::timeout(LIMIT, async {
        let pull = Socket::new(SocketType::Pull);
        let ep = pull.listen("ws://127.0.0.1:0").await.unwrap();
        let port = ep.url().port().unwrap();
        let mut seen = Vec::new();
        for _ in 0..2 {
            let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let front_port = front.local_addr().unwrap().port();
            let relay = tokio::spawn(record_client_bytes(front, port));
            let push = Socket::with_config(
                SocketType::Push,
                Config::cooked(7),
                Arc::new(TokioNetwork::new()),
            );
            push.dial(&format!("ws://127.0.0.1:{front_port}"))
                .await
                .unwrap();
            for i in 0..8u8 {
                push.send(vec![i; 3]).await.unwrap();
                assert_eq!(pull.recv().await.unwrap().body, vec![i; 3]);
            }
            push.close().await;
            seen.push(client_keys(&relay.await.unwrap()));
        }
        let ((key_a, masks_a), (key_b, masks_b)) = (&seen[0], &seen[1]);
        assert_ne!(key_a, key_b, "same seed, different Sec-WebSocket-Key");
        assert!(
            masks_a.len() >= 8 && masks_b.len() >= 8,
            "{masks_a:?} {masks_b:?}"
        );
        assert_ne!(masks_a[..8], masks_b[..8], "same seed, different masks");
        for masks in [masks_a, masks_b] {
            let mut distinct = masks.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), masks.len(), "a key repeated: {masks:?}");
        }
    })
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------
// Dead-peer detection: the WebSocket heartbeat (`SocketOptions::ws_ping`).

const PING: sp_net::transport::WsPing = sp_net::transport::WsPing {
    interval: Duration::from_millis(100),
    timeout: Duration::from_millis(200),
};

fn sha1(data: &[u8]) -> [u8; 20] {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    d.as_ref().try_into().unwrap()
}

/// A raw server that accepts one `ws://` dial from a REQ socket and completes the
/// upgrade; returns the upgraded stream.
async fn raw_upgraded_server(raw: &TcpListener) -> TcpStream {
    let (mut s, _) = raw.accept().await.unwrap();
    let head = read_head(&mut s).await;
    let key = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .expect("a key");
    let accept = sp_proto::wire::ws_http::accept_key(key, sha1);
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: rep.sp.nanomsg.org\r\n\r\n"
    );
    s.write_all(response.as_bytes()).await.unwrap();
    s
}

/// Reads one client frame and checks that it is an empty masked Ping.
async fn expect_client_ping(s: &mut TcpStream) {
    let mut f = [0u8; 6];
    s.read_exact(&mut f).await.unwrap();
    assert_eq!(f[..2], [0x89, 0x80], "a final, masked, empty Ping: {f:x?}");
}

/// A REQ with the heartbeat on, dialed to a raw server that completed the upgrade.
async fn pinging_req_on_raw_server() -> (Socket, TcpStream) {
    let raw = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = raw.local_addr().unwrap().port();
    let req = Socket::new(SocketType::Req);
    req.set_options(pinging());
    req.dial(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    let s = raw_upgraded_server(&raw).await;
    req.wait_for_pipes(1).await.unwrap();
    (req, s)
}

fn pinging() -> SocketOptions {
    SocketOptions {
        ws_ping: Some(PING),
        reconnect_min: Duration::from_secs(30),
        reconnect_max: Duration::from_secs(30),
        ..SocketOptions::default()
    }
}

#[tokio::test]
async fn ws_ping_closes_the_pipe_of_a_server_that_stops_answering() {
    tokio::time::timeout(LIMIT, async {
        let (req, mut s) = pinging_req_on_raw_server().await;
        // The peer completed the upgrade and now says nothing, answers nothing, and
        // keeps its socket open: a black hole as far as the dialer can tell.
        let silent_since = tokio::time::Instant::now();
        expect_client_ping(&mut s).await;
        req.wait_for_pipes_at_most(0).await.unwrap();
        let waited = silent_since.elapsed();
        assert!(
            waited >= PING.interval + PING.timeout - Duration::from_millis(20),
            "closed after {waited:?}"
        );
        assert_eq!(req.stats().socket.pipes_closed_for_silence, 1);
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
        assert!(rest.is_empty(), "nothing after the ping: {rest:x?}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn ws_ping_keeps_the_pipe_of_a_server_that_answers() {
    tokio::time::timeout(LIMIT, async {
        let (req, mut s) = pinging_req_on_raw_server().await;
        // Five pings in a row, each answered by a Pong: each comes one interval after
        // the answer to the one before, and the pipe stays.
        for _ in 0..5 {
            expect_client_ping(&mut s).await;
            s.write_all(&[0x8a, 0x00]).await.unwrap();
        }
        assert_eq!(req.pipe_count(), 1);
        assert_eq!(req.stats().socket.pipes_closed_for_silence, 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn ws_ping_closes_the_pipe_of_a_client_that_stops_answering() {
    tokio::time::timeout(LIMIT, async {
        let rep = Socket::new(SocketType::Rep);
        rep.set_options(pinging());
        let ep = rep.listen("ws://127.0.0.1:0/").await.unwrap();
        let port = ep.url().port().unwrap();
        let req = request("/", port, "Upgrade", Some("rep.sp.nanomsg.org"));
        let (head, mut s) = upgrade(port, &req).await;
        assert_eq!(status_line(&head), "HTTP/1.1 101 Switching Protocols");
        rep.wait_for_pipes(1).await.unwrap();
        let (fin, opcode, payload) = read_frame(&mut s).await;
        assert!(fin && opcode == 0x9 && payload.is_empty(), "an empty Ping");
        rep.wait_for_pipes_at_most(0).await.unwrap();
        assert_eq!(rep.stats().socket.pipes_closed_for_silence, 1);
    })
    .await
    .unwrap();
}
