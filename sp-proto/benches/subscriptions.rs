//! Subscription matching benchmark: `Subscriptions::matches` must cost the length of the
//! matched path, not the number of topics.
//!
//! Builds seeded sets of 10, 10 000 and 1 000 000 topics (8–24 bytes over a 16-letter
//! alphabet, a quarter of them under a few shared prefixes), then times `matches` over a
//! fixed-size batch of bodies (half start with a subscribed topic, half are random), and
//! prints the median ns/match, its ratio to the 10-topic case, the build time and the
//! approximate memory per topic.
//!
//! Run with `cargo bench -p sp-proto --bench subscriptions`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sp_proto::rng::Rng;
use sp_proto::subscriptions::Subscriptions;

const ALPHABET: &[u8; 16] = b"abcdefghijklmnop";
const SHARED_PREFIXES: [&[u8]; 4] = [b"news.", b"news.sport.", b"prices.eu.", b"log."];
const BATCH: usize = 4096;
const ROUNDS: usize = 15;

fn random_word(rng: &mut Rng, min: u64, max: u64) -> Vec<u8> {
    let len = min + rng.below(max - min + 1);
    (0..len).map(|_| ALPHABET[rng.below(16) as usize]).collect()
}

fn random_topic(rng: &mut Rng) -> Vec<u8> {
    if rng.below(4) == 0 {
        let mut t = SHARED_PREFIXES[rng.below(4) as usize].to_vec();
        t.extend(random_word(rng, 4, 12));
        t
    } else {
        random_word(rng, 8, 24)
    }
}

struct Case {
    set: Subscriptions,
    bodies: Vec<Vec<u8>>,
    build: Duration,
    hits: usize,
    samples: Vec<f64>,
}

fn build(n: usize, seed: u64) -> Case {
    let mut rng = Rng::new(seed);
    let topics: Vec<Vec<u8>> = (0..n).map(|_| random_topic(&mut rng)).collect();

    let start = Instant::now();
    let mut set = Subscriptions::new();
    for t in &topics {
        set.subscribe(t);
    }
    let build = start.elapsed();

    // Half hits (a subscribed topic plus a payload), half random bodies.
    let bodies: Vec<Vec<u8>> = (0..BATCH)
        .map(|i| {
            if i % 2 == 0 {
                let mut b = topics[rng.below(n as u64) as usize].clone();
                b.extend(random_word(&mut rng, 0, 40));
                b
            } else {
                random_topic(&mut rng)
            }
        })
        .collect();
    let hits = bodies.iter().filter(|b| set.matches(b)).count();
    Case {
        set,
        bodies,
        build,
        hits,
        samples: Vec::new(),
    }
}

/// One timed round: the batch matched `REPS` times; returns ns per match.
fn round(case: &Case) -> f64 {
    const REPS: usize = 32;
    let start = Instant::now();
    let mut found = 0usize;
    for _ in 0..REPS {
        for b in &case.bodies {
            found += usize::from(case.set.matches(black_box(b)));
        }
    }
    black_box(found);
    start.elapsed().as_nanos() as f64 / (REPS * BATCH) as f64
}

/// The NNG-style alternative for contrast: a list of topics scanned in order.
fn linear_ns_per_match(case: &Case) -> f64 {
    let topics: Vec<Vec<u8>> = case.set.iter().collect();
    let start = Instant::now();
    let mut found = 0usize;
    for b in &case.bodies {
        found += usize::from(topics.iter().any(|t| black_box(b).starts_with(t)));
    }
    black_box(found);
    start.elapsed().as_nanos() as f64 / BATCH as f64
}

fn main() {
    let sizes = [10, 10_000, 1_000_000];
    let mut cases: Vec<Case> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| build(n, 0x5eb5 ^ i as u64))
        .collect();
    // Interleave sizes across rounds so that noise from other processes hits all alike.
    for _ in 0..ROUNDS {
        for case in &mut cases {
            let ns = round(case);
            case.samples.push(ns);
        }
    }
    for case in &mut cases {
        case.samples.sort_by(f64::total_cmp);
    }
    let base = cases[0].samples[ROUNDS / 2];
    let base_min = cases[0].samples[0];
    println!(
        "{:>9} {:>9} {:>5} {:>9} {:>7} {:>9} {:>7} {:>9} {:>8} {:>11}",
        "topics",
        "nodes",
        "hits",
        "median ns",
        "vs 10",
        "min ns",
        "vs 10",
        "build ms",
        "B/topic",
        "list ns"
    );
    for case in &cases {
        let median = case.samples[ROUNDS / 2];
        let min = case.samples[0];
        let list = if case.set.len() <= 10_000 {
            format!("{:.0}", linear_ns_per_match(case))
        } else {
            "-".to_owned()
        };
        println!(
            "{:>9} {:>9} {:>4.0}% {:>9.1} {:>6.1}x {:>9.1} {:>6.1}x {:>9.1} {:>8.0} {:>11}",
            case.set.len(),
            case.set.node_count(),
            case.hits as f64 * 100.0 / BATCH as f64,
            median,
            median / base,
            min,
            min / base_min,
            case.build.as_secs_f64() * 1e3,
            case.set.approx_memory_bytes() as f64 / case.set.len() as f64,
            list,
        );
    }
    println!(
        "(B/topic: node structs, labels and child arrays, without allocator overhead; \
         list ns: the same bodies against a plain topic list, as NNG keeps them)"
    );
}
