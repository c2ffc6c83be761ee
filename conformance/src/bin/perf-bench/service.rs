//! The service workloads (`perf_kit::service`): which cells run, running them (each
//! tool alone, optionally under `taskset -c`), and their section of the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use perf_kit::service::{figure, Workload};
use perf_kit::split::Part;

use crate::render::{grouped, num, ratio};
use crate::run::{median, spawn_tool, tcp_url, wait_limited, SERVICE_PORTS};

/// The libraries that run the service workloads (raw sockets have none).
pub(crate) const LIBS: [&str; 3] = ["ours", "nanomsg", "nng"];

/// Topics of the large-subscription `fanout` cell.
pub(crate) const BIG_TOPICS: usize = 1_000_000;

/// One service cell: a workload with its peers, message size, count and topics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Cell {
    pub(crate) workload: Workload,
    pub(crate) peers: usize,
    pub(crate) topics: usize,
    pub(crate) count: usize,
}

const SIZE: usize = 64;

/// Peers of the smoke run's cells meant to be split (`--peers-per-process 2`: three
/// peer parts).
const SMOKE_SPLIT: usize = 5;

/// The cells of a full run (`scale` multiplies the counts), or of a smoke run: the
/// same workloads at tiny peer counts and counts.
pub(crate) fn cells(scale: f64, smoke: bool) -> Vec<Cell> {
    let c = |workload, peers, topics, count: usize| Cell {
        workload,
        peers,
        topics,
        count: ((count as f64 * scale) as usize).max(1),
    };
    if smoke {
        return vec![
            c(Workload::ReqRep, 2, 0, 20),
            c(Workload::Fanout, 2, 0, 200),
            c(Workload::Fanout, 1, 1000, 200),
            c(Workload::Survey, 2, 0, 5),
            c(Workload::Fanin, 2, 0, 200),
            // Split over peer parts when the peers per process are lowered below 5.
            c(Workload::Fanout, SMOKE_SPLIT, 0, 200),
            c(Workload::Survey, SMOKE_SPLIT, 0, 5),
        ];
    }
    let mut v: Vec<Cell> = [1, 16, 256]
        .map(|n| c(Workload::ReqRep, n, 0, (20_000 / n).max(200)))
        .into();
    v.extend([10, 100, 1000].map(|n| c(Workload::Fanout, n, 0, 20_000)));
    v.push(c(Workload::Fanout, 1, BIG_TOPICS, 200_000));
    v.extend([100, 1000].map(|n| c(Workload::Survey, n, 0, 50)));
    v.push(c(Workload::Fanin, 16, 0, 10_000));
    v
}

/// Sockets one libnanomsg process may hold (`NN_MAX_SOCKETS`, fixed when the library
/// is built; 512 in Debian's 1.1.5).
pub(crate) const NN_MAX_SOCKETS: usize = 512;

/// Responses an NNG 1.5.2 surveyor keeps before its user receives them. The queue is
/// fixed (128, not the `recv-buffer` option: `survey.c`), and a response that finds it
/// full is discarded, so a round of more respondents answering at once never completes
/// (1 000 respondents: 369 to 382 responses arrived, then nothing).
pub(crate) const NNG_SURVEY_QUEUE: usize = 128;

/// Sockets the busiest process of `cell` opens when it is split at `cap` peers per
/// process: a peer part's peers, or every peer and the server when it runs whole.
fn sockets_per_process(cell: &Cell, cap: usize) -> usize {
    crate::split::shares(cell, cap)
        .into_iter()
        .max()
        .unwrap_or(cell.peers + 1)
}

/// Whether `imp` sits `cell` out: NNG 1.5's SUB subscribes in quadratic time and its
/// surveyor discards responses past [`NNG_SURVEY_QUEUE`], and a libnanomsg process
/// cannot open more than [`NN_MAX_SOCKETS`] sockets (a cell split at `cap` peers per
/// process stays below it; `reqrep` and `fanin` run in one process).
pub(crate) fn sits_out(cell: &Cell, imp: &str, cap: usize) -> bool {
    (imp == "nng" && cell.topics > crate::run::NNG_SUB_MAX)
        || (imp == "nng" && cell.workload == Workload::Survey && cell.peers > NNG_SURVEY_QUEUE)
        || (imp == "nanomsg" && sockets_per_process(cell, cap) > NN_MAX_SOCKETS)
}

