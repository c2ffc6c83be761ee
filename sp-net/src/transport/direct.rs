//! Write-through for idle TCP and IPC pipes: a small frame sent while the pipe's writer
//! task has nothing to do is written to the connection by the sending thread itself,
//! without waking the writer task (a cross-thread wake-up when the sender is not on the
//! runtime, as with the blocking API and the C API). libnanomsg writes the same way.
//!
//! [`DirectWriter`] owns the connection's write half and is shared by the pipe's slot in
//! the socket core (which decides, under the socket's lock, when a write may go through)
//! and the writer task (which writes through [`SharedWrite`], the same half). The core
//! writes through only while the writer task is idle and the pipe's queue is empty, so
//! the two never write at once and frames stay in order. A frame the kernel takes only in
//! part leaves its rest here, and the writer task writes that rest before anything else.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{ready, Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use sp_proto::wire::frame::{encode_prefix, FrameFormat};
use sp_proto::Message;
use tokio::io::AsyncWrite;

/// Frames up to this many bytes (prefix, header and body) may be written through; larger
/// ones go to the writer task, which writes them without copying.
pub(crate) const DIRECT_MAX: usize = 16 * 1024;

/// The write half of a TCP or Unix stream.
pub(crate) enum Half {
    /// A TCP connection's write half.
    Tcp(tokio::net::tcp::OwnedWriteHalf),
    /// A Unix-domain (IPC) connection's write half.
    #[cfg(unix)]
    Unix(tokio::net::unix::OwnedWriteHalf),
}

/// `send(2)` flags: no `SIGPIPE` for a write to a connection the peer reset (a C program
/// on the C API has not ignored it, and it would die of it), an `EPIPE` error instead.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SEND_FLAGS: std::ffi::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const SEND_FLAGS: std::ffi::c_int = 0;

impl Half {
    /// Writes what the kernel takes of `bufs` without waiting, as one `sendmsg(2)` (or
    /// `send(2)` for one buffer); a would-block clears the stream's write readiness, so
    /// the next [`poll_write_ready`](Self::poll_write_ready) waits for room.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        fn send(sock: socket2::SockRef<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            match bufs {
                [one] => sock.send_with_flags(one, SEND_FLAGS),
                _ => sock.send_vectored_with_flags(bufs, SEND_FLAGS),
            }
        }
        let writable = tokio::io::Interest::WRITABLE;
        match self {
            Self::Tcp(w) => {
                let s = AsRef::<tokio::net::TcpStream>::as_ref(w);
                s.try_io(writable, || send(socket2::SockRef::from(s), bufs))
            }
            #[cfg(unix)]
            Self::Unix(w) => {
                let s = AsRef::<tokio::net::UnixStream>::as_ref(w);
                s.try_io(writable, || send(socket2::SockRef::from(s), bufs))
            }
        }
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Self::Tcp(w) => AsRef::<tokio::net::TcpStream>::as_ref(w).poll_write_ready(cx),
            #[cfg(unix)]
            Self::Unix(w) => AsRef::<tokio::net::UnixStream>::as_ref(w).poll_write_ready(cx),
        }
    }

    fn shutdown(&self) -> io::Result<()> {
        let sock = match self {
            Self::Tcp(w) => socket2::SockRef::from(AsRef::<tokio::net::TcpStream>::as_ref(w)),
            #[cfg(unix)]
            Self::Unix(w) => socket2::SockRef::from(AsRef::<tokio::net::UnixStream>::as_ref(w)),
        };
        match sock.shutdown(std::net::Shutdown::Write) {
            // The peer already went: nothing is left to shut.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }
}

/// What [`DirectWriter::try_write`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direct {
    /// The whole frame is in the kernel.
    Written,
    /// Part of it is: the writer task must write the rest (kept here) before anything else.
    Partial,
    /// Nothing was written (no room, or an error the writer task will meet and report):
    /// queue the message as usual.
    NotNow,
}

/// A connection's write half, shared by the pipe's slot and its writer task.
pub(crate) struct DirectWriter {
    half: Half,
    format: FrameFormat,
    /// The unwritten tail of a frame written in part.
    rest: Mutex<Option<Bytes>>,
}

