//! A layer-2 run: the turmoil simulation built from a scenario, driven through the
//! timeline (the [`Driver`] of layer 2), and what it observed for the expectations.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sp_proto::{Instant, ProtoStats, SocketType};

use super::host::{host_main, port, Cmd, Mailbox, SharedRef};
use super::TurmoilError;
use crate::def::{host_matches, ms, HostDef, LinkOverride};
use crate::scenario::HostileFrame;
use crate::scenario::{play, Driver, Layer, Outcome, Report, Scenario, ScenarioError};
use crate::trace::What;
use crate::turmoil_net::Fabric;
use crate::{Sent, SocketLog};

/// A layer-2 run being played.
pub(super) struct Run<'a> {
    pub(super) sc: &'a Scenario,
    pub(super) seed: u64,
    sim: turmoil::Sim<'static>,
    pub(super) hosts: Vec<HostDef>,
    up: BTreeMap<String, bool>,
    mailboxes: BTreeMap<String, Arc<Mailbox>>,
    pub(super) shared: SharedRef,
    pub(super) fabric: Arc<Fabric>,
    pub(super) steps: u64,
}

impl<'a> Run<'a> {
    pub(super) fn err(&self, e: impl fmt::Display) -> TurmoilError {
        TurmoilError::Scenario(ScenarioError {
            file: None,
            seed: Some(self.seed),
            location: None,
            message: format!("{} (layer 2): {e}", self.sc.name),
        })
    }

    pub(super) fn new(sc: &'a Scenario, seed: u64) -> Result<Self, TurmoilError> {
        let hosts: Vec<HostDef> = sc.hosts.iter().flat_map(HostDef::expand).collect();
        let links = &sc.links;
        let d = &links.default;
        let end = sc.end() - Instant::ZERO;
        // turmoil panics when a listener's SYN queue overflows; every dialer has at most
        // one connection attempt in flight, so room for all of them avoids that.
        let dialers: usize = hosts
            .iter()
            .flat_map(|h| &h.sockets)
            .map(|s| s.dial.len())
            .sum();
        let sim = turmoil::Builder::new()
            .rng_seed(seed)
            .tcp_capacity(64.max(2 * dialers + 16))
            .tick_duration(Duration::from_millis(1))
            .simulation_duration(end + Duration::from_secs(60))
            .min_message_latency(ms(d.latency_ms))
            .max_message_latency(ms(d.latency_ms + d.jitter_ms))
            .build();
        let mut run = Self {
            sc,
            seed,
            sim,
            hosts: Vec::new(),
            up: BTreeMap::new(),
            mailboxes: BTreeMap::new(),
            shared: SharedRef::default(),
            fabric: Fabric::new(),
            steps: 0,
        };
        if sc.oracles {
            run.shared.lock().rec.watch = Some(crate::swarm::oracle::Watch::new(sc));
        }
        let mut names = BTreeSet::new();
        for h in &hosts {
            if !names.insert(h.name.clone()) {
                return Err(run.err(format!("host {} defined twice", h.name)));
            }
            let mut local = BTreeSet::new();
            for s in &h.sockets {
                s.socket_type().map_err(|e| run.err(e))?;
                s.config(0).map_err(|e| run.err(e))?;
                if !local.insert(&s.name) {
                    return Err(run.err(format!("socket {}.{} defined twice", h.name, s.name)));
                }
                for e in s.listen.iter().chain(&s.dial) {
                    e.pipe_info().map_err(|e| run.err(e))?;
                    port(e).map_err(|e| run.err(e))?;
                }
            }
        }
        for (index, h) in hosts.iter().enumerate() {
            let mailbox = Arc::new(Mailbox::default());
            let incarnation = Arc::new(AtomicU64::new(0));
            let (def, shared, fabric, mb) = (
                h.clone(),
                run.shared.clone(),
                run.fabric.clone(),
                mailbox.clone(),
            );
            run.sim.host(h.name.as_str(), move || {
                let inc = incarnation.fetch_add(1, Ordering::SeqCst);
                host_main(
                    def.clone(),
                    index,
                    inc,
                    seed,
                    shared.clone(),
                    fabric.clone(),
                    mb.clone(),
                )
            });
            run.mailboxes.insert(h.name.clone(), mailbox);
            run.up.insert(h.name.clone(), true);
        }
        // Per-pair latency: only where an override changes the default.
        if !links.pairs.is_empty() {
            for (i, a) in hosts.iter().enumerate() {
                for b in &hosts[i + 1..] {
                    let l = links.resolve(&a.name, &b.name);
                    if l.latency_ms != d.latency_ms || l.jitter_ms != d.jitter_ms {
                        let (a, b) = (a.name.as_str(), b.name.as_str());
                        run.sim.set_link_latency(a, b, ms(l.latency_ms));
                        if l.jitter_ms > 0.0 {
                            run.sim.set_link_max_message_latency(
                                a,
                                b,
                                ms(l.latency_ms + l.jitter_ms),
                            );
                        }
                    }
                }
            }
        }
        run.hosts = hosts;
        Ok(run)
    }

