//! Model-based test for PAIR v0 and v1: two peers exchanging sequenced messages over
//! TestNet while links are blocked, pipes cut and re-made, and third peers try to join.
//!
//! The reference model is exact: it tracks, per direction, the one frame the link can
//! hold, the receiver's queue (pausing the pipe when full) and what the user has read, so
//! it predicts every `send` outcome (accepted or would-block) and every delivery.
//! Invariants: nothing is lost or duplicated while the pipe lives; only the frame in
//! flight when a pipe is cut can be lost; a PAIR never has two peers.

use std::collections::{BTreeMap, VecDeque};

use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use sp_proto::proto::{Pair0, Pair1};
use sp_proto::testing::{NodeId, TestNet};
use sp_proto::{AnyProtocol, Config, PipeId, PipeRefused, Protocol, SendErrorKind};

/// One direction of the pair: the link's frame and a mirror of the receiver's fair queue
/// (one queue per connection; a cut connection's queue stays readable and is served
/// round-robin with the new one until empty).
#[derive(Clone, Debug)]
struct Direction {
    /// The frame the link holds (TestNet links carry one frame per direction).
    in_flight: Option<u64>,
    /// Receiver queues by connection generation.
    queues: BTreeMap<u32, VecDeque<u64>>,
    /// Non-empty queues in service order.
    ring: VecDeque<u32>,
    /// The current connection's generation.
    current: u32,
    /// The receiver paused the current pipe (its queue is full).
    paused: bool,
    /// The sender's writes are not acknowledged (slow peer).
    blocked: bool,
}

impl Direction {
    fn new() -> Self {
        Self {
            in_flight: None,
            queues: BTreeMap::from([(0, VecDeque::new())]),
            ring: VecDeque::new(),
            current: 0,
            paused: false,
            blocked: false,
        }
    }

    /// Moves the in-flight frame into the receiver's queue when the link allows.
    fn settle(&mut self, cap: usize) {
        if self.blocked || self.paused {
            return;
        }
        if let Some(m) = self.in_flight.take() {
            let q = self.queues.entry(self.current).or_default();
            if q.is_empty() {
                self.ring.push_back(self.current);
            }
            q.push_back(m);
            if q.len() >= cap {
                self.paused = true;
            }
        }
    }

    /// The receiver takes its next message.
    fn pop(&mut self, cap: usize) -> Option<u64> {
        let g = self.ring.pop_front()?;
        let q = self.queues.get_mut(&g)?;
        let m = q.pop_front()?;
        if q.is_empty() {
            if g != self.current {
                self.queues.remove(&g);
            }
        } else {
            self.ring.push_back(g);
        }
        if g == self.current && self.paused && self.queues[&g].len() < cap {
            self.paused = false;
        }
        Some(m)
    }

    fn cut(&mut self) {
        self.in_flight = None;
        self.paused = false;
        self.blocked = false;
        if self
            .queues
            .get(&self.current)
            .is_some_and(VecDeque::is_empty)
        {
            self.queues.remove(&self.current);
        }
        self.current += 1;
        self.queues.insert(self.current, VecDeque::new());
    }

    fn writable(&self) -> bool {
        self.in_flight.is_none()
    }
}

#[derive(Clone, Debug)]
struct Model {
    v1: bool,
    cap: usize,
    connected: bool,
    /// `dir[i]`: messages from side i to side 1 - i.
    dir: [Direction; 2],
    next_seq: u64,
    /// What the last `RecvAll(i)` must return.
    expect_recv: Vec<u64>,
    /// What the last `Send(i)` must return.
    expect_send_ok: bool,
}

#[derive(Clone, Debug)]
enum Step {
    Send(usize),
    RecvAll(usize),
    Block(usize),
    Unblock(usize),
    Cut,
    Reconnect,
    ThirdPeer(usize),
}

struct Ref;

impl ReferenceStateMachine for Ref {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        (any::<bool>(), 1usize..=3)
            .prop_map(|(v1, cap)| Model {
                v1,
                cap,
                connected: true,
                dir: [Direction::new(), Direction::new()],
                next_seq: 0,
                expect_recv: Vec::new(),
                expect_send_ok: false,
            })
            .boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Step> {
        prop_oneof![
            5 => (0..2usize).prop_map(Step::Send),
            3 => (0..2usize).prop_map(Step::RecvAll),
            1 => (0..2usize).prop_map(Step::Block),
            2 => (0..2usize).prop_map(Step::Unblock),
            1 => Just(Step::Cut),
            1 => Just(Step::Reconnect),
            1 => (0..2usize).prop_map(Step::ThirdPeer),
        ]
        .boxed()
    }

    fn preconditions(s: &Model, t: &Step) -> bool {
        match t {
            Step::Reconnect => !s.connected,
            Step::Cut | Step::Block(_) | Step::Unblock(_) => s.connected,
            _ => true,
        }
    }

