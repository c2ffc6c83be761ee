//! REQ/REP behaviour (wire-facts §6, §14, §18; DESIGN.md choices): request ids, resends,
//! holding, cancellation, contexts, reply routing, hop limits, back-pressure, raw mode.

mod common;

use common::{answer_all, first_id, linked, pipe, prio, refuses_headers};
use std::time::Duration;

use bytes::Bytes;
use sp_proto::proto::req::ContextId;
use sp_proto::proto::{Rep, Req};
use sp_proto::testing::{NodeId, TestNet};
use sp_proto::wire::frame::{encode_frame, FrameFormat};
use sp_proto::Contexts;
use sp_proto::{
    AnyProtocol, Config, DropReason, Event, Instant, Message, PipeId, PipeInfo, Protocol,
    RecvError, SendErrorKind,
};

const MINUTE: Duration = Duration::from_secs(60);

fn word(id: u32) -> [u8; 4] {
    id.to_be_bytes()
}

fn payload(header: &[u8], body: &[u8]) -> Bytes {
    let mut v = header.to_vec();
    v.extend_from_slice(body);
    Bytes::from(v)
}

fn req_of(net: &mut TestNet, n: NodeId) -> &mut Req {
    match net.proto_mut(n) {
        AnyProtocol::Req(r) => r,
        _ => unreachable!("not a REQ node"),
    }
}

fn rep_of(net: &mut TestNet, n: NodeId) -> &mut Rep {
    match net.proto_mut(n) {
        AnyProtocol::Rep(r) => r,
        _ => unreachable!("not a REP node"),
    }
}

fn one_to_one(req_seed: u64) -> (TestNet, NodeId, NodeId) {
    linked(
        Req::new(Config::cooked(req_seed)),
        Rep::new(Config::cooked(100)),
    )
}

// ---------------------------------------------------------------------------------------
// Wire bytes (§18, E1–E3)
// ---------------------------------------------------------------------------------------

#[test]
fn cooked_request_and_reply_bytes() {
    let (mut net, req, rep) = one_to_one(7);
    let id = first_id(7);
    net.send(req, "Hello").unwrap();
    let got = net.recv(rep).unwrap();
    assert_eq!(got.body, "Hello");
    assert!(got.header.is_empty(), "cooked REP hides the backtrace");
    net.send(rep, "World").unwrap();
    assert_eq!(net.recv(req).unwrap().body, "World");

    let trace = net.trace();
    assert_eq!(trace.len(), 2);
    assert_eq!(trace[0].payload, payload(&word(id), b"Hello"));
    assert_eq!(trace[1].payload, payload(&word(id), b"World"));
    // On TCP: u64 length 9, the id word, the body.
    let mut framed = bytes::BytesMut::new();
    encode_frame(
        FrameFormat::Tcp,
        &trace[0].payload[..4],
        &trace[0].payload[4..],
        &mut framed,
    );
    let mut expect = vec![0, 0, 0, 0, 0, 0, 0, 9];
    expect.extend_from_slice(&word(id));
    expect.extend_from_slice(b"Hello");
    assert_eq!(&framed[..], &expect[..]);
}

#[test]
fn rfc_example_bytes_through_raw_sockets() {
    let now = Instant::ZERO;
    // A raw REQ sends the exact §18 request; a cooked REP answers with the same id.
    let mut xreq = Req::new(Config::raw(1));
    let mut rep = Rep::new(Config::cooked(2));
    xreq.handle_pipe_added(now, pipe(1), PipeInfo::default())
        .unwrap();
    rep.handle_pipe_added(now, pipe(9), PipeInfo::default())
        .unwrap();
    xreq.send(now, Message::with_header(&b"\x80\x00\x03\x37"[..], "Hello"))
        .unwrap();
    let t = xreq.poll_transmit().unwrap();
    assert_eq!(t.msg.to_wire(), &b"\x80\x00\x03\x37Hello"[..]);
    rep.handle_message(now, pipe(9), t.msg.to_wire());
    assert_eq!(rep.recv(now).unwrap().body, "Hello");
    rep.send(now, Message::from("World")).unwrap();
    let t = rep.poll_transmit().unwrap();
    assert_eq!(t.pipe, pipe(9));
    assert_eq!(t.msg.to_wire(), &b"\x80\x00\x03\x37World"[..]);

    // One device hop: the raw REP pushes its pipe id 299 = 0x12b.
    let mut xrep = Rep::new(Config::raw(3));
    xrep.handle_pipe_added(now, pipe(299), PipeInfo::default())
        .unwrap();
    xrep.handle_message(now, pipe(299), Bytes::from_static(b"\x80\x00\x03\x37Hello"));
    let m = xrep.recv(now).unwrap();
    assert_eq!(&m.header[..], b"\x00\x00\x01\x2b\x80\x00\x03\x37");
    assert_eq!(m.body, "Hello");
    xreq.handle_writable(now, pipe(1));
    xreq.send(now, m).unwrap();
    let t = xreq.poll_transmit().unwrap();
    let mut framed = bytes::BytesMut::new();
    encode_frame(FrameFormat::Tcp, &t.msg.header, &t.msg.body, &mut framed);
    assert_eq!(
        &framed[..],
        b"\x00\x00\x00\x00\x00\x00\x00\x0d\x00\x00\x01\x2b\x80\x00\x03\x37Hello"
    );
}

