//! RFC 6455 frames for the SP data path, without I/O.
//!
//! After the HTTP upgrade (done by the driver), one SP message travels as one binary
//! WebSocket message: a first frame with opcode 0x2, then continuation frames (opcode 0x0),
//! FIN set on the last. [`WsEncoder`] turns a message into such frames, fragmenting at a
//! configurable size and masking every frame when it speaks for a client. [`WsDecoder`]
//! takes received bytes in any chunks, reassembles fragmented messages, reports Ping and
//! Close frames (Pong frames are consumed silently) and refuses everything the SP mapping
//! does not allow, with an error that names the close code to send.
//!
//! ```text
//!  0                   1                   2                   3
//! |F|R|R|R| opcode|M| len7 (0..125, |  extended length: 16 bits (len7=126) |
//! |I|S|S|S|  4b   |A| 126 = u16,    |  or 64 bits, MSB 0 (len7=127)        |
//! |N|V|V|V|       |S| 127 = u64)    |  then a 4-byte masking key if MASK   |
//! ```
//!
//! The maximum receive size applies to the whole message (the sum over its fragments) and
//! is checked on each frame's length field, before any memory for the payload is reserved.
//!
//! The encoder is in `encode.rs`, the decoder and its errors in `decode.rs`.

mod decode;
mod encode;
#[cfg(test)]
mod tests;

pub use decode::{WsDecoder, WsEvent, WsFrameError};
pub use encode::{ControlPayloadTooLong, WsEncoder};

/// Opcode of a continuation frame.
pub const OPCODE_CONTINUATION: u8 = 0x0;
/// Opcode of the first frame of a text message (refused by SP sockets).
pub const OPCODE_TEXT: u8 = 0x1;
/// Opcode of the first frame of a binary message (every SP message).
pub const OPCODE_BINARY: u8 = 0x2;
/// Opcode of a Close frame.
pub const OPCODE_CLOSE: u8 = 0x8;
/// Opcode of a Ping frame.
pub const OPCODE_PING: u8 = 0x9;
/// Opcode of a Pong frame.
pub const OPCODE_PONG: u8 = 0xa;

/// Largest payload of a control frame (Close, Ping, Pong).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Longest frame header: 2 fixed bytes, 8 length bytes and a 4-byte masking key.
pub const MAX_FRAME_HEADER: usize = 14;

/// Close code for a normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// Close code for a protocol error (malformed or forbidden frame).
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// Close code for data of a type the endpoint cannot accept (text frames, for SP).
pub const CLOSE_UNSUPPORTED_DATA: u16 = 1003;
/// Close code for data inconsistent with its type (a close reason that is not UTF-8).
pub const CLOSE_INVALID_DATA: u16 = 1007;
/// Close code for a message too big to process.
pub const CLOSE_TOO_BIG: u16 = 1009;

/// Which end of the WebSocket connection we are.
///
/// A client (the dialer) masks every frame it sends and must receive unmasked frames; a
/// server (the listener) sends unmasked frames and must receive masked ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WsRole {
    /// The side that sent the HTTP upgrade request.
    Client,
    /// The side that answered it.
    Server,
}

impl WsRole {
    /// Whether frames sent in this role carry a masking key.
    pub const fn masks_outgoing(self) -> bool {
        matches!(self, Self::Client)
    }

    /// The other end's role.
    pub const fn peer(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }
}

/// XORs `data` with the repeating masking key (masking and unmasking are the same).
fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    for (i, byte) in data.iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}
