//! Byte formatting for traces, snapshots and `Debug` output.

use alloc::format;
use alloc::string::String;

/// Formats bytes as lowercase hex pairs separated by spaces.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Debug-formats a byte string as text when printable, hex otherwise.
pub(crate) struct BytesDisplay<'a>(pub(crate) &'a [u8]);

impl core::fmt::Debug for BytesDisplay<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            write!(f, "{:?}", String::from_utf8_lossy(self.0))
        } else {
            write!(f, "[{}]", hex(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_display() {
        assert_eq!(hex(&[0, 0x53, 0xff]), "00 53 ff");
        assert_eq!(hex(&[]), "");
        assert_eq!(format!("{:?}", BytesDisplay(b"hi there")), "\"hi there\"");
        assert_eq!(format!("{:?}", BytesDisplay(&[1, 2])), "[01 02]");
    }
}
