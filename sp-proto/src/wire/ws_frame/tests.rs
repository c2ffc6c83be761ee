//! Tests of the WebSocket frame codec: byte-exact frames, fragmentation, masking and
//! every refusal with its close code.

use super::*;
use crate::fmt::hex;
use crate::wire::frame::MaxRecvSize;
use crate::wire::ws::DEFAULT_SEND_FRAGMENT;
use bytes::{BufMut, Bytes, BytesMut};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn no_mask() -> [u8; 4] {
    panic!("a server never masks")
}

fn server_frames(enc: &WsEncoder, msg: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    enc.encode_message(&[], msg, no_mask, &mut out);
    out
}

fn decode_all(dec: &mut WsDecoder, bytes: &[u8]) -> Vec<WsEvent> {
    let mut buf = BytesMut::from(bytes);
    let mut events = Vec::new();
    while let Some(ev) = dec.decode(&mut buf).unwrap() {
        events.push(ev);
    }
    assert!(buf.is_empty() || dec.is_closed(), "left over: {buf:?}");
    events
}

fn decode_err(role: WsRole, bytes: &[u8]) -> WsFrameError {
    let mut dec = WsDecoder::new(role, MaxRecvSize::DEFAULT);
    let mut buf = BytesMut::from(bytes);
    loop {
        match dec.decode(&mut buf) {
            Ok(Some(_)) => {}
            Ok(None) => panic!("no error for {}", hex(bytes)),
            Err(e) => return e,
        }
    }
}

#[test]
fn server_reply_is_one_unmasked_frame() {
    let enc = WsEncoder::new(WsRole::Server);
    let mut out = BytesMut::new();
    enc.encode_message(&[0x80, 0, 0, 1], b"World", no_mask, &mut out);
    assert_eq!(hex(&out), "82 09 80 00 00 01 57 6f 72 6c 64");
    let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::DEFAULT);
    assert_eq!(
        decode_all(&mut dec, &out),
        [WsEvent::Message(Bytes::from_static(b"\x80\0\0\x01World"))]
    );
}

#[test]
fn client_frames_are_masked_with_a_fresh_key_per_frame() {
    let enc = WsEncoder::new(WsRole::Client).with_fragment_size(4);
    let mut keys = [[1, 2, 3, 4], [5, 6, 7, 8]].into_iter();
    let mut out = BytesMut::new();
    enc.encode_message(b"abc", b"defg", || keys.next().unwrap(), &mut out);
    assert_eq!(
        hex(&out),
        "02 84 01 02 03 04 60 60 60 60 80 83 05 06 07 08 60 60 60"
    );
    let mut dec = WsDecoder::new(WsRole::Server, MaxRecvSize::DEFAULT);
    assert_eq!(
        decode_all(&mut dec, &out),
        [WsEvent::Message(Bytes::from_static(b"abcdefg"))]
    );
}

#[test]
fn length_forms() {
    let enc = WsEncoder::new(WsRole::Server).with_fragment_size(usize::MAX);
    for (len, head) in [
        (0usize, "82 00"),
        (125, "82 7d"),
        (126, "82 7e 00 7e"),
        (65535, "82 7e ff ff"),
        (65536, "82 7f 00 00 00 00 00 01 00 00"),
    ] {
        let out = server_frames(&enc, &vec![7u8; len]);
        let head_len = head.split(' ').count();
        assert_eq!(hex(&out[..head_len]), head, "len {len}");
        assert_eq!(out.len(), head_len + len);
        let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::Unlimited);
        assert_eq!(
            decode_all(&mut dec, &out),
            [WsEvent::Message(Bytes::from(vec![7u8; len]))]
        );
    }
}

