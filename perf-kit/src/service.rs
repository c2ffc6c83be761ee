//! The service workloads, shared by `sp-perf` and the C libraries' perf tools: their
//! command line, the message layout, the constants every implementation waits with,
//! and the report lines `perf-bench` reads back.
//!
//! ```text
//! reqrep <url> <clients>     <msg-size> <requests-per-client>
//! fanout <url> <subscribers> <msg-size> <messages> [<topics>]
//! survey <url> <respondents> <msg-size> <rounds>
//! fanin  <url> <pushers>     <msg-size> <messages-per-pusher>
//! ```
//!
//! Each workload runs in one process, over `<url>` (TCP in `perf-bench`), so that one
//! clock times both ends and readiness is known without a side channel; `fanout` and
//! `survey` may instead be spread over a server part and peer parts (a trailing
//! `--server-part` or `--peers-part`), which measure the same with a start barrier and
//! a shared clock across the parts ([`crate::split`]):
//!
//! - `reqrep`: one REP server (ours: one context per client; the C libraries: a raw
//!   REP socket reflected by the library's device) and `<clients>` REQ sockets, each
//!   with one request in flight. After one untimed request per client, every client
//!   starts together; requests/s over the whole run and the latency histogram.
//! - `fanout`: one PUB and `<subscribers>` SUB sockets. The publisher repeats a warm-up
//!   message until every subscriber has one, then sends `<messages>` as fast as it can
//!   and an end mark. Deliveries/s from the first send to the last delivery anywhere,
//!   and the slowest subscriber's lag: its last delivery after the last send. With
//!   `<topics>` each subscriber subscribes that many distinct topics ([`crate::mem::topic`])
//!   and every message starts with one of them, drawn at random; otherwise they
//!   subscribe to everything. PUB drops what a slow subscriber cannot take, so the
//!   deliveries are counted, not assumed.
//! - `survey`: one SURVEYOR and `<respondents>` RESPONDENT sockets; a survey is
//!   repeated until every respondent has seen one, then `<rounds>` surveys each wait
//!   for every response; the histogram of round times.
//! - `fanin`: `<pushers>` PUSH sockets and one PULL. Each pusher sends a warm-up
//!   message; once all arrived, every pusher sends its messages and the receiver's
//!   rate is measured from the start signal to the last message.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::hist::Histogram;
pub use crate::split::Part;

/// A service workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Workload {
    /// REQ clients against one REP server.
    ReqRep,
    /// One PUB to many SUBs.
    Fanout,
    /// One SURVEYOR, many RESPONDENTs.
    Survey,
    /// Many PUSH to one PULL.
    Fanin,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Self; 4] = [Self::ReqRep, Self::Fanout, Self::Survey, Self::Fanin];

    /// The tool name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::ReqRep => "reqrep",
            Self::Fanout => "fanout",
            Self::Survey => "survey",
            Self::Fanin => "fanin",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// A parsed service workload invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceArgs {
    /// Which workload.
    pub workload: Workload,
    /// Where the one socket binds and the many connect.
    pub url: String,
    /// Clients, subscribers, respondents or pushers.
    pub peers: usize,
    /// Message size in bytes (at least the topic and the mark).
    pub size: usize,
    /// Requests per client, messages, rounds, or messages per pusher.
    pub count: usize,
    /// `fanout`: topics each subscriber subscribes (0: everything).
    pub topics: usize,
    /// The part of the workload this process runs (`fanout` and `survey` only may be
    /// split; see [`crate::split`]).
    pub part: Part,
}

/// The usage text of the service workloads.
pub fn usage_text(prog: &str) -> String {
    format!(
        "usage: {prog} reqrep <url> <clients> <msg-size> <requests-per-client>\n       \
         {prog} fanout <url> <subscribers> <msg-size> <messages> [<topics>]\n       \
         {prog} survey <url> <respondents> <msg-size> <rounds>\n       \
         {prog} fanin <url> <pushers> <msg-size> <messages-per-pusher>\n\
         (fanout and survey: a trailing --server-part or --peers-part runs one part)"
    )
}

