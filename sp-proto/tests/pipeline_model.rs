//! A state-machine property test of PUSH/PULL over [`TestNet`] against a reference model
//! (wire-facts §11, §12): one PUSH, 2 to 4 PULLs with random send priorities, and random
//! sends, receives, link blocks/unblocks, disconnects and reconnects.
//!
//! The model includes the network (link capacity 1: one frame in flight per pipe), the
//! PUSH's priority ring (strict priority, round-robin within a level, a pipe rejoining at
//! the back when it becomes writable again) and each PULL's fair queue over its current and
//! already-removed pipes. It checks that every message is received at most once, that
//! nothing is lost while its pipe is alive (sent = received + queued + in flight + lost
//! with a cut link), and that PUSH never picks a lower-priority pipe while a higher one is
//! writable.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use sp_proto::proto::{Pull, Push};
use sp_proto::testing::{NodeId, TestNet};
use sp_proto::{Config, PipeId, PipeInfo, Priority, Protocol, RecvError, SendErrorKind};

/// One PULL as the model sees it.
#[derive(Clone, Debug)]
struct PullModel {
    /// Send priority of PUSH's pipe to this PULL (kept across reconnects).
    prio: u8,
    connected: bool,
    /// PUSH's writes on this pipe are held (the PULL is slow).
    blocked: bool,
    /// The frame in the link from PUSH.
    in_flight: Option<u64>,
    /// The PULL's receive queue per connection generation (a removed pipe's messages stay
    /// deliverable until read).
    queues: BTreeMap<u32, VecDeque<u64>>,
    /// Generations with messages, in fair-queue order.
    fair: VecDeque<u32>,
    /// The generation of the current (or last) connection.
    generation: u32,
}

impl PullModel {
    fn current_len(&self) -> usize {
        self.queues.get(&self.generation).map_or(0, VecDeque::len)
    }

    fn writable(&self) -> bool {
        self.connected && self.in_flight.is_none()
    }
}

/// The outcome of the last send, for the SUT to compare with.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SendOutcome {
    /// The PULL that got the message (`None`: `WouldBlock`).
    recipient: Option<usize>,
    /// The PULLs that were writable just before the send.
    writable_before: Vec<usize>,
}

#[derive(Clone, Debug)]
struct PipelineModel {
    queue_len: usize,
    pulls: Vec<PullModel>,
    /// PUSH's writable pipes per priority level, in round-robin order.
    ring: BTreeMap<u8, VecDeque<usize>>,
    next_seq: u64,
    received: u64,
    lost: u64,
    last_send: Option<SendOutcome>,
    last_recv: Option<u64>,
}

#[derive(Clone, Debug)]
enum Step {
    Send,
    Recv(usize),
    Block(usize),
    Unblock(usize),
    Disconnect(usize),
    Reconnect(usize),
}

impl PipelineModel {
    fn activate(&mut self, k: usize) {
        self.ring
            .entry(self.pulls[k].prio)
            .or_default()
            .push_back(k);
    }

    fn take(&mut self) -> Option<usize> {
        let (_, level) = self.ring.iter_mut().find(|(_, l)| !l.is_empty())?;
        level.pop_front()
    }

    fn forget(&mut self, k: usize) {
        for level in self.ring.values_mut() {
            level.retain(|&p| p != k);
        }
    }

    /// Moves PULL `k`'s in-flight frame into its queue if the link and the PULL allow it;
    /// PUSH's pipe is then writable again.
    fn deliver_if_possible(&mut self, k: usize) {
        let queue_len = self.queue_len;
        let pull = &mut self.pulls[k];
        if !pull.connected || pull.blocked || pull.current_len() >= queue_len {
            return;
        }
        let Some(seq) = pull.in_flight.take() else {
            return;
        };
        let generation = pull.generation;
        pull.queues.entry(generation).or_default().push_back(seq);
        if !pull.fair.contains(&generation) {
            pull.fair.push_back(generation);
        }
        self.activate(k);
    }

    fn queued(&self) -> u64 {
        self.pulls
            .iter()
            .flat_map(|p| p.queues.values())
            .map(|q| q.len() as u64)
            .sum()
    }

    fn in_flight(&self) -> u64 {
        self.pulls.iter().filter(|p| p.in_flight.is_some()).count() as u64
    }
}

struct PipelineRef;

impl ReferenceStateMachine for PipelineRef {
    type State = PipelineModel;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<PipelineModel> {
        (prop::collection::vec(1u8..=3, 2..=4), 1usize..=3)
            .prop_map(|(prios, queue_len)| {
                let pulls: Vec<PullModel> = prios
                    .iter()
                    .map(|&prio| PullModel {
                        prio,
                        connected: true,
                        blocked: false,
                        in_flight: None,
                        queues: BTreeMap::from([(0, VecDeque::new())]),
                        fair: VecDeque::new(),
                        generation: 0,
                    })
                    .collect();
                let mut m = PipelineModel {
                    queue_len,
                    pulls,
                    ring: BTreeMap::new(),
                    next_seq: 0,
                    received: 0,
                    lost: 0,
                    last_send: None,
                    last_recv: None,
                };
                for k in 0..m.pulls.len() {
                    m.activate(k);
                }
                m
            })
            .boxed()
    }

