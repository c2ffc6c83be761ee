//! `perf-bench`: runs `sp-perf` (ours), `nanomsg-perf`, `nng-perf` and `raw-perf` side by
//! side over tcp, ipc and inproc at 64 B, 1 KiB, 64 KiB and 1 MiB, latency (PAIR
//! ping-pong) and throughput (PUSH/PULL, `--pipeline`), each cell a few times, then the
//! memory tools of `sp-perf`, `nanomsg-perf` and `nng-perf` (heap and resident bytes per
//! idle connection over tcp and ipc, per unconnected socket, per subscription), and
//! writes the medians and ratios to `docs/performance.md` (and standard output).
//!
//! ```text
//! cargo build --release -p sp-net -p conformance
//! target/release/perf-bench [--reps N] [--scale F] [--out PATH] [--only memory]
//! ```
//!
//! Not part of the test suite: timings on shared machines are noisy, so nothing here
//! asserts. `--scale` multiplies every message/round-trip count. `--only memory` runs
//! just the memory tools (about a minute, without the timings) and replaces the
//! `## Memory` section of the existing `--out` file (appending it if missing), leaving
//! the rest of the file as it was.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use conformance::perf::mem;

const IMPLS: [&str; 4] = ["ours", "nanomsg", "nng", "raw"];
const TRANSPORTS: [&str; 3] = ["tcp", "ipc", "inproc"];
const SIZES: [usize; 4] = [64, 1024, 64 * 1024, 1024 * 1024];
/// How long to wait for a bound tool to listen before starting its peer.
const BIND_WAIT: Duration = Duration::from_millis(150);
const RUN_LIMIT: Duration = Duration::from_secs(20);
/// Idle connections per `mem_conn` run, at most (fewer when the fd limit is low).
const MEM_CONNS: usize = 500;
/// Subscriptions per `mem_sub` run.
const SUB_COUNTS: [usize; 2] = [100_000, 1_000_000];
/// NNG 1.5's SUB keeps its topics in a sorted linked list, scanned on every subscribe:
/// 100 000 topics take it seconds, a million would take it most of an hour.
const NNG_SUB_MAX: usize = 100_000;
const MEM_LIMIT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Lat,
    Thr,
}

fn binary(dir: &Path, imp: &str) -> PathBuf {
    dir.join(match imp {
        "ours" => "sp-perf",
        "nanomsg" => "nanomsg-perf",
        "nng" => "nng-perf",
        _ => "raw-perf",
    })
}

fn count(kind: Kind, imp: &str, size: usize, scale: f64) -> usize {
    let base = match (kind, size) {
        (Kind::Lat, s) if s <= 1024 => 2000,
        (Kind::Lat, s) if s <= 65536 => 500,
        (Kind::Lat, _) => 100,
        // NNG's PUSH/PULL moves ~33 k msg/s at small sizes: fewer messages keep its
        // cells short.
        (Kind::Thr, s) if s <= 1024 && imp == "nng" => 30_000,
        (Kind::Thr, s) if s <= 1024 => 200_000,
        (Kind::Thr, s) if s <= 65536 => 5_000,
        (Kind::Thr, _) => 500,
    };
    ((base as f64 * scale) as usize).max(10)
}

