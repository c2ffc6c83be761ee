//! The subscription set of a SUB socket: a compressed radix tree over topics.
//!
//! A topic is a byte string; a message matches when some subscribed topic is a byte-prefix
//! of its body (no separator, wire-facts §8). The empty topic matches every message. The set
//! has set semantics (as NNG; nanomsg reference-counts): subscribing twice is a no-op and
//! one unsubscribe removes the topic; unsubscribing an unknown topic is a typed error.
//!
//! # Shape
//!
//! Each edge is labelled with a non-empty byte string and every node knows whether the
//! path leading to it is a subscribed topic ("terminal"). The tree is kept compressed:
//! apart from the root, a node that is not terminal has at least two children, so the
//! number of nodes is below twice the number of topics and removing topics gives the
//! memory back. Children are kept sorted by the first byte of their label; those first
//! bytes form a separate key string searched by binary search. Labels and key strings of
//! up to 22 bytes are stored inside the node, so one step of a match usually touches one
//! node and nothing else. Measured on the benchmark (`benches/subscriptions.rs`), this
//! layout matched 1 M topics about 25 % faster than heap-allocated labels and keys; a
//! branch-free rank over the keys was slower than binary search. There is no 256-entry
//! index for wide nodes: only the few nodes with more than 22 children would use it (their
//! keys go to the heap, at most 256 bytes searched in 8 probes), which is not where the
//! time goes; a match is bound by memory latency, one node per step.
//!
//! [`Subscriptions::matches`] walks one root-to-leaf path and stops at the first terminal
//! node, so it costs O(length of the matched path) whatever the number of topics, and
//! never allocates.

use std::fmt;

/// [`Subscriptions::unsubscribe`] was given a topic that is not subscribed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not subscribed to this topic")]
pub struct NotSubscribed;

/// A set of topics with prefix matching. See the module docs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Subscriptions {
    root: Node,
    len: usize,
}

/// A short byte string stored inline (no allocation, no pointer to chase) up to
/// [`SmallBytes::INLINE`] bytes, on the heap beyond. Used for edge labels and child keys,
/// so that one step of a match usually touches a single node.
#[derive(Clone)]
enum SmallBytes {
    Inline { len: u8, buf: [u8; Self::INLINE] },
    Heap(Box<[u8]>),
}

impl SmallBytes {
    const INLINE: usize = 22;

    fn heap_bytes(&self) -> usize {
        match self {
            Self::Inline { .. } => 0,
            Self::Heap(b) => b.len(),
        }
    }

    /// Inserts `byte` at index `at`.
    fn insert(&mut self, at: usize, byte: u8) {
        let mut v = Vec::with_capacity(self.len() + 1);
        v.extend_from_slice(&self[..at]);
        v.push(byte);
        v.extend_from_slice(&self[at..]);
        *self = Self::from(&v[..]);
    }

    /// Removes the byte at index `at`.
    fn remove(&mut self, at: usize) {
        let mut v = self.to_vec();
        v.remove(at);
        *self = Self::from(&v[..]);
    }
}

