//! The connection machines' tables: the SP header exchange and framing (`connection`), the
//! dialer's reconnect backoff (`backoff`), and both sides of the WebSocket upgrade
//! (`ws-server`, `ws-client`). Each row is driven through the real sp-proto code: the
//! setup reaches the row's state through real inputs, the row's input is applied, and
//! the outputs and the next state are compared with the row.

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use sp_proto::backoff::Backoff;
use sp_proto::wire::frame::FrameError;
use sp_proto::wire::ws::WsSubprotocolError;
use sp_proto::wire::ws_http::{
    accept_key, client_upgrade, server_upgrade, ClientUpgradeError, HttpError, ResponseError,
    ServerUpgrade, MAX_HEAD,
};
use sp_proto::wire::{FrameDecoder, FrameFormat, Handshake, HeaderError, MaxRecvSize};
use sp_proto::{Instant, SocketType};

use super::{check_every_row, compare, load, row_at, Observed, Row, Vocabulary};

/// The machines with a table, in the order their files are checked.
pub(super) const MACHINES: [&str; 4] = ["connection", "backoff", "ws-server", "ws-client"];

/// What the machines' tables may say.
pub(super) const WORDS: Vocabulary = Vocabulary {
    inputs: &["bytes", "eof", "tick", "failure", "success"],
    commands: &[],
    results: &[],
    output: parse_output,
    counter: |_| None,
};

/// `end`, `upgraded`, `stream_after_head`, or `peer(..)`, `message(..)`, `error(..)`,
/// `delay(..)`, `respond(..)`.
fn parse_output(o: &str) -> Option<String> {
    if ["end", "upgraded", "stream_after_head"].contains(&o) {
        return Some(o.to_owned());
    }
    let (head, rest) = o.split_once('(')?;
    let arg = rest.strip_suffix(')')?;
    let known = ["peer", "message", "error", "delay", "respond"].contains(&head);
    (known && !arg.is_empty()).then(|| o.to_owned())
}

/// Drives one row of machine `role`; `Err` describes every mismatch.
pub(super) fn check_row(role: &str, index: usize, row: &Row) -> Result<(), String> {
    let at = row_at(role, index, row);
    let got = match role {
        "connection" => connection(row),
        "backoff" => backoff(row),
        "ws-server" => ws_server(row),
        "ws-client" => ws_client(row),
        _ => Err(format!("no driver for `{role}`")),
    }
    .map_err(|e| format!("{at}: {e}"))?;
    compare(&at, &got, row, &WORDS)
}

fn observed(outputs: Vec<String>, next: &str) -> Observed {
    Observed {
        result: None,
        outputs,
        next: next.to_owned(),
        counters: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// connection: Handshake, then FrameDecoder, composed as a driver composes them.

const PEER_HEADER: [u8; 8] = [0x00, b'S', b'P', 0x00, 0x00, 0x31, 0x00, 0x00];
const MAX_RECV: u64 = 1024;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One connection of a REQ socket.
struct Connection {
    handshake: Handshake,
    decoder: FrameDecoder,
    buf: BytesMut,
    open: bool,
    closed: bool,
}

impl Connection {
    fn new(format: FrameFormat) -> Self {
        Self {
            handshake: Handshake::new(SocketType::Req, Instant::ZERO, HANDSHAKE_TIMEOUT),
            decoder: FrameDecoder::new(format, MaxRecvSize::Limited(MAX_RECV)),
            buf: BytesMut::new(),
            open: false,
            closed: false,
        }
    }

    fn class(&self) -> &'static str {
        match (self.open, self.closed) {
            (_, true) => "closed",
            (true, false) => "open",
            (false, false) => "awaiting-header",
        }
    }

    fn fail(&mut self, why: &str) -> Vec<String> {
        self.closed = true;
        vec![format!("error({why})")]
    }

    fn bytes(&mut self, input: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = input;
        if !self.open {
            match self.handshake.feed(input) {
                Err(e) => return self.fail(header_error(&e)),
                Ok((_, None)) => return out,
                Ok((used, Some(peer))) => {
                    self.open = true;
                    out.push(format!("peer({})", peer.name()));
                    rest = &input[used..];
                }
            }
        }
        self.buf.put_slice(rest);
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(m)) => out.push(format!("message({})", m.len())),
                Ok(None) => return out,
                Err(e) => {
                    out.extend(self.fail(frame_error(&e)));
                    return out;
                }
            }
        }
    }

    fn eof(&mut self) -> Vec<String> {
        if !self.open {
            let e = self.handshake.eof();
            return self.fail(header_error(&e));
        }
        let mut out = Vec::new();
        loop {
            match self.decoder.decode_eof(&mut self.buf) {
                Ok(Some(m)) => out.push(format!("message({})", m.len())),
                Ok(None) => {
                    self.closed = true;
                    out.push("end".to_owned());
                    return out;
                }
                Err(e) => {
                    out.extend(self.fail(frame_error(&e)));
                    return out;
                }
            }
        }
    }

    fn tick(&mut self, now: Instant) -> Vec<String> {
        match self.handshake.check_timeout(now) {
            Err(e) if !self.open => self.fail(header_error(&e)),
            _ => Vec::new(),
        }
    }
}

