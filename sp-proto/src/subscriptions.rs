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

use std::fmt;
use std::ops::Range;

/// [`Subscriptions::unsubscribe`] was given a topic that is not subscribed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not subscribed to this topic")]
pub struct NotSubscribed;

/// Record header bit: the path ending here is a subscribed topic.
const TERMINAL: u8 = 1;
/// Record header bit: the record has children (a count byte, keys and pointers follow).
const KIDS: u8 = 2;
/// Header value (in the upper six bits) of a label whose length follows as a `u32`;
/// shorter labels keep their length in the header byte.
const LONG: u8 = 63;
/// An absent subtree in the dense top index.
const NONE: u32 = u32::MAX;
/// Entries of the dense top index: one per two-byte prefix.
const DENSE_LEN: usize = 1 << 16;
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

/// The index over the first two bytes of topics of two bytes or more: for each prefix,
/// the offset of the root record of the subtree holding the rest of those topics.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Top {
    /// Sorted prefixes (big-endian `u16`) and their roots, for small sets.
    Sparse { keys: Vec<u16>, roots: Vec<u32> },
    /// A root per prefix ([`NONE`] if absent), and the number present.
    Dense { roots: Box<[u32]>, count: usize },
}

impl Default for Top {
    fn default() -> Self {
        Self::Sparse {
            keys: Vec::new(),
            roots: Vec::new(),
        }
    }
}

impl Top {
    #[inline(always)]
    fn get(&self, key: u16) -> Option<u32> {
        match self {
            Self::Sparse { keys, roots } => {
                let i = keys.binary_search(&key).ok()?;
                roots.get(i).copied()
            }
            Self::Dense { roots, .. } => {
                roots.get(usize::from(key)).copied().filter(|&r| r != NONE)
            }
        }
    }

    /// Inserts or replaces the root of `key`.
    fn set(&mut self, key: u16, root: u32) {
        match self {
            Self::Sparse { keys, roots } => match keys.binary_search(&key) {
                Ok(i) => roots[i] = root,
                Err(i) => {
                    keys.insert(i, key);
                    roots.insert(i, root);
                }
            },
            Self::Dense { roots, count } => {
                let slot = &mut roots[usize::from(key)];
                *count += usize::from(*slot == NONE);
                *slot = root;
            }
        }
    }

    fn remove(&mut self, key: u16) {
        match self {
            Self::Sparse { keys, roots } => {
                if let Ok(i) = keys.binary_search(&key) {
                    keys.remove(i);
                    roots.remove(i);
                }
            }
            Self::Dense { roots, count } => {
                let slot = &mut roots[usize::from(key)];
                *count -= usize::from(*slot != NONE);
                *slot = NONE;
            }
        }
    }

    /// The first entry at or after position `from`, in key order: its position, key and
    /// root.
    fn next(&self, from: usize) -> Option<(usize, u16, u32)> {
        match self {
            Self::Sparse { keys, roots } => Some((from, *keys.get(from)?, *roots.get(from)?)),
            Self::Dense { roots, .. } => {
                let (i, &r) = roots
                    .iter()
                    .enumerate()
                    .skip(from)
                    .find(|&(_, &r)| r != NONE)?;
                Some((i, i as u16, r))
            }
        }
    }

    /// The root at a position returned by [`Top::next`].
    fn root_mut(&mut self, pos: usize) -> &mut u32 {
        match self {
            Self::Sparse { roots, .. } => &mut roots[pos],
            Self::Dense { roots, .. } => &mut roots[pos],
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        match self {
            Self::Sparse { keys, .. } => keys.len(),
            Self::Dense { count, .. } => *count,
        }
    }

    fn make_dense(&mut self) {
        if let Self::Sparse {
            keys,
            roots: sparse,
        } = self
        {
            let mut roots = vec![NONE; DENSE_LEN].into_boxed_slice();
            for (&k, &r) in keys.iter().zip(sparse.iter()) {
                roots[usize::from(k)] = r;
            }
            *self = Self::Dense {
                roots,
                count: keys.len(),
            };
        }
    }

    fn make_sparse(&mut self) {
        if let Self::Dense {
            roots: dense,
            count,
        } = self
        {
            let mut keys = Vec::with_capacity(*count);
            let mut roots = Vec::with_capacity(*count);
            for (k, &r) in dense.iter().enumerate() {
                if r != NONE {
                    keys.push(k as u16);
                    roots.push(r);
                }
            }
            *self = Self::Sparse { keys, roots };
        }
    }

    fn shrink_to_fit(&mut self) {
        if let Self::Sparse { keys, roots } = self {
            keys.shrink_to_fit();
            roots.shrink_to_fit();
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Self::Sparse { keys, roots } => keys.capacity() * 2 + roots.capacity() * 4,
            Self::Dense { roots, .. } => roots.len() * 4,
        }
    }
}

/// A parsed record header (see the module docs for the byte layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Rec {
    /// Offset of the record.
    at: usize,
    terminal: bool,
    /// Offset and length of the label.
    label: usize,
    label_len: usize,
    /// Number of children.
    n: usize,
    /// Offset of the keys (the pointers follow them).
    keys: usize,
}

