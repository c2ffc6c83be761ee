//! The C API rows: `nanomsg-perf`, one binary written against `nn_*`, run on the real
//! libnanomsg and on our `libnanomsg.so.5` (sp-capi, chosen by `LD_LIBRARY_PATH`), 64 B
//! over TCP: round trip and PUSH/PULL throughput, with the C API issue's targets
//! (throughput at least 3× libnanomsg's, a round trip no worse).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::render::{num, ratio, target_row};
use crate::run::{count, median, run_cell, spawn_tool, wait_limited, Kind, CAPI};

/// The message size of the C API rows.
const SIZE: usize = 64;

/// Counts of a `--smoke` run: enough to produce a figure, too few to mean anything.
fn smoke_count(kind: Kind) -> usize {
    match kind {
        Kind::Lat => 20,
        Kind::Thr => 1000,
    }
}

/// What `nanomsg-perf version` reports for `imp`: the library file it loaded and, on
/// ours, `nn_sp_rs_version`'s text.
fn loaded(dir: &Path, imp: &str) -> String {
    let out = spawn_tool(dir, imp, &["version".to_owned()], None)
        .ok()
        .and_then(|mut c| wait_limited(&mut c, Duration::from_secs(10)))
        .unwrap_or_else(|| "nanomsg-perf version failed".to_owned());
    let out = out.trim();
    out.strip_prefix("library: ").unwrap_or(out).to_owned()
}

/// Where a run was placed: on every CPU, or pinned with `taskset -c CPUS`.
fn placement_label(pin: Option<&str>) -> String {
    match pin {
        None => "all CPUs".to_owned(),
        Some(cpus) => format!("pinned to CPUs {cpus}"),
    }
}

/// The samples of one cell: its median and its spread.
#[derive(Clone, Debug, Default)]
struct Cell(Vec<f64>);

impl Cell {
    fn median(&self) -> Option<f64> {
        median(&mut self.0.clone())
    }

    /// `median (min–max)`, or `–` without samples.
    fn shown(&self) -> String {
        let min = self.0.iter().copied().reduce(f64::min);
        let max = self.0.iter().copied().reduce(f64::max);
        match (self.median(), min, max) {
            (Some(m), Some(lo), Some(hi)) => {
                format!("{} ({}–{})", num(Some(m)), num(Some(lo)), num(Some(hi)))
            }
            _ => num(None),
        }
    }
}

/// Runs the rows `reps` times (the two libraries interleaved; with `pin`, every cell a
/// second time under `taskset -c`) and renders the section. A run on "our library" that
/// did not load it (no `sp-rs` in `nanomsg-perf version`) is not timed: its cells show
/// `–`.
pub(crate) fn run(dir: &Path, reps: usize, scale: f64, smoke: bool, pin: Option<&str>) -> String {
    let impls = ["nanomsg", CAPI];
    let ours_loaded = loaded(dir, CAPI);
    let is_ours = ours_loaded.starts_with("sp-rs ");
    if !is_ours {
        eprintln!(
            "C API: nanomsg-perf on our library loaded {ours_loaded}, not sp-rs's: not timed"
        );
    }
    let placements: Vec<Option<&str>> = std::iter::once(None).chain(pin.map(Some)).collect();
    let mut samples: Vec<((usize, Kind, &str), Cell)> = Vec::new();
    for rep in 0..reps {
        for (p, at) in placements.iter().enumerate() {
            for (k, kind) in [Kind::Lat, Kind::Thr].into_iter().enumerate() {
                for (j, imp) in impls.into_iter().enumerate() {
                    if imp == CAPI && !is_ours {
                        continue;
                    }
                    let n = if smoke {
                        smoke_count(kind)
                    } else {
                        count(kind, "nanomsg", SIZE, scale)
                    };
                    // Run numbers of their own (15000 on), so fresh ports for every run.
                    let seq = 15_000 + ((rep * placements.len() + p) * 2 + k) * 2 + j;
                    let r = run_cell(dir, imp, "tcp", kind, (SIZE, n), seq, *at);
                    eprintln!(
                        "rep {rep} C API {kind:?} tcp 64 B {imp}, {}: {}",
                        placement_label(*at),
                        r.map_or("failed".into(), |v| format!("{v:.1}"))
                    );
                    match samples.iter_mut().find(|(key, _)| *key == (p, kind, imp)) {
                        Some((_, c)) => c.0.extend(r),
                        None => samples.push(((p, kind, imp), Cell(r.into_iter().collect()))),
                    }
                }
            }
        }
    }
    let cell = |p: usize, kind: Kind, imp: &str| {
        samples
            .iter()
            .find(|(key, _)| *key == (p, kind, imp))
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    };
    let rows: Vec<Row> = placements
        .iter()
        .enumerate()
        .map(|(p, at)| Row {
            placement: placement_label(*at),
            lat: (cell(p, Kind::Lat, "nanomsg"), cell(p, Kind::Lat, CAPI)),
            thr: (cell(p, Kind::Thr, "nanomsg"), cell(p, Kind::Thr, CAPI)),
        })
        .collect();
    render(&ours_loaded, &loaded(dir, "nanomsg"), &rows, reps)
}

