//! Scenario files: a network, a timeline of actions, and expectations, in TOML.
//!
//! ```toml
//! name = "push-failover"
//! run_ms = 3000                    # how long to run (virtual time)
//!
//! [links.default]                  # every direction between two hosts
//! latency_ms = 1
//! [[links.pair]]                   # overrides (both directions unless oneway = true)
//! a = "client"
//! b = "ldn"
//! latency_ms = 40
//!
//! [[host]]
//! name = "ny"                      # `count = N` makes ny-0000 .. ny-{N-1}
//! [[host.socket]]
//! name = "pull"
//! type = "pull"
//! listen = [{ addr = "ny:5555" }]
//!
//! [[step]]                         # the timeline
//! at_ms = 100
//! do = "send"                      # send request survey subscribe unsubscribe recv
//! socket = "client.push"           # partition repair crash restart restart_listener wait
//! body = "job-{i}"
//! count = 10
//! every_ms = 50
//!
//! [[expect]]
//! check = "exactly_once"           # received exactly_once survey drops net_drops
//! sender = "client.push"           # pipes connect_rate stat
//! receivers = "*.pull"
//! ```
//!
//! A step or expectation may carry `layers = ["proto"]` (or `["turmoil"]`) to apply on
//! one simulator layer only; the other layer lists it in [`Report::skipped`].
//!
//! [`run`] loads a file, runs it with a seed and checks every expectation; the
//! [`Report`] says what passed and what did not, and every failure line carries the seed
//! that reproduces it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::Deserialize;
use sp_proto::{DropReason, Instant, ProtoStats};

use crate::def::{host_matches, ms, HostDef, LinksDef};
use crate::trace::{body_text, time_text};
use crate::{Sent, Sim, SimError, SocketLog};

/// A scenario as read from its file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name (defaults to the file stem).
    #[serde(default)]
    pub name: String,
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// How long to run, in virtual milliseconds (default: last step + 2000).
    #[serde(default)]
    pub run_ms: Option<f64>,
    /// Seeds `cargo test` runs this scenario with (default `[1, 2, 3]`).
    #[serde(default)]
    pub seeds: Option<Vec<u64>>,
    /// The network.
    #[serde(default)]
    pub links: LinksDef,
    /// Hosts and their sockets.
    #[serde(default, rename = "host")]
    pub hosts: Vec<HostDef>,
    /// The timeline.
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
    /// What must be true at the end.
    #[serde(default, rename = "expect")]
    pub expects: Vec<ExpectDef>,
}

/// The two simulator layers a scenario can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The pure deterministic simulator over the `sp-proto` state machines ([`Sim`]).
    Proto,
    /// The real `sp-net` sockets over turmoil's simulated TCP
    /// ([`turmoil_scenario`](crate::turmoil_scenario)).
    Turmoil,
}

impl Layer {
    /// The layer's name as written in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Proto => "proto",
            Self::Turmoil => "turmoil",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Layer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "proto" => Ok(Self::Proto),
            "turmoil" => Ok(Self::Turmoil),
            other => Err(format!("unknown layer {other:?} (want proto or turmoil)")),
        }
    }
}

/// Whether an entry restricted to `layers` (absent: every layer) applies on `layer`.
pub(crate) fn on_layer(layers: Option<&[Layer]>, layer: Layer) -> bool {
    layers.is_none_or(|l| l.contains(&layer))
}

/// An expectation as written in a file: the check, and optionally the layers it applies
/// on (`layers = ["proto"]`; absent: every layer).
#[derive(Clone, Debug, Deserialize)]
pub struct ExpectDef {
    /// Only on these layers (absent: every layer).
    #[serde(default)]
    pub layers: Option<Vec<Layer>>,
    /// The check.
    #[serde(flatten)]
    pub check: Expect,
}

/// One timeline entry.
#[derive(Clone, Debug, Deserialize)]
pub struct Step {
    /// When, in virtual milliseconds.
    pub at_ms: f64,
    /// Only on these layers (absent: every layer), e.g. `layers = ["proto"]` for an
    /// action that has no faithful model on turmoil.
    #[serde(default)]
    pub layers: Option<Vec<Layer>>,
    /// What.
    #[serde(flatten)]
    pub action: Action,
}

