//! # conformance: wire compatibility against real libnanomsg and NNG
//!
//! The suites in `tests/` run our `sp-net` sockets against the real C libraries,
//! libnanomsg and NNG 1.x, as installed from Debian (`libnanomsg-dev`, `libnng-dev`).
//!
//! Each C library runs in a process of its own, one small binary per library:
//! `nanomsg-peer` links only libnanomsg and `nng-peer` only libnng. They must not share a
//! process, because libnng also exports nanomsg-style `nn_*` functions (its compatibility
//! layer) and `nn_socket` could then resolve to NNG. A test drives a peer step by step
//! through the line-based command language of [`peer`], over the peer's stdin and stdout;
//! [`harness::Peer`] is the test side of that conversation.
//!
//! [`matrix`] defines the interoperability matrix (protocol pair × which side is ours ×
//! who listens × transport × C library, with ours either our `sp-net` socket or a C
//! program on our `libnanomsg.so.5`) and the exchange each cell checks; [`checks`]
//! holds behaviour checks (survey deadlines, REQ resends, wrong peer types); [`report`]
//! renders a run as `docs/conformance.md`; [`proxy`] cuts, black-holes and heals loopback
//! links for the replays of the simulator's partition scenarios (`tests/replay.rs`) and
//! for [`blackhole`], the failover check under a black hole.

pub mod blackhole;
mod check_kit;
pub mod checks;
pub mod contexts;
pub mod device_patterns;
pub mod devices;
pub mod harness;
pub mod hex;
pub mod hostile;
pub mod matrix;
pub mod pair1;
pub mod peer;
pub mod perf;
pub mod priority;
pub mod proxy;
pub mod report;
pub mod several;
pub mod survey;
pub mod tls;
pub mod vector_replay;
pub mod ws_hostile;