impl Rec {
    /// Parses the record at `at`, an offset taken from the structure itself (the match
    /// path, which sees peer bytes, reads records with checked accesses instead).
    fn parse(buf: &[u8], at: usize) -> Self {
        let meta = buf[at];
        let (label, label_len) = if meta >> 2 == LONG {
            (at + 5, u32_at(buf, at + 1) as usize)
        } else {
            (at + 1, usize::from(meta >> 2))
        };
        let after = label + label_len;
        let (n, keys) = if meta & KIDS != 0 {
            (usize::from(buf[after]) + 1, after + 1)
        } else {
            (0, after)
        };
        Self {
            at,
            terminal: meta & TERMINAL != 0,
            label,
            label_len,
            n,
            keys,
        }
    }

    fn label(&self) -> Range<usize> {
        self.label..self.label + self.label_len
    }

    fn end(&self) -> usize {
        self.keys + 5 * self.n
    }

    fn size(&self) -> usize {
        self.end() - self.at
    }

    fn key(&self, buf: &[u8], i: usize) -> u8 {
        buf[self.keys + i]
    }

    /// Offset of the pointer to child `i`.
    fn ptr_pos(&self, i: usize) -> usize {
        self.keys + self.n + 4 * i
    }

    fn child(&self, buf: &[u8], i: usize) -> u32 {
        u32_at(buf, self.ptr_pos(i))
    }

    fn find(&self, buf: &[u8], byte: u8) -> Result<usize, usize> {
        buf[self.keys..self.keys + self.n].binary_search(&byte)
    }
}

/// The `u32` at `at` (a record's field: in bounds).
fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

/// The `u32` at `at`, if in bounds.
#[inline(always)]
fn get_u32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at + 4)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// Index of `byte` among sorted `keys`, if present.
#[inline(always)]
fn find_key(keys: &[u8], byte: u8) -> Option<usize> {
    keys.binary_search(&byte).ok()
}

fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Where a new record's label bytes come from.
enum Piece<'a> {
    /// Bytes already in the buffer (an old record's label).
    Own(Range<usize>),
    /// Bytes of a topic.
    Ext(&'a [u8]),
    Byte(u8),
}

impl Piece<'_> {
    fn len(&self) -> usize {
        match self {
            Self::Own(r) => r.len(),
            Self::Ext(s) => s.len(),
            Self::Byte(_) => 1,
        }
    }
}

/// Where a new record's children come from.
enum Kids {
    /// Children `range` of an existing record.
    Copy(Rec, Range<usize>),
    /// One child.
    One(u8, u32),
}

impl Kids {
    fn len(&self) -> usize {
        match self {
            Self::Copy(_, r) => r.len(),
            Self::One(..) => 1,
        }
    }
}

/// Where the pointer to a record is kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    /// In the top index, under this prefix.
    Top(u16),
    /// In the buffer, at this offset.
    Buf(usize),
}