/// A timeline action.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// The application sends (`{i}` in the body is the repetition index).
    Send {
        /// `host.socket`.
        socket: String,
        /// The body.
        body: String,
        /// Repetitions (default 1).
        #[serde(default)]
        count: Option<usize>,
        /// Interval between repetitions in milliseconds.
        #[serde(default)]
        every_ms: Option<f64>,
    },
    /// A REQ sends a request (a send that checks the socket is a REQ).
    Request {
        /// `host.socket`.
        socket: String,
        /// The body.
        body: String,
        /// Repetitions.
        #[serde(default)]
        count: Option<usize>,
        /// Interval between repetitions in milliseconds.
        #[serde(default)]
        every_ms: Option<f64>,
    },
    /// A SURVEYOR starts a survey.
    Survey {
        /// `host.socket`.
        socket: String,
        /// The body.
        body: String,
        /// Repetitions.
        #[serde(default)]
        count: Option<usize>,
        /// Interval between repetitions in milliseconds.
        #[serde(default)]
        every_ms: Option<f64>,
    },
    /// A SUB subscribes to a topic.
    Subscribe {
        /// `host.socket`.
        socket: String,
        /// The topic.
        topic: String,
    },
    /// A SUB unsubscribes.
    Unsubscribe {
        /// `host.socket`.
        socket: String,
        /// The topic.
        topic: String,
    },
    /// The application receives what is ready (for `recv = "manual"` sockets).
    Recv {
        /// `host.socket`.
        socket: String,
        /// At most this many (default: all).
        #[serde(default)]
        max: Option<usize>,
    },
    /// Cut the network between host patterns.
    Partition {
        /// One side (a host, `*`, or a prefix ending in `*`).
        a: String,
        /// The other side.
        b: String,
        /// Only `a -> b`.
        #[serde(default)]
        oneway: bool,
    },
    /// Repair a partition.
    Repair {
        /// One side.
        a: String,
        /// The other side.
        b: String,
        /// Only `a -> b`.
        #[serde(default)]
        oneway: bool,
    },
    /// A host crashes (state lost).
    Crash {
        /// The host.
        host: String,
    },
    /// A crashed host restarts from its definition.
    Restart {
        /// The host.
        host: String,
    },
    /// A listener closes and binds again after `down_ms`.
    RestartListener {
        /// `host.socket`.
        socket: String,
        /// The listener's address.
        addr: String,
        /// How long it stays down.
        #[serde(default)]
        down_ms: f64,
    },
    /// Nothing: only lets time pass (marks a point in the timeline).
    Wait {},
}

/// Bounds on a number: `count` exact, or `min`/`max`.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// Exactly this many.
    #[serde(default)]
    pub count: Option<u64>,
    /// At least.
    #[serde(default)]
    pub min: Option<u64>,
    /// At most.
    #[serde(default)]
    pub max: Option<u64>,
}

impl Bounds {
    fn check(&self, n: u64) -> Result<(), String> {
        if let Some(c) = self.count {
            if n != c {
                return Err(format!("got {n}, want exactly {c}"));
            }
        }
        if let Some(m) = self.min {
            if n < m {
                return Err(format!("got {n}, want at least {m}"));
            }
        }
        if let Some(m) = self.max {
            if n > m {
                return Err(format!("got {n}, want at most {m}"));
            }
        }
        Ok(())
    }
}