/// Parses a service workload's arguments; `None` when `argv[1]` names none.
pub fn parse(argv: &[String]) -> Option<Result<ServiceArgs, String>> {
    let prog = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or_default();
    let workload = Workload::from_name(argv.get(1)?)?;
    let mut rest: Vec<&str> = argv.iter().skip(2).map(String::as_str).collect();
    let part = Part::take(&mut rest);
    if part != Part::Whole && !matches!(workload, Workload::Fanout | Workload::Survey) {
        return Some(Err(format!(
            "{} runs in one process only\n{}",
            workload.name(),
            usage_text(prog)
        )));
    }
    let number = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| format!("{s:?} is not a number\n{}", usage_text(prog)))
    };
    let max = if workload == Workload::Fanout { 5 } else { 4 };
    if rest.len() != 4 && rest.len() != max {
        return Some(Err(usage_text(prog)));
    }
    Some((|| {
        Ok(ServiceArgs {
            workload,
            url: rest[0].to_owned(),
            peers: number(rest[1])?.max(1),
            size: number(rest[2])?,
            count: number(rest[3])?.max(1),
            topics: rest.get(4).map_or(Ok(0), |t| number(t))?,
            part,
        })
    })())
}

/// The last byte of every workload message: what it is.
pub mod mark {
    /// A warm-up message (not counted).
    pub const WARM: u8 = b'w';
    /// A measured message.
    pub const DATA: u8 = b'd';
    /// The end of the run.
    pub const END: u8 = b'e';
}

/// A message of `size` bytes (at least `prefix` and the mark): `prefix`, filler, `mark`.
pub fn message(prefix: &[u8], size: usize, mark: u8) -> Vec<u8> {
    let mut m = prefix.to_vec();
    m.resize(size.max(prefix.len() + 1) - 1, b'.');
    m.push(mark);
    m
}

/// The mark of a received message (0 for an empty one).
pub fn mark_of(body: &[u8]) -> u8 {
    body.last().copied().unwrap_or(0)
}

/// What a received body is to a subscriber or respondent of a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// A measured message.
    Data,
    /// The end of the run.
    End,
    /// A warm-up message (counted once, as readiness) or anything else.
    Other,
}

/// A peer's warm-up: it counts itself in `ready` at its first warm-up message.
#[derive(Debug, Default)]
pub struct Warmup {
    warm: bool,
}

impl Warmup {
    /// Classifies `body`, counting this peer ready at its first warm-up message.
    pub fn classify(&mut self, body: &[u8], ready: &AtomicUsize) -> Received {
        match mark_of(body) {
            mark::WARM => {
                if !self.warm {
                    self.warm = true;
                    ready.fetch_add(1, Ordering::AcqRel);
                }
                Received::Other
            }
            mark::DATA => Received::Data,
            mark::END => Received::End,
            _ => Received::Other,
        }
    }
}

/// One check of a warm-up loop, which repeats a warm-up message until `ready` counts
/// `peers`: `Ok(true)` once they all are, `Ok(false)` to send again, and an error once
/// a peer `failed` or [`WAIT`] has passed `since` the loop began.
pub fn warmed_up(
    ready: &AtomicUsize,
    peers: usize,
    failed: &AtomicBool,
    since: Instant,
) -> Result<bool, String> {
    let count = ready.load(Ordering::Acquire);
    if count >= peers {
        return Ok(true);
    }
    if failed.load(Ordering::Acquire) || since.elapsed() > WAIT {
        return Err(format!(
            "{count} of {peers} peers ready after {:?}",
            since.elapsed()
        ));
    }
    Ok(false)
}

/// Flags `failed` when `r` is an error, so that a warm-up waiting for this peer stops.
pub fn flag<T>(r: Result<T, String>, failed: &AtomicBool) -> Result<T, String> {
    if r.is_err() {
        failed.store(true, Ordering::Release);
    }
    r
}

/// Merges the `reqrep` clients' latency histograms and finds the last client's end
/// (`start` when there is none).
pub fn merge_clients(
    start: Instant,
    clients: impl IntoIterator<Item = (Histogram, Instant)>,
) -> (Histogram, Instant) {
    let mut latency = Histogram::new();
    let mut end = start;
    for (h, e) in clients {
        latency.merge(&h);
        end = end.max(e);
    }
    (latency, end)
}

/// How long any wait of a workload may take before the run fails: connecting, warming
/// up, one receive.
pub const WAIT: Duration = Duration::from_secs(30);

/// How often a warm-up message or survey is repeated until every peer has one.
pub const WARM_EVERY: Duration = Duration::from_millis(10);

/// The per-pipe queue, in messages, every library's publisher gets in `fanout`, so that
/// what PUB drops depends on the library's speed rather than on its default queue
/// depth (ours 128, NNG 16). libnanomsg has no per-pipe message queue: its PUB writes
/// straight into the kernel's socket buffer (`NN_SNDBUF`, 128 KiB by default, some
/// 2 000 messages of 64 B), which it keeps.
pub const PUB_PIPE_QUEUE: usize = 1024;

/// A subscriber that saw data and then nothing for this long is done (its end mark was
/// dropped).
pub const IDLE_END: Duration = Duration::from_secs(1);

