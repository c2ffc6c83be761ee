//! PUSH/PULL behaviour (wire-facts §11, §12): load balancing with strict send priorities,
//! fair queueing by receive priority, back-pressure without loss, data sent to PUSH.

mod common;

use bytes::Bytes;
use common::{linked, prio};
use sp_proto::proto::{Pull, Push};
use sp_proto::testing::TestNet;
use sp_proto::{Config, DropReason, Message, PipeInfo, Protocol, RecvError, SendErrorKind};

#[test]
fn round_robin_within_a_priority() {
    let mut net = TestNet::new();
    let push = net.add(Push::new(Config::cooked(1)));
    let pulls: Vec<_> = (0..3)
        .map(|i| net.add(Pull::new(Config::cooked(10 + i))))
        .collect();
    for &p in &pulls {
        net.connect(push, p).unwrap();
    }
    for i in 0..9 {
        net.send(push, format!("m{i}").into_bytes()).unwrap();
    }
    let counts: Vec<usize> = pulls.iter().map(|&p| net.recv_all(p).len()).collect();
    assert_eq!(counts, [3, 3, 3]);
}

#[test]
fn strict_priority_failover_and_return() {
    let mut net = TestNet::new();
    let push = net.add(Push::new(Config::cooked(1)));
    let local = net.add(Pull::new(Config::cooked(2)));
    let remote = net.add(Pull::new(Config::cooked(3)));
    let (to_local, _) = net
        .connect_with(push, prio(1, 8), local, PipeInfo::default())
        .unwrap();
    net.connect_with(push, prio(2, 8), remote, PipeInfo::default())
        .unwrap();

    for i in 0..5 {
        net.send(push, format!("a{i}").into_bytes()).unwrap();
    }
    assert_eq!(net.recv_all(local).len(), 5, "all traffic to priority 1");
    assert!(net.recv_all(remote).is_empty());

    // Priority 1 is slow: its writes are not acknowledged, so traffic fails over.
    net.block(push, to_local);
    net.send(push, "held").unwrap(); // accepted by the local pipe, which then stays busy
    for i in 0..3 {
        net.send(push, format!("b{i}").into_bytes()).unwrap();
    }
    assert_eq!(
        net.recv_all(remote).len(),
        3,
        "failover to priority 2 while 1 is busy"
    );
    net.unblock(push, to_local);
    assert_eq!(
        net.recv_all(local),
        ["held"],
        "nothing lost on the slow pipe"
    );
    net.send(push, "back").unwrap();
    assert_eq!(
        net.recv_all(local),
        ["back"],
        "priority 1 is used again at once"
    );

    // Priority 1 disconnects: priority 2 takes everything.
    net.disconnect(push, to_local);
    net.send(push, "after").unwrap();
    assert_eq!(net.recv_all(remote), ["after"]);
}

#[test]
fn no_writable_pipe_would_block_and_keeps_the_message() {
    let mut net = TestNet::new();
    let push = net.add(Push::new(Config::cooked(1)));
    let err = net.send(push, "x").unwrap_err();
    assert_eq!(err.kind, SendErrorKind::WouldBlock);
    assert_eq!(err.msg.body, "x");
}

#[test]
fn backpressure_pauses_without_loss() {
    let mut net = TestNet::new();
    let mut cfg = Config::cooked(2);
    cfg.options.set_recv_queue(4).unwrap();
    let push = net.add(Push::new(Config::cooked(1)));
    let pull = net.add(Pull::new(cfg));
    net.connect(push, pull).unwrap();
    let mut sent = 0;
    while net.send(push, format!("{sent}").into_bytes()).is_ok() {
        sent += 1;
        assert!(sent < 100, "a paused receiver must push back");
    }
    // The receiver queued 4, paused; one more frame waits in the link and holds the
    // pipe's write credit.
    assert_eq!(sent, 5);
    let got = net.recv_all(pull);
    let expect: Vec<Bytes> = (0..5).map(|i| Bytes::from(format!("{i}"))).collect();
    assert_eq!(got, expect, "order kept, nothing lost");
    assert_eq!(net.proto(pull).stats().dropped_total(), 0);
}