    fn apply(mut s: Model, t: &Step) -> Model {
        let cap = s.cap;
        match *t {
            Step::Send(i) => {
                s.expect_send_ok = s.connected && s.dir[i].writable();
                if s.expect_send_ok {
                    s.dir[i].in_flight = Some(s.next_seq);
                    s.dir[i].settle(cap);
                }
                s.next_seq += 1;
            }
            Step::RecvAll(i) => {
                // Side i reads everything; as space frees, the link delivers its frame.
                let d = &mut s.dir[1 - i];
                let mut got = Vec::new();
                while let Some(m) = d.pop(cap) {
                    got.push(m);
                    d.settle(cap);
                }
                s.expect_recv = got;
            }
            Step::Block(i) => s.dir[i].blocked = true,
            Step::Unblock(i) => {
                s.dir[i].blocked = false;
                s.dir[i].settle(cap);
            }
            Step::Cut => {
                // The link's frames are lost; what reached a receiver's queue stays
                // readable.
                s.connected = false;
                for d in &mut s.dir {
                    d.cut();
                }
            }
            Step::Reconnect => s.connected = true,
            Step::ThirdPeer(_) => {}
        }
        s
    }
}

struct Sut {
    net: TestNet,
    side: [NodeId; 2],
    pipe: [Option<PipeId>; 2],
    v1: bool,
}

fn make(v1: bool, seed: u64, cap: usize) -> AnyProtocol {
    let mut cfg = Config::cooked(seed);
    cfg.options.set_recv_queue(cap).unwrap();
    if v1 {
        Pair1::new(cfg).into()
    } else {
        Pair0::new(cfg).into()
    }
}

struct PairTest;

impl StateMachineTest for PairTest {
    type SystemUnderTest = Sut;
    type Reference = Ref;

    fn init_test(m: &Model) -> Sut {
        let mut net = TestNet::new();
        let a = net.add(make(m.v1, 1, m.cap));
        let b = net.add(make(m.v1, 2, m.cap));
        let (pa, pb) = net.connect(a, b).unwrap();
        Sut {
            net,
            side: [a, b],
            pipe: [Some(pa), Some(pb)],
            v1: m.v1,
        }
    }

    fn apply(mut sut: Sut, m: &Model, t: Step) -> Sut {
        match t {
            Step::Send(i) => {
                let seq = m.next_seq - 1;
                let r = sut.net.send(sut.side[i], seq.to_be_bytes().to_vec());
                match r {
                    Ok(()) => assert!(
                        m.expect_send_ok,
                        "send {seq} from {i} accepted, model says busy"
                    ),
                    Err(e) => {
                        assert_eq!(e.kind, SendErrorKind::WouldBlock);
                        assert!(
                            !m.expect_send_ok,
                            "send {seq} from {i} refused, model says writable"
                        );
                    }
                }
            }
            Step::RecvAll(i) => {
                let got: Vec<u64> = sut
                    .net
                    .recv_all(sut.side[i])
                    .iter()
                    .map(|b| u64::from_be_bytes(b[..].try_into().unwrap()))
                    .collect();
                assert_eq!(got, m.expect_recv, "side {i} received");
            }
            Step::Block(i) => sut.net.block(sut.side[i], sut.pipe[i].unwrap()),
            Step::Unblock(i) => sut.net.unblock(sut.side[i], sut.pipe[i].unwrap()),
            Step::Cut => {
                sut.net.disconnect(sut.side[0], sut.pipe[0].unwrap());
                sut.pipe = [None, None];
            }
            Step::Reconnect => {
                let (pa, pb) = sut.net.connect(sut.side[0], sut.side[1]).unwrap();
                sut.pipe = [Some(pa), Some(pb)];
            }
            Step::ThirdPeer(i) => {
                let third = sut.net.add(make(sut.v1, 99, 1));
                let r = sut.net.connect(third, sut.side[i]);
                if m.connected {
                    assert_eq!(r.unwrap_err(), PipeRefused::Busy, "a PAIR takes one peer");
                } else {
                    // With no peer, the newcomer is accepted; take it away again so the
                    // model's two sides stay the only peers.
                    let (p3, _) = r.expect("a PAIR without a peer accepts one");
                    sut.net.disconnect(third, p3);
                }
            }
        }
        sut
    }

    fn check_invariants(sut: &Sut, m: &Model) {
        for i in 0..2 {
            assert_eq!(
                sut.net.pipes(sut.side[i]).len(),
                usize::from(m.connected),
                "side {i} pipes"
            );
            if let Some(p) = sut.pipe[i] {
                assert_eq!(
                    sut.net.in_flight(sut.side[i], p),
                    usize::from(m.dir[i].in_flight.is_some()),
                    "link from side {i}"
                );
            }
            assert_eq!(
                sut.net.proto(sut.side[i]).stats().dropped_total(),
                0,
                "side {i} drops nothing"
            );
        }
    }
}

prop_state_machine! {
    #[test]
    fn pair_matches_the_model(sequential 1..50 => PairTest);
}
