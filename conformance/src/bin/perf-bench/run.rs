//! Running the tools: one timing cell (a local and a remote tool, or one inproc tool),
//! the memory runs, and the medians of the repetitions.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const IMPLS: [&str; 4] = ["ours", "nanomsg", "nng", "raw"];

pub(crate) const TRANSPORTS: [&str; 3] = ["tcp", "ipc", "inproc"];

pub(crate) const SIZES: [usize; 4] = [64, 1024, 64 * 1024, 1024 * 1024];

/// How long to wait for a bound tool to listen before starting its peer.
pub(crate) const BIND_WAIT: Duration = Duration::from_millis(150);

pub(crate) const RUN_LIMIT: Duration = Duration::from_secs(20);

/// Idle connections per `mem_conn` run, at most (fewer when the fd limit is low).
pub(crate) const MEM_CONNS: usize = 500;

/// Subscriptions per `mem_sub` run.
pub(crate) const SUB_COUNTS: [usize; 2] = [100_000, 1_000_000];

/// NNG 1.5's SUB keeps its topics in a sorted linked list, scanned on every subscribe:
/// 100 000 topics take it seconds, a million would take it most of an hour.
pub(crate) const NNG_SUB_MAX: usize = 100_000;

pub(crate) const MEM_LIMIT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Lat,
    Thr,
}

/// A range of listening ports: the first and how many.
pub(crate) type Ports = (usize, usize);

/// The timing and C API cells' ports.
const CELL_PORTS: Ports = (21_000, 7_000);

/// The service cells' ports.
pub(crate) const SERVICE_PORTS: Ports = (28_000, 4_000);

/// The loopback TCP URL of run `seq` in `ports`. Every range stays below Linux's default
/// ephemeral range (32768-60999): a port in it can still be the local end of an earlier
/// run's client connection, and a listen there failed with "Address in use" (NNG's in 3
/// of the first 133 service runs of one perf-bench, when the service cells listened at
/// 41000 and up).
pub(crate) fn tcp_url((first, span): Ports, seq: usize) -> String {
    format!("tcp://127.0.0.1:{}", first + seq % span)
}

/// Our tool when `--ours PATH` names one.
pub(crate) static OURS: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The `imp` of `nanomsg-perf` run on our `libnanomsg.so.5` (sp-capi).
pub(crate) const CAPI: &str = "capi";

/// A directory serving our `libnanomsg.so.5`, the `LD_LIBRARY_PATH` of [`CAPI`] runs
/// (set by `main` before any runs).
pub(crate) static CAPI_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The tool of `imp` in `dir`; ours is `sp-perf` unless `--ours` named another build
/// (the smoke test passes this package's `conformance-sp-perf`, the same source), and
/// [`CAPI`] is `nanomsg-perf`.
pub(crate) fn binary(dir: &Path, imp: &str) -> PathBuf {
    if let Some(ours) = OURS.get().filter(|_| imp == "ours") {
        return ours.clone();
    }
    dir.join(match imp {
        "ours" => "sp-perf",
        "nanomsg" | CAPI => "nanomsg-perf",
        "nng" => "nng-perf",
        _ => "raw-perf",
    })
}

pub(crate) fn count(kind: Kind, imp: &str, size: usize, scale: f64) -> usize {
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

pub(crate) fn wait_limited(child: &mut Child, limit: Duration) -> Option<String> {
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

/// Starts the tool of `imp` in `dir` with `args`, under `taskset -c <cpus>` when `cpus`
/// is given; [`CAPI`] with `LD_LIBRARY_PATH` on our library. Its standard input and
/// output are pipes (only the parts of a split service cell read their input), its
/// standard error is inherited.
pub(crate) fn spawn_tool(
    dir: &Path,
    imp: &str,
    args: &[String],
    cpus: Option<&str>,
) -> std::io::Result<Child> {
    let bin = binary(dir, imp);
    let mut cmd = match cpus {
        Some(list) => {
            let mut c = Command::new("taskset");
            c.args(["-c", list]).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    if imp == CAPI {
        let lib_dir = CAPI_DIR.get().ok_or_else(|| {
            std::io::Error::other("no directory with our libnanomsg.so.5 was set")
        })?;
        cmd.env("LD_LIBRARY_PATH", lib_dir);
    }
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
}

/// The reported figure: round-trip µs for latency, msg/s for throughput.
pub(crate) fn figure(kind: Kind, out: &str) -> Option<f64> {
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

pub(crate) fn run_cell(
    dir: &Path,
    imp: &str,
    tr: &str,
    kind: Kind,
    (size, n): (usize, usize),
    seq: usize,
    cpus: Option<&str>,
) -> Option<f64> {
    let spawn = |args: &[String]| spawn_tool(dir, imp, args, cpus);
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
        let mut child = spawn(&args).ok()?;
        return figure(kind, &wait_limited(&mut child, RUN_LIMIT)?);
    }
    let addr = match tr {
        "tcp" => tcp_url(CELL_PORTS, seq),
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
    let mut l = spawn(&args(local)).ok()?;
    std::thread::sleep(BIND_WAIT);
    let Ok(mut r) = spawn(&args(remote)) else {
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

pub(crate) fn median(v: &mut [f64]) -> Option<f64> {
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

pub(crate) type Results = BTreeMap<(Kind, &'static str, usize, &'static str), Option<f64>>;

/// The soft limit on open files, from `/proc/self/limits`.
pub(crate) fn fd_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Connections per `mem_conn` run: [`MEM_CONNS`], fewer if the fd limit is low (one fd
/// per connection end, up to two eventfds per nanomsg socket, some to spare).
pub(crate) fn mem_conns() -> usize {
    fd_limit().map_or(MEM_CONNS, |l| {
        MEM_CONNS.min(l.saturating_sub(100) / 6).max(1)
    })
}

/// The memory tool runs: a name, the tool's arguments, and whether NNG sits it out.
pub(crate) fn mem_runs(conns: usize) -> Vec<(String, Vec<String>, bool)> {
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
pub(crate) type MemOutputs = BTreeMap<(String, &'static str), Option<String>>;

pub(crate) fn run_memory(dir: &Path, conns: usize) -> MemOutputs {
    let mut outs = MemOutputs::new();
    for (name, args, nng_sits_out) in mem_runs(conns) {
        for imp in ["ours", "nanomsg", "nng"] {
            let skip = imp == "nng" && nng_sits_out;
            let out = if skip {
                None
            } else {
                spawn_tool(dir, imp, &args, None)
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
