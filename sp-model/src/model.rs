//! The stateright model: which actions each state allows and what each one does to the
//! real protocol values.
//!
//! Every input follows the driving contract of `sp_proto::protocol`: after each input the
//! node's transmits and events are drained until both are empty. A transmit goes onto its
//! link's queue; while the queue has room the sender is told at once that the pipe is
//! writable again (a driver with an output buffer), and when it is full the sender waits
//! for a delivery to make room.

use bytes::Bytes;
use sp_proto::backoff::Backoff;
use sp_proto::{AnyProtocol, Config, Event, Instant, Message, PipeInfo, Priority, SocketType};
use stateright::{Model, Property};

use crate::coverage::Recorder;
use crate::machine::Machine;
use crate::props;
use crate::spec::{Role, Schedule, Spec};
use crate::state::{Got, Link, Node, State, User};

/// One step the checker may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// The oldest message in flight on `link` in direction `dir` arrives.
    Deliver {
        /// The link.
        link: u8,
        /// 0: from `a` to `b`; 1: back.
        dir: u8,
    },
    /// That message is lost (a fault).
    Lose {
        /// The link.
        link: u8,
        /// The direction.
        dir: u8,
    },
    /// That message will arrive twice (a fault).
    Duplicate {
        /// The link.
        link: u8,
        /// The direction.
        dir: u8,
    },
    /// The link breaks: both ends see the pipe removed, messages in flight are lost.
    Detach {
        /// The link.
        link: u8,
    },
    /// The link is (re)attached with fresh pipe ids.
    Attach {
        /// The link.
        link: u8,
    },
    /// Time advances to the link's reconnect time and its dialer attaches it again.
    Redial {
        /// The link.
        link: u8,
    },
    /// Time advances to the node's next timer, which fires.
    Fire {
        /// The node.
        node: u8,
    },
    /// The node's user sends its next message.
    Send {
        /// The node.
        node: u8,
    },
    /// The node's user receives on one of its contexts (and a reflector sends the
    /// message back out).
    Recv {
        /// The node.
        node: u8,
        /// The user's context number (0 without contexts).
        ctx: u8,
    },
    /// A SUB's user flips its first subscription: unsubscribes it, or subscribes it again.
    FlipTopic {
        /// The node.
        node: u8,
    },
    /// The node's user closes the socket: the protocol discards what the user did not
    /// read, and every link of the node breaks (its peers see the pipes removed).
    Close {
        /// The node.
        node: u8,
    },
    /// A server's user answers the request it received on one of its contexts.
    Reply {
        /// The node.
        node: u8,
        /// The user's context number (0 without contexts).
        ctx: u8,
    },
}

/// A model of one [`Spec`] over the real protocol state machines.
#[derive(Clone, Debug)]
pub struct SpModel {
    /// The configuration.
    pub spec: Spec,
    /// Every transition the machines of this model went through (shared by its copies).
    pub coverage: Recorder,
}

impl SpModel {
    /// The model of `spec`.
    pub fn new(spec: Spec) -> Self {
        Self {
            spec,
            coverage: Recorder::default(),
        }
    }

    fn config(&self, i: usize) -> Config {
        let n = &self.spec.nodes[i];
        let mut c = if n.raw {
            Config::raw(i as u64 + 1)
        } else {
            Config::cooked(i as u64 + 1)
        };
        c.options
            .set_resend_interval(Some(self.spec.resend_interval));
        c.options
            .set_survey_deadline(self.spec.survey_deadline)
            .expect("valid deadline");
        c.options
            .set_recv_queue(self.spec.recv_queue)
            .expect("valid queue length");
        c.options
            .set_max_ttl(self.spec.max_ttl.into())
            .expect("valid TTL");
        c.options.pair1_polyamorous = n.polyamorous;
        c.options.sub_back_pressure = n.back_pressure;
        c
    }

    /// The send priority node `node` gives `link`.
    pub fn priority(&self, link: usize, node: usize) -> Priority {
        let l = &self.spec.links[link];
        if l.a == node {
            l.priority_a
        } else {
            l.priority_b
        }
    }

