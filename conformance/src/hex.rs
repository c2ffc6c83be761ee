//! Hex encoding of message bodies on the peer command lines.

/// Lowercase hex of `bytes`; `-` for an empty body (so a line never ends in a space).
pub fn encode(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".to_owned();
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Decodes what [`encode`] wrote (`-` or nothing is the empty body); `None` if `s` is not
/// an even number of hex digits.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.is_empty() || s == "-" {
        return Some(Vec::new());
    }
    let digits = s.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    digits
        .chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for body in [&b""[..], b"\x00", b"hello", &[0xff, 0x10, 0x0a]] {
            assert_eq!(decode(&encode(body)).unwrap(), body);
        }
        assert_eq!(encode(b"\x01\xab"), "01ab");
        assert_eq!(decode("AB").unwrap(), [0xab]);
        assert!(decode("abc").is_none());
        assert!(decode("zz").is_none());
    }
}