fn header_error(e: &HeaderError) -> &'static str {
    match e {
        HeaderError::BadSignature(_) => "bad_signature",
        HeaderError::BadVersion(_) => "bad_version",
        HeaderError::NonZeroReserved(_) => "non_zero_reserved",
        HeaderError::IncompatiblePeer { .. } => "incompatible_peer",
        HeaderError::Truncated(_) => "truncated",
        HeaderError::TimedOut => "timed_out",
    }
}

fn frame_error(e: &FrameError) -> &'static str {
    match e {
        FrameError::Oversize { .. } => "oversize",
        FrameError::BadIpcType(_) => "bad_ipc_type",
        FrameError::LengthOverflow(_) => "length_overflow",
        FrameError::Truncated { .. } => "truncated",
    }
}

/// A TCP frame carrying `len` bytes of `x`.
fn frame(len: usize) -> Vec<u8> {
    let mut f = (len as u64).to_be_bytes().to_vec();
    f.resize(8 + len, b'x');
    f
}

fn header_with(i: usize, byte: u8) -> Vec<u8> {
    let mut h = PEER_HEADER.to_vec();
    h[i] = byte;
    h
}

/// The chunkings a row's bytes are fed in: whole, and for header guards also one byte
/// per read (the outputs must not depend on it).
fn chunkings(guard: &str, bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let whole = vec![bytes.to_vec()];
    if ["partial-header", "valid-header"].contains(&guard) {
        vec![whole, bytes.iter().map(|b| vec![*b]).collect()]
    } else {
        vec![whole]
    }
}

fn connection(row: &Row) -> Result<Observed, String> {
    let guard = row.guard.as_str();
    let format = if guard == "ipc-bad-type" {
        FrameFormat::Ipc
    } else {
        FrameFormat::Tcp
    };
    let setup = || -> Result<Connection, String> {
        let mut c = Connection::new(format);
        if row.state == "open" {
            let out = c.bytes(&PEER_HEADER);
            if out != ["peer(rep)"] {
                return Err(format!("setup: the valid header gave {out:?}"));
            }
            if guard == "mid-frame" {
                c.bytes(&frame(5)[..10]);
            }
        }
        Ok(c)
    };
    let input: Vec<u8> = match (row.input.as_str(), guard) {
        ("bytes", "partial-header") => PEER_HEADER[..5].to_vec(),
        ("bytes", "bad-signature") => vec![0x00, b'S', b'Q'],
        ("bytes", "bad-version") => header_with(3, 1),
        ("bytes", "reserved-set") => header_with(7, 1),
        ("bytes", "wrong-peer") => header_with(5, 0x30),
        ("bytes", "unknown-type") => header_with(4, 0x12),
        ("bytes", "valid-header") => PEER_HEADER.to_vec(),
        ("bytes", "header-and-frame") => [&PEER_HEADER[..], &frame(5)].concat(),
        ("bytes", "whole-frame") => frame(5),
        ("bytes", "two-frames") => [frame(5), frame(3)].concat(),
        ("bytes", "partial-frame") => frame(5)[..10].to_vec(),
        ("bytes", "empty-frame") => frame(0),
        ("bytes", "max-frame") => frame(1024),
        ("bytes", "oversize") => (MAX_RECV + 1).to_be_bytes().to_vec(),
        ("bytes", "ipc-bad-type") => [&[2u8][..], &5u64.to_be_bytes()].concat(),
        ("eof" | "tick", _) => Vec::new(),
        _ => return Err(format!("no setup for guard `{guard}`")),
    };
    let mut seen: Option<Observed> = None;
    for chunks in chunkings(guard, &input) {
        let mut c = setup()?;
        let outputs = match row.input.as_str() {
            "bytes" => chunks.iter().flat_map(|ch| c.bytes(ch)).collect(),
            "eof" => c.eof(),
            "tick" => {
                let after = match guard {
                    "before-deadline" => HANDSHAKE_TIMEOUT - Duration::from_millis(1),
                    "deadline" => HANDSHAKE_TIMEOUT,
                    _ => HANDSHAKE_TIMEOUT * 2,
                };
                let now = Instant::ZERO + after;
                c.tick(now)
            }
            other => return Err(format!("no input `{other}` for connection")),
        };
        let got = observed(outputs, c.class());
        match &seen {
            Some(first) if *first != got => {
                return Err(format!(
                    "byte-by-byte feeding gives {got:?}, one read gives {first:?}"
                ))
            }
            _ => seen = Some(got),
        }
    }
    seen.ok_or_else(|| "no chunking".to_owned())
}

