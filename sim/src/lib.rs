//! # sim: a deterministic network simulator for the SP stack
//!
//! The first layer of the simulator: a pure, single-threaded discrete-event simulation
//! over the `sp-proto` state machines and codecs. It needs no sockets, threads or clock;
//! a run is a pure function of its scenario and a seed, so every failure can be replayed
//! byte for byte from the seed it prints.
//!
//! * [`Sim`]: hosts holding sockets (the real protocol state machines), endpoints that
//!   listen and dial by name with per-endpoint priorities, connections with a modelled SP
//!   header exchange, dialers that reconnect with seeded, jittered backoff, frames moved
//!   through the real TCP frame codec, and netem-style links (latency, jitter, loss,
//!   duplication, reordering, rate and capacity) with partitions, host crashes and
//!   restarts, and listener restarts. Virtual time is an event queue keyed by
//!   `(time, sequence)`; [`Sim::run_until`] and [`Sim::step`] drive it.
//! * [`trace`]: every event, rendered as stable text for snapshots; both layers record
//!   their sends, receptions, logs and trace through one recorder (`record.rs`).
//! * [`scenario`]: the TOML scenario format (hosts, sockets, endpoints, links, a timeline
//!   of actions and expectations) and its runner, [`scenario::run`]. One timeline loop
//!   drives either layer through a small driver trait (`scenario/apply.rs`), and one
//!   set of checks reads either layer's outcome (`scenario/check.rs`).
//!
//! * [`turmoil_net`]: the second layer, the real `sp-net` driver over turmoil's simulated
//!   TCP through `sp-net`'s transport seam (tests in `sim/tests/turmoil_*.rs`). The pure
//!   layer above depends on no async runtime.
//! * [`turmoil_scenario`]: the same scenario files on the second layer
//!   ([`turmoil_scenario::run`]), with the expectations checked by the same code.
//! * [`run_folder`]: every scenario file of a folder with its seeds on both layers, in
//!   one call (for a project's own `cargo test`); [`Folder`] chooses layers and seeds.
//!
//! ```
//! use sim::def::{EndpointDef, HostDef, SocketDef};
//! use sim::Sim;
//! let sock = |name: &str, kind: &str| SocketDef {
//!     name: name.into(),
//!     kind: kind.into(),
//!     raw: false,
//!     options: Default::default(),
//!     subscribe: vec![],
//!     recv: Default::default(),
//!     reply: None,
//!     listen: vec![],
//!     dial: vec![],
//! };
//! let mut pull = sock("pull", "pull");
//! pull.listen.push(EndpointDef::new("b:1"));
//! let mut push = sock("push", "push");
//! push.dial.push(EndpointDef::new("b:1"));
//! let mut sim = Sim::new(7);
//! sim.add_host(&HostDef { name: "b".into(), count: None, sockets: vec![pull], device: None }).unwrap();
//! sim.add_host(&HostDef { name: "a".into(), count: None, sockets: vec![push], device: None }).unwrap();
//! sim.run_for(std::time::Duration::from_millis(10)).unwrap();
//! sim.send("a.push", "hello").unwrap();
//! sim.run_for(std::time::Duration::from_millis(10)).unwrap();
//! assert_eq!(sim.log("b.pull").unwrap().received[0].body, "hello");
//! ```
#![forbid(unsafe_code)]

use std::fmt;

pub mod def;
mod folder;
mod record;
pub mod scenario;
mod sim;
pub mod swarm;
pub mod trace;
pub mod turmoil_net;
pub mod turmoil_scenario;

/// The user guide's chapter on simulation, compiled and run as a doctest so its code
/// cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../docs/simulation.md")]
pub struct SimulationGuide;

pub use crate::folder::{run_folder, Folder, FolderError, FolderReport, Refused};
pub use crate::record::{Received, Sent, SocketLog, SurveyRound};
pub use crate::sim::Sim;
pub use crate::trace::{TraceEvent, What};

/// Errors of the simulator (bad definitions or commands; never a peer's bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimError {
    /// A definition is invalid.
    Config(String),
    /// No such socket (`host.socket`).
    NoSuchSocket(String),
    /// No such host.
    NoSuchHost(String),
    /// The host is crashed.
    HostDown(String),
    /// The application closed the socket (`host.socket`) and its host has not restarted.
    SocketClosed(String),
    /// Too many events at one instant: a protocol or the simulator livelocked.
    Livelock(sp_proto::Instant),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(m) => write!(f, "invalid definition: {m}"),
            Self::NoSuchSocket(s) => write!(f, "no socket {s:?}"),
            Self::NoSuchHost(h) => write!(f, "no host {h:?}"),
            Self::HostDown(h) => write!(f, "host {h} is down"),
            Self::SocketClosed(s) => write!(f, "socket {s} is closed"),
            Self::Livelock(t) => write!(f, "livelock at {t:?}"),
        }
    }
}

impl std::error::Error for SimError {}