#[test]
fn rep_echoes_the_whole_stack() {
    // E3: a stacked request comes back with the whole stack.
    let now = Instant::ZERO;
    let mut rep = Rep::new(Config::cooked(2));
    rep.handle_pipe_added(now, pipe(4), PipeInfo::default())
        .unwrap();
    rep.handle_message(
        now,
        pipe(4),
        Bytes::from_static(b"\x00\x00\x01\x2b\x80\x00\x03\x37Hello2"),
    );
    assert_eq!(rep.recv(now).unwrap().body, "Hello2");
    rep.send(now, Message::from("World")).unwrap();
    let t = rep.poll_transmit().unwrap();
    assert_eq!(
        t.msg.to_wire(),
        &b"\x00\x00\x01\x2b\x80\x00\x03\x37World"[..]
    );
}

// ---------------------------------------------------------------------------------------
// REQ (§6.2 rows)
// ---------------------------------------------------------------------------------------

#[test]
fn request_ids_are_seeded_incremented_and_flagged() {
    for seed in [0, 1, 42, u64::MAX] {
        let (mut net, req, _rep) = one_to_one(seed);
        for i in 0..3 {
            net.send(req, format!("r{i}").into_bytes()).unwrap();
        }
        let ids: Vec<u32> = net
            .trace()
            .iter()
            .map(|e| u32::from_be_bytes(e.payload[..4].try_into().unwrap()))
            .collect();
        let first = first_id(seed);
        let expect: Vec<u32> = (0..3)
            .map(|i| (first & 0x7fff_ffff).wrapping_add(i) | 0x8000_0000)
            .collect();
        assert_eq!(ids, expect, "seed {seed}");
        assert!(ids.iter().all(|id| id & 0x8000_0000 != 0));
    }
}

#[test]
fn resend_timer_keeps_the_id() {
    let (mut net, req, rep) = one_to_one(5);
    net.send(req, "slow").unwrap();
    assert_eq!(net.recv(rep).unwrap().body, "slow"); // REP never answers this copy
    assert_eq!(net.proto(req).poll_timeout(), Some(Instant::ZERO + MINUTE));
    net.advance(MINUTE - Duration::from_millis(1));
    assert_eq!(net.trace().len(), 1, "no resend before the interval");
    net.advance(Duration::from_millis(1));
    assert_eq!(net.trace().len(), 2);
    assert_eq!(net.trace()[1].payload, net.trace()[0].payload, "same id");
    assert_eq!(net.proto(req).stats().resends, 1);
    let to_rep = net.pipes(req)[0];
    assert_eq!(
        net.take_events(req),
        [Event::RequestResent { pipe: to_rep }]
    );
    assert_eq!(
        net.proto(req).poll_timeout(),
        Some(Instant::ZERO + MINUTE * 2),
        "timer re-armed"
    );
    answer_all(&mut net, rep);
    assert_eq!(net.recv(req).unwrap().body, "re:slow");
    assert_eq!(
        net.proto(req).poll_timeout(),
        None,
        "no timer once answered"
    );
}

#[test]
fn resend_interval_is_configurable_and_can_be_disabled() {
    let mut cfg = Config::cooked(5);
    cfg.options
        .set_resend_interval(Some(Duration::from_millis(250)));
    let (mut net, req, _) = linked(Req::new(cfg.clone()), Rep::new(Config::cooked(6)));
    net.send(req, "x").unwrap();
    net.advance(Duration::from_secs(1));
    assert_eq!(net.proto(req).stats().resends, 4);

    cfg.options.set_resend_interval(None);
    let (mut net, req, _) = linked(Req::new(cfg), Rep::new(Config::cooked(6)));
    net.send(req, "x").unwrap();
    assert_eq!(net.proto(req).poll_timeout(), None);
    net.advance(MINUTE * 10);
    assert_eq!(net.proto(req).stats().resends, 0);
}

#[test]
fn pipe_loss_resends_at_once_elsewhere() {
    let mut net = TestNet::new();
    let req = net.add(Req::new(Config::cooked(9)));
    let rep_a = net.add(Rep::new(Config::cooked(1)));
    let rep_b = net.add(Rep::new(Config::cooked(2)));
    let (to_a, _) = net
        .connect_with(req, prio(1, 8), rep_a, PipeInfo::default())
        .unwrap();
    let (to_b, _) = net
        .connect_with(req, prio(2, 8), rep_b, PipeInfo::default())
        .unwrap();
    net.send(req, "job").unwrap();
    assert_eq!(net.recv(rep_a).unwrap().body, "job", "priority 1 first");
    net.disconnect(req, to_a);
    assert_eq!(net.now(), Instant::ZERO);
    assert_eq!(net.trace()[1].payload, net.trace()[0].payload, "same id");
    assert_eq!(net.take_events(req), [Event::RequestResent { pipe: to_b }]);
    answer_all(&mut net, rep_b);
    assert_eq!(net.recv(req).unwrap().body, "re:job");
}

