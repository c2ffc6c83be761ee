//! Property tests of the wire codecs: any chunking of valid input decodes to exactly what
//! was encoded, arbitrary bytes never panic and give frames or a typed error, and hostile
//! lengths are refused (or cost a bounded read-ahead) before memory is reserved.

mod common;

use bytes::{Bytes, BytesMut};
use common::feed_chunks;
use proptest::prelude::*;
use sp_proto::rng::Rng;
use sp_proto::wire::backtrace::{push_word, Backtrace, BacktraceError, ID_FLAG};
use sp_proto::wire::frame::{encode_frame, FrameDecoder, FrameError, FrameFormat, MaxRecvSize};
use sp_proto::wire::handshake::{encode_header, validate_header, Handshake, HeaderError};
use sp_proto::wire::ws_frame::{
    WsDecoder, WsEncoder, WsEvent, WsFrameError, WsRole, CLOSE_INVALID_DATA, CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_BIG, CLOSE_UNSUPPORTED_DATA,
};
use sp_proto::{Instant, SocketType};
use std::time::Duration;

/// What the frame decoders may reserve ahead of received data (see `frame.rs`).
const READ_AHEAD: usize = 4 * 1024 * 1024;

/// The capacity bound the decoders promise: twice the bytes received plus the read-ahead,
/// whatever length the peer announced.
fn capacity_bound(received: usize) -> usize {
    2 * received + READ_AHEAD + 64 * 1024
}

fn format() -> impl Strategy<Value = FrameFormat> {
    prop_oneof![Just(FrameFormat::Tcp), Just(FrameFormat::Ipc)]
}

fn max_recv() -> impl Strategy<Value = MaxRecvSize> {
    prop_oneof![
        Just(MaxRecvSize::Unlimited),
        Just(MaxRecvSize::DEFAULT),
        (0u64..600).prop_map(MaxRecvSize::Limited),
    ]
}

fn chunking() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        Just(vec![1]),
        prop::collection::vec(1usize..80, 1..8),
        Just(vec![usize::MAX]),
    ]
}

fn socket_type() -> impl Strategy<Value = SocketType> {
    prop::sample::select(SocketType::ALL.to_vec())
}

// ---------------------------------------------------------------- stream framing

proptest! {
    #[test]
    fn frames_reassemble_under_any_chunking(
        format in format(),
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
        header_len in 0usize..8,
        chunks in chunking(),
        unlimited in any::<bool>(),
    ) {
        let mut wire = BytesMut::new();
        for p in &payloads {
            let split = header_len.min(p.len());
            encode_frame(format, &p[..split], &p[split..], &mut wire);
        }
        let max = if unlimited { MaxRecvSize::Unlimited } else { MaxRecvSize::Limited(299) };
        let mut dec = FrameDecoder::new(format, max);
        let (frames, err, mut rest) = feed_chunks(&wire, &chunks, |b| dec.decode(b));
        prop_assert_eq!(err, None);
        let want: Vec<Bytes> = payloads.into_iter().map(Bytes::from).collect();
        prop_assert_eq!(frames, want);
        prop_assert!(rest.is_empty());
        prop_assert_eq!(dec.decode_eof(&mut rest), Ok(None));
    }

    #[test]
    fn arbitrary_stream_bytes_give_frames_or_a_typed_error(
        format in format(),
        max in max_recv(),
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        chunks in chunking(),
    ) {
        let mut dec = FrameDecoder::new(format, max);
        let (frames, err, mut rest) = feed_chunks(&bytes, &chunks, |b| dec.decode(b));
        for f in &frames {
            prop_assert!(max.allows(f.len() as u64));
        }
        prop_assert!(rest.capacity() <= capacity_bound(bytes.len()));
        let consumed: usize = frames.iter().map(|f| f.len() + format.prefix_len()).sum();
        match err {
            Some(FrameError::Oversize { len, max: m }) => {
                prop_assert_eq!(max, MaxRecvSize::Limited(m));
                prop_assert!(len > m);
            }
            Some(FrameError::BadIpcType(t)) => {
                prop_assert_eq!(format, FrameFormat::Ipc);
                prop_assert_ne!(t, 0x01);
            }
            Some(FrameError::LengthOverflow(_)) => prop_assert_eq!(max, MaxRecvSize::Unlimited),
            Some(e @ FrameError::Truncated { .. }) => prop_assert!(false, "{e} before eof"),
            None => {
                prop_assert_eq!(consumed + rest.len(), bytes.len());
                match dec.decode_eof(&mut rest) {
                    Ok(None) => prop_assert!(rest.is_empty()),
                    Ok(Some(_)) => prop_assert!(false, "frames were all drained"),
                    Err(FrameError::Truncated { have, need }) => {
                        prop_assert_eq!(have, rest.len() as u64);
                        prop_assert!(need > have);
                    }
                    Err(e) => prop_assert!(false, "eof gave {e}"),
                }
            }
        }
    }

    #[test]
    fn oversize_is_refused_from_the_length_alone(
        format in format(),
        len in prop_oneof![Just(1u64 << 62), (1u64 << 20) + 1..u64::MAX],
        tail in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut prefix = [0u8; 9];
        let n = sp_proto::wire::frame::encode_prefix(format, len, &mut prefix);
        let mut input = prefix[..n].to_vec();
        input.extend_from_slice(&tail);

        // Limited: refused at once, nothing reserved.
        let mut dec = FrameDecoder::new(format, MaxRecvSize::DEFAULT);
        let mut buf = BytesMut::from(&input[..]);
        let cap = buf.capacity();
        prop_assert_eq!(
            dec.decode(&mut buf),
            Err(FrameError::Oversize { len, max: 1 << 20 })
        );
        prop_assert_eq!(buf.capacity(), cap);

        // Unlimited: accepted or refused as unaddressable, but the buffer grows by at most
        // the bounded read-ahead, whatever the length says.
        let mut dec = FrameDecoder::new(format, MaxRecvSize::Unlimited);
        let mut buf = BytesMut::from(&input[..]);
        match dec.decode(&mut buf) {
            Ok(None) | Err(FrameError::LengthOverflow(_)) => {}
            other => prop_assert!(false, "unexpected {other:?}"),
        }
        prop_assert!(buf.capacity() <= input.len() + READ_AHEAD);
    }
}

