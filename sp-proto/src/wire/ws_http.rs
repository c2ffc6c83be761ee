//! The HTTP/1.1 part of the WebSocket mapping: the upgrade request and its answer, as
//! pure functions over bytes (no I/O), plus the base64 and `Sec-WebSocket-Accept`
//! helpers they need.
//!
//! [`server_upgrade`] is the whole decision of a `ws://` listener on the bytes a client
//! sent, and [`client_upgrade`] that of a dialer on the server's answer: the transport
//! and the fuzz targets both call them. `Sec-WebSocket-Accept` needs SHA-1, which this
//! crate does not implement (it has no crypto dependency): the caller passes one in
//! ([`Sha1`]).
//!
//! Everything here takes bytes from a peer and returns typed errors; nothing panics on
//! malformed input. Header names compare case-insensitively; repeated headers are joined
//! with `", "` as RFC 9110 allows for list-valued fields.

use crate::socket_type::SocketType;
use crate::wire::ws::{client_check, server_accept, WsSubprotocolError};
use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::string::ToString;
use alloc::vec::Vec;

/// SHA-1 of a byte string, supplied by the caller (see the module docs).
pub type Sha1 = fn(&[u8]) -> [u8; 20];

/// Largest request or response head (start line and headers) we accept.
pub const MAX_HEAD: usize = 8 * 1024;

/// The GUID RFC 6455 appends to the client's key before hashing.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why an HTTP head could not be read or was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The head is longer than [`MAX_HEAD`].
    #[error("HTTP head exceeds {MAX_HEAD} bytes")]
    TooLarge,
    /// The connection ended before the head was complete.
    #[error("connection closed during the HTTP upgrade")]
    Truncated,
    /// The head is not valid UTF-8 or contains control characters.
    #[error("HTTP head contains bytes that are not allowed")]
    BadBytes,
    /// The request or status line is malformed.
    #[error("malformed HTTP start line {0:?}")]
    BadStartLine(String),
    /// A header line has no `:` or an invalid name.
    #[error("malformed HTTP header line {0:?}")]
    BadHeader(String),
    /// Not HTTP/1.1.
    #[error("unsupported HTTP version {0:?}")]
    Version(String),
}

/// A parsed request or response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The three parts of the start line (`GET`, `/path`, `HTTP/1.1` for a request;
    /// `HTTP/1.1`, `101`, `Switching Protocols` for a response; the last part may be
    /// empty in a response).
    pub start: [String; 3],
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The value of header `name` (case-insensitive); repeated fields joined by `", "`.
    pub fn get(&self, name: &str) -> Option<String> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        let first = values.next()?;
        Some(values.fold(first.to_owned(), |mut acc, v| {
            acc.push_str(", ");
            acc.push_str(v);
            acc
        }))
    }

    /// Whether header `name` holds `token` as one of its comma-separated elements
    /// (case-insensitive), as `Connection: keep-alive, Upgrade` holds `upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

/// Where the head in `buf` ends (the index just past the blank line), if it is complete.
/// An error if no end is found within [`MAX_HEAD`] bytes.
pub fn find_head_end(buf: &[u8]) -> Result<Option<usize>, HttpError> {
    let window = &buf[..buf.len().min(MAX_HEAD)];
    match window.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => Ok(Some(i + 4)),
        None if buf.len() >= MAX_HEAD => Err(HttpError::TooLarge),
        None => Ok(None),
    }
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Parses a complete head (as delimited by [`find_head_end`]).
fn parse_head(head: &[u8]) -> Result<Head, HttpError> {
    let text = core::str::from_utf8(head).map_err(|_| HttpError::BadBytes)?;
    let text = text.strip_suffix("\r\n\r\n").unwrap_or(text);
    let mut lines = text.split("\r\n");
    let start_line = lines.next().unwrap_or_default();
    if start_line
        .bytes()
        .any(|c| c.is_ascii_control() && c != b'\t')
    {
        return Err(HttpError::BadBytes);
    }
    let mut parts = start_line.splitn(3, ' ');
    let (Some(a), Some(b)) = (parts.next(), parts.next()) else {
        return Err(HttpError::BadStartLine(start_line.to_owned()));
    };
    let c = parts.next().unwrap_or_default();
    // An empty middle part is kept: NNG 1.5.2 dials a path-less ws:// URL with an empty
    // request target (`GET  HTTP/1.1`), which `target_path` reads as `/`.
    if a.is_empty() {
        return Err(HttpError::BadStartLine(start_line.to_owned()));
    }
    let mut headers = Vec::new();
    for line in lines {
        if line.bytes().any(|c| c.is_ascii_control() && c != b'\t') {
            return Err(HttpError::BadBytes);
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HttpError::BadHeader(line.to_owned()));
        };
        // No whitespace before the colon, no obsolete line folding.
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(HttpError::BadHeader(line.to_owned()));
        }
        headers.push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
    }
    Ok(Head {
        start: [a.to_owned(), b.to_owned(), c.to_owned()],
        headers,
    })
}