#[test]
fn pipe_loss_with_no_other_pipe_holds_until_one_appears() {
    let (mut net, req, rep) = one_to_one(3);
    net.send(req, "job").unwrap();
    let to_rep = net.pipes(req)[0];
    net.disconnect(req, to_rep);
    assert_eq!(net.proto(req).poll_timeout(), None, "held, no timer");
    net.advance(MINUTE * 3);
    assert_eq!(net.trace().len(), 1);
    net.connect(req, rep).unwrap();
    assert_eq!(net.trace().len(), 2);
    assert_eq!(net.trace()[1].payload, net.trace()[0].payload);
    assert_eq!(net.proto(req).stats().resends, 1);
    answer_all(&mut net, rep);
    assert_eq!(net.recv(req).unwrap().body, "re:job");
}

#[test]
fn request_without_peers_is_held_then_delivered() {
    // DESIGN: REQ send with no peer is accepted and held (nanomsg, E18).
    let mut net = TestNet::new();
    let req = net.add(Req::new(Config::cooked(4)));
    let rep = net.add(Rep::new(Config::cooked(5)));
    net.send(req, "early").unwrap();
    assert_eq!(net.recv(req), Err(RecvError::WouldBlock));
    assert_eq!(net.proto(req).poll_timeout(), None);
    net.advance(MINUTE * 2);
    net.connect(req, rep).unwrap();
    assert_eq!(
        net.trace()[0].payload,
        payload(&word(first_id(4)), b"early")
    );
    assert_eq!(
        net.proto(req).stats().resends,
        0,
        "first write is no resend"
    );
    answer_all(&mut net, rep);
    assert_eq!(net.recv(req).unwrap().body, "re:early");
}

#[test]
fn fail_no_peers_refuses_without_pipes() {
    let mut cfg = Config::cooked(4);
    cfg.options.fail_no_peers = true;
    let mut net = TestNet::new();
    let req = net.add(Req::new(cfg));
    let rep = net.add(Rep::new(Config::cooked(5)));
    let err = net.send(req, "nobody").unwrap_err();
    assert_eq!(err.kind, SendErrorKind::NoPeers);
    assert_eq!(err.msg.body, "nobody");
    assert_eq!(net.recv(req), Err(RecvError::WrongState), "nothing pending");
    net.connect(req, rep).unwrap();
    net.send(req, "now").unwrap();
    assert_eq!(net.recv(rep).unwrap().body, "now");
}

#[test]
fn new_request_cancels_and_late_reply_is_stale() {
    let (mut net, req, rep) = one_to_one(11);
    net.send(req, "first").unwrap();
    assert_eq!(net.recv(rep).unwrap().body, "first");
    net.send(req, "second").unwrap(); // cancels "first" silently
    assert_eq!(net.proto(req).stats().dropped(DropReason::Cancelled), 1);
    assert_eq!(net.trace().len(), 2, "no wire message for the cancel");
    net.send(rep, "late").unwrap(); // answers "first"
    assert_eq!(net.proto(req).stats().dropped(DropReason::StaleId), 1);
    assert_eq!(net.recv(req), Err(RecvError::WouldBlock));
    answer_all(&mut net, rep);
    assert_eq!(net.recv(req).unwrap().body, "re:second");
    // An unread reply cancelled by a new request also counts as cancelled.
    net.send(req, "third").unwrap();
    answer_all(&mut net, rep);
    net.send(req, "fourth").unwrap();
    assert_eq!(net.proto(req).stats().dropped(DropReason::Cancelled), 2);
    answer_all(&mut net, rep);
    assert_eq!(net.recv(req).unwrap().body, "re:fourth");
}

#[test]
fn recv_state_rules() {
    let (mut net, req, rep) = one_to_one(12);
    assert_eq!(net.recv(req), Err(RecvError::WrongState), "no request");
    net.send(req, "q").unwrap();
    assert_eq!(net.recv(req), Err(RecvError::WouldBlock), "no reply yet");
    answer_all(&mut net, rep);
    assert_eq!(net.recv(req).unwrap().body, "re:q");
    assert_eq!(net.recv(req), Err(RecvError::WrongState), "completed");
    assert_eq!(net.proto(req).stats().delivered, 1);
}