/// One placement's cells: (libnanomsg, ours) for the round trip and the throughput.
struct Row {
    placement: String,
    lat: (Cell, Cell),
    thr: (Cell, Cell),
}

fn render(ours: &str, theirs: &str, rows: &[Row], reps: usize) -> String {
    let mut md = String::from("## C API: nanomsg-perf on our libnanomsg\n\n");
    let _ = writeln!(
        md,
        "The same `nanomsg-perf` binary (written against `nn_*`, linked to \
         `libnanomsg.so.5`) on the real libnanomsg and on ours (sp-capi), chosen by \
         `LD_LIBRARY_PATH`: 64 B over TCP, PAIR ping-pong round trip and PUSH/PULL \
         throughput, {reps} runs per cell, the two libraries interleaved; each cell shows \
         the median and, in brackets, the lowest and highest run. \
         `perf-bench --only capi` regenerates this section alone (with `--capi-lib PATH` \
         for a library other than `libnanomsg.so` beside `perf-bench`, and `--pin CPUS` \
         for a second, pinned placement). Loaded: {theirs}; {ours}.\n"
    );
    if !ours.starts_with("sp-rs ") {
        md.push_str(
            "**The run meant for our library did not load it (no `nn_sp_rs_version`): \
             its figures are left out.**\n\n",
        );
    }
    md.push_str(
        "| 64 B over TCP | placement | on libnanomsg | on our libnanomsg | ours / libnanomsg |\n\
         |---|---|---|---|---|\n",
    );
    for row in rows {
        for (what, (a, b)) in [
            ("round trip (µs)", &row.lat),
            ("throughput (msg/s)", &row.thr),
        ] {
            let _ = writeln!(
                md,
                "| {what} | {} | {} | {} | {} |",
                row.placement,
                a.shown(),
                b.shown(),
                ratio(b.median(), a.median())
            );
        }
    }
    md.push_str("\n| target | goal | measured | met |\n|---|---|---|---|\n");
    let per = |(a, b): &(Cell, Cell)| Some(b.median()? / a.median()?);
    for row in rows {
        md.push_str(&target_row(
            &format!("throughput, ours / libnanomsg, {}", row.placement),
            "≥ 3×",
            per(&row.thr).map(|v| (format!("{v:.2}×"), v >= 3.0)),
        ));
        md.push_str(&target_row(
            &format!("round trip, ours / libnanomsg, {}", row.placement),
            "≤ 1.00×",
            per(&row.lat).map(|v| (format!("{v:.2}×"), v <= 1.0)),
        ));
    }
    md.push('\n');
    md
}