impl Default for SmallBytes {
    fn default() -> Self {
        Self::Inline {
            len: 0,
            buf: [0; Self::INLINE],
        }
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(bytes: &[u8]) -> Self {
        if bytes.len() <= Self::INLINE {
            let mut buf = [0; Self::INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            Self::Inline {
                len: bytes.len() as u8,
                buf,
            }
        } else {
            Self::Heap(bytes.into())
        }
    }
}

impl std::ops::Deref for SmallBytes {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Self::Inline { len, buf } => &buf[..usize::from(*len)],
            Self::Heap(b) => b,
        }
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for SmallBytes {}

#[derive(Clone, Default, PartialEq, Eq)]
struct Node {
    /// The bytes on the edge from the parent (empty only at the root).
    label: SmallBytes,
    /// Whether the path ending here is a subscribed topic.
    terminal: bool,
    /// `keys[i] == children[i].label[0]`, sorted ascending.
    keys: SmallBytes,
    children: Vec<Self>,
}

impl Node {
    fn leaf(label: &[u8]) -> Self {
        Self {
            label: label.into(),
            terminal: true,
            keys: SmallBytes::default(),
            children: Vec::new(),
        }
    }

    /// Index of the child whose label starts with `byte`.
    #[inline]
    fn find(&self, byte: u8) -> Result<usize, usize> {
        self.keys.binary_search(&byte)
    }

    #[inline]
    fn child(&self, byte: u8) -> Option<&Self> {
        self.find(byte).ok().map(|i| &self.children[i])
    }

    fn insert_child(&mut self, at: usize, child: Self) {
        self.keys.insert(at, child.label[0]);
        self.children.insert(at, child);
    }

    fn remove_child(&mut self, at: usize) -> Self {
        self.keys.remove(at);
        self.children.remove(at)
    }

    /// Folds a non-terminal node's only child into it (re-compression after a removal).
    fn merge_only_child(&mut self) {
        debug_assert!(!self.terminal && self.children.len() == 1);
        let Some(child) = self.children.pop() else {
            return;
        };
        let mut label = Vec::with_capacity(self.label.len() + child.label.len());
        label.extend_from_slice(&self.label);
        label.extend_from_slice(&child.label);
        self.label = SmallBytes::from(&label[..]);
        self.terminal = child.terminal;
        self.keys = child.keys;
        self.children = child.children;
    }

    /// Heap bytes owned by this node (not counting its own struct), recursively.
    fn heap_bytes(&self) -> usize {
        self.label.heap_bytes()
            + self.keys.heap_bytes()
            + self.children.capacity() * std::mem::size_of::<Self>()
            + self.children.iter().map(Self::heap_bytes).sum::<usize>()
    }

    fn count(&self) -> usize {
        1 + self.children.iter().map(Self::count).sum::<usize>()
    }
}

fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
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

    /// Adds `topic`. Returns false if it was already subscribed (nothing changes).
    pub fn subscribe(&mut self, topic: &[u8]) -> bool {
        let mut node = &mut self.root;
        let mut rest = topic;
        loop {
            let Some(&first) = rest.first() else {
                if node.terminal {
                    return false;
                }
                node.terminal = true;
                self.len += 1;
                return true;
            };
            let at = match node.find(first) {
                Ok(at) => at,
                Err(at) => {
                    node.insert_child(at, Node::leaf(rest));
                    self.len += 1;
                    return true;
                }
            };
            let child = &mut node.children[at];
            let common = common_prefix_len(&child.label, rest);
            if common < child.label.len() {
                // Split the edge: `child` keeps the tail of its label under a new node
                // holding the shared part.
                let mut tail = std::mem::take(child);
                let shared = SmallBytes::from(&tail.label[..common]);
                tail.label = SmallBytes::from(&tail.label[common..]);
                let mut mid = Node {
                    label: shared,
                    terminal: false,
                    keys: SmallBytes::default(),
                    children: Vec::with_capacity(2),
                };
                mid.insert_child(0, tail);
                let rest = &rest[common..];
                match rest.first() {
                    None => mid.terminal = true,
                    Some(&b) => {
                        let pos = usize::from(mid.keys[0] < b);
                        mid.insert_child(pos, Node::leaf(rest));
                    }
                }
                *child = mid;
                self.len += 1;
                return true;
            }
            rest = &rest[common..];
            node = child;
        }
    }

    /// Removes `topic`; [`NotSubscribed`] if it is not in the set.
    pub fn unsubscribe(&mut self, topic: &[u8]) -> Result<(), NotSubscribed> {
        // First find the path (child indices), then fix up the last two nodes.
        let mut path = Vec::new();
        let mut node = &self.root;
        let mut rest = topic;
        while let Some(&first) = rest.first() {
            let at = node.find(first).map_err(|_| NotSubscribed)?;
            let child = &node.children[at];
            rest = rest.strip_prefix(&*child.label).ok_or(NotSubscribed)?;
            path.push(at);
            node = child;
        }
        if !node.terminal {
            return Err(NotSubscribed);
        }
        self.len -= 1;
        let Some((&last, up)) = path.split_last() else {
            self.root.terminal = false;
            return Ok(());
        };
        let mut parent = &mut self.root;
        for &i in up {
            parent = &mut parent.children[i];
        }
        let is_root = up.is_empty();
        let target = &mut parent.children[last];
        target.terminal = false;
        match target.children.len() {
            0 => {
                parent.remove_child(last);
                if !is_root && !parent.terminal && parent.children.len() == 1 {
                    parent.merge_only_child();
                }
            }
            1 => target.merge_only_child(),
            _ => {}
        }
        Ok(())
    }

    /// Whether exactly `topic` is subscribed.
    pub fn contains(&self, topic: &[u8]) -> bool {
        let mut node = &self.root;
        let mut rest = topic;
        while let Some(&first) = rest.first() {
            let Some(child) = node.child(first) else {
                return false;
            };
            let Some(tail) = rest.strip_prefix(&*child.label) else {
                return false;
            };
            rest = tail;
            node = child;
        }
        node.terminal
    }

    /// Whether some subscribed topic is a byte-prefix of `body`. O(matched path length),
    /// independent of the number of topics; never allocates.
    #[inline]
    pub fn matches(&self, body: &[u8]) -> bool {
        let mut node = &self.root;
        let mut rest = body;
        loop {
            if node.terminal {
                return true;
            }
            let Some(&first) = rest.first() else {
                return false;
            };
            let Some(child) = node.child(first) else {
                return false;
            };
            let Some(tail) = rest.strip_prefix(&*child.label) else {
                return false;
            };
            rest = tail;
            node = child;
        }
    }

    /// The subscribed topics in ascending byte order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            stack: vec![(&self.root, 0)],
            buf: Vec::new(),
        }
    }

    /// Removes every topic.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// Approximate memory held by the set, in bytes: the tree's node structs, labels and
    /// child arrays (allocator overhead not included).
    pub fn approx_memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.root.heap_bytes()
    }

    /// Number of tree nodes, the root included (at most `2 * len() + 1`).
    pub fn node_count(&self) -> usize {
        self.root.count()
    }
}

