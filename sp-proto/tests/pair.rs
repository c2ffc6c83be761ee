//! PAIR v0 and PAIR v1 behaviour (wire-facts §10, §14, §16.8, §16.9; experiment E12):
//! one peer, re-attach after loss, lossless back-pressure, the v1 hop word on the wire and
//! on receive, raw header rules, polyamorous mode, and v0/v1 not being peers.

mod common;

use bytes::Bytes;
use common::{linked, pipe, refuses_headers};
use sp_proto::proto::{Pair0, Pair1};
use sp_proto::testing::{NodeId, TestNet};
use sp_proto::{
    Config, DropReason, Instant, Message, PipeId, PipeInfo, PipeRefused, Protocol, RecvError,
    SendErrorKind, SocketType,
};

const NOW: Instant = Instant::ZERO;

fn poly(seed: u64) -> Config {
    let mut cfg = Config::cooked(seed);
    cfg.options.pair1_polyamorous = true;
    cfg
}

fn with_recv_queue(mut cfg: Config, n: usize) -> Config {
    cfg.options.set_recv_queue(n).unwrap();
    cfg
}

/// A PAIR v1 socket with one pipe attached, for feeding it payloads by hand.
fn pair1_with_pipe(cfg: Config) -> (Pair1, PipeId) {
    let mut p = Pair1::new(cfg);
    p.handle_pipe_added(NOW, pipe(1), PipeInfo::default())
        .unwrap();
    (p, pipe(1))
}

fn payload(bytes: &[u8]) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

// ---------------------------------------------------------------- one peer only

fn one_peer_then_reattach(make: impl Fn(u64) -> sp_proto::AnyProtocol) {
    let mut net = TestNet::new();
    let a = net.add(make(1));
    let b = net.add(make(2));
    let c = net.add(make(3));
    let (a_to_b, _) = net.connect(a, b).unwrap();
    assert_eq!(
        net.connect(a, c),
        Err(PipeRefused::Busy),
        "second peer refused"
    );
    assert_eq!(
        net.connect(c, a),
        Err(PipeRefused::Busy),
        "either direction"
    );
    assert_eq!(
        net.pipes(a),
        [a_to_b],
        "the refused pipe left nothing behind"
    );
    assert!(net.pipes(c).is_empty());

    net.send(a, "to b").unwrap();
    assert_eq!(net.recv_all(b), ["to b"]);

    // The peer goes; the dialer that kept retrying now gets in.
    net.disconnect(a, a_to_b);
    assert_eq!(
        net.send(a, "nobody").unwrap_err().kind,
        SendErrorKind::WouldBlock,
        "no peer: the message is handed back"
    );
    net.connect(c, a).unwrap();
    net.send(a, "to c").unwrap();
    assert_eq!(net.recv_all(c), ["to c"]);
    net.send(c, "back").unwrap();
    assert_eq!(net.recv_all(a), ["back"]);
    assert!(net.recv_all(b).is_empty());
}

#[test]
fn pair0_takes_one_peer_and_reattaches_after_loss() {
    one_peer_then_reattach(|s| Pair0::new(Config::cooked(s)).into());
}

#[test]
fn pair1_takes_one_peer_and_reattaches_after_loss() {
    one_peer_then_reattach(|s| Pair1::new(Config::cooked(s)).into());
}

#[test]
fn duplicate_pipe_id_is_refused() {
    let mut p0 = Pair0::new(Config::cooked(1));
    p0.handle_pipe_added(NOW, pipe(4), PipeInfo::default())
        .unwrap();
    assert_eq!(
        p0.handle_pipe_added(NOW, pipe(4), PipeInfo::default()),
        Err(PipeRefused::Duplicate(pipe(4)))
    );
    let mut p1 = Pair1::new(poly(1));
    p1.handle_pipe_added(NOW, pipe(4), PipeInfo::default())
        .unwrap();
    assert_eq!(
        p1.handle_pipe_added(NOW, pipe(4), PipeInfo::default()),
        Err(PipeRefused::Duplicate(pipe(4)))
    );
}