    /// The user's context number on which node `node` sends its `k`th message.
    pub fn context_of(&self, node: usize, k: u8) -> u8 {
        k % self.spec.nodes[node].context_slots()
    }

    /// The `k`th message node `node` sent last on context `ctx` among its first `sent`.
    pub fn latest_on(&self, node: usize, ctx: u8, sent: u8) -> Option<u8> {
        (0..sent).rev().find(|&k| self.context_of(node, k) == ctx)
    }

    /// The body of the `k`th message node `node` sends.
    pub fn body(&self, node: usize, k: u8) -> Bytes {
        let n = &self.spec.nodes[node];
        let text = match n.socket_type {
            // Publications carry a topic first: "a", "b", "ab" in turn.
            SocketType::Pub => format!("{}:{}:{k}", ["a", "b", "ab"][usize::from(k) % 3], n.name),
            _ => format!("{}:{k}", n.name),
        };
        Bytes::from(text)
    }

    fn sender_receiver(&self, link: usize, dir: usize) -> (usize, usize) {
        let l = &self.spec.links[link];
        if dir == 0 {
            (l.a, l.b)
        } else {
            (l.b, l.a)
        }
    }

    fn records_wire(&self, node: usize) -> bool {
        matches!(
            self.spec.nodes[node].role,
            Role::Server | Role::Reflector | Role::Forward { .. }
        )
    }

    /// Drains node `n`'s transmits and events (the drain rule), in the order of
    /// `sp_proto::Drain`, which the real drivers use: every transmit first, then the write
    /// credits of the pipes whose links still have room, then every event. (The model
    /// cannot hand its wrapped machine to `Drain` itself: `Protocol` is sealed.)
    fn drain(&self, st: &mut State, n: usize) {
        let mut credits = Vec::new();
        loop {
            if let Some(t) = st.nodes[n].machine.poll_transmit() {
                if self.route(st, n, t.pipe, t.msg) {
                    credits.push(t.pipe);
                }
                continue;
            }
            if !credits.is_empty() {
                let pipe = credits.remove(0);
                st.nodes[n].machine.handle_writable(st.now, pipe);
                continue;
            }
            if let Some(e) = st.nodes[n].machine.poll_event() {
                self.event(st, n, e);
                continue;
            }
            break;
        }
    }

    fn event(&self, st: &mut State, n: usize, e: Event) {
        let (pipe, paused) = match e {
            Event::PausePipe(p) => (p, true),
            Event::ResumePipe(p) => (p, false),
            _ => return,
        };
        let (link, generation) = Link::from_pipe(pipe);
        let l = &mut st.links[link];
        if l.generation == generation {
            // The direction into `n`.
            let dir = usize::from(self.spec.links[link].a == n);
            l.paused[dir] = paused;
        }
    }

    /// Puts a transmit on its link; `true` when the link still has room, so the sender
    /// can take another message at once (a write credit).
    fn route(&self, st: &mut State, n: usize, pipe: sp_proto::PipeId, msg: Message) -> bool {
        let (link, generation) = Link::from_pipe(pipe);
        let spec_link = &self.spec.links[link];
        let dir = usize::from(spec_link.a != n);
        let live = st.links[link].up && st.links[link].generation == generation;
        if !live || (spec_link.a != n && spec_link.b != n) {
            st.lost = st.lost.saturating_add(1);
            return false;
        }
        if self.spec.nodes[n].socket_type == SocketType::Push {
            let mine = self.priority(link, n);
            let better_free = self.spec.links.iter().enumerate().any(|(j, sl)| {
                let d = usize::from(sl.a != n);
                j != link
                    && (sl.a == n || sl.b == n)
                    && st.links[j].up
                    && !st.links[j].blocked[d]
                    && self.priority(j, n) < mine
            });
            if better_free {
                st.nodes[n].user.priority_inversions += 1;
            }
        }
        if st.nodes[n].user.closed {
            st.nodes[n].user.after_close = st.nodes[n].user.after_close.saturating_add(1);
        }
        let payload = msg.to_wire();
        if self.records_wire(n) {
            st.nodes[n]
                .user
                .wire_out
                .push((link as u8, payload.clone()));
        }
        let l = &mut st.links[link];
        l.queue[dir].push_back(payload);
        if l.queue[dir].len() < self.spec.link_capacity {
            true
        } else {
            l.blocked[dir] = true;
            false
        }
    }

