//! The liveness phase of a plan: at the heal time every partition is repaired, every
//! link put back to its base settings, every crashed host restarted; after the reconnect
//! bound each client sends a probe; by the end of the run (the delivery bound later)
//! every dialer is connected again, every REQ's last request answered, every PUSH probe
//! drained to a PULL, every survey probe answered by every respondent, and every BUS,
//! PUB and PAIR probe received by every peer. Each is an expectation labelled
//! `no liveness: ...` naming the socket and what it waits for.

use std::collections::BTreeMap;

use super::generate::reset_link;
use super::Plan;
use crate::def::{EndpointDef, RecvMode};
use crate::scenario::{
    Action, Expect, ExpectDef, PipesCheck, ReceivedCheck, Scenario, SendAction, Step,
};

/// The times of the liveness phase, derived from the plan's options.
#[derive(Clone, Copy, Debug)]
pub struct Phase {
    /// When everything is healed.
    pub heal_ms: f64,
    /// When the probes are sent: heal + the largest reconnect maximum (or the largest
    /// latency spike, or the black holes' retransmission, if longer) + the longest a
    /// keepalive takes to give up on a half-open connection + handshake time.
    pub probe_ms: f64,
    /// When the run ends and liveness is judged: probe + the largest REQ resend interval
    /// or survey deadline + delivery time + the longest backlog of a slow REP.
    pub end_ms: f64,
}