// ---------------------------------------------------------------- back-pressure

fn backpressure_without_loss(make: impl Fn(Config) -> sp_proto::AnyProtocol) {
    let (mut net, a, b) = linked(
        make(Config::cooked(1)),
        make(with_recv_queue(Config::cooked(2), 3)),
    );
    let mut sent = 0;
    while net.send(a, format!("{sent}").into_bytes()).is_ok() {
        sent += 1;
        assert!(sent < 100, "a paused receiver must push back");
    }
    // 3 queued at the receiver (then it paused) + 1 frame in the link holding the credit.
    assert_eq!(sent, 4);
    let got = net.recv_all(b);
    let expect: Vec<Bytes> = (0..4).map(|i| Bytes::from(format!("{i}"))).collect();
    assert_eq!(got, expect, "order kept, nothing lost");
    assert_eq!(net.proto(a).stats().dropped_total(), 0);
    assert_eq!(net.proto(b).stats().dropped_total(), 0);
    net.send(a, "again").unwrap();
    assert_eq!(net.recv_all(b), ["again"], "writable again once drained");
}

#[test]
fn pair0_backpressure_without_loss() {
    backpressure_without_loss(|c| Pair0::new(c).into());
}

#[test]
fn pair1_backpressure_without_loss() {
    backpressure_without_loss(|c| Pair1::new(c).into());
}

#[test]
fn pair0_has_no_header_cooked_or_raw() {
    let (mut net, a, b) = linked(Pair0::new(Config::raw(1)), Pair0::new(Config::cooked(2)));
    net.send(
        a,
        Message::with_header(&b"\x00\x00\x00\x07"[..], &b"hi"[..]),
    )
    .unwrap();
    assert_eq!(
        net.trace()[0].payload,
        "hi",
        "no header on the wire; a supplied one is ignored"
    );
    let got = net.recv(b).unwrap();
    assert!(got.header.is_empty());
    net.send(b, "yo").unwrap();
    let got = net.recv(a).unwrap();
    assert!(got.header.is_empty(), "raw PAIR v0 exposes no header");
    assert_eq!(got.body, "yo");
    assert!(net.proto(a).is_raw());
}

// ---------------------------------------------------------------- PAIR v1 wire

#[test]
fn pair1_cooked_send_puts_hop_one_on_the_wire() {
    // E12: NNG's cooked PAIR1 sends "hi" as 00 00 00 01 68 69.
    let (mut net, a, b) = linked(Pair1::new(Config::cooked(1)), Pair1::new(Config::cooked(2)));
    // A header supplied on a cooked send is replaced, as NNG does for replies.
    net.send(
        a,
        Message::with_header(&b"\x00\x00\x00\x05"[..], &b"hi"[..]),
    )
    .unwrap();
    assert_eq!(&net.trace()[0].payload[..], b"\x00\x00\x00\x01hi");
    let got = net.recv(b).unwrap();
    assert_eq!((got.header.len(), &got.body[..]), (0, &b"hi"[..]));
}

#[test]
fn pair1_accepts_hops_up_to_the_ttl() {
    // E12: inbound hop 0 (mangos) and 8 (the TTL) accepted, 9 dropped.
    let (mut p, pid) = pair1_with_pipe(Config::cooked(1));
    for word in [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 8], [0, 0, 0, 9]] {
        let mut bytes = word.to_vec();
        bytes.extend_from_slice(b"x");
        p.handle_message(NOW, pid, Bytes::from(bytes));
    }
    let hops_seen = std::iter::from_fn(|| p.recv(NOW).ok()).count();
    assert_eq!(hops_seen, 3);
    assert_eq!(p.stats().dropped(DropReason::TtlExceeded), 1);
    assert_eq!(p.stats().delivered, 3);
}