/// One step of a match.
enum Walk<'b> {
    Done(bool),
    /// At the record at this offset, with this rest of the body to match.
    At(u32, &'b [u8]),
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
            [] => !std::mem::replace(&mut self.empty, true),
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
                if !std::mem::replace(&mut self.empty, false) {
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

    /// Inserts the topic `prefix ++ rest`; false if present.
    fn insert(&mut self, prefix: u16, rest: &[u8]) -> bool {
        let Some(mut at) = self.top.get(prefix) else {
            let leaf = self.push_record(true, &[Piece::Ext(rest)], &[]);
            self.top.set(prefix, leaf);
            return true;
        };
        let mut slot = Slot::Top(prefix);
        let mut rest = rest;
        loop {
            let r = Rec::parse(&self.buf, at as usize);
            let common = common_prefix_len(&self.buf[r.label()], rest);
            if common < r.label_len {
                // Split the label after `common` bytes: a new record holds the shared
                // part, the old record moves below it with the rest of its label.
                let cut = r.label + common;
                let old_key = self.buf[cut];
                let tail = self.push_record(
                    r.terminal,
                    &[Piece::Own(cut + 1..r.label().end)],
                    &[Kids::Copy(r, 0..r.n)],
                );
                let old = Kids::One(old_key, tail);
                let mid = match rest.get(common) {
                    None => self.push_record(true, &[Piece::Own(r.label..cut)], &[old]),
                    Some(&b) => {
                        let leaf = self.push_record(true, &[Piece::Ext(&rest[common + 1..])], &[]);
                        let new = Kids::One(b, leaf);
                        let kids = if b < old_key { [new, old] } else { [old, new] };
                        self.push_record(false, &[Piece::Own(r.label..cut)], &kids)
                    }
                };
                self.replace(slot, r, mid);
                return true;
            }
            rest = &rest[common..];
            let Some((&b, tail)) = rest.split_first() else {
                if r.terminal {
                    return false;
                }
                self.buf[r.at] |= TERMINAL;
                return true;
            };
            match r.find(&self.buf, b) {
                Ok(i) => {
                    slot = Slot::Buf(r.ptr_pos(i));
                    at = r.child(&self.buf, i);
                    rest = tail;
                }
                Err(i) => {
                    let leaf = self.push_record(true, &[Piece::Ext(tail)], &[]);
                    let moved = self.push_record(
                        r.terminal,
                        &[Piece::Own(r.label())],
                        &[
                            Kids::Copy(r, 0..i),
                            Kids::One(b, leaf),
                            Kids::Copy(r, i..r.n),
                        ],
                    );
                    self.replace(slot, r, moved);
                    return true;
                }
            }
        }
    }

    /// Removes the topic `prefix ++ rest`.
    fn remove(&mut self, prefix: u16, rest: &[u8]) -> Result<(), NotSubscribed> {
        let mut at = self.top.get(prefix).ok_or(NotSubscribed)?;
        let mut slot = Slot::Top(prefix);
        let mut parent = None;
        let mut rest = rest;
        let r = loop {
            let r = Rec::parse(&self.buf, at as usize);
            rest = rest
                .strip_prefix(&self.buf[r.label()])
                .ok_or(NotSubscribed)?;
            let Some((&b, tail)) = rest.split_first() else {
                if !r.terminal {
                    return Err(NotSubscribed);
                }
                break r;
            };
            let i = r.find(&self.buf, b).map_err(|_| NotSubscribed)?;
            parent = Some((r, i, slot));
            slot = Slot::Buf(r.ptr_pos(i));
            at = r.child(&self.buf, i);
            rest = tail;
        };
        match r.n {
            0 => {
                self.garbage += r.size();
                match parent {
                    None => self.top.remove(prefix),
                    // A parent that is not a topic keeps two children or more: with one
                    // left it is folded into it.
                    Some((p, i, pslot)) if !p.terminal && p.n == 2 => {
                        self.merge_child(pslot, p, 1 - i);
                    }
                    Some((p, i, pslot)) => {
                        let moved = self.push_record(
                            p.terminal,
                            &[Piece::Own(p.label())],
                            &[Kids::Copy(p, 0..i), Kids::Copy(p, i + 1..p.n)],
                        );
                        self.replace(pslot, p, moved);
                    }
                }
            }
            1 => self.merge_child(slot, r, 0),
            _ => self.buf[r.at] &= !TERMINAL,
        }
        Ok(())
    }

    /// Replaces the record `r` (no longer a topic itself) by its child `i`, whose label
    /// grows by `r`'s label and key.
    fn merge_child(&mut self, slot: Slot, r: Rec, i: usize) {
        let c = Rec::parse(&self.buf, r.child(&self.buf, i) as usize);
        let merged = self.push_record(
            c.terminal,
            &[
                Piece::Own(r.label()),
                Piece::Byte(r.key(&self.buf, i)),
                Piece::Own(c.label()),
            ],
            &[Kids::Copy(c, 0..c.n)],
        );
        self.garbage += c.size();
        self.replace(slot, r, merged);
    }

    /// Points `slot` (which held `old`) at the record `new`; `old` becomes garbage.
    fn replace(&mut self, slot: Slot, old: Rec, new: u32) {
        self.garbage += old.size();
        match slot {
            Slot::Top(prefix) => self.top.set(prefix, new),
            Slot::Buf(pos) => self.buf[pos..pos + 4].copy_from_slice(&new.to_le_bytes()),
        }
    }

    /// Appends a record and returns its offset.
    fn push_record(&mut self, terminal: bool, label: &[Piece<'_>], kids: &[Kids]) -> u32 {
        let label_len: usize = label.iter().map(Piece::len).sum();
        let n: usize = kids.iter().map(Kids::len).sum();
        let long = label_len >= usize::from(LONG);
        let size = 1 + 4 * usize::from(long) + label_len + if n > 0 { 1 + 5 * n } else { 0 };
        let at = self.buf.len();
        let at32 = u32::try_from(at + size)
            .ok()
            .filter(|&end| end < NONE)
            .map(|_| at as u32)
            .expect("subscription set larger than 4 GiB");
        let free = self.buf.capacity() - at;
        if free < size {
            // Grow by a quarter (not double): the arena is most of the set's memory.
            self.buf.reserve_exact(size.max(at / 4).max(64));
        }
        let len_field = if long { LONG } else { label_len as u8 };
        let kids_bit = if n > 0 { KIDS } else { 0 };
        self.buf
            .push(u8::from(terminal) | kids_bit | len_field << 2);
        if long {
            self.buf
                .extend_from_slice(&(label_len as u32).to_le_bytes());
        }
        for piece in label {
            match piece {
                Piece::Own(r) => self.buf.extend_from_within(r.clone()),
                Piece::Ext(s) => self.buf.extend_from_slice(s),
                Piece::Byte(b) => self.buf.push(*b),
            }
        }
        if n > 0 {
            self.buf.push((n - 1) as u8);
            for k in kids {
                match k {
                    Kids::Copy(r, range) => self
                        .buf
                        .extend_from_within(r.keys + range.start..r.keys + range.end),
                    Kids::One(key, _) => self.buf.push(*key),
                }
            }
            for k in kids {
                match k {
                    Kids::Copy(r, range) => self
                        .buf
                        .extend_from_within(r.ptr_pos(range.start)..r.ptr_pos(range.end)),
                    Kids::One(_, ptr) => self.buf.extend_from_slice(&ptr.to_le_bytes()),
                }
            }
        }
        debug_assert_eq!(self.buf.len(), at + size);
        at32
    }

    /// Compacts the buffer once garbage exceeds a quarter of the live bytes (amortised:
    /// making that much garbage took work in proportion to the copy). Measured on the
    /// benchmark, a half instead of a quarter saves about 15 % of the time to subscribe
    /// a million topics and costs about 25 % more memory.
    fn tidy(&mut self) {
        if self.garbage * 4 > self.buf.len() - self.garbage {
            self.compact(1.0 / 8.0);
        }
    }

    /// Copies the reachable records into a fresh buffer with room for `slack` times as
    /// many bytes more, depth first (a record's children and their subtrees right after
    /// it), and points the top index at the copies.
    fn compact(&mut self, slack: f64) {
        let live = self.buf.len() - self.garbage;
        let mut out = Vec::with_capacity(live + (live as f64 * slack) as usize);
        let mut stack: Vec<(u32, usize)> = Vec::new();
        let mut pos = 0;
        while let Some((i, _, root)) = self.top.next(pos) {
            *self.top.root_mut(i) = out.len() as u32;
            stack.push((root, usize::MAX));
            while let Some((old, patch)) = stack.pop() {
                let r = Rec::parse(&self.buf, old as usize);
                let new = out.len();
                out.extend_from_slice(&self.buf[r.at..r.end()]);
                if patch != usize::MAX {
                    out[patch..patch + 4].copy_from_slice(&(new as u32).to_le_bytes());
                }
                for k in (0..r.n).rev() {
                    stack.push((r.child(&self.buf, k), new + r.ptr_pos(k) - r.at));
                }
            }
            pos = i + 1;
        }
        debug_assert_eq!(out.len(), live);
        self.buf = out;
        self.garbage = 0;
        self.top.shrink_to_fit();
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

    /// The first step of a match: the empty and one-byte topics, then the top index.
    #[inline(always)]
    fn start<'b>(&self, body: &'b [u8]) -> Walk<'b> {
        if self.empty {
            return Walk::Done(true);
        }
        let [b0, b1, ref rest @ ..] = *body else {
            return Walk::Done(body.first().is_some_and(|&b| self.short_has(b)));
        };
        if self.short_has(b0) {
            return Walk::Done(true);
        }
        match self.top.get(u16::from_be_bytes([b0, b1])) {
            Some(at) => Walk::At(at, rest),
            None => Walk::Done(false),
        }
    }

    /// One record of a match. Never panics, whatever `rest` holds.
    #[inline(always)]
    fn step<'b>(&self, at: u32, rest: &'b [u8]) -> Walk<'b> {
        self.try_step(at, rest).unwrap_or(Walk::Done(false))
    }

    #[inline(always)]
    fn try_step<'b>(&self, at: u32, rest: &'b [u8]) -> Option<Walk<'b>> {
        let buf = &self.buf[..];
        let at = at as usize;
        let meta = *buf.get(at)?;
        let mut label = at + 1;
        let mut len = usize::from(meta >> 2);
        if len == usize::from(LONG) {
            len = get_u32(buf, label)? as usize;
            label += 4;
        }
        let rest = rest.strip_prefix(buf.get(label..label + len)?)?;
        if meta & TERMINAL != 0 {
            return Some(Walk::Done(true));
        }
        if meta & KIDS == 0 {
            return None;
        }
        let (&b, rest) = rest.split_first()?;
        let after = label + len;
        let n = usize::from(*buf.get(after)?) + 1;
        let i = find_key(buf.get(after + 1..after + 1 + n)?, b)?;
        let child = get_u32(buf, after + 1 + n + 4 * i)?;
        Some(Walk::At(child, rest))
    }

    /// Whether some subscribed topic is a byte-prefix of `body`. O(matched path length),
    /// independent of the number of topics; never allocates.
    #[inline]
    pub fn matches(&self, body: &[u8]) -> bool {
        let mut walk = self.start(body);
        loop {
            match walk {
                Walk::Done(found) => return found,
                Walk::At(at, rest) => walk = self.step(at, rest),
            }
        }
    }

    /// [`matches`](Self::matches) for many bodies at once: sets `out[i]` to whether
    /// `bodies[i]` matches. Up to 16 walks advance in turn, one record each per round, so
    /// that the processor overlaps their cache misses instead of waiting for each in
    /// order; with a large set this costs less per body than one `matches` call per body
    /// (see the module docs for figures). Never allocates.
    ///
    /// # Panics
    ///
    /// If `out` and `bodies` differ in length.
    pub fn matches_batch<B: AsRef<[u8]>>(&self, bodies: &[B], out: &mut [bool]) {
        /// Walks in flight. Measured: 4 to 32 all do about as well; 16 slightly best.
        const LANES: usize = 16;
        /// Below this many bytes of records the tree sits in the L1 cache: there are
        /// no misses to overlap and one walk after another is cheaper.
        const SMALL: usize = 16 * 1024;
        assert_eq!(bodies.len(), out.len(), "one result per body");
        if self.buf.len() <= SMALL {
            for (body, out) in bodies.iter().zip(out) {
                *out = self.matches(body.as_ref());
            }
        } else {
            self.matches_interleaved::<LANES, B>(bodies, out);
        }
    }

    /// The interleaved walks of [`matches_batch`](Self::matches_batch).
    fn matches_interleaved<const LANES: usize, B: AsRef<[u8]>>(
        &self,
        bodies: &[B],
        out: &mut [bool],
    ) {
        // Walks in flight: body index, record, rest of the body.
        let mut lanes: [(usize, u32, &[u8]); LANES] = [(0, 0, &[]); LANES];
        let mut live = 0;
        let mut next = 0;
        loop {
            while live < LANES && next < bodies.len() {
                match self.start(bodies[next].as_ref()) {
                    Walk::Done(found) => out[next] = found,
                    Walk::At(at, rest) => {
                        lanes[live] = (next, at, rest);
                        live += 1;
                    }
                }
                next += 1;
            }
            if live == 0 {
                return;
            }
            let mut i = 0;
            while i < live {
                let (body, at, rest) = lanes[i];
                match self.step(at, rest) {
                    Walk::At(at, rest) => {
                        lanes[i] = (body, at, rest);
                        i += 1;
                    }
                    Walk::Done(found) => {
                        out[body] = found;
                        live -= 1;
                        lanes[i] = lanes[live];
                    }
                }
            }
        }
    }

    /// The subscribed topics in ascending byte order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            set: self,
            started: false,
            next_short: 0,
            next_top: 0,
            stack: Vec::new(),
            topic: Vec::new(),
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
        std::mem::size_of::<Self>() + self.buf.capacity() + self.top.heap_bytes()
    }

    /// Calls `f` on every reachable record, depth first.
    fn for_each_record(&self, mut f: impl FnMut(&Rec)) {
        let mut stack = Vec::new();
        let mut pos = 0;
        while let Some((i, _, root)) = self.top.next(pos) {
            stack.push(root);
            while let Some(at) = stack.pop() {
                let r = Rec::parse(&self.buf, at as usize);
                f(&r);
                stack.extend((0..r.n).rev().map(|k| r.child(&self.buf, k)));
            }
            pos = i + 1;
        }
    }

    /// Number of tree nodes (records): at most `2 * len()`.
    pub fn node_count(&self) -> usize {
        let mut count = 0;
        self.for_each_record(|_| count += 1);
        count
    }
}