    /// Makes room on `link`'s direction `dir`: an owed `handle_writable` is paid.
    fn unblock(&self, st: &mut State, link: usize, dir: usize) {
        let (sender, _) = self.sender_receiver(link, dir);
        let l = &mut st.links[link];
        if l.blocked[dir] && l.queue[dir].len() < self.spec.link_capacity {
            l.blocked[dir] = false;
            let pipe = Link::pipe_id(link, l.generation);
            st.nodes[sender].machine.handle_writable(st.now, pipe);
            self.drain(st, sender);
        }
    }

    fn deliver(&self, st: &mut State, link: usize, dir: usize) -> Option<()> {
        let l = &mut st.links[link];
        if !l.up || l.paused[dir] {
            return None;
        }
        let payload = l.queue[dir].pop_front()?;
        let pipe = Link::pipe_id(link, l.generation);
        let (_, receiver) = self.sender_receiver(link, dir);
        if self.records_wire(receiver) {
            st.nodes[receiver]
                .user
                .wire_in
                .push((link as u8, payload.clone()));
        }
        if self.spec.nodes[receiver].socket_type == SocketType::Sub {
            let in_force = self.topics_in_force(st, receiver);
            if in_force.iter().any(|t| payload.starts_with(t)) {
                st.nodes[receiver].user.admissible.push(payload.clone());
            }
        }
        let user = &mut st.nodes[receiver].user;
        user.handed_in = user.handed_in.saturating_add(1);
        st.nodes[receiver]
            .machine
            .handle_message(st.now, pipe, payload);
        self.drain(st, receiver);
        self.unblock(st, link, dir);
        Some(())
    }