/// An expectation, checked after the run.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case", deny_unknown_fields)]
pub enum Expect {
    /// Messages received by the application of each socket matching `socket`.
    ///
    /// The messages considered are those sent by `sent_by` (a socket pattern) within
    /// `sent_between` (ms, half-open), or with the body `body` (a trailing `*` makes it a
    /// prefix). `all`: every one was received; `none`: none was; bounds count those
    /// received. Without a sender or body, bounds count everything received. `by_ms`,
    /// `after_ms` and `from_host` restrict which receptions count.
    Received {
        /// A label for the report.
        #[serde(default)]
        label: Option<String>,
        /// Receiving sockets (`host.socket`; the host part may be a pattern).
        socket: String,
        /// Sending sockets.
        #[serde(default)]
        sent_by: Option<String>,
        /// Only messages sent within `[from, to)` ms.
        #[serde(default)]
        sent_between: Option<[f64; 2]>,
        /// Only messages with this body (or prefix with a trailing `*`).
        #[serde(default)]
        body: Option<String>,
        /// Only receptions from a peer on this host (pattern).
        #[serde(default)]
        from_host: Option<String>,
        /// Only receptions at or before this time.
        #[serde(default)]
        by_ms: Option<f64>,
        /// Only receptions at or after this time.
        #[serde(default)]
        after_ms: Option<f64>,
        /// Every considered message was received.
        #[serde(default)]
        all: bool,
        /// No considered message was received.
        #[serde(default)]
        none: bool,
        /// Bounds on how many were received (per socket).
        #[serde(default)]
        count: Option<u64>,
        /// See `count`.
        #[serde(default)]
        min: Option<u64>,
        /// See `count`.
        #[serde(default)]
        max: Option<u64>,
    },
    /// Every message `sender` sent (and the protocol accepted) was received exactly once
    /// by one of `receivers`, counting duplicates across all of them.
    ExactlyOnce {
        /// A label for the report.
        #[serde(default)]
        label: Option<String>,
        /// Sending socket pattern.
        sender: String,
        /// Receiving socket pattern.
        receivers: String,
    },
    /// The responses a SURVEYOR's application received for one survey, as a set.
    Survey {
        /// A label for the report.
        #[serde(default)]
        label: Option<String>,
        /// The surveyor.
        socket: String,
        /// Which survey (0 first).
        #[serde(default)]
        round: usize,
        /// The response bodies expected, in any order.
        responses: Vec<String>,
    },
    /// Protocol drops with a reason, summed over the sockets matching `socket`.
    Drops {
        /// A label for the report.
        #[serde(default)]
        label: Option<String>,
        /// Socket pattern.
        socket: String,
        /// A [`DropReason`] name (`survey_expired`, `stale_id`, ...) or `any`.
        reason: String,
        /// Bounds.
        #[serde(default)]
        count: Option<u64>,
        /// See `count`.
        #[serde(default)]
        min: Option<u64>,
        /// See `count`.
        #[serde(default)]
        max: Option<u64>,
    },
    /// Frames the network dropped for a reason (`loss`, `partition`, `conn_closed`,
    /// `host_down`) or `any`.
    NetDrops {
        /// A label for the report.
        #[serde(default)]
        label: Option<String>,
        /// The reason.
        reason: String,
        /// Bounds.
        #[serde(default)]
        count: Option<u64>,
        /// See `count`.
        #[serde(default)]
        min: Option<u64>,
        /// See `count`.
        #[serde(default)]
        max: Option<u64>,
    },
    /// Pipes each matching socket has at the end of the run.
    Pipes {
        /// A label for the report.
        #[serde(default)]
        label: Option<String>,
        /// Socket pattern.
        socket: String,
        /// Bounds.
        #[serde(default)]
        count: Option<u64>,
        /// See `count`.
        #[serde(default)]
        min: Option<u64>,
        /// See `count`.
        #[serde(default)]
        max: Option<u64>,
    },
    /// Pipe attachments at the matching sockets, summed: the most seen within any
    /// window of `window_ms` (after `after_ms`) is at most `max_per_window`, and the total
    /// is within the bounds.
    ConnectRate {
        /// A label for the report.
        #[serde(default)]
        label: Option<String>,
        /// Socket pattern.
        socket: String,
        /// Window length.
        window_ms: f64,
        /// Only attachments at or after this time.
        #[serde(default)]
        after_ms: f64,
        /// Only attachments before this time.
        #[serde(default)]
        before_ms: Option<f64>,
        /// Peak allowed in one window.
        max_per_window: u64,
        /// Bounds on the total number of attachments counted.
        #[serde(default)]
        count: Option<u64>,
        /// See `count`.
        #[serde(default)]
        min: Option<u64>,
        /// See `count`.
        #[serde(default)]
        max: Option<u64>,
    },
    /// A counter (`resends`, `delivered`, `msgs_in`, `msgs_out` from the protocol;
    /// `refused`, `connects`, `send_failed` from the simulator), summed over the matching sockets
    /// (resends, refused and connects also over crashed incarnations).
    Stat {
        /// A label for the report.
        #[serde(default)]
        label: Option<String>,
        /// Socket pattern.
        socket: String,
        /// Counter name.
        field: String,
        /// Bounds.
        #[serde(default)]
        count: Option<u64>,
        /// See `count`.
        #[serde(default)]
        min: Option<u64>,
        /// See `count`.
        #[serde(default)]
        max: Option<u64>,
    },
}

/// Why a scenario could not run (distinct from expectations that failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file, if loaded from one.
    pub file: Option<PathBuf>,
    /// The seed of the run, if it started.
    pub seed: Option<u64>,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.file {
            write!(f, "{}: ", p.display())?;
        }
        if let Some(s) = self.seed {
            write!(f, "[seed {s}] ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// The result of one expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    /// What was checked.
    pub what: String,
    /// Whether it held.
    pub ok: bool,
    /// Figures or the reason it failed.
    pub detail: String,
}

/// What a run did and which expectations held.
#[derive(Clone, Debug)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// The file, if loaded from one.
    pub file: Option<PathBuf>,
    /// The seed.
    pub seed: u64,
    /// Virtual time at the end.
    pub end: Instant,
    /// One entry per expectation.
    pub checks: Vec<CheckResult>,
    /// Events processed.
    pub events: u64,
    /// Frames delivered to protocols.
    pub frames: u64,
    /// Network drops by reason.
    pub net_drops: BTreeMap<String, u64>,
    /// The rendered trace.
    pub trace: String,
    /// The layer the run used.
    pub layer: Layer,
    /// Steps and expectations the scenario restricts to other layers (not run or checked).
    pub skipped: Vec<String>,
}

impl Report {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The failed expectations, one line each, with the seed that reproduces them.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| {
                format!(
                    "{} [seed {}] FAILED {}: {}",
                    self.scenario, self.seed, c.what, c.detail
                )
            })
            .collect()
    }

    /// One line: name, seed, verdict, figures.
    pub fn summary(&self) -> String {
        let ok = self.checks.iter().filter(|c| c.ok).count();
        format!(
            "{} seed={} {} ({ok}/{} checks) end={} events={} frames={}",
            self.scenario,
            self.seed,
            if self.passed() { "PASS" } else { "FAIL" },
            self.checks.len(),
            time_text(self.end),
            self.events,
            self.frames
        ) + if self.layer == Layer::Proto {
            ""
        } else {
            " layer=turmoil"
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        if let Some(p) = &self.file {
            let layer = match self.layer {
                Layer::Proto => "",
                Layer::Turmoil => " --layer turmoil",
            };
            writeln!(
                f,
                "  replay: sp-sim run {} --seed {}{layer}",
                p.display(),
                self.seed
            )?;
        }
        for c in &self.checks {
            writeln!(
                f,
                "  [{}] {}: {}",
                if c.ok { "ok" } else { "FAIL" },
                c.what,
                c.detail
            )?;
        }
        for s in &self.skipped {
            writeln!(f, "  [skipped on {}] {s}", self.layer)?;
        }
        if !self.net_drops.is_empty() {
            let d: Vec<String> = self
                .net_drops
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            writeln!(f, "  network drops: {}", d.join(" "))?;
        }
        Ok(())
    }
}

