//! Socket-level statistics: the protocol's counters plus what the driver sees.

use sp_proto::{PipeId, ProtoStats};

use crate::transport::tls::PeerCertificates;

/// Counters of the driver (connections), kept beside the protocol's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketStats {
    /// Pipes attached (handshake completed and accepted by the protocol).
    pub pipes_added: u64,
    /// Pipes detached.
    pub pipes_removed: u64,
    /// Connections accepted by listeners.
    pub accepts: u64,
    /// Successful outgoing connections.
    pub connects: u64,
    /// Failed outgoing connection attempts.
    pub connect_failures: u64,
    /// Handshakes refused or failed (bad header, wrong peer type, timeout, TLS, a
    /// refused WebSocket upgrade; on a shared `ws://` port, one whose path is not known
    /// counts on every socket listening on the port).
    pub handshake_failures: u64,
    /// Connections closed for a framing error (oversize, bad IPC type byte).
    pub frame_errors: u64,
    /// Pipes refused by the protocol (PAIR already has its peer).
    pub pipes_refused: u64,
    /// Incoming connections closed at once because their listener already had
    /// [`SocketOptions::max_connections`](crate::SocketOptions::max_connections) open,
    /// or their `ws://` port that many HTTP upgrades in flight (also counted in
    /// `accepts`).
    pub connections_refused: u64,
    /// Pipes closed because their peer fell silent: no answer within the WebSocket ping
    /// timeout ([`SocketOptions::ws_ping`](crate::SocketOptions::ws_ping)), or the
    /// kernel timed the connection out (TCP keepalive probes or retransmissions
    /// unanswered, `ETIMEDOUT`).
    pub pipes_closed_for_silence: u64,
}

/// One connection event of an endpoint or pipe, counted in [`SocketStats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Count {
    /// A listener accepted a connection ([`SocketStats::accepts`]).
    Accept,
    /// ... and closed it at once, being at its limit ([`SocketStats::connections_refused`]).
    Refused,
    /// A dialer opened a connection ([`SocketStats::connects`]).
    Connect,
    /// A dialer's attempt failed ([`SocketStats::connect_failures`]).
    ConnectFailure,
    /// A connection's set-up failed ([`SocketStats::handshake_failures`]).
    HandshakeFailure,
    /// A connection closed for a framing error ([`SocketStats::frame_errors`]).
    FrameError,
    /// The protocol refused a pipe ([`SocketStats::pipes_refused`]).
    PipeRefused,
    /// A pipe closed for its peer's silence ([`SocketStats::pipes_closed_for_silence`]).
    ClosedForSilence,
}

impl SocketStats {
    /// Adds one `event`.
    pub(crate) fn count(&mut self, event: Count) {
        let n = match event {
            Count::Accept => &mut self.accepts,
            Count::Refused => &mut self.connections_refused,
            Count::Connect => &mut self.connects,
            Count::ConnectFailure => &mut self.connect_failures,
            Count::HandshakeFailure => &mut self.handshake_failures,
            Count::FrameError => &mut self.frame_errors,
            Count::PipeRefused => &mut self.pipes_refused,
            Count::ClosedForSilence => &mut self.pipes_closed_for_silence,
        };
        *n += 1;
    }
}

/// A snapshot of a socket's statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Driver counters.
    pub socket: SocketStats,
    /// Protocol counters, with every drop by reason.
    pub protocol: ProtoStats,
}

/// Traffic counters of one pipe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipeStats {
    /// The pipe.
    pub pipe: PipeId,
    /// The peer's address as the transport reports it.
    pub peer: String,
    /// Messages received.
    pub msgs_in: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Messages written (queued for the connection, or written through: see
    /// `msgs_written_through`).
    pub msgs_out: u64,
    /// Payload bytes written.
    pub bytes_out: u64,
    /// Of `msgs_out`, those the sending thread wrote to the connection itself (TCP and
    /// IPC: a small message sent while the pipe's writer was idle and its queue empty)
    /// instead of queueing them for the writer task.
    pub msgs_written_through: u64,
}

impl Default for PipeStats {
    fn default() -> Self {
        Self {
            pipe: PipeId::new(1).expect("1 is a valid pipe id"),
            peer: String::new(),
            msgs_in: 0,
            bytes_in: 0,
            msgs_out: 0,
            bytes_out: 0,
            msgs_written_through: 0,
        }
    }
}

/// A pipe was attached to or detached from a socket, or a connection failed its
/// set-up.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PipeEvent {
    /// A connection completed its handshake and joined the socket.
    Added {
        /// The new pipe.
        pipe: PipeId,
        /// The peer's address.
        peer: String,
        /// The certificate chain the peer presented in the TLS handshake (tls+tcp and
        /// wss; a client presents one only to a listener that asks, see
        /// [`ClientAuth`](crate::transport::tls::ClientAuth)).
        peer_certificates: Option<PeerCertificates>,
    },
    /// A pipe left the socket; its final counters.
    Removed {
        /// The pipe's counters at removal.
        stats: PipeStats,
    },
    /// A connection was closed during its set-up (SP header exchange, TLS or WebSocket
    /// handshake, inproc type check), so no pipe was added: a peer of the wrong socket
    /// type, a peer that is not SP, a handshake timeout. Counted in
    /// [`SocketStats::handshake_failures`]. A dialer keeps redialling after it.
    HandshakeFailed {
        /// For a dialer, the URL it dials; for a listener, the peer's address.
        peer: String,
        /// Whether this socket dialed the connection (else a listener accepted it).
        dialed: bool,
        /// Which step failed and why, e.g. `SP handshake: peer type 0x0062 (surveyor)
        /// is not a valid peer for req (expects 0x0031)`.
        reason: String,
    },
}
