use alloc::collections::BTreeSet;

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
