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

use crate::wire::frame::{reserve_for_frame, MaxRecvSize};
use crate::wire::ws::DEFAULT_SEND_FRAGMENT;
use bytes::{Buf, BufMut, Bytes, BytesMut};

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

/// A control frame payload longer than [`MAX_CONTROL_PAYLOAD`] was given to the encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("control frame payload of {0} bytes exceeds the limit of 125 bytes")]
pub struct ControlPayloadTooLong(pub usize);

/// Writes SP messages and control frames as WebSocket frames.
#[derive(Clone, Debug)]
pub struct WsEncoder {
    role: WsRole,
    fragment_size: usize,
}

impl WsEncoder {
    /// An encoder for `role` that fragments at [`DEFAULT_SEND_FRAGMENT`] bytes.
    pub const fn new(role: WsRole) -> Self {
        Self {
            role,
            fragment_size: DEFAULT_SEND_FRAGMENT,
        }
    }

    /// The same encoder fragmenting at `size` payload bytes per frame (0 is taken as 1).
    pub const fn with_fragment_size(mut self, size: usize) -> Self {
        self.fragment_size = if size == 0 { 1 } else { size };
        self
    }

    /// The role this encoder writes for.
    pub const fn role(&self) -> WsRole {
        self.role
    }

    /// The largest payload put in one data frame.
    pub const fn fragment_size(&self) -> usize {
        self.fragment_size
    }

    /// Appends the frames of one SP message (`header || body`) to `out`.
    ///
    /// In the client role `mask_key` is called once per frame for a fresh masking key (RFC
    /// 6455 asks for an unpredictable key per frame: draw it from the driver's RNG); in the
    /// server role it is never called. An empty message is one empty final frame.
    pub fn encode_message<F>(&self, header: &[u8], body: &[u8], mut mask_key: F, out: &mut BytesMut)
    where
        F: FnMut() -> [u8; 4],
    {
        let total = header.len() + body.len();
        let frames = total.div_ceil(self.fragment_size).max(1);
        out.reserve(total + frames * MAX_FRAME_HEADER);
        let mut offset = 0;
        loop {
            let len = (total - offset).min(self.fragment_size);
            let fin = offset + len == total;
            let opcode = if offset == 0 {
                OPCODE_BINARY
            } else {
                OPCODE_CONTINUATION
            };
            let key = self.role.masks_outgoing().then(&mut mask_key);
            put_frame_header(out, fin, opcode, len as u64, key);
            let start = out.len();
            put_concat_range(out, header, body, offset, len);
            if let Some(key) = key {
                apply_mask(&mut out[start..], key);
            }
            offset += len;
            if fin {
                break;
            }
        }
    }

    /// Appends a Ping frame carrying `payload` (at most 125 bytes).
    pub fn encode_ping<F>(
        &self,
        payload: &[u8],
        mask_key: F,
        out: &mut BytesMut,
    ) -> Result<(), ControlPayloadTooLong>
    where
        F: FnMut() -> [u8; 4],
    {
        self.encode_control(OPCODE_PING, &[], payload, mask_key, out)
    }

    /// Appends a Pong frame carrying `payload` (the payload of the Ping it answers).
    pub fn encode_pong<F>(
        &self,
        payload: &[u8],
        mask_key: F,
        out: &mut BytesMut,
    ) -> Result<(), ControlPayloadTooLong>
    where
        F: FnMut() -> [u8; 4],
    {
        self.encode_control(OPCODE_PONG, &[], payload, mask_key, out)
    }

    /// Appends a Close frame with `code` and a UTF-8 `reason` (at most 123 bytes).
    pub fn encode_close<F>(
        &self,
        code: u16,
        reason: &str,
        mask_key: F,
        out: &mut BytesMut,
    ) -> Result<(), ControlPayloadTooLong>
    where
        F: FnMut() -> [u8; 4],
    {
        self.encode_control(
            OPCODE_CLOSE,
            &code.to_be_bytes(),
            reason.as_bytes(),
            mask_key,
            out,
        )
    }

    fn encode_control<F>(
        &self,
        opcode: u8,
        prefix: &[u8],
        payload: &[u8],
        mut mask_key: F,
        out: &mut BytesMut,
    ) -> Result<(), ControlPayloadTooLong>
    where
        F: FnMut() -> [u8; 4],
    {
        let len = prefix.len() + payload.len();
        if len > MAX_CONTROL_PAYLOAD {
            return Err(ControlPayloadTooLong(len));
        }
        let key = self.role.masks_outgoing().then(&mut mask_key);
        out.reserve(MAX_FRAME_HEADER + len);
        put_frame_header(out, true, opcode, len as u64, key);
        let start = out.len();
        out.put_slice(prefix);
        out.put_slice(payload);
        if let Some(key) = key {
            apply_mask(&mut out[start..], key);
        }
        Ok(())
    }
}

