//! Byte-stream connections (TCP, IPC, TLS): the SP header exchange, then the frame codec
//! turning the stream into messages for the pipe loops.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use sp_proto::wire::frame::encode_prefix;
use sp_proto::wire::{FrameDecoder, FrameFormat, Handshake, HeaderError, MaxRecvSize};
use sp_proto::{Message, SocketType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::pipe::{MsgRead, MsgWrite, PipeEnd};
use crate::transport::direct::DirectWriter;
use crate::transport::{BoxFuture, BoxWrite, Conn, ReadSide};

/// Exchanges SP headers on `conn` within `timeout`; returns the peer's type.
pub(crate) async fn handshake(
    ours: SocketType,
    conn: &mut Conn,
    timeout: Duration,
) -> Result<SocketType, PipeEnd> {
    let mut hs = Handshake::new(ours, sp_proto::Instant::ZERO, timeout);
    let exchange = async {
        conn.io.write_all(&hs.local_header()).await?;
        conn.io.flush().await?;
        let mut buf = [0u8; 8];
        let mut have = 0;
        while have < 8 {
            let n = conn.io.read(&mut buf[have..]).await?;
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

/// The smallest and largest read buffer. The size adapts to the traffic: it doubles
/// after a read that filled it and halves after one that used less than an eighth, so a
/// bulk transfer reads 64 KiB at a time while a chatty connection reads 1 KiB (a size the
/// allocator serves from its per-thread cache).
const READ_MIN: usize = 1024;
const READ_MAX: usize = 64 * 1024;

/// Reads frames from a byte stream.
pub(crate) struct StreamReader {
    reader: ReadSide,
    decoder: FrameDecoder,
    buf: BytesMut,
    /// The read size in force (`READ_MIN..=READ_MAX`).
    chunk: usize,
}

impl StreamReader {
    pub(crate) fn new(reader: ReadSide, format: FrameFormat, max: MaxRecvSize) -> Self {
        Self {
            reader,
            decoder: FrameDecoder::new(format, max),
            buf: BytesMut::new(),
            chunk: READ_MIN,
        }
    }

    async fn read_some(&mut self, out: &mut Vec<Bytes>) -> Result<(), PipeEnd> {
        loop {
            if self.buf.is_empty() {
                // No partial frame is held: give the buffer back (the frames cut from it
                // keep their part alive) and wait for data before taking a new one, so an
                // idle connection holds no read buffer.
                self.buf = BytesMut::new();
                std::future::poll_fn(|cx| self.reader.poll_read_ready(cx)).await?;
            }
            if self.buf.capacity() - self.buf.len() < self.chunk / 2 {
                self.buf.reserve(self.chunk);
            }
            let spare = self.buf.capacity() - self.buf.len();
            let n = self.reader.read_buf(&mut self.buf).await?;
            if n == spare {
                self.chunk = (self.chunk * 2).min(READ_MAX);
            } else if n < spare / 8 {
                self.chunk = (self.chunk / 2).max(READ_MIN);
            }
            if n == 0 {
                return match self.decoder.decode_eof(&mut self.buf) {
                    Err(e) => Err(PipeEnd::Frame(e)),
                    Ok(Some(f)) => {
                        out.push(f);
                        Ok(())
                    }
                    Ok(None) => Err(PipeEnd::Eof),
                };
            }
            loop {
                match self.decoder.decode(&mut self.buf) {
                    Ok(Some(f)) => out.push(f),
                    Ok(None) => break,
                    Err(e) => return Err(PipeEnd::Frame(e)),
                }
            }
            if !out.is_empty() {
                return Ok(());
            }
        }
    }
}

impl MsgRead for StreamReader {
    fn read<'a>(&'a mut self, out: &'a mut Vec<Bytes>) -> BoxFuture<'a, Result<(), PipeEnd>> {
        Box::pin(self.read_some(out))
    }
}

/// Frames at or below this body size are copied into one write buffer; larger bodies are
/// written straight from their own buffer.
const COPY_LIMIT: usize = 16 * 1024;
const FLUSH_AT: usize = 64 * 1024;

/// Writes frames to a byte stream, coalescing small ones into few writes.
pub(crate) struct StreamWriter {
    writer: BoxWrite,
    format: FrameFormat,
    out: BytesMut,
    /// The write half shared with the pipe's slot for write-through, whose unwritten
    /// tail of a frame comes before anything this writer writes.
    direct: Option<Arc<DirectWriter>>,
}

impl StreamWriter {
    pub(crate) fn new(
        writer: BoxWrite,
        format: FrameFormat,
        direct: Option<Arc<DirectWriter>>,
    ) -> Self {
        Self {
            writer,
            format,
            direct,
            // Grown on first use (up to about FLUSH_AT plus one copied frame, then kept):
            // a connection that never sends, or only small messages, holds little.
            out: BytesMut::new(),
        }
    }

    /// Writes the tail of a frame the sending thread wrote in part, if any.
    async fn write_rest(&mut self) -> Result<(), PipeEnd> {
        if let Some(rest) = self.direct.as_ref().and_then(|d| d.take_rest()) {
            self.writer.write_all(&rest).await?;
        }
        Ok(())
    }

    async fn write_all(&mut self, batch: &mut VecDeque<Message>) -> Result<(), PipeEnd> {
        self.write_rest().await?;
        for msg in batch.drain(..) {
            let mut prefix = [0u8; 9];
            let n = encode_prefix(self.format, msg.wire_len() as u64, &mut prefix);
            self.out.put_slice(&prefix[..n]);
            self.out.put_slice(&msg.header);
            if msg.body.len() <= COPY_LIMIT {
                self.out.put_slice(&msg.body);
                if self.out.len() >= FLUSH_AT {
                    self.writer.write_all(&self.out).await?;
                    self.out.clear();
                }
            } else {
                // What is buffered (this frame's prefix and header, maybe smaller frames
                // before it) and the body go in one vectored write where the stream
                // supports it: no small segment of its own for the prefix.
                write_two(&mut self.writer, &self.out, &msg.body).await?;
                self.out.clear();
            }
        }
        if !self.out.is_empty() {
            self.writer.write_all(&self.out).await?;
            self.out.clear();
        }
        self.writer.flush().await?;
        Ok(())
    }
}

/// Writes `a` then `b` completely, with vectored writes.
async fn write_two(w: &mut BoxWrite, a: &[u8], b: &[u8]) -> std::io::Result<()> {
    let (mut a, mut b) = (a, b);
    while !a.is_empty() {
        let n = w
            .write_vectored(&[std::io::IoSlice::new(a), std::io::IoSlice::new(b)])
            .await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        if n < a.len() {
            a = &a[n..];
        } else {
            b = &b[n - a.len()..];
            a = &[];
        }
    }
    w.write_all(b).await
}

impl MsgWrite for StreamWriter {
    fn write<'a>(
        &'a mut self,
        batch: &'a mut VecDeque<Message>,
    ) -> BoxFuture<'a, Result<(), PipeEnd>> {
        Box::pin(self.write_all(batch))
    }

    fn close(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.write_rest().await.is_ok() {
                let _ = self.writer.shutdown().await;
            }
        })
    }
}
