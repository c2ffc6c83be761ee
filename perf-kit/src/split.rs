//! One `fanout` or `survey` run spread over several processes, so that no process holds
//! more peers than a library allows (one libnanomsg process opens at most 512 sockets).
//! `perf-bench` starts one *server part* (the publisher or surveyor, no peers) and a few
//! *peer parts* (subscribers or respondents only), every part with the workload's usual
//! arguments plus [`Part::flag`], a peer part with its own share of the peers.
//!
//! The parts talk in lines, which `perf-bench` relays from every peer part's standard
//! output to the server part's standard input:
//!
//! - `ready <n>`: the `n` peers of this part have each had a warm-up message, so the
//!   server's warm-up counts them as if they were its own threads (the start barrier);
//! - `tally <delivered> <last>`: one `fanout` subscriber's [`SubscriberTally`], its last
//!   delivery on the [shared clock](stamp) (`-` for none). The server part waits for one
//!   tally per peer and reports with every one of them, exactly as a whole run does.
//!
//! A peer part ends at the end mark, or when its standard input closes
//! ([`done_at_eof`]: `perf-bench` closes it once the server part has reported).

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::service::{warmed_up, SubscriberTally, WAIT, WARM_EVERY};

/// Which part of a workload a process runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Part {
    /// The whole workload in one process.
    #[default]
    Whole,
    /// The serving socket only; its peers are in other processes.
    Server,
    /// Peers only, reporting to the server part through `perf-bench`.
    Peers,
}

const SERVER_FLAG: &str = "--server-part";
const PEERS_FLAG: &str = "--peers-part";

impl Part {
    /// The command-line flag of this part (none for [`Part::Whole`]).
    pub fn flag(self) -> Option<&'static str> {
        match self {
            Self::Whole => None,
            Self::Server => Some(SERVER_FLAG),
            Self::Peers => Some(PEERS_FLAG),
        }
    }

    /// Takes a trailing part flag off `args`.
    pub fn take(args: &mut Vec<&str>) -> Self {
        let part = match args.last() {
            Some(&SERVER_FLAG) => Self::Server,
            Some(&PEERS_FLAG) => Self::Peers,
            _ => return Self::Whole,
        };
        args.pop();
        part
    }
}

/// This process's instant and wall-clock time, read together once.
fn anchor() -> (Instant, u64) {
    static ANCHOR: OnceLock<(Instant, u64)> = OnceLock::new();
    *ANCHOR.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        (Instant::now(), crate::service::nanos(wall))
    })
}

/// `t` on the clock every part shares: nanoseconds since the Unix epoch, the wall clock
/// read once per process and advanced by the monotonic clock from there (so a wall-clock
/// step during the run moves nothing; the parts agree to within the microsecond or so
/// between its two reads).
pub fn stamp(t: Instant) -> u64 {
    let (at, wall) = anchor();
    match t.checked_duration_since(at) {
        Some(d) => wall.saturating_add(crate::service::nanos(d)),
        None => wall.saturating_sub(crate::service::nanos(at - t)),
    }
}

/// The instant of a [`stamp`] from any part.
pub fn instant(stamp: u64) -> Instant {
    let (at, wall) = anchor();
    if stamp >= wall {
        at + Duration::from_nanos(stamp - wall)
    } else {
        at.checked_sub(Duration::from_nanos(wall - stamp))
            .unwrap_or(at)
    }
}

/// A peer part's announcement: a thread that prints `ready <peers>` once `ready` counts
/// them all, or fails as the server's warm-up would (a peer `failed`, [`WAIT`] passed).
pub fn announce_ready(
    ready: Arc<AtomicUsize>,
    peers: usize,
    failed: Arc<AtomicBool>,
) -> JoinHandle<Result<(), String>> {
    std::thread::spawn(move || {
        let since = Instant::now();
        while !warmed_up(&ready, peers, &failed, since)? {
            std::thread::sleep(WARM_EVERY);
        }
        println!("ready {peers}");
        Ok(())
    })
}

/// A peer part's `tally` lines.
pub fn print_tallies(tallies: &[SubscriberTally]) {
    for t in tallies {
        match t.last {
            Some(last) => println!("tally {} {}", t.delivered, stamp(last)),
            None => println!("tally {} -", t.delivered),
        }
    }
}

