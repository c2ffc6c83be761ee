//! Helpers shared by the behaviour tests: pipe ids and priorities, the first request id of
//! a seeded REQ, a REP that answers everything, and feeding a decoder in chunks.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use bytes::{Bytes, BytesMut};
use sp_proto::rng::Rng;
use sp_proto::testing::{NodeId, TestNet};
use sp_proto::{
    AnyProtocol, Instant, Message, PipeId, PipeInfo, Priority, Protocol, SendErrorKind,
};

/// The pipe with id `n` (a valid id).
pub fn pipe(n: u32) -> PipeId {
    PipeId::new(n).unwrap()
}

/// Pipe settings with the given send and receive priorities.
pub fn prio(send: u8, recv: u8) -> PipeInfo {
    PipeInfo {
        send_priority: Priority::new(send).unwrap(),
        recv_priority: Priority::new(recv).unwrap(),
    }
}

/// The first request id a REQ seeded with `seed` uses (see `proto::req`).
pub fn first_id(seed: u64) -> u32 {
    Rng::new(seed).next_u32() | 0x8000_0000
}

/// REP answers every request it has with `re:<body>`; returns how many.
pub fn answer_all(net: &mut TestNet, rep: NodeId) -> usize {
    let mut n = 0;
    while let Ok(m) = net.recv(rep) {
        let mut body = b"re:".to_vec();
        body.extend_from_slice(&m.body);
        net.send(rep, body).unwrap();
        n += 1;
    }
    n
}

/// Feeds `bytes` into `step` in chunks whose sizes cycle through `chunks` (0 counts as 1),
/// draining every output after each chunk; stops at the first error. Returns the outputs,
/// the error and what is left in the buffer.
pub fn feed_chunks<T, E>(
    bytes: &[u8],
    chunks: &[usize],
    mut step: impl FnMut(&mut BytesMut) -> Result<Option<T>, E>,
) -> (Vec<T>, Option<E>, BytesMut) {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut sizes = chunks.iter().copied().cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(1).max(1).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        buf.extend_from_slice(chunk);
        rest = tail;
        loop {
            match step(&mut buf) {
                Ok(Some(x)) => out.push(x),
                Ok(None) => break,
                Err(e) => return (out, Some(e), buf),
            }
        }
    }
    (out, None, buf)
}

/// A test network of two sockets, `a` connected to `b`.
pub fn linked(a: impl Into<AnyProtocol>, b: impl Into<AnyProtocol>) -> (TestNet, NodeId, NodeId) {
    let mut net = TestNet::new();
    let (a, b) = (net.add(a), net.add(b));
    net.connect(a, b).unwrap();
    (net, a, b)
}

/// Sends one message with each header of `bad` (raw mode) and checks that `p` refuses
/// every one with [`SendErrorKind::BadHeader`], handing the message back.
pub fn refuses_headers(p: &mut impl Protocol, bad: &[&[u8]]) {
    for &header in bad {
        let msg = Message::with_header(Bytes::copy_from_slice(header), "x");
        let err = p.send(Instant::ZERO, msg).unwrap_err();
        assert_eq!(err.kind, SendErrorKind::BadHeader, "{header:?}");
        assert_eq!(&err.msg.header[..], header, "handed back");
    }
}
