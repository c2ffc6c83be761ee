//! The records (tree nodes) of a [`Subscriptions`] in its byte buffer: their layout
//! (see the `subscriptions` module docs), parsing, appending and compaction.

use core::ops::Range;

use super::top::NONE;
use super::Subscriptions;
use alloc::vec::Vec;

/// Record header bit: the path ending here is a subscribed topic.
pub(super) const TERMINAL: u8 = 1;
/// Record header bit: the record has children (a count byte, keys and pointers follow).
pub(super) const KIDS: u8 = 2;
/// Header value (in the upper six bits) of a label whose length follows as a `u32`;
/// shorter labels keep their length in the header byte.
pub(super) const LONG: u8 = 63;

/// A parsed record header (see the `subscriptions` module docs for the byte layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Rec {
    /// Offset of the record.
    pub(super) at: usize,
    pub(super) terminal: bool,
    /// Offset and length of the label.
    pub(super) label: usize,
    pub(super) label_len: usize,
    /// Number of children.
    pub(super) n: usize,
    /// Offset of the keys (the pointers follow them).
    pub(super) keys: usize,
}

impl Rec {
    /// Parses the record at `at`, an offset taken from the structure itself (the match
    /// path, which sees peer bytes, reads records with checked accesses instead).
    pub(super) fn parse(buf: &[u8], at: usize) -> Self {
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

    pub(super) fn label(&self) -> Range<usize> {
        self.label..self.label + self.label_len
    }

    pub(super) fn end(&self) -> usize {
        self.keys + 5 * self.n
    }

    pub(super) fn size(&self) -> usize {
        self.end() - self.at
    }

    pub(super) fn key(&self, buf: &[u8], i: usize) -> u8 {
        buf[self.keys + i]
    }

    /// Offset of the pointer to child `i`.
    pub(super) fn ptr_pos(&self, i: usize) -> usize {
        self.keys + self.n + 4 * i
    }

    pub(super) fn child(&self, buf: &[u8], i: usize) -> u32 {
        u32_at(buf, self.ptr_pos(i))
    }

    pub(super) fn find(&self, buf: &[u8], byte: u8) -> Result<usize, usize> {
        buf[self.keys..self.keys + self.n].binary_search(&byte)
    }
}

/// The `u32` at `at` (a record's field: in bounds).
pub(super) fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

/// Where a new record's label bytes come from.
pub(super) enum Piece<'a> {
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
pub(super) enum Kids {
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

impl Subscriptions {
    /// Appends a record and returns its offset.
    pub(super) fn push_record(
        &mut self,
        terminal: bool,
        label: &[Piece<'_>],
        kids: &[Kids],
    ) -> u32 {
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
    pub(super) fn tidy(&mut self) {
        if self.garbage * 4 > self.buf.len() - self.garbage {
            self.compact(1.0 / 8.0);
        }
    }

    /// Copies the reachable records into a fresh buffer with room for `slack` times as
    /// many bytes more, depth first (a record's children and their subtrees right after
    /// it), and points the top index at the copies.
    pub(super) fn compact(&mut self, slack: f64) {
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

    /// Calls `f` on every reachable record, depth first.
    pub(super) fn for_each_record(&self, mut f: impl FnMut(&Rec)) {
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
}
