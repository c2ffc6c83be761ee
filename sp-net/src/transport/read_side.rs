//! The read half of a byte-stream connection, able to wait for data without a buffer
//! where the stream allows it (TCP and Unix sockets), so that an idle connection holds
//! no read buffer.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::BoxRead;

/// The read half of a connection.
pub(crate) enum ReadSide {
    /// A TCP stream's owned read half.
    Tcp(tokio::net::tcp::OwnedReadHalf),
    /// A Unix stream's owned read half.
    #[cfg(unix)]
    Unix(tokio::net::unix::OwnedReadHalf),
    /// Any other stream (TLS, simulated networks): no readiness without reading.
    Other(BoxRead),
}

impl ReadSide {
    /// Ready once a read would not block, for TCP and Unix streams; at once for others.
    pub(crate) fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Self::Tcp(r) => r.as_ref().poll_read_ready(cx),
            #[cfg(unix)]
            Self::Unix(r) => r.as_ref().poll_read_ready(cx),
            Self::Other(_) => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncRead for ReadSide {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(r) => Pin::new(r).poll_read(cx, buf),
            #[cfg(unix)]
            Self::Unix(r) => Pin::new(r).poll_read(cx, buf),
            Self::Other(r) => Pin::new(r).poll_read(cx, buf),
        }
    }
}
