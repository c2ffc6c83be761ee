//! Typed sockets: one type per protocol, exposing only the operations that protocol
//! supports, so misuse (receiving on a PUB, sending on a SUB, `request` on a REP) fails at
//! compile time. Each wraps a [`Socket`], reachable with `as_socket`/`into_socket` for
//! anything not covered here. Each has a [`Builder`] (`Surveyor::builder()`) that sets
//! every option its protocol reads in one chain.
//!
//! ```
//! use std::time::Duration;
//! use sp_net::typed::{Respondent, Surveyor};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), sp_net::Error> {
//! let surveyor = Surveyor::builder()
//!     .deadline(Duration::from_millis(200))
//!     .recv_timeout(Duration::from_millis(50))
//!     .build()?;
//! let ep = surveyor.listen("inproc://typed-builder-doc").await?;
//! let respondent = Respondent::builder().build()?;
//! respondent.dial(ep.url()).await?;
//! surveyor.wait_for_pipes(1).await?;
//! let mut survey = surveyor.survey("who is there?").await?;
//! let question = respondent.recv().await?;
//! respondent.send(format!("me, asked {:?}", question.body)).await?;
//! let answer = survey.next().await?.expect("one answer before the deadline");
//! assert!(answer.body.starts_with(b"me"));
//! // The deadline (not the 50 ms receive timeout) ends the survey.
//! assert!(survey.next().await?.is_none());
//! # Ok(()) }
//! ```

mod builder;
pub use builder::{Builder, TypedSocket};

use sp_proto::{Message, PipeId, SocketType};

use crate::context::{Context, Survey};
use crate::error::Error;
use crate::socket::{Endpoint, Socket, SocketOptions};
use crate::stats::{PipeEvent, PipeStats, Statistics};
use crate::transport::tls::PeerCertificates;
use crate::url::IntoUrl;

