//! One round of discovery: what changed, what the client did, and its printed report.

use std::collections::BTreeMap;
use std::io::Write;

use super::{Answer, Client, Daemon, DemoError, Dial, Round, RoundEnd, ServiceMap, Settings};

/// What changed between two maps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// New names, with their address.
    pub(crate) discovered: Vec<(String, String)>,
    /// Names that did not answer this round, with their last address.
    pub(crate) undiscovered: Vec<(String, String)>,
    /// Names now answering with another address: (name, old, new).
    pub(crate) moved: Vec<(String, String, String)>,
}

impl Changes {
    /// Whether nothing changed.
    pub(crate) fn is_empty(&self) -> bool {
        self.discovered.is_empty() && self.undiscovered.is_empty() && self.moved.is_empty()
    }
}

/// The changes from `old` to `new`, each list sorted by name.
pub(crate) fn diff(old: &ServiceMap, new: &ServiceMap) -> Changes {
    let mut c = Changes::default();
    for (name, address) in new {
        match old.get(name) {
            None => c.discovered.push((name.clone(), address.clone())),
            Some(before) if before != address => {
                c.moved
                    .push((name.clone(), before.clone(), address.clone()));
            }
            Some(_) => {}
        }
    }
    for (name, address) in old {
        if !new.contains_key(name) {
            c.undiscovered.push((name.clone(), address.clone()));
        }
    }
    c
}

/// What one round of the demo showed.
#[derive(Clone, Debug)]
pub(crate) struct RoundReport {
    /// Round number, from 1.
    pub(crate) number: u32,
    /// The survey's outcome.
    pub(crate) round: Round,
    /// The change since the previous round.
    pub(crate) changes: Changes,
    /// What the client did about it.
    pub(crate) dials: Vec<Dial>,
    /// The client's answers this round.
    pub(crate) answers: Vec<Answer>,
    /// The scripted action taken after the round, if any.
    pub(crate) action: Option<String>,
    /// The client's answers right after a kill (before the next round).
    pub(crate) after_action: Vec<Answer>,
}

impl RoundReport {
    /// How many answers each provider gave, by provider name.
    pub(crate) fn answers_by_provider(&self) -> BTreeMap<String, usize> {
        let mut by = BTreeMap::new();
        for a in &self.answers {
            *by.entry(a.provider.clone()).or_insert(0) += 1;
        }
        by
    }
}

/// Runs one round: survey, diff against `known` (then updated), let the client follow
/// and ask. Prints the round to `out`.
pub(crate) async fn run_round(
    number: u32,
    daemon: &Daemon,
    known: &mut ServiceMap,
    client: Option<&mut Client>,
    settings: &Settings,
    out: &mut (dyn Write + Send),
) -> Result<RoundReport, DemoError> {
    let round = daemon.survey_round().await?;
    let changes = diff(known, &round.map);
    known.clone_from(&round.map);
    let ended = match round.ended {
        RoundEnd::AllAnswered => "all answered".to_owned(),
        RoundEnd::Deadline => format!("deadline {} ms passed", settings.deadline.as_millis()),
    };
    writeln!(
        out,
        "round {number}: {} of {} connected services answered ({ended}, {} ms)",
        round.map.len(),
        round.asked,
        round.elapsed.as_millis()
    )?;
    if round.malformed > 0 {
        writeln!(
            out,
            "  ignored {} answers that were not name|address",
            round.malformed
        )?;
    }
    for (name, address) in &changes.discovered {
        writeln!(out, "  discovered   {name} at {address}")?;
    }
    for (name, old, new) in &changes.moved {
        writeln!(out, "  moved        {name} from {old} to {new}")?;
    }
    for (name, address) in &changes.undiscovered {
        writeln!(
            out,
            "  undiscovered {name} (was {address}): no answer this round"
        )?;
    }
    if changes.is_empty() {
        writeln!(out, "  no change")?;
    }
    writeln!(out, "  map:")?;
    if round.map.is_empty() {
        writeln!(out, "    (empty)")?;
    }
    let width = round.map.keys().map(String::len).max().unwrap_or(0);
    for (name, address) in &round.map {
        writeln!(out, "    {name:<width$} -> {address}")?;
    }
    let mut dials = Vec::new();
    let mut answers = Vec::new();
    if let Some(client) = client {
        dials = client.update(&round.map).await?;
        for d in &dials {
            match d {
                Dial::Added(name, address, p) => {
                    writeln!(out, "  client dials {name} at {address}, priority {p}")?;
                }
                Dial::Dropped(name) => writeln!(out, "  client drops {name}")?,
            }
        }
        let site = client.site().to_owned();
        if client.provider_count() == 0 {
            writeln!(
                out,
                "  client ({site}): no providers known, no requests sent"
            )?;
        } else {
            // Wait until it is connected to every provider it knows of (and no longer to
            // a killed one), so the answers show routing rather than connection timing.
            // A provider that died since it answered the survey never connects: ask anyway.
            if let Err(e) = client.wait_connected(settings.deadline).await {
                writeln!(out, "  client ({site}): {e}; asking anyway")?;
            }
            match client.ask(settings.requests).await {
                Ok(a) => {
                    writeln!(out, "  client ({site}): {}", client.describe(&a))?;
                    answers = a;
                }
                Err(e) => writeln!(out, "  client ({site}): {e}")?,
            }
        }
    }
    Ok(RoundReport {
        number,
        round,
        changes,
        dials,
        answers,
        action: None,
        after_action: Vec::new(),
    })
}
