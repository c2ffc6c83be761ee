//! Checks every test vector in `spec/vectors/*.json` against the wire codecs, in both
//! directions: encoding produces exactly the bytes, decoding the bytes gives the fields
//! (whole and fed one byte at a time), and error vectors give the named error variant.
//! The schema is described in `spec/vectors/README.md`; unknown kinds and unknown fields
//! fail the test. The insta snapshots at the end render the same formats as hex dumps.

mod common;

use bytes::{Bytes, BytesMut};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use sp_proto::fmt::hex;
use sp_proto::wire::backtrace::{first_word, id_header, push_word, Backtrace, BacktraceError};
use sp_proto::wire::frame::{encode_frame, encode_prefix, FrameDecoder, FrameError};
use sp_proto::wire::handshake::{
    encode_header, parse_header, validate_header, Handshake, HeaderError,
    DEFAULT_HANDSHAKE_TIMEOUT, HEADER_LEN,
};
use sp_proto::wire::hop::{HopError, HopHeader};
use sp_proto::wire::ws::{self, WsSubprotocolError, REJECT_STATUS};
use sp_proto::wire::ws_frame::{WsDecoder, WsEncoder, WsEvent, WsFrameError, WsRole};
use sp_proto::wire::{FrameFormat, MaxRecvSize, ID_FLAG};
use sp_proto::{Instant, SocketType};
use std::collections::BTreeSet;
use std::time::Duration;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/vectors");

/// The files this test checks; a JSON file in the directory but not here fails the test.
const FILES: [&str; 7] = [
    "handshake.json",
    "framing.json",
    "backtrace.json",
    "pair1.json",
    "pubsub.json",
    "raw.json",
    "websocket.json",
];

// ---------------------------------------------------------------- loading

/// The common fields a check needs (description and source are validated on load).
#[derive(Debug)]
struct Meta {
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    description: String,
    vectors: Vec<Map<String, Value>>,
}

fn read_file(name: &str) -> RawFile {
    let path = format!("{DIR}/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let file: RawFile =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"));
    assert!(
        !file.description.trim().is_empty(),
        "{name}: no description"
    );
    assert!(!file.vectors.is_empty(), "{name}: no vectors");
    file
}

fn take_string(map: &mut Map<String, Value>, field: &str, file: &str) -> String {
    match map.remove(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        other => panic!("{file}: vector field {field:?} must be a non-empty string: {other:?}"),
    }
}

/// Loads `name` and splits each vector into its common fields and its kind-specific case.
fn load<K: DeserializeOwned>(name: &str) -> Vec<(Meta, K)> {
    read_file(name)
        .vectors
        .into_iter()
        .map(|mut map| {
            let id = take_string(&mut map, "id", name);
            let _description = take_string(&mut map, "description", &id);
            let source = take_string(&mut map, "source", &id);
            assert!(
                ["wire-facts", "experiment E", "RFC", "DESIGN"]
                    .iter()
                    .any(|s| source.contains(s)),
                "{id}: source {source:?} names no document or experiment"
            );
            let case = serde_json::from_value(Value::Object(map))
                .unwrap_or_else(|e| panic!("{name}: vector {id}: {e}"));
            (Meta { id }, case)
        })
        .collect()
}

/// Bytes written as lowercase hex pairs separated by spaces.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Hex(Vec<u8>);

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.split_whitespace()
            .map(|pair| {
                let ok = pair.len() == 2
                    && pair
                        .bytes()
                        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
                if !ok {
                    return Err(D::Error::custom(format!(
                        "{pair:?} is not a lowercase hex byte pair in {text:?}"
                    )));
                }
                u8::from_str_radix(pair, 16).map_err(D::Error::custom)
            })
            .collect::<Result<Vec<u8>, _>>()
            .map(Hex)
    }
}

impl std::ops::Deref for Hex {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// A socket type by its subprotocol name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sock(SocketType);

impl<'de> Deserialize<'de> for Sock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        SocketType::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .map(Sock)
            .ok_or_else(|| D::Error::custom(format!("unknown socket type {name:?}")))
    }
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Named {
    Unlimited,
}

/// `max_recv_size`: a byte count or `"unlimited"`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(untagged)]
enum MaxJson {
    Limit(u64),
    Named(Named),
}

fn max_recv(m: Option<MaxJson>) -> MaxRecvSize {
    match m {
        None => MaxRecvSize::DEFAULT,
        Some(MaxJson::Limit(n)) => MaxRecvSize::Limited(n),
        Some(MaxJson::Named(Named::Unlimited)) => MaxRecvSize::Unlimited,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Role {
    Client,
    Server,
}

impl From<Role> for WsRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Client => Self::Client,
            Role::Server => Self::Server,
        }
    }
}

/// Feeds `bytes` one at a time into `step`, collecting its outputs until it fails.
fn bytewise<T, E>(
    bytes: &[u8],
    step: impl FnMut(&mut BytesMut) -> Result<Option<T>, E>,
) -> (Vec<T>, Option<E>, BytesMut) {
    common::feed_chunks(bytes, &[1], step)
}

#[test]
fn every_file_is_checked_and_ids_are_unique() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(DIR)
        .expect("spec/vectors exists")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    let known: BTreeSet<String> = FILES.iter().map(|s| s.to_string()).collect();
    assert_eq!(on_disk, known, "a vector file is not checked by this test");
    let mut ids = BTreeSet::new();
    let mut total = 0;
    for name in FILES {
        let prefix_ok = |id: &str| id.contains('.') && !id.contains(' ');
        for v in read_file(name).vectors {
            let id = v["id"].as_str().expect("id").to_owned();
            assert!(prefix_ok(&id), "{name}: id {id:?} is not <area>.<name>");
            assert!(ids.insert(id.clone()), "duplicate vector id {id}");
            total += 1;
        }
    }
    assert!(total >= 90, "only {total} vectors");
}