/// How many times, and how far apart, the publisher sends its end mark (PUB may drop
/// any one of them).
pub const END_REPEAT: (usize, Duration) = (3, Duration::from_millis(20));

/// Distinct prefixes the `fanout` publisher cycles through.
const PREFIXES: usize = 4096;

/// The `fanout` publisher's message prefixes: `topics` 0 gives one empty prefix,
/// otherwise 4 096 topics drawn at random (seeded) from the subscribed ones.
pub fn fanout_prefixes(topics: usize) -> Vec<Vec<u8>> {
    if topics == 0 {
        return vec![Vec::new()];
    }
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..PREFIXES)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            crate::mem::topic((x % topics as u64) as u32)
        })
        .collect()
}

/// What one subscriber of `fanout` saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct SubscriberTally {
    /// Data messages delivered.
    pub delivered: u64,
    /// When the last one was.
    pub last: Option<Instant>,
}

impl SubscriberTally {
    /// Takes one receive of a `fanout` subscriber: its `body` (classified by `warmup`,
    /// which counts the subscriber in `ready` at its first warm-up message), or `None`
    /// for a receive that failed (timed out). True when the subscriber is done: at the
    /// end mark, or at a failed receive after data (the end marks were dropped).
    pub fn take(&mut self, warmup: &mut Warmup, body: Option<&[u8]>, ready: &AtomicUsize) -> bool {
        match body {
            Some(body) => match warmup.classify(body, ready) {
                Received::Data => {
                    self.delivered += 1;
                    self.last = Some(Instant::now());
                    false
                }
                Received::End => true,
                Received::Other => false,
            },
            None => self.delivered > 0,
        }
    }
}

/// Nanoseconds in `d`, saturated.
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

fn rate(n: u64, secs: f64) -> u64 {
    (n as f64 / secs.max(1e-9)) as u64
}

/// Prints the `reqrep` report: requests/s over `secs` and the latency quantiles.
pub fn report_reqrep(a: &ServiceArgs, latency: &Histogram, secs: f64) {
    println!("workload: reqrep, {} clients, {} B", a.peers, a.size);
    println!("requests: {}", latency.count());
    println!("throughput: {} [req/s]", rate(latency.count(), secs));
    print_quantiles("latency", latency);
}

fn print_quantiles(what: &str, h: &Histogram) {
    for (name, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
        println!("{what} {name}: {:.1} [us]", us(h.quantile(q)));
    }
    println!("{what} max: {:.1} [us]", us(h.max()));
}

/// Prints the `fanout` report from the first send, the last send and every
/// subscriber's tally.
pub fn report_fanout(
    a: &ServiceArgs,
    start: Instant,
    last_send: Instant,
    subs: &[SubscriberTally],
) {
    let delivered: u64 = subs.iter().map(|s| s.delivered).sum();
    let last = subs
        .iter()
        .filter_map(|s| s.last)
        .max()
        .unwrap_or(last_send);
    let lag = last.saturating_duration_since(last_send);
    println!(
        "workload: fanout, {} subscribers, {} B, {} topics",
        a.peers, a.size, a.topics
    );
    println!(
        "deliveries: {delivered} of {}",
        a.count as u64 * subs.len() as u64
    );
    let secs = last.saturating_duration_since(start).as_secs_f64();
    println!("throughput: {} [deliveries/s]", rate(delivered, secs));
    println!("slowest lag: {:.1} [us]", us(nanos(lag)));
}

/// Prints the `survey` report: the histogram of round times.
pub fn report_survey(a: &ServiceArgs, rounds: &Histogram) {
    println!("workload: survey, {} respondents, {} B", a.peers, a.size);
    println!("rounds: {}", rounds.count());
    println!("round mean: {:.1} [us]", rounds.mean() / 1e3);
    print_quantiles("round", rounds);
}

/// Prints the `fanin` report: the receiver's rate over `secs`.
pub fn report_fanin(a: &ServiceArgs, secs: f64) {
    let n = (a.peers * a.count) as u64;
    println!("workload: fanin, {} pushers, {} B", a.peers, a.size);
    println!("messages: {n}");
    println!("throughput: {} [msg/s]", rate(n, secs));
}

