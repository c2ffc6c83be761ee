//! A tiny in-memory network of protocol state machines, for tests and examples.
//!
//! [`TestNet`] connects state machines with pipes, moves every [`Transmit`](crate::Transmit) through the
//! real TCP frame codec to the peer, honours the flow-control contract (writability
//! credits, pause/resume), and runs virtual time forward firing each machine's timers in
//! order. It records every frame it moves so tests can snapshot wire traces. It is
//! deliberately simple: no latency or loss (that is the `sim` crate's job), but links can
//! be blocked to model back-pressure and cut to model failures.
//!
//! Behind the `testing` feature: sp-proto's integration tests and examples use it (they
//! see only the public API), and so may a user testing their own code against the real
//! state machines; it is no part of the default API.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use core::fmt::Write as _;
use core::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::drain::{Drain, Output};
use crate::message::Message;
use crate::pipes::{PipeId, PipeIdAllocator, PipeInfo};
use crate::proto::AnyProtocol;
use crate::protocol::{Event, PipeRefused, Protocol, RecvError, SendError};
use crate::rng::Rng;
use crate::time::Instant;
use crate::wire::frame::{encode_frame, FrameDecoder, FrameFormat, MaxRecvSize};
use alloc::string::String;
use alloc::vec::Vec;

/// Index of a node in a [`TestNet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

/// One frame moved by the network, for traces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// When it was delivered.
    pub at: Instant,
    /// Sending node.
    pub from: NodeId,
    /// Receiving node.
    pub to: NodeId,
    /// The payload (SP header and body).
    pub payload: Bytes,
}

struct Node {
    proto: AnyProtocol,
    alloc: PipeIdAllocator,
    /// pipe -> (link index, which end of the link this node is)
    pipes: BTreeMap<PipeId, (usize, usize)>,
    /// Pipes this node asked not to be read from.
    paused: BTreeSet<PipeId>,
    events: Vec<Event>,
}

struct Link {
    ends: [(NodeId, PipeId); 2],
    /// `queues[i]`: frames written by end `i`, not yet delivered to the other end.
    queues: [VecDeque<Bytes>; 2],
    /// `blocked[i]`: end `i`'s writes are not acknowledged (the peer is slow).
    blocked: [bool; 2],
    /// `owed[i]`: end `i` wrote while blocked or full and is owed a writable notification.
    owed: [bool; 2],
    /// Frames one direction holds before the writer stops being writable.
    capacity: usize,
    up: bool,
}

/// An in-memory network of protocol state machines with virtual time.
pub struct TestNet {
    now: Instant,
    nodes: Vec<Node>,
    links: Vec<Link>,
    trace: Vec<TraceEntry>,
    seed_rng: Rng,
    link_capacity: usize,
    drain: Drain,
}

impl Default for TestNet {
    fn default() -> Self {
        Self::new()
    }
}

impl TestNet {
    /// An empty network at time zero.
    pub fn new() -> Self {
        Self {
            now: Instant::ZERO,
            nodes: Vec::new(),
            links: Vec::new(),
            trace: Vec::new(),
            seed_rng: Rng::new(0x5eed),
            link_capacity: 1,
            drain: Drain::new(),
        }
    }