/// Loads `path` and runs it with `seed` on layer 1 (the pure simulator); see
/// [`turmoil_scenario::run`](crate::turmoil_scenario::run) for layer 2.
pub fn run(path: impl AsRef<Path>, seed: u64) -> Result<Report, ScenarioError> {
    let path = path.as_ref();
    let sc = Scenario::load(path)?;
    let mut r = sc.run(seed).map_err(|mut e| {
        e.file = Some(path.to_owned());
        e
    })?;
    r.file = Some(path.to_owned());
    Ok(r)
}

/// One timeline action at a resolved time, with its repetition index.
pub(crate) struct Timed<'a> {
    pub(crate) at: Instant,
    pub(crate) action: &'a Action,
    pub(crate) index: usize,
}

impl Scenario {
    /// Parses a scenario from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ScenarioError> {
        toml::from_str(text).map_err(|e| ScenarioError {
            file: None,
            seed: None,
            message: e.to_string(),
        })
    }

    /// Reads and parses a scenario file; the name defaults to the file stem.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let err = |message: String| ScenarioError {
            file: Some(path.to_owned()),
            seed: None,
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let mut sc = Self::from_toml(&text).map_err(|e| err(e.message))?;
        if sc.name.is_empty() {
            sc.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        Ok(sc)
    }

    /// The seeds `cargo test` uses for this scenario.
    pub fn test_seeds(&self) -> Vec<u64> {
        self.seeds.clone().unwrap_or_else(|| vec![1, 2, 3])
    }

    /// Builds the network (hosts started, nothing run yet).
    pub fn build(&self, seed: u64) -> Result<Sim, ScenarioError> {
        let mut sim = Sim::new(seed);
        sim.set_links(self.links.clone())
            .map_err(|e| self.err(seed, e))?;
        for h in &self.hosts {
            sim.add_host(h).map_err(|e| self.err(seed, e))?;
        }
        Ok(sim)
    }

    fn err(&self, seed: u64, e: impl fmt::Display) -> ScenarioError {
        ScenarioError {
            file: None,
            seed: Some(seed),
            message: format!("{}: {e}", self.name),
        }
    }

    /// The timeline's actions in time order; with a layer, only the steps for that layer.
    pub(crate) fn timeline(&self, layer: Option<Layer>) -> Vec<Timed<'_>> {
        let mut v = Vec::new();
        for st in &self.steps {
            if layer.is_some_and(|l| !on_layer(st.layers.as_deref(), l)) {
                continue;
            }
            let (count, every) = match &st.action {
                Action::Send {
                    count, every_ms, ..
                }
                | Action::Request {
                    count, every_ms, ..
                }
                | Action::Survey {
                    count, every_ms, ..
                } => (count.unwrap_or(1), every_ms.unwrap_or(0.0)),
                _ => (1, 0.0),
            };
            for i in 0..count {
                v.push(Timed {
                    at: Instant::ZERO + ms(st.at_ms + every * i as f64),
                    action: &st.action,
                    index: i,
                });
            }
        }
        // Stable: steps at the same time keep file order.
        v.sort_by_key(|t| t.at);
        v
    }

    /// When the run ends.
    pub fn end(&self) -> Instant {
        match self.run_ms {
            Some(m) => Instant::ZERO + ms(m),
            None => {
                let last = self.timeline(None).last().map_or(Instant::ZERO, |t| t.at);
                last + ms(2000.0)
            }
        }
    }

    /// Runs the scenario with `seed` and checks every expectation.
    pub fn run(&self, seed: u64) -> Result<Report, ScenarioError> {
        let mut sim = self.build(seed)?;
        self.play(&mut sim, seed)?;
        Ok(self.report(&sim, seed))
    }

    /// Plays the timeline on a built network, then runs to the end time.
    pub fn play(&self, sim: &mut Sim, seed: u64) -> Result<(), ScenarioError> {
        for t in self.timeline(Some(Layer::Proto)) {
            sim.run_until(t.at).map_err(|e| self.err(seed, e))?;
            match apply(sim, t.action, t.index) {
                Ok(()) | Err(SimError::HostDown(_)) => {}
                Err(e) => return Err(self.err(seed, e)),
            }
        }
        sim.run_until(self.end()).map_err(|e| self.err(seed, e))
    }

    /// Checks the expectations against a finished run.
    pub fn report(&self, sim: &Sim, seed: u64) -> Report {
        let checks = self
            .expects
            .iter()
            .filter(|e| on_layer(e.layers.as_deref(), Layer::Proto))
            .map(|e| check(sim, &e.check))
            .collect();
        Report {
            scenario: self.name.clone(),
            file: None,
            seed,
            end: sim.now(),
            checks,
            events: sim.events_processed(),
            frames: sim.frames_delivered(),
            net_drops: sim
                .net_drops()
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            trace: sim.trace_text(),
            layer: Layer::Proto,
            skipped: self.skipped_on(Layer::Proto),
        }
    }

    /// The steps and expectations this scenario restricts to layers other than `layer`,
    /// one description each.
    pub fn skipped_on(&self, layer: Layer) -> Vec<String> {
        let steps = self
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| !on_layer(s.layers.as_deref(), layer))
            .map(|(i, s)| format!("step {i} at {}ms ({})", s.at_ms, s.action.name()));
        let expects = self
            .expects
            .iter()
            .enumerate()
            .filter(|(_, e)| !on_layer(e.layers.as_deref(), layer))
            .map(|(i, e)| format!("expect {i}: {}", e.check.what()));
        steps.chain(expects).collect()
    }
}