#[test]
fn unknown_kinds_and_fields_are_refused() {
    let unknown_kind = serde_json::json!({ "kind": "header-v2", "socket": "req", "wire": "" });
    assert!(serde_json::from_value::<HandshakeCase>(unknown_kind).is_err());
    let extra = serde_json::json!({ "kind": "header", "socket": "req", "wire": "", "x": 1 });
    assert!(serde_json::from_value::<HandshakeCase>(extra).is_err());
    let upper = serde_json::json!({ "kind": "header", "socket": "req", "wire": "0A" });
    assert!(serde_json::from_value::<HandshakeCase>(upper).is_err());
    let glued = serde_json::json!({ "kind": "header", "socket": "req", "wire": "0a0b" });
    assert!(serde_json::from_value::<HandshakeCase>(glued).is_err());
}

// ---------------------------------------------------------------- handshake.json

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum HandshakeCase {
    Header {
        socket: Sock,
        wire: Hex,
    },
    HeaderError {
        local: Sock,
        wire: Hex,
        error: HeaderErrorKind,
    },
    HeaderTimeout {
        local: Sock,
        wire: Hex,
        timeout_ms: u64,
        error: HeaderErrorKind,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum HeaderErrorKind {
    BadSignature,
    BadVersion,
    NonZeroReserved,
    IncompatiblePeer,
    Truncated,
    TimedOut,
}

fn header_kind(e: &HeaderError) -> HeaderErrorKind {
    match e {
        HeaderError::BadSignature(_) => HeaderErrorKind::BadSignature,
        HeaderError::BadVersion(_) => HeaderErrorKind::BadVersion,
        HeaderError::NonZeroReserved(_) => HeaderErrorKind::NonZeroReserved,
        HeaderError::IncompatiblePeer { .. } => HeaderErrorKind::IncompatiblePeer,
        HeaderError::Truncated(_) => HeaderErrorKind::Truncated,
        HeaderError::TimedOut => HeaderErrorKind::TimedOut,
    }
}

fn handshake(ours: SocketType) -> Handshake {
    Handshake::new(ours, Instant::ZERO, Duration::from_secs(1))
}

#[test]
fn handshake_vectors() {
    let mut seen = BTreeSet::new();
    for (meta, case) in load::<HandshakeCase>("handshake.json") {
        let id = &meta.id;
        match case {
            HandshakeCase::Header {
                socket: Sock(t),
                wire,
            } => {
                seen.insert(t);
                assert_eq!(&encode_header(t)[..], &wire[..], "{id}: encode");
                assert_eq!(&handshake(t).local_header()[..], &wire[..], "{id}");
                let bytes: [u8; HEADER_LEN] = wire[..].try_into().expect("8 bytes");
                assert_eq!(parse_header(&bytes), Ok(t.wire_id()), "{id}: parse");
                assert_eq!(validate_header(t.peer(), &bytes), Ok(t), "{id}");
                // Whole, with trailing framed bytes, and one byte at a time.
                let mut whole = wire.0.clone();
                whole.extend_from_slice(&[0, 0, 0]);
                assert_eq!(handshake(t.peer()).feed(&whole), Ok((8, Some(t))), "{id}");
                let mut hs = handshake(t.peer());
                for (i, b) in wire.iter().enumerate() {
                    let want = if i == 7 { Some(t) } else { None };
                    assert_eq!(hs.feed(&[*b]), Ok((1, want)), "{id}: byte {i}");
                }
                for other in SocketType::ALL.into_iter().filter(|&o| o != t.peer()) {
                    assert!(validate_header(other, &bytes).is_err(), "{id}: {other}");
                }
            }
            HandshakeCase::HeaderError {
                local: Sock(ours),
                wire,
                error,
            } => {
                let mut hs = handshake(ours);
                if wire.len() < HEADER_LEN {
                    assert_eq!(hs.feed(&wire), Ok((wire.len(), None)), "{id}");
                    assert_eq!(header_kind(&hs.eof()), error, "{id}: eof");
                    continue;
                }
                let bytes: [u8; HEADER_LEN] = wire[..].try_into().expect("8 bytes");
                let whole = validate_header(ours, &bytes).expect_err(id);
                assert_eq!(header_kind(&whole), error, "{id}: {whole}");
                if let HeaderError::IncompatiblePeer { ours: o, theirs } = whole {
                    assert_eq!((o, theirs), (ours, parse_header(&bytes).unwrap()), "{id}");
                }
                let fed = hs.feed(&wire).expect_err(id);
                assert_eq!(fed, whole, "{id}: feed whole");
                let mut hs = handshake(ours);
                let failed = wire.iter().find_map(|b| hs.feed(&[*b]).err());
                assert_eq!(
                    failed.as_ref().map(header_kind),
                    Some(error),
                    "{id}: bytewise"
                );
            }
            HandshakeCase::HeaderTimeout {
                local: Sock(ours),
                wire,
                timeout_ms,
                error,
            } => {
                // The default timeout, started at 0; `wire` arrives before the deadline.
                assert_eq!(
                    DEFAULT_HANDSHAKE_TIMEOUT,
                    Duration::from_millis(timeout_ms),
                    "{id}: the default handshake timeout"
                );
                assert!(wire.len() < HEADER_LEN, "{id}: an incomplete header");
                let mut hs = Handshake::new(ours, Instant::ZERO, DEFAULT_HANDSHAKE_TIMEOUT);
                assert_eq!(hs.feed(&wire), Ok((wire.len(), None)), "{id}");
                let deadline = Instant::from_millis(timeout_ms);
                assert_eq!(hs.deadline(), deadline, "{id}: deadline");
                let before = Instant::from_millis(timeout_ms - 1);
                assert_eq!(hs.check_timeout(before), Ok(()), "{id}: before");
                let err = hs.check_timeout(deadline).expect_err(id);
                assert_eq!(header_kind(&err), error, "{id}: {err}");
                // A complete header never times out.
                let mut done = Handshake::new(ours, Instant::ZERO, DEFAULT_HANDSHAKE_TIMEOUT);
                done.feed(&encode_header(ours.peer()))
                    .expect("a valid header");
                assert_eq!(done.check_timeout(deadline), Ok(()), "{id}: complete");
            }
        }
    }
    assert_eq!(
        seen,
        SocketType::ALL.into_iter().collect(),
        "a header per type"
    );
}

// ---------------------------------------------------------------- framing.json

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Format {
    Tcp,
    Ipc,
}

impl From<Format> for FrameFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Tcp => Self::Tcp,
            Format::Ipc => Self::Ipc,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum FramingCase {
    Frame {
        format: Format,
        header: Hex,
        body: Hex,
        wire: Hex,
        max_recv_size: Option<MaxJson>,
    },
    FrameError {
        format: Format,
        wire: Hex,
        eof: bool,
        error: FrameErrorKind,
        max_recv_size: Option<MaxJson>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum FrameErrorKind {
    Oversize,
    BadIpcType,
    LengthOverflow,
    Truncated,
}

fn frame_kind(e: &FrameError) -> FrameErrorKind {
    match e {
        FrameError::Oversize { .. } => FrameErrorKind::Oversize,
        FrameError::BadIpcType(_) => FrameErrorKind::BadIpcType,
        FrameError::LengthOverflow(_) => FrameErrorKind::LengthOverflow,
        FrameError::Truncated { .. } => FrameErrorKind::Truncated,
    }
}

#[test]
fn framing_vectors() {
    let cases = load::<FramingCase>("framing.json");
    for (meta, case) in cases {
        let id = &meta.id;
        match case {
            FramingCase::Frame {
                format,
                header,
                body,
                wire,
                max_recv_size,
            } => {
                let format = FrameFormat::from(format);
                let mut out = BytesMut::new();
                encode_frame(format, &header, &body, &mut out);
                assert_eq!(hex(&out), hex(&wire), "{id}: encode");
                let mut prefix = [0u8; 9];
                let n = encode_prefix(format, (header.len() + body.len()) as u64, &mut prefix);
                assert_eq!(&prefix[..n], &wire[..n], "{id}: prefix");
                let payload: Vec<u8> = [&header[..], &body[..]].concat();
                let mut dec = FrameDecoder::new(format, max_recv(max_recv_size));
                let mut buf = BytesMut::from(&wire[..]);
                assert_eq!(
                    dec.decode(&mut buf),
                    Ok(Some(Bytes::from(payload.clone()))),
                    "{id}"
                );
                assert!(buf.is_empty(), "{id}: whole frame consumed");
                assert_eq!(dec.decode_eof(&mut buf), Ok(None), "{id}: clean end");
                let (frames, err, rest) = bytewise(&wire, |b| dec.decode(b));
                assert_eq!(
                    (frames, err, rest.len()),
                    (vec![Bytes::from(payload)], None, 0)
                );
            }
            FramingCase::FrameError {
                format,
                wire,
                eof,
                error,
                max_recv_size,
            } => {
                let mut dec = FrameDecoder::new(format.into(), max_recv(max_recv_size));
                let mut buf = BytesMut::from(&wire[..]);
                let got = if eof {
                    assert_eq!(dec.decode(&mut buf), Ok(None), "{id}: incomplete");
                    dec.decode_eof(&mut buf)
                } else {
                    dec.decode(&mut buf)
                };
                let got = got.expect_err(id);
                assert_eq!(frame_kind(&got), error, "{id}: {got}");
                let (frames, err, mut rest) = bytewise(&wire, |b| dec.decode(b));
                assert!(frames.is_empty(), "{id}");
                let err = if eof {
                    assert_eq!(err, None, "{id}");
                    dec.decode_eof(&mut rest).err()
                } else {
                    err
                };
                assert_eq!(err.as_ref().map(frame_kind), Some(error), "{id}: bytewise");
                if error == FrameErrorKind::Oversize {
                    assert!(buf.capacity() < 64, "{id}: nothing reserved");
                }
            }
        }
    }
}

// ---------------------------------------------------------------- backtrace.json

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum BacktraceCase {
    IdHeader {
        request_id: u32,
        wire: Hex,
    },
    PushWord {
        word: u32,
        rest: Hex,
        wire: Hex,
    },
    Parse {
        payload: Hex,
        max_ttl: u8,
        header: Hex,
        body: Hex,
        hops: usize,
        request_id: u32,
    },
    ParseError {
        payload: Hex,
        max_ttl: u8,
        error: BacktraceErrorKind,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum BacktraceErrorKind {
    NoRequestId,
    TooManyHops,
}

fn backtrace_kind(e: &BacktraceError) -> BacktraceErrorKind {
    match e {
        BacktraceError::NoRequestId(_) => BacktraceErrorKind::NoRequestId,
        BacktraceError::TooManyHops { .. } => BacktraceErrorKind::TooManyHops,
    }
}

#[test]
fn backtrace_vectors() {
    for (meta, case) in load::<BacktraceCase>("backtrace.json") {
        let id = &meta.id;
        match case {
            BacktraceCase::IdHeader { request_id, wire } => {
                assert!(request_id < ID_FLAG, "{id}: ids are 31-bit");
                assert_eq!(&id_header(request_id)[..], &wire[..], "{id}");
                assert_eq!(first_word(&wire), Some(request_id | ID_FLAG), "{id}");
            }
            BacktraceCase::PushWord { word, rest, wire } => {
                assert!(word < ID_FLAG, "{id}: pipe ids are 31-bit");
                assert_eq!(&push_word(word, &rest)[..], &wire[..], "{id}");
            }
            BacktraceCase::Parse {
                payload,
                max_ttl,
                header,
                body,
                hops,
                request_id,
            } => {
                let bt = Backtrace::parse(&Bytes::from(payload.0.clone()), max_ttl)
                    .unwrap_or_else(|e| panic!("{id}: {e}"));
                assert_eq!(&bt.header[..], &header[..], "{id}: header");
                assert_eq!(&bt.body[..], &body[..], "{id}: body");
                assert_eq!(bt.hops(), hops, "{id}: hops");
                assert_eq!(bt.id(), request_id | ID_FLAG, "{id}: id");
                // Encode: the id word, then each pipe id pushed from the bottom up.
                let mut stack = id_header(request_id);
                for word in header[..header.len() - 4].chunks(4).rev() {
                    let w = first_word(word).unwrap();
                    assert_eq!(w & ID_FLAG, 0, "{id}: pipe ids have bit 31 clear");
                    stack = push_word(w, &stack);
                }
                assert_eq!(&stack[..], &header[..], "{id}: rebuilt stack");
                assert_eq!([&stack[..], &body[..]].concat(), payload.0, "{id}");
            }
            BacktraceCase::ParseError {
                payload,
                max_ttl,
                error,
            } => {
                let e = Backtrace::parse(&Bytes::from(payload.0.clone()), max_ttl).expect_err(id);
                assert_eq!(backtrace_kind(&e), error, "{id}: {e}");
            }
        }
    }
}

// ---------------------------------------------------------------- pair1.json

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum Pair1Case {
    Hop {
        payload: Hex,
        hops: u8,
        body: Hex,
        max_ttl: u8,
        verdict: Verdict,
    },
    HopError {
        payload: Hex,
        error: HopErrorKind,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Verdict {
    Deliver,
    Drop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum HopErrorKind {
    OutOfRange,
    Truncated,
}

fn hop_kind(e: &HopError) -> HopErrorKind {
    match e {
        HopError::OutOfRange(_) => HopErrorKind::OutOfRange,
        HopError::Truncated(_) => HopErrorKind::Truncated,
    }
}

#[test]
fn pair1_vectors() {
    for (meta, case) in load::<Pair1Case>("pair1.json") {
        let id = &meta.id;
        match case {
            Pair1Case::Hop {
                payload,
                hops,
                body,
                max_ttl,
                verdict,
            } => {
                let h = HopHeader::parse(&Bytes::from(payload.0.clone()))
                    .unwrap_or_else(|e| panic!("{id}: {e}"));
                assert_eq!((h.hops, &h.body[..]), (hops, &body[..]), "{id}");
                let encoded = [&HopHeader::encode(hops)[..], &body[..]].concat();
                assert_eq!(encoded, payload.0, "{id}: encode");
                // Feed the payload to a real PAIR v1 socket with this TTL.
                let mut cfg = sp_proto::Config::cooked(1);
                cfg.options.set_max_ttl(u32::from(max_ttl)).unwrap();
                let mut pair = sp_proto::proto::Pair1::new(cfg);
                let now = sp_proto::Instant::ZERO;
                let pipe = sp_proto::PipeId::new(1).unwrap();
                use sp_proto::Protocol as _;
                pair.handle_pipe_added(now, pipe, sp_proto::PipeInfo::default())
                    .unwrap();
                pair.handle_message(now, pipe, Bytes::from(payload.0.clone()));
                let got = match pair.recv(now) {
                    Ok(m) => {
                        assert_eq!(&m.body[..], &body[..], "{id}: delivered body");
                        Verdict::Deliver
                    }
                    Err(_) => {
                        assert_eq!(
                            pair.stats().dropped(sp_proto::DropReason::TtlExceeded),
                            1,
                            "{id}"
                        );
                        Verdict::Drop
                    }
                };
                assert_eq!(got, verdict, "{id}");
            }
            Pair1Case::HopError { payload, error } => {
                let e = HopHeader::parse(&Bytes::from(payload.0.clone())).expect_err(id);
                assert_eq!(hop_kind(&e), error, "{id}: {e}");
            }
        }
    }
}

// ---------------------------------------------------------------- pubsub.json

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum PubsubCase {
    Subscription {
        topics: Vec<Hex>,
        payload: Hex,
        #[serde(default)]
        raw: bool,
        verdict: Verdict,
    },
}

#[test]
fn pubsub_vectors() {
    use sp_proto::Protocol as _;
    for (meta, case) in load::<PubsubCase>("pubsub.json") {
        let id = &meta.id;
        let PubsubCase::Subscription {
            topics,
            payload,
            raw,
            verdict,
        } = case;
        // A real SUB socket with these topics receives the payload from a PUB pipe.
        let cfg = if raw {
            sp_proto::Config::raw(1)
        } else {
            sp_proto::Config::cooked(1)
        };
        let mut sub = sp_proto::proto::Sub::new(cfg);
        for t in &topics {
            sub.subscribe(&t[..]);
        }
        let now = sp_proto::Instant::ZERO;
        let pipe = sp_proto::PipeId::new(1).unwrap();
        sub.handle_pipe_added(now, pipe, sp_proto::PipeInfo::default())
            .unwrap();
        sub.handle_message(now, pipe, Bytes::from(payload.0.clone()));
        let got = match sub.recv(now) {
            Ok(m) => {
                assert_eq!(
                    &m.body[..],
                    &payload[..],
                    "{id}: the whole payload is the body"
                );
                assert!(m.header.is_empty(), "{id}: no SP header");
                Verdict::Deliver
            }
            Err(e) => {
                assert_eq!(e, sp_proto::RecvError::WouldBlock, "{id}");
                assert_eq!(
                    sub.stats().dropped(sp_proto::DropReason::Unsubscribed),
                    1,
                    "{id}: counted"
                );
                Verdict::Drop
            }
        };
        assert_eq!(got, verdict, "{id}");
        // The matcher alone agrees with the socket (a raw SUB ignores it).
        if !raw {
            let matched = sub.subscriptions().matches(&payload);
            assert_eq!(matched, verdict == Verdict::Deliver, "{id}: matcher");
        }
    }
}

// ---------------------------------------------------------------- raw.json

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sent {
    pipe: u32,
    payload: Hex,
}

/// The kinds keep the `raw-` prefix in the files, so the variants do too.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum RawCase {
    RawRelay {
        socket: Sock,
        pipes: Vec<u32>,
        from_pipe: u32,
        payload: Hex,
        header: Hex,
        body: Hex,
        send_body: Option<Hex>,
        sent: Vec<Sent>,
    },
    RawSend {
        socket: Sock,
        pipes: Vec<u32>,
        header: Hex,
        body: Hex,
        sent: Vec<Sent>,
    },
    RawSendError {
        socket: Sock,
        pipes: Vec<u32>,
        header: Hex,
        body: Hex,
        error: SendErrorName,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum SendErrorName {
    BadHeader,
}

/// A real raw socket of type `t` with `pipes` attached.
fn raw_socket(id: &str, t: SocketType, pipes: &[u32]) -> Box<dyn sp_proto::Protocol> {
    use sp_proto::proto::{Bus, Pair1, Rep};
    let cfg = sp_proto::Config::raw(1);
    let mut p: Box<dyn sp_proto::Protocol> = match t {
        SocketType::Bus => Box::new(Bus::new(cfg)),
        SocketType::Rep => Box::new(Rep::new(cfg)),
        SocketType::Pair1 => Box::new(Pair1::new(cfg)),
        other => panic!("{id}: no raw check for {other:?}"),
    };
    assert!(p.is_raw(), "{id}: raw");
    for &n in pipes {
        let pipe = sp_proto::PipeId::new(n).expect("a valid pipe id");
        p.handle_pipe_added(Instant::ZERO, pipe, sp_proto::PipeInfo::default())
            .unwrap_or_else(|e| panic!("{id}: attaching pipe {n}: {e:?}"));
    }
    p
}

/// Sends a raw message and returns what the socket transmits, by pipe.
fn raw_transmits(
    id: &str,
    p: &mut dyn sp_proto::Protocol,
    header: &[u8],
    body: &[u8],
) -> Vec<(u32, Vec<u8>)> {
    let msg = sp_proto::Message::with_header(header.to_vec(), body.to_vec());
    p.send(Instant::ZERO, msg)
        .unwrap_or_else(|e| panic!("{id}: raw send: {e:?}"));
    let mut out = Vec::new();
    while let Some(t) = p.poll_transmit() {
        let mut wire = t.msg.header.to_vec();
        wire.extend_from_slice(&t.msg.body);
        out.push((t.pipe.get(), wire));
    }
    out.sort();
    out
}

fn expected_sent(sent: &[Sent]) -> Vec<(u32, Vec<u8>)> {
    let mut v: Vec<(u32, Vec<u8>)> = sent.iter().map(|s| (s.pipe, s.payload.0.clone())).collect();
    v.sort();
    v
}

#[test]
fn raw_vectors() {
    let all = load::<RawCase>("raw.json");
    assert!(all.len() >= 5);
    for (meta, case) in all {
        let id = &meta.id;
        match case {
            RawCase::RawRelay {
                socket,
                pipes,
                from_pipe,
                payload,
                header,
                body,
                send_body,
                sent,
            } => {
                let mut p = raw_socket(id, socket.0, &pipes);
                let from = sp_proto::PipeId::new(from_pipe).expect("a valid pipe id");
                p.handle_message(Instant::ZERO, from, Bytes::from(payload.0.clone()));
                let m = p
                    .recv(Instant::ZERO)
                    .unwrap_or_else(|e| panic!("{id}: raw recv: {e:?}"));
                assert_eq!(hex(&m.header), hex(&header), "{id}: recv header");
                assert_eq!(hex(&m.body), hex(&body), "{id}: recv body");
                let reply = send_body.as_ref().unwrap_or(&body);
                let got = raw_transmits(id, p.as_mut(), &m.header, reply);
                assert_eq!(got, expected_sent(&sent), "{id}: transmitted");
                assert_eq!(p.stats().dropped_total(), 0, "{id}: nothing dropped");
            }
            RawCase::RawSend {
                socket,
                pipes,
                header,
                body,
                sent,
            } => {
                let mut p = raw_socket(id, socket.0, &pipes);
                let got = raw_transmits(id, p.as_mut(), &header, &body);
                assert_eq!(got, expected_sent(&sent), "{id}: transmitted");
            }
            RawCase::RawSendError {
                socket,
                pipes,
                header,
                body,
                error,
            } => {
                let mut p = raw_socket(id, socket.0, &pipes);
                let msg = sp_proto::Message::with_header(header.0.clone(), body.0.clone());
                let err = p
                    .send(Instant::ZERO, msg)
                    .expect_err(&format!("{id}: the send must be refused"));
                let kind = match err.kind {
                    sp_proto::SendErrorKind::BadHeader => SendErrorName::BadHeader,
                    other => panic!("{id}: unexpected {other:?}"),
                };
                assert_eq!(kind, error, "{id}");
                assert_eq!(&err.msg.header[..], &header[..], "{id}: handed back");
                assert_eq!(&err.msg.body[..], &body[..], "{id}: handed back");
                assert!(p.poll_transmit().is_none(), "{id}: nothing transmitted");
            }
        }
    }
}

// ---------------------------------------------------------------- websocket.json

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum WebSocketCase {
    Subprotocol {
        socket: Sock,
        token: String,
        dialer_offer: String,
    },
    ServerAccept {
        socket: Sock,
        offered: Option<String>,
        echo: String,
    },
    ServerReject {
        socket: Sock,
        offered: Option<String>,
        error: SubprotocolErrorKind,
        http_status: u16,
    },
    ClientCheck {
        socket: Sock,
        echoed: Option<String>,
        accepted: bool,
    },
    Message {
        sender: Role,
        message: Hex,
        wire: Hex,
        fragment_size: Option<usize>,
        #[serde(default)]
        mask_keys: Vec<Hex>,
    },
    Control {
        sender: Role,
        control: Control,
        payload: Hex,
        code: Option<u16>,
        mask_key: Option<Hex>,
        wire: Hex,
    },
    FrameError {
        receiver: Role,
        wire: Hex,
        error: WsErrorKind,
        close_code: u16,
        max_recv_size: Option<MaxJson>,
    },
    HttpUpgrade {
        socket: Sock,
        host: String,
        path: String,
        key: String,
        request: String,
        response: String,
    },
    HttpServer {
        routes: std::collections::BTreeMap<String, Sock>,
        request: String,
        routed: Option<String>,
        outcome: HttpOutcome,
        response: String,
    },
}

/// What a `ws://` listener decided (`ws_http::server_upgrade`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum HttpOutcome {
    Accept,
    NotFound,
    Refused,
    Unreadable,
}

/// SHA-1 for `Sec-WebSocket-Accept`, from `ring` (sp-proto takes it as an argument).
fn sha1(data: &[u8]) -> [u8; 20] {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    digest.as_ref().try_into().expect("20 bytes")
}

/// Runs the listener's decision on `request` with `routes`; returns the path it looked
/// up, the outcome, the bytes it answers and, on accept, the head length.
fn serve(
    routes: &std::collections::BTreeMap<String, SocketType>,
    request: &[u8],
) -> (Option<String>, HttpOutcome, Vec<u8>, Option<usize>) {
    use sp_proto::wire::ws_http::{server_upgrade, Refusal, ServerUpgrade};
    let mut routed = None;
    let got = server_upgrade(
        request,
        |path| {
            routed = Some(path.to_owned());
            routes.get(path).copied()
        },
        sha1,
    );
    match got {
        ServerUpgrade::Incomplete => panic!("incomplete request"),
        ServerUpgrade::Accept { head_len, response } => {
            (routed, HttpOutcome::Accept, response, Some(head_len))
        }
        ServerUpgrade::Refuse { reject, why } => {
            let outcome = match why {
                Refusal::NotFound(_) => HttpOutcome::NotFound,
                Refusal::Refused => HttpOutcome::Refused,
                Refusal::Unreadable(_) => HttpOutcome::Unreadable,
            };
            (routed, outcome, reject.to_bytes(), None)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum SubprotocolErrorKind {
    Missing,
    Unrecognised,
    Incompatible,
}

fn subprotocol_kind(e: &WsSubprotocolError) -> SubprotocolErrorKind {
    match e {
        WsSubprotocolError::Missing { .. } => SubprotocolErrorKind::Missing,
        WsSubprotocolError::Unrecognised { .. } => SubprotocolErrorKind::Unrecognised,
        WsSubprotocolError::Incompatible { .. } => SubprotocolErrorKind::Incompatible,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Control {
    Ping,
    Pong,
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum WsErrorKind {
    ReservedBits,
    ReservedOpcode,
    UnmaskedFrame,
    MaskedFrame,
    ControlTooLong,
    FragmentedControl,
    TextMessage,
    ContinuationWithoutStart,
    DataDuringFragmented,
    LengthMsbSet,
    TooBig,
    LengthOverflow,
    BadClosePayload,
    InvalidCloseCode,
    InvalidCloseReason,
}

fn ws_kind(e: &WsFrameError) -> WsErrorKind {
    match e {
        WsFrameError::ReservedBits(_) => WsErrorKind::ReservedBits,
        WsFrameError::ReservedOpcode(_) => WsErrorKind::ReservedOpcode,
        WsFrameError::UnmaskedFrame => WsErrorKind::UnmaskedFrame,
        WsFrameError::MaskedFrame => WsErrorKind::MaskedFrame,
        WsFrameError::ControlTooLong { .. } => WsErrorKind::ControlTooLong,
        WsFrameError::FragmentedControl(_) => WsErrorKind::FragmentedControl,
        WsFrameError::TextMessage => WsErrorKind::TextMessage,
        WsFrameError::ContinuationWithoutStart => WsErrorKind::ContinuationWithoutStart,
        WsFrameError::DataDuringFragmented => WsErrorKind::DataDuringFragmented,
        WsFrameError::LengthMsbSet => WsErrorKind::LengthMsbSet,
        WsFrameError::TooBig { .. } => WsErrorKind::TooBig,
        WsFrameError::LengthOverflow(_) => WsErrorKind::LengthOverflow,
        WsFrameError::BadClosePayload => WsErrorKind::BadClosePayload,
        WsFrameError::InvalidCloseCode(_) => WsErrorKind::InvalidCloseCode,
        WsFrameError::InvalidCloseReason => WsErrorKind::InvalidCloseReason,
    }
}

/// A masking-key source handing out `keys` in order; the test checks all were used.
fn key_source(keys: &[Hex]) -> impl FnMut() -> [u8; 4] + '_ {
    let mut it = keys.iter();
    move || {
        let k = it.next().expect("the vector lists a key for every frame");
        k[..].try_into().expect("masking keys are 4 bytes")
    }
}

#[test]
fn websocket_vectors() {
    let mut subprotocols = BTreeSet::new();
    for (meta, case) in load::<WebSocketCase>("websocket.json") {
        let id = &meta.id;
        match case {
            WebSocketCase::Subprotocol {
                socket: Sock(t),
                token,
                dialer_offer,
            } => {
                subprotocols.insert(t);
                assert_eq!(ws::subprotocol(t), token, "{id}");
                assert_eq!(ws::dialer_offer(t), dialer_offer, "{id}");
                assert_eq!(ws::parse_subprotocol(&token), Some(t), "{id}");
                assert_eq!(
                    ws::server_accept(t, Some(&token)),
                    Ok(token.clone()),
                    "{id}"
                );
                assert_eq!(ws::client_check(t.peer(), Some(&token)), Ok(()), "{id}");
            }
            WebSocketCase::ServerAccept {
                socket: Sock(t),
                offered,
                echo,
            } => {
                assert_eq!(ws::server_accept(t, offered.as_deref()), Ok(echo), "{id}");
            }
            WebSocketCase::ServerReject {
                socket: Sock(t),
                offered,
                error,
                http_status,
            } => {
                let e = ws::server_accept(t, offered.as_deref()).expect_err(id);
                assert_eq!(subprotocol_kind(&e), error, "{id}: {e}");
                assert_eq!(http_status, REJECT_STATUS, "{id}");
            }
            WebSocketCase::ClientCheck {
                socket: Sock(t),
                echoed,
                accepted,
            } => {
                let got = ws::client_check(t, echoed.as_deref());
                assert_eq!(got.is_ok(), accepted, "{id}: {got:?}");
            }
            WebSocketCase::Message {
                sender,
                message,
                wire,
                fragment_size,
                mask_keys,
            } => {
                let role = WsRole::from(sender);
                assert_eq!(role.masks_outgoing(), !mask_keys.is_empty(), "{id}: keys");
                let mut enc = WsEncoder::new(role);
                if let Some(size) = fragment_size {
                    enc = enc.with_fragment_size(size);
                }
                // Any split of the message into SP header and body gives the same frames.
                for split in 0..=message.len() {
                    let (header, body) = message.split_at(split);
                    let mut keys = key_source(&mask_keys);
                    let mut out = BytesMut::new();
                    enc.encode_message(header, body, &mut keys, &mut out);
                    assert_eq!(hex(&out), hex(&wire), "{id}: encode, split {split}");
                }
                let want = vec![WsEvent::Message(Bytes::from(message.0.clone()))];
                check_ws_decode(id, role.peer(), MaxRecvSize::DEFAULT, &wire, &want);
            }
            WebSocketCase::Control {
                sender,
                control,
                payload,
                code,
                mask_key,
                wire,
            } => {
                let role = WsRole::from(sender);
                let keys: Vec<Hex> = mask_key.into_iter().collect();
                assert_eq!(role.masks_outgoing(), !keys.is_empty(), "{id}: key");
                let enc = WsEncoder::new(role);
                let mut out = BytesMut::new();
                let mut key = key_source(&keys);
                let payload_bytes = Bytes::from(payload.0.clone());
                let want = match control {
                    Control::Ping => {
                        enc.encode_ping(&payload, &mut key, &mut out).unwrap();
                        vec![WsEvent::Ping(payload_bytes)]
                    }
                    Control::Pong => {
                        enc.encode_pong(&payload, &mut key, &mut out).unwrap();
                        vec![]
                    }
                    Control::Close => {
                        let code = code.expect("a close vector has a code");
                        let reason = std::str::from_utf8(&payload).expect("UTF-8 reason");
                        enc.encode_close(code, reason, &mut key, &mut out).unwrap();
                        vec![WsEvent::Close {
                            code: Some(code),
                            reason: payload_bytes,
                        }]
                    }
                };
                assert!(code.is_none() || control == Control::Close, "{id}: code");
                assert_eq!(hex(&out), hex(&wire), "{id}: encode");
                check_ws_decode(id, role.peer(), MaxRecvSize::DEFAULT, &wire, &want);
            }
            WebSocketCase::FrameError {
                receiver,
                wire,
                error,
                close_code,
                max_recv_size,
            } => {
                let max = max_recv(max_recv_size);
                let mut dec = WsDecoder::new(receiver.into(), max);
                let mut buf = BytesMut::from(&wire[..]);
                let got = loop {
                    match dec.decode(&mut buf) {
                        Ok(Some(_)) => {}
                        Ok(None) => panic!("{id}: no error"),
                        Err(e) => break e,
                    }
                };
                assert_eq!(ws_kind(&got), error, "{id}: {got}");
                assert_eq!(got.close_code(), close_code, "{id}: close code");
                let mut dec = WsDecoder::new(receiver.into(), max);
                let (_, err, _) = bytewise(&wire, |b| dec.decode(b));
                assert_eq!(err, Some(got), "{id}: bytewise");
            }
            WebSocketCase::HttpUpgrade {
                socket: Sock(t),
                host,
                path,
                key,
                request,
                response,
            } => {
                use sp_proto::wire::ws_http::{self as http, ServerUpgrade};
                // The dialer's request, byte for byte.
                let sent = http::request(&host, &path, &key, &ws::dialer_offer(t));
                assert_eq!(String::from_utf8_lossy(&sent), request, "{id}: request");
                // The listener serving `path` answers exactly `response`, and not before
                // the whole head has arrived.
                let routes = [(path.clone(), t.peer())].into_iter().collect();
                let (routed, outcome, answer, head_len) = serve(&routes, request.as_bytes());
                assert_eq!(routed.as_deref(), Some(path.as_str()), "{id}: routed");
                assert_eq!(outcome, HttpOutcome::Accept, "{id}");
                assert_eq!(String::from_utf8_lossy(&answer), response, "{id}: response");
                assert_eq!(head_len, Some(request.len()), "{id}: head length");
                for n in 0..request.len() {
                    let partial = http::server_upgrade(&request.as_bytes()[..n], |_| None, sha1);
                    assert_eq!(partial, ServerUpgrade::Incomplete, "{id}: {n} bytes");
                }
                // The dialer accepts the response, and only once it is complete.
                let r = response.as_bytes();
                assert_eq!(
                    http::client_upgrade(r, t, &key, sha1),
                    Ok(Some(r.len())),
                    "{id}: client"
                );
                for n in 0..r.len() {
                    assert_eq!(
                        http::client_upgrade(&r[..n], t, &key, sha1),
                        Ok(None),
                        "{id}"
                    );
                }
            }
            WebSocketCase::HttpServer {
                routes,
                request,
                routed,
                outcome,
                response,
            } => {
                let routes = routes.into_iter().map(|(p, Sock(t))| (p, t)).collect();
                let (asked, got, answer, head_len) = serve(&routes, request.as_bytes());
                assert_eq!(asked, routed, "{id}: the path looked up");
                assert_eq!(got, outcome, "{id}: outcome");
                assert_eq!(String::from_utf8_lossy(&answer), response, "{id}: response");
                if outcome == HttpOutcome::Accept {
                    assert_eq!(head_len, Some(request.len()), "{id}: head length");
                }
            }
        }
    }
    assert_eq!(
        subprotocols,
        SocketType::ALL.into_iter().collect(),
        "a subprotocol per type"
    );
}

/// Decodes `wire` whole and byte by byte in `role`; both must give exactly `want`.
fn check_ws_decode(id: &str, role: WsRole, max: MaxRecvSize, wire: &[u8], want: &[WsEvent]) {
    let mut dec = WsDecoder::new(role, max);
    let mut buf = BytesMut::from(wire);
    let mut events = Vec::new();
    loop {
        match dec.decode(&mut buf) {
            Ok(Some(ev)) => events.push(ev),
            Ok(None) => break,
            Err(e) => panic!("{id}: {e}"),
        }
    }
    assert_eq!(events, want, "{id}: decode");
    assert!(buf.is_empty(), "{id}: all bytes consumed");
    let mut dec = WsDecoder::new(role, max);
    let (events, err, rest) = bytewise(wire, |b| dec.decode(b));
    assert_eq!(
        (events.as_slice(), err, rest.len()),
        (want, None, 0),
        "{id}: bytewise"
    );
}

// ---------------------------------------------------------------- snapshots

/// The 11 connection headers, split into signature+version, type and reserved bytes.
#[test]
fn snapshot_handshake_headers() {
    let mut text = String::new();
    for t in SocketType::ALL {
        let h = encode_header(t);
        text.push_str(&format!(
            "{:<10} {:>3}  {} | {} | {}\n",
            t.name(),
            t.wire_id(),
            hex(&h[..4]),
            hex(&h[4..6]),
            hex(&h[6..])
        ));
    }
    insta::assert_snapshot!(text);
}

/// The REQ request `1|823 "Hello"` framed for TCP and for IPC.
#[test]
fn snapshot_framed_req_request() {
    let header = id_header(823);
    let mut text = String::new();
    for (name, format) in [("tcp", FrameFormat::Tcp), ("ipc", FrameFormat::Ipc)] {
        let mut out = BytesMut::new();
        encode_frame(format, &header, b"Hello", &mut out);
        let p = format.prefix_len();
        text.push_str(&format!(
            "{name}  prefix [{}]  backtrace [{}]  body [{}]\n",
            hex(&out[..p]),
            hex(&out[p..p + 4]),
            hex(&out[p + 4..])
        ));
    }
    insta::assert_snapshot!(text);
}

/// A REQ request sent by a WebSocket client fragmenting at 4 bytes: one line per frame.
#[test]
fn snapshot_fragmented_ws_message() {
    let keys = [[0x37, 0xfa, 0x21, 0x3d], [1, 2, 3, 4], [0xff, 0, 0xff, 0]];
    let mut next = keys.into_iter();
    let enc = WsEncoder::new(WsRole::Client).with_fragment_size(4);
    let mut out = BytesMut::new();
    enc.encode_message(&id_header(823), b"Hello", || next.next().unwrap(), &mut out);
    let mut text = String::new();
    let mut rest = &out[..];
    while !rest.is_empty() {
        let len = usize::from(rest[1] & 0x7f);
        let (frame, tail) = rest.split_at(6 + len);
        let key = &frame[2..6];
        let clear: Vec<u8> = frame[6..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        text.push_str(&format!(
            "fin={} opcode={:x} len={}  [{}]  key [{}]  masked [{}]  clear [{}]\n",
            frame[0] >> 7,
            frame[0] & 0x0f,
            len,
            hex(&frame[..2]),
            hex(key),
            hex(&frame[6..]),
            hex(&clear)
        ));
        rest = tail;
    }
    insta::assert_snapshot!(text);
}