    fn transitions(state: &PipelineModel) -> BoxedStrategy<Step> {
        let n = state.pulls.len();
        let (up, down): (Vec<usize>, Vec<usize>) = (0..n).partition(|&k| state.pulls[k].connected);
        let mut steps = vec![
            (5, Just(Step::Send).boxed()),
            (4, (0..n).prop_map(Step::Recv).boxed()),
            (1, (0..n).prop_map(Step::Block).boxed()),
            (2, (0..n).prop_map(Step::Unblock).boxed()),
        ];
        if !up.is_empty() {
            steps.push((
                1,
                prop::sample::select(up).prop_map(Step::Disconnect).boxed(),
            ));
        }
        if !down.is_empty() {
            steps.push((
                2,
                prop::sample::select(down).prop_map(Step::Reconnect).boxed(),
            ));
        }
        prop::strategy::Union::new_weighted(steps).boxed()
    }

    fn preconditions(state: &PipelineModel, t: &Step) -> bool {
        match *t {
            Step::Send => true,
            Step::Recv(k) | Step::Block(k) | Step::Unblock(k) => k < state.pulls.len(),
            // Shrinking may drop the step that made these meaningful.
            Step::Disconnect(k) => state.pulls.get(k).is_some_and(|p| p.connected),
            Step::Reconnect(k) => state.pulls.get(k).is_some_and(|p| !p.connected),
        }
    }

    fn apply(mut s: PipelineModel, t: &Step) -> PipelineModel {
        s.last_send = None;
        s.last_recv = None;
        match *t {
            Step::Send => {
                let writable_before: Vec<usize> = (0..s.pulls.len())
                    .filter(|&k| s.pulls[k].writable())
                    .collect();
                let recipient = s.take();
                if let Some(k) = recipient {
                    s.pulls[k].in_flight = Some(s.next_seq);
                    s.next_seq += 1;
                    s.deliver_if_possible(k);
                }
                s.last_send = Some(SendOutcome {
                    recipient,
                    writable_before,
                });
            }
            Step::Recv(k) => {
                let pull = &mut s.pulls[k];
                if let Some(generation) = pull.fair.pop_front() {
                    let queue = pull.queues.entry(generation).or_default();
                    s.last_recv = queue.pop_front();
                    if !queue.is_empty() {
                        pull.fair.push_back(generation);
                    } else if generation != pull.generation || !pull.connected {
                        pull.queues.remove(&generation);
                    }
                    s.received += 1;
                    s.deliver_if_possible(k);
                }
            }
            Step::Block(k) => {
                if s.pulls[k].connected {
                    s.pulls[k].blocked = true;
                }
            }
            Step::Unblock(k) => {
                if s.pulls[k].connected {
                    s.pulls[k].blocked = false;
                    s.deliver_if_possible(k);
                }
            }
            Step::Disconnect(k) => {
                if s.pulls[k].connected {
                    let pull = &mut s.pulls[k];
                    pull.connected = false;
                    pull.blocked = false;
                    if pull.in_flight.take().is_some() {
                        s.lost += 1;
                    }
                    if pull.current_len() == 0 {
                        let generation = pull.generation;
                        pull.queues.remove(&generation);
                    }
                    s.forget(k);
                }
            }
            Step::Reconnect(k) => {
                if !s.pulls[k].connected {
                    let pull = &mut s.pulls[k];
                    pull.connected = true;
                    pull.generation += 1;
                    let generation = pull.generation;
                    pull.queues.insert(generation, VecDeque::new());
                    s.activate(k);
                }
            }
        }
        s
    }
}

struct PipelineSut {
    net: TestNet,
    push: NodeId,
    pulls: Vec<NodeId>,
    /// PUSH's pipe to each PULL while connected.
    pipes: Vec<Option<PipeId>>,
    received: BTreeSet<u64>,
}

impl PipelineSut {
    fn connect(&mut self, k: usize, prio: u8) {
        let info = PipeInfo {
            send_priority: Priority::new(prio).unwrap(),
            ..PipeInfo::default()
        };
        let (p, _) = self
            .net
            .connect_with(self.push, info, self.pulls[k], PipeInfo::default())
            .unwrap();
        self.pipes[k] = Some(p);
    }

    /// Per PULL: frames it took in plus the frame waiting in its link.
    fn arrivals(&self) -> Vec<u64> {
        (0..self.pulls.len())
            .map(|k| {
                let in_link = self.pipes[k].map_or(0, |p| self.net.in_flight(self.push, p));
                self.net.proto(self.pulls[k]).stats().msgs_in + in_link as u64
            })
            .collect()
    }
}

struct PipelineTest;

impl StateMachineTest for PipelineTest {
    type SystemUnderTest = PipelineSut;
    type Reference = PipelineRef;

