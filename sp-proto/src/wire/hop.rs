//! The PAIR v1 header: one big-endian 32-bit word whose low byte is the hop count and
//! whose upper three bytes must be zero.

use bytes::Bytes;

/// Why a PAIR v1 header was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HopError {
    /// Fewer than 4 bytes of payload.
    #[error("PAIR v1 message of {0} bytes has no 4-byte hop header")]
    Truncated(usize),
    /// The upper three bytes are not zero (value above 0xff).
    #[error("PAIR v1 hop word {0:#010x} is out of range (must be below 0x100)")]
    OutOfRange(u32),
}

/// A parsed PAIR v1 message: hop count and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HopHeader {
    /// Hops taken so far, as received.
    pub hops: u8,
    /// The body after the header.
    pub body: Bytes,
}

impl HopHeader {
    /// Parses a received PAIR v1 payload.
    pub fn parse(payload: &Bytes) -> Result<Self, HopError> {
        let word = crate::wire::backtrace::first_word(payload)
            .ok_or(HopError::Truncated(payload.len()))?;
        let hops = u8::try_from(word).map_err(|_| HopError::OutOfRange(word))?;
        Ok(Self {
            hops,
            body: payload.slice(4..),
        })
    }

    /// The 4-byte header carrying `hops`.
    pub fn encode(hops: u8) -> Bytes {
        Bytes::copy_from_slice(&u32::from(hops).to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_encode() {
        let h = HopHeader::parse(&Bytes::from_static(b"\x00\x00\x00\x01hi")).unwrap();
        assert_eq!((h.hops, &h.body[..]), (1, &b"hi"[..]));
        assert_eq!(
            HopHeader::parse(&Bytes::from_static(b"\x00\x00\x01\x00")),
            Err(HopError::OutOfRange(0x100))
        );
        assert_eq!(
            HopHeader::parse(&Bytes::from_static(b"\x00\x01")),
            Err(HopError::Truncated(2))
        );
        assert_eq!(&HopHeader::encode(1)[..], &[0, 0, 0, 1]);
    }
}