#[test]
fn default_fragmentation_and_reassembly_byte_by_byte() {
    let enc = WsEncoder::new(WsRole::Server);
    assert_eq!(enc.fragment_size(), DEFAULT_SEND_FRAGMENT);
    let msg: Vec<u8> = (0..150_000u32).map(|i| i as u8).collect();
    let out = server_frames(&enc, &msg);
    // 64 KiB + 64 KiB + rest: opcodes 2, 0, 0 and FIN only on the last.
    assert_eq!(&out[..2], &[0x02, 0x7f]);
    let second = 10 + 65536;
    assert_eq!(&out[second..second + 2], &[0x00, 0x7f]);
    let third = 2 * second;
    assert_eq!(&out[third..third + 4], &[0x80, 0x7e, 0x49, 0xf0]);
    let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::DEFAULT);
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for &b in &out[..] {
        buf.put_u8(b);
        if let Some(ev) = dec.decode(&mut buf).unwrap() {
            events.push(ev);
        }
    }
    assert_eq!(events, [WsEvent::Message(Bytes::from(msg))]);
    assert!(!dec.in_message());
}

#[test]
fn control_frames_between_fragments() {
    let enc = WsEncoder::new(WsRole::Client).with_fragment_size(2);
    let mut msg = BytesMut::new();
    enc.encode_message(&[], b"Hello", || KEY, &mut msg);
    let mut wire = BytesMut::new();
    wire.extend_from_slice(&msg[..8]); // first fragment "He"
    enc.encode_ping(b"p", || KEY, &mut wire).unwrap();
    enc.encode_pong(b"ignored", || KEY, &mut wire).unwrap();
    wire.extend_from_slice(&msg[8..]);
    enc.encode_close(CLOSE_NORMAL, "bye", || KEY, &mut wire)
        .unwrap();
    wire.extend_from_slice(&msg); // after Close: ignored
    let mut dec = WsDecoder::new(WsRole::Server, MaxRecvSize::DEFAULT);
    assert_eq!(
        decode_all(&mut dec, &wire),
        [
            WsEvent::Ping(Bytes::from_static(b"p")),
            WsEvent::Message(Bytes::from_static(b"Hello")),
            WsEvent::Close {
                code: Some(1000),
                reason: Bytes::from_static(b"bye")
            },
        ]
    );
    assert!(dec.is_closed());
}

#[test]
fn control_encoders() {
    let enc = WsEncoder::new(WsRole::Server);
    let mut out = BytesMut::new();
    enc.encode_close(CLOSE_UNSUPPORTED_DATA, "", no_mask, &mut out)
        .unwrap();
    assert_eq!(hex(&out), "88 02 03 eb");
    out.clear();
    enc.encode_ping(&[], no_mask, &mut out).unwrap();
    enc.encode_pong(b"x", no_mask, &mut out).unwrap();
    assert_eq!(hex(&out), "89 00 8a 01 78");
    assert_eq!(
        enc.encode_ping(&[0; 126], no_mask, &mut out),
        Err(ControlPayloadTooLong(126))
    );
    assert_eq!(
        enc.encode_close(1000, &"r".repeat(124), no_mask, &mut out),
        Err(ControlPayloadTooLong(126))
    );
    let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::DEFAULT);
    assert_eq!(
        decode_all(&mut dec, &[0x88, 0x00]),
        [WsEvent::Close {
            code: None,
            reason: Bytes::new()
        }]
    );
}

