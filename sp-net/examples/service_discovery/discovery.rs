//! The pieces of the service-discovery demo: the discovery daemon (SURVEYOR), a service
//! (RESPONDENT + REP), the routing client (REQ with send priorities) and the scripted demo
//! that strings them together. `tests/service_discovery.rs` includes this file with
//! `#[path]` and drives the same functions with short deadlines.
//!
//! One module per job, all re-exported here: `daemon`, `service`, `client`, `round` (one
//! round and its printed report), `demo` (the script), `wire` (the bodies) and `error`
//! (errors and waits with a time limit); this file keeps the constants and settings.
//!
//! The wire is plain SP over TCP with ASCII bodies (see the example's header comment and
//! `docs/service-discovery.md`):
//!
//! - survey body (daemon to services): `service query`
//! - response body (service to daemon): `<name>|<address>`, e.g.
//!   `oracle-a@new-york|tcp://127.0.0.1:40001`
//! - request body (client to service): anything; reply body: `The answer is 42`

// Shared by the example and its test, each of which uses only a part.
#![allow(dead_code)]

mod client;
mod daemon;
mod demo;
mod error;
mod round;
mod service;
mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

pub(crate) use self::client::*;
pub(crate) use self::daemon::*;
pub(crate) use self::demo::*;
pub(crate) use self::error::*;
pub(crate) use self::round::*;
pub(crate) use self::service::*;
pub(crate) use self::wire::*;

/// The survey the daemon sends each round.
pub(crate) const SURVEY_BODY: &str = "service query";
/// What every service answers to any request.
pub(crate) const ANSWER: &str = "The answer is 42";
/// Default daemon port (the seed's `PORT`).
pub(crate) const DEFAULT_PORT: u16 = 5555;
/// Default survey deadline (the seed's `DEADLINE`).
pub(crate) const DEFAULT_DEADLINE: Duration = Duration::from_millis(5000);
/// Default pause between rounds (the seed's `INTERVAL`).
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_millis(2000);
/// Send priority of providers in the client's own site.
pub(crate) const LOCAL_PRIORITY: u8 = 1;
/// Send priority of providers elsewhere.
pub(crate) const REMOTE_PRIORITY: u8 = 2;

/// The discovered services: name to REQ/REP address, sorted by name.
pub(crate) type ServiceMap = BTreeMap<String, String>;

/// Settings of a run.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Interface the daemon binds (`127.0.0.1`, or `*` for all as the seed does).
    pub(crate) host: String,
    /// Daemon port (0: any free port).
    pub(crate) port: u16,
    /// Survey deadline.
    pub(crate) deadline: Duration,
    /// Pause between rounds.
    pub(crate) interval: Duration,
    /// Rounds to run (0: forever, for the daemon and client roles).
    pub(crate) rounds: u32,
    /// Requests the client sends each round.
    pub(crate) requests: usize,
    /// The client's site.
    pub(crate) site: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: DEFAULT_PORT,
            deadline: DEFAULT_DEADLINE,
            interval: DEFAULT_INTERVAL,
            rounds: 6,
            requests: 4,
            site: LOCAL_SITE.to_owned(),
        }
    }
}

/// The client's (local) site in the demo.
pub(crate) const LOCAL_SITE: &str = "new-york";
/// The remote site in the demo.
pub(crate) const REMOTE_SITE: &str = "london";
