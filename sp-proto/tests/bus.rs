//! BUS behaviour (wire-facts §9, §14, §16.10): delivery to every directly connected peer
//! exactly once and never back to the sender, no header on the wire, raw headers naming
//! the source pipe, the raw reflector, and back-pressured pipes being skipped and counted.
//! Ends with a state-machine property test over a full mesh.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use sp_proto::proto::Bus;
use sp_proto::testing::{NodeId, TestNet};
use sp_proto::{Config, DropReason, Instant, Message, PipeId, PipeInfo, Protocol, SendErrorKind};

fn body_text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn full_mesh(net: &mut TestNet, n: usize) -> Vec<NodeId> {
    let nodes: Vec<_> = (0..n)
        .map(|i| net.add(Bus::new(Config::cooked(i as u64 + 1))))
        .collect();
    for i in 0..n {
        for j in i + 1..n {
            net.connect(nodes[i], nodes[j]).unwrap();
        }
    }
    nodes
}

#[test]
fn full_mesh_reaches_every_peer_once_and_never_echoes() {
    let mut net = TestNet::new();
    let nodes = full_mesh(&mut net, 4);
    for (i, &n) in nodes.iter().enumerate() {
        net.send(n, format!("from {i}").into_bytes()).unwrap();
    }
    for (i, &n) in nodes.iter().enumerate() {
        let got = sorted(net.recv_all(n).iter().map(body_text).collect());
        let expect: Vec<String> = (0..4)
            .filter(|&j| j != i)
            .map(|j| format!("from {j}"))
            .collect();
        assert_eq!(got, expect, "node {i}");
    }
    for &n in &nodes {
        assert_eq!(net.proto(n).stats().dropped_total(), 0);
    }
    // No header on the wire: every frame is just the body.
    assert_eq!(net.trace().len(), 12);
    assert!(net.trace().iter().all(|e| e.payload.starts_with(b"from ")));
}

#[test]
fn bus_does_not_forward() {
    // a - b - c in a line: a's message reaches b only.
    let mut net = TestNet::new();
    let a = net.add(Bus::new(Config::cooked(1)));
    let b = net.add(Bus::new(Config::cooked(2)));
    let c = net.add(Bus::new(Config::cooked(3)));
    net.connect(a, b).unwrap();
    net.connect(b, c).unwrap();
    net.send(a, "hello").unwrap();
    assert_eq!(net.recv_all(b), ["hello"]);
    assert!(net.recv_all(c).is_empty());
    assert!(net.recv_all(a).is_empty());
    net.send(b, "middle").unwrap();
    assert_eq!(net.recv_all(a), ["middle"]);
    assert_eq!(net.recv_all(c), ["middle"]);
}

#[test]
fn cooked_send_clears_the_header_and_send_with_no_pipe_succeeds() {
    let mut net = TestNet::new();
    let a = net.add(Bus::new(Config::cooked(1)));
    net.send(a, "into the void")
        .expect("best effort: no peers is not an error");
    assert_eq!(net.proto(a).stats().msgs_out, 0);
    let b = net.add(Bus::new(Config::cooked(2)));
    net.connect(a, b).unwrap();
    net.send(
        a,
        Message::with_header(&b"\x00\x00\x00\x01\x02"[..], &b"x"[..]),
    )
    .unwrap();
    assert_eq!(net.trace()[0].payload, "x");
    let got = net.recv(b).unwrap();
    assert!(got.header.is_empty(), "cooked receivers see no header");
}

/// A raw BUS hub with three cooked leaves; returns (net, hub, leaves, hub-side pipe per leaf).
fn raw_hub() -> (TestNet, NodeId, Vec<NodeId>, Vec<PipeId>) {
    let mut net = TestNet::new();
    let hub = net.add(Bus::new(Config::raw(1)));
    let leaves: Vec<_> = (0..3)
        .map(|i| net.add(Bus::new(Config::cooked(10 + i))))
        .collect();
    let pipes = leaves
        .iter()
        .map(|&l| net.connect(hub, l).unwrap().0)
        .collect();
    (net, hub, leaves, pipes)
}

