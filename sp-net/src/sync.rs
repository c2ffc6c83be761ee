//! The synchronisation primitives of the socket core, switchable to loom's models with
//! `--cfg sp_net_loom` so the core's concurrency can be model-checked.
//!
//! Under loom, every lock, atomic and wake-up the core's state and its waiters go through
//! is a loom model: the state's [`Mutex`], the user-facing `Signal`s of `signal.rs`
//! (built on these), and the per-pipe and timer wake-ups ([`Notify`]: tokio's
//! `tokio::sync::Notify` normally, the model in `sync/notify.rs` under loom, with the
//! same single-waiter permit semantics).
//!
//! What loom does **not** see (tokio types in the core's `Shared`, explored by no
//! interleaving; the core's correctness does not rest on their ordering against the
//! state lock, each being updated after the change it reports):
//!
//! - `pipe_count` (`tokio::sync::watch`): read by `wait_for_pipes` and linger on close;
//! - `pipe_events` (`tokio::sync::broadcast` in a `std::sync::OnceLock`);
//! - `epoch` (`tokio::time::Instant`), the protocol clock;
//! - everything outside the core: the pipe tasks' I/O, the transports, the runtime.

#[cfg(sp_net_loom)]
pub(crate) use loom::sync::{atomic::AtomicUsize, Arc, Mutex, MutexGuard};
#[cfg(not(sp_net_loom))]
pub(crate) use std::sync::{atomic::AtomicUsize, Arc, Mutex, MutexGuard};

#[cfg(sp_net_loom)]
mod notify;
#[cfg(sp_net_loom)]
pub(crate) use notify::Notify;
#[cfg(not(sp_net_loom))]
pub(crate) use tokio::sync::Notify;