/// Parses a request head: `METHOD target HTTP/1.1` and headers.
pub fn parse_request(head: &[u8]) -> Result<Head, HttpError> {
    let h = parse_head(head)?;
    if h.start[2].is_empty() || h.start[2].contains(' ') {
        return Err(HttpError::BadStartLine(h.start.join(" ")));
    }
    if h.start[2] != "HTTP/1.1" {
        return Err(HttpError::Version(h.start[2].clone()));
    }
    Ok(h)
}

/// Parses a response head: `HTTP/1.1 code reason` and headers; returns it with the code.
pub fn parse_response(head: &[u8]) -> Result<(u16, Head), HttpError> {
    let h = parse_head(head)?;
    if !h.start[0].starts_with("HTTP/1.") {
        return Err(HttpError::Version(h.start[0].clone()));
    }
    let code = match h.start[1].parse::<u16>() {
        Ok(c) if h.start[1].len() == 3 && (100..600).contains(&c) => c,
        _ => return Err(HttpError::BadStartLine(h.start.join(" "))),
    };
    Ok((code, h))
}

/// A refusal to upgrade: an HTTP status, its reason phrase and a detail for the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// The status code (400, 404, 405, 426, 431, 505).
    pub status: u16,
    /// The reason phrase of the status line.
    pub reason: &'static str,
    /// A one-line explanation sent as the body.
    pub detail: String,
}

impl Reject {
    fn bad(reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: 400,
            reason,
            detail: detail.into(),
        }
    }

    /// The refusal for an unreadable head.
    pub fn from_http(e: &HttpError) -> Self {
        match e {
            HttpError::TooLarge => Self {
                status: 431,
                reason: "Request Header Fields Too Large",
                detail: e.to_string(),
            },
            HttpError::Version(_) => Self {
                status: 505,
                reason: "HTTP Version Not Supported",
                detail: e.to_string(),
            },
            _ => Self::bad("Bad Request", e.to_string()),
        }
    }

    /// The refusal for an SP subprotocol mismatch (nanomsg's reason phrases).
    pub fn from_subprotocol(e: &WsSubprotocolError) -> Self {
        let reason = match e {
            WsSubprotocolError::Unrecognised { .. } => "Unrecognized Socket Type",
            _ => "Incompatible Socket Type",
        };
        Self::bad(reason, e.to_string())
    }

    /// The refusal for a path no listener serves.
    pub fn not_found(path: &str) -> Self {
        Self {
            status: 404,
            reason: "Not Found",
            detail: format!("no SP listener at {path}"),
        }
    }

    /// The response bytes (the connection is closed after them).
    pub fn to_bytes(&self) -> Vec<u8> {
        let body: String = self
            .detail
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.status,
            self.reason,
            body.len()
        )
        .into_bytes()
    }
}

/// The checked upgrade request of a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgrade {
    /// The request target's path (without a query).
    pub path: String,
    /// The client's `Sec-WebSocket-Key`.
    pub key: String,
    /// The client's `Sec-WebSocket-Protocol` value, if any.
    pub subprotocol: Option<String>,
}

