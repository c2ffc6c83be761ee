//! The boxed future returned by the object-safe I/O traits (the network seam, the
//! transports, the pipe halves).

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
