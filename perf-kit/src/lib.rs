//! # perf-kit: what every perf tool shares
//!
//! `sp-perf` (sp-net's binary, over our sockets) and `nanomsg-perf`, `nng-perf` and
//! `raw-perf` (the conformance crate's binaries, over the C libraries and plain sockets)
//! are run side by side by `perf-bench`, so they must read the same command line and
//! print the same report lines:
//!
//! - [`args`]: nanomsg's six perf tools' command line (`local_lat` ... `inproc_thr`).
//! - [`mem`]: the memory tools `mem_conn` and `mem_sub`: their command line, heap and
//!   RSS snapshots, subscription topics, report lines, and reading a report back.
//! - [`service`]: the service workloads (`reqrep`, `fanout`, `survey`, `fanin`): their
//!   command line, message layout, waits (the warm-up check), the subscriber tally and
//!   report lines.
//! - [`split`]: one `fanout` or `survey` run spread over a server part and peer
//!   parts (processes): their flags, shared clock and the lines between them.
//! - [`hist`]: the log-bucketed latency histogram behind their quantiles.
//!
//! The crate depends on nothing but std.

pub mod args;
pub mod hist;
pub mod mem;
pub mod service;
pub mod split;
