//! The message model: an SP header part and a body part, both cheap to clone.

use bytes::{Bytes, BytesMut};

use crate::pipes::PipeId;
use alloc::string::String;
use alloc::vec::Vec;

/// One SP message.
///
/// On the wire a message is `header || body` with no separator; the protocol decides how
/// much of the payload is header (a backtrace for REQ/REP and SURVEY, a hop word for PAIR
/// v1, nothing for the rest). Cooked sockets hand users an empty header; raw sockets expose
/// it so that devices can forward it unchanged. Cloning is O(1): fan-out (PUB, BUS,
/// SURVEYOR) sends one buffer to every pipe without copying it.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Message {
    /// The SP protocol header (raw sockets only; empty on cooked sockets).
    pub header: Bytes,
    /// The user payload.
    pub body: Bytes,
    /// The pipe the message arrived on (set on receive), or the pipe it must leave by
    /// (PAIR v1 polyamorous send). `None` otherwise.
    pub pipe: Option<PipeId>,
}

impl Message {
    /// A message with this body and no header.
    pub fn new(body: impl Into<Bytes>) -> Self {
        Self {
            header: Bytes::new(),
            body: body.into(),
            pipe: None,
        }
    }

    /// A message with both parts given.
    pub fn with_header(header: impl Into<Bytes>, body: impl Into<Bytes>) -> Self {
        Self {
            header: header.into(),
            body: body.into(),
            pipe: None,
        }
    }

    /// Header length plus body length: the length field on the wire.
    pub fn wire_len(&self) -> usize {
        self.header.len() + self.body.len()
    }

    /// `header || body` as one buffer (copies only when the header is non-empty).
    pub fn to_wire(&self) -> Bytes {
        if self.header.is_empty() {
            return self.body.clone();
        }
        let mut buf = BytesMut::with_capacity(self.wire_len());
        buf.extend_from_slice(&self.header);
        buf.extend_from_slice(&self.body);
        buf.freeze()
    }
}

impl core::fmt::Debug for Message {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut s = f.debug_struct("Message");
        if !self.header.is_empty() {
            s.field("header", &crate::fmt::hex(&self.header));
        }
        s.field("body", &crate::fmt::BytesDisplay(&self.body));
        if let Some(p) = self.pipe {
            s.field("pipe", &p);
        }
        s.finish()
    }
}

impl From<&'static str> for Message {
    fn from(s: &'static str) -> Self {
        Self::new(Bytes::from_static(s.as_bytes()))
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Self::new(s.into_bytes())
    }
}

impl From<&'static [u8]> for Message {
    fn from(b: &'static [u8]) -> Self {
        Self::new(Bytes::from_static(b))
    }
}

impl From<Vec<u8>> for Message {
    fn from(v: Vec<u8>) -> Self {
        Self::new(v)
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Self::new(b)
    }
}