    pub(super) fn now(&self) -> Instant {
        Instant::ZERO + self.sim.elapsed()
    }

    /// The host and local socket name of `host.socket`, checked against the definitions.
    pub(super) fn socket(
        &self,
        name: &str,
        want: Option<SocketType>,
    ) -> Result<(String, String), TurmoilError> {
        let (h, s) = name
            .split_once('.')
            .ok_or_else(|| self.err(format!("no socket {name:?}")))?;
        let def = self
            .hosts
            .iter()
            .find(|d| d.name == h)
            .and_then(|d| d.sockets.iter().find(|x| x.name == s))
            .ok_or_else(|| self.err(format!("no socket {name:?}")))?;
        if let Some(w) = want {
            let ty = def.socket_type().map_err(|e| self.err(e))?;
            if ty != w {
                return Err(self.err(format!("invalid definition: {name} is a {ty}, not a {w}")));
            }
        }
        Ok((h.to_owned(), s.to_owned()))
    }

    pub(super) fn post(&self, host: &str, cmd: Cmd) {
        if self.up.get(host).copied().unwrap_or(false) {
            if let Some(m) = self.mailboxes.get(host) {
                m.post(cmd);
            }
        }
    }

    pub(super) fn pairs(&self, a: &str, b: &str) -> Vec<(String, String)> {
        let mut v = BTreeSet::new();
        for x in &self.hosts {
            for y in &self.hosts {
                if x.name != y.name && host_matches(a, &x.name) && host_matches(b, &y.name) {
                    let (p, q) = if x.name < y.name { (x, y) } else { (y, x) };
                    v.insert((p.name.clone(), q.name.clone()));
                }
            }
        }
        v.into_iter().collect()
    }

    pub(super) fn play(mut self) -> Result<Report, TurmoilError> {
        let sc = self.sc;
        play(&mut self, sc, Layer::Turmoil)?;
        let outcome = self.outcome();
        let verdict = self.shared.lock().rec.oracle_verdict();
        let checks = sc.check_with_oracles(&outcome, verdict, Layer::Turmoil);
        let trace = crate::trace::render(&self.shared.lock().rec.trace);
        Ok(Report {
            scenario: sc.name.clone(),
            file: None,
            seed: self.seed,
            end: self.now(),
            checks,
            events: self.steps,
            frames: outcome.frames,
            net_drops: BTreeMap::new(),
            trace,
            layer: Layer::Turmoil,
            skipped: sc.skipped_on(Layer::Turmoil),
        })
    }