impl Action {
    /// The action's name as written in files (`send`, `partition`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Send { .. } => "send",
            Self::Request { .. } => "request",
            Self::Survey { .. } => "survey",
            Self::Subscribe { .. } => "subscribe",
            Self::Unsubscribe { .. } => "unsubscribe",
            Self::Recv { .. } => "recv",
            Self::Partition { .. } => "partition",
            Self::Repair { .. } => "repair",
            Self::Crash { .. } => "crash",
            Self::Restart { .. } => "restart",
            Self::RestartListener { .. } => "restart_listener",
            Self::Wait {} => "wait",
        }
    }
}

impl Expect {
    /// The check's name as written in files (`received`, `survey`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Received { .. } => "received",
            Self::ExactlyOnce { .. } => "exactly_once",
            Self::Survey { .. } => "survey",
            Self::Drops { .. } => "drops",
            Self::NetDrops { .. } => "net_drops",
            Self::Pipes { .. } => "pipes",
            Self::ConnectRate { .. } => "connect_rate",
            Self::Stat { .. } => "stat",
        }
    }

    /// The label, or the check's name.
    pub fn what(&self) -> String {
        let label = match self {
            Self::Received { label, .. }
            | Self::ExactlyOnce { label, .. }
            | Self::Survey { label, .. }
            | Self::Drops { label, .. }
            | Self::NetDrops { label, .. }
            | Self::Pipes { label, .. }
            | Self::ConnectRate { label, .. }
            | Self::Stat { label, .. } => label,
        };
        match label {
            Some(l) => format!("{} {l:?}", self.name()),
            None => self.name().to_owned(),
        }
    }
}

/// What a finished run observed, as the expectations read it: implemented by [`Sim`] and
/// by the turmoil layer's outcome.
pub(crate) trait Outcome {
    /// Every socket name (`host.socket`), in order.
    fn socket_names(&self) -> Vec<String>;
    /// What was recorded about one socket.
    fn log(&self, name: &str) -> Option<&SocketLog>;
    /// Every application send.
    fn sent(&self) -> &[Sent];
    /// Frames the network dropped, by reason.
    fn net_drops(&self) -> Vec<(String, u64)>;
    /// Pipes a socket has at the end.
    fn pipe_count(&self, name: &str) -> usize;
    /// Protocol counters of a socket's current incarnation.
    fn stats(&self, name: &str) -> Option<&ProtoStats>;
}

impl Outcome for Sim {
    fn socket_names(&self) -> Vec<String> {
        Self::socket_names(self)
    }
    fn log(&self, name: &str) -> Option<&SocketLog> {
        Self::log(self, name)
    }
    fn sent(&self) -> &[Sent] {
        Self::sent(self)
    }
    fn net_drops(&self) -> Vec<(String, u64)> {
        Self::net_drops(self)
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }
    fn pipe_count(&self, name: &str) -> usize {
        Self::pipe_count(self, name)
    }
    fn stats(&self, name: &str) -> Option<&ProtoStats> {
        Self::stats(self, name)
    }
}

fn apply(sim: &mut Sim, a: &Action, i: usize) -> Result<(), SimError> {
    let body = |b: &str| Bytes::from(b.replace("{i}", &i.to_string()));
    let require = |sim: &Sim, socket: &str, ty: sp_proto::SocketType| {
        use sp_proto::Protocol;
        match sim.protocol(socket) {
            Some(p) if p.socket_type() != ty => Err(SimError::Config(format!(
                "{socket} is a {}, not a {ty}",
                p.socket_type()
            ))),
            _ => Ok(()),
        }
    };
    match a {
        Action::Send {
            socket, body: b, ..
        } => sim.send(socket, body(b)).map(drop),
        Action::Request {
            socket, body: b, ..
        } => {
            require(sim, socket, sp_proto::SocketType::Req)?;
            sim.send(socket, body(b)).map(drop)
        }
        Action::Survey {
            socket, body: b, ..
        } => {
            require(sim, socket, sp_proto::SocketType::Surveyor)?;
            sim.send(socket, body(b)).map(drop)
        }
        Action::Subscribe { socket, topic } => sim.subscribe(socket, topic.as_bytes(), true),
        Action::Unsubscribe { socket, topic } => sim.subscribe(socket, topic.as_bytes(), false),
        Action::Recv { socket, max } => sim.recv(socket, max.unwrap_or(usize::MAX)).map(drop),
        Action::Partition { a, b, oneway } => {
            sim.partition(a, b, *oneway);
            Ok(())
        }
        Action::Repair { a, b, oneway } => {
            sim.repair(a, b, *oneway);
            Ok(())
        }
        Action::Crash { host } => sim.crash(host),
        Action::Restart { host } => sim.restart(host),
        Action::RestartListener {
            socket,
            addr,
            down_ms,
        } => sim.restart_listener(socket, addr, ms(*down_ms)),
        Action::Wait {} => Ok(()),
    }
}

