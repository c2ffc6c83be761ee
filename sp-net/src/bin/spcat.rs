//! `spcat`: a drop-in replacement for nanomsg's `nanocat` (and most of NNG's `nngcat`)
//! built on `sp-net`.
//!
//! ```text
//! spcat --rep --bind tcp://127.0.0.1:5555 --data pong --ascii &
//! spcat --req --connect tcp://127.0.0.1:5555 --data ping --ascii
//! ```
//!
//! Everything a nanocat command line means, spcat means too: the same options (with
//! unique-prefix abbreviation and clustered short flags), the socket type taken from a
//! program name such as `nn_push`, the same echo formats byte for byte, the same loops,
//! messages and exit statuses (1: bad command line, 2: unreadable `--file`, 3: a
//! socket operation failed). Differences, all deliberate:
//!
//! - `--recv-timeout` keeps fractions of a second (nanocat truncates to whole seconds).
//! - nngcat's names are accepted too: `--req0` ... `--bus0`, `--pair0`, `--pair1`,
//!   `--listen`/`--dial`, `--count`, `--recv-maxsz`, `--version`, `--compat`,
//!   `--async`, and the TLS options. `--pair` means PAIR v0 as in nanocat (nngcat picks
//!   PAIR v1 unless `--compat`); use `--pair1` for NNG's default.
//! - `-v` reports each endpoint on standard error (`Listening at: URL`, with the port
//!   actually bound for port 0; `Connected to: URL`).
//! - A malformed URL says what is wrong with it after nanocat's errno text.

#[path = "spcat/args.rs"]
mod args;
#[path = "spcat/format.rs"]
mod format;
#[path = "spcat/help.rs"]
mod help;
#[path = "spcat/options.rs"]
mod options;
#[path = "spcat/run.rs"]
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<Vec<u8>> = std::env::args_os().map(os_bytes).collect();
    let cfg = match args::parse(&argv) {
        Ok(cfg) => cfg,
        Err(args::Stop::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(args::Stop::Fail { message, code }) => {
            eprintln!("{message}");
            return exit_code(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Can't start the runtime: {}", args::strerror(&e));
            return exit_code(3);
        }
    };
    match runtime.block_on(run::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("{}", f.message);
            }
            exit_code(f.code)
        }
    }
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The argument's bytes as given (`--data` is sent exactly as it appears in argv).
#[cfg(unix)]
fn os_bytes(s: std::ffi::OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    s.into_vec()
}

#[cfg(not(unix))]
fn os_bytes(s: std::ffi::OsString) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}
