//! The pipe of an upgraded `ws://`/`wss://` connection: SP messages out as binary
//! messages, frames in (reassembled, pings answered, errors closed with their code), and
//! the optional [`WsPing`] heartbeat that closes the pipe of a peer gone silent.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sp_proto::wire::ws_frame::{
    WsDecoder, WsEncoder, WsEvent, WsFrameError, WsRole, CLOSE_NORMAL, MAX_CONTROL_PAYLOAD,
};
use sp_proto::wire::MaxRecvSize;
use sp_proto::Message;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::ws::Upgraded;
use super::ws_keys::KeySource;
use super::{BoxFuture, BoxRead, BoxWrite, WsPing};
use crate::pipe::{Established, MsgRead, MsgWrite, PipeEnd};

/// How long a connection closed for a peer's error keeps draining input after sending its
/// close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(2);
/// Most bytes discarded while lingering.
const CLOSE_DRAIN_MAX: usize = 16 * 1024 * 1024;
/// Encoded bytes gathered before a write.
const FLUSH_AT: usize = 64 * 1024;

/// The write side, shared by the writer (messages) and the reader (pongs, close replies).
/// Frames are appended whole to `out` and written from it, so a write cancelled halfway
/// leaves the rest queued rather than a torn frame.
struct Sink {
    w: BoxWrite,
    out: BytesMut,
    enc: WsEncoder,
    /// Masking keys (used by a client only).
    keys: KeySource,
    closed: bool,
}

impl Sink {
    fn push_message(&mut self, m: &Message) {
        let Self { out, enc, keys, .. } = self;
        enc.encode_message(&m.header, &m.body, || keys.mask_key(), out);
    }

    fn push_ping(&mut self) {
        let Self { out, enc, keys, .. } = self;
        // An empty payload always fits a control frame.
        let _ = enc.encode_ping(&[], || keys.mask_key(), out);
    }

    fn push_pong(&mut self, payload: &[u8]) {
        let Self { out, enc, keys, .. } = self;
        // A ping's payload is at most 125 bytes, so this cannot fail.
        let _ = enc.encode_pong(payload, || keys.mask_key(), out);
    }

    /// Queues our Close frame (once).
    fn push_close(&mut self, code: u16, reason: &str) {
        if self.closed {
            return;
        }
        self.closed = true;
        let mut cut = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        let Self { out, enc, keys, .. } = self;
        let _ = enc.encode_close(code, &reason[..cut], || keys.mask_key(), out);
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.keys.failed() {
            // Frames masked while the OS supplied no randomness are never sent.
            self.out.clear();
            return Err(io::Error::other(
                "no OS randomness for WebSocket masking keys",
            ));
        }
        while !self.out.is_empty() {
            if self.w.write_buf(&mut self.out).await? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        self.w.flush().await
    }
}

type SharedSink = Arc<tokio::sync::Mutex<Sink>>;

/// Control frames the reader still owes the peer (kept across a cancelled read).
enum Owed {
    Pong(Bytes),
    Close(u16),
}

struct WsReader {
    r: Option<BoxRead>,
    buf: BytesMut,
    dec: WsDecoder,
    sink: SharedSink,
    owed: Option<Owed>,
    unflushed: bool,
    beat: Option<Heartbeat>,
}

/// The [`WsPing`] heartbeat of one pipe.
struct Heartbeat {
    ping: WsPing,
    /// When bytes last arrived from the peer (or the pipe began).
    heard: Instant,
    /// When our still unanswered Ping went out.
    pinged: Option<Instant>,
}

impl Heartbeat {
    fn new(ping: WsPing) -> Self {
        Self {
            ping,
            heard: Instant::now(),
            pinged: None,
        }
    }

    /// When the next Ping is due, or (one is out) when the pipe is given up.
    fn deadline(&self) -> Instant {
        match self.pinged {
            Some(at) => at + self.ping.timeout,
            None => self.heard + self.ping.interval,
        }
    }
}

impl WsReader {
    /// Sends what is owed; `true` when that was our Close reply (the pipe ends).
    async fn pay(&mut self) -> Result<bool, PipeEnd> {
        if self.owed.is_none() && !self.unflushed {
            return Ok(false);
        }
        let mut s = self.sink.lock().await;
        let closing = match self.owed.take() {
            Some(Owed::Pong(p)) => {
                s.push_pong(&p);
                false
            }
            Some(Owed::Close(code)) => {
                s.push_close(code, "");
                true
            }
            None => false,
        };
        self.unflushed = true;
        s.flush().await?;
        self.unflushed = false;
        if closing {
            let _ = s.w.shutdown().await;
        }
        Ok(closing)
    }