/// Whether socket name `name` (`host.socket`) matches `pattern` (host part may be a
/// pattern; socket part exact or `*`; alternatives separated by `|`).
fn socket_matches(pattern: &str, name: &str) -> bool {
    pattern.split('|').any(|pattern| {
        let (Some((ph, ps)), Some((h, s))) = (pattern.split_once('.'), name.split_once('.')) else {
            return false;
        };
        host_matches(ph, h) && (ps == "*" || ps == s)
    })
}

fn body_matches(pattern: &str, body: &[u8]) -> bool {
    match pattern.strip_suffix('*') {
        Some(p) => body.starts_with(p.as_bytes()),
        None => body == pattern.as_bytes(),
    }
}

fn matching_sockets(sim: &impl Outcome, pattern: &str) -> Vec<String> {
    sim.socket_names()
        .into_iter()
        .filter(|n| socket_matches(pattern, n))
        .collect()
}

fn bounds(count: Option<u64>, min: Option<u64>, max: Option<u64>) -> Bounds {
    Bounds { count, min, max }
}

fn result(what: String, r: Result<String, String>) -> CheckResult {
    match r {
        Ok(detail) => CheckResult {
            what,
            ok: true,
            detail,
        },
        Err(detail) => CheckResult {
            what,
            ok: false,
            detail,
        },
    }
}

fn no_match(pattern: &str) -> Result<String, String> {
    Err(format!("no socket matches {pattern:?}"))
}