    /// A SUB's subscriptions in force: its spec's, without the first while its user has
    /// it unsubscribed.
    fn topics_in_force(&self, st: &State, n: usize) -> Vec<&'static [u8]> {
        let subs = self.spec.nodes[n].subscriptions;
        let skip = usize::from(st.nodes[n].user.flips % 2 == 1);
        subs.iter().skip(skip).copied().collect()
    }

    /// The SUB's user unsubscribes its first topic, or subscribes it again.
    fn flip_topic(&self, st: &mut State, n: usize) -> Option<()> {
        let spec = &self.spec.nodes[n];
        let topic = spec.subscriptions.first()?;
        let user = &st.nodes[n].user;
        if user.flips >= spec.topic_flips || user.closed {
            return None;
        }
        let on = user.flips % 2 == 1;
        st.nodes[n].machine.set_topic(topic, on).then_some(())?;
        st.nodes[n].user.flips += 1;
        Some(())
    }

    fn detach(&self, st: &mut State, link: usize) {
        let now = st.now;
        let dialer_bug = st.nodes[self.spec.links[link].a].machine.bug();
        let l = &mut st.links[link];
        let in_flight = l.queue.iter().map(|q| q.len()).sum::<usize>();
        st.lost = st.lost.saturating_add(in_flight as u8);
        let mut backoff = l.backoff.take();
        let redial_at = match &mut backoff {
            Some(_) if dialer_bug == Some(crate::machine::Bug::BackoffNeverFires) => None,
            Some(b) => Some(b.next_attempt(now)),
            None => None,
        };
        *l = Link {
            up: false,
            generation: l.generation,
            backoff,
            redial_at,
            ..Link::new(false)
        };
        let pipe = Link::pipe_id(link, l.generation);
        for end in [self.spec.links[link].a, self.spec.links[link].b] {
            st.nodes[end].machine.remove_pipe(st.now, pipe);
            self.drain(st, end);
        }
    }

    fn attach(&self, st: &mut State, link: usize) {
        let (a, b) = (self.spec.links[link].a, self.spec.links[link].b);
        let l = &mut st.links[link];
        l.generation += 1;
        let pipe = Link::pipe_id(link, l.generation);
        let info = |p: Priority| PipeInfo {
            send_priority: p,
            recv_priority: Priority::DEFAULT,
        };
        let now = st.now;
        if st.nodes[a]
            .machine
            .add_pipe(now, pipe, info(self.priority(link, a)))
            .is_ok()
        {
            if st.nodes[b]
                .machine
                .add_pipe(now, pipe, info(self.priority(link, b)))
                .is_ok()
            {
                st.links[link].up = true;
            } else {
                st.nodes[a].machine.remove_pipe(now, pipe);
            }
        }
        self.drain(st, a);
        self.drain(st, b);
    }

    fn user_send(&self, st: &mut State, n: usize) -> Option<()> {
        let Role::Client { sends } = self.spec.nodes[n].role else {
            return None;
        };
        let k = st.nodes[n].user.sent;
        if k >= sends || st.nodes[n].user.closed {
            return None;
        }
        let now = st.now;
        st.nodes[n]
            .machine
            .send_on(now, self.context_of(n, k), Message::new(self.body(n, k)))
            .ok()?;
        let user = &mut st.nodes[n].user;
        user.sent += 1;
        user.sent_at.push(now);
        self.drain(st, n);
        Some(())
    }

    fn user_recv(&self, st: &mut State, n: usize, ctx: u8) -> Option<()> {
        let now = st.now;
        let msg = st.nodes[n].machine.recv_on(now, ctx).ok()?;
        if st.nodes[n].user.closed {
            // The driver fails a closed socket's receive before asking the protocol; the
            // model asks it anyway, and it must have nothing left to hand over.
            st.nodes[n].user.after_close = st.nodes[n].user.after_close.saturating_add(1);
            return Some(());
        }
        match self.spec.nodes[n].role {
            Role::Server => {
                st.nodes[n].user.pending[usize::from(ctx)] = Some(msg);
            }
            Role::Reflector => {
                // Raw BUS: the header names the origin pipe; sending it back out with
                // that header reaches every other pipe.
                let _ = st.nodes[n].machine.send(now, msg);
            }
            Role::Forward { to } => {
                // The device's other socket sends it on (a refusal drops it, as a
                // device does).
                self.drain(st, n);
                let to = usize::from(to);
                let _ = st.nodes[to].machine.send(now, msg);
                self.drain(st, to);
            }
            Role::Client { .. } | Role::Sink => {
                let user = &mut st.nodes[n].user;
                let sent = user.sent;
                user.got.push(Got {
                    body: msg.body,
                    sent,
                    at: now,
                    ctx,
                });
            }
        }
        self.drain(st, n);
        Some(())
    }

    fn user_reply(&self, st: &mut State, n: usize, ctx: u8) -> Option<()> {
        if st.nodes[n].user.closed {
            return None;
        }
        let mut msg = st.nodes[n].user.pending[usize::from(ctx)].take()?;
        match self.spec.nodes[n].socket_type {
            SocketType::Respondent => {
                let mut v = msg.body.to_vec();
                v.extend_from_slice(format!("|{}", self.spec.nodes[n].name).as_bytes());
                msg.body = Bytes::from(v);
            }
            // Polyamorous PAIR v1: the reply is addressed to the pipe the message came
            // from (`msg.pipe`, as received).
            SocketType::Pair1 => {}
            // REP, RESPONDENT: the backtrace in the header says where the reply goes.
            _ => msg.pipe = None,
        }
        let now = st.now;
        // A reply the protocol refuses (its request was cancelled or its pipe is gone)
        // is still a step: the user answered.
        let _ = st.nodes[n].machine.send_on(now, ctx, msg);
        self.drain(st, n);
        Some(())
    }

    /// The dialer's backoff timer fires: time moves to it and the link is attached again
    /// (the backoff resets), or, if refused, the next attempt is scheduled.
    fn redial(&self, st: &mut State, link: usize) -> Option<()> {
        if self.touches_closed(st, link) {
            return None;
        }
        let at = st.links[link].redial_at?;
        let now = at.max(st.now);
        if now.saturating_duration_since(Instant::ZERO) > self.spec.horizon {
            return None;
        }
        st.now = now;
        self.attach(st, link);
        let l = &mut st.links[link];
        let backoff = l.backoff.as_mut()?;
        if l.up {
            backoff.reset();
            l.redial_at = None;
        } else {
            l.redial_at = Some(backoff.next_attempt(now));
        }
        Some(())
    }

    /// Whether either end of `link` is a closed socket (which attaches no pipe).
    fn touches_closed(&self, st: &State, link: usize) -> bool {
        let l = &self.spec.links[link];
        st.nodes[l.a].user.closed || st.nodes[l.b].user.closed
    }

    /// The user closes node `n`: its protocol discards what the user did not read
    /// (`Protocol::close`), then every link of the node breaks, as its connections end.
    fn close(&self, st: &mut State, n: usize) -> Option<()> {
        if !self.spec.nodes[n].may_close || st.nodes[n].user.closed {
            return None;
        }
        st.nodes[n].user.closed = true;
        let now = st.now;
        st.nodes[n].machine.close(now);
        self.drain(st, n);
        for (i, l) in self.spec.links.iter().enumerate() {
            if (l.a == n || l.b == n) && st.links[i].up {
                self.detach(st, i);
            }
        }
        Some(())
    }

    /// The earliest deadline of a live node's timer or a live link's redial.
    fn earliest_deadline(&self, st: &State) -> Option<Instant> {
        let timers = st
            .nodes
            .iter()
            .filter(|n| !n.user.closed)
            .filter_map(|n| n.machine.poll_timeout());
        let redials = st
            .links
            .iter()
            .enumerate()
            .filter(|&(i, _)| !self.touches_closed(st, i))
            .filter_map(|(_, l)| l.redial_at);
        timers.chain(redials).min()
    }

    /// Whether nothing at all can happen in `st` (every action is disabled).
    pub fn quiescent(&self, st: &State) -> bool {
        let mut actions = Vec::new();
        self.actions(st, &mut actions);
        actions.into_iter().all(|a| !self.enabled(st, a))
    }

    fn fire(&self, st: &mut State, n: usize) -> Option<()> {
        // A closed socket's driver runs no timer.
        if st.nodes[n].user.closed {
            return None;
        }
        let at = st.nodes[n].machine.poll_timeout()?;
        let now = at.max(st.now);
        if now.saturating_duration_since(Instant::ZERO) > self.spec.horizon {
            return None;
        }
        st.now = now;
        st.nodes[n].machine.handle_timeout(now);
        self.drain(st, n);
        Some(())
    }

    fn apply(&self, st: &mut State, action: Action) -> Option<()> {
        match action {
            Action::Deliver { link, dir } => self.deliver(st, link.into(), dir.into()),
            Action::Lose { link, dir } => {
                let (link, dir) = (usize::from(link), usize::from(dir));
                if st.faults_left.losses == 0 || !st.links[link].up {
                    return None;
                }
                st.links[link].queue[dir].pop_front()?;
                st.faults_left.losses -= 1;
                st.lost = st.lost.saturating_add(1);
                self.unblock(st, link, dir);
                Some(())
            }
            Action::Duplicate { link, dir } => {
                let (link, dir) = (usize::from(link), usize::from(dir));
                if st.faults_left.duplicates == 0 || !st.links[link].up {
                    return None;
                }
                let front = st.links[link].queue[dir].front()?.clone();
                st.links[link].queue[dir].push_front(front);
                st.faults_left.duplicates -= 1;
                Some(())
            }
            Action::Detach { link } => {
                if st.faults_left.detaches == 0 || !st.links[usize::from(link)].up {
                    return None;
                }
                st.faults_left.detaches -= 1;
                self.detach(st, link.into());
                Some(())
            }
            Action::Attach { link } => {
                if st.links[usize::from(link)].up
                    || self.spec.reconnect.is_some()
                    || self.touches_closed(st, link.into())
                {
                    return None;
                }
                match self.spec.schedule {
                    Schedule::AnyOrder if st.faults_left.attaches == 0 => return None,
                    Schedule::AnyOrder => st.faults_left.attaches -= 1,
                    // Fair: a broken link's dialer always comes back, but a link the
                    // protocol refused is not tried again and again.
                    Schedule::Fair if st.links[usize::from(link)].generation > 3 => return None,
                    Schedule::Fair => {}
                }
                self.attach(st, link.into());
                Some(())
            }
            Action::Redial { link } => self.redial(st, link.into()),
            Action::Fire { node } => self.fire(st, node.into()),
            Action::Send { node } => self.user_send(st, node.into()),
            Action::Recv { node, ctx } => self.user_recv(st, node.into(), ctx),
            Action::Reply { node, ctx } => self.user_reply(st, node.into(), ctx),
            Action::FlipTopic { node } => self.flip_topic(st, node.into()),
            Action::Close { node } => self.close(st, node.into()),
        }
    }

    /// The actions other than timers and faults: deliveries, user steps and (under the
    /// fair schedule) attaches.
    fn progress_actions(&self, st: &State, out: &mut Vec<Action>) {
        for (i, l) in st.links.iter().enumerate() {
            for dir in 0..2u8 {
                if l.up && !l.queue[usize::from(dir)].is_empty() {
                    out.push(Action::Deliver { link: i as u8, dir });
                }
            }
            if !l.up && self.spec.schedule == Schedule::Fair && self.spec.reconnect.is_none() {
                out.push(Action::Attach { link: i as u8 });
            }
        }
        for (i, n) in self.spec.nodes.iter().enumerate() {
            let node = i as u8;
            if matches!(n.role, Role::Client { .. }) {
                out.push(Action::Send { node });
            }
            if n.topic_flips > 0 {
                out.push(Action::FlipTopic { node });
            }
            if n.may_close {
                out.push(Action::Close { node });
            }
            for ctx in 0..n.context_slots() {
                out.push(Action::Recv { node, ctx });
                if n.role == Role::Server {
                    out.push(Action::Reply { node, ctx });
                }
            }
        }
    }

    /// Whether `action` changes anything in `st`.
    fn enabled(&self, st: &State, action: Action) -> bool {
        self.next_state(st, action).is_some()
    }
}