    /// Ends the connection for a peer's error: close frame with the error's code, then
    /// drain input for a while in the background.
    fn fail(&mut self, e: &WsFrameError) {
        let Some(mut r) = self.r.take() else { return };
        let sink = self.sink.clone();
        let code = e.close_code();
        let reason = e.to_string();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(CLOSE_LINGER, async move {
                {
                    let mut s = sink.lock().await;
                    s.push_close(code, &reason);
                    if s.flush().await.is_err() {
                        return;
                    }
                    let _ = s.w.shutdown().await;
                }
                let mut scratch = vec![0u8; 16 * 1024];
                let mut drained = 0;
                while drained < CLOSE_DRAIN_MAX {
                    match r.read(&mut scratch).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => drained += n,
                    }
                }
            })
            .await;
        });
    }

    async fn read_some(&mut self, out: &mut Vec<Bytes>) -> Result<(), PipeEnd> {
        if self.pay().await? {
            return Err(PipeEnd::Eof);
        }
        loop {
            loop {
                match self.dec.decode(&mut self.buf) {
                    Ok(Some(WsEvent::Message(m))) => out.push(m),
                    Ok(Some(WsEvent::Ping(p))) => {
                        self.owed = Some(Owed::Pong(p));
                        self.pay().await?;
                    }
                    Ok(Some(WsEvent::Close { code, .. })) => {
                        self.owed = Some(Owed::Close(code.unwrap_or(CLOSE_NORMAL)));
                        self.pay().await?;
                        return Err(PipeEnd::Eof);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.fail(&e);
                        return Err(PipeEnd::Ws(e));
                    }
                }
            }
            if !out.is_empty() {
                return Ok(());
            }
            let Some(r) = self.r.as_mut() else {
                return Err(PipeEnd::Eof);
            };
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(64 * 1024);
            }
            let n = match &mut self.beat {
                None => r.read_buf(&mut self.buf).await?,
                Some(beat) => {
                    let read = r.read_buf(&mut self.buf);
                    match tokio::time::timeout_at(beat.deadline(), read).await {
                        Ok(n) => {
                            beat.heard = Instant::now();
                            beat.pinged = None;
                            n?
                        }
                        Err(_) if beat.pinged.is_some() => return Err(PipeEnd::Silent),
                        Err(_) => {
                            self.ping().await?;
                            continue;
                        }
                    }
                }
            };
            if n == 0 {
                return Err(PipeEnd::Eof);
            }
        }
    }

    /// Sends the heartbeat's Ping. If the writer holds the connection, blocked on a peer
    /// that reads nothing, the Ping waits behind it and the pong timeout runs meanwhile.
    async fn ping(&mut self) -> Result<(), PipeEnd> {
        let Some(beat) = self.beat.as_mut() else {
            return Ok(());
        };
        let now = Instant::now();
        beat.pinged = Some(now);
        let until = now + beat.ping.timeout;
        let sent = tokio::time::timeout_at(until, async {
            let mut s = self.sink.lock().await;
            s.push_ping();
            s.flush().await
        })
        .await;
        match sent {
            Ok(r) => Ok(r?),
            Err(_) => Err(PipeEnd::Silent),
        }
    }
}

impl MsgRead for WsReader {
    fn read<'a>(&'a mut self, out: &'a mut Vec<Bytes>) -> BoxFuture<'a, Result<(), PipeEnd>> {
        Box::pin(self.read_some(out))
    }
}

struct WsWriter {
    sink: SharedSink,
}

impl MsgWrite for WsWriter {
    fn write<'a>(
        &'a mut self,
        batch: &'a mut VecDeque<Message>,
    ) -> BoxFuture<'a, Result<(), PipeEnd>> {
        Box::pin(async move {
            let mut s = self.sink.lock().await;
            if s.closed {
                batch.clear();
                return Err(PipeEnd::Eof);
            }
            for m in batch.drain(..) {
                s.push_message(&m);
                if s.out.len() >= FLUSH_AT {
                    s.flush().await?;
                }
            }
            s.flush().await?;
            Ok(())
        })
    }

    fn close(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut s = self.sink.lock().await;
            s.push_close(CLOSE_NORMAL, "");
            if s.flush().await.is_ok() {
                let _ = s.w.shutdown().await;
            }
        })
    }
}

/// An upgraded connection as a pipe's reader and writer, with the heartbeat `ping`.
pub(super) fn pipe_halves(
    role: WsRole,
    up: Upgraded,
    max_recv: MaxRecvSize,
    ping: Option<WsPing>,
) -> Established {
    let (r, w) = tokio::io::split(up.io);
    let sink = Arc::new(tokio::sync::Mutex::new(Sink {
        w: Box::new(w) as Box<dyn AsyncWrite + Send + Unpin>,
        out: BytesMut::with_capacity(FLUSH_AT),
        enc: WsEncoder::new(role),
        keys: KeySource::new(),
        closed: false,
    }));
    let reader = WsReader {
        r: Some(Box::new(r)),
        buf: up.leftover,
        dec: WsDecoder::new(role, max_recv),
        sink: sink.clone(),
        owed: None,
        unflushed: false,
        beat: ping.map(Heartbeat::new),
    };
    Established {
        peer: up.peer,
        peer_certificates: up.peer_certificates,
        reader: Box::new(reader),
        writer: Box::new(WsWriter { sink }),
        direct: None,
    }
}