    /// Sets how many frames a link direction holds in flight before the writer stops
    /// being writable (default 1), for links created afterwards.
    pub fn set_link_capacity(&mut self, frames: usize) {
        self.link_capacity = frames.max(1);
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Adds a state machine; returns its id.
    pub fn add(&mut self, proto: impl Into<AnyProtocol>) -> NodeId {
        let alloc = PipeIdAllocator::new(&mut self.seed_rng);
        self.nodes.push(Node {
            proto: proto.into(),
            alloc,
            pipes: BTreeMap::new(),
            paused: BTreeSet::new(),
            events: Vec::new(),
        });
        NodeId(self.nodes.len() - 1)
    }

    /// The state machine of `n`.
    pub fn proto(&self, n: NodeId) -> &AnyProtocol {
        &self.nodes[n.0].proto
    }

    /// Mutable access to the state machine of `n` (drain with [`run`](Self::run) after).
    pub fn proto_mut(&mut self, n: NodeId) -> &mut AnyProtocol {
        &mut self.nodes[n.0].proto
    }

    /// Mutable access to two different nodes at once (to run a
    /// [`Device`](crate::device::Device) between them; drain with [`run`](Self::run) after).
    ///
    /// # Panics
    /// If `a == b`.
    pub fn proto_pair_mut(&mut self, a: NodeId, b: NodeId) -> (&mut AnyProtocol, &mut AnyProtocol) {
        assert_ne!(a, b, "proto_pair_mut needs two different nodes");
        if a.0 < b.0 {
            let (lo, hi) = self.nodes.split_at_mut(b.0);
            (&mut lo[a.0].proto, &mut hi[0].proto)
        } else {
            let (lo, hi) = self.nodes.split_at_mut(a.0);
            (&mut hi[0].proto, &mut lo[b.0].proto)
        }
    }

    /// Connects `a` and `b` with default priorities; returns the pipe id at each end.
    pub fn connect(&mut self, a: NodeId, b: NodeId) -> Result<(PipeId, PipeId), PipeRefused> {
        self.connect_with(a, PipeInfo::default(), b, PipeInfo::default())
    }

    /// Connects `a` and `b` with the given per-end pipe priorities.
    ///
    /// # Panics
    /// If the two socket types are not peers (a test bug, not a peer's).
    pub fn connect_with(
        &mut self,
        a: NodeId,
        info_a: PipeInfo,
        b: NodeId,
        info_b: PipeInfo,
    ) -> Result<(PipeId, PipeId), PipeRefused> {
        let (ta, tb) = (
            self.nodes[a.0].proto.socket_type(),
            self.nodes[b.0].proto.socket_type(),
        );
        assert!(
            ta.accepts_peer_id(tb.wire_id()),
            "{ta} cannot connect to {tb}"
        );
        let pa = self.nodes[a.0].alloc.allocate();
        let pb = self.nodes[b.0].alloc.allocate();
        let now = self.now;
        if let Err(e) = self.input(a).handle_pipe_added(now, pa, info_a) {
            self.nodes[a.0].alloc.release(pa);
            self.nodes[b.0].alloc.release(pb);
            return Err(e);
        }
        if let Err(e) = self.input(b).handle_pipe_added(now, pb, info_b) {
            // What `a` sent on the pipe it just got is lost with it.
            self.drain_node(a.0);
            self.input(a).handle_pipe_removed(now, pa);
            self.nodes[a.0].alloc.release(pa);
            self.nodes[b.0].alloc.release(pb);
            self.run();
            return Err(e);
        }
        let idx = self.links.len();
        self.links.push(Link {
            ends: [(a, pa), (b, pb)],
            queues: [VecDeque::new(), VecDeque::new()],
            blocked: [false, false],
            owed: [false, false],
            capacity: self.link_capacity,
            up: true,
        });
        self.nodes[a.0].pipes.insert(pa, (idx, 0));
        self.nodes[b.0].pipes.insert(pb, (idx, 1));
        self.run();
        Ok((pa, pb))
    }

    /// Cuts the connection that `n` knows as `pipe`: both ends see the pipe removed and
    /// frames in flight are lost.
    pub fn disconnect(&mut self, n: NodeId, pipe: PipeId) {
        let Some(&(idx, _)) = self.nodes[n.0].pipes.get(&pipe) else {
            return;
        };
        let link = &mut self.links[idx];
        if !link.up {
            return;
        }
        link.up = false;
        link.queues = [VecDeque::new(), VecDeque::new()];
        let ends = link.ends;
        let now = self.now;
        for (n, p) in ends {
            let node = &mut self.nodes[n.0];
            node.pipes.remove(&p);
            node.paused.remove(&p);
            node.alloc.release(p);
            self.input(n).handle_pipe_removed(now, p);
        }
        self.run();
    }

    /// Removes every pipe of `n` (as if the node crashed or closed).
    pub fn disconnect_all(&mut self, n: NodeId) {
        let pipes: Vec<PipeId> = self.nodes[n.0].pipes.keys().copied().collect();
        for p in pipes {
            self.disconnect(n, p);
        }
    }

    /// The pipes `n` currently has, in id order.
    pub fn pipes(&self, n: NodeId) -> Vec<PipeId> {
        self.nodes[n.0].pipes.keys().copied().collect()
    }

    /// Stops acknowledging writes from `n` on `pipe` and stops delivering them: the peer
    /// behind that pipe is slow. Frames written meanwhile wait in the link.
    pub fn block(&mut self, n: NodeId, pipe: PipeId) {
        if let Some(&(idx, end)) = self.nodes[n.0].pipes.get(&pipe) {
            self.links[idx].blocked[end] = true;
        }
    }

    /// Undoes [`block`](Self::block): queued frames flow and writability returns.
    pub fn unblock(&mut self, n: NodeId, pipe: PipeId) {
        if let Some(&(idx, end)) = self.nodes[n.0].pipes.get(&pipe) {
            self.links[idx].blocked[end] = false;
        }
        self.run();
    }

    /// Frames written by `n` on `pipe` and not yet delivered.
    pub fn in_flight(&self, n: NodeId, pipe: PipeId) -> usize {
        self.nodes[n.0]
            .pipes
            .get(&pipe)
            .map_or(0, |&(idx, end)| self.links[idx].queues[end].len())
    }

    /// User send on `n`, then runs the network.
    pub fn send(&mut self, n: NodeId, msg: impl Into<Message>) -> Result<(), SendError> {
        let now = self.now;
        let r = self.input(n).send(now, msg.into());
        self.run();
        r
    }

    /// User receive on `n`, then runs the network (so freed queue space is used).
    pub fn recv(&mut self, n: NodeId) -> Result<Message, RecvError> {
        let now = self.now;
        let r = self.input(n).recv(now);
        self.run();
        r
    }

    /// Receives every message `n` has ready, as bodies.
    pub fn recv_all(&mut self, n: NodeId) -> Vec<Bytes> {
        core::iter::from_fn(|| self.recv(n).ok())
            .map(|m| m.body)
            .collect()
    }

    /// Events `n` emitted other than flow control, oldest first (and forgets them).
    pub fn take_events(&mut self, n: NodeId) -> Vec<Event> {
        core::mem::take(&mut self.nodes[n.0].events)
    }

    /// Every frame moved so far.
    pub fn trace(&self) -> &[TraceEntry] {
        &self.trace
    }

    /// The trace as text, one frame per line: `t=0ms n0->n1 <hex>`.
    pub fn trace_text(&self) -> String {
        let mut s = String::new();
        for e in &self.trace {
            let _ = writeln!(
                s,
                "{:?} n{}->n{} {}",
                e.at,
                e.from.0,
                e.to.0,
                crate::fmt::hex(&e.payload)
            );
        }
        s
    }

    /// Moves frames and drains outputs until nothing changes. Returns frames delivered.
    ///
    /// # Panics
    /// If the network does not settle within a million steps (a livelock in a protocol).
    pub fn run(&mut self) -> usize {
        let mut delivered = 0;
        for _ in 0..1_000_000 {
            let mut progress = false;
            for i in 0..self.nodes.len() {
                progress |= self.drain_node(i);
            }
            for idx in 0..self.links.len() {
                for end in 0..2 {
                    let n = self.deliver(idx, end);
                    delivered += n;
                    progress |= n > 0;
                    let link = &mut self.links[idx];
                    if link.up
                        && !link.blocked[end]
                        && link.owed[end]
                        && link.queues[end].len() < link.capacity
                    {
                        link.owed[end] = false;
                        let (node, pipe) = link.ends[end];
                        let now = self.now;
                        self.input(node).handle_writable(now, pipe);
                        self.drain_node(node.0);
                        progress = true;
                    }
                }
            }
            if !progress {
                return delivered;
            }
        }
        panic!("TestNet did not settle: livelock");
    }

    /// The protocol of `n`, to feed it an input: the drain rule says its outputs were
    /// all taken since the last one.
    fn input(&mut self, n: NodeId) -> &mut AnyProtocol {
        let proto = &mut self.nodes[n.0].proto;
        debug_assert!(
            proto.is_drained(),
            "node {} was fed an input before its outputs were drained (call TestNet::run after proto_mut)",
            n.0
        );
        proto
    }

    /// Takes every output of node `i`: frames into the links (giving the write credit
    /// back at once unless the link is blocked or full), events into the node.
    fn drain_node(&mut self, i: usize) -> bool {
        let mut progress = false;
        let now = self.now;
        while let Some(out) = self.drain.next(&mut self.nodes[i].proto, now) {
            progress = true;
            let node = &mut self.nodes[i];
            match out {
                Output::Transmit(t) => {
                    let Some(&(idx, end)) = node.pipes.get(&t.pipe) else {
                        continue; // written to a pipe that is gone: lost, like a real socket
                    };
                    let link = &mut self.links[idx];
                    let mut framed = BytesMut::new();
                    encode_frame(FrameFormat::Tcp, &t.msg.header, &t.msg.body, &mut framed);
                    link.queues[end].push_back(framed.freeze());
                    if link.blocked[end] || link.queues[end].len() >= link.capacity {
                        link.owed[end] = true;
                    } else {
                        self.drain.credit(t.pipe);
                    }
                }
                Output::Event(Event::PausePipe(p)) => {
                    node.paused.insert(p);
                }
                Output::Event(Event::ResumePipe(p)) => {
                    node.paused.remove(&p);
                }
                Output::Event(other) => node.events.push(other),
            }
        }
        progress
    }

    fn deliver(&mut self, idx: usize, end: usize) -> usize {
        let link = &self.links[idx];
        if !link.up || link.blocked[end] {
            return 0;
        }
        let (from, _) = link.ends[end];
        let (to, to_pipe) = link.ends[1 - end];
        let mut n = 0;
        while !self.nodes[to.0].paused.contains(&to_pipe) {
            let Some(mut framed) = self.links[idx].queues[end].pop_front().map(BytesMut::from)
            else {
                break;
            };
            let mut dec = FrameDecoder::new(FrameFormat::Tcp, MaxRecvSize::Unlimited);
            let payload = dec
                .decode(&mut framed)
                .ok()
                .flatten()
                .expect("TestNet frames are well formed");
            self.trace.push(TraceEntry {
                at: self.now,
                from,
                to,
                payload: payload.clone(),
            });
            let now = self.now;
            if n == 0 {
                // A batch of messages from one pipe may be fed back to back.
                self.input(to).handle_message(now, to_pipe, payload);
            } else {
                self.nodes[to.0].proto.handle_message(now, to_pipe, payload);
            }
            n += 1;
        }
        if n > 0 {
            self.drain_node(to.0);
        }
        n
    }

    /// The earliest timer of any node.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.nodes
            .iter()
            .filter_map(|n| n.proto.poll_timeout())
            .min()
    }

    /// Advances virtual time by `d`, firing every timer that falls due on the way, in
    /// order, and running the network after each.
    pub fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        self.advance_to(target);
    }

    /// Advances virtual time to `target` (no-op if it is in the past).
    pub fn advance_to(&mut self, target: Instant) {
        for _ in 0..1_000_000 {
            match self.next_deadline() {
                Some(t) if t <= target => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    for i in 0..self.nodes.len() {
                        if self.nodes[i].proto.poll_timeout().is_some_and(|t| t <= now) {
                            self.input(NodeId(i)).handle_timeout(now);
                        }
                    }
                    self.run();
                }
                _ => break,
            }
        }
        self.now = self.now.max(target);
        self.run();
    }
}