/// The request target's path: an origin-form target without its query, or the path of an
/// absolute-form target. An empty target is `/`: NNG 1.5.2 sends `GET  HTTP/1.1` (two
/// spaces) when its URL has no path, and libnanomsg serves it, so we do too.
pub fn target_path(target: &str) -> Option<String> {
    let path = if target.is_empty() {
        "/"
    } else if target.starts_with('/') {
        target
    } else {
        let rest = target
            .strip_prefix("ws://")
            .or_else(|| target.strip_prefix("wss://"))
            .or_else(|| target.strip_prefix("http://"))
            .or_else(|| target.strip_prefix("https://"))?;
        rest.find('/').map_or("/", |i| &rest[i..])
    };
    Some(path.split(['?', '#']).next().unwrap_or("/").to_owned())
}

/// Checks a client's upgrade request (everything but the path's listener and the SP
/// subprotocol, which the caller checks next).
pub fn check_request(h: &Head) -> Result<Upgrade, Reject> {
    if h.start[0] != "GET" {
        return Err(Reject {
            status: 405,
            reason: "Method Not Allowed",
            detail: format!("method {} is not GET", h.start[0]),
        });
    }
    let path =
        target_path(&h.start[1]).ok_or_else(|| Reject::bad("Bad Request", "bad request target"))?;
    if h.get("host").is_none_or(|v| v.is_empty()) {
        return Err(Reject::bad("Bad Request", "missing Host header"));
    }
    if !h.has_token("upgrade", "websocket") {
        return Err(Reject::bad("Bad Request", "not a WebSocket upgrade"));
    }
    if !h.has_token("connection", "upgrade") {
        return Err(Reject::bad(
            "Bad Request",
            "Connection header lacks upgrade",
        ));
    }
    if h.get("sec-websocket-version").as_deref() != Some("13") {
        return Err(Reject {
            status: 426,
            reason: "Upgrade Required",
            detail: "only WebSocket version 13 is supported".to_owned(),
        });
    }
    let key = h.get("sec-websocket-key").unwrap_or_default();
    if base64_decode(&key).map(|k| k.len()) != Some(16) {
        return Err(Reject::bad("Bad Request", "bad Sec-WebSocket-Key"));
    }
    Ok(Upgrade {
        path,
        key,
        subprotocol: h.get("sec-websocket-protocol"),
    })
}

/// The `101 Switching Protocols` answer echoing `subprotocol`.
pub fn accept_response(key: &str, subprotocol: &str, sha1: Sha1) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: {subprotocol}\r\n\r\n",
        accept_key(key, sha1)
    )
    .into_bytes()
}

/// A client's upgrade request.
pub fn request(host: &str, path: &str, key: &str, subprotocol: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {subprotocol}\r\n\r\n"
    )
    .into_bytes()
}

/// Why the server's answer to our upgrade request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// Not a 101: the server refused (with its status line).
    #[error("server refused the upgrade: {code} {reason}")]
    Refused {
        /// The status code.
        code: u16,
        /// The reason phrase.
        reason: String,
    },
    /// A 101 without `Upgrade: websocket` or `Connection: Upgrade`.
    #[error("101 response is not a WebSocket upgrade")]
    NotUpgrade,
    /// A 101 whose `Sec-WebSocket-Accept` does not match our key.
    #[error("Sec-WebSocket-Accept does not match the key sent")]
    BadAccept,
    /// The server echoed a different SP subprotocol.
    #[error(transparent)]
    Subprotocol(#[from] WsSubprotocolError),
}

/// Checks the server's response head to a request sent with `key`; returns the echoed
/// subprotocol, if any, for the caller's SP check.
pub fn check_response(
    code: u16,
    h: &Head,
    key: &str,
    sha1: Sha1,
) -> Result<Option<String>, ResponseError> {
    if code != 101 {
        return Err(ResponseError::Refused {
            code,
            reason: h.start[2].clone(),
        });
    }
    if !h.has_token("upgrade", "websocket") || !h.has_token("connection", "upgrade") {
        return Err(ResponseError::NotUpgrade);
    }
    if h.get("sec-websocket-accept").as_deref() != Some(accept_key(key, sha1).as_str()) {
        return Err(ResponseError::BadAccept);
    }
    Ok(h.get("sec-websocket-protocol"))
}

/// `Sec-WebSocket-Accept` for `key`: base64 of SHA-1 of the key and the RFC's GUID.
pub fn accept_key(key: &str, sha1: Sha1) -> String {
    let mut input = Vec::with_capacity(key.len() + WS_GUID.len());
    input.extend_from_slice(key.as_bytes());
    input.extend_from_slice(WS_GUID.as_bytes());
    base64_encode(&sha1(&input))
}

