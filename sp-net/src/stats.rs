//! Socket-level statistics: the protocol's counters plus what the driver sees.

use sp_proto::ProtoStats;

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
    /// Handshakes refused (bad header, wrong peer type, timeout).
    pub handshake_failures: u64,
    /// Connections closed for a framing error (oversize, bad IPC type byte).
    pub frame_errors: u64,
    /// Pipes refused by the protocol (PAIR already has its peer).
    pub pipes_refused: u64,
}

/// A snapshot of a socket's statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Driver counters.
    pub socket: SocketStats,
    /// Protocol counters, with every drop by reason.
    pub protocol: ProtoStats,
}
