//! Service discovery over SURVEY, with priority failover over REQ/REP.
//!
//! ```text
//! cargo run --release --example service_discovery                 # the whole demo (~10 s)
//! cargo run --release --example service_discovery -- --port 0 --deadline-ms 500 --interval-ms 200
//! cargo run --release --example service_discovery -- daemon       # parts as separate processes
//! cargo run --release --example service_discovery -- service oracle-x --site london
//! cargo run --release --example service_discovery -- client --site new-york
//! ```
//!
//! A discovery daemon (SURVEYOR) surveys every connected service each round; a service
//! (RESPONDENT + REP) answers with its name and REQ/REP address; a client (REQ) dials
//! every discovered provider, the ones in its own site at send priority 1 and the others
//! at 2, so its requests go to local providers while any is up and fail over to remote
//! ones when none is. See `docs/service-discovery.md` for the walk-through.
//!
//! # Wire (the same as the seed's Python code, so its respondent and surveyor can join)
//!
//! Plain SP over TCP; every body is ASCII, with no framing beyond SP's own:
//!
//! | who | socket | address | sends | receives |
//! |---|---|---|---|---|
//! | daemon | SURVEYOR (0x62), listens | `tcp://127.0.0.1:PORT` (default 5555) | `service query` each round | `<name>\|<address>` until the deadline (default 5000 ms) |
//! | service | RESPONDENT (0x63), dials the daemon | - | `<name>\|<address>`, e.g. `oracle-a@new-york\|tcp://127.0.0.1:40001` | `service query` |
//! | service | REP (0x31), listens | `<address>` | `The answer is 42` | any request |
//! | client | REQ (0x30), dials each `<address>` | - | any request | `The answer is 42` |
//!
//! A service's site is the part of its name after `@`; a name without one is treated as
//! remote. Rounds repeat every INTERVAL (default 2000 ms). A round ends at the deadline,
//! or earlier once every service connected when the survey left has answered; a name that
//! did not answer is "undiscovered".
//!
//! Options: `--port N` (0: any free port), `--deadline-ms N`, `--interval-ms N`,
//! `--rounds N` (default 6 for the demo; the daemon and client roles run forever unless
//! given), `--bind HOST` (daemon interface, default 127.0.0.1; `*` binds all as the seed
//! does), `--requests N` (client requests per round, default 4), `--site SITE`,
//! `--daemon URL` (what a service dials, default `tcp://127.0.0.1:PORT`), `--listen URL`
//! (a service's REQ/REP address, default `tcp://127.0.0.1:0`).

#[path = "service_discovery/discovery.rs"]
mod discovery;

use std::process::ExitCode;
use std::time::Duration;

use discovery::{Client, Daemon, DemoError, Service, ServiceMap, Settings};

/// What to run.
enum Role {
    /// The self-contained demo.
    Demo,
    /// Only the discovery daemon.
    Daemon,
    /// One service.
    Service {
        name: String,
        site: Option<String>,
        daemon: Option<String>,
        listen: String,
    },
    /// The daemon plus the routing client.
    Client,
}

const USAGE: &str = "usage: service_discovery [daemon | service NAME [--site SITE] | client] \
[--port N] [--deadline-ms N] [--interval-ms N] [--rounds N] [--bind HOST] [--requests N] \
[--site SITE] [--daemon URL] [--listen URL]";

