//! [`WsDecoder`]: received bytes to reassembled SP messages, Pings and Closes, refusing
//! what the SP mapping does not allow with a [`WsFrameError`] that names the close code.

use super::*;
use crate::wire::frame::{reserve_for_frame, MaxRecvSize};
use bytes::{Buf, Bytes, BytesMut};

/// Why received WebSocket bytes were refused. Every error is final: send a Close frame with
/// [`WsFrameError::close_code`] and close the connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WsFrameError {
    /// One of the RSV1..RSV3 bits is set (no extension is negotiated).
    #[error("reserved frame bits {0:#05b} are set")]
    ReservedBits(u8),
    /// The opcode is one RFC 6455 reserves.
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A server received a frame without a masking key.
    #[error("unmasked frame from a client")]
    UnmaskedFrame,
    /// A client received a frame with a masking key.
    #[error("masked frame from a server")]
    MaskedFrame,
    /// A control frame announced more than 125 bytes.
    #[error("control frame (opcode {opcode:#x}) of {len} bytes exceeds 125 bytes")]
    ControlTooLong {
        /// The control opcode.
        opcode: u8,
        /// The announced length (126 or 127 when an extended length form was used).
        len: u64,
    },
    /// A control frame without FIN.
    #[error("fragmented control frame (opcode {0:#x})")]
    FragmentedControl(u8),
    /// A text message; SP carries binary messages only.
    #[error("text message refused: SP messages are binary")]
    TextMessage,
    /// A continuation frame arrived with no fragmented message in progress.
    #[error("continuation frame without a message in progress")]
    ContinuationWithoutStart,
    /// A new data frame started while a fragmented message was incomplete.
    #[error("new data frame while a fragmented message is incomplete")]
    DataDuringFragmented,
    /// A 64-bit length with its most significant bit set.
    #[error("64-bit frame length has its most significant bit set")]
    LengthMsbSet,
    /// The message (all fragments so far plus this frame) exceeds the maximum receive size.
    #[error("message of at least {len} bytes exceeds the maximum receive size of {max} bytes")]
    TooBig {
        /// Bytes of the message announced so far.
        len: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The frame length does not fit this machine's address space.
    #[error("frame length {0} does not fit in memory on this platform")]
    LengthOverflow(u64),
    /// A Close frame with a 1-byte payload (a code needs 2).
    #[error("close frame with a 1-byte payload")]
    BadClosePayload,
    /// A Close frame carrying a code that may not be sent on the wire.
    #[error("close code {0} may not appear in a close frame")]
    InvalidCloseCode(u16),
    /// A Close frame whose reason is not UTF-8.
    #[error("close reason is not valid UTF-8")]
    InvalidCloseReason,
}

impl WsFrameError {
    /// The close code the driver sends before closing the connection.
    pub const fn close_code(&self) -> u16 {
        match self {
            Self::TextMessage => CLOSE_UNSUPPORTED_DATA,
            Self::TooBig { .. } | Self::LengthOverflow(_) => CLOSE_TOO_BIG,
            Self::InvalidCloseReason => CLOSE_INVALID_DATA,
            Self::ReservedBits(_)
            | Self::ReservedOpcode(_)
            | Self::UnmaskedFrame
            | Self::MaskedFrame
            | Self::ControlTooLong { .. }
            | Self::FragmentedControl(_)
            | Self::ContinuationWithoutStart
            | Self::DataDuringFragmented
            | Self::LengthMsbSet
            | Self::BadClosePayload
            | Self::InvalidCloseCode(_) => CLOSE_PROTOCOL_ERROR,
        }
    }
}

/// What the decoder found in the received bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsEvent {
    /// A complete (reassembled) binary message: one SP message.
    Message(Bytes),
    /// A Ping: answer with a Pong carrying the same payload.
    Ping(Bytes),
    /// The peer closes: answer with a Close (echoing the code) and close the connection.
    Close {
        /// The status code, absent when the Close frame was empty.
        code: Option<u16>,
        /// The UTF-8 reason that followed the code.
        reason: Bytes,
    },
}

/// A parsed frame header.
#[derive(Clone, Copy, Debug)]
struct FrameHead {
    fin: bool,
    opcode: u8,
    key: Option<[u8; 4]>,
    payload_len: u64,
    head_len: usize,
}

/// Incremental decoder of WebSocket frames for one SP connection.
#[derive(Clone, Debug)]
pub struct WsDecoder {
    role: WsRole,
    max: MaxRecvSize,
    partial: Option<BytesMut>,
    closed: bool,
}

impl WsDecoder {
    /// A decoder for our `role` enforcing `max` on whole messages.
    pub const fn new(role: WsRole, max: MaxRecvSize) -> Self {
        Self {
            role,
            max,
            partial: None,
            closed: false,
        }
    }

    /// Our role (a server requires masked frames, a client refuses them).
    pub const fn role(&self) -> WsRole {
        self.role
    }

    /// The maximum receive size in force.
    pub const fn max_recv_size(&self) -> MaxRecvSize {
        self.max
    }

    /// Changes the maximum receive size; it applies from the next frame header parsed.
    pub fn set_max_recv_size(&mut self, max: MaxRecvSize) {
        self.max = max;
    }

    /// Whether a fragmented message is partly received.
    pub fn in_message(&self) -> bool {
        self.partial.is_some()
    }

    /// Whether a Close frame has been decoded (later bytes are ignored).
    pub const fn is_closed(&self) -> bool {
        self.closed
    }

