//! The synchronisation primitives of the socket core, switchable to loom's models with
//! `--cfg loom` so the core's concurrency can be model-checked (tokio's primitives are
//! invisible to loom, so the core uses only these).

#[cfg(sp_net_loom)]
pub(crate) use loom::sync::{atomic::AtomicUsize, Arc, Mutex, MutexGuard};
#[cfg(not(sp_net_loom))]
pub(crate) use std::sync::{atomic::AtomicUsize, Arc, Mutex, MutexGuard};