#[test]
fn raw_recv_header_is_the_source_pipe_id() {
    let (mut net, hub, leaves, pipes) = raw_hub();
    for (i, &l) in leaves.iter().enumerate() {
        net.send(l, format!("leaf {i}").into_bytes()).unwrap();
    }
    let mut seen = BTreeMap::new();
    while let Ok(m) = net.recv(hub) {
        let id = u32::from_be_bytes(m.header[..].try_into().expect("4-byte header"));
        assert_eq!(Some(id), m.pipe.map(PipeId::get), "header = msg.pipe");
        seen.insert(body_text(&m.body), id);
    }
    let expect: BTreeMap<_, _> = (0..3)
        .map(|i| (format!("leaf {i}"), pipes[i].get()))
        .collect();
    assert_eq!(seen, expect);
}

#[test]
fn raw_reflector_sends_to_everyone_but_the_origin() {
    // nn_device(s, -1) / nng_device(s, NULL): recv on a raw BUS and send straight back.
    let (mut net, hub, leaves, _) = raw_hub();
    net.send(leaves[1], "news").unwrap();
    let m = net.recv(hub).unwrap();
    net.send(hub, m).unwrap();
    assert_eq!(net.recv_all(leaves[0]), ["news"]);
    assert_eq!(net.recv_all(leaves[2]), ["news"]);
    assert!(
        net.recv_all(leaves[1]).is_empty(),
        "never echoed to its origin"
    );
    assert_eq!(net.proto(hub).stats().dropped_total(), 0);
    // The header is local routing data: the reflected frames carry the body only.
    assert!(net.trace().iter().all(|e| e.payload == "news"));
}

#[test]
fn raw_send_header_rules() {
    let (mut net, hub, leaves, pipes) = raw_hub();
    let everyone = |net: &mut TestNet| -> Vec<usize> {
        leaves.iter().map(|&l| net.recv_all(l).len()).collect()
    };
    // Empty header: all pipes.
    net.send(hub, Message::from("all")).unwrap();
    assert_eq!(everyone(&mut net), [1, 1, 1]);
    // 4 bytes naming a pipe: all but that one.
    let skip_0 = Bytes::copy_from_slice(&pipes[0].get().to_be_bytes());
    net.send(hub, Message::with_header(skip_0, &b"x"[..]))
        .unwrap();
    assert_eq!(everyone(&mut net), [0, 1, 1]);
    // Longer headers: the first 4 bytes decide.
    let mut skip_2 = pipes[2].get().to_be_bytes().to_vec();
    skip_2.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    net.send(hub, Message::with_header(skip_2, &b"y"[..]))
        .unwrap();
    assert_eq!(everyone(&mut net), [1, 1, 0]);
    // An id that is no pipe of ours: nobody skipped.
    net.send(hub, Message::with_header(vec![0, 0, 0, 0], &b"z"[..]))
        .unwrap();
    assert_eq!(everyone(&mut net), [1, 1, 1]);
    // 1 to 3 bytes: refused, handed back.
    for len in 1..4 {
        let err = net
            .send(hub, Message::with_header(vec![0; len], &b"bad"[..]))
            .unwrap_err();
        assert_eq!(err.kind, SendErrorKind::BadHeader);
        assert_eq!(err.msg.header.len(), len);
    }
    assert_eq!(everyone(&mut net), [0, 0, 0]);
}

#[test]
fn backpressured_pipe_is_skipped_and_counted() {
    let mut net = TestNet::new();
    let a = net.add(Bus::new(Config::cooked(1)));
    let slow = net.add(Bus::new(Config::cooked(2)));
    let fast = net.add(Bus::new(Config::cooked(3)));
    let (to_slow, _) = net.connect(a, slow).unwrap();
    net.connect(a, fast).unwrap();
    net.block(a, to_slow);
    for i in 0..3 {
        net.send(a, format!("m{i}").into_bytes())
            .expect("BUS never blocks");
    }
    assert_eq!(net.recv_all(fast), ["m0", "m1", "m2"]);
    assert_eq!(
        net.in_flight(a, to_slow),
        1,
        "the first write holds the credit"
    );
    assert_eq!(net.proto(a).stats().dropped(DropReason::PipeBusy), 2);
    net.unblock(a, to_slow);
    assert_eq!(net.recv_all(slow), ["m0"], "the later ones were skipped");
    net.send(a, "m3").unwrap();
    assert_eq!(net.recv_all(slow), ["m3"], "writable again");
    assert_eq!(net.recv_all(fast), ["m3"]);
}

