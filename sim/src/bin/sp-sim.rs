//! `sp-sim`: runs simulator scenarios from the command line.
//!
//! ```text
//! sp-sim run FILE [--seed N] [--trace] [--layer proto|turmoil]
//!                                          one run; the report, and the trace if asked
//! sp-sim sweep FILE --seeds A..B [--layer proto|turmoil]
//!                                          runs seeds A (inclusive) to B (exclusive)
//! sp-sim swarm --seeds A..B [--layer proto|turmoil] [--minutes N] [--shrink-out DIR]
//!                                          generated scenarios with oracles and a
//!                                          liveness phase; a failure prints its replay
//!                                          line, and is shrunk into DIR if given
//! sp-sim --help, sp-sim run --help, sp-sim sweep --help
//! ```
//!
//! `--layer proto` (the default) runs the pure simulator over `sp-proto`; `--layer
//! turmoil` runs the real `sp-net` sockets over turmoil, and fails with status 2 naming
//! the unsupported parts when the scenario uses something layer 2 does not model.
//!
//! The exit status is 0 when every run met its expectations, 1 when one did not, 2 on a
//! usage error, a file that cannot be read or a scenario that cannot be loaded (the
//! error names the file and line). Every failure line names the seed that reproduces it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sim::scenario::{self, Layer, Report, Scenario};
use sim::swarm;
use sim::turmoil_scenario::{self, TurmoilError};

/// Runs deterministic network simulation scenarios (TOML files) on either simulator
/// layer.
#[derive(Debug, Parser)]
#[command(name = "sp-sim", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs one seed and prints the report (and the trace with --trace).
    Run {
        #[command(flatten)]
        common: Common,
        /// The seed (default: the scenario's first test seed).
        #[arg(long)]
        seed: Option<u64>,
        /// Print every event of the run before the report.
        #[arg(long)]
        trace: bool,
    },
    /// Runs seeds A (inclusive) to B (exclusive) and lists every failure with its seed.
    Sweep {
        #[command(flatten)]
        common: Common,
        /// The seeds, as A..B.
        #[arg(long, value_name = "A..B", value_parser = parse_range)]
        seeds: SeedRange,
    },
    /// Generates a scenario per seed (topology, workload, faults), runs it with the
    /// safety oracles and the liveness phase, and prints every failure with the line
    /// that replays it.
    Swarm {
        /// The seeds, as A..B.
        #[arg(long, value_name = "A..B", value_parser = parse_range)]
        seeds: SeedRange,
        /// The simulator layer: proto (the pure simulator) or turmoil (sp-net over
        /// turmoil, with the faults turmoil models).
        #[arg(long, default_value = "proto", value_name = "proto|turmoil")]
        layer: Layer,
        /// Stop after this many minutes of wall time (the seeds not run are reported).
        #[arg(long)]
        minutes: Option<f64>,
        /// Shrink each failing seed and write the smallest failing scenario there as
        /// `swarm-SEED-LAYER.toml` (replayable with `sp-sim run`).
        #[arg(long, value_name = "DIR")]
        shrink_out: Option<PathBuf>,
        /// Print the trace of each failing seed.
        #[arg(long)]
        trace: bool,
    },
}

/// What both subcommands take.
#[derive(Debug, Args)]
struct Common {
    /// The scenario file.
    file: PathBuf,
    /// The simulator layer: proto (the pure simulator) or turmoil (sp-net over turmoil).
    #[arg(long, default_value = "proto", value_name = "proto|turmoil")]
    layer: Layer,
}

/// Seeds `start` (inclusive) to `end` (exclusive), never empty.
#[derive(Clone, Copy, Debug)]
struct SeedRange {
    start: u64,
    end: u64,
}

fn parse_range(s: &str) -> Result<SeedRange, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("bad seed range {s:?} (want A..B)"))?;
    let start: u64 = a.parse().map_err(|_| format!("bad seed {a:?}"))?;
    let end: u64 = b.parse().map_err(|_| format!("bad seed {b:?}"))?;
    if end <= start {
        return Err(format!("empty seed range {s:?}"));
    }
    Ok(SeedRange { start, end })
}

/// Why `sp-sim` stopped without a verdict (exit status 2).
struct Fatal(String);

/// A run that could not complete: the message, and whether it stops a sweep (the
/// scenario is unsupported on the layer) rather than being one seed's failure.
fn run_on(layer: Layer, file: &Path, seed: u64) -> Result<Report, (String, bool)> {
    match layer {
        Layer::Proto => scenario::run(file, seed).map_err(|e| (e.to_string(), false)),
        Layer::Turmoil => turmoil_scenario::run(file, seed).map_err(|e| {
            let fatal = matches!(e, TurmoilError::Unsupported { .. });
            (e.to_string(), fatal)
        }),
    }
}

