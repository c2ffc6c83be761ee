//! How received messages are echoed to standard output, byte for byte as nanocat prints
//! them (`nn_print_message` in nanocat's `tools/nanocat.c`).

/// The echo format of readable sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Print nothing (the default).
    No,
    /// The body as is, with no delimiter at all.
    Raw,
    /// Printable ASCII kept, every other byte replaced by `.`, then a newline.
    Ascii,
    /// A C-style string literal: `"` ... `"` and a newline; `\n`, `\r`, `\\` and `\"`
    /// escaped, other non-printable bytes as `\xHH` (lower-case hex).
    Quoted,
    /// A msgpack `bin` object: `0xC4 len8`, `0xC5 len16` or `0xC6 len32` (big-endian),
    /// then the bytes; no delimiter.
    Msgpack,
    /// Every byte as `\xHH` inside double quotes, then a newline.
    Hex,
}

impl Format {
    /// The names `--format` accepts, in nanocat's order (also listed in its error).
    pub(crate) const NAMES: [(&'static str, Self); 6] = [
        ("no", Self::No),
        ("raw", Self::Raw),
        ("ascii", Self::Ascii),
        ("quoted", Self::Quoted),
        ("msgpack", Self::Msgpack),
        ("hex", Self::Hex),
    ];

    /// The format named `name` (exact match, as nanocat's enum options).
    pub(crate) fn from_name(name: &[u8]) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| n.as_bytes() == name)
            .map(|&(_, f)| f)
    }

    /// Appends the echo of `body` to `out`.
    pub(crate) fn render(self, body: &[u8], out: &mut Vec<u8>) {
        match self {
            Self::No => {}
            Self::Raw => out.extend_from_slice(body),
            Self::Ascii => {
                out.extend(body.iter().map(|&b| if is_print(b) { b } else { b'.' }));
                out.push(b'\n');
            }
            Self::Quoted => {
                out.push(b'"');
                for &b in body {
                    match b {
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
                        b if is_print(b) => out.push(b),
                        b => push_hex_escape(b, out),
                    }
                }
                out.extend_from_slice(b"\"\n");
            }
            Self::Msgpack => {
                let len = body.len();
                if len < 0x100 {
                    out.extend_from_slice(&[0xc4, len as u8]);
                } else if len < 0x1_0000 {
                    out.push(0xc5);
                    out.extend_from_slice(&(len as u16).to_be_bytes());
                } else {
                    // Larger than 4 GiB cannot arrive (the receive limit is an i32 in
                    // every peer); nanocat writes the low 32 bits as well.
                    out.push(0xc6);
                    out.extend_from_slice(&(len as u32).to_be_bytes());
                }
                out.extend_from_slice(body);
            }
            Self::Hex => {
                out.push(b'"');
                for &b in body {
                    push_hex_escape(b, out);
                }
                out.extend_from_slice(b"\"\n");
            }
        }
    }
}

/// `isprint` in the C locale: space through tilde. Bytes from 0x80 up are not printable
/// (nanocat passes a signed `char`, and glibc classes negative values as non-printable).
fn is_print(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

fn push_hex_escape(b: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[
        b'\\',
        b'x',
        HEX[usize::from(b >> 4)],
        HEX[usize::from(b & 0xf)],
    ]);
}

#[cfg(test)]
mod tests {
    use super::Format;

    fn show(f: Format, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        f.render(body, &mut out);
        out
    }

    #[test]
    fn no_prints_nothing() {
        assert!(show(Format::No, b"abc").is_empty());
    }

    #[test]
    fn raw_has_no_delimiter() {
        assert_eq!(show(Format::Raw, b"a\0\xff\n"), b"a\0\xff\n");
        assert!(show(Format::Raw, b"").is_empty());
    }

    #[test]
    fn ascii_replaces_non_printables_and_ends_the_line() {
        assert_eq!(
            show(Format::Ascii, b"hi\tthere\x7f\x80~ \n"),
            b"hi.there..~ .\n"
        );
        assert_eq!(show(Format::Ascii, b""), b"\n");
    }

    #[test]
    fn quoted_escapes_like_c() {
        assert_eq!(
            show(Format::Quoted, b"a\"b\\c\nd\re\tf\0\x7f\xff"),
            b"\"a\\\"b\\\\c\\nd\\re\\x09f\\x00\\x7f\\xff\"\n".to_vec()
        );
        assert_eq!(show(Format::Quoted, b""), b"\"\"\n");
    }

    #[test]
    fn hex_escapes_every_byte_in_lower_case() {
        assert_eq!(show(Format::Hex, b"A\xab\n"), b"\"\\x41\\xab\\x0a\"\n");
        assert_eq!(show(Format::Hex, b""), b"\"\"\n");
    }

    #[test]
    fn msgpack_picks_bin8_bin16_bin32() {
        assert_eq!(show(Format::Msgpack, b""), b"\xc4\x00");
        assert_eq!(show(Format::Msgpack, b"hey"), b"\xc4\x03hey");
        let b255 = vec![b'x'; 255];
        assert_eq!(show(Format::Msgpack, &b255)[..2], [0xc4, 0xff]);
        let b256 = vec![b'x'; 256];
        let out = show(Format::Msgpack, &b256);
        assert_eq!(out[..3], [0xc5, 0x01, 0x00]);
        assert_eq!(out.len(), 3 + 256);
        let b65535 = vec![0u8; 65535];
        assert_eq!(show(Format::Msgpack, &b65535)[..3], [0xc5, 0xff, 0xff]);
        let b65536 = vec![0u8; 65536];
        let out = show(Format::Msgpack, &b65536);
        assert_eq!(out[..5], [0xc6, 0x00, 0x01, 0x00, 0x00]);
        assert_eq!(out.len(), 5 + 65536);
    }

    #[test]
    fn names_round_trip() {
        for (name, f) in Format::NAMES {
            assert_eq!(Format::from_name(name.as_bytes()), Some(f));
        }
        assert_eq!(Format::from_name(b"Hex"), None);
        assert_eq!(Format::from_name(b"he"), None);
    }
}