#[test]
fn slow_receiver_pauses_without_loss_and_the_sender_skips() {
    let mut net = TestNet::new();
    let mut cfg = Config::cooked(2);
    cfg.options.set_recv_queue(2).unwrap();
    let a = net.add(Bus::new(Config::cooked(1)));
    let b = net.add(Bus::new(cfg));
    net.connect(a, b).unwrap();
    for i in 0..5 {
        net.send(a, format!("{i}").into_bytes()).unwrap();
    }
    // 2 queued (then paused), 1 in the link, 2 skipped by the sender.
    assert_eq!(net.proto(a).stats().dropped(DropReason::PipeBusy), 2);
    assert_eq!(net.recv_all(b), ["0", "1", "2"]);
    assert_eq!(net.proto(b).stats().dropped_total(), 0);
}

#[test]
fn pipe_removal_and_unknown_pipes() {
    let now = Instant::ZERO;
    let p = |n| PipeId::new(n).unwrap();
    let mut bus = Bus::new(Config::cooked(1));
    bus.handle_pipe_added(now, p(1), PipeInfo::default())
        .unwrap();
    bus.handle_pipe_added(now, p(2), PipeInfo::default())
        .unwrap();
    bus.handle_message(now, p(1), Bytes::from_static(b"kept"));
    bus.handle_pipe_removed(now, p(1));
    bus.handle_message(now, p(1), Bytes::from_static(b"late"));
    bus.handle_message(now, p(9), Bytes::from_static(b"stranger"));
    assert_eq!(bus.stats().dropped(DropReason::PipeClosed), 2);
    assert_eq!(bus.recv(now).unwrap().body, "kept");
    bus.send(now, Message::from("out")).unwrap();
    let t = bus.poll_transmit().unwrap();
    assert_eq!(t.pipe, p(2));
    assert!(bus.poll_transmit().is_none());
}

// ---------------------------------------------------------------- state machine

/// The reference model of a full BUS mesh over TestNet (link capacity 1): per directed
/// link its block flag and the frame in flight, per receiver a FIFO per source.
#[derive(Clone, Debug)]
struct MeshModel {
    n: usize,
    /// Receive queue length per pipe.
    queue_len: usize,
    next_seq: u64,
    /// `blocked[i][j]`: writes from i to j are held.
    blocked: Vec<Vec<bool>>,
    /// `in_flight[i][j]`: the message from i to j sitting in the link.
    in_flight: Vec<Vec<Option<u64>>>,
    /// `queued[j][i]`: messages from i waiting at j.
    queued: Vec<Vec<VecDeque<u64>>>,
    /// PipeBusy drops per sender.
    busy: Vec<u64>,
    /// What the last `RecvAll` must return, per source.
    last_recv: Vec<Vec<u64>>,
}

#[derive(Clone, Debug)]
enum MeshStep {
    Send(usize),
    RecvAll(usize),
    Block(usize, usize),
    Unblock(usize, usize),
}

impl MeshModel {
    fn deliver_if_possible(&mut self, from: usize, to: usize) {
        if self.blocked[from][to] || self.queued[to][from].len() >= self.queue_len {
            return;
        }
        if let Some(seq) = self.in_flight[from][to].take() {
            self.queued[to][from].push_back(seq);
        }
    }
}

struct MeshRef;

impl ReferenceStateMachine for MeshRef {
    type State = MeshModel;
    type Transition = MeshStep;

    fn init_state() -> BoxedStrategy<MeshModel> {
        (3usize..=4, 1usize..=3)
            .prop_map(|(n, queue_len)| MeshModel {
                n,
                queue_len,
                next_seq: 0,
                blocked: vec![vec![false; n]; n],
                in_flight: vec![vec![None; n]; n],
                queued: vec![vec![VecDeque::new(); n]; n],
                busy: vec![0; n],
                last_recv: vec![Vec::new(); n],
            })
            .boxed()
    }

    fn transitions(state: &MeshModel) -> BoxedStrategy<MeshStep> {
        let n = state.n;
        let link = (0..n, 1..n).prop_map(move |(i, d)| (i, (i + d) % n));
        prop_oneof![
            4 => (0..n).prop_map(MeshStep::Send),
            2 => (0..n).prop_map(MeshStep::RecvAll),
            1 => link.clone().prop_map(|(i, j)| MeshStep::Block(i, j)),
            2 => link.prop_map(|(i, j)| MeshStep::Unblock(i, j)),
        ]
        .boxed()
    }