#[test]
fn reply_parsing_drops_and_keeps_the_pipe() {
    let now = Instant::ZERO;
    let mut req = Req::new(Config::cooked(13));
    let p = pipe(3);
    req.handle_pipe_added(now, p, PipeInfo::default()).unwrap();
    req.send(now, Message::from("q")).unwrap();
    let sent = req.poll_transmit().unwrap();
    let id = word(first_id(13));
    assert_eq!(&sent.msg.header[..], &id);

    req.handle_message(now, p, Bytes::from_static(b"\x80\x00"));
    req.handle_message(now, p, Bytes::new());
    req.handle_message(now, p, payload(&[0, 0, 1, 0x2b], b"no msb"));
    // A stacked reply: only 4 bytes are header, so the first word lacks the flag.
    req.handle_message(
        now,
        p,
        payload(&[0, 0, 1, 0x2b, id[0], id[1], id[2], id[3]], b"x"),
    );
    assert_eq!(req.stats().dropped(DropReason::MalformedHeader), 4);
    req.handle_message(now, p, payload(&word(first_id(13) ^ 1), b"other id"));
    assert_eq!(req.stats().dropped(DropReason::StaleId), 1);
    assert_eq!(req.recv(now), Err(RecvError::WouldBlock));
    req.handle_message(now, p, payload(&id, b"ok"));
    let got = req.recv(now).unwrap();
    assert_eq!((got.body, got.pipe), (Bytes::from_static(b"ok"), Some(p)));
    req.handle_message(now, p, payload(&id, b"duplicate"));
    assert_eq!(req.stats().dropped(DropReason::StaleId), 2);
    assert_eq!(req.stats().msgs_in, 7);
    // The pipe is still usable.
    req.handle_writable(now, p);
    req.send(now, Message::from("again")).unwrap();
    assert_eq!(req.poll_transmit().unwrap().pipe, p);
}

#[test]
fn priorities_fail_over_and_return() {
    let mut net = TestNet::new();
    let req = net.add(Req::new(Config::cooked(21)));
    let near = net.add(Rep::new(Config::cooked(1)));
    let far = net.add(Rep::new(Config::cooked(2)));
    let (to_near, _) = net
        .connect_with(req, prio(1, 8), near, PipeInfo::default())
        .unwrap();
    net.connect_with(req, prio(4, 8), far, PipeInfo::default())
        .unwrap();
    for i in 0..3 {
        net.send(req, format!("a{i}").into_bytes()).unwrap();
        assert_eq!(answer_all(&mut net, near), 1);
        assert!(net.recv(req).is_ok());
    }
    assert_eq!(answer_all(&mut net, far), 0, "strict priority");
    // The near pipe is busy: the request fails over.
    net.block(req, to_near);
    let c = req_of(&mut net, req).open_context().unwrap();
    let now = net.now();
    req_of(&mut net, req)
        .send_in(c, now, Message::from("stuck"))
        .unwrap();
    net.run();
    net.send(req, "b").unwrap();
    assert_eq!(answer_all(&mut net, far), 1, "failover to priority 4");
    assert_eq!(net.recv(req).unwrap().body, "re:b");
    net.unblock(req, to_near);
    assert_eq!(answer_all(&mut net, near), 1, "the held write arrives");
    net.send(req, "c").unwrap();
    assert_eq!(answer_all(&mut net, near), 1, "priority 1 is back at once");
    // The near peer goes away: everything goes far.
    net.disconnect(req, to_near);
    net.send(req, "d").unwrap();
    assert_eq!(answer_all(&mut net, far), 1);
    assert_eq!(net.recv(req).unwrap().body, "re:d");
}

// ---------------------------------------------------------------------------------------
// Contexts
// ---------------------------------------------------------------------------------------

#[test]
fn contexts_answered_out_of_order() {
    let (mut net, req, rep) = one_to_one(31);
    let ctxs: Vec<ContextId> = (0..3)
        .map(|_| req_of(&mut net, req).open_context().unwrap())
        .collect();
    let now = net.now();
    for (i, &c) in ctxs.iter().enumerate() {
        req_of(&mut net, req)
            .send_in(c, now, format!("q{i}").into_bytes().into())
            .unwrap();
        net.run();
    }
    let ids: Vec<u32> = ctxs
        .iter()
        .map(|&c| req_of(&mut net, req).request_id(c).unwrap())
        .collect();
    let unique: std::collections::BTreeSet<u32> = ids.iter().copied().collect();
    assert_eq!(unique.len(), 3, "ids unique among outstanding contexts");

    // REP takes all three into its own contexts, answers in reverse order.
    let rctx: Vec<ContextId> = (0..3)
        .map(|_| rep_of(&mut net, rep).open_context().unwrap())
        .collect();
    let mut bodies = Vec::new();
    for &rc in &rctx {
        bodies.push(rep_of(&mut net, rep).recv_in(rc, now).unwrap().body);
        net.run();
    }
    assert_eq!(bodies, ["q0", "q1", "q2"]);
    for (rc, body) in rctx.iter().zip(&bodies).rev() {
        let mut reply = b"re:".to_vec();
        reply.extend_from_slice(body);
        rep_of(&mut net, rep)
            .send_in(*rc, now, reply.into())
            .unwrap();
        net.run();
    }
    for (i, &c) in ctxs.iter().enumerate() {
        let got = req_of(&mut net, req).recv_in(c, now).unwrap();
        assert_eq!(got.body, format!("re:q{i}"));
    }
    assert_eq!(
        net.recv(req),
        Err(RecvError::WrongState),
        "default context untouched"
    );
    // A REP context without a request cannot send.
    let err = rep_of(&mut net, rep)
        .send_in(rctx[0], now, "again".into())
        .unwrap_err();
    assert_eq!(err.kind, SendErrorKind::WrongState);
}