    fn init_test(model: &PipelineModel) -> PipelineSut {
        let mut net = TestNet::new();
        let push = net.add(Push::new(Config::cooked(1)));
        let pulls = (0..model.pulls.len())
            .map(|k| {
                let mut cfg = Config::cooked(10 + k as u64);
                cfg.options.set_recv_queue(model.queue_len).unwrap();
                net.add(Pull::new(cfg))
            })
            .collect();
        let mut sut = PipelineSut {
            net,
            push,
            pulls,
            pipes: vec![None; model.pulls.len()],
            received: BTreeSet::new(),
        };
        for (k, pull) in model.pulls.iter().enumerate() {
            sut.connect(k, pull.prio);
        }
        sut
    }

    fn apply(mut sut: PipelineSut, model: &PipelineModel, t: Step) -> PipelineSut {
        match t {
            Step::Send => {
                let outcome = model.last_send.clone().unwrap();
                let before = sut.arrivals();
                let seq = model.next_seq - u64::from(outcome.recipient.is_some());
                let result = sut.net.send(sut.push, seq.to_string().into_bytes());
                let after = sut.arrivals();
                let got: Vec<usize> = (0..before.len())
                    .filter(|&k| after[k] > before[k])
                    .collect();
                match outcome.recipient {
                    None => {
                        assert_eq!(result.unwrap_err().kind, SendErrorKind::WouldBlock);
                        assert!(got.is_empty());
                        assert!(
                            outcome.writable_before.is_empty(),
                            "WouldBlock with a writable pipe"
                        );
                    }
                    Some(k) => {
                        result.unwrap();
                        assert_eq!(got, [k], "recipient of message {seq}");
                        let best = outcome
                            .writable_before
                            .iter()
                            .map(|&w| model.pulls[w].prio)
                            .min()
                            .unwrap();
                        assert_eq!(
                            model.pulls[k].prio, best,
                            "sent to priority {} while priority {best} was writable",
                            model.pulls[k].prio
                        );
                    }
                }
            }
            Step::Recv(k) => {
                let got = sut.net.recv(sut.pulls[k]);
                match model.last_recv {
                    None => assert_eq!(got.unwrap_err(), RecvError::WouldBlock),
                    Some(seq) => {
                        let body = got.unwrap().body;
                        let got_seq: u64 = std::str::from_utf8(&body).unwrap().parse().unwrap();
                        assert_eq!(got_seq, seq, "pull {k} fair-queue order");
                        assert!(sut.received.insert(got_seq), "{got_seq} received twice");
                    }
                }
            }
            Step::Block(k) => {
                if let Some(p) = sut.pipes[k] {
                    sut.net.block(sut.push, p);
                }
            }
            Step::Unblock(k) => {
                if let Some(p) = sut.pipes[k] {
                    sut.net.unblock(sut.push, p);
                }
            }
            Step::Disconnect(k) => {
                if let Some(p) = sut.pipes[k].take() {
                    sut.net.disconnect(sut.push, p);
                }
            }
            Step::Reconnect(k) => {
                if sut.pipes[k].is_none() {
                    sut.connect(k, model.pulls[k].prio);
                }
            }
        }
        sut
    }

    fn check_invariants(sut: &PipelineSut, model: &PipelineModel) {
        let push = sut.net.proto(sut.push).stats();
        assert_eq!(push.msgs_out, model.next_seq, "messages sent");
        assert_eq!(push.dropped_total(), 0);
        let mut took_in = 0;
        let mut delivered = 0;
        let mut in_links = 0;
        for (k, pull) in model.pulls.iter().enumerate() {
            let stats = sut.net.proto(sut.pulls[k]).stats();
            assert_eq!(stats.dropped_total(), 0, "pull {k} dropped");
            took_in += stats.msgs_in;
            delivered += stats.delivered;
            let in_link = sut.pipes[k].map_or(0, |p| sut.net.in_flight(sut.push, p));
            assert_eq!(in_link, usize::from(pull.in_flight.is_some()), "pull {k}");
            in_links += in_link as u64;
        }
        assert_eq!(delivered, model.received);
        assert_eq!(delivered, sut.received.len() as u64);
        // Nothing lost while its pipe is alive: every frame sent was taken in by a PULL,
        // is still in a live link, or was in a link that was cut.
        assert_eq!(push.msgs_out, took_in + in_links + model.lost);
        // And everything taken in is either delivered or still queued.
        assert_eq!(took_in, delivered + model.queued());
        assert_eq!(model.in_flight(), in_links);
        // The model's ring holds exactly the writable pipes.
        let in_ring: BTreeSet<usize> = model.ring.values().flatten().copied().collect();
        let writable: BTreeSet<usize> = (0..model.pulls.len())
            .filter(|&k| model.pulls[k].writable())
            .collect();
        assert_eq!(in_ring, writable);
    }
}

prop_state_machine! {
    #[test]
    fn push_pull_matches_the_model(sequential 1..50 => PipelineTest);
}