/// Iterator over the topics of a [`Subscriptions`], in ascending order (each topic is
/// rebuilt into a fresh `Vec`).
#[derive(Debug)]
pub struct Iter<'a> {
    set: &'a Subscriptions,
    /// Whether the empty topic was considered.
    started: bool,
    /// The next one-byte topic to consider (256: none left).
    next_short: usize,
    /// The next position in the top index.
    next_top: usize,
    /// Records still to visit, with the length of the topic above each and the key
    /// leading to it (none for a subtree root).
    stack: Vec<(u32, usize, Option<u8>)>,
    topic: Vec<u8>,
}

impl Iterator for Iter<'_> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        let set = self.set;
        loop {
            // Pre-order, children in key order: a topic sorts before every topic it
            // prefixes.
            if let Some((at, above, key)) = self.stack.pop() {
                let r = Rec::parse(&set.buf, at as usize);
                self.topic.truncate(above);
                self.topic.extend(key);
                self.topic.extend_from_slice(&set.buf[r.label()]);
                let here = self.topic.len();
                self.stack.extend(
                    (0..r.n)
                        .rev()
                        .map(|i| (r.child(&set.buf, i), here, Some(r.key(&set.buf, i)))),
                );
                if r.terminal {
                    return Some(self.topic.clone());
                }
                continue;
            }
            if !self.started {
                self.started = true;
                if set.empty {
                    return Some(Vec::new());
                }
            }
            let next = set.top.next(self.next_top);
            // A one-byte topic sorts before the longer ones it prefixes.
            let first = next.map_or(255, |(_, key, _)| usize::from(key >> 8));
            while self.next_short <= first {
                let b = self.next_short as u8;
                self.next_short += 1;
                if set.short_has(b) {
                    return Some(vec![b]);
                }
            }
            let (pos, key, root) = next?;
            self.next_top = pos + 1;
            self.topic.clear();
            self.topic.extend_from_slice(&key.to_be_bytes());
            self.stack.push((root, 2, None));
        }
    }
}