#[test]
fn context_lifecycle() {
    let (mut net, req, rep) = one_to_one(32);
    let now = net.now();
    let r = req_of(&mut net, req);
    let c = r.open_context().unwrap();
    assert!(!r.close_context(ContextId::DEFAULT));
    r.send_in(c, now, "q".into()).unwrap();
    assert!(r.is_pending(c));
    assert!(r.close_context(c), "closing cancels");
    assert!(!r.close_context(c));
    assert_eq!(r.stats().dropped(DropReason::Cancelled), 1);
    assert_eq!(
        r.send_in(c, now, "x".into()).unwrap_err().kind,
        SendErrorKind::NoSuchContext
    );
    assert_eq!(r.recv_in(c, now), Err(RecvError::NoSuchContext));
    net.run();
    answer_all(&mut net, rep);
    assert_eq!(
        net.proto(req).stats().dropped(DropReason::StaleId),
        1,
        "the reply to a closed context is stale"
    );
    let p = rep_of(&mut net, rep);
    let rc = p.open_context().unwrap();
    assert!(p.close_context(rc));
    assert_eq!(p.recv_in(rc, now), Err(RecvError::NoSuchContext));
}

// ---------------------------------------------------------------------------------------
// REP
// ---------------------------------------------------------------------------------------

#[test]
fn rep_state_rules() {
    let (mut net, req, rep) = one_to_one(41);
    let err = net.send(rep, "unasked").unwrap_err();
    assert_eq!(err.kind, SendErrorKind::WrongState);
    assert_eq!(net.recv(rep), Err(RecvError::WouldBlock));
    net.send(req, "q").unwrap();
    assert_eq!(net.recv(rep).unwrap().body, "q");
    // A new recv forgets the unanswered request, even when nothing new is there.
    assert_eq!(net.recv(rep), Err(RecvError::WouldBlock));
    assert_eq!(
        net.send(rep, "late").unwrap_err().kind,
        SendErrorKind::WrongState
    );
}

#[test]
fn rep_reply_to_vanished_pipe_is_dropped() {
    let (mut net, req, rep) = one_to_one(42);
    net.send(req, "q").unwrap();
    assert_eq!(net.recv(rep).unwrap().body, "q");
    net.disconnect_all(rep);
    net.send(rep, "lost").unwrap();
    assert_eq!(net.proto(rep).stats().dropped(DropReason::PipeGone), 1);
    assert_eq!(net.proto(rep).stats().msgs_out, 0);
}

#[test]
fn rep_backlog_under_back_pressure() {
    let mut net = TestNet::new();
    let req = net.add(Req::new(Config::cooked(43)));
    let mut cfg = Config::cooked(44);
    cfg.options.set_recv_queue(2).unwrap();
    let rep = net.add(Rep::new(cfg));
    let (_, rep_pipe) = net.connect(req, rep).unwrap();
    let now = net.now();
    let ctxs: Vec<_> = (0..4)
        .map(|_| req_of(&mut net, req).open_context().unwrap())
        .collect();
    for (i, &c) in ctxs.iter().enumerate() {
        req_of(&mut net, req)
            .send_in(c, now, format!("q{i}").into_bytes().into())
            .unwrap();
        net.run();
    }
    let rctx: Vec<_> = (0..4)
        .map(|_| rep_of(&mut net, rep).open_context().unwrap())
        .collect();
    for &rc in &rctx {
        rep_of(&mut net, rep).recv_in(rc, now).unwrap();
        net.run();
    }
    net.block(rep, rep_pipe);
    for (i, &rc) in rctx.iter().enumerate() {
        rep_of(&mut net, rep)
            .send_in(rc, now, format!("r{i}").into_bytes().into())
            .unwrap();
        net.run();
    }
    // One reply holds the write credit, two wait in the backlog, the fourth overflows.
    assert_eq!(rep_of(&mut net, rep).backlog(rep_pipe), 2);
    assert_eq!(net.proto(rep).stats().dropped(DropReason::QueueFull), 1);
    net.unblock(rep, rep_pipe);
    assert_eq!(rep_of(&mut net, rep).backlog(rep_pipe), 0);
    for (i, &c) in ctxs.iter().take(3).enumerate() {
        let got = req_of(&mut net, req).recv_in(c, now).unwrap();
        assert_eq!(got.body, format!("r{i}"), "nothing lost, order kept");
    }
    assert_eq!(
        req_of(&mut net, req).recv_in(ctxs[3], now),
        Err(RecvError::WouldBlock),
        "the overflowed reply comes with the resend"
    );
    net.advance(MINUTE);
    assert_eq!(net.recv_all(rep), ["q3"]);
}

