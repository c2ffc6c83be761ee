//! Swarm testing: a seed becomes a whole scenario (a topology of 2 to 50 hosts, a
//! workload and a fault schedule, [`generate`]), run with safety oracles judging every
//! event ([`oracle`]) and a liveness phase at the end (everything healed, then every
//! socket must converge within a bound derived from the options, [`Phase`]). A failing
//! seed replays exactly (`sp-sim swarm --seeds N..N+1`) and shrinks ([`shrink`]) to a
//! small scenario file in the ordinary format that `sp-sim run` replays.
//!
//! The plan is kept apart from the scenario it renders ([`Plan::scenario`]) so that
//! shrinking can remove hosts and steps and derive the liveness phase and its
//! expectations again from what is left.

mod generate;
mod liveness;
pub mod oracle;
mod priority;
mod shrink;

use std::fmt;

pub use self::generate::generate;
pub use self::liveness::Phase;
pub use self::shrink::{shrink, Shrunk};
use crate::def::{HostDef, LinkDef};
use crate::scenario::{Layer, Report, Scenario, Step};

/// A generated swarm run before it is rendered as a scenario.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The seed it was generated from (also the run's seed).
    pub seed: u64,
    /// The layer it was generated for (layer 2 gets only what turmoil models).
    pub layer: Layer,
    /// The link every direction starts with.
    pub base: LinkDef,
    /// The hosts, each with one socket `s`.
    pub hosts: Vec<HostDef>,
    /// Each host's place in its protocol group.
    pub roles: Vec<Role>,
    /// The workload and the fault schedule, in time order, all before `heal_ms`.
    pub steps: Vec<Step>,
    /// When the liveness phase starts.
    pub heal_ms: f64,
}

/// A host's place in the plan: its protocol group, and its side of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Role {
    /// The group's number (hosts of different groups never talk).
    pub group: usize,
    /// The client side (PUSH, REQ, SURVEYOR, PUB, first PAIR; every BUS).
    pub client: bool,
}

/// A bug planted in the simulated sockets, to show that the swarm finds and shrinks what
/// it should (tests only).
#[cfg(feature = "testing")]
pub use crate::sim::PlantedBug;

/// The command that replays `seed` on `layer`.
pub fn replay_line(seed: u64, layer: Layer) -> String {
    format!(
        "sp-sim swarm --seeds {seed}..{} --layer {layer}",
        seed.saturating_add(1)
    )
}

/// Why a swarm run failed.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The layer.
    pub layer: Layer,
    /// The failed checks (or the error that stopped the run), one line each.
    pub reasons: Vec<String>,
}

impl Failure {
    /// The kind of failure, which shrinking keeps: `panic` (an invariant of the
    /// simulator or a protocol broke), `error` (the run could not complete), `safety`
    /// (an oracle) or `liveness`.
    pub fn kind(&self) -> &'static str {
        let any = |p: &str| self.reasons.iter().any(|r| r.starts_with(p));
        if any("error: panicked") {
            "panic"
        } else if any("error:") {
            "error"
        } else if any("safety oracles") {
            "safety"
        } else {
            "liveness"
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "swarm seed {} ({}) FAILED", self.seed, self.layer)?;
        for r in &self.reasons {
            writeln!(f, "  {r}")?;
        }
        write!(f, "  replay: {}", replay_line(self.seed, self.layer))
    }
}

/// Runs a scenario on a layer (with a planted bug, in tests), oracles included.
pub(crate) fn run_on(
    sc: &Scenario,
    layer: Layer,
    seed: u64,
    #[cfg(feature = "testing")] bug: Option<PlantedBug>,
) -> Result<Report, String> {
    // A panic (a broken invariant of the simulator or a protocol) is a failure of this
    // seed like any other, so that it is reported with its replay line and shrunk.
    let run = std::panic::AssertUnwindSafe(|| match layer {
        Layer::Proto => {
            let mut sim = sc.build(seed).map_err(|e| e.to_string())?;
            #[cfg(feature = "testing")]
            sim.plant(bug);
            sc.play(&mut sim, seed).map_err(|e| e.to_string())?;
            Ok(sc.report(&sim, seed))
        }
        Layer::Turmoil => {
            crate::turmoil_scenario::run_scenario(sc, seed).map_err(|e| e.to_string())
        }
    });
    std::panic::catch_unwind(run).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        Err(format!("panicked: {msg}"))
    })
}

/// The verdict of a report: `Ok` when it passed.
fn verdict(seed: u64, layer: Layer, r: Result<Report, String>) -> Result<Report, Failure> {
    let reasons = match r {
        Ok(r) if r.passed() => return Ok(r),
        Ok(r) => r
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| match c.what.strip_prefix("liveness: ") {
                Some(what) => format!("no liveness: {what}: {}", c.detail),
                None => format!("{}: {}", c.what, c.detail),
            })
            .collect(),
        Err(e) => vec![format!("error: {e}")],
    };
    Err(Failure {
        seed,
        layer,
        reasons,
    })
}

/// Runs a plan's scenario and returns its report, passed or not (an error when the run
/// could not complete).
pub fn run_plan_report(plan: &Plan) -> Result<Report, String> {
    run_on(
        &plan.scenario(),
        plan.layer,
        plan.seed,
        #[cfg(feature = "testing")]
        None,
    )
}

/// Runs a plan's scenario; the report when every check held.
pub fn run_plan(plan: &Plan) -> Result<Report, Failure> {
    verdict(plan.seed, plan.layer, run_plan_report(plan))
}

/// Runs a plan's scenario with a planted bug.
#[cfg(feature = "testing")]
pub fn run_plan_with(plan: &Plan, bug: Option<PlantedBug>) -> Result<Report, Failure> {
    run_scenario_with(&plan.scenario(), plan.layer, plan.seed, bug)
}

/// Runs a scenario (a shrunk one read back from its file, say) with a planted bug.
#[cfg(feature = "testing")]
pub fn run_scenario_with(
    sc: &Scenario,
    layer: Layer,
    seed: u64,
    bug: Option<PlantedBug>,
) -> Result<Report, Failure> {
    verdict(seed, layer, run_on(sc, layer, seed, bug))
}

/// Generates and runs seed `seed` on `layer`.
pub fn run_seed(seed: u64, layer: Layer) -> Result<Report, Failure> {
    run_plan(&generate(seed, layer))
}