impl<'a> IntoIterator for &'a Subscriptions {
    type Item = Vec<u8>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
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
impl std::hash::Hash for Subscriptions {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    /// Checks the structural invariants: every record is a topic or has two children or
    /// more, keys are strictly ascending, the buffer holds exactly the reachable records
    /// plus the counted garbage (which stays under the compaction threshold), the cached
    /// length, and the top index's mode.
    fn check_shape(s: &Subscriptions) {
        let mut live = 0;
        let mut roots = 0;
        let mut pos = 0;
        while let Some((i, _, _)) = s.top.next(pos) {
            roots += 1;
            pos = i + 1;
        }
        assert_eq!(roots, s.top.len());
        let mut topics = usize::from(s.empty)
            + s.short
                .iter()
                .map(|w| w.count_ones() as usize)
                .sum::<usize>();
        s.for_each_record(|r| {
            live += r.size();
            topics += usize::from(r.terminal);
            assert!(r.terminal || r.n >= 2, "uncompressed: {r:?}");
            let keys = &s.buf[r.keys..r.keys + r.n];
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys sorted");
        });
        assert_eq!(topics, s.len());
        assert_eq!(live + s.garbage, s.buf.len(), "garbage accounted");
        assert!(s.garbage * 4 <= live, "compacted in time");
        assert!(s.node_count() <= 2 * s.len());
        let dense = matches!(s.top, Top::Dense { .. });
        if s.len() >= DENSE_AT {
            assert!(dense);
        } else if s.len() < DENSE_AT / 2 {
            assert!(!dense);
        }
    }