/// Writes a frame header with the shortest length form.
fn put_frame_header(out: &mut BytesMut, fin: bool, opcode: u8, len: u64, key: Option<[u8; 4]>) {
    out.put_u8(if fin { 0x80 } else { 0 } | opcode);
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    match len {
        0..=125 => out.put_u8(mask_bit | len as u8),
        126..=0xffff => {
            out.put_u8(mask_bit | 126);
            out.put_u16(len as u16);
        }
        _ => {
            out.put_u8(mask_bit | 127);
            out.put_u64(len);
        }
    }
    if let Some(key) = key {
        out.put_slice(&key);
    }
}

/// Appends bytes `start..start + len` of the concatenation `header || body`.
fn put_concat_range(out: &mut BytesMut, header: &[u8], body: &[u8], start: usize, len: usize) {
    let end = start + len;
    let split = header.len();
    if start < split {
        out.put_slice(&header[start..end.min(split)]);
    }
    if end > split {
        out.put_slice(&body[start.max(split) - split..end - split]);
    }
}

/// XORs `data` with the repeating masking key (masking and unmasking are the same).
fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    for (i, byte) in data.iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

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
            if std::str::from_utf8(&reason).is_err() {
                return Err(WsFrameError::InvalidCloseReason);
            }
            Ok(WsEvent::Close {
                code: Some(code),
                reason,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmt::hex;

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    fn no_mask() -> [u8; 4] {
        panic!("a server never masks")
    }

    fn server_frames(enc: &WsEncoder, msg: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        enc.encode_message(&[], msg, no_mask, &mut out);
        out
    }

    fn decode_all(dec: &mut WsDecoder, bytes: &[u8]) -> Vec<WsEvent> {
        let mut buf = BytesMut::from(bytes);
        let mut events = Vec::new();
        while let Some(ev) = dec.decode(&mut buf).unwrap() {
            events.push(ev);
        }
        assert!(buf.is_empty() || dec.is_closed(), "left over: {buf:?}");
        events
    }

    fn decode_err(role: WsRole, bytes: &[u8]) -> WsFrameError {
        let mut dec = WsDecoder::new(role, MaxRecvSize::DEFAULT);
        let mut buf = BytesMut::from(bytes);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("no error for {}", hex(bytes)),
                Err(e) => return e,
            }
        }
    }

    #[test]
    fn server_reply_is_one_unmasked_frame() {
        let enc = WsEncoder::new(WsRole::Server);
        let mut out = BytesMut::new();
        enc.encode_message(&[0x80, 0, 0, 1], b"World", no_mask, &mut out);
        assert_eq!(hex(&out), "82 09 80 00 00 01 57 6f 72 6c 64");
        let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::DEFAULT);
        assert_eq!(
            decode_all(&mut dec, &out),
            [WsEvent::Message(Bytes::from_static(b"\x80\0\0\x01World"))]
        );
    }

    #[test]
    fn client_frames_are_masked_with_a_fresh_key_per_frame() {
        let enc = WsEncoder::new(WsRole::Client).with_fragment_size(4);
        let mut keys = [[1, 2, 3, 4], [5, 6, 7, 8]].into_iter();
        let mut out = BytesMut::new();
        enc.encode_message(b"abc", b"defg", || keys.next().unwrap(), &mut out);
        assert_eq!(
            hex(&out),
            "02 84 01 02 03 04 60 60 60 60 80 83 05 06 07 08 60 60 60"
        );
        let mut dec = WsDecoder::new(WsRole::Server, MaxRecvSize::DEFAULT);
        assert_eq!(
            decode_all(&mut dec, &out),
            [WsEvent::Message(Bytes::from_static(b"abcdefg"))]
        );
    }

    #[test]
    fn length_forms() {
        let enc = WsEncoder::new(WsRole::Server).with_fragment_size(usize::MAX);
        for (len, head) in [
            (0usize, "82 00"),
            (125, "82 7d"),
            (126, "82 7e 00 7e"),
            (65535, "82 7e ff ff"),
            (65536, "82 7f 00 00 00 00 00 01 00 00"),
        ] {
            let out = server_frames(&enc, &vec![7u8; len]);
            let head_len = head.split(' ').count();
            assert_eq!(hex(&out[..head_len]), head, "len {len}");
            assert_eq!(out.len(), head_len + len);
            let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::Unlimited);
            assert_eq!(
                decode_all(&mut dec, &out),
                [WsEvent::Message(Bytes::from(vec![7u8; len]))]
            );
        }
    }

    #[test]
    fn default_fragmentation_and_reassembly_byte_by_byte() {
        let enc = WsEncoder::new(WsRole::Server);
        assert_eq!(enc.fragment_size(), DEFAULT_SEND_FRAGMENT);
        let msg: Vec<u8> = (0..150_000u32).map(|i| i as u8).collect();
        let out = server_frames(&enc, &msg);
        // 64 KiB + 64 KiB + rest: opcodes 2, 0, 0 and FIN only on the last.
        assert_eq!(&out[..2], &[0x02, 0x7f]);
        let second = 10 + 65536;
        assert_eq!(&out[second..second + 2], &[0x00, 0x7f]);
        let third = 2 * second;
        assert_eq!(&out[third..third + 4], &[0x80, 0x7e, 0x49, 0xf0]);
        let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::DEFAULT);
        let mut buf = BytesMut::new();
        let mut events = Vec::new();
        for &b in &out[..] {
            buf.put_u8(b);
            if let Some(ev) = dec.decode(&mut buf).unwrap() {
                events.push(ev);
            }
        }
        assert_eq!(events, [WsEvent::Message(Bytes::from(msg))]);
        assert!(!dec.in_message());
    }

    #[test]
    fn control_frames_between_fragments() {
        let enc = WsEncoder::new(WsRole::Client).with_fragment_size(2);
        let mut msg = BytesMut::new();
        enc.encode_message(&[], b"Hello", || KEY, &mut msg);
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&msg[..8]); // first fragment "He"
        enc.encode_ping(b"p", || KEY, &mut wire).unwrap();
        enc.encode_pong(b"ignored", || KEY, &mut wire).unwrap();
        wire.extend_from_slice(&msg[8..]);
        enc.encode_close(CLOSE_NORMAL, "bye", || KEY, &mut wire)
            .unwrap();
        wire.extend_from_slice(&msg); // after Close: ignored
        let mut dec = WsDecoder::new(WsRole::Server, MaxRecvSize::DEFAULT);
        assert_eq!(
            decode_all(&mut dec, &wire),
            [
                WsEvent::Ping(Bytes::from_static(b"p")),
                WsEvent::Message(Bytes::from_static(b"Hello")),
                WsEvent::Close {
                    code: Some(1000),
                    reason: Bytes::from_static(b"bye")
                },
            ]
        );
        assert!(dec.is_closed());
    }

    #[test]
    fn control_encoders() {
        let enc = WsEncoder::new(WsRole::Server);
        let mut out = BytesMut::new();
        enc.encode_close(CLOSE_UNSUPPORTED_DATA, "", no_mask, &mut out)
            .unwrap();
        assert_eq!(hex(&out), "88 02 03 eb");
        out.clear();
        enc.encode_ping(&[], no_mask, &mut out).unwrap();
        enc.encode_pong(b"x", no_mask, &mut out).unwrap();
        assert_eq!(hex(&out), "89 00 8a 01 78");
        assert_eq!(
            enc.encode_ping(&[0; 126], no_mask, &mut out),
            Err(ControlPayloadTooLong(126))
        );
        assert_eq!(
            enc.encode_close(1000, &"r".repeat(124), no_mask, &mut out),
            Err(ControlPayloadTooLong(126))
        );
        let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::DEFAULT);
        assert_eq!(
            decode_all(&mut dec, &[0x88, 0x00]),
            [WsEvent::Close {
                code: None,
                reason: Bytes::new()
            }]
        );
    }

    #[test]
    fn protocol_errors_and_their_close_codes() {
        use WsFrameError as E;
        let cases: [(WsRole, &[u8], E, u16); 14] = [
            (WsRole::Client, &[0xc2, 0x00], E::ReservedBits(4), 1002),
            (WsRole::Client, &[0x83, 0x00], E::ReservedOpcode(3), 1002),
            (WsRole::Client, &[0x8b, 0x00], E::ReservedOpcode(0xb), 1002),
            (WsRole::Server, &[0x82, 0x00], E::UnmaskedFrame, 1002),
            (WsRole::Client, &[0x82, 0x80], E::MaskedFrame, 1002),
            (
                WsRole::Client,
                &[0x89, 0x7e],
                E::ControlTooLong {
                    opcode: 9,
                    len: 126,
                },
                1002,
            ),
            (WsRole::Client, &[0x09, 0x00], E::FragmentedControl(9), 1002),
            (WsRole::Client, &[0x81, 0x01], E::TextMessage, 1003),
            (
                WsRole::Client,
                &[0x80, 0x00],
                E::ContinuationWithoutStart,
                1002,
            ),
            (
                WsRole::Client,
                &[0x02, 0x01, 0x61, 0x82, 0x00],
                E::DataDuringFragmented,
                1002,
            ),
            (WsRole::Client, &[0x82, 0x7f, 0x80], E::LengthMsbSet, 1002),
            (
                WsRole::Client,
                &[0x88, 0x01, 0x03],
                E::BadClosePayload,
                1002,
            ),
            (
                WsRole::Client,
                &[0x88, 0x02, 0x03, 0xed],
                E::InvalidCloseCode(1005),
                1002,
            ),
            (
                WsRole::Client,
                &[0x88, 0x03, 0x03, 0xe8, 0xff],
                E::InvalidCloseReason,
                1007,
            ),
        ];
        for (role, bytes, want, code) in cases {
            let mut bytes = bytes.to_vec();
            if want == E::LengthMsbSet {
                bytes.extend_from_slice(&[0; 7]);
            }
            let got = decode_err(role, &bytes);
            assert_eq!(got, want, "{}", hex(&bytes));
            assert_eq!(got.close_code(), code, "{want}");
        }
    }

    #[test]
    fn oversize_is_refused_from_the_length_alone() {
        // A 2^62-byte frame header, nothing else: refused with a limit, and with no limit
        // the buffer reserves at most the read-ahead.
        let head = [0x82, 0x7f, 0x40, 0, 0, 0, 0, 0, 0, 0];
        let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::DEFAULT);
        let mut buf = BytesMut::from(&head[..]);
        let err = dec.decode(&mut buf).unwrap_err();
        assert_eq!(
            err,
            WsFrameError::TooBig {
                len: 1 << 62,
                max: 1 << 20
            }
        );
        assert_eq!(err.close_code(), CLOSE_TOO_BIG);
        assert!(buf.capacity() < 64);
        let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::Unlimited);
        let mut buf = BytesMut::from(&head[..]);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert!(buf.capacity() <= head.len() + crate::wire::frame::MAX_READ_AHEAD);
        // More bytes trickling in do not make it grow again.
        for _ in 0..100 {
            buf.put_u8(0);
            assert_eq!(dec.decode(&mut buf), Ok(None));
        }
        assert!(buf.capacity() <= head.len() + crate::wire::frame::MAX_READ_AHEAD);
    }

    #[test]
    fn limit_applies_to_the_sum_of_fragments() {
        let enc = WsEncoder::new(WsRole::Server).with_fragment_size(4);
        let out = server_frames(&enc, b"0123456789");
        let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::Limited(10));
        assert_eq!(
            decode_all(&mut dec, &out),
            [WsEvent::Message(Bytes::from_static(b"0123456789"))]
        );
        let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::Limited(9));
        let mut buf = BytesMut::from(&out[..]);
        assert_eq!(
            dec.decode(&mut buf),
            Err(WsFrameError::TooBig { len: 10, max: 9 })
        );
        // Limit 0 still accepts the empty message.
        let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::Limited(0));
        assert_eq!(
            decode_all(&mut dec, &[0x82, 0x00]),
            [WsEvent::Message(Bytes::new())]
        );
    }

    #[test]
    fn roles() {
        assert!(WsRole::Client.masks_outgoing());
        assert!(!WsRole::Server.masks_outgoing());
        assert_eq!(WsRole::Client.peer(), WsRole::Server);
        assert_eq!(WsEncoder::new(WsRole::Server).role(), WsRole::Server);
        assert_eq!(
            WsEncoder::new(WsRole::Server)
                .with_fragment_size(0)
                .fragment_size(),
            1
        );
        let mut dec = WsDecoder::new(WsRole::Server, MaxRecvSize::DEFAULT);
        assert_eq!(dec.role(), WsRole::Server);
        dec.set_max_recv_size(MaxRecvSize::Unlimited);
        assert_eq!(dec.max_recv_size(), MaxRecvSize::Unlimited);
    }
}