fn wait_limited(child: &mut Child, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                if let Some(mut o) = child.stdout.take() {
                    let _ = o.read_to_string(&mut out);
                }
                return status.success().then_some(out);
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

fn spawn(bin: &Path, args: &[String]) -> std::io::Result<Child> {
    Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
}

/// The reported figure: round-trip µs for latency, msg/s for throughput.
fn figure(kind: Kind, out: &str) -> Option<f64> {
    let (key, unit) = match kind {
        Kind::Lat => ("average latency:", "[us]"),
        Kind::Thr => ("throughput:", "[msg/s]"),
    };
    out.lines()
        .filter_map(|l| l.strip_prefix(key))
        .find(|l| l.trim_end().ends_with(unit))
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .map(|v| if kind == Kind::Lat { v * 2.0 } else { v })
}

fn run_cell(
    dir: &Path,
    imp: &str,
    tr: &str,
    kind: Kind,
    size: usize,
    n: usize,
    seq: usize,
) -> Option<f64> {
    let bin = binary(dir, imp);
    let mut pre: Vec<String> = Vec::new();
    if kind == Kind::Thr {
        pre.push("--pipeline".into());
    }
    let (local, remote) = match kind {
        Kind::Lat => ("local_lat", "remote_lat"),
        Kind::Thr => ("local_thr", "remote_thr"),
    };
    if tr == "inproc" {
        let tool = if kind == Kind::Lat {
            "inproc_lat"
        } else {
            "inproc_thr"
        };
        let mut args = pre;
        args.extend([tool.to_owned(), size.to_string(), n.to_string()]);
        let mut child = spawn(&bin, &args).ok()?;
        return figure(kind, &wait_limited(&mut child, RUN_LIMIT)?);
    }
    let addr = match tr {
        "tcp" => format!("tcp://127.0.0.1:{}", 21000 + (seq % 20000)),
        _ => format!(
            "ipc://{}/sp-perf-{}-{seq}.ipc",
            std::env::temp_dir().display(),
            std::process::id()
        ),
    };
    let args = |tool: &str| {
        let mut a = pre.clone();
        a.extend([
            tool.to_owned(),
            addr.clone(),
            size.to_string(),
            n.to_string(),
        ]);
        a
    };
    let mut l = spawn(&bin, &args(local)).ok()?;
    std::thread::sleep(BIND_WAIT);
    let Ok(mut r) = spawn(&bin, &args(remote)) else {
        let _ = l.kill();
        let _ = l.wait();
        return None;
    };
    // The side that reports: the measuring remote for latency, the receiver for
    // throughput. The other side gets a little longer, then is stopped (the C senders
    // linger before closing).
    let (reporter, other) = match kind {
        Kind::Lat => (&mut r, &mut l),
        Kind::Thr => (&mut l, &mut r),
    };
    let out = wait_limited(reporter, RUN_LIMIT);
    if wait_limited(
        other,
        Duration::from_millis(if kind == Kind::Thr { 50 } else { 3000 }),
    )
    .is_none()
        && kind == Kind::Lat
    {
        return None;
    }
    figure(kind, &out?)
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

fn size_name(s: usize) -> String {
    match s {
        s if s >= 1 << 20 => format!("{} MiB", s >> 20),
        s if s >= 1024 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v >= 1e6 => format!("{:.2} M", v / 1e6),
        Some(v) if v >= 1e4 => format!("{:.0} k", v / 1e3),
        Some(v) if v >= 1e3 => format!("{:.1} k", v / 1e3),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "–".into(),
    }
}

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn machine() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    format!("{nproc} CPUs ({model}), Linux {kernel}")
}

type Results = BTreeMap<(Kind, &'static str, usize, &'static str), Option<f64>>;

fn render(res: &Results, memory: &str, reps: usize, scale: f64, took: Duration) -> String {
    let get = |k, t, s, i| res.get(&(k, t, s, i)).copied().flatten();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Performance: sp-net next to libnanomsg, NNG and raw sockets\n"
    );
    let _ = writeln!(
        md,
        "Generated by `perf-bench` (conformance crate) on {} — {}. {reps} runs per cell, \
         counts ×{scale}, whole run {:.0} s. Cells are medians; the machine is a shared VM \
         whose speed moves between runs, so compare figures of one run, as ratios.\n",
        sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        machine(),
        took.as_secs_f64()
    );
    let _ = writeln!(
        md,
        "Tools: `sp-perf` (ours, sp-net), `nanomsg-perf` (libnanomsg), `nng-perf` (NNG), \
         `raw-perf` (plain sockets; TCP_NODELAY on); all speak nanomsg's perf-tool \
         command line. Latency: PAIR ping-pong, round-trip time. Throughput: PUSH/PULL, \
         the receiver's rate from the empty start message to the last message; raw: one \
         write per message, the receiver reading 256 KiB at a time. Memory: heap and \
         resident bytes per idle connection, socket and subscription (`mem_conn`, \
         `mem_sub`; see its section, which `perf-bench --only memory` regenerates alone). \
         Installed versions: {}.\n",
        installed()
    );
    md.push_str(&render_targets(res));
    for (kind, title, unit) in [
        (Kind::Lat, "Latency", "round-trip µs, lower is better"),
        (Kind::Thr, "Throughput", "messages/s, higher is better"),
    ] {
        let _ = writeln!(md, "## {title} ({unit})\n");
        let mut head = String::from("| size |");
        let mut rule = String::from("|---|");
        for t in TRANSPORTS {
            for i in IMPLS {
                if t == "inproc" && i == "raw" {
                    continue;
                }
                let _ = write!(head, " {i} {t} |");
                rule.push_str("---|");
            }
        }
        let _ = writeln!(md, "{head}\n{rule}");
        for s in SIZES {
            let mut row = format!("| {} |", size_name(s));
            for t in TRANSPORTS {
                for i in IMPLS {
                    if t == "inproc" && i == "raw" {
                        continue;
                    }
                    let _ = write!(row, " {} |", num(get(kind, t, s, i)));
                }
            }
            let _ = writeln!(md, "{row}");
        }
        let _ = writeln!(md);
        let _ = writeln!(md, "### {title} ratios\n");
        let (note, cols): (&str, Vec<(&str, &str, &str)>) = match kind {
            Kind::Lat => (
                "library RTT / raw socket RTT (1.00 = as fast as the kernel); ours / nanomsg",
                vec![
                    ("tcp", "ours", "raw"),
                    ("tcp", "nanomsg", "raw"),
                    ("tcp", "nng", "raw"),
                    ("ipc", "ours", "raw"),
                    ("ipc", "nanomsg", "raw"),
                    ("ipc", "nng", "raw"),
                    ("tcp", "ours", "nanomsg"),
                    ("inproc", "ours", "nanomsg"),
                ],
            ),
            Kind::Thr => (
                "msgs/s ratios: ours / nanomsg, ours / raw (one write per message)",
                vec![
                    ("tcp", "ours", "nanomsg"),
                    ("tcp", "ours", "nng"),
                    ("tcp", "ours", "raw"),
                    ("tcp", "nanomsg", "raw"),
                    ("ipc", "ours", "nanomsg"),
                    ("ipc", "ours", "raw"),
                    ("inproc", "ours", "nanomsg"),
                    ("inproc", "ours", "nng"),
                ],
            ),
        };
        let _ = writeln!(md, "{note}.\n");
        let mut head = String::from("| size |");
        let mut rule = String::from("|---|");
        for (t, a, b) in &cols {
            let _ = write!(head, " {a} / {b} {t} |");
            rule.push_str("---|");
        }
        let _ = writeln!(md, "{head}\n{rule}");
        for s in SIZES {
            let mut row = format!("| {} |", size_name(s));
            for (t, a, b) in &cols {
                let _ = write!(row, " {} |", ratio(get(kind, t, s, a), get(kind, t, s, b)));
            }
            let _ = writeln!(md, "{row}");
        }
        let _ = writeln!(md);
    }
    md.push_str(memory);
    md
}