    /// What the sockets did, read while the simulation (and its hosts) still exist.
    fn outcome(&self) -> TurmoilOutcome {
        let sh = self.shared.lock();
        let mut o = TurmoilOutcome {
            sent: sh.rec.sent.clone(),
            ..TurmoilOutcome::default()
        };
        for h in &self.hosts {
            let up = self.up.get(&h.name).copied().unwrap_or(false);
            for s in &h.sockets {
                let full = format!("{}.{}", h.name, s.name);
                let mut log = sh.rec.logs.get(&full).cloned().unwrap_or_default();
                let incs = sh.sockets.get(&full).map(Vec::as_slice).unwrap_or(&[]);
                let current = if up { incs.last() } else { None };
                let earlier = &incs[..incs.len() - usize::from(current.is_some())];
                for (k, sock) in incs.iter().enumerate() {
                    let st = sock.stats();
                    for (r, n) in st.protocol.drops() {
                        *log.drops.entry(r).or_default() += n;
                    }
                    log.refused += st.socket.pipes_refused;
                    o.frames += st.protocol.msgs_in;
                    if k < earlier.len() {
                        log.resends_before += st.protocol.resends;
                    }
                }
                if let Some(c) = current {
                    o.pipes.insert(full.clone(), c.pipe_count());
                    o.stats.insert(full.clone(), c.stats().protocol);
                }
                o.names.push(full.clone());
                o.logs.insert(full, log);
            }
        }
        o
    }
}