#[test]
fn protocol_errors_and_their_close_codes() {
    use WsFrameError as E;
    let cases: [(WsRole, &[u8], E, u16); 14] = [
        (WsRole::Client, &[0xc2, 0x00], E::ReservedBits(4), 1002),
        (WsRole::Client, &[0x83, 0x00], E::ReservedOpcode(3), 1002),
        (WsRole::Client, &[0x8b, 0x00], E::ReservedOpcode(0xb), 1002),
        (WsRole::Server, &[0x82, 0x00], E::UnmaskedFrame, 1002),
        (WsRole::Client, &[0x82, 0x80], E::MaskedFrame, 1002),
        (
            WsRole::Client,
            &[0x89, 0x7e],
            E::ControlTooLong {
                opcode: 9,
                len: 126,
            },
            1002,
        ),
        (WsRole::Client, &[0x09, 0x00], E::FragmentedControl(9), 1002),
        (WsRole::Client, &[0x81, 0x01], E::TextMessage, 1003),
        (
            WsRole::Client,
            &[0x80, 0x00],
            E::ContinuationWithoutStart,
            1002,
        ),
        (
            WsRole::Client,
            &[0x02, 0x01, 0x61, 0x82, 0x00],
            E::DataDuringFragmented,
            1002,
        ),
        (WsRole::Client, &[0x82, 0x7f, 0x80], E::LengthMsbSet, 1002),
        (
            WsRole::Client,
            &[0x88, 0x01, 0x03],
            E::BadClosePayload,
            1002,
        ),
        (
            WsRole::Client,
            &[0x88, 0x02, 0x03, 0xed],
            E::InvalidCloseCode(1005),
            1002,
        ),
        (
            WsRole::Client,
            &[0x88, 0x03, 0x03, 0xe8, 0xff],
            E::InvalidCloseReason,
            1007,
        ),
    ];
    for (role, bytes, want, code) in cases {
        let mut bytes = bytes.to_vec();
        if want == E::LengthMsbSet {
            bytes.extend_from_slice(&[0; 7]);
        }
        let got = decode_err(role, &bytes);
        assert_eq!(got, want, "{}", hex(&bytes));
        assert_eq!(got.close_code(), code, "{want}");
    }
}

#[test]
fn oversize_is_refused_from_the_length_alone() {
    // A 2^62-byte frame header, nothing else: refused with a limit, and with no limit
    // the buffer reserves at most the read-ahead.
    let head = [0x82, 0x7f, 0x40, 0, 0, 0, 0, 0, 0, 0];
    let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::DEFAULT);
    let mut buf = BytesMut::from(&head[..]);
    let err = dec.decode(&mut buf).unwrap_err();
    assert_eq!(
        err,
        WsFrameError::TooBig {
            len: 1 << 62,
            max: 1 << 20
        }
    );
    assert_eq!(err.close_code(), CLOSE_TOO_BIG);
    assert!(buf.capacity() < 64);
    let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::Unlimited);
    let mut buf = BytesMut::from(&head[..]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert!(buf.capacity() <= head.len() + crate::wire::frame::MAX_READ_AHEAD);
    // More bytes trickling in do not make it grow again.
    for _ in 0..100 {
        buf.put_u8(0);
        assert_eq!(dec.decode(&mut buf), Ok(None));
    }
    assert!(buf.capacity() <= head.len() + crate::wire::frame::MAX_READ_AHEAD);
}

#[test]
fn limit_applies_to_the_sum_of_fragments() {
    let enc = WsEncoder::new(WsRole::Server).with_fragment_size(4);
    let out = server_frames(&enc, b"0123456789");
    let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::Limited(10));
    assert_eq!(
        decode_all(&mut dec, &out),
        [WsEvent::Message(Bytes::from_static(b"0123456789"))]
    );
    let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::Limited(9));
    let mut buf = BytesMut::from(&out[..]);
    assert_eq!(
        dec.decode(&mut buf),
        Err(WsFrameError::TooBig { len: 10, max: 9 })
    );
    // Limit 0 still accepts the empty message.
    let mut dec = WsDecoder::new(WsRole::Client, MaxRecvSize::Limited(0));
    assert_eq!(
        decode_all(&mut dec, &[0x82, 0x00]),
        [WsEvent::Message(Bytes::new())]
    );
}

#[test]
fn roles() {
    assert!(WsRole::Client.masks_outgoing());
    assert!(!WsRole::Server.masks_outgoing());
    assert_eq!(WsRole::Client.peer(), WsRole::Server);
    assert_eq!(WsEncoder::new(WsRole::Server).role(), WsRole::Server);
    assert_eq!(
        WsEncoder::new(WsRole::Server)
            .with_fragment_size(0)
            .fragment_size(),
        1
    );
    let mut dec = WsDecoder::new(WsRole::Server, MaxRecvSize::DEFAULT);
    assert_eq!(dec.role(), WsRole::Server);
    dec.set_max_recv_size(MaxRecvSize::Unlimited);
    assert_eq!(dec.max_recv_size(), MaxRecvSize::Unlimited);
}