/// What a `ws://` listener decides about the bytes a client sent so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerUpgrade {
    /// The request head is not complete yet: read more.
    Incomplete,
    /// Upgrade: write `response` (a `101`); the WebSocket stream starts at `head_len` in
    /// the input.
    Accept {
        /// Length of the request head in the input.
        head_len: usize,
        /// The `101 Switching Protocols` answer.
        response: Vec<u8>,
    },
    /// Refuse: write `reject`'s bytes and close.
    Refuse {
        /// The HTTP refusal to send.
        reject: Reject,
        /// Why, for the caller's counters and logs.
        why: Refusal,
    },
}

/// Why [`server_upgrade`] refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The request head could not be read (too large, malformed, not HTTP/1.1).
    Unreadable(HttpError),
    /// No listener serves the path.
    NotFound(String),
    /// A listener serves the path but the request is no valid WebSocket upgrade for it
    /// (method, headers, key, version or SP subprotocol).
    Refused,
}

/// The server side of the upgrade: reads the request head at the start of `input` and
/// decides. `route` names the socket type of the listener serving a path, if any (it is
/// called once, for a complete and readable head); `sha1` computes the accept key.
pub fn server_upgrade(
    input: &[u8],
    mut route: impl FnMut(&str) -> Option<SocketType>,
    sha1: Sha1,
) -> ServerUpgrade {
    let unreadable = |e: HttpError| ServerUpgrade::Refuse {
        reject: Reject::from_http(&e),
        why: Refusal::Unreadable(e),
    };
    let head_len = match find_head_end(input) {
        Ok(Some(end)) => end,
        Ok(None) => return ServerUpgrade::Incomplete,
        Err(e) => return unreadable(e),
    };
    let h = match parse_request(&input[..head_len]) {
        Ok(h) => h,
        Err(e) => return unreadable(e),
    };
    let Some(path) = target_path(&h.start[1]) else {
        return unreadable(HttpError::BadStartLine(h.start.join(" ")));
    };
    let Some(ours) = route(&path) else {
        return ServerUpgrade::Refuse {
            reject: Reject::not_found(&path),
            why: Refusal::NotFound(path),
        };
    };
    let checked = check_request(&h).and_then(|up| {
        server_accept(ours, up.subprotocol.as_deref())
            .map(|echo| (up.key, echo))
            .map_err(|e| Reject::from_subprotocol(&e))
    });
    match checked {
        Ok((key, echo)) => ServerUpgrade::Accept {
            head_len,
            response: accept_response(&key, &echo, sha1),
        },
        Err(reject) => ServerUpgrade::Refuse {
            reject,
            why: Refusal::Refused,
        },
    }
}

/// Why [`client_upgrade`] refused the server's answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientUpgradeError {
    /// The response head could not be read.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The response is a refusal, no valid upgrade, or echoes another SP subprotocol.
    #[error(transparent)]
    Response(#[from] ResponseError),
}

