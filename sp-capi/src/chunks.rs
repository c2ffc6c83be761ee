//! Copies of the small buffers `nn_send` is given, cut from a chunk of
//! the calling thread instead of a heap block each.
//!
//! A message's copy is freed by sp-net's writer, on a thread of the runtime: a block
//! allocated by one thread and freed by another skips glibc's per-thread cache on both
//! sides, and a sending thread spent about a quarter of its time in `malloc` and `free`
//! (`perf record` on `nanomsg-perf remote_thr`, 64 B). Copies cut from one shared chunk
//! cost an atomic count instead, and the chunk is freed once, after its last message.
//! A message may keep its chunk alive, so only small messages share: a chunk holds at
//! most `CHUNK / SMALL` of the largest.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};

/// The bytes of one chunk.
const CHUNK: usize = 16 * 1024;

/// Messages up to this size share chunks; larger ones get a block of their own.
pub(crate) const SMALL: usize = 1024;

thread_local! {
    /// The calling thread's chunk: what is left of it after the copies already cut.
    static CHUNK_LEFT: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// A copy of `bytes` as a message body.
pub(crate) fn copy(bytes: &[u8]) -> Bytes {
    if bytes.len() > SMALL {
        return Bytes::copy_from_slice(bytes);
    }
    CHUNK_LEFT
        .try_with(|left| {
            let mut left = left.borrow_mut();
            if left.capacity() < bytes.len() {
                *left = BytesMut::with_capacity(CHUNK);
            }
            left.extend_from_slice(bytes);
            left.split().freeze()
        })
        // The thread is exiting (its thread-locals are gone): a block of its own.
        .unwrap_or_else(|_| Bytes::copy_from_slice(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_whole_and_independent() {
        let copies: Vec<(Vec<u8>, Bytes)> = (0..2_000usize)
            .map(|i| {
                let b: Vec<u8> = (0..i % (SMALL + 200)).map(|j| (i + j) as u8).collect();
                let c = copy(&b);
                (b, c)
            })
            .collect();
        for (i, (b, c)) in copies.iter().enumerate() {
            assert_eq!(&c[..], &b[..], "copy {i}");
        }
    }

    #[test]
    fn small_copies_share_a_chunk_and_large_ones_do_not() {
        let a = copy(&[1u8; 64]);
        let b = copy(&[2u8; 64]);
        // Cut one after the other from the same chunk.
        assert_eq!(a.as_ptr().wrapping_add(64), b.as_ptr());
        let big = copy(&[3u8; SMALL + 1]);
        let after = copy(&[4u8; 64]);
        assert_ne!(big.as_ptr(), b.as_ptr().wrapping_add(64));
        assert_eq!(b.as_ptr().wrapping_add(64), after.as_ptr());
    }
}