fn parse_args(args: &[String]) -> Result<(Role, Settings), String> {
    let mut settings = Settings::default();
    let mut role = None;
    let mut name = None;
    let mut site = None;
    let mut daemon = None;
    let mut listen = "tcp://127.0.0.1:0".to_owned();
    let mut rounds_given = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{what} needs a value"))
        };
        let number = |what: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{what} expects a whole number, got {v:?}"))
        };
        match arg.as_str() {
            "--port" => {
                let v = value("--port")?;
                settings.port = v
                    .parse()
                    .map_err(|_| format!("--port expects 0..65535, got {v:?}"))?;
            }
            "--deadline-ms" => {
                let v = number("--deadline-ms", value("--deadline-ms")?)?;
                if v == 0 {
                    return Err("--deadline-ms must be at least 1".into());
                }
                settings.deadline = Duration::from_millis(v);
            }
            "--interval-ms" => {
                let v = value("--interval-ms")?;
                settings.interval = Duration::from_millis(number("--interval-ms", v)?);
            }
            "--rounds" => {
                let v = value("--rounds")?;
                settings.rounds = u32::try_from(number("--rounds", v)?)
                    .map_err(|_| "--rounds is too large".to_owned())?;
                rounds_given = true;
            }
            "--requests" => {
                let v = value("--requests")?;
                settings.requests = usize::try_from(number("--requests", v)?)
                    .map_err(|_| "--requests is too large".to_owned())?;
            }
            "--bind" => settings.host = value("--bind")?,
            "--site" => site = Some(value("--site")?),
            "--daemon" => daemon = Some(value("--daemon")?),
            "--listen" => listen = value("--listen")?,
            "-h" | "--help" => return Err(String::new()),
            "daemon" | "service" | "client" if role.is_none() => role = Some(arg.clone()),
            other if role.as_deref() == Some("service") && name.is_none() => {
                if other.starts_with("--") {
                    return Err(format!("unknown option {other}"));
                }
                name = Some(other.to_owned());
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let role = match role.as_deref() {
        None => {
            if let Some(s) = site {
                settings.site = s;
            }
            Role::Demo
        }
        Some("daemon") => Role::Daemon,
        Some("client") => {
            if let Some(s) = site {
                settings.site = s;
            }
            Role::Client
        }
        _ => {
            let name = name.ok_or("service needs a NAME")?;
            if name.contains('|') || name.contains('@') {
                return Err("a service NAME may not contain '|' or '@' (use --site)".into());
            }
            Role::Service {
                name,
                site,
                daemon,
                listen,
            }
        }
    };
    if !rounds_given && matches!(role, Role::Daemon | Role::Client) {
        settings.rounds = 0;
    }
    Ok((role, settings))
}

/// The daemon alone, or the daemon with the routing client: rounds until done.
async fn run_rounds(settings: &Settings, with_client: bool) -> Result<(), DemoError> {
    let daemon = Daemon::bind(&settings.host, settings.port, settings.deadline).await?;
    println!(
        "discovery daemon at {} (deadline {} ms, interval {} ms); services dial {}",
        daemon.url(),
        settings.deadline.as_millis(),
        settings.interval.as_millis(),
        daemon.dial_url()
    );
    let mut client = match with_client {
        true => Some(Client::new(&settings.site, settings.deadline)?),
        false => None,
    };
    let mut known = ServiceMap::new();
    let mut out = std::io::stdout();
    let mut number = 0;
    while settings.rounds == 0 || number < settings.rounds {
        number += 1;
        println!();
        discovery::run_round(
            number,
            &daemon,
            &mut known,
            client.as_mut(),
            settings,
            &mut out,
        )
        .await?;
        tokio::time::sleep(settings.interval).await;
    }
    Ok(())
}

async fn run(role: Role, settings: Settings) -> Result<(), DemoError> {
    match role {
        Role::Demo => {
            let mut out = std::io::stdout();
            discovery::run_demo(&settings, &mut out).await?;
        }
        Role::Daemon => run_rounds(&settings, false).await?,
        Role::Client => run_rounds(&settings, true).await?,
        Role::Service {
            name,
            site,
            daemon,
            listen,
        } => {
            let name = match site {
                Some(site) => format!("{name}@{site}"),
                None => name,
            };
            let daemon = daemon.unwrap_or_else(|| format!("tcp://127.0.0.1:{}", settings.port));
            let s = Service::start(&name, &listen, &daemon).await?;
            println!(
                "{} serving at {}, answering surveys from {daemon} (stop with Ctrl-C)",
                s.name(),
                s.address()
            );
            std::future::pending::<()>().await;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (role, settings) = match parse_args(&args) {
        Ok(x) => x,
        // `--help` comes back as an empty error: usage on stdout, success.
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(role, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