/// The soft limit on open files, from `/proc/self/limits`.
fn fd_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Connections per `mem_conn` run: [`MEM_CONNS`], fewer if the fd limit is low (one fd
/// per connection end, up to two eventfds per nanomsg socket, some to spare).
fn mem_conns() -> usize {
    fd_limit().map_or(MEM_CONNS, |l| {
        MEM_CONNS.min(l.saturating_sub(100) / 6).max(1)
    })
}

/// The memory tool runs: a name, the tool's arguments, and whether NNG sits it out.
fn mem_runs(conns: usize) -> Vec<(String, Vec<String>, bool)> {
    let mut runs = Vec::new();
    for t in ["tcp", "ipc"] {
        let url = match t {
            "tcp" => "tcp://127.0.0.1:20900".to_owned(),
            _ => format!(
                "ipc://{}/sp-mem-{}.ipc",
                std::env::temp_dir().display(),
                std::process::id()
            ),
        };
        runs.push((
            format!("conn {t}"),
            vec!["mem_conn".into(), url, conns.to_string()],
            false,
        ));
    }
    for n in SUB_COUNTS {
        runs.push((
            format!("sub {n}"),
            vec!["mem_sub".into(), n.to_string()],
            n > NNG_SUB_MAX,
        ));
    }
    runs
}

/// Each memory run's report, by run name and library (`None`: failed or not run).
type MemOutputs = BTreeMap<(String, &'static str), Option<String>>;

fn run_memory(dir: &Path, conns: usize) -> MemOutputs {
    let mut outs = MemOutputs::new();
    for (name, args, nng_sits_out) in mem_runs(conns) {
        for imp in ["ours", "nanomsg", "nng"] {
            let skip = imp == "nng" && nng_sits_out;
            let out = if skip {
                None
            } else {
                spawn(&binary(dir, imp), &args)
                    .ok()
                    .and_then(|mut c| wait_limited(&mut c, MEM_LIMIT))
            };
            eprintln!(
                "memory {name} {imp}: {}",
                match &out {
                    None if skip => "not run".into(),
                    None => "failed".into(),
                    Some(o) => o
                        .lines()
                        .filter(|l| l.starts_with("heap per") || l.starts_with("rss per"))
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            );
            outs.insert((name.clone(), imp), out);
        }
    }
    outs
}

/// `1000000` as `1 000 000`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn bytes(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v.abs() >= 10_240.0 => format!("{:.1} KiB", v / 1024.0),
        Some(v) => format!("{v:.0} B"),
    }
}

/// One timing target of the performance issue, checked against this run.
struct Target {
    what: &'static str,
    goal: &'static str,
    /// The measured figure, shown with `shown`.
    value: Option<f64>,
    shown: fn(f64) -> String,
    met: fn(f64) -> bool,
}

fn times(v: f64) -> String {
    format!("{v:.2}×")
}

/// The issue's timing targets as measured in this run (memory targets are checked in
/// the memory section, which `--only memory` regenerates on its own).
fn render_targets(res: &Results) -> String {
    let get = |k, t, s, i| res.get(&(k, t, s, i)).copied().flatten();
    let per = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
    let targets = [
        Target {
            what: "TCP round trip, 64 B: ours / raw socket",
            goal: "≤ 1.5×",
            value: per(
                get(Kind::Lat, "tcp", 64, "ours"),
                get(Kind::Lat, "tcp", 64, "raw"),
            ),
            shown: times,
            met: |v| v <= 1.5,
        },
        Target {
            what: "IPC round trip, 64 B: ours / raw socket",
            goal: "≤ 1.5×",
            value: per(
                get(Kind::Lat, "ipc", 64, "ours"),
                get(Kind::Lat, "ipc", 64, "raw"),
            ),
            shown: times,
            met: |v| v <= 1.5,
        },
        Target {
            what: "PUSH/PULL over TCP, 64 B: ours / libnanomsg msg/s",
            goal: "≥ 10×",
            value: per(
                get(Kind::Thr, "tcp", 64, "ours"),
                get(Kind::Thr, "tcp", 64, "nanomsg"),
            ),
            shown: times,
            met: |v| v >= 10.0,
        },
        Target {
            what: "PUSH/PULL over TCP, 1 MiB: ours / raw TCP bandwidth",
            goal: "≥ 80 %",
            value: per(
                get(Kind::Thr, "tcp", 1 << 20, "ours"),
                get(Kind::Thr, "tcp", 1 << 20, "raw"),
            ),
            shown: |v| format!("{:.0} %", v * 100.0),
            met: |v| v >= 0.8,
        },
        Target {
            what: "PUSH/PULL over inproc, 64 B",
            goal: "≥ 5 M msg/s",
            value: get(Kind::Thr, "inproc", 64, "ours"),
            shown: |v| format!("{} msg/s", num(Some(v))),
            met: |v| v >= 5e6,
        },
    ];
    let mut md = String::from("## Targets\n\n");
    md.push_str(
        "The performance issue's timing targets, checked against the medians of this run. \
         The subscription-matching target is measured by `cargo bench -p sp-proto --bench \
         subscriptions`, the memory targets in the Memory section below; the profiles \
         behind the figures, and the reasons for any target missed, are in \
         [performance-profile.md](performance-profile.md).\n\n",
    );
    md.push_str("| target | goal | this run | met |\n|---|---|---|---|\n");
    for t in targets {
        md.push_str(&target_row(
            t.what,
            t.goal,
            t.value.map(|v| ((t.shown)(v), (t.met)(v))),
        ));
    }
    md.push('\n');
    md
}

/// A row of a targets table: the figure as shown and whether it meets the goal.
fn target_row(what: &str, goal: &str, outcome: Option<(String, bool)>) -> String {
    match outcome {
        Some((shown, met)) => {
            let met = if met { "yes" } else { "**no**" };
            format!("| {what} | {goal} | {shown} | {met} |\n")
        }
        None => format!("| {what} | {goal} | – | not measured |\n"),
    }
}

fn render_memory(outs: &MemOutputs, conns: usize) -> String {
    let get = |run: &str, imp: &'static str, key: &str| {
        outs.get(&(run.to_owned(), imp))
            .and_then(|o| mem::figure(o.as_deref()?, key))
    };
    let mut md = String::from("## Memory (bytes, lower is better)\n\n");
    let _ = writeln!(
        md,
        "Heap bytes in use (glibc `mallinfo2`: `uordblks + hblkhd`) and resident bytes \
         (`/proc/self/statm`), before and after, divided by the count; one run per cell. \
         Idle connection: `mem_conn`, one process with a PULL listener and {conns} PUSH \
         dialer sockets, each connected and sending one 2-byte message that the \
         listener receives (proving every connection up), measured {} ms later; a \
         connection's figure counts **both ends** (dialer and accepted side, with the \
         dial endpoint), not the dialer socket, whose cost is the \"unconnected socket\" \
         row. Subscription: `mem_sub`, one SUB socket subscribed to N distinct topics \
         of 8–24 letters (the same seeded topics for every library). RSS counts only \
         touched pages, heap counts every allocated byte. `perf-bench --only memory` \
         reruns just this section. NNG 1.5's SUB keeps topics in a sorted list scanned \
         on every subscribe (quadratic), so it is not run past {} topics.\n",
        mem::SETTLE.as_millis(),
        grouped(NNG_SUB_MAX)
    );
    let mut rows: Vec<(String, String, &str)> = Vec::new();
    for t in ["tcp", "ipc"] {
        for (what, key) in [
            ("heap", "heap per connection"),
            ("RSS", "rss per connection"),
        ] {
            rows.push((
                format!("idle connection, {t}, both ends: {what}"),
                format!("conn {t}"),
                key,
            ));
        }
    }
    for (what, key) in [("heap", "heap per socket"), ("RSS", "rss per socket")] {
        rows.push((
            format!("unconnected PUSH socket: {what}"),
            "conn tcp".into(),
            key,
        ));
    }
    for n in SUB_COUNTS {
        for (what, key) in [
            ("heap", "heap per subscription"),
            ("RSS", "rss per subscription"),
        ] {
            rows.push((
                format!("subscription, {} topics: {what}", grouped(n)),
                format!("sub {n}"),
                key,
            ));
        }
    }
    let _ = writeln!(
        md,
        "| per | ours | nanomsg | nng | ours / nanomsg | ours / nng |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|");
    for (label, run, key) in rows {
        let [o, n, g] = ["ours", "nanomsg", "nng"].map(|i| get(&run, i, key));
        let _ = writeln!(
            md,
            "| {label} | {} | {} | {} | {} | {} |",
            bytes(o),
            bytes(n),
            bytes(g),
            ratio(o, n),
            ratio(o, g)
        );
    }
    let _ = writeln!(md);
    // The issue's memory target: within the C libraries', i.e. at most the smaller of
    // the two (or of the one measured), on heap bytes, which count every allocation.
    md.push_str("Memory targets (heap bytes at most both C libraries'):\n\n");
    md.push_str("| target | goal | this run | met |\n|---|---|---|---|\n");
    let mut checks: Vec<(String, String, &str)> = ["tcp", "ipc"]
        .map(|t| {
            (
                format!("idle connection, {t}, both ends"),
                format!("conn {t}"),
                "heap per connection",
            )
        })
        .into();
    for n in SUB_COUNTS {
        checks.push((
            format!("subscription, {} topics", grouped(n)),
            format!("sub {n}"),
            "heap per subscription",
        ));
    }
    for (what, run, key) in checks {
        let ours = get(&run, "ours", key);
        let best = ["nanomsg", "nng"]
            .iter()
            .filter_map(|i| get(&run, i, key))
            .reduce(f64::min);
        let outcome = ours.zip(best).map(|(o, b)| {
            (
                format!("{} (C best {})", bytes(Some(o)), bytes(Some(b))),
                o <= b,
            )
        });
        md.push_str(&target_row(&what, "≤ C libraries", outcome));
    }
    md.push('\n');
    md
}

