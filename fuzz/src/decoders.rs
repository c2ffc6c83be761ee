//! Targets for the decoders of peer bytes. Each one also checks that the decoder's answer
//! does not depend on how the bytes were chunked, and that its buffers stay bounded.
//!
//! Input layout of the stream targets: one parameter byte, one byte `n` (taken mod 8),
//! `n` chunk sizes, then the stream.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sp_proto::wire::ws_frame::{WsDecoder, WsEvent, WsRole};
use sp_proto::wire::{Backtrace, FrameDecoder, FrameFormat, Handshake, HopHeader, MaxRecvSize};
use sp_proto::{Instant, SocketType};

use crate::chunks;

/// Parameter byte, chunk sizes and stream.
fn split(data: &[u8]) -> (u8, &[u8], &[u8]) {
    let Some((&param, rest)) = data.split_first() else {
        return (0, &[], &[]);
    };
    let Some((&n, rest)) = rest.split_first() else {
        return (param, &[], &[]);
    };
    let n = usize::from(n % 8).min(rest.len());
    let (sizes, stream) = rest.split_at(n);
    (param, sizes, stream)
}

fn socket_type(b: u8) -> SocketType {
    SocketType::ALL[usize::from(b) % SocketType::ALL.len()]
}

/// Small maxima so the oversize paths are reached; also the default and unlimited.
fn max_recv(b: u8) -> MaxRecvSize {
    match b % 4 {
        0 => MaxRecvSize::DEFAULT,
        1 => MaxRecvSize::Unlimited,
        2 => MaxRecvSize::Limited(0),
        _ => MaxRecvSize::Limited(u64::from(b)),
    }
}

/// The decoders' documented bound: capacity below twice the bytes held plus the 4 MiB
/// read-ahead (with slack for the allocator's rounding).
fn check_capacity(buf: &BytesMut, fed: usize) {
    let bound = 2 * fed.max(buf.len()) + 4 * 1024 * 1024 + 64 * 1024;
    assert!(
        buf.capacity() <= bound,
        "buffer capacity {} beyond bound {bound} after {fed} bytes",
        buf.capacity()
    );
}

/// SP header exchange: `Handshake::feed` in chunks agrees with the whole-header check.
pub fn handshake(data: &[u8]) {
    let (param, sizes, stream) = split(data);
    let ours = socket_type(param);
    let mut hs = Handshake::new(ours, Instant::ZERO, Duration::from_secs(1));
    let mut consumed = 0usize;
    let mut outcome = None;
    for chunk in chunks(stream, sizes) {
        match hs.feed(chunk) {
            Ok((n, peer)) => {
                assert!(n <= chunk.len());
                consumed += n;
                assert!(consumed <= 8);
                if let Some(peer) = peer {
                    assert_eq!(consumed, 8);
                    assert!(ours.accepts_peer_id(peer.wire_id()));
                    outcome = Some(Ok(peer));
                    break;
                }
                assert!(n == chunk.len(), "consumed part of a chunk before the end");
            }
            Err(e) => {
                outcome = Some(Err(e));
                break;
            }
        }
    }
    if stream.len() >= 8 {
        let header: [u8; 8] = stream[..8].try_into().expect("8 bytes");
        let whole = sp_proto::wire::handshake::validate_header(ours, &header);
        let chunked = outcome.expect("8 bytes fed give an outcome");
        match (&whole, &chunked) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("chunked handshake {chunked:?} differs from whole {whole:?}"),
        }
    } else if outcome.is_none() {
        assert_eq!(hs.check_timeout(Instant::from_millis(999)), Ok(()));
        assert!(hs.check_timeout(Instant::from_millis(1000)).is_err());
        let _ = hs.eof();
    }
}

/// Feeds `chunks` one at a time into one buffer, decoding all that each makes complete
/// with `decode` and checking the buffer's capacity after every item and every chunk:
/// the items, the error that stopped decoding if any, and what is left in the buffer.
fn decode_chunks<T, E>(
    chunks: &[&[u8]],
    mut decode: impl FnMut(&mut BytesMut) -> Result<Option<T>, E>,
) -> (Vec<T>, Option<E>, BytesMut) {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        fed += chunk.len();
        loop {
            match decode(&mut buf) {
                Ok(Some(item)) => out.push(item),
                Ok(None) => break,
                Err(e) => return (out, Some(e), buf),
            }
            check_capacity(&buf, fed);
        }
        check_capacity(&buf, fed);
    }
    (out, None, buf)
}

/// Decodes a whole stream fed in `chunks`: the payloads, then the final error if any.
fn frame_run(
    format: FrameFormat,
    max: MaxRecvSize,
    chunks: &[&[u8]],
) -> (Vec<Bytes>, Option<sp_proto::wire::FrameError>) {
    let mut dec = FrameDecoder::new(format, max);
    let (mut out, error, mut buf) = decode_chunks(chunks, |buf| {
        let payload = dec.decode(buf)?;
        if let (Some(p), MaxRecvSize::Limited(m)) = (&payload, max) {
            assert!(p.len() as u64 <= m, "payload over the maximum");
        }
        Ok(payload)
    });
    if error.is_some() {
        return (out, error);
    }
    match dec.decode_eof(&mut buf) {
        Ok(Some(p)) => {
            out.push(p);
            (out, None)
        }
        Ok(None) => (out, None),
        Err(e) => (out, Some(e)),
    }
}