// ---------------------------------------------------------------------------------------
// backoff.

const MIN: Duration = Duration::from_millis(100);
const SEEDS: u64 = 256;

fn backoff_class(b: &Backoff) -> &'static str {
    if b.attempts() == 0 {
        return "fresh";
    }
    let mut probe = b.clone();
    probe.set_jitter(false);
    if probe.next_delay() == b.max() {
        "capped"
    } else {
        "growing"
    }
}

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

fn backoff(row: &Row) -> Result<Observed, String> {
    let guard = row.guard.as_str();
    let max = if guard == "max-below-min" {
        Duration::from_millis(50)
    } else {
        Duration::from_millis(400)
    };
    let failures = match row.state.as_str() {
        "fresh" => 0,
        "growing" => 1,
        "capped" => 2,
        other => return Err(format!("no setup for state `{other}`")),
    };
    let setup = |seed: u64, jitter: bool| {
        let mut b = Backoff::new(MIN, max, seed);
        b.set_jitter(jitter);
        for _ in 0..failures {
            let _ = b.next_delay();
        }
        b
    };
    if row.input == "success" {
        let mut b = setup(1, true);
        b.reset();
        return Ok(observed(Vec::new(), backoff_class(&b)));
    }
    let mut plain = setup(1, false);
    let d = plain.next_delay();
    if guard != "jitter-on" {
        return Ok(observed(
            vec![format!("delay({})", ms(d))],
            backoff_class(&plain),
        ));
    }
    // Jitter: every seed's delay lies in [d/2, d], and the seeds do not all agree.
    let mut delays = Vec::new();
    let mut next = "";
    for seed in 0..SEEDS {
        let mut b = setup(seed, true);
        delays.push(b.next_delay());
        next = backoff_class(&b);
    }
    let (lo, hi) = (d / 2, d);
    let output = match delays.iter().find(|x| **x < lo || **x > hi) {
        Some(x) => format!("delay({x:?}, outside {}..{})", ms(lo), ms(hi)),
        None if delays.iter().all(|x| *x == delays[0]) => {
            format!("delay({:?} for every seed)", delays[0])
        }
        None => format!("delay({}..{})", ms(lo), ms(hi)),
    };
    Ok(observed(vec![output], next))
}

// ---------------------------------------------------------------------------------------
// The WebSocket upgrade, both sides.

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A stand-in digest (sp-proto has no SHA-1; sp-net passes a real one): both sides of a
/// check use the same function, which is all the decisions depend on.
fn digest(data: &[u8]) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (i, b) in data.iter().enumerate() {
        out[i % 20] = out[i % 20].wrapping_mul(31).wrapping_add(*b);
    }
    out
}