impl Model for SpModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let mut st = State {
            now: Instant::ZERO,
            nodes: (0..self.spec.nodes.len())
                .map(|i| {
                    let n = &self.spec.nodes[i];
                    let mut machine =
                        Machine::new(AnyProtocol::new(n.socket_type, self.config(i)), n.bug)
                            .with_recorder(self.coverage.clone());
                    if let AnyProtocol::Sub(s) = machine.proto_mut() {
                        for topic in n.subscriptions {
                            s.subscribe(topic);
                        }
                    }
                    Node {
                        machine: machine.with_contexts(n.contexts),
                        user: User {
                            pending: vec![None; usize::from(n.context_slots())],
                            ..User::default()
                        },
                    }
                })
                .collect(),
            links: self.spec.links.iter().map(|_| Link::new(false)).collect(),
            faults_left: self.spec.faults,
            lost: 0,
        };
        for (i, l) in self.spec.links.iter().enumerate() {
            if let Some((min, max)) = self.spec.reconnect {
                let mut b = Backoff::new(min, max, 1000 + i as u64);
                if !l.initially_up {
                    st.links[i].redial_at = Some(b.next_attempt(st.now));
                }
                st.links[i].backoff = Some(b);
            }
            if l.initially_up {
                self.attach(&mut st, i);
            }
        }
        vec![st]
    }

    fn actions(&self, st: &State, actions: &mut Vec<Action>) {
        let mut progress = Vec::new();
        self.progress_actions(st, &mut progress);
        let timers_allowed = match self.spec.schedule {
            Schedule::AnyOrder => true,
            Schedule::Fair => !progress.iter().any(|&a| self.enabled(st, a)),
        };
        actions.extend(progress);
        if timers_allowed {
            // Fair: time runs forward, so only the earliest deadline can fire (a later
            // timer must not starve an earlier one, such as a dialer's backoff).
            let earliest = match self.spec.schedule {
                Schedule::AnyOrder => None,
                Schedule::Fair => self.earliest_deadline(st),
            };
            let due = |at: Option<Instant>| earliest.is_none_or(|e| at == Some(e));
            for (i, n) in st.nodes.iter().enumerate() {
                if due(n.machine.poll_timeout()) {
                    actions.push(Action::Fire { node: i as u8 });
                }
            }
            for (i, l) in st.links.iter().enumerate() {
                if l.redial_at.is_some() && due(l.redial_at) {
                    actions.push(Action::Redial { link: i as u8 });
                }
            }
        }
        for (i, l) in st.links.iter().enumerate() {
            let link = i as u8;
            if l.up {
                for dir in 0..2u8 {
                    if !l.queue[usize::from(dir)].is_empty() {
                        if st.faults_left.losses > 0 {
                            actions.push(Action::Lose { link, dir });
                        }
                        if st.faults_left.duplicates > 0 {
                            actions.push(Action::Duplicate { link, dir });
                        }
                    }
                }
                if st.faults_left.detaches > 0 {
                    actions.push(Action::Detach { link });
                }
            } else if self.spec.schedule == Schedule::AnyOrder
                && st.faults_left.attaches > 0
                && self.spec.reconnect.is_none()
            {
                actions.push(Action::Attach { link });
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut st = last.clone();
        self.apply(&mut st, action)?;
        Some(st)
    }

    fn format_action(&self, action: &Action) -> String {
        let node = |n: u8| self.spec.nodes[usize::from(n)].name;
        let link = |l: u8, dir: u8| {
            let sl = &self.spec.links[usize::from(l)];
            let (from, to) = if dir == 0 { (sl.a, sl.b) } else { (sl.b, sl.a) };
            format!(
                "{}->{}",
                self.spec.nodes[from].name, self.spec.nodes[to].name
            )
        };
        let ends = |l: u8| link(l, 0).replace("->", "<->");
        let on = |n: u8, ctx: u8| {
            if self.spec.nodes[usize::from(n)].contexts > 0 {
                format!(" on context {ctx}")
            } else {
                String::new()
            }
        };
        match *action {
            Action::Deliver { link: l, dir } => format!("deliver {}", link(l, dir)),
            Action::Lose { link: l, dir } => format!("lose {}", link(l, dir)),
            Action::Duplicate { link: l, dir } => format!("duplicate {}", link(l, dir)),
            Action::Detach { link: l } => format!("detach {}", ends(l)),
            Action::Attach { link: l } => format!("attach {}", ends(l)),
            Action::Redial { link: l } => format!("backoff fires, redial {}", ends(l)),
            Action::Fire { node: n } => format!("timer fires at {}", node(n)),
            Action::Send { node: n } => format!("{} sends", node(n)),
            Action::Recv { node: n, ctx } => format!("{} receives{}", node(n), on(n, ctx)),
            Action::Reply { node: n, ctx } => format!("{} replies{}", node(n), on(n, ctx)),
            Action::Close { node: n } => format!("{} closes its socket", node(n)),
            Action::FlipTopic { node: n } => {
                let topic = self.spec.nodes[usize::from(n)]
                    .subscriptions
                    .first()
                    .map(|t| String::from_utf8_lossy(t).into_owned())
                    .unwrap_or_default();
                format!("{} flips its subscription to {topic:?}", node(n))
            }
        }
    }

    fn properties(&self) -> Vec<Property<Self>> {
        props::all(&self.spec)
    }

    fn within_boundary(&self, st: &State) -> bool {
        st.now.saturating_duration_since(Instant::ZERO) <= self.spec.horizon
    }
}