    /// The label of the only record of the subtree under `prefix`.
    fn single_label(s: &Subscriptions, prefix: &[u8; 2]) -> Vec<u8> {
        let at = s.top.get(u16::from_be_bytes(*prefix)).unwrap();
        let r = Rec::parse(&s.buf, at as usize);
        assert_eq!(r.n, 0);
        s.buf[r.label()].to_vec()
    }

    #[test]
    fn prefix_matching() {
        let mut s = Subscriptions::new();
        assert!(!s.matches(b""), "empty set matches nothing");
        assert!(!s.matches(b"anything"));
        assert!(s.subscribe(b"topic"));
        assert!(s.matches(b"topic"));
        assert!(s.matches(b"topic.x"));
        assert!(s.matches(b"topical"), "no separator: a plain byte prefix");
        assert!(!s.matches(b"topi"));
        assert!(!s.matches(b"tOpic"));
        assert!(!s.matches(b""));
        assert!(s.subscribe(b"to"));
        assert!(s.matches(b"tofu"));
        assert!(s.subscribe(b"tea"));
        assert!(s.matches(b"teapot"));
        assert!(!s.matches(b"te"));
        assert!(s.subscribe(b"x"));
        assert!(s.matches(b"x"));
        assert!(s.matches(b"xyz"));
        assert!(!s.matches(b"y"));
        check_shape(&s);
    }

    #[test]
    fn empty_topic_matches_everything() {
        let mut s = Subscriptions::new();
        assert!(s.subscribe(b""));
        assert!(s.matches(b""));
        assert!(s.matches(b"\x00\xff"));
        assert!(s.contains(b""));
        assert_eq!(s.unsubscribe(b""), Ok(()));
        assert!(!s.matches(b"x"));
        assert!(s.is_empty());
    }

    #[test]
    fn set_semantics_and_errors() {
        let mut s = Subscriptions::new();
        assert!(s.subscribe(b"a"));
        assert!(!s.subscribe(b"a"), "second subscribe is a no-op");
        assert_eq!(s.len(), 1);
        assert_eq!(s.unsubscribe(b"a"), Ok(()));
        assert_eq!(
            s.unsubscribe(b"a"),
            Err(NotSubscribed),
            "one unsubscribe removes it"
        );
        assert_eq!(s.unsubscribe(b"zz"), Err(NotSubscribed));
        s.subscribe(b"abc");
        assert_eq!(
            s.unsubscribe(b"ab"),
            Err(NotSubscribed),
            "a prefix is not a topic"
        );
        assert_eq!(s.unsubscribe(b"a"), Err(NotSubscribed));
        assert_eq!(s.unsubscribe(b"abcd"), Err(NotSubscribed));
        assert!(!s.contains(b"ab"));
        assert!(!s.contains(b"a"));
        assert!(s.contains(b"abc"));
    }

    #[test]
    fn removal_recompresses_and_frees() {
        let mut s = Subscriptions::new();
        for t in ["abcd", "abce", "ab", "abx", "b", "abcdefgh"] {
            s.subscribe(t.as_bytes());
        }
        check_shape(&s);
        for t in ["abce", "ab", "abx", "b", "abcdefgh"] {
            s.unsubscribe(t.as_bytes()).unwrap();
            check_shape(&s);
        }
        // Back to a single record below the top index.
        assert_eq!(s.node_count(), 1);
        assert_eq!(single_label(&s, b"ab"), b"cd");
        s.unsubscribe(b"abcd").unwrap();
        assert_eq!(
            s,
            Subscriptions::new(),
            "fully emptied tree equals a new one"
        );
        assert_eq!(s.buf.capacity(), 0, "memory given back");
        assert_eq!(
            s.approx_memory_bytes(),
            Subscriptions::new().approx_memory_bytes()
        );
    }

