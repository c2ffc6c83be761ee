//! A blocking API over the same sockets, for threads that do not run async code.
//!
//! [`BlockingSocket`] is `Send + Sync` and cheap to clone: any number of threads may send
//! and receive on one socket at the same time (each call blocks only its own thread). The
//! sockets run on a small shared tokio runtime started on first use. Do not call these
//! methods from inside an async task: use [`Socket`] there.

use std::sync::LazyLock;

use sp_proto::{AnyProtocol, Message, SocketType};
use tokio::runtime::{Handle, Runtime};

use crate::error::Error;
use crate::socket::{Endpoint, Socket, SocketOptions};
use crate::stats::Statistics;
use crate::url::IntoUrl;

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sp-net")
        .enable_all()
        .build()
        .expect("the sp-net runtime could not start (out of threads or memory)")
});

fn handle() -> &'static Handle {
    RUNTIME.handle()
}

/// A socket for blocking code. Every method blocks the calling thread only.
#[derive(Clone, Debug)]
pub struct BlockingSocket {
    inner: Socket,
}

impl BlockingSocket {
    /// A cooked socket of `socket_type`.
    pub fn new(socket_type: SocketType) -> Self {
        let _guard = handle().enter();
        Self {
            inner: Socket::new(socket_type),
        }
    }

    /// A raw socket (for devices).
    pub fn new_raw(socket_type: SocketType) -> Self {
        let _guard = handle().enter();
        Self {
            inner: Socket::new_raw(socket_type),
        }
    }

    /// The async socket behind this handle.
    pub fn as_async(&self) -> &Socket {
        &self.inner
    }

    /// Binds a listener (`url`: a string or a [`Url`](crate::Url), see [`IntoUrl`]).
    pub fn listen(&self, url: impl IntoUrl) -> Result<Endpoint, Error> {
        handle().block_on(self.inner.listen(url))
    }

    /// Starts dialing in the background (`url`: a string or a [`Url`](crate::Url), see
    /// [`IntoUrl`]).
    pub fn dial(&self, url: impl IntoUrl) -> Result<Endpoint, Error> {
        handle().block_on(self.inner.dial(url))
    }

    /// Sends, blocking up to the send timeout.
    pub fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        handle().block_on(self.inner.send(msg))
    }

    /// Receives, blocking up to the receive timeout.
    pub fn recv(&self) -> Result<Message, Error> {
        handle().block_on(self.inner.recv())
    }

    /// Blocks until at least `n` pipes are attached.
    pub fn wait_for_pipes(&self, n: usize) -> Result<(), Error> {
        handle().block_on(self.inner.wait_for_pipes(n))
    }

    /// Current options.
    pub fn options(&self) -> SocketOptions {
        self.inner.options()
    }

    /// Replaces the options.
    pub fn set_options(&self, options: SocketOptions) {
        self.inner.set_options(options);
    }

    /// Runs `f` on the protocol state machine (subscriptions, contexts).
    pub fn with_protocol<R>(&self, f: impl FnOnce(&mut AnyProtocol) -> R) -> R {
        self.inner.with_protocol(f)
    }

    /// Statistics.
    pub fn stats(&self) -> Statistics {
        self.inner.stats()
    }

    /// Closes the socket (flushing up to the linger time). Threads blocked in send or
    /// recv return [`Error::Closed`]. Returns once the listeners have released their
    /// addresses, as [`Socket::close`] does.
    pub fn close(&self) {
        handle().block_on(self.inner.close());
    }
}
