//! The 8-byte SP connection header exchanged by both sides of a TCP, IPC or TLS
//! connection before any message: `00 53 50 00 <type: u16 BE> 00 00`.

use crate::socket_type::SocketType;
use crate::time::Instant;
use core::time::Duration;

/// Length of the connection header.
pub const HEADER_LEN: usize = 8;

/// Default time allowed for the whole header exchange (nanomsg uses 1 s, NNG 10 s; we take
/// NNG's, which tolerates slow links, and a driver may shorten it).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a received connection header was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Bytes 0..3 are not `00 'S' 'P'`: the peer does not speak SP.
    #[error("not an SP header: signature bytes {0:02x?}, expected [00, 53, 50]")]
    BadSignature([u8; 3]),
    /// Byte 3 (the version) is not 0.
    #[error("unsupported SP header version {0} (only 0 exists)")]
    BadVersion(u8),
    /// Bytes 6..7 are not zero.
    #[error("reserved header bytes are {0:#06x}, must be zero")]
    NonZeroReserved(u16),
    /// The peer announced a type that is not the valid peer of ours.
    #[error("peer type {theirs:#06x} ({}) is not a valid peer for {ours} (expects {:#06x})",
        SocketType::from_wire_id(*.theirs).map_or("unknown", SocketType::name),
        .ours.peer().wire_id())]
    IncompatiblePeer {
        /// Our socket type.
        ours: SocketType,
        /// The wire id the peer announced.
        theirs: u16,
    },
    /// The connection ended before the 8 bytes arrived.
    #[error("connection closed after {0} of 8 header bytes")]
    Truncated(usize),
    /// The header did not arrive within the handshake timeout.
    #[error("SP header not received within the handshake timeout")]
    TimedOut,
}

/// Encodes the header that a socket of type `ours` sends.
pub const fn encode_header(ours: SocketType) -> [u8; HEADER_LEN] {
    let id = ours.wire_id().to_be_bytes();
    [0x00, b'S', b'P', 0x00, id[0], id[1], 0x00, 0x00]
}

/// Checks the fixed parts of a header (signature, version, reserved bytes) and returns the
/// peer's announced wire id. Does not check the peer matrix.
pub fn parse_header(bytes: &[u8; HEADER_LEN]) -> Result<u16, HeaderError> {
    if bytes[0..3] != [0x00, b'S', b'P'] {
        return Err(HeaderError::BadSignature([bytes[0], bytes[1], bytes[2]]));
    }
    if bytes[3] != 0 {
        return Err(HeaderError::BadVersion(bytes[3]));
    }
    let reserved = u16::from_be_bytes([bytes[6], bytes[7]]);
    if reserved != 0 {
        return Err(HeaderError::NonZeroReserved(reserved));
    }
    Ok(u16::from_be_bytes([bytes[4], bytes[5]]))
}

/// Validates a full header for a socket of type `ours` and returns the peer's type.
pub fn validate_header(
    ours: SocketType,
    bytes: &[u8; HEADER_LEN],
) -> Result<SocketType, HeaderError> {
    let theirs = parse_header(bytes)?;
    if ours.accepts_peer_id(theirs) {
        Ok(ours.peer())
    } else {
        Err(HeaderError::IncompatiblePeer { ours, theirs })
    }
}

/// The sans-IO header exchange for one connection.
///
/// Send [`Handshake::local_header`] at once, feed received bytes with
/// [`Handshake::feed`] (any chunking, even one byte at a time) until it reports the peer's
/// type, and honour [`Handshake::deadline`]. Bytes after the 8th belong to the framing
/// layer: `feed` reports how many it consumed.
#[derive(Clone, Debug)]
pub struct Handshake {
    ours: SocketType,
    received: [u8; HEADER_LEN],
    have: usize,
    deadline: Instant,
}

impl Handshake {
    /// Starts a handshake at `now` that must complete within `timeout`.
    pub fn new(ours: SocketType, now: Instant, timeout: Duration) -> Self {
        Self {
            ours,
            received: [0; HEADER_LEN],
            have: 0,
            deadline: now + timeout,
        }
    }

    /// The 8 bytes to send to the peer.
    pub fn local_header(&self) -> [u8; HEADER_LEN] {
        encode_header(self.ours)
    }

    /// When the handshake fails with [`HeaderError::TimedOut`] if not complete.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Feeds received bytes. Returns how many bytes were consumed and, once all 8 have
    /// arrived and are valid, the peer's socket type.
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, Option<SocketType>), HeaderError> {
        let take = (HEADER_LEN - self.have).min(input.len());
        self.received[self.have..self.have + take].copy_from_slice(&input[..take]);
        self.have += take;
        // Fail fast on a bad signature as soon as its 3 bytes are in, without waiting for
        // the rest; the error then carries exactly what a whole-header check reports,
        // however the bytes were chunked.
        if self.have >= 3 && self.received[..3] != [0x00, b'S', b'P'] {
            let [a, b, c, ..] = self.received;
            return Err(HeaderError::BadSignature([a, b, c]));
        }
        if self.have < HEADER_LEN {
            return Ok((take, None));
        }
        validate_header(self.ours, &self.received).map(|peer| (take, Some(peer)))
    }

    /// Checks the deadline at `now`.
    pub fn check_timeout(&self, now: Instant) -> Result<(), HeaderError> {
        if self.have < HEADER_LEN && now >= self.deadline {
            Err(HeaderError::TimedOut)
        } else {
            Ok(())
        }
    }

    /// Reports the error for a connection that closed during the handshake.
    pub fn eof(&self) -> HeaderError {
        HeaderError::Truncated(self.have)
    }
}