    #[test]
    fn iter_is_sorted() {
        let topics: [&[u8]; 9] = [
            b"b", b"", b"abc", b"ab", b"a\x00", b"\xff", b"abd", b"a", b"\x00",
        ];
        let s: Subscriptions = topics.iter().collect();
        let mut want: Vec<Vec<u8>> = topics.iter().map(|t| t.to_vec()).collect();
        want.sort();
        assert_eq!(s.iter().collect::<Vec<_>>(), want);
        assert_eq!(
            format!("{s:?}"),
            r#"{"", [00], "a", [61 00], "ab", "abc", "abd", "b", [ff]}"#
        );
    }

    #[test]
    fn long_labels_and_wide_nodes() {
        let long: Vec<u8> = (0..100).collect();
        let mut s = Subscriptions::new();
        for b in 0..=255u8 {
            let mut t = long.clone();
            t.push(b);
            assert!(s.subscribe(&t));
            assert!(s.subscribe(&[b, b]));
            assert!(s.subscribe(&[7, 7, b]));
        }
        check_shape(&s);
        assert_eq!(s.len(), 768);
        assert!(s.matches(&[7, 7, 1]));
        assert!(s.matches(&[8, 8]));
        assert!(!s.matches(&[7, 8]));
        assert!(s.matches(&[long.as_slice(), &[200, 1]].concat()));
        assert!(!s.matches(&long));
        assert!(!s.matches(&long[..60]));
        for b in 0..=255u8 {
            let mut t = long.clone();
            t.push(b);
            s.unsubscribe(&t).unwrap();
            s.unsubscribe(&[7, 7, b]).unwrap();
            check_shape(&s);
        }
        for b in 0..=255u8 {
            s.unsubscribe(&[b, b]).unwrap();
        }
        assert_eq!(s, Subscriptions::new());
    }

    #[test]
    fn top_index_turns_dense_and_back() {
        let topic = |i: usize| format!("{:x}.{i}", i % 4096).into_bytes();
        let n = DENSE_AT + 100;
        let mut s: Subscriptions = (0..n).map(topic).collect();
        check_shape(&s);
        assert!(matches!(s.top, Top::Dense { .. }));
        assert!(s.matches(b"abc.2748xyz"));
        assert!(!s.matches(b"abc.27"));
        for i in 0..n - 10 {
            s.unsubscribe(&topic(i)).unwrap();
            if i % 1000 == 0 {
                check_shape(&s);
            }
        }
        check_shape(&s);
        assert!(matches!(s.top, Top::Sparse { .. }));
        let want: BTreeSet<Vec<u8>> = (n - 10..n).map(topic).collect();
        assert_eq!(s.iter().collect::<BTreeSet<_>>(), want);
    }

    #[test]
    fn shrink_to_fit_keeps_the_topics() {
        let mut s: Subscriptions = ["news.a", "news.b", "x", "", "log"].iter().collect();
        let before: Vec<_> = s.iter().collect();
        s.shrink_to_fit();
        check_shape(&s);
        assert_eq!(s.garbage, 0);
        assert_eq!(s.buf.capacity(), s.buf.len());
        assert_eq!(s.iter().collect::<Vec<_>>(), before);
    }

    #[test]
    fn batch_matches_like_single() {
        let s: Subscriptions = ["", "a"].iter().collect();
        let mut out = [false; 3];
        s.matches_batch(&[&b""[..], b"zz", b"a"], &mut out);
        assert_eq!(out, [true; 3]);
        let s: Subscriptions = ["ab", "abcdef", "b"].iter().collect();
        let bodies: Vec<&[u8]> = vec![
            b"", b"a", b"ab", b"abc", b"b", b"bb", b"c", b"abcdefg", b"x", b"abz", b"ba",
        ];
        let mut out = vec![false; bodies.len()];
        s.matches_batch(&bodies, &mut out);
        let want: Vec<bool> = bodies.iter().map(|b| s.matches(b)).collect();
        assert_eq!(out, want);
        assert_eq!(
            out,
            [false, false, true, true, true, true, false, true, false, true, true]
        );
        s.matches_batch::<&[u8]>(&[], &mut []);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Subscribe(Vec<u8>),
        Unsubscribe(Vec<u8>),
        Matches(Vec<u8>),
        MatchesBatch(Vec<Vec<u8>>),
        Shrink,
    }

