//! The protocol state machines, one module per socket type, and [`AnyProtocol`], which
//! dispatches to the right one without boxing.

mod common;
mod replier;

pub(crate) use common::{Core, Receiver};

pub mod bus;
pub mod pair0;
pub mod pair1;
pub mod pub_;
pub mod pull;
pub mod push;
pub mod rep;
pub mod req;
pub mod respondent;
pub mod sub;
pub mod surveyor;

pub use bus::Bus;
pub use pair0::Pair0;
pub use pair1::Pair1;
pub use pub_::Pub;
pub use pull::Pull;
pub use push::Push;
pub use rep::Rep;
pub use req::Req;
pub use respondent::Respondent;
pub use sub::Sub;
pub use surveyor::Surveyor;

use bytes::Bytes;

use crate::context::{ContextError, ContextId, Contexts};
use crate::message::Message;
use crate::options::Options;
use crate::pipes::{PipeId, PipeInfo};
use crate::protocol::sealed::HasCore;
use crate::protocol::{Config, PipeRefused, Protocol, RecvError, SendError, SendErrorKind};
use crate::socket_type::SocketType;
use crate::subscriptions::NotSubscribed;
use crate::time::Instant;

macro_rules! any_protocol {
    ($($variant:ident),* $(,)?) => {
        /// Any protocol state machine, chosen at run time by [`SocketType`].
        ///
        /// Use the variants to reach protocol-specific methods (subscriptions); contexts are
        /// reached through its [`Contexts`] implementation.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[allow(clippy::large_enum_variant)]
        pub enum AnyProtocol {
            $(
                #[doc = concat!("A ", stringify!($variant), " socket.")]
                $variant($variant),
            )*
        }

        impl AnyProtocol {
            /// Creates the state machine for `socket_type`.
            pub fn new(socket_type: SocketType, config: Config) -> Self {
                match socket_type {
                    $(SocketType::$variant => Self::$variant($variant::new(config)),)*
                }
            }
        }

        $(
            impl From<$variant> for AnyProtocol {
                fn from(p: $variant) -> Self {
                    Self::$variant(p)
                }
            }
        )*

        impl HasCore for AnyProtocol {
            fn core(&self) -> &Core {
                match self { $(Self::$variant(p) => p.core(),)* }
            }
            fn core_mut(&mut self) -> &mut Core {
                match self { $(Self::$variant(p) => p.core_mut(),)* }
            }
            fn receiver(&mut self) -> Option<Receiver<'_>> {
                match self { $(Self::$variant(p) => p.receiver(),)* }
            }
            fn contexts(&mut self) -> Option<&mut dyn Contexts> {
                match self { $(Self::$variant(p) => p.contexts(),)* }
            }
        }

        impl Protocol for AnyProtocol {
            fn socket_type(&self) -> SocketType {
                match self { $(Self::$variant(p) => p.socket_type(),)* }
            }
            fn handle_pipe_added(&mut self, now: Instant, pipe: PipeId, info: PipeInfo) -> Result<(), PipeRefused> {
                match self { $(Self::$variant(p) => p.handle_pipe_added(now, pipe, info),)* }
            }
            fn handle_pipe_removed(&mut self, now: Instant, pipe: PipeId) {
                match self { $(Self::$variant(p) => p.handle_pipe_removed(now, pipe),)* }
            }
            fn handle_message(&mut self, now: Instant, pipe: PipeId, payload: Bytes) {
                match self { $(Self::$variant(p) => p.handle_message(now, pipe, payload),)* }
            }
            fn handle_writable(&mut self, now: Instant, pipe: PipeId) {
                match self { $(Self::$variant(p) => p.handle_writable(now, pipe),)* }
            }
            fn handle_timeout(&mut self, now: Instant) {
                match self { $(Self::$variant(p) => p.handle_timeout(now),)* }
            }
            fn send(&mut self, now: Instant, msg: Message) -> Result<(), SendError> {
                match self { $(Self::$variant(p) => p.send(now, msg),)* }
            }
            fn recv(&mut self, now: Instant) -> Result<Message, RecvError> {
                match self { $(Self::$variant(p) => p.recv(now),)* }
            }
            fn poll_timeout(&self) -> Option<Instant> {
                match self { $(Self::$variant(p) => p.poll_timeout(),)* }
            }
            fn set_options(&mut self, options: Options) {
                match self { $(Self::$variant(p) => p.set_options(options),)* }
            }
            fn uses_clock(&self) -> bool {
                match self { $(Self::$variant(p) => p.uses_clock(),)* }
            }
        }
    };
}

any_protocol!(Pair0, Pair1, Pub, Sub, Req, Rep, Push, Pull, Surveyor, Respondent, Bus);

/// Contexts of whichever protocol runs: REQ, REP, SURVEYOR and RESPONDENT have them; the
/// other types open none ([`ContextError::NotSupported`]), close none, and refuse sends
/// and receives on a context ([`SendErrorKind::NoSuchContext`],
/// [`RecvError::NoSuchContext`]).
impl Contexts for AnyProtocol {
    fn open_context(&mut self) -> Result<ContextId, ContextError> {
        match self.contexts() {
            Some(p) => p.open_context(),
            None => Err(ContextError::NotSupported),
        }
    }

    fn close_context(&mut self, ctx: ContextId) -> bool {
        self.contexts().is_some_and(|p| p.close_context(ctx))
    }

    fn send_in(&mut self, ctx: ContextId, now: Instant, msg: Message) -> Result<(), SendError> {
        match self.contexts() {
            Some(p) => p.send_in(ctx, now, msg),
            None => Err(SendError::new(SendErrorKind::NoSuchContext, msg)),
        }
    }

    fn recv_in(&mut self, ctx: ContextId, now: Instant) -> Result<Message, RecvError> {
        match self.contexts() {
            Some(p) => p.recv_in(ctx, now),
            None => Err(RecvError::NoSuchContext),
        }
    }
}

/// Why a subscription change on an [`AnyProtocol`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// Only SUB sockets have subscriptions.
    #[error("socket type has no subscriptions")]
    NotSupported,
    /// The topic to remove was not subscribed.
    #[error("topic was not subscribed")]
    NotSubscribed,
}

impl AnyProtocol {
    /// SUB: subscribes to messages whose body starts with `topic` (empty = all); whether
    /// the topic was new. Other socket types have no subscriptions.
    pub fn subscribe(&mut self, topic: impl AsRef<[u8]>) -> Result<bool, SubscribeError> {
        match self {
            Self::Sub(s) => Ok(s.subscribe(topic)),
            _ => Err(SubscribeError::NotSupported),
        }
    }

    /// SUB: removes a subscription. Other socket types have no subscriptions.
    pub fn unsubscribe(&mut self, topic: impl AsRef<[u8]>) -> Result<(), SubscribeError> {
        match self {
            Self::Sub(s) => s
                .unsubscribe(topic)
                .map_err(|NotSubscribed| SubscribeError::NotSubscribed),
            _ => Err(SubscribeError::NotSupported),
        }
    }
}