fn frame(format: FrameFormat, data: &[u8]) {
    let (param, sizes, stream) = split(data);
    let max = max_recv(param);
    let chunked = frame_run(format, max, &chunks(stream, sizes));
    let whole = frame_run(format, max, &[stream]);
    // A decoder that stops at an error may have seen fewer payloads when chunked only if
    // the error is the same one; otherwise both runs must agree exactly.
    assert_eq!(chunked.1, whole.1, "final error depends on chunking");
    if chunked.1.is_none() {
        assert_eq!(chunked.0, whole.0, "payloads depend on chunking");
    }
}

/// TCP framing (8-byte big-endian length).
pub fn frame_tcp(data: &[u8]) {
    frame(FrameFormat::Tcp, data);
}

/// IPC framing (type byte, then the length).
pub fn frame_ipc(data: &[u8]) {
    frame(FrameFormat::Ipc, data);
}

type WsOutcome = (Vec<WsEvent>, Option<sp_proto::wire::ws_frame::WsFrameError>);

fn ws_run(role: WsRole, max: MaxRecvSize, chunks: &[&[u8]]) -> WsOutcome {
    let mut dec = WsDecoder::new(role, max);
    let (out, error, _) = decode_chunks(chunks, |buf| {
        let event = dec.decode(buf)?;
        match &event {
            Some(WsEvent::Message(m)) => {
                if let MaxRecvSize::Limited(lim) = max {
                    assert!(m.len() as u64 <= lim, "message over the maximum");
                }
            }
            Some(WsEvent::Ping(p)) => assert!(p.len() <= 125),
            Some(WsEvent::Close { reason, .. }) => {
                assert!(reason.len() <= 123);
                assert!(std::str::from_utf8(reason).is_ok());
                assert!(dec.is_closed());
            }
            _ => {}
        }
        Ok(event)
    });
    (out, error)
}

fn ws_frame(role: WsRole, data: &[u8]) {
    let (param, sizes, stream) = split(data);
    let max = max_recv(param);
    let chunked = ws_run(role, max, &chunks(stream, sizes));
    let whole = ws_run(role, max, &[stream]);
    assert_eq!(chunked.1, whole.1, "final error depends on chunking");
    assert_eq!(chunked.0, whole.0, "events depend on chunking");
}

/// WebSocket frames as a server receives them (masked).
pub fn ws_frame_server(data: &[u8]) {
    ws_frame(WsRole::Server, data);
}

/// WebSocket frames as a client receives them (unmasked).
pub fn ws_frame_client(data: &[u8]) {
    ws_frame(WsRole::Client, data);
}

fn status_code(answer: &[u8]) -> u16 {
    let text = std::str::from_utf8(answer).expect("answers are UTF-8");
    let line = text.split("\r\n").next().expect("a status line");
    assert!(line.starts_with("HTTP/1.1 "), "bad status line {line:?}");
    line[9..12].parse().expect("a 3-digit status")
}

/// The HTTP upgrade request as a `ws://` listener parses it.
pub fn ws_http_server(data: &[u8]) {
    let (param, _, stream) = split(data);
    let ours = socket_type(param);
    if let Some(answer) = sp_net::fuzzing::ws_upgrade_server(ours, stream) {
        let code = status_code(&answer);
        assert!(
            [101, 400, 404, 405, 426, 431, 505].contains(&code),
            "status {code}"
        );
        let text = String::from_utf8(answer).expect("UTF-8");
        let (head, _) = text.split_once("\r\n\r\n").expect("a complete head");
        assert!(
            !head.split("\r\n").any(|l| l.is_empty()),
            "peer bytes split the answer's head"
        );
    }
}

/// The server's answer to our upgrade request as a `ws://` dialer parses it.
pub fn ws_http_client(data: &[u8]) {
    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    let (param, _, stream) = split(data);
    let ours = socket_type(param);
    if let Some(Ok(())) = sp_net::fuzzing::ws_upgrade_client(ours, KEY, stream) {
        let accept = sp_net::fuzzing::ws_accept_key(KEY);
        let text = String::from_utf8_lossy(stream);
        assert!(
            text.contains(&accept),
            "accepted without the right accept key"
        );
    }
}

/// REQ/REP and SURVEY backtraces.
pub fn backtrace(data: &[u8]) {
    let Some((&ttl, payload)) = data.split_first() else {
        return;
    };
    let payload = Bytes::copy_from_slice(payload);
    if let Ok(bt) = Backtrace::parse(&payload, ttl) {
        let h = &bt.header[..];
        assert!(h.len().is_multiple_of(4) && !h.is_empty());
        assert!(h.len() / 4 <= usize::from(ttl));
        let words: Vec<u32> = h
            .chunks(4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (last, rest) = words.split_last().expect("non-empty");
        assert!(last & 0x8000_0000 != 0);
        assert!(rest.iter().all(|w| w & 0x8000_0000 == 0));
        assert_eq!(bt.id(), *last);
        assert_eq!(bt.hops(), words.len());
        assert_eq!([h, &bt.body[..]].concat(), &payload[..]);
    }
}

/// The PAIR v1 hop word.
pub fn hop(data: &[u8]) {
    let payload = Bytes::copy_from_slice(data);
    if let Ok(h) = HopHeader::parse(&payload) {
        assert_eq!(&data[..3], &[0, 0, 0]);
        assert_eq!(h.hops, data[3]);
        assert_eq!(&h.body[..], &data[4..]);
        assert_eq!(&HopHeader::encode(h.hops)[..], &data[..4]);
    }
}