fn main() -> ExitCode {
    // Usage errors print clap's message and exit 2; --help and --version exit 0.
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Fatal(msg)) => {
            eprintln!("sp-sim: {msg}");
            ExitCode::from(2)
        }
    }
}

fn real_main(cli: Cli) -> Result<bool, Fatal> {
    match cli.command {
        Command::Swarm {
            seeds,
            layer,
            minutes,
            shrink_out,
            trace,
        } => swarm_main(seeds, layer, minutes, shrink_out.as_deref(), trace),
        Command::Run {
            common,
            seed,
            trace,
        } => {
            let sc = Scenario::load(&common.file).map_err(|e| Fatal(e.to_string()))?;
            let seed = seed.unwrap_or_else(|| sc.test_seeds().first().copied().unwrap_or(1));
            let r = run_on(common.layer, &common.file, seed).map_err(|(e, _)| Fatal(e))?;
            if trace {
                print!("{}", r.trace);
            }
            print!("{r}");
            for f in r.failures() {
                eprintln!("{f}");
            }
            Ok(r.passed())
        }
        Command::Sweep { common, seeds } => {
            let sc = Scenario::load(&common.file).map_err(|e| Fatal(e.to_string()))?;
            let total = seeds.end - seeds.start;
            let mut failed = Vec::new();
            for (i, seed) in (seeds.start..seeds.end).enumerate() {
                let verdict = match run_on(common.layer, &common.file, seed) {
                    Ok(r) if r.passed() => "ok",
                    Ok(r) => {
                        failed.push(r.failures().join("\n"));
                        "FAILED"
                    }
                    Err((e, true)) => return Err(Fatal(e)),
                    Err((e, false)) => {
                        failed.push(e);
                        "ERROR"
                    }
                };
                println!("[{}/{total}] seed {seed} {verdict}", i + 1);
                let _ = std::io::stdout().flush();
            }
            for f in &failed {
                eprintln!("{f}");
            }
            println!(
                "{} ({}): {} passed, {} failed",
                sc.name,
                common.layer,
                total - failed.len() as u64,
                failed.len()
            );
            Ok(failed.is_empty())
        }
    }
}

/// `sp-sim swarm`: runs the seeds, prints one line per seed and, for each failure, its
/// reasons and replay line; shrinks failures into `shrink_out` when given.
fn swarm_main(
    seeds: SeedRange,
    layer: Layer,
    minutes: Option<f64>,
    shrink_out: Option<&Path>,
    trace: bool,
) -> Result<bool, Fatal> {
    let started = std::time::Instant::now();
    let limit = minutes.map(|m| std::time::Duration::from_secs_f64(m.max(0.0) * 60.0));
    let (mut passed, mut failed) = (0u64, 0u64);
    for seed in seeds.start..seeds.end {
        if limit.is_some_and(|l| started.elapsed() >= l) {
            println!("time limit reached before seed {seed}");
            break;
        }
        let plan = swarm::generate(seed, layer);
        match swarm::run_plan(&plan) {
            Ok(r) => {
                passed += 1;
                println!(
                    "seed {seed} ok ({} hosts, end={}ms)",
                    plan.hosts.len(),
                    r.end.as_nanos() / 1_000_000
                );
            }
            Err(f) => {
                failed += 1;
                println!("{f}");
                if trace {
                    if let Ok(r) = swarm::run_plan_report(&plan) {
                        print!("{}", r.trace);
                    }
                }
                if let Some(dir) = shrink_out {
                    let path = write_shrunk(&plan, &f, dir)?;
                    println!("  shrunk: sp-sim run {}", path.display());
                }
            }
        }
        let _ = std::io::stdout().flush();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "swarm ({layer}): {passed} passed, {failed} failed in {secs:.1}s ({:.0} seeds/min)",
        (passed + failed) as f64 * 60.0 / secs.max(1e-9)
    );
    Ok(failed == 0)
}

/// Shrinks a failing plan (keeping the kind of failure) and writes it.
fn write_shrunk(plan: &swarm::Plan, f: &swarm::Failure, dir: &Path) -> Result<PathBuf, Fatal> {
    let kind = f.kind();
    let s = swarm::shrink(plan, 400, |p| {
        swarm::run_plan(p).is_err_and(|g| g.kind() == kind)
    });
    let text = s
        .plan
        .scenario()
        .to_toml()
        .map_err(|e| Fatal(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| Fatal(format!("{}: {e}", dir.display())))?;
    let path = dir.join(format!("swarm-{}-{}.toml", plan.seed, plan.layer));
    std::fs::write(&path, text).map_err(|e| Fatal(format!("{}: {e}", path.display())))?;
    Ok(path)
}
