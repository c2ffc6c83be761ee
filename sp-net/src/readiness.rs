//! Readiness: what a send and a receive would do if called now, and a hook that runs
//! whenever that may have changed.
//!
//! This is for code that integrates a socket into another event loop (the C API's
//! `NN_SNDFD`/`NN_RCVFD`): it asks the protocol itself, by trying the operation on a
//! copy of its state under the socket's lock, so it knows nothing of any one protocol.

use bytes::Bytes;
use sp_proto::{Message, Protocol};

use crate::core::{Shared, SharedRef};
use crate::error::Error;

/// What a receive and a send would do if called now, without waiting.
///
/// Each is `Ok(())` when the operation would complete at once (a message is waiting; the
/// protocol would take a message), `Err(Error::WouldBlock)` when it would wait, and any
/// other error when it would fail at once with that error: [`Error::Closed`] on a closed
/// socket, [`Error::NotSupported`] for a direction the socket type lacks,
/// [`Error::WrongState`] and [`Error::SurveyExpired`] where the protocol says so, and
/// [`Error::BadHeader`] on a raw socket whose sends are routed by the header its user
/// supplies (raw REP, for one): the probe carries no header.
#[derive(Debug)]
pub struct Readiness {
    /// What a receive would do now.
    pub recv: Result<(), Error>,
    /// What a send of a message would do now.
    pub send: Result<(), Error>,
}

/// Reads a socket's [`Readiness`] without keeping the socket open (a closed socket reads
/// as [`Error::Closed`] both ways). Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct ReadinessProbe {
    shared: SharedRef,
}

impl std::fmt::Debug for ReadinessProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadinessProbe").finish_non_exhaustive()
    }
}

impl ReadinessProbe {
    pub(crate) fn new(shared: SharedRef) -> Self {
        Self { shared }
    }

    /// The socket's readiness now.
    pub fn readiness(&self) -> Readiness {
        readiness(&self.shared)
    }
}

/// Tries a receive and a send on copies of the protocol (taken under the lock, tried
/// outside it); the copies and whatever they produced are dropped.
pub(crate) fn readiness(shared: &Shared) -> Readiness {
    let now = shared.now();
    let (recv_copy, send_copy) = {
        let st = shared.lock();
        if st.closed {
            return Readiness {
                recv: Err(Error::Closed),
                send: Err(Error::Closed),
            };
        }
        let ty = st.proto.socket_type();
        (
            ty.can_recv().then(|| st.proto.clone()),
            ty.can_send().then(|| st.proto.clone()),
        )
    };
    let recv = match recv_copy {
        Some(mut p) => p.recv(now).map(drop).map_err(Error::from_recv),
        None => Err(Error::NotSupported),
    };
    let send = match send_copy {
        Some(mut p) => p
            .send(now, Message::new(Bytes::new()))
            .map_err(|e| Error::from_send(e.kind)),
        None => Err(Error::NotSupported),
    };
    Readiness { recv, send }
}

/// Runs the hook of [`Socket::on_change`](crate::Socket::on_change) until the socket
/// closes or this guard is dropped.
#[derive(Debug)]
pub struct ChangeWatch {
    task: tokio::task::AbortHandle,
}

impl Drop for ChangeWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Calls `f` at once and after every change of the socket's state that can change its
/// readiness (messages arriving or taken, pipes added or removed, room freed, timers
/// firing, close), on `runtime`. Wake-ups that come while `f` runs are folded into one
/// more call. After the socket closes, `f` is called once more and the task ends.
pub(crate) fn watch(
    shared: SharedRef,
    runtime: &tokio::runtime::Handle,
    mut f: impl FnMut() + Send + 'static,
) -> ChangeWatch {
    let task = runtime.spawn(async move {
        loop {
            // The ticket is taken before `f` reads the state, so a change made while `f`
            // runs completes it: none is missed.
            let changed = shared.readable.listen();
            // Read before `f`, so that `f` runs once more after the close is seen.
            let closed = shared.is_closed();
            f();
            if closed {
                return;
            }
            changed.await;
        }
    });
    ChangeWatch {
        task: task.abort_handle(),
    }
}