/// A head: `start`, then the default headers with `drop` left out and `set` replacing or
/// adding values, then the blank line.
fn head(start: &str, defaults: &[(&str, &str)], drop: &[&str], set: &[(&str, &str)]) -> Vec<u8> {
    let mut lines = vec![start.to_owned()];
    for (name, value) in defaults {
        if drop.contains(name) || set.iter().any(|(n, _)| n == name) {
            continue;
        }
        lines.push(format!("{name}: {value}"));
    }
    lines.extend(set.iter().map(|(n, v)| format!("{n}: {v}")));
    format!("{}\r\n\r\n", lines.join("\r\n")).into_bytes()
}

const REQUEST_HEADERS: [(&str, &str); 6] = [
    ("Host", "example"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", KEY),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Protocol", "rep.sp.nanomsg.org"),
];

fn request(start: &str, drop: &[&str], set: &[(&str, &str)]) -> Vec<u8> {
    head(start, &REQUEST_HEADERS, drop, set)
}

/// The status line of an HTTP response, without `HTTP/1.1 `.
fn status_of(response: &[u8]) -> String {
    let text = String::from_utf8_lossy(response);
    let line = text.split("\r\n").next().unwrap_or_default();
    line.strip_prefix("HTTP/1.1 ").unwrap_or(line).to_owned()
}

fn ws_server(row: &Row) -> Result<Observed, String> {
    let get = "GET /sp HTTP/1.1";
    let valid = request(get, &[], &[]);
    let input = match row.guard.as_str() {
        "incomplete-head" => valid[..valid.len() - 2].to_vec(),
        "valid" => valid,
        "valid-then-frame" => [&valid[..], &[0x82, 0x80, 1, 2, 3, 4]].concat(),
        "empty-target" => request("GET  HTTP/1.1", &[], &[]),
        "absolute-target" => request("GET ws://example/sp HTTP/1.1", &[], &[]),
        "query" => request("GET /sp?x=1 HTTP/1.1", &[], &[]),
        "unknown-path" => request("GET /nope HTTP/1.1", &[], &[]),
        "not-get" => request("POST /sp HTTP/1.1", &[], &[]),
        "version-12" => request(get, &[], &[("Sec-WebSocket-Version", "12")]),
        "too-large" => vec![b'a'; MAX_HEAD],
        "http-10" => request("GET /sp HTTP/1.0", &[], &[]),
        "missing-host" => request(get, &["Host"], &[]),
        "no-upgrade" => request(get, &["Upgrade"], &[]),
        "no-connection-upgrade" => request(get, &[], &[("Connection", "keep-alive")]),
        "bad-key" => request(get, &[], &[("Sec-WebSocket-Key", "c2hvcnQ=")]),
        "bad-header-line" => {
            let mut r = request(get, &[], &[]);
            r.splice(r.len() - 2..r.len() - 2, *b"no colon here\r\n");
            r
        }
        "control-byte" => request(get, &[], &[("X-Note", "a\u{1}b")]),
        "no-subprotocol" => request(get, &["Sec-WebSocket-Protocol"], &[]),
        "unrecognised-subprotocol" => request(get, &[], &[("Sec-WebSocket-Protocol", "chat")]),
        "wrong-subprotocol" => request(
            get,
            &[],
            &[("Sec-WebSocket-Protocol", "req.sp.nanomsg.org")],
        ),
        other => return Err(format!("no setup for guard `{other}`")),
    };
    let route = |path: &str| matches!(path, "/sp" | "/").then_some(SocketType::Rep);
    Ok(match server_upgrade(&input, route, digest) {
        ServerUpgrade::Incomplete => observed(Vec::new(), "reading"),
        ServerUpgrade::Accept { head_len, response } => {
            let mut out = vec![format!("respond({})", status_of(&response))];
            let head_end = input
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|i| i + 4);
            if head_end != Some(head_len) {
                out.push(format!("stream at {head_len}, head ends at {head_end:?}"));
            } else if head_len < input.len() {
                out.push("stream_after_head".to_owned());
            }
            observed(out, "upgraded")
        }
        ServerUpgrade::Refuse { reject, .. } => observed(
            vec![format!("respond({})", status_of(&reject.to_bytes()))],
            "refused",
        ),
    })
}

