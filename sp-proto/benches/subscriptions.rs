//! Subscription matching benchmark: `Subscriptions::matches` must cost the length of the
//! matched path, not the number of topics.
//!
//! Builds seeded sets of 10, 10 000 and 1 000 000 topics (8–24 bytes over a 16-letter
//! alphabet, a quarter of them under a few shared prefixes) and times matching, one body
//! per `matches` call ("single") and `CALL` bodies per `matches_batch` call ("batched"),
//! over three workloads:
//!
//! - **uniform, hot**: 4096 bodies, each matched 32 times per round (the original
//!   workload). Half are a subscribed topic, drawn uniformly, plus a payload; half are
//!   random topics. The 4096 walks touch about a megabyte of the tree, which the caches
//!   partly keep between repetitions.
//! - **uniform, cold**: the same mix, but 256 k distinct bodies matched once per round,
//!   so that with 1 M topics nearly every walk goes to DRAM: the honest worst case.
//! - **zipf**: 256 k bodies on topics drawn by popularity (Zipf, s = 1, seeded) from a
//!   publisher's universe of twice the subscribed topics: every other one is subscribed.
//!   That is closer to real feeds, where a few topics carry most messages.
//!
//! Every size, workload and mode is timed in each round, interleaved, so that noise from
//! other processes hits all alike; the medians over the rounds are printed with their
//! ratios to the 10-topic case. A second table gives the build time and memory per topic:
//! `Subscriptions::approx_memory_bytes`, and the heap bytes and blocks actually allocated
//! (a counting global allocator; capacity slack included, malloc's own per-block overhead
//! not), as built and after `shrink_to_fit`.
//!
//! Run with `cargo bench -p sp-proto --bench subscriptions` (`SUBS_SIZES=1000000` to
//! time other sizes).

#![allow(unsafe_code)] // the counting allocator below; the library itself forbids unsafe code

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use sp_proto::rng::Rng;
use sp_proto::subscriptions::Subscriptions;

const ALPHABET: &[u8; 16] = b"abcdefghijklmnop";
const SHARED_PREFIXES: [&[u8]; 4] = [b"news.", b"news.sport.", b"prices.eu.", b"log."];
/// Bodies of the hot workload, and how often each is matched per round.
const HOT_BODIES: usize = 4096;
const HOT_REPS: usize = 32;
/// Bodies of the cold and Zipf workloads (each matched once per round).
const POOL: usize = 1 << 18;
/// Bodies per `matches_batch` call.
const CALL: usize = 64;

/// The system allocator, counting the bytes and blocks currently allocated (as requested:
/// every `Vec`'s whole capacity, without malloc's own per-block overhead).
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Relaxed);
            LIVE_BLOCKS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Relaxed);
            LIVE_BLOCKS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size, Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes and blocks currently allocated by the whole process.
fn live() -> (usize, usize) {
    (LIVE_BYTES.load(Relaxed), LIVE_BLOCKS.load(Relaxed))
}
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

/// A workload: the bodies matched in one round and the timings of the rounds.
#[derive(Clone)]
struct Bodies {
    /// The bodies back to back in one buffer (as a receive buffer holds them), so that
    /// reading them costs a sequential scan, not a cache miss each.
    data: Vec<u8>,
    ends: Vec<usize>,
    reps: usize,
    hits: usize,
    single: Vec<f64>,
    batched: Vec<f64>,
}

impl Bodies {
    fn new(set: &Subscriptions, bodies: Vec<Vec<u8>>, reps: usize) -> Self {
        let hits = bodies.iter().filter(|b| set.matches(b)).count();
        let data = bodies.concat();
        let ends = bodies
            .iter()
            .scan(0, |end, b| {
                *end += b.len();
                Some(*end)
            })
            .collect();
        Self {
            data,
            ends,
            reps,
            hits,
            single: Vec::new(),
            batched: Vec::new(),
        }
    }