#[test]
fn pair1_ttl_follows_the_option() {
    let mut cfg = Config::cooked(1);
    cfg.options.set_max_ttl(2).unwrap();
    let (mut p, pid) = pair1_with_pipe(cfg);
    p.handle_message(NOW, pid, payload(b"\x00\x00\x00\x02ok"));
    p.handle_message(NOW, pid, payload(b"\x00\x00\x00\x03no"));
    assert_eq!(p.recv(NOW).unwrap().body, "ok");
    assert_eq!(p.recv(NOW), Err(RecvError::WouldBlock));
    assert_eq!(p.stats().dropped(DropReason::TtlExceeded), 1);
}

#[test]
fn pair1_out_of_range_hop_word_is_dropped_and_the_pipe_kept() {
    // NNG closes the pipe on 0x100; we drop the message and keep reading (DESIGN.md).
    let (mut p, pid) = pair1_with_pipe(Config::cooked(1));
    p.handle_message(NOW, pid, payload(b"\x00\x00\x01\x00bad"));
    p.handle_message(NOW, pid, payload(b"\x01\x00\x00\x01bad"));
    p.handle_message(NOW, pid, payload(b"\x00\x00\x00\x01good"));
    assert_eq!(p.stats().dropped(DropReason::MalformedHeader), 2);
    assert_eq!(p.recv(NOW).unwrap().body, "good", "the pipe still works");
    assert_eq!(p.pipes().collect::<Vec<_>>(), [pid]);
    assert!(p.poll_event().is_none(), "no pause, no close");
    // The pipe also still sends.
    p.send(NOW, Message::from("reply")).unwrap();
    assert_eq!(p.poll_transmit().unwrap().pipe, pid);
}

#[test]
fn pair1_truncated_header_is_dropped() {
    let (mut p, pid) = pair1_with_pipe(Config::cooked(1));
    for short in [&b""[..], b"\x00", b"\x00\x00\x00"] {
        p.handle_message(NOW, pid, payload(short));
    }
    p.handle_message(NOW, pid, payload(b"\x00\x00\x00\x01"));
    assert_eq!(p.stats().dropped(DropReason::MalformedHeader), 3);
    let empty = p.recv(NOW).unwrap();
    assert!(empty.body.is_empty(), "a bare hop word is an empty message");
    assert_eq!(p.stats().msgs_in, 4);
}

#[test]
fn pair1_message_from_an_unknown_pipe_is_dropped() {
    let (mut p, _) = pair1_with_pipe(Config::cooked(1));
    p.handle_message(NOW, pipe(99), payload(b"\x00\x00\x00\x01x"));
    assert_eq!(p.stats().dropped(DropReason::PipeClosed), 1);
    assert_eq!(p.recv(NOW), Err(RecvError::WouldBlock));
}

// ---------------------------------------------------------------- PAIR v1 raw

#[test]
fn pair1_raw_recv_exposes_the_hop_word_as_received() {
    // NNG keeps the received value in the header; the increment happens on send.
    let (mut p, pid) = pair1_with_pipe(Config::raw(1));
    p.handle_message(NOW, pid, payload(b"\x00\x00\x00\x03body"));
    let m = p.recv(NOW).unwrap();
    assert_eq!(
        (&m.header[..], &m.body[..]),
        (&[0, 0, 0, 3][..], &b"body"[..])
    );
    assert_eq!(m.pipe, Some(pid));
}

#[test]
fn pair1_raw_send_rules() {
    let (mut p, pid) = pair1_with_pipe(Config::raw(1));
    // Valid: exactly 4 bytes below 0xff; transmitted plus one.
    for (hops, wire) in [(0u8, 1u8), (3, 4), (0xfe, 0xff)] {
        p.send(NOW, Message::with_header(vec![0, 0, 0, hops], &b"m"[..]))
            .unwrap();
        let t = p.poll_transmit().unwrap();
        assert_eq!(t.pipe, pid);
        assert_eq!(&t.msg.header[..], &[0, 0, 0, wire]);
        p.handle_writable(NOW, pid);
    }
    // Invalid: wrong length or value at or above 0xff. The message is handed back.
    refuses_headers(
        &mut p,
        &[
            &[],
            &[0, 0, 1],
            &[0, 0, 0, 0xff],
            &[0, 0, 1, 0],
            &[0, 0, 0, 1, 0],
        ],
    );
    assert!(p.poll_transmit().is_none());
}

