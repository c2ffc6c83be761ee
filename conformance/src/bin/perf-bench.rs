//! `perf-bench`: runs `sp-perf` (ours), `nanomsg-perf`, `nng-perf` and `raw-perf` side by
//! side over tcp, ipc and inproc at 64 B, 1 KiB, 64 KiB and 1 MiB, latency (PAIR
//! ping-pong) and throughput (PUSH/PULL, `--pipeline`), each cell a few times, then the
//! service workloads (`reqrep`, `fanout`, `survey`, `fanin` of `perf_kit::service`) for
//! ours, libnanomsg and NNG, then `nanomsg-perf` on the real libnanomsg and on our
//! `libnanomsg.so.5` (sp-capi, by `LD_LIBRARY_PATH`; 64 B over TCP, round trip and
//! throughput), then the memory tools of `sp-perf`, `nanomsg-perf` and
//! `nng-perf` (heap and resident bytes per idle connection over tcp and ipc, per
//! unconnected socket, per subscription), and writes the medians and ratios to
//! `docs/performance.md` (and standard output).
//!
//! ```text
//! cargo build --release -p sp-net -p sp-capi -p conformance
//! target/release/perf-bench [--reps N] [--scale F] [--out PATH] [--pin CPUS]
//!                           [--only memory|service|capi] [--smoke] [--ours PATH]
//!                           [--capi-lib PATH] [--peers-per-process N]
//! ```
//!
//! Not part of the test suite: timings on shared machines are noisy, so nothing here
//! asserts. `--scale` multiplies every message/round-trip count. `--only memory` runs
//! just the memory tools (about a minute, without the timings), `--only service`
//! just the service workloads and `--only capi` just the C API rows; each replaces its
//! own section of the existing `--out`
//! file (appending it if missing), leaving the rest of the file as it was. `--pin CPUS`
//! runs every timing, service and C API cell a second time under `taskset -c CPUS`, reported
//! in labelled tables and columns beside the unpinned ones (memory is not repeated).
//! `--smoke` runs the service workloads and the C API rows at tiny peer counts and
//! counts, to check that they work (the test suite does this with the debug build).
//! `--ours PATH` runs that build of `sp-perf` instead of the one beside `perf-bench`;
//! `--capi-lib PATH` runs the C API rows on that build of our `libnanomsg.so` instead of
//! the one beside `perf-bench` (which `cargo build -p sp-capi` puts there).
//! `--peers-per-process N` (500 by default, below libnanomsg's 512 sockets per process)
//! splits every `fanout` and `survey` cell of more peers, for every library, over a
//! publisher or surveyor process and peer processes of at most N peers each
//! (`perf_kit::split`); the smoke test lowers it to split its tiny cells.

