//! One builder per typed socket: every option that applies to that protocol, runtime
//! ([`SocketOptions`]) and protocol ([`sp_proto::Options`]) alike, set in one chain, so
//! that nobody has to know which struct holds what. Protocol-specific setters exist only
//! on the builders of the protocols they concern (a survey deadline on
//! `Builder<Surveyor>`, a resend interval on `Builder<Req>`...).

use std::marker::PhantomData;
use std::time::Duration;

use sp_proto::wire::MaxRecvSize;
use sp_proto::{OptionError, Priority, SocketType};

use super::{Bus, Pair, Pair1, Pub, Push, Rep, Req, Respondent, Sub, Surveyor};
use crate::error::Error;
use crate::socket::{Socket, SocketOptions};
use crate::transport::tls::TlsConfig;
use crate::transport::{StreamOptions, WsPing};

/// A typed socket a [`Builder`] can make.
pub trait TypedSocket: sealed::Sealed + Sized {
    /// The protocol of this type.
    const SOCKET_TYPE: SocketType;
    /// Wraps a socket of [`Self::SOCKET_TYPE`].
    #[doc(hidden)]
    fn from_socket(socket: Socket) -> Self;
}

pub(super) mod sealed {
    /// Only this crate's typed sockets have builders.
    pub trait Sealed {}
}

/// Options for a new typed socket; [`build`](Self::build) makes it. Start from
/// `Surveyor::builder()` (any typed socket's `builder()`). Options not set keep their
/// defaults (docs/options.md lists them all).
#[must_use = "a builder does nothing until `build` is called"]
#[derive(Clone, Debug)]
pub struct Builder<T> {
    socket: SocketOptions,
    protocol: sp_proto::Options,
    tls: Option<TlsConfig>,
    /// The first out-of-range value given, reported by `build`.
    error: Option<OptionError>,
    kind: PhantomData<fn() -> T>,
}

impl<T: TypedSocket> Default for Builder<T> {
    fn default() -> Self {
        Self {
            socket: SocketOptions::default(),
            protocol: sp_proto::Options::default(),
            tls: None,
            error: None,
            kind: PhantomData,
        }
    }
}

impl<T: TypedSocket> Builder<T> {
    /// Makes the socket with these options.
    ///
    /// # Errors
    ///
    /// [`Error::Option`] for the first out-of-range value given to a setter (a zero
    /// survey deadline, a TTL outside 1..=255, an empty receive queue).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as [`Socket::new`].
    #[track_caller]
    pub fn build(self) -> Result<T, Error> {
        if let Some(e) = self.error {
            return Err(e.into());
        }
        let socket = Socket::new(T::SOCKET_TYPE);
        socket.set_options(self.socket);
        socket.set_protocol_options(self.protocol);
        if let Some(tls) = self.tls {
            socket.set_tls(tls);
        }
        Ok(T::from_socket(socket))
    }

    /// Starts from these runtime options instead of the defaults (the setters below
    /// change single fields of it).
    pub fn socket_options(mut self, options: SocketOptions) -> Self {
        self.socket = options;
        self
    }

    /// Applies a validated protocol setter, keeping the first error for `build`.
    fn checked(
        mut self,
        set: impl FnOnce(&mut sp_proto::Options) -> Result<(), OptionError>,
    ) -> Self {
        if let Err(e) = set(&mut self.protocol) {
            self.error.get_or_insert(e);
        }
        self
    }

