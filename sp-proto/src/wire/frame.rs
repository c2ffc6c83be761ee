//! Stream framing after the connection header.
//!
//! TCP and TLS: `[length: u64 BE][payload]`. IPC: `[0x01][length: u64 BE][payload]`. The
//! length counts the SP protocol header and the body. The decoder is incremental: give it
//! whatever bytes arrived, in any chunks, and it returns complete payloads. The maximum
//! receive size is checked on the length field, before any buffer for the payload is
//! reserved, so a hostile length costs nothing.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Which stream framing a transport uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameFormat {
    /// `u64` BE length + payload (TCP, TLS, NNG `socket://`).
    Tcp,
    /// Type byte `0x01` + `u64` BE length + payload (IPC).
    Ipc,
}

impl FrameFormat {
    /// Length of the per-message prefix.
    pub const fn prefix_len(self) -> usize {
        match self {
            Self::Tcp => 8,
            Self::Ipc => 9,
        }
    }
}

/// The IPC type byte for an in-band message, the only one defined.
pub const IPC_MSG_NORMAL: u8 = 0x01;

/// The largest message a socket accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MaxRecvSize {
    /// Payloads longer than this many bytes are refused (0 accepts only empty messages,
    /// as nanomsg's `NN_RCVMAXSIZE=0` does).
    Limited(u64),
    /// No limit (nanomsg's `-1`). The decoder still reserves memory in proportion to what
    /// has arrived, plus a bounded read-ahead, whatever length the peer announces.
    Unlimited,
}

impl MaxRecvSize {
    /// The default: 1 MiB, as nanomsg and mangos.
    pub const DEFAULT: Self = Self::Limited(1024 * 1024);

    /// Whether a payload of `len` bytes is acceptable.
    pub const fn allows(self, len: u64) -> bool {
        match self {
            Self::Limited(max) => len <= max,
            Self::Unlimited => true,
        }
    }

    /// Maps nanomsg's `NN_RCVMAXSIZE` integer: -1 is unlimited, values >= 0 are limits.
    pub fn from_nanomsg(value: i64) -> Option<Self> {
        match value {
            -1 => Some(Self::Unlimited),
            v if v >= 0 => Some(Self::Limited(v as u64)),
            _ => None,
        }
    }
}

impl Default for MaxRecvSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A framing error: the connection carrying it must be closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length field exceeds the maximum receive size.
    #[error("message of {len} bytes exceeds the maximum receive size of {max} bytes")]
    Oversize {
        /// The announced payload length.
        len: u64,
        /// The configured maximum.
        max: u64,
    },
    /// An IPC frame started with a type byte other than 0x01.
    #[error("IPC frame type byte {0:#04x} is not 0x01 (in-band message)")]
    BadIpcType(u8),
    /// The length does not fit this machine's address space.
    #[error("message length {0} does not fit in memory on this platform")]
    LengthOverflow(u64),
    /// The stream ended in the middle of a frame.
    #[error("stream ended inside a frame: {have} bytes of {need} received")]
    Truncated {
        /// Bytes of the frame (prefix included) that arrived.
        have: u64,
        /// Bytes the frame needed (prefix included), or just the prefix length when the
        /// length field itself was cut.
        need: u64,
    },
}

/// Upper bound on what the decoder reserves ahead of received data for one frame.
pub(crate) const MAX_READ_AHEAD: usize = 4 * 1024 * 1024;

/// Spare capacity below which the decoder asks for more room for an incomplete frame.
const MIN_READ_WINDOW: usize = 64 * 1024;

/// Makes room in `buf` for the `missing` bytes of an incomplete frame, without trusting the
/// announced length: it reserves only when the spare capacity has fallen below a 64 KiB
/// window, and then at most [`MAX_READ_AHEAD`] bytes. Because a `BytesMut` grows by
/// doubling, the capacity stays below twice the bytes held plus the read-ahead.
pub(crate) fn reserve_for_frame(buf: &mut BytesMut, missing: usize) {
    let spare = buf.capacity() - buf.len();
    if spare < missing.min(MIN_READ_WINDOW) {
        buf.reserve(missing.min(MAX_READ_AHEAD));
    }
}

