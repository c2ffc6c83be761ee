//! The service workloads (`perf_kit::service`): which cells run, running them (each
//! tool alone, optionally under `taskset -c`), and their section of the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use perf_kit::service::{figure, Workload};

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

/// Whether `imp` sits `cell` out: NNG 1.5's SUB subscribes in quadratic time and its
/// surveyor discards responses past [`NNG_SURVEY_QUEUE`], and a libnanomsg process
/// cannot open a socket per peer past [`NN_MAX_SOCKETS`] (the workloads run in one
/// process).
pub(crate) fn sits_out(cell: &Cell, imp: &str) -> bool {
    (imp == "nng" && cell.topics > crate::run::NNG_SUB_MAX)
        || (imp == "nng" && cell.workload == Workload::Survey && cell.peers > NNG_SURVEY_QUEUE)
        || (imp == "nanomsg" && cell.peers + 1 > NN_MAX_SOCKETS)
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

/// How long one service run may take.
const LIMIT: Duration = Duration::from_secs(120);

/// Runs one cell with one library; its report, `None` when it failed.
pub(crate) fn run_cell(
    dir: &Path,
    cell: &Cell,
    imp: &str,
    at: &Placement,
    seq: usize,
) -> Option<String> {
    let mut args: Vec<String> = Vec::new();
    if imp == "ours" {
        // Explicit: one worker per CPU the cell may use, stated in the report.
        args.extend(["--threads".into(), at.cpus().to_string()]);
    }
    args.extend([
        cell.workload.name().to_owned(),
        tcp_url(SERVICE_PORTS, seq),
        cell.peers.to_string(),
        SIZE.to_string(),
        cell.count.to_string(),
    ]);
    if cell.workload == Workload::Fanout {
        args.push(cell.topics.to_string());
    }
    let mut child = spawn_tool(dir, imp, &args, at.list()).ok()?;
    wait_limited(&mut child, LIMIT)
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

/// The `## Service workloads` section.
pub(crate) fn render(
    outs: &Outputs,
    cells: &[Cell],
    placements: &[Placement],
    reps: usize,
) -> String {
    let mut md = String::from("## Service workloads\n\n");
    let _ = writeln!(
        md,
        "Each workload runs in one process per library over TCP on 127.0.0.1, {SIZE} B \
         messages, {reps} run(s) per cell, medians (perf-kit's `service` module describes \
         them). Ours: a REP socket with one context per client, and every peer a task \
         with its own socket, on a multi-thread runtime with one worker per CPU of the \
         column (`sp-perf --threads N`). libnanomsg and NNG: one thread per peer with \
         its own blocking socket; the REP server is libnanomsg's loopback device on a \
         raw REP socket (no user thread in the loop), and for NNG one REP context per \
         client, each on a thread that moves the request back as the reply; worker threads are the libraries' own (neither version has a runtime \
         knob). PUB drops what a subscriber cannot take, so `delivered` is the fraction \
         that arrived; deliveries/s counts only those. Every publisher queues {} \
         messages per pipe (ours `send_queue`, NNG `send-buffer`; libnanomsg has no \
         per-pipe queue and writes into the kernel's buffer, `NN_SNDBUF` 128 KiB). NNG sits the {}-topic cell out \
         (its SUB subscribes in quadratic time) and the surveys of more than {} \
         respondents (its surveyor discards responses that find its fixed queue full), \
         and libnanomsg the cells of more than \
         {} peers (it opens at most {NN_MAX_SOCKETS} sockets per process, and each \
         workload runs in one). Columns: {}.\n",
        perf_kit::service::PUB_PIPE_QUEUE,
        grouped(BIG_TOPICS),
        NNG_SURVEY_QUEUE,
        NN_MAX_SOCKETS - 1,
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
