//! PUB/SUB behaviour (wire-facts §8, §16.14, §18; DESIGN.md "Subscriptions"): prefix
//! filtering at the subscriber, set semantics, best-effort fan-out sharing one buffer,
//! drop counting on both sides, raw SUB, and a model-based test of delivery.

mod common;

use common::pipe;
use std::collections::{BTreeSet, VecDeque};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::sample::select;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use sp_proto::proto::sub::NotSubscribed;
use sp_proto::proto::{Pub, Sub};
use sp_proto::testing::{NodeId, TestNet};
use sp_proto::wire::frame::{encode_frame, FrameFormat};
use sp_proto::{
    AnyProtocol, Config, DropReason, Instant, Message, PipeInfo, Protocol, RecvError, SendErrorKind,
};

fn sub(net: &mut TestNet, n: NodeId) -> &mut Sub {
    match net.proto_mut(n) {
        AnyProtocol::Sub(s) => s,
        other => panic!("node {n:?} is not a SUB: {other:?}"),
    }
}

fn publish_all(net: &mut TestNet, publisher: NodeId, bodies: &[&'static str]) {
    for &b in bodies {
        net.send(publisher, b).unwrap();
    }
}

/// One PUB connected to `n` cooked SUBs.
fn star(n: usize) -> (TestNet, NodeId, Vec<NodeId>) {
    let mut net = TestNet::new();
    let publisher = net.add(Pub::new(Config::cooked(1)));
    let subs: Vec<_> = (0..n)
        .map(|i| net.add(Sub::new(Config::cooked(10 + i as u64))))
        .collect();
    for &s in &subs {
        net.connect(publisher, s).unwrap();
    }
    (net, publisher, subs)
}

#[test]
fn topic_is_a_plain_body_prefix() {
    let (mut net, publisher, subs) = star(1);
    let s = subs[0];
    assert!(sub(&mut net, s).subscribe("news"));
    publish_all(
        &mut net,
        publisher,
        &[
            "news",
            "news.sport",
            "newspaper",
            "new",
            "xnews",
            "NEWS",
            "",
        ],
    );
    assert_eq!(
        net.recv_all(s),
        ["news", "news.sport", "newspaper"],
        "no separator: any body starting with the topic bytes"
    );
    assert_eq!(net.proto(s).stats().dropped(DropReason::Unsubscribed), 4);
}

#[test]
fn new_sub_receives_nothing_and_empty_topic_receives_everything() {
    let (mut net, publisher, subs) = star(2);
    let (quiet, all) = (subs[0], subs[1]);
    sub(&mut net, all).subscribe("");
    publish_all(&mut net, publisher, &["a", "", "\u{0}binary"]);
    assert!(
        net.recv_all(quiet).is_empty(),
        "no subscription, no message"
    );
    assert_eq!(
        net.proto(quiet).stats().dropped(DropReason::Unsubscribed),
        3
    );
    assert_eq!(net.recv_all(all), ["a", "", "\u{0}binary"]);
    assert_eq!(net.proto(all).stats().dropped_total(), 0);
}

#[test]
fn subscriptions_are_a_set() {
    let (mut net, publisher, subs) = star(1);
    let s = subs[0];
    assert!(sub(&mut net, s).subscribe("t"));
    assert!(
        !sub(&mut net, s).subscribe(b"t"),
        "second subscribe is a no-op"
    );
    assert!(sub(&mut net, s).subscribe(Bytes::from_static(b"tea")));
    net.send(publisher, "tea").unwrap();
    assert_eq!(net.recv_all(s), ["tea"], "overlapping topics deliver once");
    assert_eq!(sub(&mut net, s).unsubscribe("t"), Ok(()));
    assert_eq!(
        sub(&mut net, s).unsubscribe("t"),
        Err(NotSubscribed),
        "one unsubscribe removed it"
    );
    publish_all(&mut net, publisher, &["tx", "teapot"]);
    assert_eq!(net.recv_all(s), ["teapot"]);
    let topics: Vec<Vec<u8>> = sub(&mut net, s).subscriptions().iter().collect();
    assert_eq!(topics, [b"tea".to_vec()]);
}

#[test]
fn shrinking_the_subscriptions_keeps_them() {
    let (mut net, publisher, subs) = star(1);
    let s = subs[0];
    for i in 0..1000 {
        sub(&mut net, s).subscribe(format!("t.{i}."));
    }
    for i in 0..1000 {
        if i % 3 != 0 {
            sub(&mut net, s).unsubscribe(format!("t.{i}.")).unwrap();
        }
    }
    let before = sub(&mut net, s).subscriptions().clone();
    sub(&mut net, s).shrink_subscriptions();
    assert_eq!(sub(&mut net, s).subscriptions(), &before);
    assert!(sub(&mut net, s).subscriptions().approx_memory_bytes() <= before.approx_memory_bytes());
    publish_all(&mut net, publisher, &["t.3.x", "t.4.x", "t.999.", "t.99"]);
    assert_eq!(net.recv_all(s), ["t.3.x", "t.999."]);
}

#[test]
fn unsubscribing_an_unknown_topic_is_an_error() {
    let mut s = Sub::new(Config::cooked(1));
    assert_eq!(s.unsubscribe("never"), Err(NotSubscribed));
    s.subscribe("abc");
    assert_eq!(
        s.unsubscribe("ab"),
        Err(NotSubscribed),
        "a prefix is not a topic"
    );
    assert_eq!(s.unsubscribe("abcd"), Err(NotSubscribed));
    assert_eq!(s.subscriptions().len(), 1);
}

#[test]
fn fan_out_shares_one_buffer_across_pipes() {
    let now = Instant::ZERO;
    let mut p = Pub::new(Config::cooked(1));
    for id in [3, 1, 2] {
        p.handle_pipe_added(now, pipe(id), PipeInfo::default())
            .unwrap();
    }
    let body = Bytes::from(b"one buffer".to_vec());
    p.send(now, Message::new(body.clone())).unwrap();
    let out: Vec<_> = std::iter::from_fn(|| p.poll_transmit()).collect();
    assert_eq!(
        out.iter().map(|t| t.pipe.get()).collect::<Vec<_>>(),
        [1, 2, 3],
        "every pipe, in pipe-id order"
    );
    for t in &out {
        assert_eq!(t.msg.body.as_ptr(), body.as_ptr(), "a refcount, not a copy");
        assert_eq!(t.msg.body, body);
        assert!(t.msg.header.is_empty(), "no SP header");
    }
    assert_eq!(p.stats().msgs_out, 3);
    assert_eq!(p.stats().dropped_total(), 0);
}

#[test]
fn fan_out_reaches_every_subscriber() {
    let (mut net, publisher, subs) = star(4);
    for &s in &subs {
        sub(&mut net, s).subscribe("");
    }
    publish_all(&mut net, publisher, &["m1", "m2"]);
    for &s in &subs {
        assert_eq!(net.recv_all(s), ["m1", "m2"]);
    }
}

#[test]
fn busy_subscriber_pipe_is_skipped_and_counted() {
    let (mut net, publisher, subs) = star(2);
    for &s in &subs {
        sub(&mut net, s).subscribe("");
    }
    let slow_pipe = net.pipes(publisher)[0];
    net.block(publisher, slow_pipe);
    publish_all(&mut net, publisher, &["a", "b", "c"]);
    // "a" went into the slow link; "b" and "c" found the pipe busy.
    assert_eq!(
        net.proto(publisher).stats().dropped(DropReason::PipeBusy),
        2
    );
    let got: Vec<Vec<Bytes>> = subs.iter().map(|&s| net.recv_all(s)).collect();
    assert!(
        got.contains(&vec![Bytes::from("a"), Bytes::from("b"), Bytes::from("c")]),
        "the fast subscriber got everything: {got:?}"
    );
    assert!(got.contains(&vec![]), "the slow one nothing yet: {got:?}");
    net.unblock(publisher, slow_pipe);
    let late: Vec<Vec<Bytes>> = subs.iter().map(|&s| net.recv_all(s)).collect();
    assert!(
        late.contains(&vec![Bytes::from("a")]),
        "only the message accepted before it got busy: {late:?}"
    );
    net.send(publisher, "d").unwrap();
    for &s in &subs {
        assert_eq!(net.recv_all(s), ["d"], "writable again after unblock");
    }
}

#[test]
fn messages_published_before_connect_are_lost() {
    let mut net = TestNet::new();
    let publisher = net.add(Pub::new(Config::cooked(1)));
    let s = net.add(Sub::new(Config::cooked(2)));
    sub(&mut net, s).subscribe("");
    net.send(publisher, "too early")
        .expect("PUB send never fails");
    assert_eq!(
        net.proto(publisher).stats().dropped_total(),
        0,
        "nobody missed it"
    );
    assert_eq!(net.proto(publisher).stats().msgs_out, 0);
    net.connect(publisher, s).unwrap();
    net.send(publisher, "on time").unwrap();
    assert_eq!(net.recv_all(s), ["on time"]);
}

fn overflow(prefer_new: bool) -> (Vec<Bytes>, u64) {
    let mut net = TestNet::new();
    let publisher = net.add(Pub::new(Config::cooked(1)));
    let mut cfg = Config::cooked(2);
    cfg.options.set_recv_queue(2).unwrap();
    cfg.options.sub_prefer_new = prefer_new;
    let s = net.add(Sub::new(cfg));
    net.connect(publisher, s).unwrap();
    sub(&mut net, s).subscribe("m");
    publish_all(&mut net, publisher, &["m0", "m1", "m2", "m3", "m4"]);
    assert!(
        net.take_events(s).is_empty(),
        "a SUB never pauses its publisher"
    );
    assert_eq!(net.proto(publisher).stats().dropped_total(), 0);
    let got = net.recv_all(s);
    (got, net.proto(s).stats().dropped(DropReason::QueueFull))
}

#[test]
fn full_sub_queue_drops_oldest_by_default() {
    assert!(sp_proto::Options::default().sub_prefer_new);
    assert_eq!(
        overflow(true),
        (vec![Bytes::from("m3"), Bytes::from("m4")], 3)
    );
}

#[test]
fn full_sub_queue_drops_newest_when_asked() {
    assert_eq!(
        overflow(false),
        (vec![Bytes::from("m0"), Bytes::from("m1")], 3)
    );
}

#[test]
fn overflow_policy_follows_set_options() {
    let now = Instant::ZERO;
    let mut s = Sub::new(Config::cooked(1));
    s.handle_pipe_added(now, pipe(1), PipeInfo::default())
        .unwrap();
    s.subscribe("");
    let mut opts = s.options().clone();
    opts.set_recv_queue(1).unwrap();
    opts.sub_prefer_new = false;
    s.set_options(opts);
    s.handle_message(now, pipe(1), Bytes::from_static(b"first"));
    s.handle_message(now, pipe(1), Bytes::from_static(b"second"));
    assert_eq!(s.recv(now).unwrap().body, "first");
    assert_eq!(s.stats().dropped(DropReason::QueueFull), 1);
}

#[test]
fn data_sent_to_pub_is_counted_and_ignored() {
    let now = Instant::ZERO;
    let mut p = Pub::new(Config::cooked(1));
    p.handle_pipe_added(now, pipe(9), PipeInfo::default())
        .unwrap();
    p.handle_message(now, pipe(9), Bytes::from_static(b"rogue"));
    p.handle_message(now, pipe(4), Bytes::from_static(b"unknown pipe"));
    assert_eq!(p.stats().dropped(DropReason::UnexpectedData), 2);
    assert_eq!(p.stats().msgs_in, 2);
    assert_eq!(p.recv(now), Err(RecvError::NotSupported));
    assert!(p.poll_transmit().is_none());
    assert!(p.poll_event().is_none());
    // The pipe still works.
    p.send(now, Message::from("still up")).unwrap();
    assert_eq!(p.poll_transmit().unwrap().pipe, pipe(9));

    let mut s = Sub::new(Config::cooked(1));
    let err = s.send(now, Message::from("x")).unwrap_err();
    assert_eq!(err.kind, SendErrorKind::NotSupported);
    assert_eq!(err.msg.body, "x");
    assert!(s.poll_transmit().is_none(), "a SUB never sends anything");
}

#[test]
fn raw_sub_passes_everything_and_raw_pub_is_plain() {
    let mut net = TestNet::new();
    let publisher = net.add(Pub::new(Config::raw(1)));
    let s = net.add(Sub::new(Config::raw(2)));
    assert!(net.proto(publisher).is_raw() && net.proto(s).is_raw());
    net.connect(publisher, s).unwrap();
    publish_all(&mut net, publisher, &["anything", ""]);
    assert_eq!(
        net.recv_all(s),
        ["anything", ""],
        "no subscription needed (NNG's raw SUB)"
    );
    sub(&mut net, s).subscribe("zzz");
    net.send(publisher, "other").unwrap();
    assert_eq!(
        net.recv_all(s),
        ["other"],
        "topics are not used in raw mode"
    );
    assert_eq!(net.proto(s).stats().dropped_total(), 0);
}

#[test]
fn delivered_messages_carry_their_pipe() {
    let mut net = TestNet::new();
    let a = net.add(Pub::new(Config::cooked(1)));
    let b = net.add(Pub::new(Config::cooked(2)));
    let s = net.add(Sub::new(Config::cooked(3)));
    let (_, from_a) = net.connect(a, s).unwrap();
    let (_, from_b) = net.connect(b, s).unwrap();
    sub(&mut net, s).subscribe("");
    net.send(a, "from a").unwrap();
    net.send(b, "from b").unwrap();
    let m1 = net.recv(s).unwrap();
    let m2 = net.recv(s).unwrap();
    let mut got = [(m1.body, m1.pipe), (m2.body, m2.pipe)];
    got.sort();
    assert_eq!(
        got,
        [
            (Bytes::from("from a"), Some(from_a)),
            (Bytes::from("from b"), Some(from_b))
        ]
    );
}

#[test]
fn wire_bytes_match_section_18() {
    let now = Instant::ZERO;
    let mut p = Pub::new(Config::cooked(1));
    p.handle_pipe_added(now, pipe(1), PipeInfo::default())
        .unwrap();
    p.send(now, Message::from("topic.x")).unwrap();
    let t = p.poll_transmit().unwrap();
    let mut frame = BytesMut::new();
    encode_frame(FrameFormat::Tcp, &t.msg.header, &t.msg.body, &mut frame);
    assert_eq!(
        sp_proto::fmt::hex(&frame),
        "00 00 00 00 00 00 00 07 74 6f 70 69 63 2e 78",
        "length, then the body; no SP header"
    );
    // And the SUB side takes the same payload as is.
    let mut s = Sub::new(Config::cooked(2));
    s.handle_pipe_added(now, pipe(5), PipeInfo::default())
        .unwrap();
    s.subscribe("topic.");
    s.handle_message(now, pipe(5), Bytes::copy_from_slice(&frame[8..]));
    let m = s.recv(now).unwrap();
    assert_eq!(
        (m.body, m.header.len(), m.pipe),
        (Bytes::from("topic.x"), 0, Some(pipe(5)))
    );
}

#[test]
fn pubsub_wire_trace() {
    let (mut net, publisher, subs) = star(2);
    sub(&mut net, subs[0]).subscribe("a");
    sub(&mut net, subs[1]).subscribe("");
    net.send(publisher, "a1").unwrap();
    net.advance(std::time::Duration::from_millis(5));
    net.send(publisher, "b2").unwrap();
    assert_eq!(net.recv_all(subs[0]), ["a1"]);
    assert_eq!(net.recv_all(subs[1]), ["a1", "b2"]);
    insta::assert_snapshot!(net.trace_text());
}

// ---------------------------------------------------------------------------------------
// Model-based test: one PUB, three SUBs.

const SUBS: usize = 3;
const QUEUE: usize = 3;

#[derive(Clone, Debug)]
struct SubModel {
    prefer_new: bool,
    connected: bool,
    topics: BTreeSet<Vec<u8>>,
    queue: VecDeque<Vec<u8>>,
    unsubscribed: u64,
    overflowed: u64,
    /// Everything `recv` returned so far, in order.
    delivered: Vec<Vec<u8>>,
}

#[derive(Clone, Debug)]
struct Model {
    subs: Vec<SubModel>,
    /// What the last subscribe/unsubscribe must have returned (newly added / was there).
    last_result: bool,
}

#[derive(Clone, Debug)]
enum Step {
    Connect(usize),
    Subscribe(usize, Vec<u8>),
    Unsubscribe(usize, Vec<u8>),
    Publish(Vec<u8>),
    Recv(usize),
}

fn short_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(select(b"ab".to_vec()), 0..=max)
}