impl std::fmt::Debug for DirectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectWriter")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl DirectWriter {
    /// Shares `half`, whose frames are in `format`.
    pub(crate) fn new(half: Half, format: FrameFormat) -> Self {
        Self {
            half,
            format,
            rest: Mutex::new(None),
        }
    }

    /// Whether `msg` is small enough to be written through.
    pub(crate) fn fits(msg: &Message) -> bool {
        msg.wire_len() + 9 <= DIRECT_MAX
    }

    /// Writes `msg` as one frame without waiting. Only while nothing else is being
    /// written on this connection (the core's rule; see the module documentation).
    pub(crate) fn try_write(&self, msg: &Message) -> Direct {
        let mut prefix = [0u8; 9];
        let n = encode_prefix(self.format, msg.wire_len() as u64, &mut prefix);
        let parts = [&prefix[..n], &msg.header[..], &msg.body[..]];
        let total = n + msg.wire_len();
        let slices = parts.map(IoSlice::new);
        match self.half.try_write_vectored(&slices) {
            Ok(w) if w == total => Direct::Written,
            Ok(0) | Err(_) => Direct::NotNow,
            Ok(mut skip) => {
                let mut rest = BytesMut::with_capacity(total - skip);
                for part in parts {
                    let from = skip.min(part.len());
                    skip -= from;
                    rest.put_slice(&part[from..]);
                }
                *self.lock_rest() = Some(rest.freeze());
                Direct::Partial
            }
        }
    }

    /// Takes the unwritten tail of a frame written in part, if any.
    pub(crate) fn take_rest(&self) -> Option<Bytes> {
        self.lock_rest().take()
    }

    fn lock_rest(&self) -> std::sync::MutexGuard<'_, Option<Bytes>> {
        self.rest.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The writer task's view of a shared write half: an ordinary `AsyncWrite`.
pub(crate) struct SharedWrite(pub(crate) std::sync::Arc<DirectWriter>);

impl AsyncWrite for SharedWrite {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let half = &self.0.half;
        loop {
            ready!(half.poll_write_ready(cx))?;
            // A would-block clears the readiness, so the next poll registers the waker.
            match half.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.half.shutdown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sp_proto::wire::{FrameDecoder, MaxRecvSize};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Our side's write half shared for write-through, and the peer's stream.
    async fn pair() -> (Arc<DirectWriter>, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ours = tokio::net::TcpStream::connect(listener.local_addr().unwrap());
        let (ours, accepted) = tokio::join!(ours, listener.accept());
        let (_read, write) = ours.unwrap().into_split();
        // The read half is dropped: it does not close the connection.
        let direct = Arc::new(DirectWriter::new(Half::Tcp(write), FrameFormat::Tcp));
        (direct, accepted.unwrap().0)
    }

    fn body(i: usize) -> Bytes {
        Bytes::from(vec![(i % 251) as u8; 4_001 + i % 7])
    }

    /// Fills the connection with write-throughs until one is taken in part: every frame
    /// before it whole, its rest kept for the writer. Writing that rest and one more
    /// frame through the writer's [`SharedWrite`] gives the peer every frame, whole and
    /// in order.
    #[tokio::test]
    async fn a_frame_taken_in_part_keeps_its_rest_for_the_writer() {
        let (direct, mut peer) = pair().await;
        let mut sent = Vec::new();
        let mut inbox = BytesMut::new();
        loop {
            assert!(sent.len() < 100_000, "the kernel's buffers never filled");
            let b = body(sent.len());
            match direct.try_write(&Message::new(b.clone())) {
                Direct::Written => sent.push(b),
                Direct::Partial => {
                    sent.push(b);
                    break;
                }
                // Full exactly at a frame's end: make a little room and go on.
                Direct::NotNow => {
                    let mut chunk = [0u8; 1000];
                    let n = peer.read(&mut chunk).await.unwrap();
                    inbox.extend_from_slice(&chunk[..n]);
                }
            }
        }
        let rest = direct.take_rest().expect("a partial write keeps its rest");
        assert!(!rest.is_empty() && rest.len() < 4_001 + 9 + 7);
        assert!(direct.take_rest().is_none(), "the rest is taken once");
        let last = body(sent.len());
        sent.push(last.clone());
        let writer = {
            let direct = direct.clone();
            tokio::spawn(async move {
                let mut w = SharedWrite(direct);
                w.write_all(&rest).await.unwrap();
                let mut prefix = [0u8; 9];
                let n = encode_prefix(FrameFormat::Tcp, last.len() as u64, &mut prefix);
                w.write_all(&prefix[..n]).await.unwrap();
                w.write_all(&last).await.unwrap();
                w.shutdown().await.unwrap();
            })
        };
        let mut decoder = FrameDecoder::new(FrameFormat::Tcp, MaxRecvSize::Unlimited);
        let mut got = Vec::new();
        loop {
            while let Some(frame) = decoder.decode(&mut inbox).unwrap() {
                got.push(frame);
            }
            let mut chunk = [0u8; 65_536];
            let n = peer.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            inbox.extend_from_slice(&chunk[..n]);
        }
        writer.await.unwrap();
        assert!(inbox.is_empty(), "{} stray bytes", inbox.len());
        assert_eq!(got.len(), sent.len());
        for (i, (g, s)) in got.iter().zip(&sent).enumerate() {
            assert!(g == s, "frame {i} differs");
        }
    }

    #[test]
    fn only_small_frames_are_written_through() {
        assert!(DirectWriter::fits(&Message::new(vec![0u8; DIRECT_MAX - 9])));
        assert!(!DirectWriter::fits(&Message::new(vec![
            0u8;
            DIRECT_MAX - 8
        ])));
    }
}
