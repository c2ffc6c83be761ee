//! Matching message bodies against a [`Subscriptions`], one at a time or many
//! interleaved. Reads records with checked accesses only: bodies come from peers.

use super::records::{KIDS, LONG, TERMINAL};
use super::Subscriptions;

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

/// One step of a match.
enum Walk<'b> {
    Done(bool),
    /// At the record at this offset, with this rest of the body to match.
    At(u32, &'b [u8]),
}

impl Subscriptions {
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
    pub(super) fn matches_interleaved<const LANES: usize, B: AsRef<[u8]>>(
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
}
