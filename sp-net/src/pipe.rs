//! One pipe's life once its connection is established: attach to the socket core, then a
//! reader and a writer moving messages between the connection and the protocol until
//! either side ends. The connection itself is message-oriented here ([`MsgRead`],
//! [`MsgWrite`]); byte streams get there through the SP frame codec (`stream.rs`),
//! in-process pipes directly (`transport/inproc.rs`).

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use sp_proto::wire::{FrameError, HeaderError};
use sp_proto::{Message, PipeId, PipeInfo};

use crate::core::{AttachError, ReadState, Shared, SharedRef};
use crate::future::BoxFuture;
use crate::stats::Count;
use crate::sync::Notify;
use crate::transport::direct::DirectWriter;
use crate::transport::tls::PeerCertificates;

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
    #[error("peer silent past the WebSocket ping timeout")]
    Silent,
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

/// A connection after its set-up (TLS, SP header exchange, WebSocket upgrade, inproc
/// type check): what every transport produces and every pipe runs on.
pub(crate) struct Established {
    /// The peer's address, for logs and pipe statistics.
    pub(crate) peer: String,
    /// The certificates the peer presented in a TLS handshake (tls+tcp, wss).
    pub(crate) peer_certificates: Option<PeerCertificates>,
    /// The receiving side.
    pub(crate) reader: Box<dyn MsgRead>,
    /// The sending side.
    pub(crate) writer: Box<dyn MsgWrite>,
    /// The sending side's connection, shared for write-through (plain TCP and IPC).
    pub(crate) direct: Option<Arc<DirectWriter>>,
}

/// Attaches a pipe for an established connection and runs it to completion. Returns how
/// it ended and whether a pipe had been attached (dialers reset their backoff only then).
pub(crate) async fn run(shared: SharedRef, conn: Established, info: PipeInfo) -> (PipeEnd, bool) {
    let Established {
        peer,
        peer_certificates,
        reader,
        writer,
        direct,
    } = conn;
    let peer = peer.as_str();
    let attached = shared.attach_pipe(info, peer, peer_certificates, direct);
    let (id, wake_writer, wake_reader) = match attached {
        Ok(x) => x,
        Err(AttachError::Closed) => return (PipeEnd::SocketClosed, false),
        Err(AttachError::Refused(e)) => {
            shared.count(Count::PipeRefused);
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
            shared.count(Count::FrameError);
            tracing::warn!(pipe = %id, peer, error = %end, "closing connection");
        }
        // The pong timeout passed, or the kernel gave up on the connection (keepalive
        // probes or retransmissions unanswered: ETIMEDOUT).
        PipeEnd::Silent => {
            shared.count(Count::ClosedForSilence);
            tracing::info!(pipe = %id, peer, error = %end, "closing connection");
        }
        PipeEnd::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            shared.count(Count::ClosedForSilence);
            tracing::info!(pipe = %id, peer, error = %end, "connection timed out");
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
    let mut state = shared.read_state(id);
    loop {
        match state {
            ReadState::Read => {}
            ReadState::Gone => return PipeEnd::SocketClosed,
            // The writer flushes and then ends the pipe, which ends this loop too.
            ReadState::Closing => std::future::pending::<()>().await,
            ReadState::Paused => {
                state = shared.wait_while_paused(id, wake).await;
                continue;
            }
        }
        // No wake-up is awaited while reading: a pause takes effect after this batch,
        // and closing or removal end the pipe through the writer.
        let result = reader.read(&mut frames).await;
        state = shared.deliver(id, &mut frames);
        if let Err(end) = result {
            return end;
        }
    }
}

async fn write_loop(
    shared: &Shared,
    id: PipeId,
    mut writer: Box<dyn MsgWrite>,
    wake: &Notify,
) -> PipeEnd {
    let mut batch: VecDeque<Message> = VecDeque::new();
    loop {
        let Some(closing) = shared.next_batch(id, &mut batch, wake).await else {
            return PipeEnd::SocketClosed;
        };
        if batch.is_empty() && closing {
            // Everything accepted was written (close writes the tail of a frame the
            // sending thread wrote in part, if any).
            writer.close().await;
            return PipeEnd::SocketClosed;
        }
        if let Err(e) = writer.write(&mut batch).await {
            return e;
        }
    }
}