// ---------------------------------------------------------------- handshake

/// A header of a random type, then some bytes possibly mutated.
fn header_bytes() -> impl Strategy<Value = [u8; 8]> {
    prop_oneof![
        socket_type().prop_map(encode_header),
        (
            socket_type(),
            prop::collection::vec((0usize..8, any::<u8>()), 1..3)
        )
            .prop_map(|(t, edits)| {
                let mut h = encode_header(t);
                for (i, b) in edits {
                    h[i] = b;
                }
                h
            }),
        any::<[u8; 8]>(),
    ]
}

proptest! {
    #[test]
    fn handshake_feed_matches_whole_header_validation(
        ours in socket_type(),
        header in header_bytes(),
        trailing in prop::collection::vec(any::<u8>(), 0..4),
        chunks in chunking(),
    ) {
        let whole = validate_header(ours, &header);
        let mut input = header.to_vec();
        input.extend_from_slice(&trailing);
        let mut hs = Handshake::new(ours, Instant::ZERO, Duration::from_secs(10));
        let mut consumed = 0;
        let mut result: Option<Result<SocketType, HeaderError>> = None;
        let mut sizes = chunks.iter().copied().cycle();
        let mut rest = &input[..];
        while !rest.is_empty() && result.is_none() {
            let n = sizes.next().unwrap_or(1).max(1).min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            match hs.feed(chunk) {
                Ok((used, peer)) => {
                    prop_assert!(used <= chunk.len());
                    consumed += used;
                    if let Some(p) = peer {
                        result = Some(Ok(p));
                    } else {
                        prop_assert_eq!(used, chunk.len(), "bytes left before the header ended");
                    }
                }
                Err(e) => result = Some(Err(e)),
            }
        }
        prop_assert_eq!(result.clone(), Some(whole.clone()));
        if whole.is_ok() {
            prop_assert_eq!(consumed, 8);
            prop_assert_eq!(hs.check_timeout(Instant::from_millis(60_000)), Ok(()));
        }
    }
}

// ---------------------------------------------------------------- backtraces

proptest! {
    #[test]
    fn backtrace_parse_never_panics_and_round_trips(
        payload in prop::collection::vec(any::<u8>(), 0..64),
        max_ttl in any::<u8>(),
        pushed in any::<u32>(),
    ) {
        let payload = Bytes::from(payload);
        match Backtrace::parse(&payload, max_ttl) {
            Ok(bt) => {
                prop_assert!(bt.hops() >= 1 && bt.hops() <= usize::from(max_ttl));
                prop_assert_eq!(bt.header.len() % 4, 0);
                prop_assert_ne!(bt.id() & ID_FLAG, 0);
                prop_assert_eq!([&bt.header[..], &bt.body[..]].concat(), payload.to_vec());
                // A raw REP pushing a pipe id: parse gives back exactly the pushed stack.
                let word = pushed & !ID_FLAG;
                let header = push_word(word, &bt.header);
                let next = Bytes::from([&header[..], &bt.body[..]].concat());
                match Backtrace::parse(&next, max_ttl) {
                    Ok(again) => {
                        prop_assert_eq!(&again.header, &header);
                        prop_assert_eq!(&again.body, &bt.body);
                        prop_assert_eq!(again.hops(), bt.hops() + 1);
                        prop_assert_eq!(again.id(), bt.id());
                    }
                    Err(e) => {
                        prop_assert_eq!(e, BacktraceError::TooManyHops { max: max_ttl });
                        prop_assert_eq!(bt.hops(), usize::from(max_ttl));
                    }
                }
            }
            Err(BacktraceError::NoRequestId(n)) => {
                prop_assert_eq!(n, payload.len());
                prop_assert!(payload.chunks_exact(4).all(|w| w[0] & 0x80 == 0));
            }
            Err(BacktraceError::TooManyHops { max }) => {
                prop_assert_eq!(max, max_ttl);
                prop_assert!(payload.len() / 4 > usize::from(max_ttl));
            }
        }
    }

    #[test]
    fn well_formed_stacks_parse_exactly(
        pipes in prop::collection::vec(0u32..ID_FLAG, 0..12),
        id in 0u32..ID_FLAG,
        body in prop::collection::vec(any::<u8>(), 0..16),
        max_ttl in 1u8..=16,
    ) {
        let mut header = sp_proto::wire::backtrace::id_header(id);
        for &p in pipes.iter().rev() {
            header = push_word(p, &header);
        }
        let payload = Bytes::from([&header[..], &body[..]].concat());
        let got = Backtrace::parse(&payload, max_ttl);
        if pipes.len() < usize::from(max_ttl) {
            let bt = got.expect("within the TTL");
            prop_assert_eq!(&bt.header, &header);
            prop_assert_eq!(&bt.body[..], &body[..]);
            prop_assert_eq!(bt.id(), id | ID_FLAG);
        } else {
            prop_assert_eq!(got, Err(BacktraceError::TooManyHops { max: max_ttl }));
        }
    }
}

