//! [`WsEncoder`]: SP messages and control frames as WebSocket frames.

use super::*;
use crate::wire::ws::DEFAULT_SEND_FRAGMENT;
use bytes::{BufMut, BytesMut};

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
