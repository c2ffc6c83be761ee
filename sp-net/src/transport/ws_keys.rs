//! Unpredictable WebSocket keys: the client's masking keys (RFC 6455 §5.3) and its
//! `Sec-WebSocket-Key` nonce (§4.1), drawn from the operating system's CSPRNG.
//!
//! Masking exists so that an attacker who chooses a message's payload cannot choose the
//! bytes that reach an intermediary; that holds only while the next key cannot be
//! predicted from the keys already seen on the wire. A seeded generator (such as
//! [`sp_proto::rng::Rng`], which replays) fails that: its state follows from two observed
//! keys. So keys come from `getrandom`, never from the socket's seed. Seeded randomness
//! stays for what must replay: ids, backoff jitter, the simulator.
//!
//! The OS is asked for [`BATCH`] bytes at a time, not once per frame: a frame's key is 4
//! bytes, and a system call per message would dominate small-message throughput. The
//! batch is private to one connection and each byte is handed out once.

use std::io;

/// Bytes taken from the OS per refill (64 masking keys).
const BATCH: usize = 256;

/// A connection's supply of OS-random bytes.
pub(crate) struct KeySource {
    buf: [u8; BATCH],
    /// Bytes of `buf` already handed out; `BATCH` means empty.
    used: usize,
    /// Set when the OS failed to supply bytes: the keys handed out since are zeros and
    /// nothing encoded with them may be sent.
    failed: bool,
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print unused key material.
        f.debug_struct("KeySource")
            .field("left", &(BATCH - self.used))
            .field("failed", &self.failed)
            .finish()
    }
}

impl KeySource {
    /// An empty source; the first key refills it from the OS.
    pub(crate) fn new() -> Self {
        Self {
            buf: [0; BATCH],
            used: BATCH,
            failed: false,
        }
    }

    /// Fills `out` with OS-random bytes.
    pub(crate) fn fill(&mut self, out: &mut [u8]) -> io::Result<()> {
        for chunk in out.chunks_mut(BATCH) {
            if BATCH - self.used < chunk.len() {
                getrandom::getrandom(&mut self.buf).map_err(|e| {
                    self.failed = true;
                    io::Error::other(format!("the OS random source failed: {e}"))
                })?;
                self.used = 0;
            }
            let end = self.used + chunk.len();
            chunk.copy_from_slice(&self.buf[self.used..end]);
            // Handed-out bytes are not kept.
            self.buf[self.used..end].fill(0);
            self.used = end;
        }
        Ok(())
    }

    /// A fresh masking key. Infallible for the frame encoder's sake: if the OS fails, the
    /// key is zero and [`failed`](Self::failed) turns true, and the caller must discard
    /// what it encoded.
    pub(crate) fn mask_key(&mut self) -> [u8; 4] {
        let mut key = [0; 4];
        if self.fill(&mut key).is_err() {
            key = [0; 4];
        }
        key
    }

    /// Whether the OS failed to supply bytes at some point (see [`mask_key`](Self::mask_key)).
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_across_sources_and_within_one() {
        let mut a = KeySource::new();
        let mut b = KeySource::new();
        // 4 of 2^32: a collision here means the source is not random (or is shared).
        let ka: Vec<[u8; 4]> = (0..200).map(|_| a.mask_key()).collect();
        let kb: Vec<[u8; 4]> = (0..200).map(|_| b.mask_key()).collect();
        assert_ne!(ka, kb);
        let mut distinct = ka.clone();
        distinct.sort();
        distinct.dedup();
        // 200 draws from 2^32 values: a repeat has probability ~5e-6.
        assert!(distinct.len() >= 199, "{} distinct of 200", distinct.len());
        assert!(!a.failed() && !b.failed());
    }

    #[test]
    fn fill_crosses_refills_and_never_reuses_bytes() {
        let mut s = KeySource::new();
        let mut first = [0u8; 250];
        s.fill(&mut first).unwrap();
        // 6 bytes are left in the batch; 16 more forces a refill mid-request.
        let mut nonce = [0u8; 16];
        s.fill(&mut nonce).unwrap();
        let mut big = [0u8; 3 * BATCH + 5];
        s.fill(&mut big).unwrap();
        assert_ne!(nonce, [0; 16]);
        assert!(big.iter().any(|&b| b != 0));
        assert_eq!(format!("{s:?}").matches("left").count(), 1);
    }
}