/// `doc` with its `## Memory` section (up to the next `## ` heading) replaced by
/// `section`, or with `section` appended.
fn splice_memory(doc: &str, section: &str) -> String {
    let Some(start) = doc.find("## Memory") else {
        let sep = if doc.is_empty() || doc.ends_with("\n\n") {
            ""
        } else if doc.ends_with('\n') {
            "\n"
        } else {
            "\n\n"
        };
        return format!("{doc}{sep}{section}");
    };
    let after = start + "## Memory".len();
    let end = doc[after..]
        .find("\n## ")
        .map_or(doc.len(), |i| after + i + 1);
    format!("{}{section}{}", &doc[..start], &doc[end..])
}

fn installed() -> String {
    let v = |p: &str| {
        let out = sh("dpkg-query", &["-W", "-f", "${Version}", p]);
        if out.is_empty() {
            format!("{p} ?")
        } else {
            format!("{p} {out}")
        }
    };
    format!("{}, {}", v("libnanomsg-dev"), v("libnng-dev"))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let mut reps = 3usize;
    let mut scale = 1.0f64;
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/performance.md");
    let mut memory_only = false;
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        let v = it.next();
        match (a.as_str(), v) {
            ("--reps", Some(v)) => reps = v.parse().unwrap_or(reps).max(1),
            ("--scale", Some(v)) => scale = v.parse().unwrap_or(scale),
            ("--out", Some(v)) => out = PathBuf::from(v),
            ("--only", Some(v)) if v == "memory" => memory_only = true,
            _ => {
                eprintln!("usage: perf-bench [--reps N] [--scale F] [--out PATH] [--only memory]");
                return ExitCode::from(1);
            }
        }
    }
    let dir = match std::env::current_exe() {
        Ok(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
        Err(e) => {
            eprintln!("perf-bench: {e}");
            return ExitCode::from(2);
        }
    };
    for imp in IMPLS {
        if !binary(&dir, imp).exists() {
            eprintln!(
                "perf-bench: {} is missing; build with `cargo build --release -p sp-net -p conformance`",
                binary(&dir, imp).display()
            );
            return ExitCode::from(2);
        }
    }
    let conns = mem_conns();
    if memory_only {
        let section = render_memory(&run_memory(&dir, conns), conns);
        print!("{section}");
        let doc = std::fs::read_to_string(&out).unwrap_or_default();
        return write_doc(&out, &splice_memory(&doc, &section));
    }
    let start = Instant::now();
    let mut samples: BTreeMap<(Kind, &'static str, usize, &'static str), Vec<f64>> =
        BTreeMap::new();
    let mut seq = 0usize;
    // Repetitions outermost, so slow phases of the machine spread over every cell.
    for rep in 0..reps {
        for kind in [Kind::Lat, Kind::Thr] {
            for t in TRANSPORTS {
                for s in SIZES {
                    for i in IMPLS {
                        if t == "inproc" && i == "raw" {
                            continue;
                        }
                        seq += 1;
                        let n = count(kind, i, s, scale);
                        let r = run_cell(&dir, i, t, kind, s, n, seq);
                        eprintln!(
                            "rep {rep} {kind:?} {t} {} {i}: {}",
                            size_name(s),
                            r.map_or("failed".into(), |v| format!("{v:.1}"))
                        );
                        let e = samples.entry((kind, t, s, i)).or_default();
                        if let Some(v) = r {
                            e.push(v);
                        }
                    }
                }
            }
        }
    }
    let res: Results = samples
        .into_iter()
        .map(|(k, mut v)| (k, median(&mut v)))
        .collect();
    let memory = render_memory(&run_memory(&dir, conns), conns);
    let md = render(&res, &memory, reps, scale, start.elapsed());
    print!("{md}");
    write_doc(&out, &md)
}

fn write_doc(out: &Path, md: &str) -> ExitCode {
    if let Err(e) = std::fs::write(out, md) {
        eprintln!("perf-bench: cannot write {}: {e}", out.display());
        return ExitCode::from(2);
    }
    eprintln!("wrote {}", out.display());
    ExitCode::SUCCESS
}