    fn preconditions(state: &MeshModel, t: &MeshStep) -> bool {
        match *t {
            MeshStep::Send(i) | MeshStep::RecvAll(i) => i < state.n,
            MeshStep::Block(i, j) | MeshStep::Unblock(i, j) => i < state.n && j < state.n && i != j,
        }
    }

    fn apply(mut s: MeshModel, t: &MeshStep) -> MeshModel {
        match *t {
            MeshStep::Send(i) => {
                let seq = s.next_seq;
                s.next_seq += 1;
                for j in (0..s.n).filter(|&j| j != i) {
                    if s.in_flight[i][j].is_some() {
                        s.busy[i] += 1;
                    } else {
                        s.in_flight[i][j] = Some(seq);
                        s.deliver_if_possible(i, j);
                    }
                }
            }
            MeshStep::RecvAll(j) => {
                for i in 0..s.n {
                    let mut got: Vec<u64> = s.queued[j][i].drain(..).collect();
                    if !s.blocked[i][j] {
                        got.extend(s.in_flight[i][j].take());
                    }
                    s.last_recv[i] = got;
                }
            }
            MeshStep::Block(i, j) => s.blocked[i][j] = true,
            MeshStep::Unblock(i, j) => {
                s.blocked[i][j] = false;
                s.deliver_if_possible(i, j);
            }
        }
        s
    }
}

struct MeshSut {
    net: TestNet,
    nodes: Vec<NodeId>,
    /// `pipe[i][j]`: node i's pipe to node j.
    pipe: Vec<Vec<Option<PipeId>>>,
}

struct MeshTest;

impl StateMachineTest for MeshTest {
    type SystemUnderTest = MeshSut;
    type Reference = MeshRef;

    fn init_test(model: &MeshModel) -> MeshSut {
        let mut net = TestNet::new();
        let nodes: Vec<_> = (0..model.n)
            .map(|i| {
                let mut cfg = Config::cooked(i as u64 + 1);
                cfg.options.set_recv_queue(model.queue_len).unwrap();
                net.add(Bus::new(cfg))
            })
            .collect();
        let mut pipe = vec![vec![None; model.n]; model.n];
        for i in 0..model.n {
            for j in i + 1..model.n {
                let (pi, pj) = net.connect(nodes[i], nodes[j]).unwrap();
                pipe[i][j] = Some(pi);
                pipe[j][i] = Some(pj);
            }
        }
        MeshSut { net, nodes, pipe }
    }

    fn apply(mut sut: MeshSut, model: &MeshModel, t: MeshStep) -> MeshSut {
        match t {
            MeshStep::Send(i) => {
                let body = format!("{i}:{}", model.next_seq - 1);
                sut.net.send(sut.nodes[i], body.into_bytes()).unwrap();
            }
            MeshStep::RecvAll(j) => {
                let mut by_source = vec![Vec::new(); model.n];
                for body in sut.net.recv_all(sut.nodes[j]) {
                    let text = body_text(&body);
                    let (src, seq) = text.split_once(':').unwrap();
                    let src: usize = src.parse().unwrap();
                    assert_ne!(src, j, "node {j} received its own message {text}");
                    by_source[src].push(seq.parse::<u64>().unwrap());
                }
                assert_eq!(by_source, model.last_recv, "node {j}: per-source delivery");
            }
            MeshStep::Block(i, j) => {
                let p = sut.pipe[i][j].unwrap();
                sut.net.block(sut.nodes[i], p);
            }
            MeshStep::Unblock(i, j) => {
                let p = sut.pipe[i][j].unwrap();
                sut.net.unblock(sut.nodes[i], p);
            }
        }
        sut
    }

    fn check_invariants(sut: &MeshSut, model: &MeshModel) {
        for i in 0..model.n {
            let stats = sut.net.proto(sut.nodes[i]).stats();
            assert_eq!(
                stats.dropped(DropReason::PipeBusy),
                model.busy[i],
                "node {i}"
            );
            assert_eq!(stats.dropped_total(), model.busy[i], "node {i}: only skips");
            for j in (0..model.n).filter(|&j| j != i) {
                let p = sut.pipe[i][j].unwrap();
                assert_eq!(
                    sut.net.in_flight(sut.nodes[i], p),
                    usize::from(model.in_flight[i][j].is_some()),
                    "link {i}->{j}"
                );
            }
        }
    }
}

prop_state_machine! {
    #[test]
    fn bus_mesh_matches_the_model(sequential 1..40 => MeshTest);
}