    fn small_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'c')], 0..max)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => small_bytes(5).prop_map(Op::Subscribe),
            2 => small_bytes(5).prop_map(Op::Unsubscribe),
            3 => small_bytes(7).prop_map(Op::Matches),
            1 => proptest::collection::vec(small_bytes(7), 0..20).prop_map(Op::MatchesBatch),
            1 => Just(Op::Shrink),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_btreeset(ops in proptest::collection::vec(op(), 0..80)) {
            let mut s = Subscriptions::new();
            let mut model = BTreeSet::<Vec<u8>>::new();
            for op in ops {
                match op {
                    Op::Subscribe(t) => {
                        prop_assert_eq!(s.subscribe(&t), model.insert(t));
                    }
                    Op::Unsubscribe(t) => {
                        let want = if model.remove(&t) { Ok(()) } else { Err(NotSubscribed) };
                        prop_assert_eq!(s.unsubscribe(&t), want);
                    }
                    Op::Matches(body) => {
                        let want = model.iter().any(|t| body.starts_with(t));
                        prop_assert_eq!(s.matches(&body), want);
                    }
                    Op::MatchesBatch(bodies) => {
                        let mut out = vec![false; bodies.len()];
                        s.matches_batch(&bodies, &mut out);
                        let want: Vec<bool> = bodies
                            .iter()
                            .map(|b| model.iter().any(|t| b.starts_with(t)))
                            .collect();
                        prop_assert_eq!(out, want);
                    }
                    Op::Shrink => s.shrink_to_fit(),
                }
                check_shape(&s);
                prop_assert_eq!(s.len(), model.len());
                prop_assert_eq!(s.iter().collect::<Vec<_>>(), model.iter().cloned().collect::<Vec<_>>());
                for t in &model {
                    prop_assert!(s.contains(t));
                }
            }
            // Unsubscribing everything leaves no garbage behind.
            for t in &model {
                s.unsubscribe(t).unwrap();
            }
            prop_assert_eq!(s.buf.capacity(), 0);
            prop_assert_eq!(s, Subscriptions::new());
        }
    }

    /// A topic over a small alphabet (so that prefixes collide), sometimes after a long
    /// run of one letter (labels longer than a header byte can hold).
    fn topic() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => small_bytes(6),
            1 => (60usize..70, small_bytes(3)).prop_map(|(n, tail)| {
                let mut t = vec![b'a'; n];
                t.extend(tail);
                t
            }),
        ]
    }

    #[derive(Clone, Debug)]
    enum ModelOp {
        Subscribe(Vec<u8>),
        Unsubscribe(Vec<u8>),
        Match(Vec<Vec<u8>>),
        Shrink,
    }

    fn model_op() -> impl Strategy<Value = ModelOp> {
        let body = (topic(), small_bytes(4)).prop_map(|(mut t, tail)| {
            t.extend(tail);
            t
        });
        prop_oneof![
            4 => topic().prop_map(ModelOp::Subscribe),
            3 => topic().prop_map(ModelOp::Unsubscribe),
            3 => proptest::collection::vec(body, 0..40).prop_map(ModelOp::Match),
            1 => Just(ModelOp::Shrink),
        ]
    }

    proptest! {
        /// The set, `matches`, `matches_batch` and the interleaved walks (whatever the
        /// number of lanes) against a plain list of topics.
        #[test]
        fn agrees_with_a_topic_list(ops in proptest::collection::vec(model_op(), 0..120)) {
            let mut s = Subscriptions::new();
            let mut model: Vec<Vec<u8>> = Vec::new();
            for op in ops {
                match op {
                    ModelOp::Subscribe(t) => {
                        let new = !model.contains(&t);
                        if new {
                            model.push(t.clone());
                        }
                        prop_assert_eq!(s.subscribe(&t), new);
                    }
                    ModelOp::Unsubscribe(t) => {
                        let want = match model.iter().position(|m| *m == t) {
                            Some(i) => {
                                model.swap_remove(i);
                                Ok(())
                            }
                            None => Err(NotSubscribed),
                        };
                        prop_assert_eq!(s.unsubscribe(&t), want);
                    }
                    ModelOp::Match(bodies) => {
                        let want: Vec<bool> = bodies
                            .iter()
                            .map(|b| model.iter().any(|t| b.starts_with(t)))
                            .collect();
                        let single: Vec<bool> = bodies.iter().map(|b| s.matches(b)).collect();
                        prop_assert_eq!(&single, &want);
                        let mut out = vec![false; bodies.len()];
                        s.matches_batch(&bodies, &mut out);
                        prop_assert_eq!(&out, &want);
                        let mut out = vec![false; bodies.len()];
                        s.matches_interleaved::<1, _>(&bodies, &mut out);
                        prop_assert_eq!(&out, &want);
                        let mut out = vec![false; bodies.len()];
                        s.matches_interleaved::<3, _>(&bodies, &mut out);
                        prop_assert_eq!(&out, &want);
                        let mut out = vec![false; bodies.len()];
                        s.matches_interleaved::<16, _>(&bodies, &mut out);
                        prop_assert_eq!(&out, &want);
                    }
                    ModelOp::Shrink => s.shrink_to_fit(),
                }
                check_shape(&s);
                prop_assert_eq!(s.len(), model.len());
            }
            let mut sorted = model.clone();
            sorted.sort();
            prop_assert_eq!(s.iter().collect::<Vec<_>>(), sorted);
        }
    }
}