/// Where a cell runs: every CPU, or pinned to a `taskset -c` list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Placement {
    /// Every CPU, placement left to the scheduler.
    All,
    /// `taskset -c <list>`.
    Pinned(String),
}

impl Placement {
    /// The report's column label.
    pub(crate) fn label(&self) -> String {
        match self {
            Self::All => "all CPUs".into(),
            Self::Pinned(cpus) => format!("pinned to CPUs {cpus}"),
        }
    }

    /// CPUs available: the machine's, or the list's.
    pub(crate) fn cpus(&self) -> usize {
        match self {
            Self::All => std::thread::available_parallelism().map_or(1, |n| n.get()),
            Self::Pinned(list) => cpu_count(list),
        }
    }

    /// The `taskset -c` list, if pinned.
    pub(crate) fn list(&self) -> Option<&str> {
        match self {
            Self::All => None,
            Self::Pinned(l) => Some(l),
        }
    }
}

/// CPUs in a `taskset -c` list such as `0,2-3` (at least 1).
pub(crate) fn cpu_count(list: &str) -> usize {
    list.split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 1,
            },
            None => 1,
        })
        .sum::<usize>()
        .max(1)
}

/// How long one service run may take at least.
const LIMIT: Duration = Duration::from_secs(120);

/// The slowest rate, in messages delivered (requests, deliveries, responses or
/// messages received) per second, that a run is given time for beyond [`LIMIT`]:
/// libnanomsg's 1 000-subscriber `fanout` (20 million deliveries) took 146 s at 138 k
/// deliveries/s on the shared 2-vCPU VM, past [`LIMIT`].
const SLOWEST_RATE: f64 = 25_000.0;

/// How long a run of `cell` may take: [`LIMIT`], or longer for its messages at
/// [`SLOWEST_RATE`]. A run that hangs still ends sooner, at a peer's own waits
/// (`perf_kit::service::WAIT`).
fn limit(cell: &Cell) -> Duration {
    let messages = (cell.peers * cell.count) as f64;
    LIMIT.max(Duration::from_secs_f64(messages / SLOWEST_RATE))
}

/// Runs one cell with one library, split over processes of at most `cap` peers
/// ([`crate::split::shares`]) for every library alike; its report, `None` when it
/// failed.
pub(crate) fn run_cell(
    dir: &Path,
    cell: &Cell,
    imp: &str,
    at: &Placement,
    (seq, cap): (usize, usize),
) -> Option<String> {
    let url = tcp_url(SERVICE_PORTS, seq);
    let args = |peers: usize, part: Part| {
        let mut args: Vec<String> = Vec::new();
        if imp == "ours" {
            // Explicit: one worker per CPU the cell may use, stated in the report.
            args.extend(["--threads".into(), at.cpus().to_string()]);
        }
        args.extend([
            cell.workload.name().to_owned(),
            url.clone(),
            peers.to_string(),
            SIZE.to_string(),
            cell.count.to_string(),
        ]);
        if cell.workload == Workload::Fanout {
            args.push(cell.topics.to_string());
        }
        args.extend(part.flag().map(str::to_owned));
        args
    };
    let shares = crate::split::shares(cell, cap);
    if !shares.is_empty() {
        eprintln!(
            "{imp} {}: peers in {} processes {shares:?}",
            cell_name(cell),
            shares.len()
        );
        return crate::split::run(
            (dir, imp, at.list()),
            args,
            cell.peers,
            &shares,
            limit(cell),
        );
    }
    let mut child = spawn_tool(dir, imp, &args(cell.peers, Part::Whole), at.list()).ok()?;
    wait_limited(&mut child, limit(cell))
}