/// A flag set when standard input closes: a peer part's end of the run.
pub fn done_at_eof() -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        flag.store(true, Ordering::Release);
    });
    done
}

/// The server part's view of its peers: what the peer parts' lines said.
#[derive(Clone, Debug, Default)]
pub struct Remote {
    /// Peers ready, over every peer part.
    pub ready: Arc<AtomicUsize>,
    /// Standard input closed: every peer part has ended.
    pub closed: Arc<AtomicBool>,
    tallies: Arc<Mutex<Vec<SubscriberTally>>>,
}

impl Remote {
    /// Starts reading the peer parts' lines from standard input.
    pub fn listen() -> Self {
        let remote = Self::default();
        let r = remote.clone();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if let Err(e) = r.take(&line) {
                    eprintln!("server part: {e}");
                }
            }
            r.closed.store(true, Ordering::Release);
        });
        remote
    }

    /// Takes one line of a peer part.
    pub fn take(&self, line: &str) -> Result<(), String> {
        let bad = || format!("not a peer part's line: {line:?}");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["ready", n] => {
                let n: usize = n.parse().map_err(|_| bad())?;
                self.ready.fetch_add(n, Ordering::AcqRel);
            }
            ["tally", delivered, last] => {
                let tally = SubscriberTally {
                    delivered: delivered.parse().map_err(|_| bad())?,
                    last: match last {
                        "-" => None,
                        t => Some(instant(t.parse().map_err(|_| bad())?)),
                    },
                };
                self.tallies
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(tally);
            }
            _ => return Err(bad()),
        }
        Ok(())
    }

    /// Waits (blocking, up to [`WAIT`]) for the tallies of `peers` subscribers.
    pub fn tallies(&self, peers: usize) -> Result<Vec<SubscriberTally>, String> {
        let since = Instant::now();
        loop {
            let closed = self.closed.load(Ordering::Acquire);
            let got = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
            if got.len() >= peers {
                return Ok(got.clone());
            }
            if closed || since.elapsed() > WAIT {
                return Err(format!(
                    "{} of {peers} tallies from the peer parts",
                    got.len()
                ));
            }
            drop(got);
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_between_clocks() {
        let now = Instant::now();
        for t in [now, now + Duration::from_millis(1500)] {
            let back = instant(stamp(t));
            let off = if back > t { back - t } else { t - back };
            assert!(off < Duration::from_micros(1), "{off:?}");
        }
        assert!(stamp(now + Duration::from_millis(1)) - stamp(now) >= 1_000_000);
    }

    #[test]
    fn the_server_part_counts_remote_peers_and_their_tallies() {
        let remote = Remote::default();
        remote.take("ready 2").unwrap();
        remote.take("ready 3").unwrap();
        assert_eq!(remote.ready.load(Ordering::Acquire), 5);
        let last = Instant::now();
        remote.take(&format!("tally 7 {}", stamp(last))).unwrap();
        remote.take("tally 0 -").unwrap();
        assert!(remote.take("tally x -").is_err());
        assert!(remote.take("hello").is_err());
        let got = remote.tallies(2).unwrap();
        assert_eq!(
            (got[0].delivered, got[1].delivered, got[1].last),
            (7, 0, None)
        );
        let off = got[0].last.unwrap().duration_since(last);
        assert!(off < Duration::from_micros(1));
        // Planted fault: a part ended with a tally missing; no report from fewer.
        remote.closed.store(true, Ordering::Release);
        assert_eq!(
            remote.tallies(3).unwrap_err(),
            "2 of 3 tallies from the peer parts"
        );
    }

    #[test]
    fn part_flags_come_off_the_end() {
        let mut a = vec!["tcp://h:1", "5", SERVER_FLAG];
        assert_eq!(Part::take(&mut a), Part::Server);
        assert_eq!(a, ["tcp://h:1", "5"]);
        assert_eq!(Part::take(&mut a), Part::Whole);
        let mut a = vec![PEERS_FLAG];
        assert_eq!(Part::take(&mut a), Part::Peers);
        assert_eq!(Part::Peers.flag(), Some(PEERS_FLAG));
    }
}