macro_rules! typed_socket {
    ($(#[$doc:meta])* $name:ident, $t:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name(Socket);

        impl builder::sealed::Sealed for $name {}

        impl TypedSocket for $name {
            const SOCKET_TYPE: SocketType = $t;
            fn from_socket(socket: Socket) -> Self {
                Self(socket)
            }
        }

        impl $name {
            /// A builder for this socket, with every option its protocol reads.
            pub fn builder() -> Builder<Self> {
                Builder::default()
            }

            /// A new socket.
            ///
            /// # Panics
            ///
            /// Outside a tokio runtime, as [`Socket::new`].
            #[track_caller]
            pub fn new() -> Self {
                Self(Socket::new($t))
            }

            /// Binds a listener (see [`Socket::listen`]).
            pub async fn listen(&self, url: impl IntoUrl) -> Result<Endpoint, Error> {
                self.0.listen(url).await
            }

            /// Starts dialing (see [`Socket::dial`]).
            pub async fn dial(&self, url: impl IntoUrl) -> Result<Endpoint, Error> {
                self.0.dial(url).await
            }

            /// Waits until at least `n` pipes are attached.
            pub async fn wait_for_pipes(&self, n: usize) -> Result<(), Error> {
                self.0.wait_for_pipes(n).await
            }

            /// Waits until at most `n` pipes are attached.
            pub async fn wait_for_pipes_at_most(&self, n: usize) -> Result<(), Error> {
                self.0.wait_for_pipes_at_most(n).await
            }

            /// The certificate chain the peer of `pipe` presented in its TLS handshake
            /// (see [`Socket::peer_certificates`]).
            pub fn peer_certificates(&self, pipe: PipeId) -> Option<PeerCertificates> {
                self.0.peer_certificates(pipe)
            }

            /// Number of attached pipes.
            pub fn pipe_count(&self) -> usize {
                self.0.pipe_count()
            }

            /// Current options.
            pub fn options(&self) -> SocketOptions {
                self.0.options()
            }

            /// Replaces the options.
            pub fn set_options(&self, options: SocketOptions) {
                self.0.set_options(options);
            }

            /// Statistics.
            pub fn stats(&self) -> Statistics {
                self.0.stats()
            }

            /// Counters of every attached pipe (see [`Socket::pipe_stats`]).
            pub fn pipe_stats(&self) -> Vec<PipeStats> {
                self.0.pipe_stats()
            }

            /// Pipe events: added, removed, failed handshakes (see [`Socket::pipe_events`]).
            pub fn pipe_events(&self) -> tokio::sync::broadcast::Receiver<PipeEvent> {
                self.0.pipe_events()
            }

            /// Closes the socket, flushing within the linger time.
            pub async fn close(&self) {
                self.0.close().await;
            }

            /// The untyped socket.
            pub fn as_socket(&self) -> &Socket {
                &self.0
            }

            /// Unwraps into the untyped socket.
            pub fn into_socket(self) -> Socket {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}

macro_rules! can_send {
    ($name:ident) => {
        impl $name {
            /// Sends a message (see [`Socket::send`]).
            pub async fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
                self.0.send(msg).await
            }
        }
    };
}

macro_rules! can_recv {
    ($name:ident) => {
        impl $name {
            /// Receives a message (see [`Socket::recv`]).
            pub async fn recv(&self) -> Result<Message, Error> {
                self.0.recv().await
            }
        }
    };
}

macro_rules! has_contexts {
    ($name:ident) => {
        impl $name {
            /// Opens an independent context (see [`Socket::open_context`]).
            pub fn open_context(&self) -> Result<Context, Error> {
                self.0.open_context()
            }
        }
    };
}

typed_socket!(
    /// PAIR v0: one peer, both directions.
    Pair, SocketType::Pair0
);
can_send!(Pair);
can_recv!(Pair);

typed_socket!(
    /// PAIR v1 (NNG's PAIR): one peer, both directions, hop-counted.
    Pair1, SocketType::Pair1
);
can_send!(Pair1);
can_recv!(Pair1);

typed_socket!(
    /// PUB: sends to every subscriber.
    Pub, SocketType::Pub
);
can_send!(Pub);

typed_socket!(
    /// SUB: receives what matches its subscriptions.
    Sub, SocketType::Sub
);
can_recv!(Sub);

impl Sub {
    /// Subscribes to bodies starting with `topic` (empty = everything).
    pub fn subscribe(&self, topic: impl AsRef<[u8]>) -> Result<(), Error> {
        self.0.subscribe(topic)
    }

    /// Removes a subscription.
    pub fn unsubscribe(&self, topic: impl AsRef<[u8]>) -> Result<(), Error> {
        self.0.unsubscribe(topic)
    }
}

typed_socket!(
    /// REQ: requests that get one reply each; many may be in flight.
    Req, SocketType::Req
);
has_contexts!(Req);

impl Req {
    /// Sends a request and waits for its reply (see [`Socket::request`]).
    pub async fn request(&self, msg: impl Into<Message>) -> Result<Message, Error> {
        self.0.request(msg).await
    }
}

typed_socket!(
    /// REP: receives requests and answers them.
    Rep, SocketType::Rep
);
can_send!(Rep);
can_recv!(Rep);
has_contexts!(Rep);

typed_socket!(
    /// PUSH: load-balances messages to PULL peers.
    Push, SocketType::Push
);
can_send!(Push);

typed_socket!(
    /// PULL: fair-queues messages from PUSH peers.
    Pull, SocketType::Pull
);
can_recv!(Pull);

typed_socket!(
    /// SURVEYOR: asks every respondent and collects answers until the deadline.
    Surveyor, SocketType::Surveyor
);
has_contexts!(Surveyor);

impl Surveyor {
    /// Starts a survey (see [`Socket::survey`]).
    pub async fn survey(&self, msg: impl Into<Message>) -> Result<Survey, Error> {
        self.0.survey(msg).await
    }
}

typed_socket!(
    /// RESPONDENT: receives surveys and answers them.
    Respondent, SocketType::Respondent
);
can_send!(Respondent);
can_recv!(Respondent);
has_contexts!(Respondent);

typed_socket!(
    /// BUS: every message goes to every directly connected peer.
    Bus, SocketType::Bus
);
can_send!(Bus);
can_recv!(Bus);