/// The figures a workload reports: report key, label, unit.
fn figures(w: Workload) -> &'static [(&'static str, &'static str)] {
    match w {
        Workload::ReqRep => &[
            ("throughput", "requests/s"),
            ("latency p50", "p50 µs"),
            ("latency p99", "p99 µs"),
            ("latency p999", "p999 µs"),
        ],
        Workload::Fanout => &[
            ("throughput", "deliveries/s"),
            ("slowest lag", "slowest lag µs"),
            ("deliveries", "delivered"),
        ],
        Workload::Survey => &[("round p50", "round p50 µs"), ("round p99", "round p99 µs")],
        Workload::Fanin => &[("throughput", "messages/s")],
    }
}

/// Every report of every repetition, by cell, library and placement.
pub(crate) type Outputs = BTreeMap<(Cell, &'static str, Placement), Vec<String>>;

fn cell_name(c: &Cell) -> String {
    let peers = match c.workload {
        Workload::ReqRep => "clients",
        Workload::Fanout => "subscribers",
        Workload::Survey => "respondents",
        Workload::Fanin => "pushers",
    };
    let topics = if c.topics > 0 {
        format!(", {} topics", grouped(c.topics))
    } else {
        String::new()
    };
    format!("{} {} {peers}{topics}", c.workload.name(), grouped(c.peers))
}

/// The `deliveries: X of Y` line as a fraction.
fn delivered(out: &str) -> Option<f64> {
    let line = out.lines().find_map(|l| l.strip_prefix("deliveries: "))?;
    let (got, of) = line.split_once(" of ")?;
    Some(got.trim().parse::<f64>().ok()? / of.trim().parse::<f64>().ok()?.max(1.0))
}

/// The median of `key` over the repetitions of one cell.
fn med(outs: &[String], key: &str) -> Option<f64> {
    let mut v: Vec<f64> = outs
        .iter()
        .filter_map(|o| {
            if key == "deliveries" {
                delivered(o)
            } else {
                figure(o, key)
            }
        })
        .collect();
    median(&mut v)
}

/// Which processes the cells ran in, for every library alike, and which cells
/// libnanomsg sits out for want of sockets.
fn processes_text(cells: &[Cell], cap: usize) -> String {
    let split: Vec<String> = cells
        .iter()
        .map(|c| (c, crate::split::shares(c, cap)))
        .filter(|(_, s)| !s.is_empty())
        .map(|(c, s)| format!("{} ({} peer processes)", cell_name(c), s.len()))
        .collect();
    let mut text = format!(
        "A workload runs in one process, except that `fanout` and `survey` with more \
         than {cap} peers run, for every library alike, as one publisher or surveyor \
         process and peer processes of at most {cap} peers each (one libnanomsg process \
         opens at most {NN_MAX_SOCKETS} sockets, `NN_MAX_SOCKETS`). The peer processes \
         report through perf-bench when each of their peers has had a warm-up message, \
         and the publisher or surveyor starts only once all have, as in one process; \
         the surveyor times its rounds itself, and every subscriber's deliveries and \
         last delivery reach the publisher on a clock the processes share (wall-clock \
         time read once per process, advanced by the monotonic clock), so the figures \
         mean what they mean in one process. "
    );
    if split.is_empty() {
        text.push_str("No cell of this run is split.");
    } else {
        let _ = write!(text, "Split in this run: {}.", split.join(", "));
    }
    let sat_out: Vec<String> = cells
        .iter()
        .filter(|c| sits_out(c, "nanomsg", cap))
        .map(cell_name)
        .collect();
    if !sat_out.is_empty() {
        let _ = write!(
            text,
            " libnanomsg sits out {} (more than {NN_MAX_SOCKETS} sockets in one process; \
             `reqrep` and `fanin` are not split).",
            sat_out.join(", ")
        );
    }
    text.push('\n');
    text
}

/// The `## Service workloads` section.
pub(crate) fn render(
    outs: &Outputs,
    cells: &[Cell],
    placements: &[Placement],
    (reps, cap): (usize, usize),
) -> String {
    let mut md = String::from("## Service workloads\n\n");
    let _ = writeln!(
        md,
        "Each workload runs over TCP on 127.0.0.1, {SIZE} B \
         messages, {reps} run(s) per cell, medians (perf-kit's `service` module describes \
         them). Ours: a REP socket with one context per client, and every peer a task \
         with its own socket, on a multi-thread runtime with one worker per CPU of the \
         column (`sp-perf --threads N`, in each process). libnanomsg and NNG: one thread \
         per peer with its own blocking socket; the REP server is libnanomsg's loopback \
         device on a raw REP socket (no user thread in the loop), and for NNG one REP \
         context per client, each on a thread that moves the request back as the reply; \
         worker threads are the libraries' own (neither version has a runtime \
         knob). PUB drops what a subscriber cannot take, so `delivered` is the fraction \
         that arrived; deliveries/s counts only those. Every publisher queues {} \
         messages per pipe (ours `send_queue`, NNG `send-buffer`; libnanomsg has no \
         per-pipe queue and writes into the kernel's buffer, `NN_SNDBUF` 128 KiB).\n",
        perf_kit::service::PUB_PIPE_QUEUE,
    );
    let _ = writeln!(md, "{}", processes_text(cells, cap));
    let _ = writeln!(
        md,
        "NNG sits the {}-topic cell out (its SUB subscribes in quadratic time) and the \
         surveys of more than {} respondents (its surveyor discards responses that find \
         its fixed queue full). Columns: {}.\n",
        grouped(BIG_TOPICS),
        NNG_SURVEY_QUEUE,
        placements
            .iter()
            .map(|p| format!("{} ({} CPUs)", p.label(), p.cpus()))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let mut head = String::from("| workload | figure |");
    let mut rule = String::from("|---|---|");
    for p in placements {
        for i in LIBS {
            let _ = write!(head, " {i}, {} |", p.label());
            rule.push_str("---|");
        }
        let _ = write!(head, " ours / nanomsg, {0} | ours / nng, {0} |", p.label());
        rule.push_str("---|---|");
    }
    let _ = writeln!(md, "{head}\n{rule}");
    for c in cells {
        for (key, label) in figures(c.workload) {
            let mut row = format!("| {} | {label} |", cell_name(c));
            for p in placements {
                let get = |i: &'static str| outs.get(&(*c, i, p.clone())).and_then(|o| med(o, key));
                let shown = |v: Option<f64>| match (v, *key) {
                    (Some(v), "deliveries") => format!("{:.1} %", v * 100.0),
                    _ => num(v),
                };
                for i in LIBS {
                    let _ = write!(row, " {} |", shown(get(i)));
                }
                let _ = write!(
                    row,
                    " {} | {} |",
                    ratio(get("ours"), get("nanomsg")),
                    ratio(get("ours"), get("nng"))
                );
            }
            let _ = writeln!(md, "{row}");
        }
    }
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_run_splits_the_1000_peer_cells_and_libnanomsg_sits_none_out() {
        let cells = cells(1.0, false);
        let cap = crate::split::PEERS_PER_PROCESS;
        let text = processes_text(&cells, cap);
        assert!(
            text.contains(
                "Split in this run: fanout 1 000 subscribers (2 peer processes), \
                 survey 1 000 respondents (2 peer processes)."
            ),
            "{text}"
        );
        assert!(!text.contains("sits out"), "{text}");
        assert!(cells.iter().all(|c| !sits_out(c, "nanomsg", cap)));
        let big = cells
            .iter()
            .find(|c| c.workload == Workload::Fanout && c.peers == 1000);
        assert_eq!(big.map(limit), Some(Duration::from_secs(800)));
        // Planted fault: one process per cell, as before the split; libnanomsg must
        // sit the 1 000-peer cells out, and the text must say so.
        let text = processes_text(&cells, usize::MAX);
        assert!(text.contains("No cell of this run is split."), "{text}");
        assert!(
            text.contains("libnanomsg sits out fanout 1 000 subscribers, survey 1 000 respondents"),
            "{text}"
        );
    }
}
