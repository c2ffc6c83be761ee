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

use crate::core::{AttachError, Shared, SharedRef, State};
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

/// What the reader of a pipe should do next, read under the lock with each delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadState {
    /// Keep reading.
    Read,
    /// The protocol paused this pipe: wait for it to resume.
    Paused,
    /// The socket is closing: the writer flushes and ends the pipe; stop reading.
    Closing,
    /// The pipe is gone.
    Gone,
}

impl ReadState {
    fn of(st: &State, id: PipeId) -> Self {
        match st.pipes.get(&id) {
            None => Self::Gone,
            Some(s) if s.closing => Self::Closing,
            Some(s) if s.paused => Self::Paused,
            Some(_) => Self::Read,
        }
    }
}

async fn read_loop(
    shared: &Shared,
    id: PipeId,
    mut reader: Box<dyn MsgRead>,
    wake: &Notify,
) -> PipeEnd {
    let mut frames: Vec<Bytes> = Vec::new();
    let mut state = ReadState::of(&shared.lock(), id);
    loop {
        match state {
            ReadState::Read => {}
            ReadState::Gone => return PipeEnd::SocketClosed,
            // The writer flushes and then ends the pipe, which ends this loop too.
            ReadState::Closing => std::future::pending::<()>().await,
            ReadState::Paused => {
                // Resume, close and removal all notify `wake` after changing the state.
                let notified = wake.notified();
                state = ReadState::of(&shared.lock(), id);
                if state == ReadState::Paused {
                    notified.await;
                    state = ReadState::of(&shared.lock(), id);
                }
                continue;
            }
        }
        // No wake-up is awaited while reading: a pause takes effect after this batch,
        // and closing or removal end the pipe through the writer.
        let result = reader.read(&mut frames).await;
        state = deliver(shared, id, &mut frames);
        if let Err(end) = result {
            return end;
        }
    }
}

/// Hands a batch of received payloads to the protocol, wakes whoever can progress, and
/// tells the reader what to do next.
pub(crate) fn deliver(shared: &Shared, id: PipeId, frames: &mut Vec<Bytes>) -> ReadState {
    let now = shared.now();
    let mut st = shared.lock();
    if frames.is_empty() {
        return ReadState::of(&st, id);
    }
    if let Some(slot) = st.pipes.get_mut(&id) {
        slot.stats.msgs_in += frames.len() as u64;
        slot.stats.bytes_in += frames.iter().map(|f| f.len() as u64).sum::<u64>();
    }
    // One batch of messages from this pipe, then one drain (the drain rule's exception).
    let proto = st.input();
    for f in frames.drain(..) {
        proto.handle_message(now, id, f);
    }
    let mut w = st.drain(now);
    w.users = true;
    let next = ReadState::of(&st, id);
    drop(st);
    shared.wake(w);
    next
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
            if batch.is_empty() {
                // Going idle: give both queue buffers back rather than keep them for the
                // life of a quiet pipe (a busy one does not come here between batches).
                batch = VecDeque::new();
                slot.out = VecDeque::new();
            }
            let closing = slot.closing;
            if slot.owed_writable {
                slot.owed_writable = false;
                st.input().handle_writable(now, id);
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
