//! The backtrace header of REQ/REP and SURVEYOR/RESPONDENT messages.
//!
//! ```text
//! [0|pipe id 31b] ... [0|pipe id 31b] [1|request id 31b] [body]
//! ```
//! Big-endian 32-bit words. Every raw REP/RESPONDENT on the way pushes the id of the pipe
//! the request came from; the originator's id has bit 31 set and ends the stack.

use bytes::{BufMut, Bytes, BytesMut};

use crate::stats::DropReason;

/// Bit 31 marks the bottom-of-stack word (the request or survey id).
pub const ID_FLAG: u32 = 0x8000_0000;

/// Default maximum number of words in a received backtrace (request id included).
pub const DEFAULT_MAX_TTL: u8 = 8;

/// Why a received backtrace was refused. The message is dropped and counted; the pipe
/// stays open.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BacktraceError {
    /// The payload ended before a word with bit 31 set (includes payloads shorter than 4
    /// bytes).
    #[error("backtrace has no request id word (payload of {0} bytes)")]
    NoRequestId(usize),
    /// More words than the hop limit allows.
    #[error("backtrace exceeds the hop limit of {max} words")]
    TooManyHops {
        /// The configured limit.
        max: u8,
    },
}

impl BacktraceError {
    /// The reason a message dropped for this error is counted under: no id word is
    /// [`DropReason::MalformedHeader`], too many hops [`DropReason::TtlExceeded`].
    pub fn drop_reason(&self) -> DropReason {
        match self {
            Self::NoRequestId(_) => DropReason::MalformedHeader,
            Self::TooManyHops { .. } => DropReason::TtlExceeded,
        }
    }
}

/// A parsed backtrace: the stack words (bottom word last) and the remaining body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backtrace {
    /// The header bytes, a multiple of 4, ending with the id word.
    pub header: Bytes,
    /// The user body that followed.
    pub body: Bytes,
}

impl Backtrace {
    /// Splits `payload` into backtrace and body, refusing stacks of more than `max_ttl`
    /// words (request id included).
    pub fn parse(payload: &Bytes, max_ttl: u8) -> Result<Self, BacktraceError> {
        let mut words = 0usize;
        let mut offset = 0usize;
        loop {
            let Some(word) = payload.get(offset..offset + 4) else {
                return Err(BacktraceError::NoRequestId(payload.len()));
            };
            words += 1;
            offset += 4;
            if words > usize::from(max_ttl) {
                return Err(BacktraceError::TooManyHops { max: max_ttl });
            }
            if word[0] & 0x80 != 0 {
                return Ok(Self {
                    header: payload.slice(..offset),
                    body: payload.slice(offset..),
                });
            }
        }
    }

    /// The id word at the bottom of the stack (bit 31 set).
    pub fn id(&self) -> u32 {
        let n = self.header.len();
        u32::from_be_bytes([
            self.header[n - 4],
            self.header[n - 3],
            self.header[n - 2],
            self.header[n - 1],
        ])
    }

    /// Number of 32-bit words in the stack.
    pub fn hops(&self) -> usize {
        self.header.len() / 4
    }
}

/// Whether `header` is a whole backtrace, as a raw REQ or SURVEYOR must send: whole
/// words, at least one, and only the last with bit 31 set.
pub fn is_whole_backtrace(header: &[u8]) -> bool {
    if header.is_empty() || header.len() % 4 != 0 {
        return false;
    }
    let last = header.len() / 4 - 1;
    header
        .chunks_exact(4)
        .enumerate()
        .all(|(i, word)| (word[0] & 0x80 != 0) == (i == last))
}

/// Reads the first 4 bytes of `payload` as a big-endian word, if present.
pub fn first_word(payload: &[u8]) -> Option<u32> {
    payload
        .get(..4)
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
}

/// `word || rest` as a new header buffer (a raw REP/RESPONDENT pushing its pipe id).
pub fn push_word(word: u32, rest: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + rest.len());
    b.put_u32(word);
    b.put_slice(rest);
    b.freeze()
}

/// A 4-byte header holding one id word (what a cooked REQ or SURVEYOR sends).
pub fn id_header(id: u32) -> Bytes {
    Bytes::copy_from_slice(&(id | ID_FLAG).to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rfc_example() {
        // 0|299 then 1|823 then "Hello" (after one device hop).
        let p = Bytes::from_static(b"\x00\x00\x01\x2b\x80\x00\x03\x37Hello");
        let bt = Backtrace::parse(&p, 8).unwrap();
        assert_eq!(bt.hops(), 2);
        assert_eq!(bt.id(), 0x8000_0337);
        assert_eq!(&bt.body[..], b"Hello");
        assert_eq!(
            Backtrace::parse(&p, 1),
            Err(BacktraceError::TooManyHops { max: 1 })
        );
    }

    #[test]
    fn refuses_missing_id() {
        assert_eq!(
            Backtrace::parse(&Bytes::from_static(b"\x80\x00"), 8),
            Err(BacktraceError::NoRequestId(2))
        );
        assert_eq!(
            Backtrace::parse(&Bytes::from_static(b"\x00\x00\x00\x01hi"), 8),
            Err(BacktraceError::NoRequestId(6))
        );
        // Exactly 8 words is fine at TTL 8, 9 is not.
        let mut eight = vec![0u8; 28];
        eight.extend_from_slice(&[0x80, 0, 0, 1]);
        assert!(Backtrace::parse(&Bytes::from(eight.clone()), 8).is_ok());
        let mut nine = vec![0u8; 4];
        nine.extend_from_slice(&eight);
        assert_eq!(
            Backtrace::parse(&Bytes::from(nine), 8),
            Err(BacktraceError::TooManyHops { max: 8 })
        );
    }

    #[test]
    fn whole_backtrace_validation() {
        assert!(is_whole_backtrace(&[0x80, 0, 0, 1]));
        assert!(is_whole_backtrace(&[0, 0, 1, 0x2b, 0x80, 0, 0, 1]));
        assert!(is_whole_backtrace(&[0, 0, 1, 0x2b, 0x80, 0, 3, 0x37]));
        assert!(!is_whole_backtrace(&[]));
        assert!(!is_whole_backtrace(&[0x80, 0, 0]));
        assert!(!is_whole_backtrace(&[0, 0, 0, 1]));
        assert!(!is_whole_backtrace(&[0x80, 0, 0, 1, 0x80, 0, 0, 2]));
    }

    #[test]
    fn errors_map_to_drop_reasons() {
        assert_eq!(
            BacktraceError::NoRequestId(2).drop_reason(),
            DropReason::MalformedHeader
        );
        assert_eq!(
            BacktraceError::TooManyHops { max: 8 }.drop_reason(),
            DropReason::TtlExceeded
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(&id_header(0x337)[..], &[0x80, 0, 3, 0x37]);
        assert_eq!(
            &push_word(299, &[0x80, 0, 3, 0x37])[..],
            &[0, 0, 1, 0x2b, 0x80, 0, 3, 0x37]
        );
        assert_eq!(first_word(&[1, 2, 3]), None);
        assert_eq!(first_word(&[0, 0, 1, 0x2b, 9]), Some(299));
    }
}