fn topic() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![1 => Just(Vec::new()), 6 => proptest::collection::vec(select(b"ab".to_vec()), 1..=3)]
}

struct PubSubModel;

impl ReferenceStateMachine for PubSubModel {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        proptest::collection::vec(any::<bool>(), SUBS)
            .prop_map(|prefs| Model {
                subs: prefs
                    .into_iter()
                    .map(|prefer_new| SubModel {
                        prefer_new,
                        connected: false,
                        topics: BTreeSet::new(),
                        queue: VecDeque::new(),
                        unsubscribed: 0,
                        overflowed: 0,
                        delivered: Vec::new(),
                    })
                    .collect(),
                last_result: false,
            })
            .boxed()
    }

    fn transitions(_state: &Model) -> BoxedStrategy<Step> {
        let s = 0..SUBS;
        prop_oneof![
            1 => s.clone().prop_map(Step::Connect),
            3 => (s.clone(), topic()).prop_map(|(i, t)| Step::Subscribe(i, t)),
            2 => (s.clone(), topic()).prop_map(|(i, t)| Step::Unsubscribe(i, t)),
            5 => short_bytes(4).prop_map(Step::Publish),
            3 => s.prop_map(Step::Recv),
        ]
        .boxed()
    }

    fn apply(mut state: Model, step: &Step) -> Model {
        match step {
            Step::Connect(i) => state.subs[*i].connected = true,
            Step::Subscribe(i, t) => {
                state.last_result = state.subs[*i].topics.insert(t.clone());
            }
            Step::Unsubscribe(i, t) => {
                state.last_result = state.subs[*i].topics.remove(t);
            }
            Step::Publish(body) => {
                for s in state.subs.iter_mut().filter(|s| s.connected) {
                    if !s.topics.iter().any(|t| body.starts_with(t)) {
                        s.unsubscribed += 1;
                    } else if s.queue.len() < QUEUE {
                        s.queue.push_back(body.clone());
                    } else {
                        s.overflowed += 1;
                        if s.prefer_new {
                            s.queue.pop_front();
                            s.queue.push_back(body.clone());
                        }
                    }
                }
            }
            Step::Recv(i) => {
                let s = &mut state.subs[*i];
                if let Some(m) = s.queue.pop_front() {
                    s.delivered.push(m);
                }
            }
        }
        state
    }

    fn preconditions(state: &Model, step: &Step) -> bool {
        match step {
            Step::Connect(i) => !state.subs[*i].connected,
            _ => true,
        }
    }
}