#[test]
fn pull_fair_queues_by_receive_priority() {
    let mut net = TestNet::new();
    let pull = net.add(Pull::new(Config::cooked(1)));
    let hi = net.add(Push::new(Config::cooked(2)));
    let lo = net.add(Push::new(Config::cooked(3)));
    net.connect_with(pull, prio(8, 1), hi, PipeInfo::default())
        .unwrap();
    net.connect_with(pull, prio(8, 2), lo, PipeInfo::default())
        .unwrap();
    for i in 0..2 {
        net.send(lo, format!("lo{i}").into_bytes()).unwrap();
        net.send(hi, format!("hi{i}").into_bytes()).unwrap();
    }
    assert_eq!(net.recv_all(pull), ["hi0", "hi1", "lo0", "lo1"]);
}

#[test]
fn data_sent_to_push_is_counted_and_ignored() {
    let mut push = Push::new(Config::cooked(1));
    let now = sp_proto::Instant::ZERO;
    let pipe = sp_proto::PipeId::new(5).unwrap();
    push.handle_pipe_added(now, pipe, PipeInfo::default())
        .unwrap();
    push.handle_message(now, pipe, Bytes::from_static(b"unexpected"));
    assert_eq!(push.stats().dropped(DropReason::UnexpectedData), 1);
    assert_eq!(push.recv(now), Err(RecvError::NotSupported));
    assert!(push.poll_transmit().is_none());
    let mut pull = Pull::new(Config::cooked(1));
    assert_eq!(
        pull.send(now, Message::from("x")).unwrap_err().kind,
        SendErrorKind::NotSupported
    );
}

#[test]
fn cooked_push_and_pub_never_put_a_user_header_on_the_wire() {
    use sp_proto::proto::{Pub, Sub};
    let (mut net, push, _) = linked(Push::new(Config::cooked(1)), Pull::new(Config::cooked(2)));
    net.send(push, Message::with_header(&b"hdr"[..], &b"body"[..]))
        .unwrap();
    let publisher = net.add(Pub::new(Config::cooked(3)));
    let mut sub = Sub::new(Config::cooked(4));
    sub.subscribe("");
    let sub = net.add(sub);
    net.connect(publisher, sub).unwrap();
    net.send(publisher, Message::with_header(&b"hdr"[..], &b"news"[..]))
        .unwrap();
    let payloads: Vec<_> = net.trace().iter().map(|e| e.payload.clone()).collect();
    assert_eq!(payloads, ["body", "news"]);
    // A raw PUSH forwards what it is given, as a device would.
    let raw = net.add(Push::new(Config::raw(5)));
    let pull2 = net.add(Pull::new(Config::cooked(6)));
    net.connect(raw, pull2).unwrap();
    net.send(raw, Message::with_header(&b"h"[..], &b"b"[..]))
        .unwrap();
    assert_eq!(net.recv_all(pull2), ["hb"]);
}

/// sp-overview §14.3: a close discards what the user had not read, counts each message
/// as `socket_closed` and not as delivered, and leaves nothing to receive.
#[test]
fn close_counts_what_the_user_did_not_read() {
    let mut net = TestNet::new();
    let push = net.add(Push::new(Config::cooked(1)));
    let pull = net.add(Pull::new(Config::cooked(2)));
    net.connect(push, pull).unwrap();
    for i in 0..3 {
        net.send(push, format!("m{i}").into_bytes()).unwrap();
    }
    net.run();
    assert_eq!(net.recv(pull).unwrap().body, "m0");
    let now = net.now();
    let p = net.proto_mut(pull);
    assert_eq!(p.close(now), 2);
    assert!(matches!(p.recv(now), Err(RecvError::WouldBlock)));
    assert_eq!(p.stats().delivered, 1);
    assert_eq!(p.stats().dropped(DropReason::SocketClosed), 2);
    assert_eq!(p.stats().dropped_total(), 2);
}
