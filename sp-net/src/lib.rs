//! # sp-net: Scalability Protocols sockets over real transports
//!
//! The tokio runtime that drives the sans-IO protocols of `sp-proto` over TCP, IPC,
//! inproc, TLS (`tls+tcp://`) and WebSocket (`ws://`, `wss://`). It owns tasks, sockets,
//! timers and wakers, and nothing that decides protocol behaviour.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sp_net::Error> {
//! use sp_net::{Socket, SocketType};
//! let rep = Socket::new(SocketType::Rep);
//! let ep = rep.listen("tcp://127.0.0.1:0").await?;
//! let req = Socket::new(SocketType::Req);
//! req.dial(ep.url()).await?;
//! req.send("ping").await?;
//! let q = rep.recv().await?;
//! rep.send(q.body).await?;
//! assert_eq!(req.recv().await?.body, "ping");
//! # Ok(()) }
//! ```

pub mod blocking;
pub mod context;
mod core;
pub mod device;
mod endpoint;
pub mod error;
mod future;
#[doc(hidden)]
pub mod fuzzing;
mod pipe;
pub mod readiness;
mod release;
mod signal;
pub mod socket;
pub mod stats;
mod stream;
mod sync;
pub mod transport;
pub mod typed;
pub mod url;

pub use blocking::BlockingSocket;
pub use context::{Context, Survey};
pub use error::Error;
pub use readiness::{ChangeWatch, Readiness, ReadinessProbe};
pub use release::Released;
pub use socket::{Endpoint, Socket, SocketOptions};
pub use sp_proto::{Message, PipeId, Priority, SocketType};
pub use stats::Statistics;
pub use url::{IntoUrl, Url};

/// The user guide's chapters that use `sp-net`, compiled and run as doctests so their code
/// cannot rot.
#[cfg(doctest)]
pub mod guide {
    /// `docs/use-from-your-crate.md`.
    #[doc = include_str!("../../docs/use-from-your-crate.md")]
    pub struct UseFromYourCrate;

    /// The repository's `README.md`.
    #[doc = include_str!("../../README.md")]
    pub struct Readme;

    /// `docs/getting-started.md`.
    #[doc = include_str!("../../docs/getting-started.md")]
    pub struct GettingStarted;

    /// `docs/protocols.md`.
    #[doc = include_str!("../../docs/protocols.md")]
    pub struct Protocols;

    /// `docs/options.md`.
    #[doc = include_str!("../../docs/options.md")]
    pub struct Options;

    /// `docs/statistics.md`.
    #[doc = include_str!("../../docs/statistics.md")]
    pub struct Statistics;

    /// `docs/migrating.md`.
    #[doc = include_str!("../../docs/migrating.md")]
    pub struct Migrating;

    /// `docs/spcat.md` (no Rust code today; included so that any added later is tested).
    #[doc = include_str!("../../docs/spcat.md")]
    pub struct Spcat;

    /// `docs/running-conformance.md` (no Rust code today; included likewise).
    #[doc = include_str!("../../docs/running-conformance.md")]
    pub struct RunningConformance;
}