#[test]
fn rep_ttl_boundary() {
    let now = Instant::ZERO;
    let p = pipe(1);
    let stack = |words: usize| {
        let mut v = Vec::new();
        for i in 1..words {
            v.extend_from_slice(&(i as u32).to_be_bytes());
        }
        v.extend_from_slice(&[0x80, 0, 0, 7]);
        v.extend_from_slice(b"body");
        Bytes::from(v)
    };
    for raw in [false, true] {
        let cfg = if raw {
            Config::raw(1)
        } else {
            Config::cooked(1)
        };
        let mut rep = Rep::new(cfg);
        rep.handle_pipe_added(now, p, PipeInfo::default()).unwrap();
        rep.handle_message(now, p, stack(8));
        rep.handle_message(now, p, stack(9));
        assert_eq!(rep.stats().dropped(DropReason::TtlExceeded), 1, "raw={raw}");
        let got = rep.recv(now).unwrap();
        assert_eq!(got.body, "body");
        if raw {
            assert_eq!(got.header.len(), 36, "own pipe id + 8 received words");
        } else {
            rep.send(now, Message::from("ok")).unwrap();
            assert_eq!(rep.poll_transmit().unwrap().msg.header.len(), 32);
        }
        assert_eq!(rep.recv(now), Err(RecvError::WouldBlock));
        // The limit is an option (1..=255).
        let mut opts = rep.options().clone();
        opts.set_max_ttl(9).unwrap();
        rep.set_options(opts);
        rep.handle_message(now, p, stack(9));
        assert!(rep.recv(now).is_ok());
    }
}

#[test]
fn rep_drops_malformed_requests_and_keeps_the_pipe() {
    let (mut net, req, rep) = one_to_one(45);
    let rep_pipe = net.pipes(rep)[0];
    let now = net.now();
    let r = rep_of(&mut net, rep);
    r.handle_message(now, rep_pipe, Bytes::from_static(b"\x80\x00"));
    r.handle_message(now, rep_pipe, Bytes::from_static(b"\x00\x00\x00\x01no id"));
    r.handle_message(now, rep_pipe, Bytes::new());
    assert_eq!(r.stats().dropped(DropReason::MalformedHeader), 3);
    assert_eq!(r.recv(now), Err(RecvError::WouldBlock), "nothing queued");
    net.send(req, "fine").unwrap();
    assert_eq!(answer_all(&mut net, rep), 1, "the pipe still works");
    assert_eq!(net.recv(req).unwrap().body, "re:fine");
}

#[test]
fn rep_fair_queues_by_receive_priority() {
    let mut net = TestNet::new();
    let rep = net.add(Rep::new(Config::cooked(1)));
    let hi = net.add(Req::new(Config::cooked(2)));
    let lo = net.add(Req::new(Config::cooked(3)));
    let mid = net.add(Req::new(Config::cooked(4)));
    net.connect_with(rep, prio(8, 9), lo, PipeInfo::default())
        .unwrap();
    net.connect_with(rep, prio(8, 1), hi, PipeInfo::default())
        .unwrap();
    net.connect_with(rep, prio(8, 1), mid, PipeInfo::default())
        .unwrap();
    net.send(lo, "lo").unwrap();
    net.send(hi, "hi").unwrap();
    net.send(mid, "mid").unwrap();
    let mut order = Vec::new();
    while let Ok(m) = net.recv(rep) {
        order.push(m.body.clone());
        net.send(rep, "ok").unwrap();
    }
    assert_eq!(order, ["hi", "mid", "lo"]);
    for n in [hi, mid, lo] {
        assert_eq!(net.recv(n).unwrap().body, "ok", "each reply to its asker");
    }
}

// ---------------------------------------------------------------------------------------
// Raw mode
// ---------------------------------------------------------------------------------------

#[test]
fn raw_req_send_and_recv() {
    let now = Instant::ZERO;
    let mut xreq = Req::new(Config::raw(1));
    assert!(xreq.is_raw());
    let (a, b) = (pipe(1), pipe(2));
    xreq.handle_pipe_added(now, a, prio(8, 8)).unwrap();
    xreq.handle_pipe_added(now, b, prio(8, 8)).unwrap();
    refuses_headers(
        &mut xreq,
        &[
            b"",
            b"\x80\x00\x00",
            b"\x00\x00\x00\x01",
            b"\x80\0\0\x01\x80\0\0\x02",
        ],
    );
    let h = Bytes::from_static(b"\x00\x00\x00\x05\x80\x00\x00\x09");
    xreq.send(now, Message::with_header(h.clone(), "one"))
        .unwrap();
    xreq.send(now, Message::with_header(h.clone(), "two"))
        .unwrap();
    let err = xreq
        .send(now, Message::with_header(h.clone(), "three"))
        .unwrap_err();
    assert_eq!(err.kind, SendErrorKind::WouldBlock, "raw REQ does not hold");
    let t1 = xreq.poll_transmit().unwrap();
    let t2 = xreq.poll_transmit().unwrap();
    assert_eq!((t1.pipe, t2.pipe), (a, b), "load balanced");
    assert_eq!(t1.msg.to_wire(), payload(&h, b"one"), "verbatim");
    assert_eq!(xreq.poll_timeout(), None, "no resends in raw mode");

    // Receive: header = the stack down to the id word; malformed dropped.
    xreq.handle_message(now, a, payload(&h, b"reply"));
    xreq.handle_message(now, b, Bytes::from_static(b"\x00\x00\x00\x01x"));
    xreq.handle_message(now, b, Bytes::from(vec![0u8; 40]));
    assert_eq!(xreq.stats().dropped(DropReason::MalformedHeader), 1);
    assert_eq!(xreq.stats().dropped(DropReason::TtlExceeded), 1);
    let m = xreq.recv(now).unwrap();
    assert_eq!(
        (m.header, m.body, m.pipe),
        (h, Bytes::from_static(b"reply"), Some(a))
    );
    assert_eq!(xreq.recv(now), Err(RecvError::WouldBlock));
}