/// Reads `<key>: X [unit]` out of a report.
pub fn figure(out: &str, key: &str) -> Option<f64> {
    out.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .find_map(|v| v.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn warm_up_ends_when_all_are_ready_and_fails_when_a_peer_fails() {
        let (ready, failed) = (AtomicUsize::new(1), AtomicBool::new(false));
        let since = Instant::now();
        assert_eq!(warmed_up(&ready, 2, &failed, since), Ok(false));
        ready.store(2, Ordering::Release);
        assert_eq!(warmed_up(&ready, 2, &failed, since), Ok(true));
        ready.store(0, Ordering::Release);
        assert!(flag(Err::<(), _>("gone".to_owned()), &failed).is_err());
        let err = warmed_up(&ready, 2, &failed, since).unwrap_err();
        assert!(err.starts_with("0 of 2 peers ready after"), "{err}");
        assert_eq!(flag(Ok::<_, String>(7), &failed), Ok(7));
    }

    #[test]
    fn a_subscriber_is_done_at_the_end_mark_or_at_silence_after_data() {
        let (ready, mut warmup) = (AtomicUsize::new(0), Warmup::default());
        let mut tally = SubscriberTally::default();
        assert!(!tally.take(&mut warmup, Some(&message(b"", 8, mark::WARM)), &ready));
        assert!(!tally.take(&mut warmup, Some(&message(b"", 8, mark::WARM)), &ready));
        assert_eq!(ready.load(Ordering::Acquire), 1, "ready counted once");
        assert!(
            !tally.take(&mut warmup, None, &ready),
            "silence before data"
        );
        assert!(!tally.take(&mut warmup, Some(&message(b"", 8, mark::DATA)), &ready));
        assert_eq!(tally.delivered, 1);
        assert!(tally.take(&mut warmup, None, &ready), "silence after data");
        assert!(tally.take(&mut warmup, Some(&message(b"", 8, mark::END)), &ready));
    }

    #[test]
    fn workloads_parse() {
        let a = parse(&argv("x fanout tcp://127.0.0.1:1 10 64 100 1000")).unwrap();
        assert_eq!(
            a,
            Ok(ServiceArgs {
                workload: Workload::Fanout,
                url: "tcp://127.0.0.1:1".into(),
                peers: 10,
                size: 64,
                count: 100,
                topics: 1000,
                part: Part::Whole,
            })
        );
        let a = parse(&argv("x survey tcp://h:1 5 64 3 --peers-part")).unwrap();
        assert_eq!(a.map(|a| (a.peers, a.part)), Ok((5, Part::Peers)));
        assert!(parse(&argv("x fanin tcp://h:1 5 64 3 --server-part"))
            .unwrap()
            .is_err());
        let a = parse(&argv("x reqrep tcp://h:1 16 64 5")).unwrap().unwrap();
        assert_eq!((a.workload, a.topics), (Workload::ReqRep, 0));
        assert!(parse(&argv("x reqrep tcp://h:1 16 64 5 7"))
            .unwrap()
            .is_err());
        assert!(parse(&argv("x survey tcp://h:1 many 64 5"))
            .unwrap()
            .is_err());
        assert_eq!(parse(&argv("x local_lat tcp://h:1 64 5")), None);
    }

    #[test]
    fn messages_carry_their_mark_and_size() {
        let m = message(b"topic", 64, mark::DATA);
        assert_eq!(
            (m.len(), mark_of(&m), &m[..5]),
            (64, mark::DATA, &b"topic"[..])
        );
        assert_eq!(message(b"a-long-topic", 4, mark::END).len(), 13);
        assert_eq!(mark_of(&[]), 0);
        assert_eq!(fanout_prefixes(0), vec![Vec::<u8>::new()]);
        let p = fanout_prefixes(10);
        assert!(p
            .iter()
            .all(|t| (0..10).any(|i| crate::mem::topic(i) == *t)));
    }

    #[test]
    fn reports_parse_back() {
        let out = "throughput: 1234 [req/s]\nlatency p50: 12.5 [us]\nlatency p999: 99.0 [us]\n";
        assert_eq!(figure(out, "throughput"), Some(1234.0));
        assert_eq!(figure(out, "latency p50"), Some(12.5));
        assert_eq!(figure(out, "latency p99"), None);
    }
}

#[cfg(test)]
mod warmup_tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_peer_counts_itself_ready_once_and_classifies_the_rest() {
        let ready = AtomicUsize::new(0);
        let mut w = Warmup::default();
        assert_eq!(w.classify(&[1, mark::WARM], &ready), Received::Other);
        assert_eq!(w.classify(&[mark::WARM], &ready), Received::Other);
        assert_eq!(ready.load(Ordering::Acquire), 1, "ready once");
        assert_eq!(w.classify(&[mark::DATA], &ready), Received::Data);
        assert_eq!(w.classify(&[mark::END], &ready), Received::End);
        assert_eq!(w.classify(&[], &ready), Received::Other);
    }
}
