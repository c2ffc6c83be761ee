//! The scripted demo on loopback: four services, a client, kills and a restart.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use super::{
    run_round, Client, Daemon, DemoError, RoundReport, Service, ServiceMap, Settings,
    LOCAL_PRIORITY, LOCAL_SITE, REMOTE_PRIORITY, REMOTE_SITE,
};

/// How long to wait for a connection event in the demo before giving up.
fn settle_limit(settings: &Settings) -> Duration {
    settings.deadline.max(Duration::from_secs(2))
}

/// The whole scripted demo on loopback; prints to `out` and returns each round's report.
///
/// Script (by round, after the round is printed): 1: kill `oracle-a@new-york`; 2: kill
/// `oracle-b@new-york` (the last local provider); 3: restart `oracle-a@new-york` on a new
/// port. Later rounds just watch.
pub(crate) async fn run_demo(
    settings: &Settings,
    out: &mut (dyn Write + Send),
) -> Result<Vec<RoundReport>, DemoError> {
    let limit = settle_limit(settings);
    let daemon = Daemon::bind(&settings.host, settings.port, settings.deadline).await?;
    let dial_url = daemon.dial_url();
    writeln!(
        out,
        "discovery daemon at {} (deadline {} ms, interval {} ms, {} rounds)",
        daemon.url(),
        settings.deadline.as_millis(),
        settings.interval.as_millis(),
        settings.rounds
    )?;
    let names = [
        format!("oracle-a@{LOCAL_SITE}"),
        format!("oracle-b@{LOCAL_SITE}"),
        format!("oracle-c@{REMOTE_SITE}"),
        format!("oracle-d@{REMOTE_SITE}"),
    ];
    let mut services: BTreeMap<String, Service> = BTreeMap::new();
    for name in &names {
        let s = Service::start(name, "tcp://127.0.0.1:0", &dial_url).await?;
        writeln!(out, "started {} serving at {}", s.name(), s.address())?;
        services.insert(name.clone(), s);
    }
    daemon.wait_for_services(services.len(), limit).await?;
    let mut client = Client::new(&settings.site, limit)?;
    writeln!(
        out,
        "client in {} (local providers at priority {LOCAL_PRIORITY}, others at {REMOTE_PRIORITY})",
        settings.site
    )?;
    let mut known = ServiceMap::new();
    let mut reports = Vec::new();
    for number in 1..=settings.rounds {
        writeln!(out)?;
        let mut report = run_round(
            number,
            &daemon,
            &mut known,
            Some(&mut client),
            settings,
            out,
        )
        .await?;
        let kill = |name: &str| (name.to_owned(), format!("killing {name}"));
        let action = match number {
            1 => Some(kill(&names[0])),
            2 => Some((
                names[1].clone(),
                format!("killing {} (the last provider in {LOCAL_SITE})", names[1]),
            )),
            3 => Some((
                names[0].clone(),
                format!("restarting {} on a new port", names[0]),
            )),
            _ => None,
        };
        if let Some((name, text)) = action.filter(|_| number < settings.rounds) {
            writeln!(out, "-- {text}")?;
            let before = daemon.connected();
            if let Some(s) = services.remove(&name) {
                let connections = client.connections();
                s.kill().await;
                daemon.wait_for_at_most(before - 1, limit).await?;
                client
                    .wait_for_at_most(connections.saturating_sub(1), limit)
                    .await?;
                // The REQ socket reroutes at once, before discovery has noticed anything.
                let answers = client.ask(settings.requests).await?;
                writeln!(
                    out,
                    "   client right away, before the next round: {}",
                    client.describe(&answers)
                )?;
                report.after_action = answers;
            } else {
                let s = Service::start(&name, "tcp://127.0.0.1:0", &dial_url).await?;
                writeln!(out, "   {name} now serving at {}", s.address())?;
                services.insert(name, s);
                daemon.wait_for_services(before + 1, limit).await?;
            }
            report.action = Some(text);
        }
        reports.push(report);
        if number < settings.rounds {
            tokio::time::sleep(settings.interval).await;
        }
    }
    writeln!(out)?;
    writeln!(out, "done: {} rounds", settings.rounds)?;
    client.close().await;
    for (_, s) in services {
        s.kill().await;
    }
    daemon.close().await;
    Ok(reports)
}