/// The client side of the upgrade: reads the server's response head at the start of
/// `input`, for a dialer of type `ours` that sent `key`. `Ok(None)` while the head is
/// incomplete; `Ok(Some(head_len))` for an accepted upgrade, whose WebSocket stream
/// starts at `head_len`.
pub fn client_upgrade(
    input: &[u8],
    ours: SocketType,
    key: &str,
    sha1: Sha1,
) -> Result<Option<usize>, ClientUpgradeError> {
    let Some(head_len) = find_head_end(input)? else {
        return Ok(None);
    };
    let (code, h) = parse_response(&input[..head_len])?;
    let echoed = check_response(code, &h, key, sha1)?;
    client_check(ours, echoed.as_deref()).map_err(ResponseError::from)?;
    Ok(Some(head_len))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648 §4) with padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard padded base64; `None` for anything else (wrong length, bad
/// characters, misplaced padding, non-zero unused bits).
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if s.len() % 4 != 0 {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let quads = s.len() / 4;
    for (qi, q) in s.chunks(4).enumerate() {
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && qi + 1 != quads) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = 3 - pad;
        // Bits beyond the last kept byte must be zero (canonical encoding).
        if bytes[keep..].iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Not SHA-1 (this crate has none), but a digest the checks can compare: the accept
    /// key against the RFC 6455 example is tested in sp-net, with a real SHA-1.
    fn fake_sha1(data: &[u8]) -> [u8; 20] {
        let mut out = [0u8; 20];
        for (i, b) in data.iter().enumerate() {
            out[i % 20] = out[i % 20].rotate_left(3) ^ b;
        }
        out
    }

    const RFC4648: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn base64_rfc4648_vectors() {
        for (plain, enc) in RFC4648 {
            assert_eq!(base64_encode(plain.as_bytes()), enc);
            assert_eq!(base64_decode(enc).unwrap(), plain.as_bytes(), "{enc}");
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)).unwrap(), all);
        for bad in [
            "Zg=", "Z===", "Zg==Zg==", "Zh==", "Zm9=", "Zm9v!A==", "====", "é==",
        ] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }

    fn req(extra: &str) -> Vec<u8> {
        format!("GET /p?x=1 HTTP/1.1\r\nHost: h:1\r\n{extra}\r\n").into_bytes()
    }

    const GOOD: &str = "upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION: 13\r\nSec-WebSocket-Protocol: rep.sp.nanomsg.org\r\n";

    #[test]
    fn request_checks() {
        let h = parse_request(&req(GOOD)).unwrap();
        let up = check_request(&h).unwrap();
        assert_eq!(up.path, "/p");
        assert_eq!(up.subprotocol.as_deref(), Some("rep.sp.nanomsg.org"));
        for (drop, status) in [
            ("upgrade:", 400),
            ("Connection:", 400),
            ("Sec-WebSocket-Key:", 400),
            ("SEC-WEBSOCKET-VERSION:", 426),
        ] {
            let text: String = GOOD
                .split_inclusive("\r\n")
                .filter(|l| !l.starts_with(drop))
                .collect();
            let h = parse_request(&req(&text)).unwrap();
            assert_eq!(check_request(&h).unwrap_err().status, status, "{drop}");
        }
        let h = parse_request(b"POST / HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!(check_request(&h).unwrap_err().status, 405);
        let h = parse_request(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(check_request(&h).unwrap_err().status, 400);
        assert_eq!(
            target_path("ws://h:1/a/b?q").as_deref(),
            Some("/a/b"),
            "absolute form"
        );
        assert_eq!(target_path("*"), None);
    }

    /// NNG 1.5.2 dials `ws://host:port` (no path) with an empty request target.
    #[test]
    fn empty_request_target_is_the_root() {
        let text = format!("GET  HTTP/1.1\r\nHost: h:1\r\n{GOOD}\r\n");
        let h = parse_request(text.as_bytes()).unwrap();
        assert_eq!(h.start[1], "");
        assert_eq!(check_request(&h).unwrap().path, "/");
        // Only the target may be empty: a missing method or version stays an error.
        for bad in [" / HTTP/1.1", "GET   HTTP/1.1", "GET ", "GET HTTP/1.1"] {
            let text = format!("{bad}\r\nHost: h\r\n\r\n");
            assert!(
                matches!(
                    parse_request(text.as_bytes()),
                    Err(HttpError::BadStartLine(_) | HttpError::Version(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn malformed_heads_are_typed_errors() {
        assert_eq!(
            parse_request(b"GET / HTTP/1.0\r\n\r\n"),
            Err(HttpError::Version("HTTP/1.0".into()))
        );
        assert!(matches!(
            parse_request(b"GET\r\n\r\n"),
            Err(HttpError::BadStartLine(_))
        ));
        assert!(matches!(
            parse_request(b"GET / HTTP/1.1\r\nNoColon\r\n\r\n"),
            Err(HttpError::BadHeader(_))
        ));
        assert!(matches!(
            parse_request(b"GET / HTTP/1.1\r\nA b: c\r\n\r\n"),
            Err(HttpError::BadHeader(_))
        ));
        assert!(matches!(
            parse_request(b"GET / HTTP/1.1\r\n folded\r\n\r\n"),
            Err(HttpError::BadHeader(_))
        ));
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nA: \xff\r\n\r\n"),
            Err(HttpError::BadBytes)
        );
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nA: \x01\r\n\r\n"),
            Err(HttpError::BadBytes)
        );
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r"), Ok(None));
        assert_eq!(find_head_end(b"a\r\n\r\nrest"), Ok(Some(5)));
        assert_eq!(find_head_end(&[b'a'; MAX_HEAD]), Err(HttpError::TooLarge));
        assert!(matches!(
            parse_response(b"HTTP/1.1 1x1 X\r\n\r\n"),
            Err(HttpError::BadStartLine(_))
        ));
        // Arbitrary bytes never panic.
        let mut seed = 1u64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    b"GET / HTTP/1.1\r\n: ab"[(seed >> 33) as usize % 20]
                })
                .collect();
            let _ = parse_request(&bytes).map(|h| check_request(&h));
            let _ = parse_response(&bytes);
        }
    }

    #[test]
    fn responses() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let bytes = accept_response(key, "REP.sp.nanomsg.org", fake_sha1);
        let end = find_head_end(&bytes).unwrap().unwrap();
        assert_eq!(end, bytes.len());
        let (code, h) = parse_response(&bytes).unwrap();
        assert_eq!(
            check_response(code, &h, key, fake_sha1).unwrap().as_deref(),
            Some("REP.sp.nanomsg.org")
        );
        assert_eq!(
            check_response(code, &h, "AAAAAAAAAAAAAAAAAAAAAA==", fake_sha1),
            Err(ResponseError::BadAccept)
        );
        let refusal = Reject::not_found("/x").to_bytes();
        let (code, h) =
            parse_response(&refusal[..find_head_end(&refusal).unwrap().unwrap()]).unwrap();
        assert_eq!(
            check_response(code, &h, key, fake_sha1),
            Err(ResponseError::Refused {
                code: 404,
                reason: "Not Found".into()
            })
        );
    }

    #[test]
    fn server_and_client_decisions() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let offer = "rep.sp.nanomsg.org";
        let request = super::request("h:1", "/p", key, offer);
        let rep = |path: &str| (path == "/p").then_some(SocketType::Rep);
        // Incomplete until the blank line; the route is not asked before.
        let partial = &request[..request.len() - 1];
        let asked = |_: &str| -> Option<SocketType> { panic!("route asked too early") };
        assert_eq!(
            server_upgrade(partial, asked, fake_sha1),
            ServerUpgrade::Incomplete
        );
        // Accepted: the WebSocket stream starts right after the head.
        let mut input = request.clone();
        input.extend_from_slice(b"frames");
        let ServerUpgrade::Accept { head_len, response } = server_upgrade(&input, rep, fake_sha1)
        else {
            panic!("not accepted");
        };
        assert_eq!(&input[head_len..], b"frames");
        let mut answer = response.clone();
        answer.extend_from_slice(b"more");
        let len = client_upgrade(&answer, SocketType::Req, key, fake_sha1).unwrap();
        assert_eq!(len, Some(response.len()));
        assert_eq!(
            client_upgrade(&answer[..5], SocketType::Req, key, fake_sha1),
            Ok(None)
        );
        assert!(matches!(
            client_upgrade(&answer, SocketType::Sub, key, fake_sha1),
            Err(ClientUpgradeError::Response(ResponseError::Subprotocol(_)))
        ));
        // Refusals: no listener, wrong SP type, unreadable head.
        let other = super::request("h:1", "/q", key, offer);
        assert!(matches!(
            server_upgrade(&other, rep, fake_sha1),
            ServerUpgrade::Refuse { why: Refusal::NotFound(p), reject } if p == "/q" && reject.status == 404
        ));
        let pubs = |_: &str| Some(SocketType::Pub);
        assert!(matches!(
            server_upgrade(&request, pubs, fake_sha1),
            ServerUpgrade::Refuse { why: Refusal::Refused, reject } if reject.status == 400
        ));
        assert!(matches!(
            server_upgrade(&[b'a'; MAX_HEAD], rep, fake_sha1),
            ServerUpgrade::Refuse { why: Refusal::Unreadable(HttpError::TooLarge), reject } if reject.status == 431
        ));
        assert!(matches!(
            server_upgrade(b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", rep, fake_sha1),
            ServerUpgrade::Refuse {
                why: Refusal::Unreadable(HttpError::BadStartLine(_)),
                ..
            }
        ));
    }
}
