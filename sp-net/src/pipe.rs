//! One pipe's life once its connection is established: attach to the socket core, then a
//! reader and a writer moving messages between the connection and the protocol until
//! either side ends. The connection itself is message-oriented here ([`MsgRead`],
//! [`MsgWrite`]); byte streams get there through the SP frame codec (`stream.rs`),
//! in-process pipes directly (`transport/inproc.rs`).

use std::collections::VecDeque;

use bytes::Bytes;
use sp_proto::wire::{FrameError, HeaderError};
use sp_proto::{Message, PipeId, PipeInfo, Protocol};
use tokio::sync::Notify;

use crate::core::{AttachError, Shared, SharedRef};
use crate::transport::BoxFuture;

/// How a connection ended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PipeEnd {
    #[error("handshake failed: {0}")]
    Handshake(HeaderError),
    #[error("peer refused by protocol: {0}")]
    Refused(sp_proto::PipeRefused),
    #[error("socket closed")]
    SocketClosed,
    #[error("framing error: {0}")]
    Frame(FrameError),
    #[error("WebSocket error: {0}")]
    Ws(sp_proto::wire::ws_frame::WsFrameError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed by peer")]
    Eof,
}

/// The receiving side of an established connection.
pub(crate) trait MsgRead: Send {
    /// Waits for at least one message and appends every complete one available to `out`.
    fn read<'a>(&'a mut self, out: &'a mut Vec<Bytes>) -> BoxFuture<'a, Result<(), PipeEnd>>;
}

/// The sending side of an established connection.
pub(crate) trait MsgWrite: Send {
    /// Writes every message of `batch` (draining it), in order.
    fn write<'a>(
        &'a mut self,
        batch: &'a mut VecDeque<Message>,
    ) -> BoxFuture<'a, Result<(), PipeEnd>>;
    /// Orderly close after the last write.
    fn close(&mut self) -> BoxFuture<'_, ()>;
}

/// Attaches a pipe for an established connection and runs it to completion. Returns how
/// it ended and whether a pipe had been attached (dialers reset their backoff only then).
pub(crate) async fn run(
    shared: SharedRef,
    peer: &str,
    info: PipeInfo,
    reader: Box<dyn MsgRead>,
    writer: Box<dyn MsgWrite>,
) -> (PipeEnd, bool) {
    let (id, wake_writer, wake_reader) = match shared.attach_pipe(info, peer) {
        Ok(x) => x,
        Err(AttachError::Closed) => return (PipeEnd::SocketClosed, false),
        Err(AttachError::Refused(e)) => {
            shared.lock().stats.pipes_refused += 1;
            tracing::info!(peer, error = %e, "pipe refused by protocol");
            return (PipeEnd::Refused(e), false);
        }
    };
    tracing::debug!(pipe = %id, peer, "pipe attached");
    // Detaches the pipe however this future ends, including when its task is aborted.
    struct DetachOnDrop<'a>(&'a Shared, PipeId);
    impl Drop for DetachOnDrop<'_> {
        fn drop(&mut self) {
            self.0.detach_pipe(self.1);
        }
    }
    let _detach = DetachOnDrop(&shared, id);
    let span = tracing::debug_span!("pipe", id = %id, peer);
    let end = tracing::Instrument::instrument(
        async {
            tokio::select! {
                r = read_loop(&shared, id, reader, &wake_reader) => r,
                w = write_loop(&shared, id, writer, &wake_writer) => w,
            }
        },
        span,
    )
    .await;
    match &end {
        PipeEnd::Frame(_) | PipeEnd::Ws(_) => {
            shared.lock().stats.frame_errors += 1;
            tracing::warn!(pipe = %id, peer, error = %end, "closing connection");
        }
        other => tracing::debug!(pipe = %id, peer, end = %other, "pipe ended"),
    }
    (end, true)
}

async fn read_loop(
    shared: &Shared,
    id: PipeId,
    mut reader: Box<dyn MsgRead>,
    wake: &Notify,
) -> PipeEnd {
    let mut frames: Vec<Bytes> = Vec::new();
    loop {
        // Respect pause: wait until the protocol resumes this pipe (or it goes away).
        loop {
            let notified = wake.notified();
            let closing = {
                let st = shared.lock();
                match st.pipes.get(&id) {
                    None => return PipeEnd::SocketClosed,
                    Some(s) if s.closing => true,
                    Some(s) if !s.paused => break,
                    Some(_) => false,
                }
            };
            if closing {
                // The writer flushes and then ends the pipe; stop reading meanwhile.
                std::future::pending::<()>().await;
            }
            notified.await;
        }
        let result = tokio::select! {
            r = reader.read(&mut frames) => r,
            () = wake.notified() => Ok(()),
        };
        deliver(shared, id, &mut frames);
        if let Err(end) = result {
            return end;
        }
    }
}

/// Hands a batch of received payloads to the protocol and wakes whoever can progress.
pub(crate) fn deliver(shared: &Shared, id: PipeId, frames: &mut Vec<Bytes>) {
    if frames.is_empty() {
        return;
    }
    let now = shared.now();
    let mut st = shared.lock();
    if let Some(slot) = st.pipes.get_mut(&id) {
        slot.stats.msgs_in += frames.len() as u64;
        slot.stats.bytes_in += frames.iter().map(|f| f.len() as u64).sum::<u64>();
    }
    for f in frames.drain(..) {
        st.proto.handle_message(now, id, f);
    }
    let mut w = st.drain(now);
    w.users = true;
    drop(st);
    shared.wake(w);
}

async fn write_loop(
    shared: &Shared,
    id: PipeId,
    mut writer: Box<dyn MsgWrite>,
    wake: &Notify,
) -> PipeEnd {
    let mut batch: VecDeque<Message> = VecDeque::new();
    loop {
        let closing = {
            let now = shared.now();
            let mut st = shared.lock();
            let Some(slot) = st.pipes.get_mut(&id) else {
                return PipeEnd::SocketClosed;
            };
            // The batch is empty here (the last write drained it): take the whole queue
            // in O(1), leaving the batch's buffer in its place.
            std::mem::swap(&mut batch, &mut slot.out);
            let closing = slot.closing;
            if slot.owed_writable {
                slot.owed_writable = false;
                st.proto.handle_writable(now, id);
                let mut w = st.drain(now);
                w.users = true;
                drop(st);
                shared.wake(w);
            }
            closing
        };
        if batch.is_empty() {
            if closing {
                writer.close().await;
                return PipeEnd::SocketClosed;
            }
            // notify_one stores a permit, so a wake-up since the check above is not lost.
            wake.notified().await;
            continue;
        }
        if let Err(e) = writer.write(&mut batch).await {
            return e;
        }
    }
}