// ---------------------------------------------------------------- WebSocket frames

fn ws_role() -> impl Strategy<Value = WsRole> {
    prop_oneof![Just(WsRole::Client), Just(WsRole::Server)]
}

proptest! {
    #[test]
    fn ws_decoder_reassembles_encoder_output(
        sender in ws_role(),
        messages in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..400), any::<bool>()), 0..6),
        fragment_size in 1usize..200,
        seed in any::<u64>(),
        chunks in chunking(),
    ) {
        let mut rng = Rng::new(seed);
        let mut keys = || rng.next_u32().to_be_bytes();
        let enc = WsEncoder::new(sender).with_fragment_size(fragment_size);
        let mut wire = BytesMut::new();
        let mut want = Vec::new();
        for (i, (msg, ping_after)) in messages.iter().enumerate() {
            let split = (i * 7) % (msg.len() + 1);
            enc.encode_message(&msg[..split], &msg[split..], &mut keys, &mut wire);
            want.push(WsEvent::Message(Bytes::from(msg.clone())));
            if *ping_after {
                enc.encode_ping(&[i as u8], &mut keys, &mut wire).unwrap();
                enc.encode_pong(b"ignored", &mut keys, &mut wire).unwrap();
                want.push(WsEvent::Ping(Bytes::from(vec![i as u8])));
            }
        }
        enc.encode_close(1000, "done", &mut keys, &mut wire).unwrap();
        want.push(WsEvent::Close { code: Some(1000), reason: Bytes::from_static(b"done") });

        let mut dec = WsDecoder::new(sender.peer(), MaxRecvSize::Limited(399));
        let (events, err, rest) = feed_chunks(&wire, &chunks, |b| dec.decode(b));
        prop_assert_eq!(err, None);
        prop_assert_eq!(events, want);
        prop_assert!(rest.is_empty());
        prop_assert!(dec.is_closed());

        // The same frames sent to the wrong role are refused as a protocol error.
        if !wire.is_empty() {
            let mut wrong = WsDecoder::new(sender, MaxRecvSize::Unlimited);
            let mut buf = wire.clone();
            let e = wrong.decode(&mut buf).unwrap_err();
            prop_assert!(matches!(e, WsFrameError::UnmaskedFrame | WsFrameError::MaskedFrame));
        }
    }

    #[test]
    fn ws_decoder_survives_arbitrary_bytes(
        role in ws_role(),
        max in max_recv(),
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        chunks in chunking(),
    ) {
        let mut dec = WsDecoder::new(role, max);
        let (events, err, rest) = feed_chunks(&bytes, &chunks, |b| dec.decode(b));
        prop_assert!(rest.capacity() <= capacity_bound(bytes.len()));
        for ev in &events {
            match ev {
                WsEvent::Message(m) => prop_assert!(max.allows(m.len() as u64)),
                WsEvent::Ping(p) => prop_assert!(p.len() <= 125),
                WsEvent::Close { reason, .. } => prop_assert!(reason.len() <= 123),
            }
        }
        if let Some(e) = err {
            let code = e.close_code();
            prop_assert!(
                [CLOSE_PROTOCOL_ERROR, CLOSE_UNSUPPORTED_DATA, CLOSE_INVALID_DATA, CLOSE_TOO_BIG]
                    .contains(&code),
                "{e} maps to {code}"
            );
        }
    }

    #[test]
    fn ws_masked_noise_survives_too(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        chunks in chunking(),
    ) {
        // Arbitrary bytes rarely get past the mask-bit check: force plausible headers
        // (mask bit set, small lengths) so the later checks are exercised too.
        let mut shaped = bytes.clone();
        for (i, b) in shaped.iter_mut().enumerate() {
            if i % 9 == 1 {
                *b = 0x80 | (*b % 8);
            }
        }
        let mut dec = WsDecoder::new(WsRole::Server, MaxRecvSize::Limited(64));
        let (_, err, _) = feed_chunks(&shaped, &chunks, |b| dec.decode(b));
        if let Some(e) = err {
            prop_assert!(e.close_code() >= 1002);
        }
    }
}
