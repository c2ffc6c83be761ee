//! The subscription set of a SUB socket: a compressed radix tree over topics, packed into
//! one byte buffer.
//!
//! A topic is a byte string; a message matches when some subscribed topic is a byte-prefix
//! of its body (no separator, wire-facts §8). The empty topic matches every message. The set
//! has set semantics (as NNG; nanomsg reference-counts): subscribing twice is a no-op and
//! one unsubscribe removes the topic; unsubscribing an unknown topic is a typed error.
//!
//! # Layout
//!
//! - The empty topic is a flag and the one-byte topics a 256-bit set.
//! - Longer topics are split by their first two bytes. The **top index** maps each
//!   two-byte prefix to the subtree holding the rest of those topics: a sorted list of
//!   prefixes searched by binary search below 16 384 topics, and from there on a direct
//!   table of 65 536 `u32` (256 KiB, a quarter of a byte per topic at a million), back to
//!   the list below 8 192 topics.
//! - Each subtree is a compressed radix tree whose nodes are variable-length **records**
//!   in one `Vec<u8>`, addressed by `u32` offsets (so a set is limited to 4 GiB). A record
//!   is a header byte (a topic ends here; it has children; its label length when below
//!   63, else 63 and the length in the next four bytes), its label, and if it has
//!   children: their count less one, their first bytes ("keys", sorted) and their offsets
//!   (`u32`, little-endian). A child's label leaves out its key, so a leaf, the most
//!   common record, costs one byte plus the rest of its topic. Every record is a topic or
//!   has two children or more, so there are at most `2 * len()` of them.
//! - Changes append new records and leave the old ones as garbage (only the topic bit is
//!   flipped in place). Once garbage exceeds a quarter of the live bytes, the reachable
//!   records are copied, depth first, into a fresh buffer: amortised, and unsubscribing
//!   gives memory back (an emptied set holds no heap memory). The buffer grows by a
//!   quarter rather than doubling. [`Subscriptions::shrink_to_fit`] compacts on demand:
//!   after a bulk load it also lays every subtree out contiguously, which speeds up
//!   matching (below).
//!
//! [`Subscriptions::matches`] checks the flag and the set, looks the prefix up, then walks
//! one path, stopping at the first record that ends a topic: O(length of the matched
//! path) whatever the number of topics. It never allocates and never panics, whatever
//! the body (every read is checked). [`Subscriptions::matches_batch`] matches many bodies
//! at once, advancing up to 16 walks in turn so that their cache misses overlap.
//!
//! # Figures
//!
//! Measured by `benches/subscriptions.rs` on a 2-core KVM guest (AMD EPYC, 32 MiB L3,
//! shared with other work, so ±15 %), ns per match, median of 15 rounds (ranges: two
//! runs); "batched" is 64 bodies per `matches_batch` call. Topics are 8–24 random letters
//! of 16, a quarter under shared prefixes; half the bodies start with a topic. "Hot"
//! matches the same 4096 bodies 32 times per round, "cold" 256 k distinct bodies once,
//! "Zipf" 256 k bodies on topics drawn by popularity (s = 1). At a million topics the
//! previous tree of boxed nodes with inline labels did 153 (hot), 312 (cold) and 210
//! (Zipf) one by one in the same conditions, in 133 bytes per topic.
//!
//! | topics | hot: single, batched | cold: single, batched | Zipf: single, batched |
//! |---|---|---|---|
//! | 10 | 6.9, 6.2 | 9.6, 8.9 | 15.3, 13.3 |
//! | 10 k | 50, 33 | 64, 48 | 65, 49 |
//! | 1 M, as subscribed | 110–121, 67–73 | 186–213, 125–144 | 139–160, 107–117 |
//! | 1 M after `shrink_to_fit` | 98–103, 59–61 | 170–202, 110–126 | 125–139, 92–106 |
//!
//! Memory, all heap blocks counted by the benchmark's allocator: 17 bytes per topic
//! after `shrink_to_fit` and 18–22 as subscribed (garbage and growth room, at most about
//! 1.6 times the compacted size), for a million topics of 16 bytes on average; 21–28 for
//! 10 and 10 k topics. For comparison, NNG keeps one 32-byte list node and a copy of each
//! topic, two `malloc` blocks (some 80 bytes); nanomsg's trie a `malloc` block per node.
//!
//! A million topics thus match 14–22 times slower than ten one by one, and 9–15 times
//! batched (against ten one by one), on uniformly random topics; 8–11 and 6–8 times with
//! Zipf popularity. That is far from 2x, which is out of reach for uniformly random
//! topics: the set is 17–22 MB, more than this machine's caches hold, so a walk meets at
//! least one miss to memory and its TLB miss: a dependent load into 16 MiB or more takes
//! 135–220 ns here (pointer chase), against under 10 ns for a whole match of ten topics.
//! Batching overlaps the misses only as far as the processor's reorder window reaches; a
//! step of a walk is some 60–100 instructions, so the misses of only two or three walks
//! overlap (1.3–1.6x): 4, 8, 16 or 32 walks in flight do about as well, and loading each
//! walk's next record before stepping any of them, or a 16-byte branch-free key search
//! and an 8-byte label compare, did not help. What does help is locality: compaction
//! puts each subtree's records next to each other, and popular topics (Zipf) stay cached.

use alloc::vec::Vec;

mod iter;
mod matching;
mod records;
mod top;
mod tree;

#[cfg(test)]
mod tests;

use core::fmt;