#[test]
fn pair1_raw_forwarders_add_one_hop_each_until_the_ttl() {
    // A cooked sender, then a chain of raw devices (each: recv on one raw socket, send on
    // the next); the hop count grows by one per device and the TTL stops the message.
    let mut net = TestNet::new();
    let origin = net.add(Pair1::new(Config::cooked(1)));
    let mut nodes = vec![origin];
    // origin -> [r_in r_out] x 9 -> sink
    for i in 0..9 {
        let r_in = net.add(Pair1::new(Config::raw(10 + 2 * i)));
        let r_out = net.add(Pair1::new(Config::raw(11 + 2 * i)));
        nodes.push(r_in);
        nodes.push(r_out);
    }
    let sink = net.add(Pair1::new(Config::cooked(99)));
    nodes.push(sink);
    for pair in nodes.chunks(2) {
        net.connect(pair[0], pair[1]).unwrap();
    }
    net.send(origin, "ttl").unwrap();
    let mut hops = Vec::new();
    for i in 0..9 {
        let (r_in, r_out) = (nodes[1 + 2 * i], nodes[2 + 2 * i]);
        let Ok(m) = net.recv(r_in) else {
            assert_eq!(net.proto(r_in).stats().dropped(DropReason::TtlExceeded), 1);
            break;
        };
        hops.push(m.header[3]);
        net.send(r_out, m).unwrap();
    }
    assert_eq!(hops, [1, 2, 3, 4, 5, 6, 7, 8], "hop 9 exceeds the TTL of 8");
    assert!(net.recv_all(sink).is_empty());
}

#[test]
fn pair1_wire_trace_through_a_raw_device() {
    // A (cooked) <-> [R1 raw | R2 raw] <-> B (cooked): one hop out, two hops back in.
    let mut net = TestNet::new();
    let a = net.add(Pair1::new(Config::cooked(1)));
    let r1 = net.add(Pair1::new(Config::raw(2)));
    let r2 = net.add(Pair1::new(Config::raw(3)));
    let b = net.add(Pair1::new(Config::cooked(4)));
    net.connect(a, r1).unwrap();
    net.connect(r2, b).unwrap();

    net.send(a, "hi").unwrap();
    let fwd = net.recv(r1).unwrap();
    net.send(r2, fwd).unwrap();
    assert_eq!(net.recv(b).unwrap().body, "hi");

    net.send(b, "hello").unwrap();
    let back = net.recv(r2).unwrap();
    net.send(r1, back).unwrap();
    assert_eq!(net.recv(a).unwrap().body, "hello");

    insta::assert_snapshot!("pair1_wire_trace_through_a_raw_device", net.trace_text());
}

// ---------------------------------------------------------------- polyamorous

/// A polyamorous PAIR v1 server and three cooked PAIR v1 clients, not connected yet.
fn poly_server_and_clients() -> (TestNet, NodeId, Vec<NodeId>) {
    let mut net = TestNet::new();
    let server = net.add(Pair1::new(poly(1)));
    let clients = (0..3)
        .map(|i| net.add(Pair1::new(Config::cooked(10 + i))))
        .collect();
    (net, server, clients)
}

#[test]
fn polyamorous_addressed_send_and_reply() {
    let (mut net, server, clients) = poly_server_and_clients();
    for &c in &clients {
        net.connect(c, server).unwrap();
    }
    assert_eq!(net.pipes(server).len(), 3, "many peers");

    for (i, &c) in clients.iter().enumerate() {
        net.send(c, format!("from {i}").into_bytes()).unwrap();
    }
    // Reply to each request on the pipe it came from.
    for _ in 0..3 {
        let req = net.recv(server).unwrap();
        assert!(req.pipe.is_some(), "received messages name their pipe");
        let mut reply = Message::new(format!("re: {}", String::from_utf8_lossy(&req.body)));
        reply.pipe = req.pipe;
        net.send(server, reply).unwrap();
    }
    for (i, &c) in clients.iter().enumerate() {
        assert_eq!(net.recv_all(c), [format!("re: from {i}")]);
    }
    // Every poly transmit carries hop 1 like a normal cooked send.
    assert!(net.trace().iter().all(|e| e.payload[..4] == [0, 0, 0, 1]));
}