pub(crate) fn check(sim: &impl Outcome, e: &Expect) -> CheckResult {
    match e {
        Expect::Received {
            label,
            socket,
            sent_by,
            sent_between,
            body,
            from_host,
            by_ms,
            after_ms,
            all,
            none,
            count,
            min,
            max,
        } => {
            let what = label
                .clone()
                .unwrap_or_else(|| format!("received at {socket}"));
            let b = bounds(*count, *min, *max);
            let socks = matching_sockets(sim, socket);
            if socks.is_empty() {
                return result(what, no_match(socket));
            }
            // The messages considered, by body.
            let considered: Option<BTreeSet<Bytes>> = if sent_by.is_some() || body.is_some() {
                Some(
                    sim.sent()
                        .iter()
                        .filter(|s| s.accepted)
                        .filter(|s| {
                            sent_by
                                .as_ref()
                                .is_none_or(|p| socket_matches(p, &s.socket))
                        })
                        .filter(|s| {
                            sent_between.is_none_or(|[a, b]| {
                                s.at >= Instant::ZERO + ms(a) && s.at < Instant::ZERO + ms(b)
                            })
                        })
                        .filter(|s| body.as_ref().is_none_or(|p| body_matches(p, &s.body)))
                        .map(|s| s.body.clone())
                        .collect(),
                )
            } else {
                None
            };
            let mut details = Vec::new();
            let mut errs = Vec::new();
            for name in &socks {
                let Some(log) = sim.log(name) else { continue };
                let got: Vec<&Bytes> = log
                    .received
                    .iter()
                    .filter(|r| by_ms.is_none_or(|t| r.at <= Instant::ZERO + ms(t)))
                    .filter(|r| after_ms.is_none_or(|t| r.at >= Instant::ZERO + ms(t)))
                    .filter(|r| {
                        from_host.as_ref().is_none_or(|p| {
                            r.from_host.as_ref().is_some_and(|h| host_matches(p, h))
                        })
                    })
                    .map(|r| &r.body)
                    .filter(|b| considered.as_ref().is_none_or(|c| c.contains(*b)))
                    .collect();
                let n = got.len() as u64;
                if let Some(c) = &considered {
                    let got_set: BTreeSet<&Bytes> = got.iter().copied().collect();
                    if *all {
                        let missing: Vec<String> = c
                            .iter()
                            .filter(|b| !got_set.contains(b))
                            .map(|b| body_text(b))
                            .collect();
                        if !missing.is_empty() {
                            errs.push(format!(
                                "{name} missed {} of {}: {}",
                                missing.len(),
                                c.len(),
                                abbreviate(&missing)
                            ));
                        }
                    }
                    if *none && !got.is_empty() {
                        let v: Vec<String> = got.iter().map(|b| body_text(b)).collect();
                        errs.push(format!("{name} received {}", abbreviate(&v)));
                    }
                }
                if let Err(m) = b.check(n) {
                    errs.push(format!("{name}: {m}"));
                }
                details.push(format!("{name}={n}"));
            }
            if considered.as_ref().is_some_and(BTreeSet::is_empty) && *all {
                errs.push("no sent message matches the filter".into());
            }
            let r = if errs.is_empty() {
                Ok(abbreviate(&details))
            } else {
                Err(errs.join("; "))
            };
            result(what, r)
        }
        Expect::ExactlyOnce {
            label,
            sender,
            receivers,
        } => {
            let what = label
                .clone()
                .unwrap_or_else(|| format!("{sender} -> {receivers} exactly once"));
            let socks = matching_sockets(sim, receivers);
            if socks.is_empty() {
                return result(what, no_match(receivers));
            }
            let sent: Vec<&Bytes> = sim
                .sent()
                .iter()
                .filter(|s| s.accepted && socket_matches(sender, &s.socket))
                .map(|s| &s.body)
                .collect();
            let mut times: BTreeMap<&Bytes, u64> = sent.iter().map(|b| (*b, 0)).collect();
            for name in &socks {
                if let Some(log) = sim.log(name) {
                    for r in &log.received {
                        if let Some(n) = times.get_mut(&r.body) {
                            *n += 1;
                        }
                    }
                }
            }
            let lost: Vec<String> = times
                .iter()
                .filter(|(_, &n)| n == 0)
                .map(|(b, _)| body_text(b))
                .collect();
            let dup: Vec<String> = times
                .iter()
                .filter(|(_, &n)| n > 1)
                .map(|(b, n)| format!("{}x{n}", body_text(b)))
                .collect();
            let r = if sent.is_empty() {
                Err(format!("{sender} sent nothing"))
            } else if lost.is_empty() && dup.is_empty() {
                Ok(format!("{} messages", sent.len()))
            } else {
                Err(format!(
                    "{} sent, lost {}: {}; duplicated {}: {}",
                    sent.len(),
                    lost.len(),
                    abbreviate(&lost),
                    dup.len(),
                    abbreviate(&dup)
                ))
            };
            result(what, r)
        }
        Expect::Survey {
            label,
            socket,
            round,
            responses,
        } => {
            let what = label
                .clone()
                .unwrap_or_else(|| format!("survey {round} at {socket}"));
            let Some(log) = sim.log(socket) else {
                return result(what, no_match(socket));
            };
            let Some(r) = log.surveys.get(*round) else {
                return result(
                    what,
                    Err(format!("only {} surveys were sent", log.surveys.len())),
                );
            };
            let got: BTreeSet<String> = r
                .responses
                .iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect();
            let want: BTreeSet<String> = responses.iter().cloned().collect();
            let r = if got == want && got.len() == r.responses.len() {
                Ok(format!("{} responses", got.len()))
            } else {
                Err(format!("got {got:?}, want {want:?}"))
            };
            result(what, r)
        }
        Expect::Drops {
            label,
            socket,
            reason,
            count,
            min,
            max,
        } => {
            let what = label
                .clone()
                .unwrap_or_else(|| format!("{reason} drops at {socket}"));
            let socks = matching_sockets(sim, socket);
            if socks.is_empty() {
                return result(what, no_match(socket));
            }
            let r = if reason == "any" {
                None
            } else {
                match DropReason::ALL.into_iter().find(|r| r.name() == reason) {
                    Some(r) => Some(r),
                    None => return result(what, Err(format!("unknown drop reason {reason:?}"))),
                }
            };
            let n: u64 = socks
                .iter()
                .filter_map(|s| sim.log(s))
                .map(|l| match r {
                    Some(r) => l.drops.get(&r).copied().unwrap_or(0),
                    None => l.drops.values().sum(),
                })
                .sum();
            result(
                what,
                bounds(*count, *min, *max).check(n).map(|()| n.to_string()),
            )
        }
        Expect::NetDrops {
            label,
            reason,
            count,
            min,
            max,
        } => {
            let what = label
                .clone()
                .unwrap_or_else(|| format!("network drops ({reason})"));
            let n: u64 = sim
                .net_drops()
                .iter()
                .filter(|(k, _)| reason == "any" || k == reason)
                .map(|(_, v)| *v)
                .sum();
            result(
                what,
                bounds(*count, *min, *max).check(n).map(|()| n.to_string()),
            )
        }
        Expect::Pipes {
            label,
            socket,
            count,
            min,
            max,
        } => {
            let what = label
                .clone()
                .unwrap_or_else(|| format!("pipes at {socket}"));
            let socks = matching_sockets(sim, socket);
            if socks.is_empty() {
                return result(what, no_match(socket));
            }
            let b = bounds(*count, *min, *max);
            let mut errs = Vec::new();
            let mut seen = BTreeMap::<usize, usize>::new();
            for s in &socks {
                let n = sim.pipe_count(s);
                *seen.entry(n).or_default() += 1;
                if let Err(m) = b.check(n as u64) {
                    errs.push(format!("{s}: {m}"));
                }
            }
            let r = if errs.is_empty() {
                Ok(seen
                    .iter()
                    .map(|(n, k)| format!("{k} socket(s) with {n}"))
                    .collect::<Vec<_>>()
                    .join(", "))
            } else {
                Err(abbreviate(&errs))
            };
            result(what, r)
        }
        Expect::ConnectRate {
            label,
            socket,
            window_ms,
            after_ms,
            before_ms,
            max_per_window,
            count,
            min,
            max,
        } => {
            let what = label
                .clone()
                .unwrap_or_else(|| format!("connect rate at {socket}"));
            let socks = matching_sockets(sim, socket);
            if socks.is_empty() {
                return result(what, no_match(socket));
            }
            let from = Instant::ZERO + ms(*after_ms);
            let mut times: Vec<Instant> = socks
                .iter()
                .filter_map(|s| sim.log(s))
                .flat_map(|l| l.connects.iter().copied())
                .filter(|t| *t >= from)
                .filter(|t| before_ms.is_none_or(|b| *t < Instant::ZERO + ms(b)))
                .collect();
            times.sort();
            let (peak, at) = peak_in_window(&times, ms(*window_ms));
            let total = times.len() as u64;
            let mut r = bounds(*count, *min, *max).check(total);
            if r.is_ok() && peak > *max_per_window {
                r = Err(format!(
                    "{peak} connections within {window_ms}ms from {} (max {max_per_window})",
                    time_text(at)
                ));
            }
            result(
                what,
                r.map(|()| format!("{total} connections, peak {peak} per {window_ms}ms")),
            )
        }
        Expect::Stat {
            label,
            socket,
            field,
            count,
            min,
            max,
        } => {
            let what = label
                .clone()
                .unwrap_or_else(|| format!("{field} at {socket}"));
            let socks = matching_sockets(sim, socket);
            if socks.is_empty() {
                return result(what, no_match(socket));
            }
            let mut n = 0u64;
            for s in &socks {
                let st = sim.stats(s);
                let v = match field.as_str() {
                    "resends" => {
                        st.map_or(0, |x| x.resends) + sim.log(s).map_or(0, |l| l.resends_before)
                    }
                    "delivered" => st.map_or(0, |x| x.delivered),
                    "msgs_in" => st.map_or(0, |x| x.msgs_in),
                    "msgs_out" => st.map_or(0, |x| x.msgs_out),
                    "refused" => sim.log(s).map_or(0, |l| l.refused),
                    "send_failed" => sim
                        .sent()
                        .iter()
                        .filter(|m| m.socket == *s && !m.accepted)
                        .count() as u64,
                    "connects" => sim.log(s).map_or(0, |l| l.connects.len() as u64),
                    other => return result(what, Err(format!("unknown counter {other:?}"))),
                };
                n += v;
            }
            result(
                what,
                bounds(*count, *min, *max).check(n).map(|()| n.to_string()),
            )
        }
    }
}