    fn bodies(&self) -> Vec<&[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.data[start..end])
            .collect()
    }

    /// One timed round of single matches; ns per match.
    fn time_single(&mut self, set: &Subscriptions) {
        let bodies = self.bodies();
        let start = Instant::now();
        let mut found = 0usize;
        for _ in 0..self.reps {
            for b in &bodies {
                found += usize::from(set.matches(black_box(b)));
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / (self.reps * bodies.len()) as f64;
        assert_eq!(found, self.hits * self.reps);
        self.single.push(ns);
    }

    /// One timed round of batched matches, `CALL` bodies per call; ns per match.
    fn time_batched(&mut self, set: &Subscriptions) {
        let refs = self.bodies();
        let mut out = [false; CALL];
        let start = Instant::now();
        let mut found = 0usize;
        for _ in 0..self.reps {
            for chunk in refs.chunks(CALL) {
                let out = &mut out[..chunk.len()];
                set.matches_batch(black_box(chunk), out);
                found += out.iter().filter(|&&m| m).count();
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / (self.reps * refs.len()) as f64;
        assert_eq!(found, self.hits * self.reps);
        self.batched.push(ns);
    }
}

fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

struct Case {
    /// "1000000" or "1000000 shrunk".
    label: String,
    set: Subscriptions,
    build: Duration,
    /// Heap bytes and blocks the set holds (counting allocator), as built and after
    /// `shrink_to_fit` (measured on a clone).
    heap: (usize, usize),
    heap_shrunk: (usize, usize),
    /// Hot, cold and Zipf bodies.
    workloads: [Bodies; 3],
}

const WORKLOADS: [&str; 3] = [
    "uniform, hot: 4096 bodies x32 per round (the original workload)",
    "uniform, cold: 256 k distinct bodies per round",
    "zipf (s = 1) over twice the subscribed topics, half subscribed: 256 k bodies per round",
];

/// Half hits (a subscribed topic plus a payload), half random topics.
fn uniform_bodies(rng: &mut Rng, topics: &[Vec<u8>], count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            if i % 2 == 0 {
                let mut b = topics[rng.below(topics.len() as u64) as usize].clone();
                b.extend(random_word(rng, 0, 40));
                b
            } else {
                random_topic(rng)
            }
        })
        .collect()
}

/// Bodies on topics of a universe where `topics` are every other one, drawn with Zipf
/// popularity (rank `k` has weight `1 / k`) in the universe's (random) order.
fn zipf_bodies(rng: &mut Rng, topics: &[Vec<u8>], count: usize) -> Vec<Vec<u8>> {
    let others: Vec<Vec<u8>> = topics.iter().map(|_| random_topic(rng)).collect();
    let mut cdf = Vec::with_capacity(2 * topics.len());
    let mut total = 0.0;
    for k in 1..=2 * topics.len() {
        total += 1.0 / k as f64;
        cdf.push(total);
    }
    (0..count)
        .map(|_| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
            let rank = cdf.partition_point(|&c| c < u).min(cdf.len() - 1);
            let topic = if rank % 2 == 0 {
                &topics[rank / 2]
            } else {
                &others[rank / 2]
            };
            let mut b = topic.clone();
            b.extend(random_word(rng, 0, 40));
            b
        })
        .collect()
}

fn build(n: usize, seed: u64) -> Case {
    let mut rng = Rng::new(seed);
    let topics: Vec<Vec<u8>> = (0..n).map(|_| random_topic(&mut rng)).collect();

    let before = live();
    let start = Instant::now();
    let mut set = Subscriptions::new();
    for t in &topics {
        set.subscribe(t);
    }
    let build = start.elapsed();
    let after = live();
    let heap = (after.0 - before.0, after.1 - before.1);
    let before = live();
    let mut shrunk = set.clone();
    shrunk.shrink_to_fit();
    let after = live();
    let heap_shrunk = (after.0 - before.0, after.1 - before.1);
    drop(shrunk);

    let hot = uniform_bodies(&mut rng, &topics, HOT_BODIES);
    let cold = uniform_bodies(&mut rng, &topics, POOL);
    let zipf = zipf_bodies(&mut rng, &topics, POOL);
    Case {
        label: set.len().to_string(),
        workloads: [
            Bodies::new(&set, hot, HOT_REPS),
            Bodies::new(&set, cold, 1),
            Bodies::new(&set, zipf, 1),
        ],
        set,
        build,
        heap,
        heap_shrunk,
    }
}

