//! Transition coverage against the executable state tables (`spec/tables/*.toml`): every
//! input the checker feeds a protocol is recorded as (role, state class, input, the kinds
//! of output it produced, next state class), with the classes of `sp_proto::state_class`,
//! and a transition that no table row describes is reported. Then "the code does nothing the tables do not say" is checked
//! over every interleaving the checker explores, not only over the rows' own set-ups.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use sp_proto::state_class::{state_class, table_role};
use sp_proto::{AnyProtocol, Event, Instant, Protocol};

/// The kinds of output an input produced, as a set: the tables' output names without
/// their pipes (`transmit`, `event(request_resent)`, ...). Counts are left out because
/// they follow the number of pipes, which differs between a row's set-up and a model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Outputs(u8);

/// The output kinds, in the order [`Outputs`] prints them.
const KINDS: [&str; 6] = [
    "transmit",
    "event(request_resent)",
    "event(pause)",
    "event(resume)",
    "event(survey_expired)",
    // An event added to sp-proto after this list: no row names it, so it is reported.
    "event(unlisted)",
];

impl Outputs {
    /// No output.
    pub const NONE: Self = Self(0);

    /// The set holding the kind named `name` (one of the tables' output names, with or
    /// without pipes and message kinds: `transmit(p1, request)`, `event(pause, p2)`).
    pub fn named(name: &str) -> Option<Self> {
        let (head, rest) = name.split_once('(')?;
        let first = rest.trim_end_matches(')').split(',').next()?.trim();
        let kind = match head.trim() {
            "transmit" => "transmit".to_owned(),
            "event" => format!("event({first})"),
            _ => return None,
        };
        KINDS.iter().position(|k| *k == kind).map(|i| Self(1 << i))
    }

    /// This set with `other`'s kinds added.
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    fn of_event(e: &Event) -> Self {
        Self(match e {
            Event::RequestResent { .. } => 1 << 1,
            Event::PausePipe(_) => 1 << 2,
            Event::ResumePipe(_) => 1 << 3,
            Event::SurveyExpired => 1 << 4,
            _ => 1 << 5,
        })
    }
}

impl std::fmt::Display for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = (0..KINDS.len())
            .filter(|i| self.0 & (1 << i) != 0)
            .map(|i| KINDS[i])
            .collect();
        if names.is_empty() {
            f.write_str("—")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

/// How many outputs of each kind `p` holds, found on a copy (taking them all, without
/// write credit, as the tables do).
fn pending(p: &AnyProtocol) -> [usize; KINDS.len()] {
    let mut copy = p.clone();
    let mut counts = [0; KINDS.len()];
    while copy.poll_transmit().is_some() {
        counts[0] += 1;
    }
    while let Some(e) = copy.poll_event() {
        counts[Outputs::of_event(&e).0.trailing_zeros() as usize] += 1;
    }
    counts
}

/// One transition of one protocol value, in the tables' terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Transition {
    /// The table (`req`, `surveyor`...).
    pub role: &'static str,
    /// The state class before the input.
    pub state: &'static str,
    /// The input, as the tables name it (`message`, `send`, `timeout`...).
    pub input: &'static str,
    /// The kinds of output it added to what the protocol held.
    pub outputs: Outputs,
    /// The state class after it.
    pub next: &'static str,
}

/// Where a model's machines record their transitions. Not part of the model's state: it
/// hashes to nothing and equals every other recorder, so it does not split states.
#[derive(Clone, Debug, Default)]
pub struct Recorder(Arc<Mutex<BTreeSet<Transition>>>);

impl PartialEq for Recorder {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Recorder {}

impl Hash for Recorder {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

impl Recorder {
    /// Applies `input` (named as the tables name it) through `f` and records the
    /// transition, if a table covers `p`.
    pub fn observe<R>(
        &self,
        p: &mut AnyProtocol,
        now: Instant,
        input: &'static str,
        f: impl FnOnce(&mut AnyProtocol) -> R,
    ) -> R {
        let before = table_role(p).zip(state_class(p, now));
        let held = before.map(|_| pending(p));
        let r = f(p);
        if let (Some((role, state)), Some(held), Some(next)) = (before, held, state_class(p, now)) {
            let now_held = pending(p);
            let outputs = (0..KINDS.len())
                .filter(|&i| now_held[i] > held[i])
                .fold(Outputs::NONE, |o, i| o.with(Outputs(1 << i)));
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(Transition {
                    role,
                    state,
                    input,
                    outputs,
                    next,
                });
        }
        r
    }

    /// Every transition recorded so far.
    pub fn transitions(&self) -> BTreeSet<Transition> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The (state, input, next) triples of one table.
#[derive(serde::Deserialize)]
struct Table {
    row: Vec<Row>,
}

#[derive(serde::Deserialize)]
struct Row {
    state: String,
    input: String,
    #[serde(default)]
    outputs: Vec<String>,
    next: String,
}

/// The tables directory of this repository.
const TABLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/tables");

/// The transitions of `seen` that no row of their role's table describes, as readable
/// lines; a table that cannot be read is reported as such.
pub fn uncovered(seen: &BTreeSet<Transition>) -> Vec<String> {
    let mut tables: BTreeMap<&str, Result<Rows, String>> = BTreeMap::new();
    let mut out = Vec::new();
    for t in seen {
        let rows = tables.entry(t.role).or_insert_with(|| load(t.role));
        match rows {
            Err(e) => out.push(e.clone()),
            Ok(rows) => {
                let key = (
                    t.state.to_owned(),
                    t.input.to_owned(),
                    t.outputs,
                    t.next.to_owned(),
                );
                if !rows.contains(&key) {
                    out.push(format!(
                        "{}: {} --{} / {}--> {} is in no row of spec/tables/{}.toml",
                        t.role, t.state, t.input, t.outputs, t.next, t.role
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A table's rows as (state, input, output kinds, next).
type Rows = BTreeSet<(String, String, Outputs, String)>;

fn load(role: &str) -> Result<Rows, String> {
    let path = format!("{TABLES}/{role}.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let table: Table = toml::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let mut rows = Rows::new();
    for r in table.row {
        let mut outputs = Outputs::NONE;
        for o in &r.outputs {
            let kind = Outputs::named(o)
                .ok_or_else(|| format!("{path}: unknown output `{o}` in a {} row", r.state))?;
            outputs = outputs.with(kind);
        }
        rows.insert((r.state, r.input, outputs, r.next));
    }
    Ok(rows)
}