impl Plan {
    /// The liveness phase's times for this plan.
    pub fn bounds(&self) -> Phase {
        let lat = self.base.latency_ms + self.base.jitter_ms;
        let mut reconnect: f64 = 0.0;
        let mut wait: f64 = 0.0;
        // A half-open pipe (its peer lost power) goes when keepalive gives up on it.
        let mut keepalive: f64 = 0.0;
        for h in &self.hosts {
            for s in &h.sockets {
                for e in &s.dial {
                    reconnect = reconnect.max(e.reconnect_max_ms.unwrap_or(5000.0));
                }
                for e in s.listen.iter().chain(&s.dial) {
                    if let Some((idle, interval, count)) = e.tcp_timers().keepalive {
                        let gone = idle + interval * (count + 1);
                        keepalive = keepalive.max(gone.as_secs_f64() * 1000.0);
                    }
                }
                wait = wait
                    .max(s.options.resend_interval_ms.unwrap_or(0.0))
                    .max(s.options.survey_deadline_ms.unwrap_or(0.0));
            }
        }
        // Frames sent on a spiked or clogged link before the heal still arrive that late,
        // and a connection keeps order, so the probes wait behind them.
        let held = self
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::Link(o) => o.latency_ms,
                _ => None,
            })
            .fold(0.0, f64::max);
        // Partitions are black holes: what crossed a cut is delivered at its sender's next
        // TCP retransmission after the heal. Retransmissions back off from 1 s (a SYN;
        // data starts at 200 ms) doubling up to 120 s, so after a cut of length P the next
        // one comes at most P + 1 s after the heal (and never more than 120 s).
        let cut_since = self
            .steps
            .iter()
            .filter(|s| matches!(s.action, Action::Partition { .. }))
            .map(|s| s.at_ms)
            .fold(f64::INFINITY, f64::min);
        let retransmit = if cut_since.is_finite() {
            ((self.heal_ms - cut_since).max(0.0) + 1000.0).min(120_000.0)
        } else {
            0.0
        };
        let probe_ms =
            self.heal_ms + reconnect.max(held).max(retransmit) + keepalive + 10.0 * lat + 100.0;
        Phase {
            heal_ms: self.heal_ms,
            probe_ms,
            end_ms: probe_ms + wait + 10.0 * lat + 300.0 + self.backlog_ms(),
        }
    }

    /// How long a slow REP may take to work through the requests queued for it: it
    /// answers one at a time, and every request of its clients (and a resend of each,
    /// at most, since its delay is below their resend interval) may be queued.
    fn backlog_ms(&self) -> f64 {
        let mut worst: f64 = 0.0;
        for (i, h) in self.hosts.iter().enumerate() {
            let Some(reply) = &h.sockets[0].reply else {
                continue;
            };
            // Every REQ of its group: a device in front carries all their requests.
            let group = self.roles[i].group;
            let peers: Vec<String> = (0..self.hosts.len())
                .filter(|&p| self.roles[p].group == group && self.roles[p].client)
                .map(|p| format!("{}.s", self.hosts[p].name))
                .collect();
            let requests: usize = self
                .steps
                .iter()
                .filter_map(|s| match &s.action {
                    Action::Request(a) if peers.contains(&a.socket) => a.count,
                    _ => None,
                })
                .sum();
            worst = worst.max(2.0 * requests as f64 * reply.delay_ms);
        }
        worst
    }

    /// The plan as a scenario: its hosts, links and steps, then the liveness phase (heal,
    /// probes, drains) and its expectations, with the safety oracles on.
    pub fn scenario(&self) -> Scenario {
        let b = self.bounds();
        let mut steps = self.steps.clone();
        let mut expects = Vec::new();
        let at = |at_ms, action| Step {
            at_ms,
            layers: None,
            action,
        };
        steps.push(at(
            b.heal_ms,
            Action::Repair {
                a: "*".into(),
                b: "*".into(),
                oneway: false,
            },
        ));
        if self
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::Link(_)))
        {
            let l = reset_link(&self.base, "*".into(), "*".into());
            steps.push(at(b.heal_ms, Action::Link(l)));
        }
        let (down, last_request) = self.replay_timeline();
        // Peers and pipes as they are after the heal: without the dialers closed for good.
        let (live, closed) = self.after_closes();
        for h in &down {
            steps.push(at(b.heal_ms, Action::Restart { host: h.clone() }));
        }
        for (i, h) in self.hosts.iter().enumerate() {
            let s = &h.sockets[0];
            let full = format!("{}.s", h.name);
            if closed.contains(&full) {
                continue; // closed for good: no probe, no peer, no pipe expected
            }
            let probe = format!("probe~{full}~0");
            let send = |body: &str| SendAction {
                socket: full.clone(),
                body: body.to_owned(),
                count: None,
                every_ms: None,
                context: None,
            };
            let peers = live.peers(i);
            let label = |what: String| Some(format!("liveness: {what}"));
            match s.kind.as_str() {
                "sub" => {
                    steps.push(at(
                        b.heal_ms,
                        Action::Subscribe {
                            socket: full.clone(),
                            topic: "live".into(),
                        },
                    ));
                }
                "pub" => {
                    steps.push(at(
                        b.probe_ms,
                        Action::Send(send(&format!("live~{full}~0"))),
                    ));
                    for &p in &peers {
                        let body = format!("live~{full}~0");
                        let what = format!(
                            "{}.s waits for {full}'s probe (PUB/SUB mesh)",
                            self.hosts[p].name
                        );
                        expects.push(received(&self.hosts[p].name, &body, 1, label(what)));
                    }
                }
                "push" if !peers.is_empty() => {
                    steps.push(at(b.probe_ms, Action::Send(send(&probe))));
                    let pulls: Vec<String> = peers
                        .iter()
                        .map(|&p| format!("{}.s", self.hosts[p].name))
                        .collect();
                    expects.push(ExpectDef {
                        layers: None,
                        label: label(format!("{full} waits to drain its probe to a PULL")),
                        check: Expect::Received(ReceivedCheck {
                            body: Some(probe.clone()),
                            min: Some(1),
                            total: true,
                            ..ReceivedCheck::at(pulls.join("|"))
                        }),
                    });
                }
                "surveyor" => {
                    steps.push(at(b.probe_ms, Action::Survey(send(&probe))));
                    let what = format!(
                        "{full} waits for {} responses to its probe survey",
                        peers.len()
                    );
                    let body = format!("{probe}@*");
                    expects.push(received(&h.name, &body, peers.len() as u64, label(what)));
                }
                "req" if !peers.is_empty() => {
                    // The last request of each context (the default one included).
                    let bodies: Vec<String> = match last_request.get(&full) {
                        Some(last) => last.values().cloned().collect(),
                        None => {
                            steps.push(at(b.probe_ms, Action::Request(send(&probe))));
                            vec![probe.clone()]
                        }
                    };
                    for body in bodies {
                        let what = format!("{full} waits for the reply to {body:?}");
                        expects.push(received(&h.name, &format!("{body}@*"), 1, label(what)));
                    }
                }
                "bus" | "pair" | "pair1" => {
                    steps.push(at(b.probe_ms, Action::Send(send(&probe))));
                    for &p in &peers {
                        let what =
                            format!("{}.s waits for {full}'s probe (mesh)", self.hosts[p].name);
                        expects.push(received(&self.hosts[p].name, &probe, 1, label(what)));
                    }
                }
                _ => {}
            }
            if s.recv == RecvMode::Manual {
                let mut t = b.heal_ms;
                while t < b.end_ms {
                    let act = Action::Recv {
                        socket: full.clone(),
                        max: None,
                    };
                    steps.push(at(t, act));
                    t += 20.0;
                }
            }
            for s in &live.hosts[i].sockets {
                let full = format!("{}.{}", h.name, s.name);
                let pipes = s.dial.len() + live.dialers_of(&s.listen);
                expects.push(ExpectDef {
                    layers: None,
                    label: label(format!("{full} waits for its {pipes} pipes to reconnect")),
                    check: Expect::Pipes(PipesCheck::at_least(full, pipes as u64)),
                });
            }
        }
        steps.sort_by(|a, b| a.at_ms.partial_cmp(&b.at_ms).expect("finite times"));
        Scenario {
            name: format!("swarm-{}-{}", self.seed, self.layer),
            description: format!(
                "Swarm seed {} ({} hosts): heal at {}ms, probes at {}ms, liveness judged at {}ms.",
                self.seed,
                self.hosts.len(),
                b.heal_ms,
                b.probe_ms,
                b.end_ms
            ),
            run_ms: Some(b.end_ms),
            seeds: Some(vec![self.seed]),
            links: super::generate::links(&self.base),
            hosts: self.hosts.clone(),
            steps,
            expects,
            oracles: true,
        }
    }

    /// Replays the plan's timeline statically: the hosts still down at the heal time, and
    /// for each REQ whose host did not crash after it, the body of its last request on
    /// each context it used.
    fn replay_timeline(&self) -> (Vec<String>, BTreeMap<String, BTreeMap<u32, String>>) {
        let mut up: BTreeMap<&str, bool> =
            self.hosts.iter().map(|h| (h.name.as_str(), true)).collect();
        let mut last = BTreeMap::new();
        let mut order: Vec<(f64, usize, usize)> = Vec::new();
        for (k, s) in self.steps.iter().enumerate() {
            let (count, every) = match &s.action {
                Action::Request(a) => (a.count.unwrap_or(1), a.every_ms.unwrap_or(0.0)),
                _ => (1, 0.0),
            };
            for i in 0..count {
                order.push((s.at_ms + every * i as f64, k, i));
            }
        }
        order.sort_by(|a, b| a.partial_cmp(b).expect("finite times"));
        for (t, k, i) in order {
            if t >= self.heal_ms {
                continue;
            }
            match &self.steps[k].action {
                Action::Crash { host, .. } => {
                    up.insert(host, false);
                    last.retain(|s: &String, _| s.split_once('.').map(|x| x.0) != Some(host));
                }
                Action::Restart { host } => {
                    up.insert(host, true);
                }
                Action::Request(a) => {
                    let h = a.socket.split_once('.').map_or("", |x| x.0);
                    if up.get(h).copied().unwrap_or(false) {
                        let (body, ctx) = a.body(i);
                        let body = String::from_utf8_lossy(&body).into_owned();
                        last.entry(a.socket.clone())
                            .or_insert_with(BTreeMap::new)
                            .insert(ctx, body);
                    }
                }
                _ => {}
            }
        }
        let down = up
            .into_iter()
            .filter(|(_, u)| !u)
            .map(|(h, _)| h.to_owned())
            .collect();
        (down, last)
    }

    /// The plan as it is after the heal: without the dial endpoints closed by a
    /// `close_dialer` step, and without every endpoint of a socket closed by a `close`
    /// step (nor the dial endpoints of others to its listeners), for each close before
    /// the heal while its host was up (a close on a crashed host does nothing) and whose
    /// host does not crash after it (a restart reopens what was closed). Also the
    /// sockets closed for good.
    fn after_closes(&self) -> (Self, Vec<String>) {
        let mut live = self.clone();
        let mut closed = Vec::new();
        for st in self.steps.iter().filter(|s| s.at_ms < self.heal_ms) {
            let (socket, addr) = match &st.action {
                Action::CloseDialer { socket, addr } => (socket, Some(addr)),
                Action::Close { socket } => (socket, None),
                _ => continue,
            };
            let Some((host, name)) = socket.split_once('.') else {
                continue;
            };
            // The host's crashes and restarts, in time order (steps are sorted).
            let mut ups = self.steps.iter().filter_map(|c| match &c.action {
                Action::Crash { host: h, .. } if h == host => Some((c.at_ms, false)),
                Action::Restart { host: h } if h == host => Some((c.at_ms, true)),
                _ => None,
            });
            let up_then = ups
                .clone()
                .take_while(|&(t, _)| t <= st.at_ms)
                .last()
                .is_none_or(|(_, up)| up);
            let crashes_later = ups.any(|(t, up)| !up && t >= st.at_ms);
            if !up_then || crashes_later {
                continue;
            }
            let mut gone = Vec::new();
            for h in live.hosts.iter_mut().filter(|h| h.name == host) {
                for s in h.sockets.iter_mut().filter(|s| s.name == name) {
                    match addr {
                        Some(addr) => s.dial.retain(|e| e.addr != *addr),
                        None => {
                            s.dial.clear();
                            gone.extend(s.listen.drain(..).map(|e| e.addr));
                        }
                    }
                }
            }
            if addr.is_none() {
                for s in live.hosts.iter_mut().flat_map(|h| &mut h.sockets) {
                    s.dial.retain(|e| !gone.contains(&e.addr));
                }
                closed.push(socket.clone());
            }
        }
        (live, closed)
    }

    /// The hosts host `i` talks to: the other side of its group (every other member on
    /// BUS), connected by a dial in either direction.
    pub(super) fn peers(&self, i: usize) -> Vec<usize> {
        (0..self.hosts.len())
            .filter(|&j| j != i && self.connected(i, j))
            .collect()
    }

    /// Whether a socket of one of hosts `i` and `j` dials the other.
    fn connected(&self, i: usize, j: usize) -> bool {
        let dials = |x: usize, y: usize| {
            let prefix = format!("{}:", self.hosts[y].name);
            self.hosts[x]
                .sockets
                .iter()
                .flat_map(|s| &s.dial)
                .any(|e| e.addr.starts_with(&prefix))
        };
        dials(i, j) || dials(j, i)
    }

    /// How many dial endpoints point at one of the addresses `listen`.
    fn dialers_of(&self, listen: &[EndpointDef]) -> usize {
        self.hosts
            .iter()
            .flat_map(|h| &h.sockets)
            .flat_map(|s| &s.dial)
            .filter(|e| listen.iter().any(|l| l.addr == e.addr))
            .count()
    }
}

/// A `received` expectation: socket `host.s` received at least `min` messages with `body`.
fn received(host: &str, body: &str, min: u64, label: Option<String>) -> ExpectDef {
    ExpectDef {
        layers: None,
        label,
        check: Expect::Received(ReceivedCheck {
            body: Some(body.to_owned()),
            min: Some(min),
            ..ReceivedCheck::at(format!("{host}.s"))
        }),
    }
}