    /// Takes the next event out of `buf`, if one is complete.
    ///
    /// Returns `Ok(None)` when more bytes are needed (reserving room in `buf` for the rest
    /// of the current frame, bounded like [`crate::wire::FrameDecoder::decode`]),
    /// and always after a Close frame. Pong frames are consumed without an event.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<WsEvent>, WsFrameError> {
        loop {
            if self.closed {
                return Ok(None);
            }
            let Some(head) = self.parse_head(buf)? else {
                return Ok(None);
            };
            let payload_len = usize::try_from(head.payload_len)
                .map_err(|_| WsFrameError::LengthOverflow(head.payload_len))?;
            let total = payload_len
                .checked_add(head.head_len)
                .ok_or(WsFrameError::LengthOverflow(head.payload_len))?;
            if buf.len() < total {
                reserve_for_frame(buf, total - buf.len());
                return Ok(None);
            }
            buf.advance(head.head_len);
            let mut payload = buf.split_to(payload_len);
            if let Some(key) = head.key {
                apply_mask(&mut payload, key);
            }
            match head.opcode {
                OPCODE_PING => return Ok(Some(WsEvent::Ping(payload.freeze()))),
                OPCODE_PONG => {}
                OPCODE_CLOSE => {
                    self.closed = true;
                    return parse_close(payload.freeze()).map(Some);
                }
                OPCODE_BINARY if head.fin => return Ok(Some(WsEvent::Message(payload.freeze()))),
                OPCODE_BINARY => self.partial = Some(payload),
                _ => {
                    // Continuation: parse_head checked that a message is in progress.
                    let Some(partial) = self.partial.as_mut() else {
                        return Err(WsFrameError::ContinuationWithoutStart);
                    };
                    partial.extend_from_slice(&payload);
                    if head.fin {
                        let message = self.partial.take().unwrap_or_default();
                        return Ok(Some(WsEvent::Message(message.freeze())));
                    }
                }
            }
        }
    }

    /// Parses and checks the frame header at the start of `buf`, failing as soon as the
    /// bytes present show a violation.
    fn parse_head(&self, buf: &[u8]) -> Result<Option<FrameHead>, WsFrameError> {
        let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0x07;
        if rsv != 0 {
            return Err(WsFrameError::ReservedBits(rsv));
        }
        let masked = b1 & 0x80 != 0;
        match (self.role, masked) {
            (WsRole::Server, false) => return Err(WsFrameError::UnmaskedFrame),
            (WsRole::Client, true) => return Err(WsFrameError::MaskedFrame),
            _ => {}
        }
        let opcode = b0 & 0x0f;
        let len7 = b1 & 0x7f;
        let is_data = match opcode {
            OPCODE_CONTINUATION if self.partial.is_none() => {
                return Err(WsFrameError::ContinuationWithoutStart)
            }
            OPCODE_CONTINUATION => true,
            OPCODE_TEXT => return Err(WsFrameError::TextMessage),
            OPCODE_BINARY if self.partial.is_some() => {
                return Err(WsFrameError::DataDuringFragmented)
            }
            OPCODE_BINARY => true,
            OPCODE_CLOSE | OPCODE_PING | OPCODE_PONG => {
                if !fin {
                    return Err(WsFrameError::FragmentedControl(opcode));
                }
                if usize::from(len7) > MAX_CONTROL_PAYLOAD {
                    return Err(WsFrameError::ControlTooLong {
                        opcode,
                        len: u64::from(len7),
                    });
                }
                false
            }
            _ => return Err(WsFrameError::ReservedOpcode(opcode)),
        };
        let (payload_len, mut head_len) = match len7 {
            126 => {
                let Some(ext) = buf.get(2..4) else {
                    return Ok(None);
                };
                (u64::from(u16::from_be_bytes([ext[0], ext[1]])), 4)
            }
            127 => {
                let Some(ext) = buf.get(2..10) else {
                    return Ok(None);
                };
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(ext);
                let len = u64::from_be_bytes(bytes);
                if len >> 63 != 0 {
                    return Err(WsFrameError::LengthMsbSet);
                }
                (len, 10)
            }
            n => (u64::from(n), 2),
        };
        if is_data {
            let so_far = self.partial.as_ref().map_or(0, |p| p.len() as u64);
            let message_len = so_far.saturating_add(payload_len);
            if let MaxRecvSize::Limited(max) = self.max {
                if message_len > max {
                    return Err(WsFrameError::TooBig {
                        len: message_len,
                        max,
                    });
                }
            }
        }
        let key = if masked {
            let Some(k) = buf.get(head_len..head_len + 4) else {
                return Ok(None);
            };
            head_len += 4;
            Some([k[0], k[1], k[2], k[3]])
        } else {
            None
        };
        Ok(Some(FrameHead {
            fin,
            opcode,
            key,
            payload_len,
            head_len,
        }))
    }
}

/// Whether `code` may be carried in a Close frame (RFC 6455 §7.4 and the IANA registry).
fn is_sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Parses a Close frame payload: empty, or a code and a UTF-8 reason.
fn parse_close(payload: Bytes) -> Result<WsEvent, WsFrameError> {
    match payload.len() {
        0 => Ok(WsEvent::Close {
            code: None,
            reason: Bytes::new(),
        }),
        1 => Err(WsFrameError::BadClosePayload),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            if !is_sendable_close_code(code) {
                return Err(WsFrameError::InvalidCloseCode(code));
            }
            let reason = payload.slice(2..);
            if core::str::from_utf8(&reason).is_err() {
                return Err(WsFrameError::InvalidCloseReason);
            }
            Ok(WsEvent::Close {
                code: Some(code),
                reason,
            })
        }
    }
}