struct PubSubTest {
    net: TestNet,
    publisher: NodeId,
    subs: Vec<NodeId>,
    delivered: Vec<Vec<Vec<u8>>>,
}

impl StateMachineTest for PubSubModel {
    type SystemUnderTest = PubSubTest;
    type Reference = Self;

    fn init_test(model: &Model) -> PubSubTest {
        let mut net = TestNet::new();
        let publisher = net.add(Pub::new(Config::cooked(1)));
        let subs = model
            .subs
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let mut cfg = Config::cooked(10 + i as u64);
                cfg.options.set_recv_queue(QUEUE).unwrap();
                cfg.options.sub_prefer_new = m.prefer_new;
                net.add(Sub::new(cfg))
            })
            .collect();
        PubSubTest {
            net,
            publisher,
            subs,
            delivered: vec![Vec::new(); SUBS],
        }
    }

    fn apply(mut sut: PubSubTest, model: &Model, step: Step) -> PubSubTest {
        let net = &mut sut.net;
        match step {
            Step::Connect(i) => {
                net.connect(sut.publisher, sut.subs[i]).unwrap();
            }
            Step::Subscribe(i, t) => {
                let added = sub(net, sut.subs[i]).subscribe(&t);
                assert_eq!(added, model.last_result, "subscribe {t:?}");
            }
            Step::Unsubscribe(i, t) => {
                let r = sub(net, sut.subs[i]).unsubscribe(&t);
                let want = if model.last_result {
                    Ok(())
                } else {
                    Err(NotSubscribed)
                };
                assert_eq!(r, want, "unsubscribe {t:?}");
            }
            Step::Publish(body) => {
                net.send(sut.publisher, body).expect("PUB send never fails");
            }
            Step::Recv(i) => match net.recv(sut.subs[i]) {
                Ok(m) => {
                    assert!(m.pipe.is_some());
                    sut.delivered[i].push(m.body.to_vec());
                }
                Err(e) => assert_eq!(e, RecvError::WouldBlock),
            },
        }
        sut
    }

    fn check_invariants(sut: &PubSubTest, model: &Model) {
        assert_eq!(sut.net.proto(sut.publisher).stats().dropped_total(), 0);
        for (i, m) in model.subs.iter().enumerate() {
            let AnyProtocol::Sub(s) = sut.net.proto(sut.subs[i]) else {
                unreachable!()
            };
            let topics: BTreeSet<Vec<u8>> = s.subscriptions().iter().collect();
            assert_eq!(topics, m.topics);
            assert_eq!(s.queued(), m.queue.len(), "sub {i}");
            assert_eq!(s.stats().dropped(DropReason::Unsubscribed), m.unsubscribed);
            assert_eq!(s.stats().dropped(DropReason::QueueFull), m.overflowed);
            assert_eq!(
                sut.delivered[i], m.delivered,
                "sub {i}: exactly what matched, in order"
            );
        }
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { max_shrink_iters: 4096, ..ProptestConfig::default() })]
    #[test]
    fn subs_deliver_exactly_what_matched_on_arrival(sequential 1..40 => PubSubModel);
}