/// Incremental decoder of framed messages.
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    format: FrameFormat,
    max: MaxRecvSize,
}

impl FrameDecoder {
    /// A decoder for `format` enforcing `max`.
    pub const fn new(format: FrameFormat, max: MaxRecvSize) -> Self {
        Self { format, max }
    }

    /// The framing in use.
    pub const fn format(&self) -> FrameFormat {
        self.format
    }

    /// The maximum receive size in force.
    pub const fn max_recv_size(&self) -> MaxRecvSize {
        self.max
    }

    /// Changes the maximum receive size. It applies from the next [`FrameDecoder::decode`]
    /// call, including to a frame whose length field has already arrived.
    pub fn set_max_recv_size(&mut self, max: MaxRecvSize) {
        self.max = max;
    }

    /// Parses the prefix at the start of `buf`, if complete: returns the payload length.
    fn parse_prefix(&self, buf: &[u8]) -> Result<Option<u64>, FrameError> {
        let prefix = self.format.prefix_len();
        if self.format == FrameFormat::Ipc && !buf.is_empty() && buf[0] != IPC_MSG_NORMAL {
            return Err(FrameError::BadIpcType(buf[0]));
        }
        if buf.len() < prefix {
            return Ok(None);
        }
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&buf[prefix - 8..prefix]);
        let len = u64::from_be_bytes(len_bytes);
        match self.max {
            MaxRecvSize::Limited(max) if len > max => Err(FrameError::Oversize { len, max }),
            _ => Ok(Some(len)),
        }
    }

    /// Takes the next complete payload out of `buf`, if there is one.
    ///
    /// Returns `Ok(None)` when more bytes are needed; in that case it may reserve room in
    /// `buf` for the rest of the frame (never more than the frame needs, bounded by a 4 MiB
    /// read-ahead; the capacity stays below twice the bytes held plus that read-ahead).
    /// Errors are final for the connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(len) = self.parse_prefix(buf)? else {
            return Ok(None);
        };
        let prefix = self.format.prefix_len();
        let total = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(prefix))
            .ok_or(FrameError::LengthOverflow(len))?;
        if buf.len() < total {
            reserve_for_frame(buf, total - buf.len());
            return Ok(None);
        }
        buf.advance(prefix);
        Ok(Some(buf.split_to(total - prefix).freeze()))
    }

    /// Call when the stream has ended: an error if `buf` holds part of a frame.
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        if buf.is_empty() {
            return Ok(None);
        }
        let prefix = self.format.prefix_len() as u64;
        let need = match self.parse_prefix(buf)? {
            Some(len) => len.saturating_add(prefix),
            None => prefix,
        };
        Err(FrameError::Truncated {
            have: buf.len() as u64,
            need,
        })
    }
}

/// Writes the prefix for a payload of `len` bytes into `out`, returning its length, so a
/// driver can send prefix and payload with one vectored write.
pub fn encode_prefix(format: FrameFormat, len: u64, out: &mut [u8; 9]) -> usize {
    match format {
        FrameFormat::Tcp => {
            out[..8].copy_from_slice(&len.to_be_bytes());
            8
        }
        FrameFormat::Ipc => {
            out[0] = IPC_MSG_NORMAL;
            out[1..9].copy_from_slice(&len.to_be_bytes());
            9
        }
    }
}

/// Appends one framed message (`header || body`) to `out`.
pub fn encode_frame(format: FrameFormat, header: &[u8], body: &[u8], out: &mut BytesMut) {
    let mut prefix = [0u8; 9];
    let n = encode_prefix(format, (header.len() + body.len()) as u64, &mut prefix);
    out.reserve(n + header.len() + body.len());
    out.put_slice(&prefix[..n]);
    out.put_slice(header);
    out.put_slice(body);
}
