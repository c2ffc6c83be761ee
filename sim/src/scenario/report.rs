//! What a run reports: each expectation's result, the figures, the trace.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use sp_proto::Instant;

pub use super::validate::Location;
use super::Layer;
use crate::trace::time_text;

/// Why a scenario could not run (distinct from expectations that failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file, if loaded from one.
    pub file: Option<PathBuf>,
    /// The seed of the run, if it started.
    pub seed: Option<u64>,
    /// The line of the scenario file the error is about, if it is about one.
    pub location: Option<Location>,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, &self.location) {
            (Some(p), Some(l)) => write!(f, "{}:{}: ", p.display(), l.line)?,
            (Some(p), None) => write!(f, "{}: ", p.display())?,
            (None, Some(l)) => write!(f, "line {}: ", l.line)?,
            (None, None) => {}
        }
        if let Some(s) = self.seed {
            write!(f, "[seed {s}] ")?;
        }
        f.write_str(&self.message)?;
        if let Some(l) = &self.location {
            write!(f, "\n  {:>4} | {}", l.line, l.text)?;
        }
        Ok(())
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