#[test]
fn raw_rep_routes_by_header() {
    let now = Instant::ZERO;
    let mut xrep = Rep::new(Config::raw(1));
    let (a, b) = (pipe(0x11), pipe(0x22));
    xrep.handle_pipe_added(now, a, PipeInfo::default()).unwrap();
    xrep.handle_pipe_added(now, b, PipeInfo::default()).unwrap();
    assert_eq!(
        xrep.handle_pipe_added(now, a, PipeInfo::default()),
        Err(sp_proto::PipeRefused::Duplicate(a))
    );
    xrep.handle_message(now, b, Bytes::from_static(b"\x80\x00\x00\x01q"));
    let m = xrep.recv(now).unwrap();
    assert_eq!(&m.header[..], b"\x00\x00\x00\x22\x80\x00\x00\x01");
    // Replies may be sent in any order and without a prior recv.
    xrep.send(now, Message::with_header(m.header.clone(), "r"))
        .unwrap();
    let t = xrep.poll_transmit().unwrap();
    assert_eq!(
        (t.pipe, t.msg.to_wire()),
        (b, Bytes::from_static(b"\x80\x00\x00\x01r"))
    );
    refuses_headers(
        &mut xrep,
        &[
            b"\x00\x00\x00\x22",
            b"\x00\x00\x00\x22\x80\x00\x00",
            b"\x00\x00\x00\x00\x80\x00\x00\x01",
            b"\x80\x00\x00\x22\x80\x00\x00\x01",
        ],
    );
    xrep.send(
        now,
        Message::with_header(&b"\x00\x00\x00\x33\x80\x00\x00\x01"[..], "x"),
    )
    .unwrap();
    assert_eq!(
        xrep.stats().dropped(DropReason::PipeGone),
        1,
        "unknown pipe"
    );
    // Busy pipe: backlog, then sent on writable.
    xrep.send(now, Message::with_header(m.header.clone(), "r2"))
        .unwrap();
    assert!(xrep.poll_transmit().is_none());
    assert_eq!(xrep.backlog(b), 1);
    xrep.handle_writable(now, b);
    assert_eq!(xrep.poll_transmit().unwrap().msg.body, "r2");
}

// ---------------------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------------------

#[test]
fn trace_snapshot() {
    let mut net = TestNet::new();
    let req = net.add(Req::new(Config::cooked(2024)));
    let rep_a = net.add(Rep::new(Config::cooked(1)));
    let rep_b = net.add(Rep::new(Config::cooked(2)));
    let (to_a, _) = net
        .connect_with(req, prio(1, 8), rep_a, PipeInfo::default())
        .unwrap();
    net.connect_with(req, prio(2, 8), rep_b, PipeInfo::default())
        .unwrap();
    net.send(req, "Hello").unwrap();
    answer_all(&mut net, rep_a);
    net.recv(req).unwrap();
    net.send(req, "slow").unwrap(); // rep_a takes it but does not answer
    net.recv(rep_a).unwrap();
    net.advance(MINUTE); // resent on rep_a at t=60s
    net.disconnect(req, to_a); // resent at once on rep_b
    answer_all(&mut net, rep_b);
    assert_eq!(net.recv(req).unwrap().body, "re:slow");
    insta::assert_snapshot!(net.trace_text());
}

// ---------------------------------------------------------------------------------------
// Model-based test
// ---------------------------------------------------------------------------------------