pub use self::iter::Iter;
use self::records::Rec;
use self::top::Top;

/// [`Subscriptions::unsubscribe`] was given a topic that is not subscribed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not subscribed to this topic")]
pub struct NotSubscribed;

/// The top index turns dense at this many topics, and sparse again below half of it.
const DENSE_AT: usize = 1 << 14;

/// A set of topics with prefix matching. See the module docs.
#[derive(Clone, Default)]
pub struct Subscriptions {
    /// Records (tree nodes), see the module docs. Offsets into it are `u32`.
    buf: Vec<u8>,
    /// Bytes of `buf` no longer reachable (relocated or removed records).
    garbage: usize,
    len: usize,
    /// Whether the empty topic is subscribed.
    empty: bool,
    /// One-byte topics, a bit per byte value.
    short: [u64; 4],
    /// The subtree of each two-byte prefix.
    top: Top,
}

impl Subscriptions {
    /// An empty set (matches nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of subscribed topics.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no topic is subscribed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    fn short_has(&self, byte: u8) -> bool {
        self.short[usize::from(byte >> 6)] & (1 << (byte & 63)) != 0
    }

    /// Adds `topic`. Returns false if it was already subscribed (nothing changes).
    ///
    /// # Panics
    ///
    /// If the set would grow beyond 4 GiB.
    pub fn subscribe(&mut self, topic: &[u8]) -> bool {
        let added = match *topic {
            [] => !core::mem::replace(&mut self.empty, true),
            [b] => {
                let had = self.short_has(b);
                self.short[usize::from(b >> 6)] |= 1 << (b & 63);
                !had
            }
            [b0, b1, ref rest @ ..] => self.insert(u16::from_be_bytes([b0, b1]), rest),
        };
        if added {
            self.len += 1;
            if self.len >= DENSE_AT {
                self.top.make_dense();
            }
        }
        self.tidy();
        added
    }

    /// Removes `topic`; [`NotSubscribed`] if it is not in the set.
    pub fn unsubscribe(&mut self, topic: &[u8]) -> Result<(), NotSubscribed> {
        match *topic {
            [] => {
                if !core::mem::replace(&mut self.empty, false) {
                    return Err(NotSubscribed);
                }
            }
            [b] => {
                if !self.short_has(b) {
                    return Err(NotSubscribed);
                }
                self.short[usize::from(b >> 6)] &= !(1 << (b & 63));
            }
            [b0, b1, ref rest @ ..] => self.remove(u16::from_be_bytes([b0, b1]), rest)?,
        }
        self.len -= 1;
        if self.len < DENSE_AT / 2 {
            self.top.make_sparse();
        }
        self.tidy();
        Ok(())
    }

    /// Rewrites the set into the least memory it needs, with each subtree laid out
    /// contiguously (which also speeds up matching). Subscribing and unsubscribing do
    /// this on their own once enough memory is wasted; call it after subscribing many
    /// topics at once to get the memory and locality of a freshly compacted set.
    pub fn shrink_to_fit(&mut self) {
        self.compact(0.0);
    }

    /// Whether exactly `topic` is subscribed.
    pub fn contains(&self, topic: &[u8]) -> bool {
        let [b0, b1, ref rest @ ..] = *topic else {
            return match topic.first() {
                None => self.empty,
                Some(&b) => self.short_has(b),
            };
        };
        let Some(mut at) = self.top.get(u16::from_be_bytes([b0, b1])) else {
            return false;
        };
        let mut rest = rest;
        loop {
            let r = Rec::parse(&self.buf, at as usize);
            let Some(tail) = rest.strip_prefix(&self.buf[r.label()]) else {
                return false;
            };
            let Some((&b, tail)) = tail.split_first() else {
                return r.terminal;
            };
            let Ok(i) = r.find(&self.buf, b) else {
                return false;
            };
            at = r.child(&self.buf, i);
            rest = tail;
        }
    }

    /// Removes every topic.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// Memory held by the set, in bytes: the struct, the record buffer's capacity and the
    /// top index (allocator overhead not included: the set makes at most three heap
    /// blocks).
    pub fn approx_memory_bytes(&self) -> usize {
        core::mem::size_of::<Self>() + self.buf.capacity() + self.top.heap_bytes()
    }

    /// Number of tree nodes (records): at most `2 * len()`.
    pub fn node_count(&self) -> usize {
        let mut count = 0;
        self.for_each_record(|_| count += 1);
        count
    }
}

impl<T: AsRef<[u8]>> FromIterator<T> for Subscriptions {
    fn from_iter<I: IntoIterator<Item = T>>(topics: I) -> Self {
        let mut set = Self::new();
        set.extend(topics);
        set
    }
}

impl<T: AsRef<[u8]>> Extend<T> for Subscriptions {
    fn extend<I: IntoIterator<Item = T>>(&mut self, topics: I) {
        for t in topics {
            self.subscribe(t.as_ref());
        }
    }
}

/// Two sets are equal when they hold the same topics (however their memory is laid out).
impl PartialEq for Subscriptions {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for Subscriptions {}

/// Hashes the topics, like [`PartialEq`], not the memory layout.
impl core::hash::Hash for Subscriptions {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.len.hash(state);
        for topic in self.iter() {
            topic.hash(state);
        }
    }
}

impl fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let topics: Vec<Vec<u8>> = self.iter().collect();
        f.debug_set()
            .entries(topics.iter().map(|t| crate::fmt::BytesDisplay(t)))
            .finish()
    }
}