/// Iterator over the topics of a [`Subscriptions`], in ascending order (each topic is
/// rebuilt into a fresh `Vec`).
#[derive(Debug)]
pub struct Iter<'a> {
    /// Nodes still to visit, with the length of the topic prefix above each.
    stack: Vec<(&'a Node, usize)>,
    buf: Vec<u8>,
}

impl Iterator for Iter<'_> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        // Pre-order, children in key order: a topic sorts before every topic it prefixes.
        while let Some((node, prefix_len)) = self.stack.pop() {
            self.buf.truncate(prefix_len);
            self.buf.extend_from_slice(&node.label);
            let here = self.buf.len();
            self.stack
                .extend(node.children.iter().rev().map(|c| (c, here)));
            if node.terminal {
                return Some(self.buf.clone());
            }
        }
        None
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

impl fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let topics: Vec<Vec<u8>> = self.iter().collect();
        f.debug_set()
            .entries(topics.iter().map(|t| crate::BytesDisplay(t)))
            .finish()
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("label", &crate::BytesDisplay(&self.label))
            .field("terminal", &self.terminal)
            .field("children", &self.children)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    /// Checks the structural invariants: keys mirror children, sorted, non-empty labels
    /// below the root, no non-terminal node with fewer than two children (except the root),
    /// and the cached length.
    fn check_shape(s: &Subscriptions) {
        fn walk(n: &Node, is_root: bool) -> usize {
            assert_eq!(n.keys.len(), n.children.len());
            assert!(n.keys.windows(2).all(|w| w[0] < w[1]), "keys sorted");
            if !is_root {
                assert!(!n.label.is_empty(), "empty label below the root");
                assert!(n.terminal || n.children.len() >= 2, "uncompressed: {n:?}");
            } else {
                assert!(n.label.is_empty());
            }
            let mut count = usize::from(n.terminal);
            for (k, c) in n.keys.iter().zip(&n.children) {
                assert_eq!(*k, c.label[0]);
                count += walk(c, false);
            }
            count
        }
        assert_eq!(walk(&s.root, true), s.len());
        assert!(s.node_count() <= 2 * s.len() + 1);
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
        assert_eq!(s.unsubscribe(b"abcd"), Err(NotSubscribed));
        assert!(!s.contains(b"ab"));
        assert!(s.contains(b"abc"));
    }

    #[test]
    fn removal_recompresses_and_frees() {
        let mut s = Subscriptions::new();
        for t in ["abcd", "abce", "ab", "abx", "b"] {
            s.subscribe(t.as_bytes());
        }
        check_shape(&s);
        for t in ["abce", "ab", "abx", "b"] {
            s.unsubscribe(t.as_bytes()).unwrap();
            check_shape(&s);
        }
        // Back to a single edge under the root.
        assert_eq!(s.node_count(), 2);
        assert_eq!(&s.root.children[0].label[..], b"abcd");
        s.unsubscribe(b"abcd").unwrap();
        assert_eq!(
            s,
            Subscriptions::new(),
            "fully emptied tree equals a new one"
        );
    }

    #[test]
    fn iter_is_sorted() {
        let topics: [&[u8]; 7] = [b"b", b"", b"abc", b"ab", b"a\x00", b"\xff", b"abd"];
        let s: Subscriptions = topics.iter().collect();
        let mut want: Vec<Vec<u8>> = topics.iter().map(|t| t.to_vec()).collect();
        want.sort();
        assert_eq!(s.iter().collect::<Vec<_>>(), want);
        assert_eq!(
            format!("{s:?}"),
            r#"{"", [61 00], "ab", "abc", "abd", "b", [ff]}"#
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
        }
        check_shape(&s);
        assert_eq!(s.len(), 512);
        assert!(s.matches(&[7, 7, 1]));
        assert!(!s.matches(&[7, 8]));
        assert!(s.matches(&[long.as_slice(), &[200, 1]].concat()));
        assert!(!s.matches(&long));
        for b in 0..=255u8 {
            let mut t = long.clone();
            t.push(b);
            s.unsubscribe(&t).unwrap();
            check_shape(&s);
        }
        for b in 0..=255u8 {
            s.unsubscribe(&[b, b]).unwrap();
        }
        assert_eq!(s, Subscriptions::new());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Subscribe(Vec<u8>),
        Unsubscribe(Vec<u8>),
        Matches(Vec<u8>),
    }

    fn small_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'c')], 0..max)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => small_bytes(5).prop_map(Op::Subscribe),
            2 => small_bytes(5).prop_map(Op::Unsubscribe),
            3 => small_bytes(7).prop_map(Op::Matches),
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
            prop_assert_eq!(s, Subscriptions::new());
        }
    }
}
