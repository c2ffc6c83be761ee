//! Layer 2: the scenario files on the real `sp-net` sockets over turmoil.
//!
//! [`run`] builds a turmoil simulation from a [`Scenario`]: one turmoil host per scenario
//! host (hosts with `count` expand as on layer 1), and per socket an `sp-net`
//! [`Socket::with_config`](sp_net::Socket::with_config) over a
//! [`TurmoilNetwork`](crate::turmoil_net::TurmoilNetwork) of that host, with the socket's
//! type, options, raw flag and a seed derived from the run's seed. Endpoints listen on
//! `tcp://*:port` and dial `tcp://host:port` with their priorities and reconnect delays.
//! Sockets in `recv = "auto"` mode receive in a task (REP and RESPONDENT answer as the
//! scenario says, after the reply delay); every other timeline action is posted to its
//! host and performed there at its virtual time (within turmoil's 1 ms tick). The same
//! expectation code as layer 1 then checks what the real sockets did.
//!
//! # What maps, and what is refused
//!
//! Two-way partitions are black holes: turmoil's `hold` keeps every segment between the
//! two hosts and `release` (the repair) delivers them in order, so connections stay up as
//! over real TCP (turmoil's TCP does not retransmit: dropping the segments instead would
//! stall the streams for good). It delivers at the repair itself, where a real stack (and
//! layer 1) waits for its next retransmission timeout. `reset` resets the connections
//! between two hosts ([`Fabric`](crate::turmoil_net::Fabric)); crashes and restarts are
//! turmoil's `crash` and `bounce`, a crashed host's connections closing in the order of
//! their addresses (see [`turmoil_net`](crate::turmoil_net), "Crashes"); link latency and jitter become turmoil's per-link latency range. Anything without a faithful model is
//! refused before the run with [`TurmoilError::Unsupported`], naming each step,
//! expectation or link setting and why, never skipped silently:
//! one-way partitions and one-way link settings, loss / duplication / reordering / rate /
//! capacity (turmoil's TCP does not retransmit), dialers without jitter, more than
//! [`MAX_HOSTS`] hosts (turmoil is too slow for them), `net_drops` expectations (turmoil
//! counts no drops) and `from_host` filters. Listener restarts close the listening
//! endpoint (and its connections) and bind it again after the down time.
//! A scenario may restrict steps and expectations to a layer (`layers = ["proto"]`);
//! those are listed in [`Report::skipped`].
//!
//! The counters differ in one respect: `refused` counts pipes the protocol refused
//! (`sp-net`'s `pipes_refused`); handshake failures are not included.
//!
//! The code: `unsupported.rs` (what is refused), `host.rs` (a host's software: sockets,
//! application tasks, the mailbox of timeline actions), `run.rs` (the turmoil
//! simulation, layer 2's timeline driver, and what it observed).

mod host;
mod run;
mod unsupported;

use std::fmt;
use std::path::{Path, PathBuf};

use self::run::Run;
pub use self::unsupported::{unsupported, MAX_HOSTS};
use crate::scenario::{Report, Scenario, ScenarioError};

/// One part of a scenario layer 2 cannot run faithfully.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedItem {
    /// Which part: `step 1 at 300ms (partition, oneway)`, `expect 4 (net_drops)`,
    /// `links.default`, `host c socket push dial c:1`.
    pub what: String,
    /// Why it has no faithful model on turmoil.
    pub reason: &'static str,
}

impl fmt::Display for UnsupportedItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.reason)
    }
}

/// Why a scenario did not run on layer 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TurmoilError {
    /// The scenario uses actions, expectations or settings layer 2 does not model.
    Unsupported {
        /// The scenario's name.
        scenario: String,
        /// The file, if loaded from one.
        file: Option<PathBuf>,
        /// Every unsupported part, in file order.
        items: Vec<UnsupportedItem>,
    },
    /// The file could not be loaded or the run failed (bad definition, a host's
    /// software failed, turmoil stopped).
    Scenario(ScenarioError),
}

impl TurmoilError {
    /// The unsupported parts, if that is why the scenario did not run.
    pub fn unsupported(&self) -> Option<&[UnsupportedItem]> {
        match self {
            Self::Unsupported { items, .. } => Some(items),
            Self::Scenario(_) => None,
        }
    }
}

impl fmt::Display for TurmoilError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported {
                scenario,
                file,
                items,
            } => {
                if let Some(p) = file {
                    write!(f, "{}: ", p.display())?;
                }
                write!(f, "{scenario} is unsupported on layer 2 (turmoil): ")?;
                let v: Vec<String> = items.iter().map(ToString::to_string).collect();
                f.write_str(&v.join("; "))
            }
            Self::Scenario(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TurmoilError {}

impl From<ScenarioError> for TurmoilError {
    fn from(e: ScenarioError) -> Self {
        Self::Scenario(e)
    }
}

/// Loads `path` and runs it on layer 2 with `seed`.
pub fn run(path: impl AsRef<Path>, seed: u64) -> Result<Report, TurmoilError> {
    let path = path.as_ref();
    let sc = Scenario::load(path)?;
    match run_scenario(&sc, seed) {
        Ok(mut r) => {
            r.file = Some(path.to_owned());
            Ok(r)
        }
        Err(TurmoilError::Unsupported {
            scenario, items, ..
        }) => Err(TurmoilError::Unsupported {
            scenario,
            file: Some(path.to_owned()),
            items,
        }),
        Err(TurmoilError::Scenario(mut e)) => {
            e.file = Some(path.to_owned());
            Err(TurmoilError::Scenario(e))
        }
    }
}

/// Runs a parsed scenario on layer 2 with `seed` and checks its expectations.
pub fn run_scenario(sc: &Scenario, seed: u64) -> Result<Report, TurmoilError> {
    let items = unsupported(sc);
    if !items.is_empty() {
        return Err(TurmoilError::Unsupported {
            scenario: sc.name.clone(),
            file: None,
            items,
        });
    }
    Run::new(sc, seed)?.play()
}
