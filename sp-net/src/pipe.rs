//! One connection's life: SP header exchange, then a reader and a writer running the
//! sans-IO frame codec against the socket core, until either side ends.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use sp_proto::wire::frame::encode_prefix;
use sp_proto::wire::{FrameDecoder, FrameFormat, Handshake, HeaderError, MaxRecvSize};
use sp_proto::{Message, PipeId, PipeInfo, Protocol, SocketType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use crate::core::{AttachError, Shared};
use crate::transport::{BoxRead, BoxWrite, Conn};

/// Per-connection settings taken from the endpoint's options.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PipeConfig {
    pub(crate) info: PipeInfo,
    pub(crate) format: FrameFormat,
    pub(crate) max_recv: MaxRecvSize,
    pub(crate) handshake_timeout: Duration,
}

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
    Frame(sp_proto::wire::FrameError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed by peer")]
    Eof,
}

/// Exchanges SP headers on `conn`.
async fn handshake(
    ours: SocketType,
    conn: &mut Conn,
    timeout: Duration,
) -> Result<SocketType, PipeEnd> {
    let mut hs = Handshake::new(ours, sp_proto::Instant::ZERO, timeout);
    let exchange = async {
        conn.writer.write_all(&hs.local_header()).await?;
        conn.writer.flush().await?;
        let mut buf = [0u8; 8];
        let mut have = 0;
        while have < 8 {
            let n = conn.reader.read(&mut buf[have..]).await?;
            if n == 0 {
                return Err(PipeEnd::Handshake(hs.eof()));
            }
            // Feed only the new bytes: a bad signature fails before all 8 arrive.
            let (_, peer) = hs.feed(&buf[have..have + n]).map_err(PipeEnd::Handshake)?;
            have += n;
            if let Some(peer) = peer {
                return Ok(peer);
            }
        }
        Err(PipeEnd::Handshake(hs.eof()))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err(PipeEnd::Handshake(HeaderError::TimedOut)),
    }
}

/// Runs one connection to completion. Returns how it ended and whether a pipe had been
/// attached (dialers reset their backoff only then).
pub(crate) async fn run(shared: Arc<Shared>, mut conn: Conn, cfg: PipeConfig) -> (PipeEnd, bool) {
    let ours = shared.lock().proto.socket_type();
    if let Err(e) = handshake(ours, &mut conn, cfg.handshake_timeout).await {
        shared.lock().stats.handshake_failures += 1;
        tracing::warn!(peer = %conn.peer, error = %e, "SP handshake failed; closing connection");
        return (e, false);
    }
    let (id, wake_writer, wake_reader) = match shared.attach_pipe(cfg.info) {
        Ok(x) => x,
        Err(AttachError::Closed) => return (PipeEnd::SocketClosed, false),
        Err(AttachError::Refused(e)) => {
            shared.lock().stats.pipes_refused += 1;
            tracing::info!(peer = %conn.peer, error = %e, "pipe refused by protocol");
            return (PipeEnd::Refused(e), false);
        }
    };
    tracing::debug!(pipe = %id, peer = %conn.peer, "pipe attached");
    // Detaches the pipe however this future ends, including when its task is aborted.
    struct DetachOnDrop<'a>(&'a Shared, PipeId);
    impl Drop for DetachOnDrop<'_> {
        fn drop(&mut self) {
            self.0.detach_pipe(self.1);
        }
    }
    let _detach = DetachOnDrop(&shared, id);
    let Conn { reader, writer, .. } = conn;
    let end = tokio::select! {
        r = read_loop(&shared, id, reader, &wake_reader, cfg) => r,
        w = write_loop(&shared, id, writer, &wake_writer, cfg.format) => w,
    };
    if let PipeEnd::Frame(e) = &end {
        shared.lock().stats.frame_errors += 1;
        tracing::warn!(pipe = %id, error = %e, "closing connection");
    } else {
        tracing::debug!(pipe = %id, end = %end, "pipe ended");
    }
    (end, true)
}

const READ_CHUNK: usize = 64 * 1024;

