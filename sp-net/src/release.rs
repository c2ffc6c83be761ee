//! Knowing when an endpoint has let go of its operating-system resources (its listening
//! socket, an IPC socket file, its connections), so that closing can wait for it instead
//! of returning while an aborted task still holds a port.
//!
//! Everything that keeps such a resource also keeps a [`Hold`] of its endpoint; the
//! endpoint's [`Released`] resolves once the last one is dropped. Tasks keep theirs
//! through [`Holding`], which drops the hold only after the task's future (and so
//! everything the future owns) is gone.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::watch;

use crate::future::BoxFuture;

/// Sends "released" when the last [`Hold`] goes.
#[derive(Debug)]
struct Last(watch::Sender<bool>);

impl Drop for Last {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// Kept by whatever holds one of an endpoint's resources; cloned for each holder.
#[derive(Clone, Debug)]
pub(crate) struct Hold(#[allow(dead_code)] Arc<Last>);

/// Resolves once an endpoint has let go of its resources: its listening socket is closed
/// (an IPC socket file it created removed) and its connections are dropped.
/// Returned by [`Endpoint::close`](crate::Endpoint::close); awaiting it is optional.
#[derive(Clone, Debug)]
pub struct Released(watch::Receiver<bool>);

/// A new endpoint's hold and the future that waits for it (and its clones) to go.
pub(crate) fn pair() -> (Hold, Released) {
    let (tx, rx) = watch::channel(false);
    (Hold(Arc::new(Last(tx))), Released(rx))
}

impl Released {
    /// Waits until the endpoint's resources are released.
    pub async fn wait(mut self) {
        // An error means the sender is gone, which happens only after it sent `true`.
        let _ = self.0.wait_for(|&released| released).await;
    }

    /// Whether the endpoint's resources are released already.
    pub fn is_released(&self) -> bool {
        *self.0.borrow()
    }
}

impl IntoFuture for Released {
    type Output = ();
    type IntoFuture = BoxFuture<'static, ()>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.wait())
    }
}

/// A task's future with the hold it keeps (a [`Hold`], or anything owning some) until the
/// future is dropped: the fields drop in declaration order, so the future, with what it
/// owns, goes before the hold, whether it completed or its task was aborted.
pub(crate) struct Holding<T, H = Hold> {
    future: BoxFuture<'static, T>,
    _hold: H,
}

impl<T, H> Holding<T, H> {
    /// `future`, keeping `hold` until it is dropped.
    pub(crate) fn new(future: impl Future<Output = T> + Send + 'static, hold: H) -> Self {
        Self {
            future: Box::pin(future),
            _hold: hold,
        }
    }
}

impl<T, H: Unpin> Future for Holding<T, H> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.future.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn released_after_the_last_hold_and_not_before() {
        let (hold, released) = pair();
        let other = hold.clone();
        drop(hold);
        assert!(!released.is_released(), "a clone still holds");
        let task = tokio::spawn(Holding::new(std::future::pending::<()>(), other));
        assert!(!released.is_released());
        task.abort();
        released.clone().await;
        assert!(released.is_released());
    }

    /// The hold outlives the future it guards: a value the future owns is dropped by the
    /// time the release is seen.
    #[tokio::test]
    async fn the_future_is_dropped_before_the_hold() {
        struct Flag(Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Flag(dropped.clone());
        let (hold, released) = pair();
        let task = tokio::spawn(Holding::new(
            async move {
                let _flag = flag;
                std::future::pending::<()>().await;
            },
            hold,
        ));
        task.abort();
        released.await;
        assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));
    }
}