    /// [`SocketOptions::send_timeout`].
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.socket.send_timeout = Some(timeout);
        self
    }

    /// [`SocketOptions::recv_timeout`].
    pub fn recv_timeout(mut self, timeout: Duration) -> Self {
        self.socket.recv_timeout = Some(timeout);
        self
    }

    /// [`SocketOptions::max_recv_size`].
    pub fn max_recv_size(mut self, size: MaxRecvSize) -> Self {
        self.socket.max_recv_size = size;
        self
    }

    /// [`SocketOptions::send_priority`] of the endpoints created from the socket.
    pub fn send_priority(mut self, priority: Priority) -> Self {
        self.socket.send_priority = priority;
        self
    }

    /// [`SocketOptions::recv_priority`] of the endpoints created from the socket.
    pub fn recv_priority(mut self, priority: Priority) -> Self {
        self.socket.recv_priority = priority;
        self
    }

    /// [`SocketOptions::reconnect_min`] and [`SocketOptions::reconnect_max`].
    pub fn reconnect(mut self, min: Duration, max: Duration) -> Self {
        self.socket.reconnect_min = min;
        self.socket.reconnect_max = max;
        self
    }

    /// [`SocketOptions::handshake_timeout`].
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.socket.handshake_timeout = timeout;
        self
    }

    /// [`SocketOptions::send_queue`].
    pub fn send_queue(mut self, messages: usize) -> Self {
        self.socket.send_queue = messages;
        self
    }

    /// [`SocketOptions::linger`].
    pub fn linger(mut self, linger: Duration) -> Self {
        self.socket.linger = linger;
        self
    }

    /// [`SocketOptions::tcp`]: TCP_NODELAY, keepalive, user timeout.
    pub fn tcp(mut self, tcp: StreamOptions) -> Self {
        self.socket.tcp = tcp;
        self
    }

    /// [`SocketOptions::ws_ping`].
    pub fn ws_ping(mut self, ping: WsPing) -> Self {
        self.socket.ws_ping = Some(ping);
        self
    }

    /// [`SocketOptions::max_connections`] per listener.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.socket.max_connections = connections;
        self
    }

    /// TLS settings for `tls+tcp://` and `wss://` (see [`Socket::set_tls`]).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Messages queued per pipe for the user ([`sp_proto::Options::set_recv_queue`],
    /// at least 1).
    pub fn recv_queue(self, messages: usize) -> Self {
        self.checked(|p| p.set_recv_queue(messages))
    }
}

/// Fail fast: the protocols whose sends go to peers they pick (not replies).
macro_rules! fails_fast {
    ($($name:ident),*) => {$(
        impl Builder<$name> {
            /// [`sp_proto::Options::fail_no_peers`]: a send with no peer attached fails
            /// at once with [`Error::NoPeers`] instead of waiting.
            pub fn fail_no_peers(mut self, on: bool) -> Self {
                self.protocol.fail_no_peers = on;
                self
            }
        }
    )*};
}
fails_fast!(Req, Surveyor, Push, Pub, Bus, Pair, Pair1);

/// Hop limits: backtrace words at REP and RESPONDENT, hop count at PAIR v1.
macro_rules! has_ttl {
    ($($name:ident),*) => {$(
        impl Builder<$name> {
            /// Maximum hops ([`sp_proto::Options::set_max_ttl`], 1..=255).
            pub fn max_ttl(self, ttl: u32) -> Self {
                self.checked(|p| p.set_max_ttl(ttl))
            }
        }
    )*};
}
has_ttl!(Rep, Respondent, Pair1);

impl Builder<Surveyor> {
    /// How long each survey collects responses
    /// ([`sp_proto::Options::set_survey_deadline`], non-zero; default 1 s). When it
    /// passes, the survey's stream ends ([`Error::SurveyExpired`]).
    pub fn deadline(self, deadline: Duration) -> Self {
        self.checked(|p| p.set_survey_deadline(deadline))
    }
}

impl Builder<Req> {
    /// REQ resend interval ([`sp_proto::Options::set_resend_interval`]; `None`
    /// disables timed resends; default 60 s).
    pub fn resend_interval(mut self, interval: Option<Duration>) -> Self {
        self.protocol.set_resend_interval(interval);
        self
    }
}

impl Builder<Sub> {
    /// When the receive queue is full, drop the oldest message (`true`, the default) or
    /// the new one ([`sp_proto::Options::sub_prefer_new`]).
    pub fn prefer_new(mut self, on: bool) -> Self {
        self.protocol.sub_prefer_new = on;
        self
    }

    /// When a pipe's receive queue is full, stop reading that pipe until a message of it
    /// is received (`true`, as nanomsg's SUB), so the publisher skips this subscriber
    /// while its connection is full, instead of dropping here (`false`, the default;
    /// [`sp_proto::Options::sub_back_pressure`]). Makes [`prefer_new`](Self::prefer_new)
    /// irrelevant.
    pub fn back_pressure(mut self, on: bool) -> Self {
        self.protocol.sub_back_pressure = on;
        self
    }
}

impl Builder<Pair1> {
    /// PAIR v1 polyamorous mode ([`sp_proto::Options::pair1_polyamorous`]).
    pub fn polyamorous(mut self, on: bool) -> Self {
        self.protocol.pair1_polyamorous = on;
        self
    }
}