mod model {
    use super::*;
    use proptest::prelude::*;
    use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};

    #[derive(Clone, Debug)]
    enum Step {
        /// REQ sends the next numbered request.
        Send,
        /// REQ tries to receive the reply.
        RecvReply,
        /// REP `rep` answers what it has, if anything.
        ReplyIfPending { rep: usize },
        /// Virtual time passes.
        Tick { ms: u32 },
        /// The link to REP `rep` is cut and, if `reconnect`, made again.
        DisconnectReconnect { rep: usize, reconnect: bool },
        /// REP `rep`'s writes stop (or resume) being acknowledged.
        ToggleBlock { rep: usize },
        /// Everything reconnects and unblocks, both REPs answer all: the current request
        /// must then be answered.
        Settle,
    }

    #[derive(Clone, Debug, Default)]
    struct Model {
        /// Requests sent so far; the current one is number `sent - 1`.
        sent: u32,
    }

    struct RefMachine;

    impl ReferenceStateMachine for RefMachine {
        type State = Model;
        type Transition = Step;

        fn init_state() -> BoxedStrategy<Model> {
            Just(Model::default()).boxed()
        }

        fn transitions(_: &Model) -> BoxedStrategy<Step> {
            prop_oneof![
                3 => Just(Step::Send),
                3 => Just(Step::RecvReply),
                3 => (0..2usize).prop_map(|rep| Step::ReplyIfPending { rep }),
                2 => (0..90_000u32).prop_map(|ms| Step::Tick { ms }),
                1 => (0..2usize, any::<bool>())
                    .prop_map(|(rep, reconnect)| Step::DisconnectReconnect { rep, reconnect }),
                1 => (0..2usize).prop_map(|rep| Step::ToggleBlock { rep }),
                1 => Just(Step::Settle),
            ]
            .boxed()
        }

        fn apply(mut state: Model, step: &Step) -> Model {
            // Whether a reply gets delivered depends on the network; the system under test
            // tracks that itself (`Sut::delivered`) and checks it against this count.
            if let Step::Send = step {
                state.sent += 1;
            }
            state
        }
    }

    struct Sut {
        net: TestNet,
        req: NodeId,
        reps: [NodeId; 2],
        /// The REP-side pipe of each live link.
        links: [Option<PipeId>; 2],
        blocked: [bool; 2],
        delivered: bool,
        /// Replies the user received.
        delivered_total: u64,
    }

    impl Sut {
        fn connect(&mut self, rep: usize) {
            if self.links[rep].is_none() {
                let info = prio(rep as u8 + 1, 8);
                let (_, rp) = self
                    .net
                    .connect_with(self.req, info, self.reps[rep], PipeInfo::default())
                    .unwrap();
                self.links[rep] = Some(rp);
                self.blocked[rep] = false;
            }
        }

        fn check_recv(&mut self, model: &Model) {
            match self.net.recv(self.req) {
                Ok(m) => {
                    assert!(model.sent > 0, "reply without a request");
                    assert!(!self.delivered, "two replies for one request");
                    let expect = format!("re:q{}", model.sent - 1);
                    assert_eq!(m.body, expect.as_bytes(), "reply to the latest request");
                    self.delivered = true;
                    self.delivered_total += 1;
                }
                Err(RecvError::WrongState) => {
                    assert!(model.sent == 0 || self.delivered);
                }
                Err(RecvError::WouldBlock) => {
                    assert!(model.sent > 0 && !self.delivered);
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
    }

    struct ReqRepTest;

    impl StateMachineTest for ReqRepTest {
        type SystemUnderTest = Sut;
        type Reference = RefMachine;

        fn init_test(_: &Model) -> Sut {
            let mut net = TestNet::new();
            let req = net.add(Req::new(Config::cooked(77)));
            let reps = [
                net.add(Rep::new(Config::cooked(1))),
                net.add(Rep::new(Config::cooked(2))),
            ];
            let mut sut = Sut {
                net,
                req,
                reps,
                links: [None, None],
                blocked: [false; 2],
                delivered: false,
                delivered_total: 0,
            };
            sut.connect(0);
            sut.connect(1);
            sut
        }

        fn apply(mut sut: Sut, model: &Model, step: Step) -> Sut {
            match step {
                Step::Send => {
                    let body = format!("q{}", model.sent - 1);
                    sut.net.send(sut.req, body.into_bytes()).unwrap();
                    sut.delivered = false;
                }
                Step::RecvReply => sut.check_recv(model),
                Step::ReplyIfPending { rep } => {
                    if let Ok(m) = sut.net.recv(sut.reps[rep]) {
                        let mut body = b"re:".to_vec();
                        body.extend_from_slice(&m.body);
                        sut.net.send(sut.reps[rep], body).unwrap();
                    }
                }
                Step::Tick { ms } => sut.net.advance(Duration::from_millis(ms.into())),
                Step::DisconnectReconnect { rep, reconnect } => {
                    if let Some(p) = sut.links[rep].take() {
                        sut.net.disconnect(sut.reps[rep], p);
                    }
                    if reconnect {
                        sut.connect(rep);
                    }
                }
                Step::ToggleBlock { rep } => {
                    if let Some(p) = sut.links[rep] {
                        if sut.blocked[rep] {
                            sut.net.unblock(sut.reps[rep], p);
                        } else {
                            sut.net.block(sut.reps[rep], p);
                        }
                        sut.blocked[rep] = !sut.blocked[rep];
                    }
                }
                Step::Settle => {
                    for rep in 0..2 {
                        sut.connect(rep);
                        if let (true, Some(p)) = (sut.blocked[rep], sut.links[rep]) {
                            sut.net.unblock(sut.reps[rep], p);
                            sut.blocked[rep] = false;
                        }
                    }
                    while answer_all(&mut sut.net, sut.reps[0])
                        + answer_all(&mut sut.net, sut.reps[1])
                        > 0
                    {}
                    if model.sent > 0 && !sut.delivered {
                        let before = sut.delivered;
                        sut.check_recv(model);
                        assert!(!before && sut.delivered, "the current request is answered");
                    }
                }
            }
            sut
        }

        fn check_invariants(sut: &Sut, model: &Model) {
            let AnyProtocol::Req(req) = sut.net.proto(sut.req) else {
                unreachable!("node 0 is the REQ")
            };
            if model.sent == 0 || sut.delivered {
                assert!(!req.is_pending(ContextId::DEFAULT), "nothing outstanding");
            }
            assert_eq!(req.stats().delivered, sut.delivered_total);
            assert!(sut.delivered_total <= u64::from(model.sent));
        }
    }

    prop_state_machine! {
        #[test]
        fn req_rep_model(sequential 1..40 => ReqRepTest);
    }
}
