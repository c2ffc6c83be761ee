//! Exhaustive model checking of the real `sp-proto` state machines.
//!
//! A [`Spec`] describes a small network: nodes running the real protocol
//! values ([`machine::Machine`] wraps `sp_proto::AnyProtocol`), links with messages in
//! flight, each user's workload and a budget of faults (losses, duplicates, broken and
//! re-attached links). [`model::SpModel`] turns it into a `stateright` model whose
//! actions are every delivery, fault, timer and user step, so the checker explores every
//! interleaving up to the budgets and the time horizon. [`props`] holds the properties,
//! each named after the spec rule it checks; [`machine::Bug`] plants one broken rule at
//! a time, so that the tests can show that each property finds its counterexample.
//!
//! Run the standard configurations with `cargo test -p sp-model` (bounded for CI) or
//! `scripts/model.sh` (deeper); `docs/model-checking.md` explains the output.

pub mod configs;
pub mod coverage;
pub mod machine;
pub mod model;
pub mod props;
pub mod spec;
pub mod state;

use std::time::{Duration, Instant};

use stateright::{Checker, Model};

use crate::model::SpModel;
use crate::spec::{Schedule, Spec};

/// What one checker run found.
#[derive(Debug)]
pub struct Outcome {
    /// The configuration's name.
    pub name: &'static str,
    /// States generated (with repeats).
    pub states: usize,
    /// Distinct states.
    pub unique_states: usize,
    /// The deepest path explored.
    pub max_depth: usize,
    /// Whether the whole space was explored (not cut by `max_depth`).
    pub complete: bool,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The properties checked.
    pub properties: Vec<&'static str>,
    /// Each violated property with its counterexample as a readable trace.
    pub counterexamples: Vec<(&'static str, String)>,
    /// Distinct transitions (role, state class, input, output kinds, next class) the protocols went
    /// through.
    pub transitions: usize,
    /// Transitions no row of the state tables describes (see [`coverage`]).
    pub uncovered: Vec<String>,
}

/// Checks `spec` breadth-first, to `max_depth` steps if given (the whole space
/// otherwise). A configuration under the fair schedule is always explored whole: its
/// liveness properties are judged only on paths that end, and a path cut by the depth
/// bound has not ended.
pub fn check(spec: Spec, max_depth: Option<usize>) -> Outcome {
    let name = spec.name;
    let max_depth = max_depth.filter(|_| spec.schedule != Schedule::Fair);
    let model = SpModel::new(spec);
    let properties = model.properties().iter().map(|p| p.name).collect();
    let started = Instant::now();
    let mut builder = model.clone().checker();
    if let Some(d) = max_depth {
        builder = builder.target_max_depth(d);
    }
    let checker = builder.spawn_bfs().join();
    let elapsed = started.elapsed();
    let mut counterexamples: Vec<(&'static str, String)> = checker
        .discoveries()
        .into_iter()
        .map(|(prop, path)| {
            let mut trace = String::new();
            for (i, (_, action)) in path.into_vec().into_iter().enumerate() {
                if let Some(a) = action {
                    trace.push_str(&format!("  {:>2}. {}\n", i + 1, model.format_action(&a)));
                }
            }
            (prop, trace)
        })
        .collect();
    counterexamples.sort();
    let seen = model.coverage.transitions();
    Outcome {
        transitions: seen.len(),
        uncovered: coverage::uncovered(&seen),
        name,
        states: checker.state_count(),
        unique_states: checker.unique_state_count(),
        max_depth: checker.max_depth(),
        complete: max_depth.is_none_or(|d| checker.max_depth() < d),
        elapsed,
        properties,
        counterexamples,
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} states ({} unique), depth {}{}, {:.2?}",
            self.name,
            self.states,
            self.unique_states,
            self.max_depth,
            if self.complete {
                ""
            } else {
                " (depth-bounded)"
            },
            self.elapsed
        )?;
        for p in &self.properties {
            let verdict = match self.counterexamples.iter().find(|(n, _)| n == p) {
                Some(_) => "VIOLATED",
                None => "holds",
            };
            writeln!(f, "  {verdict}: {p}")?;
        }
        writeln!(
            f,
            "  {} table transitions met, {} in no table row",
            self.transitions,
            self.uncovered.len()
        )?;
        for u in &self.uncovered {
            writeln!(f, "    uncovered: {u}")?;
        }
        for (p, trace) in &self.counterexamples {
            writeln!(f, "counterexample for \"{p}\":\n{trace}")?;
        }
        Ok(())
    }
}