/// The largest number of instants within any window of length `w`, and where it starts.
fn peak_in_window(sorted: &[Instant], w: std::time::Duration) -> (u64, Instant) {
    let mut best = (0u64, Instant::ZERO);
    let mut lo = 0;
    for hi in 0..sorted.len() {
        while sorted[hi] - sorted[lo] >= w && lo < hi {
            lo += 1;
        }
        let n = (hi - lo + 1) as u64;
        if n > best.0 {
            best = (n, sorted[lo]);
        }
    }
    best
}

fn abbreviate(v: &[String]) -> String {
    if v.len() <= 8 {
        v.join(", ")
    } else {
        format!("{}, ... ({} more)", v[..8].join(", "), v.len() - 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_windows() {
        assert!(socket_matches("ny.pull", "ny.pull"));
        assert!(socket_matches("*.pull", "ldn.pull"));
        assert!(socket_matches("sub-*.s", "sub-0001.s"));
        assert!(!socket_matches("sub-*.s", "pub.s"));
        assert!(socket_matches("ny.*", "ny.req"));
        assert!(socket_matches("a.x|b.x", "b.x"));
        assert!(!socket_matches("a.x|b.x", "c.x"));
        assert!(body_matches("m*", b"m12"));
        let t = |m| Instant::from_millis(m);
        let (p, at) = peak_in_window(&[t(0), t(1), t(5), t(6), t(7), t(20)], ms(5.0));
        assert_eq!((p, at), (3, t(5)));
        assert!(Bounds::default().check(5).is_ok());
        assert!(bounds(Some(1), None, None).check(2).is_err());
    }

    #[test]
    fn bad_files_are_typed_errors() {
        assert!(Scenario::from_toml("host = 3").is_err());
        let sc = Scenario::from_toml(
            "[[host]]\nname = \"a\"\n[[host.socket]]\nname = \"s\"\ntype = \"nope\"\n",
        )
        .unwrap();
        let e = sc.run(7).unwrap_err();
        assert!(e.to_string().contains("seed 7"), "{e}");
        assert!(Scenario::from_toml("[[step]]\nat_ms = 1\ndo = \"fly\"\n").is_err());
    }
}