/// The NNG-style alternative for contrast: a list of topics scanned in order.
fn linear_ns_per_match(case: &Case) -> f64 {
    let topics: Vec<Vec<u8>> = case.set.iter().collect();
    let bodies = case.workloads[0].bodies();
    let start = Instant::now();
    let mut found = 0usize;
    for b in &bodies {
        found += usize::from(topics.iter().any(|t| black_box(b).starts_with(t)));
    }
    black_box(found);
    start.elapsed().as_nanos() as f64 / bodies.len() as f64
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SUBS_SIZES").map_or(vec![10, 10_000, 1_000_000], |v| {
        v.split(',').map(|n| n.parse().unwrap()).collect()
    });
    let mut cases: Vec<Case> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| build(n, 0x5eb5 ^ i as u64))
        .collect();
    // The largest set again, compacted by `shrink_to_fit` (as after a bulk load), with
    // the same bodies.
    let largest = cases.last().expect("one size at least");
    let mut shrunk = largest.set.clone();
    shrunk.shrink_to_fit();
    let shrunk = Case {
        label: format!("{} shrunk", largest.set.len()),
        set: shrunk,
        build: largest.build,
        heap: largest.heap_shrunk,
        heap_shrunk: largest.heap_shrunk,
        workloads: largest.workloads.clone(),
    };
    cases.push(shrunk);
    // Interleave sizes, workloads and modes across rounds so that noise from other
    // processes hits all alike.
    for _ in 0..ROUNDS {
        for case in &mut cases {
            for w in &mut case.workloads {
                w.time_single(&case.set);
                w.time_batched(&case.set);
            }
        }
    }
    for (k, name) in WORKLOADS.iter().enumerate() {
        println!("{name}");
        println!(
            "{:>15} {:>5} {:>10} {:>7} {:>11} {:>7} {:>9}",
            "topics", "hits", "single ns", "vs 10", "batched ns", "vs 10", "vs 10 b."
        );
        let base = &cases[0].workloads[k];
        let (base_single, base_batched) = (median(&base.single), median(&base.batched));
        for case in &cases {
            let w = &case.workloads[k];
            let (single, batched) = (median(&w.single), median(&w.batched));
            println!(
                "{:>15} {:>4.0}% {:>10.1} {:>6.1}x {:>11.1} {:>6.1}x {:>8.1}x",
                case.label,
                w.hits as f64 * 100.0 / w.ends.len() as f64,
                single,
                single / base_single,
                batched,
                batched / base_single,
                batched / base_batched,
            );
        }
        println!();
    }
    println!(
        "{:>15} {:>9} {:>9} {:>8} {:>7} {:>6} {:>8} {:>9}",
        "topics", "nodes", "build ms", "approx B", "heap B", "blk", "shrunk B", "list ns"
    );
    for case in &cases {
        let n = case.set.len() as f64;
        let list = if case.set.len() <= 10_000 && !case.label.ends_with("shrunk") {
            format!("{:.0}", linear_ns_per_match(case))
        } else {
            "-".to_owned()
        };
        println!(
            "{:>15} {:>9} {:>9.1} {:>8.1} {:>7.1} {:>6.2} {:>8.1} {:>9}",
            case.label,
            case.set.node_count(),
            case.build.as_secs_f64() * 1e3,
            case.set.approx_memory_bytes() as f64 / n,
            case.heap.0 as f64 / n,
            case.heap.1 as f64 / n,
            case.heap_shrunk.0 as f64 / n,
            list,
        );
    }
    println!(
        "(per topic: approx B = approx_memory_bytes; heap B and blk = bytes and blocks \
         allocated, capacity slack included, malloc's per-block overhead not; shrunk B = \
         heap bytes after shrink_to_fit; list ns: the hot bodies against a plain topic \
         list, as NNG keeps them; batched: {CALL} bodies per matches_batch call; \
         vs 10 b.: batched against batched with 10 topics)"
    );
}
