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

/// Runs the rows `reps` times (the two libraries interleaved) and renders the section.
/// A run on "our library" that did not load it (no `sp-rs` in `nanomsg-perf version`)
/// is not timed: its cells show `–`.
pub(crate) fn run(dir: &Path, reps: usize, scale: f64, smoke: bool) -> String {
    let impls = ["nanomsg", CAPI];
    let ours_loaded = loaded(dir, CAPI);
    let is_ours = ours_loaded.starts_with("sp-rs ");
    if !is_ours {
        eprintln!(
            "C API: nanomsg-perf on our library loaded {ours_loaded}, not sp-rs's: not timed"
        );
    }
    let mut samples: Vec<((Kind, &str), Vec<f64>)> = Vec::new();
    for rep in 0..reps {
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
                let seq = 15_000 + (rep * 2 + k) * 2 + j;
                let r = run_cell(dir, imp, "tcp", kind, (SIZE, n), seq, None);
                eprintln!(
                    "rep {rep} C API {kind:?} tcp 64 B {imp}: {}",
                    r.map_or("failed".into(), |v| format!("{v:.1}"))
                );
                match samples.iter_mut().find(|(key, _)| *key == (kind, imp)) {
                    Some((_, v)) => v.extend(r),
                    None => samples.push(((kind, imp), r.into_iter().collect())),
                }
            }
        }
    }
    let mut figure = |kind: Kind, imp: &str| {
        samples
            .iter_mut()
            .find(|(key, _)| *key == (kind, imp))
            .and_then(|(_, v)| median(v))
    };
    let lat = (figure(Kind::Lat, "nanomsg"), figure(Kind::Lat, CAPI));
    let thr = (figure(Kind::Thr, "nanomsg"), figure(Kind::Thr, CAPI));
    render(&ours_loaded, &loaded(dir, "nanomsg"), lat, thr, reps)
}

type Pair = (Option<f64>, Option<f64>);

fn render(ours: &str, theirs: &str, lat: Pair, thr: Pair, reps: usize) -> String {
    let mut md = String::from("## C API: nanomsg-perf on our libnanomsg\n\n");
    let _ = writeln!(
        md,
        "The same `nanomsg-perf` binary (written against `nn_*`, linked to \
         `libnanomsg.so.5`) on the real libnanomsg and on ours (sp-capi), chosen by \
         `LD_LIBRARY_PATH`: 64 B over TCP, PAIR ping-pong round trip and PUSH/PULL \
         throughput, medians of {reps} runs, the two libraries interleaved. \
         `perf-bench --only capi` regenerates this section alone (with `--capi-lib PATH` \
         for a library other than `libnanomsg.so` beside `perf-bench`). Loaded: {theirs}; \
         {ours}.\n"
    );
    if !ours.starts_with("sp-rs ") {
        md.push_str(
            "**The run meant for our library did not load it (no `nn_sp_rs_version`): \
             its figures are left out.**\n\n",
        );
    }
    md.push_str(
        "| 64 B over TCP | on libnanomsg | on our libnanomsg | ours / libnanomsg |\n\
         |---|---|---|---|\n",
    );
    for (what, (a, b)) in [("round trip (µs)", lat), ("throughput (msg/s)", thr)] {
        let _ = writeln!(md, "| {what} | {} | {} | {} |", num(a), num(b), ratio(b, a));
    }
    md.push_str("\n| target | goal | measured | met |\n|---|---|---|---|\n");
    let per = |(a, b): Pair| Some(b? / a?);
    md.push_str(&target_row(
        "throughput, ours / libnanomsg",
        "≥ 3×",
        per(thr).map(|v| (format!("{v:.2}×"), v >= 3.0)),
    ));
    md.push_str(&target_row(
        "round trip, ours / libnanomsg",
        "≤ 1.00×",
        per(lat).map(|v| (format!("{v:.2}×"), v <= 1.0)),
    ));
    md.push('\n');
    md
}
