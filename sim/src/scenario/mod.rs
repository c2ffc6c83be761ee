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
//! socket = "client.push"           # partition repair reset crash restart restart_listener wait
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

mod action;
mod apply;
mod check;
mod expect;
mod report;
mod validate;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sp_proto::Instant;

pub use self::action::{Action, HostileFrame, SendAction};
pub(crate) use self::apply::{play, Driver};
use self::check::check;
pub(crate) use self::check::Outcome;
pub use self::expect::{
    Bounds, ConnectRateCheck, DropsCheck, ExactlyOnceCheck, Expect, NetDropsCheck, PipesCheck,
    ReceivedCheck, StatCheck, SurveyCheck,
};
pub use self::report::{CheckResult, Location, Report, ScenarioError};
use crate::def::{ms, HostDef, LinksDef};
use crate::Sim;

/// A scenario as read from its file.
#[derive(Clone, Debug, Deserialize, Serialize)]
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
    /// Whether the swarm's safety oracles judge the run's events as well
    /// ([`swarm::oracle`](crate::swarm::oracle)); their verdict is one more check.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oracles: bool,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
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
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ExpectDef {
    /// Only on these layers (absent: every layer).
    #[serde(default)]
    pub layers: Option<Vec<Layer>>,
    /// A label for the report.
    #[serde(default)]
    pub label: Option<String>,
    /// The check.
    #[serde(flatten)]
    pub check: Expect,
}

impl ExpectDef {
    /// The check's name, and its label if it has one.
    pub fn what(&self) -> String {
        match &self.label {
            Some(l) => format!("{} {l:?}", self.check.name()),
            None => self.check.name().to_owned(),
        }
    }

    /// What the report calls the check: its label, or a description of it.
    pub(crate) fn title(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| self.check.default_label())
    }
}

/// One timeline entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
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

/// A TOML or field error, at the line of the offending key: `toml` reports errors of a
/// `[[step]]` or `[[expect]]` entry (unknown field or variant) at the entry's header, so
/// the key it names is looked up inside the entry.
fn parse_error(text: &str, e: &toml::de::Error) -> ScenarioError {
    let loc = validate::Locator::new(text);
    let named = e.message().split('`').nth(1);
    let location = e.span().map(|s| {
        named
            .and_then(|k| loc.key_in_entry(s.start, k))
            .unwrap_or_else(|| loc.line_at(s.start))
    });
    ScenarioError {
        file: None,
        seed: None,
        location,
        message: e.message().to_owned(),
    }
}

/// One timeline action at a resolved time, with its repetition index.
pub(crate) struct Timed<'a> {
    pub(crate) at: Instant,
    pub(crate) action: &'a Action,
    pub(crate) index: usize,
}

impl Scenario {
    /// Parses a scenario from TOML text and checks it: every host and socket name
    /// resolves, every pattern matches something, every duration is `>= 0`. The error
    /// names the line of the offending value.
    pub fn from_toml(text: &str) -> Result<Self, ScenarioError> {
        let sc: Self = toml::from_str(text).map_err(|e| parse_error(text, &e))?;
        validate::validate(&sc, text)?;
        Ok(sc)
    }

    /// The scenario as TOML text in the file format ([`from_toml`](Self::from_toml)
    /// reads it back).
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    /// Reads and parses a scenario file; the name defaults to the file stem.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let err = |message: String| ScenarioError {
            file: Some(path.to_owned()),
            seed: None,
            location: None,
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let mut sc = Self::from_toml(&text).map_err(|mut e| {
            e.file = Some(path.to_owned());
            e
        })?;
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
        if self.oracles {
            sim.watch(crate::swarm::oracle::Watch::new(self));
        }
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
            location: None,
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
                Action::Send(s) | Action::Request(s) | Action::Survey(s) => {
                    (s.count.unwrap_or(1), s.every_ms.unwrap_or(0.0))
                }
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
        play(sim, self, Layer::Proto).map_err(|e| self.err(seed, e))
    }

    /// Checks the expectations against a finished run.
    pub fn report(&self, sim: &Sim, seed: u64) -> Report {
        let checks = self.check_with_oracles(sim, sim.oracle_verdict(), Layer::Proto);
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

    /// The expectations' results and, when the oracles watched the run, their verdict.
    pub(crate) fn check_with_oracles(
        &self,
        run: &impl Outcome,
        verdict: Option<CheckResult>,
        layer: Layer,
    ) -> Vec<CheckResult> {
        let mut v = self.check(run, layer);
        v.extend(verdict);
        v
    }

    /// Checks the expectations that apply on `layer` against what a run observed.
    pub(crate) fn check(&self, run: &impl Outcome, layer: Layer) -> Vec<CheckResult> {
        self.expects
            .iter()
            .filter(|e| on_layer(e.layers.as_deref(), layer))
            .map(|e| check(run, e))
            .collect()
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
            .map(|(i, e)| format!("expect {i}: {}", e.what()));
        steps.chain(expects).collect()
    }
}