fn ws_client(row: &Row) -> Result<Observed, String> {
    let accept = accept_key(KEY, digest);
    let ok = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept.as_str()),
        ("Sec-WebSocket-Protocol", "rep.sp.nanomsg.org"),
    ];
    let switching = "HTTP/1.1 101 Switching Protocols";
    let response = |drop: &[&str], set: &[(&str, &str)]| head(switching, &ok, drop, set);
    let input = match row.guard.as_str() {
        "incomplete-head" => {
            let r = response(&[], &[]);
            r[..r.len() - 2].to_vec()
        }
        "valid" => response(&[], &[]),
        "no-echo" => response(&["Sec-WebSocket-Protocol"], &[]),
        "refused" => head("HTTP/1.1 404 Not Found", &[], &[], &[]),
        "not-upgrade" => response(&["Upgrade"], &[]),
        "bad-accept" => response(&[], &[("Sec-WebSocket-Accept", "AAAA")]),
        "wrong-echo" => response(&[], &[("Sec-WebSocket-Protocol", "pub.sp.nanomsg.org")]),
        "bad-status" => head("HTTP/1.1 1O1 Switching", &ok, &[], &[]),
        "http-2" => head("HTTP/2 101 Switching", &ok, &[], &[]),
        "too-large" => vec![b'a'; MAX_HEAD],
        other => return Err(format!("no setup for guard `{other}`")),
    };
    Ok(match client_upgrade(&input, SocketType::Req, KEY, digest) {
        Ok(None) => observed(Vec::new(), "awaiting-response"),
        Ok(Some(_)) => observed(vec!["upgraded".to_owned()], "upgraded"),
        Err(e) => observed(vec![format!("error({})", client_error(&e))], "refused"),
    })
}

fn client_error(e: &ClientUpgradeError) -> String {
    match e {
        ClientUpgradeError::Http(h) => match h {
            HttpError::TooLarge => "too_large",
            HttpError::Truncated => "truncated",
            HttpError::BadBytes => "bad_bytes",
            HttpError::BadStartLine(_) => "bad_start_line",
            HttpError::BadHeader(_) => "bad_header",
            HttpError::Version(_) => "version",
        }
        .to_owned(),
        ClientUpgradeError::Response(r) => match r {
            ResponseError::Refused { code, .. } => format!("refused {code}"),
            ResponseError::NotUpgrade => "not_upgrade".to_owned(),
            ResponseError::BadAccept => "bad_accept".to_owned(),
            ResponseError::Subprotocol(WsSubprotocolError::Incompatible { .. }) => {
                "incompatible".to_owned()
            }
            ResponseError::Subprotocol(other) => format!("subprotocol: {other}"),
        },
    }
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn every_machine_row_holds_against_the_real_code() {
    check_every_row(&MACHINES, check_row);
}

/// The machine drivers can fail: a wrong output, next state or jitter range is caught.
#[test]
fn a_planted_bug_in_a_machine_row_is_reported() {
    let find = |role: &str, state: &str, guard: &str| {
        let table = load(role);
        let (i, row) = table
            .row
            .iter()
            .enumerate()
            .find(|(_, r)| r.state == state && r.guard == guard)
            .map(|(i, r)| (i, r.clone()))
            .expect("the row exists");
        assert_eq!(check_row(role, i, &row), Ok(()));
        (i, row)
    };
    let (i, mut row) = find("connection", "open", "oversize");
    row.outputs = vec!["message(1025)".into()];
    row.next = "open".into();
    let e = check_row("connection", i, &row).expect_err("a frame above the limit is refused");
    assert!(
        e.contains("error(oversize)") && e.contains("next state `closed`"),
        "{e}"
    );

    let (i, mut row) = find("backoff", "growing", "jitter-on");
    row.outputs = vec!["delay(0ms..200ms)".into()];
    let e = check_row("backoff", i, &row).expect_err("a wrong jitter range is caught");
    assert!(e.contains("delay(100ms..200ms)"), "{e}");

    let (i, mut row) = find("ws-server", "reading", "unknown-path");
    row.outputs = vec!["respond(400 Bad Request)".into()];
    let e = check_row("ws-server", i, &row).expect_err("a wrong status is caught");
    assert!(e.contains("404 Not Found"), "{e}");
}
