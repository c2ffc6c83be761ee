//! Running one service cell over several processes (`perf_kit::split`): a server part
//! and peer parts of at most `--peers-per-process` peers each, the peer parts' lines
//! relayed to the server part, whose report is the cell's.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use perf_kit::service::Workload;
use perf_kit::split::Part;

use crate::run::{spawn_tool, wait_limited, BIND_WAIT};
use crate::service::Cell;

/// Peers one process holds at most unless `--peers-per-process` says otherwise: below
/// libnanomsg's [`crate::service::NN_MAX_SOCKETS`], with room for the odd extra socket.
pub(crate) const PEERS_PER_PROCESS: usize = 500;

/// How long a peer part may take to end once the server part has reported (a
/// respondent notices the closed standard input within `perf_kit::service::IDLE_END`).
const PART_END: Duration = Duration::from_secs(5);

/// The peers of each peer part when `cell` is split at `cap` peers per process, as even
/// as can be; empty when it runs whole (at most `cap` peers, or a workload that does
/// not split: only `fanout` and `survey` do).
pub(crate) fn shares(cell: &Cell, cap: usize) -> Vec<usize> {
    let splits = matches!(cell.workload, Workload::Fanout | Workload::Survey);
    if !splits || cell.peers <= cap {
        return Vec::new();
    }
    let parts = cell.peers.div_ceil(cap.max(1));
    (0..parts)
        .map(|i| cell.peers / parts + usize::from(i < cell.peers % parts))
        .collect()
}

/// Runs a split cell: `args(peers, part)` are a part's arguments. The server part's
/// report when it and every peer part succeeded.
pub(crate) fn run(
    (dir, imp, cpus): (&std::path::Path, &str, Option<&str>),
    args: impl Fn(usize, Part) -> Vec<String>,
    peers: usize,
    shares: &[usize],
    limit: Duration,
) -> Option<String> {
    let start = |n, part| spawn_tool(dir, imp, &args(n, part), cpus);
    let mut server = start(peers, Part::Server).ok()?;
    let to_server = Arc::new(Mutex::new(server.stdin.take()));
    std::thread::sleep(BIND_WAIT);
    let mut parts: Vec<Child> = Vec::new();
    let mut relays = Vec::new();
    for &n in shares {
        match start(n, Part::Peers) {
            Ok(mut part) => {
                relays.extend(part.stdout.take().map(|out| relay(out, to_server.clone())));
                parts.push(part);
            }
            Err(e) => {
                eprintln!("perf-bench: cannot start a peer part: {e}");
                break;
            }
        }
    }
    let started = parts.len() == shares.len();
    // Every peer part's output relayed: the server part's input ends.
    let closer = std::thread::spawn(move || {
        relays.into_iter().for_each(|r| drop(r.join()));
        drop(to_server.lock().unwrap_or_else(|e| e.into_inner()).take());
    });
    let out = wait_limited(&mut server, if started { limit } else { Duration::ZERO });
    // The server part has reported, so the peer parts are done; or it failed, and
    // they are stopped.
    let end = if out.is_some() {
        PART_END
    } else {
        Duration::ZERO
    };
    let ended: Vec<bool> = parts
        .iter_mut()
        .map(|p| {
            drop(p.stdin.take());
            wait_limited(p, end).is_some()
        })
        .collect();
    let _ = closer.join();
    out.filter(|_| started && ended.iter().all(|&e| e))
}

/// A thread copying a peer part's lines to the server part's standard input (gone once
/// the server part has ended).
fn relay(
    out: std::process::ChildStdout,
    to_server: Arc<Mutex<Option<ChildStdin>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let mut to = to_server.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(stdin) = to.as_mut() {
                if writeln!(stdin, "{line}")
                    .and_then(|()| stdin.flush())
                    .is_err()
                {
                    *to = None;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(workload: Workload, peers: usize) -> Cell {
        Cell {
            workload,
            peers,
            topics: 0,
            count: 1,
        }
    }

    #[test]
    fn only_fanout_and_survey_split_and_as_evenly_as_can_be() {
        assert_eq!(shares(&cell(Workload::Fanout, 1000), 500), [500, 500]);
        assert_eq!(
            shares(&cell(Workload::Survey, 1000), 300),
            [250, 250, 250, 250]
        );
        assert_eq!(shares(&cell(Workload::Survey, 5), 2), [2, 2, 1]);
        assert!(shares(&cell(Workload::Fanout, 500), 500).is_empty());
        assert!(shares(&cell(Workload::ReqRep, 1000), 500).is_empty());
        assert!(shares(&cell(Workload::Fanin, 1000), 500).is_empty());
    }
}