#[path = "perf-bench/capi.rs"]
mod capi;
#[path = "perf-bench/render.rs"]
mod render;
#[path = "perf-bench/run.rs"]
mod run;
#[path = "perf-bench/service.rs"]
mod service;
#[path = "perf-bench/split.rs"]
mod split;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use crate::render::{render, render_memory, size_name, splice_section};
use crate::run::{
    binary, count, median, mem_conns, run_cell, run_memory, Kind, Results, IMPLS, SIZES, TRANSPORTS,
};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let mut reps = 3usize;
    let mut scale = 1.0f64;
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/performance.md");
    let mut only: Option<String> = None;
    let mut pin: Option<String> = None;
    let mut smoke = false;
    let mut capi_lib: Option<PathBuf> = None;
    let mut cap = split::PEERS_PER_PROCESS;
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--smoke" {
            smoke = true;
            continue;
        }
        let v = it.next();
        match (a.as_str(), v) {
            ("--reps", Some(v)) => reps = v.parse().unwrap_or(reps).max(1),
            ("--scale", Some(v)) => scale = v.parse().unwrap_or(scale),
            ("--out", Some(v)) => out = PathBuf::from(v),
            ("--only", Some(v)) if ["memory", "service", "capi"].contains(&v.as_str()) => {
                only = Some(v.clone());
            }
            ("--pin", Some(v)) => pin = Some(v.clone()),
            ("--ours", Some(v)) => {
                let _ = crate::run::OURS.set(PathBuf::from(v));
            }
            ("--capi-lib", Some(v)) => capi_lib = Some(PathBuf::from(v)),
            ("--peers-per-process", Some(v)) => cap = v.parse().unwrap_or(cap).max(1),
            _ => {
                eprintln!(
                    "usage: perf-bench [--reps N] [--scale F] [--out PATH] [--pin CPUS] \
                     [--only memory|service|capi] [--smoke] [--ours PATH] [--capi-lib PATH] \
                     [--peers-per-process N]"
                );
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
                "perf-bench: {} is missing; build with `cargo build --release -p sp-net -p sp-capi -p conformance`",
                binary(&dir, imp).display()
            );
            return ExitCode::from(2);
        }
    }
    // Our library is needed only where the C API rows run (everything, or `--only capi`).
    if matches!(only.as_deref(), None | Some("capi")) {
        let capi_lib = capi_lib.unwrap_or_else(|| dir.join("libnanomsg.so"));
        match conformance::harness::capi_lib_dir(&capi_lib, "perf-bench") {
            Ok(lib_dir) => {
                let _ = crate::run::CAPI_DIR.set(lib_dir);
            }
            Err(e) => {
                eprintln!("perf-bench: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let conns = mem_conns();
    let mut placements = vec![service::Placement::All];
    placements.extend(pin.clone().map(service::Placement::Pinned));
    let service_cells = service::cells(scale, smoke);
    let run_services = || {
        let mut outs = service::Outputs::new();
        // Repetitions outermost, libraries innermost: the libraries interleave.
        for rep in 0..reps {
            for (k, cell) in service_cells.iter().enumerate() {
                for (p, at) in placements.iter().enumerate() {
                    for (j, imp) in service::LIBS.into_iter().enumerate() {
                        if service::sits_out(cell, imp, cap) {
                            continue;
                        }
                        // A fresh port for every run: a C library's listener may linger.
                        let seq = ((rep * service_cells.len() + k) * 2 + p) * 4 + j;
                        let r = service::run_cell(&dir, cell, imp, at, (seq, cap));
                        eprintln!(
                            "rep {rep} {cell:?} {} {imp}: {}",
                            at.label(),
                            r.as_deref()
                                .map_or("failed".into(), |o| o.replace('\n', "; "))
                        );
                        let e = outs.entry((*cell, imp, at.clone())).or_default();
                        e.extend(r);
                    }
                }
            }
        }
        service::render(&outs, &service_cells, &placements, (reps, cap))
    };
    match only.as_deref() {
        Some("memory") => {
            let section = render_memory(&run_memory(&dir, conns), conns);
            print!("{section}");
            let doc = std::fs::read_to_string(&out).unwrap_or_default();
            return write_doc(&out, &splice_section(&doc, "## Memory", &section));
        }
        Some("capi") => {
            let section = capi::run(&dir, reps, scale, smoke, pin.as_deref());
            print!("{section}");
            let doc = std::fs::read_to_string(&out).unwrap_or_default();
            return write_doc(
                &out,
                &splice_section(&doc, "## C API: nanomsg-perf", &section),
            );
        }
        Some(_) => {
            let section = run_services();
            print!("{section}");
            let doc = std::fs::read_to_string(&out).unwrap_or_default();
            return write_doc(
                &out,
                &splice_section(&doc, "## Service workloads", &section),
            );
        }
        None => {}
    }
    let start = Instant::now();
    // Per placement (all CPUs first, then the `--pin` list), the repetitions of a cell.
    let mut samples: BTreeMap<(usize, Kind, &'static str, usize, &'static str), Vec<f64>> =
        BTreeMap::new();
    let mut seq = 0usize;
    // Repetitions outermost, so slow phases of the machine spread over every cell.
    for rep in 0..reps {
        for kind in [Kind::Lat, Kind::Thr] {
            for t in TRANSPORTS {
                for s in SIZES {
                    for (p, at) in placements.iter().enumerate() {
                        for i in IMPLS {
                            if t == "inproc" && i == "raw" {
                                continue;
                            }
                            seq += 1;
                            let n = count(kind, i, s, scale);
                            let r = run_cell(&dir, i, t, kind, (s, n), seq, at.list());
                            eprintln!(
                                "rep {rep} {kind:?} {t} {} {i} {}: {}",
                                size_name(s),
                                at.label(),
                                r.map_or("failed".into(), |v| format!("{v:.1}"))
                            );
                            let e = samples.entry((p, kind, t, s, i)).or_default();
                            e.extend(r);
                        }
                    }
                }
            }
        }
    }
    let mut res: Vec<(String, Results)> = placements
        .iter()
        .map(|at| (at.label(), Results::new()))
        .collect();
    for ((p, kind, t, s, i), mut v) in samples {
        res[p].1.insert((kind, t, s, i), median(&mut v));
    }
    let services = run_services();
    let capi = capi::run(&dir, reps, scale, false, pin.as_deref());
    let memory = render_memory(&run_memory(&dir, conns), conns);
    let md = render(
        &res,
        &[&services, &capi, &memory],
        &dir,
        reps,
        scale,
        start.elapsed(),
    );
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