#[test]
fn polyamorous_unaddressed_send_is_load_balanced() {
    let (mut net, server, clients) = poly_server_and_clients();
    for &c in &clients {
        net.connect(server, c).unwrap();
    }
    for i in 0..6 {
        net.send(server, format!("{i}").into_bytes()).unwrap();
    }
    let counts: Vec<usize> = clients.iter().map(|&c| net.recv_all(c).len()).collect();
    assert_eq!(counts, [2, 2, 2]);
}

#[test]
fn polyamorous_send_to_a_gone_or_busy_pipe_is_dropped_and_counted() {
    let mut net = TestNet::new();
    let server = net.add(Pair1::new(poly(1)));
    let slow = net.add(Pair1::new(Config::cooked(2)));
    let gone = net.add(Pair1::new(Config::cooked(3)));
    let (to_slow, _) = net.connect(server, slow).unwrap();
    let (to_gone, _) = net.connect(server, gone).unwrap();

    net.disconnect(server, to_gone);
    let mut m = Message::from("lost");
    m.pipe = Some(to_gone);
    net.send(server, m).expect("dropping is not an error");
    assert_eq!(net.proto(server).stats().dropped(DropReason::PipeGone), 1);

    net.block(server, to_slow);
    let mut first = Message::from("first");
    first.pipe = Some(to_slow);
    net.send(server, first).unwrap(); // takes the pipe's credit
    let mut second = Message::from("second");
    second.pipe = Some(to_slow);
    net.send(server, second)
        .expect("busy pipe: dropped, not blocking");
    assert_eq!(net.proto(server).stats().dropped(DropReason::PipeBusy), 1);
    // Unaddressed with nothing writable: handed back instead of dropped.
    assert_eq!(
        net.send(server, "any").unwrap_err().kind,
        SendErrorKind::WouldBlock
    );
    net.unblock(server, to_slow);
    assert_eq!(net.recv_all(slow), ["first"]);
}

#[test]
fn polyamorous_mode_is_cooked_only_and_ignored_when_off() {
    let mut raw = poly(1);
    raw.raw = true;
    let mut p = Pair1::new(raw);
    assert!(!p.is_polyamorous(), "NNG has no raw polyamorous mode");
    p.handle_pipe_added(NOW, pipe(1), PipeInfo::default())
        .unwrap();
    assert_eq!(
        p.handle_pipe_added(NOW, pipe(2), PipeInfo::default()),
        Err(PipeRefused::Busy)
    );

    // A monogamous socket ignores the pipe set on a message and uses its one peer.
    let mut mono = Pair1::new(Config::cooked(1));
    mono.handle_pipe_added(NOW, pipe(1), PipeInfo::default())
        .unwrap();
    let mut m = Message::from("x");
    m.pipe = Some(pipe(77));
    mono.send(NOW, m).unwrap();
    assert_eq!(mono.poll_transmit().unwrap().pipe, pipe(1));
    assert_eq!(mono.stats().dropped_total(), 0);
}

// ---------------------------------------------------------------- peers

#[test]
fn pair_v0_and_v1_are_not_peers() {
    assert_eq!(SocketType::Pair0.wire_id(), 0x10);
    assert_eq!(SocketType::Pair1.wire_id(), 0x11);
    assert!(SocketType::Pair0.accepts_peer_id(0x10));
    assert!(SocketType::Pair1.accepts_peer_id(0x11));
    assert!(!SocketType::Pair0.accepts_peer_id(0x11));
    assert!(!SocketType::Pair1.accepts_peer_id(0x10));
    assert_eq!(
        Pair0::new(Config::cooked(1)).socket_type(),
        SocketType::Pair0
    );
    assert_eq!(
        Pair1::new(Config::cooked(1)).socket_type(),
        SocketType::Pair1
    );
}