/// Layer 2: each action is posted to its host and performed there, or done to the
/// turmoil simulation itself (partitions, crashes).
impl Driver for Run<'_> {
    type Error = TurmoilError;

    fn advance(&mut self, t: Instant) -> Result<(), TurmoilError> {
        let target = t - Instant::ZERO;
        while self.sim.elapsed() < target {
            self.sim.step().map_err(|e| self.err(e))?;
            self.steps += 1;
        }
        Ok(())
    }

    fn send(
        &mut self,
        socket: &str,
        want: Option<SocketType>,
        (body, ctx): (Bytes, u32),
    ) -> Result<(), TurmoilError> {
        let (h, s) = self.socket(socket, want)?;
        self.post(
            &h,
            Cmd::Send {
                socket: s,
                body,
                ctx,
            },
        );
        Ok(())
    }

    fn subscribe(&mut self, socket: &str, topic: &str, on: bool) -> Result<(), TurmoilError> {
        let (h, s) = self.socket(socket, Some(SocketType::Sub))?;
        let topic = topic.to_owned();
        self.post(
            &h,
            Cmd::Subscribe {
                socket: s,
                topic,
                on,
            },
        );
        Ok(())
    }

    fn recv(&mut self, socket: &str, max: usize) -> Result<(), TurmoilError> {
        let (h, s) = self.socket(socket, None)?;
        self.post(&h, Cmd::Recv { socket: s, max });
        Ok(())
    }

    fn violated(&self) -> bool {
        self.shared.lock().rec.violated()
    }

    fn set_link(&mut self, _link: &LinkOverride) -> Result<(), TurmoilError> {
        // Refused before the run by `unsupported`.
        Err(self.err("action link is unsupported on layer 2"))
    }

    fn close_dialer(&mut self, socket: &str, addr: &str) -> Result<(), TurmoilError> {
        let (h, s) = self.socket(socket, None)?;
        let cmd = Cmd::CloseDialer {
            socket: s,
            addr: addr.to_owned(),
        };
        self.post(&h, cmd);
        Ok(())
    }

    fn close(&mut self, socket: &str) -> Result<(), TurmoilError> {
        let (h, s) = self.socket(socket, None)?;
        self.post(&h, Cmd::Close { socket: s });
        Ok(())
    }

    fn hostile(&mut self, _socket: &str, _frame: HostileFrame) -> Result<(), TurmoilError> {
        // Refused before the run by `unsupported`.
        Err(self.err("action hostile is unsupported on layer 2"))
    }

    fn partition(&mut self, a: &str, b: &str, oneway: bool, cut: bool) -> Result<(), TurmoilError> {
        if oneway {
            // Refused before the run by `unsupported`.
            let name = if cut { "partition" } else { "repair" };
            return Err(self.err(format!("action {name} is unsupported on layer 2")));
        }
        let at = self.now();
        for (x, y) in self.pairs(a, b) {
            if cut {
                // A black hole: turmoil holds every segment between the two hosts (its
                // TCP does not retransmit, so dropping them would stall the streams
                // for good) and delivers them in order on `release`.
                self.sim.hold(x.as_str(), y.as_str());
                let what = What::Partition {
                    a: x,
                    b: y,
                    oneway: false,
                };
                self.shared.note(at, "net", None, what);
            } else {
                self.sim.release(x.as_str(), y.as_str());
                let what = What::Repair {
                    a: x,
                    b: y,
                    oneway: false,
                };
                self.shared.note(at, "net", None, what);
            }
        }
        Ok(())
    }

    fn reset(&mut self, a: &str, b: &str) -> Result<(), TurmoilError> {
        let at = self.now();
        for (x, y) in self.pairs(a, b) {
            // Each end that was a pipe shows as its socket's disconnect.
            self.fabric
                .reset_between(self.sim.lookup(x.as_str()), self.sim.lookup(y.as_str()));
            self.shared
                .note(at, "net", None, What::Reset { a: x, b: y });
        }
        Ok(())
    }

    fn crash(&mut self, host: &str, up: bool, silent: bool) -> Result<(), TurmoilError> {
        if silent {
            // Refused before the run by `unsupported`.
            return Err(self.err("a silent crash is unsupported on layer 2"));
        }
        let Some(&was_up) = self.up.get(host) else {
            return Err(self.err(format!("no host {host:?}")));
        };
        let at = self.now();
        if was_up && !up {
            // The host's connections close in the order of their addresses, not in the
            // order tokio shuts its tasks down (which follows process-wide task ids).
            let ip = self.sim.lookup(host);
            self.fabric.crashing(ip);
            self.sim.crash(host);
            let unclosed = self.fabric.crashed(ip);
            if unclosed > 0 {
                return Err(self.err(format!(
                    "{unclosed} connections of crashed host {host} were not closed"
                )));
            }
            self.up.insert(host.to_owned(), false);
            if let Some(m) = self.mailboxes.get(host) {
                m.clear();
            }
            self.shared.note(at, host, None, What::Crash);
        } else if !was_up && up {
            self.sim.bounce(host);
            self.up.insert(host.to_owned(), true);
            self.shared.note(at, host, None, What::Restart);
        }
        Ok(())
    }

    fn restart_listener(
        &mut self,
        socket: &str,
        addr: &str,
        down: Duration,
    ) -> Result<(), TurmoilError> {
        let (h, s) = self.socket(socket, None)?;
        let cmd = Cmd::RestartListener {
            socket: s,
            addr: addr.to_owned(),
            down,
        };
        self.post(&h, cmd);
        Ok(())
    }
}

#[derive(Default)]
struct TurmoilOutcome {
    names: Vec<String>,
    logs: BTreeMap<String, SocketLog>,
    sent: Vec<Sent>,
    pipes: BTreeMap<String, usize>,
    pub(super) stats: BTreeMap<String, ProtoStats>,
    frames: u64,
}

impl Outcome for TurmoilOutcome {
    fn socket_names(&self) -> Vec<String> {
        self.names.clone()
    }
    fn log(&self, name: &str) -> Option<&SocketLog> {
        self.logs.get(name)
    }
    fn sent(&self) -> &[Sent] {
        &self.sent
    }
    fn net_drops(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
    fn pipe_count(&self, name: &str) -> usize {
        self.pipes.get(name).copied().unwrap_or(0)
    }
    fn stats(&self, name: &str) -> Option<&ProtoStats> {
        self.stats.get(name)
    }
}
