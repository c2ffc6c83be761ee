//! `sp-sim`: runs simulator scenarios from the command line.
//!
//! ```text
//! sp-sim run FILE [--seed N] [--trace] [--layer proto|turmoil]
//!                                          one run; the report, and the trace if asked
//! sp-sim sweep FILE --seeds A..B [--layer proto|turmoil]
//!                                          runs seeds A (inclusive) to B (exclusive)
//! ```
//!
//! `--layer proto` (the default) runs the pure simulator over `sp-proto`; `--layer
//! turmoil` runs the real `sp-net` sockets over turmoil, and fails with status 2 naming
//! the unsupported parts when the scenario uses something layer 2 does not model.
//!
//! The exit status is 0 when every run met its expectations, 1 when one did not, 2 on a
//! usage or file error. Every failure line names the seed that reproduces it.

use std::io::Write as _;
use std::process::ExitCode;

use sim::scenario::{self, Layer, Report, Scenario};
use sim::turmoil_scenario::{self, TurmoilError};

const USAGE: &str = "usage: sp-sim run FILE [--seed N] [--trace] [--layer proto|turmoil]\n       \
     sp-sim sweep FILE --seeds A..B [--layer proto|turmoil]";

/// Part of the message of a scenario refused by a layer (no usage text is printed then).
const UNSUPPORTED: &str = "is unsupported on layer 2";

/// A run that could not complete: the message, and whether it is a usage-level error
/// (unsupported on the layer) rather than one seed's failure.
fn run_on(layer: Layer, file: &str, seed: u64) -> Result<Report, (String, bool)> {
    match layer {
        Layer::Proto => scenario::run(file, seed).map_err(|e| (e.to_string(), false)),
        Layer::Turmoil => turmoil_scenario::run(file, seed).map_err(|e| {
            let fatal = matches!(e, TurmoilError::Unsupported { .. });
            (e.to_string(), fatal)
        }),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match real_main(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(msg) if msg.contains(UNSUPPORTED) => {
            eprintln!("sp-sim: {msg}");
            ExitCode::from(2)
        }
        Err(msg) => {
            eprintln!("sp-sim: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn flag_value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("bad seed range {s:?} (want A..B)"))?;
    let a: u64 = a.parse().map_err(|_| format!("bad seed {a:?}"))?;
    let b: u64 = b.parse().map_err(|_| format!("bad seed {b:?}"))?;
    if b <= a {
        return Err(format!("empty seed range {s:?}"));
    }
    Ok((a, b))
}

fn real_main(args: &[String]) -> Result<bool, String> {
    let (cmd, file) = match args {
        [cmd, file, ..] => (cmd.as_str(), file.as_str()),
        _ => return Err("missing command or file".into()),
    };
    let sc = Scenario::load(file.as_ref()).map_err(|e| e.to_string())?;
    let layer: Layer = match flag_value(args, "--layer") {
        Some(l) => l.parse()?,
        None => Layer::Proto,
    };
    match cmd {
        "run" => {
            let seed = match flag_value(args, "--seed") {
                Some(s) => s.parse().map_err(|_| format!("bad seed {s:?}"))?,
                None => sc.test_seeds().first().copied().unwrap_or(1),
            };
            let r = run_on(layer, file, seed).map_err(|(e, _)| e)?;
            if args.iter().any(|a| a == "--trace") {
                print!("{}", r.trace);
            }
            print!("{r}");
            for f in r.failures() {
                eprintln!("{f}");
            }
            Ok(r.passed())
        }
        "sweep" => {
            let range = flag_value(args, "--seeds").ok_or("sweep needs --seeds A..B")?;
            let (a, b) = parse_range(range)?;
            let total = b - a;
            let mut failed = Vec::new();
            for (i, seed) in (a..b).enumerate() {
                let verdict = match run_on(layer, file, seed) {
                    Ok(r) if r.passed() => "ok",
                    Ok(r) => {
                        failed.push(r.failures().join("\n"));
                        "FAILED"
                    }
                    Err((e, true)) => return Err(e),
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
                "{} ({layer}): {} passed, {} failed",
                sc.name,
                total - failed.len() as u64,
                failed.len()
            );
            Ok(failed.is_empty())
        }
        other => Err(format!("unknown command {other:?}")),
    }
}