async fn read_loop(
    shared: &Shared,
    id: PipeId,
    mut reader: BoxRead,
    wake: &Notify,
    cfg: PipeConfig,
) -> PipeEnd {
    let mut decoder = FrameDecoder::new(cfg.format, cfg.max_recv);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut frames: Vec<Bytes> = Vec::new();
    loop {
        // Respect pause: wait until the protocol resumes this pipe (or it goes away).
        loop {
            let notified = wake.notified();
            {
                let st = shared.lock();
                match st.pipes.get(&id) {
                    None => return PipeEnd::SocketClosed,
                    Some(s) if s.closing => return PipeEnd::SocketClosed,
                    Some(s) if !s.paused => break,
                    Some(_) => {}
                }
            }
            notified.await;
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(READ_CHUNK);
        }
        let n = tokio::select! {
            r = reader.read_buf(&mut buf) => match r {
                Ok(n) => n,
                Err(e) => return PipeEnd::Io(e),
            },
            () = wake.notified() => continue,
        };
        if n == 0 {
            return match decoder.decode_eof(&mut buf) {
                Err(e) => PipeEnd::Frame(e),
                Ok(_) => PipeEnd::Eof,
            };
        }
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => {
                    deliver(shared, id, &mut frames);
                    return PipeEnd::Frame(e);
                }
            }
        }
        deliver(shared, id, &mut frames);
    }
}

fn deliver(shared: &Shared, id: PipeId, frames: &mut Vec<Bytes>) {
    if frames.is_empty() {
        return;
    }
    let now = shared.now();
    let mut st = shared.lock();
    for f in frames.drain(..) {
        st.proto.handle_message(now, id, f);
    }
    let w = st.drain(now);
    drop(st);
    shared.wake(w);
}

/// Frames at or below this body size are copied into one write buffer; larger bodies go
/// out with a vectored write, without copying.
const COPY_LIMIT: usize = 16 * 1024;

async fn write_loop(
    shared: &Shared,
    id: PipeId,
    mut writer: BoxWrite,
    wake: &Notify,
    format: FrameFormat,
) -> PipeEnd {
    let mut batch: Vec<Message> = Vec::new();
    let mut out = BytesMut::with_capacity(64 * 1024);
    loop {
        let closing = {
            let now = shared.now();
            let mut st = shared.lock();
            let Some(slot) = st.pipes.get_mut(&id) else {
                return PipeEnd::SocketClosed;
            };
            batch.extend(slot.out.drain(..));
            let closing = slot.closing;
            if slot.owed_writable {
                slot.owed_writable = false;
                st.proto.handle_writable(now, id);
                let w = st.drain(now);
                drop(st);
                shared.wake(w);
            }
            closing
        };
        if batch.is_empty() {
            if closing {
                let _ = writer.shutdown().await;
                return PipeEnd::SocketClosed;
            }
            // notify_one stores a permit, so a wake-up since the check above is not lost.
            wake.notified().await;
            continue;
        }
        for msg in batch.drain(..) {
            let mut prefix = [0u8; 9];
            let n = encode_prefix(format, msg.wire_len() as u64, &mut prefix);
            out.put_slice(&prefix[..n]);
            out.put_slice(&msg.header);
            if msg.body.len() <= COPY_LIMIT {
                out.put_slice(&msg.body);
                if out.len() < 64 * 1024 {
                    continue;
                }
            } else {
                if let Err(e) = writer.write_all(&out).await {
                    return PipeEnd::Io(e);
                }
                out.clear();
                if let Err(e) = writer.write_all(&msg.body).await {
                    return PipeEnd::Io(e);
                }
                continue;
            }
            if let Err(e) = writer.write_all(&out).await {
                return PipeEnd::Io(e);
            }
            out.clear();
        }
        if !out.is_empty() {
            if let Err(e) = writer.write_all(&out).await {
                return PipeEnd::Io(e);
            }
            out.clear();
        }
        if let Err(e) = writer.flush().await {
            return PipeEnd::Io(e);
        }
    }
}
