//! Iterating the topics of a [`Subscriptions`] in ascending byte order.

use super::records::Rec;
use super::Subscriptions;
use alloc::vec;
use alloc::vec::Vec;

impl Subscriptions {
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
