//! Transition coverage against the executable state tables (`spec/tables/*.toml`): every
//! input the checker feeds a protocol is recorded as (role, state class, input, next state
//! class), with the classes of `sp_proto::state_class`, and a transition that no table row
//! describes is reported. Then "the code does nothing the tables do not say" is checked
//! over every interleaving the checker explores, not only over the rows' own set-ups.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use sp_proto::state_class::{state_class, table_role};
use sp_proto::{AnyProtocol, Instant};

/// One transition of one protocol value, in the tables' terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Transition {
    /// The table (`req`, `surveyor`...).
    pub role: &'static str,
    /// The state class before the input.
    pub state: &'static str,
    /// The input, as the tables name it (`message`, `send`, `timeout`...).
    pub input: &'static str,
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
        let r = f(p);
        if let (Some((role, state)), Some(next)) = (before, state_class(p, now)) {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(Transition {
                    role,
                    state,
                    input,
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
                let key = (t.state.to_owned(), t.input.to_owned(), t.next.to_owned());
                if !rows.contains(&key) {
                    out.push(format!(
                        "{}: {} --{}--> {} is in no row of spec/tables/{}.toml",
                        t.role, t.state, t.input, t.next, t.role
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A table's rows as (state, input, next).
type Rows = BTreeSet<(String, String, String)>;

fn load(role: &str) -> Result<Rows, String> {
    let path = format!("{TABLES}/{role}.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let table: Table = toml::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    Ok(table
        .row
        .into_iter()
        .map(|r| (r.state, r.input, r.next))
        .collect())
}
