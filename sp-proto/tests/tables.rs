//! The executable state tables (DESIGN rule 7): every `spec/tables/<role>.toml` is loaded,
//! checked for completeness, and every row is driven through the real protocol.
//!
//! For each row the role's `setup` reaches the row's state with the row's guard satisfied
//! through real inputs only, the input is applied, the outputs are taken with
//! [`sp_proto::Drain`] (no write credit), and the command result, the outputs, the next
//! state class (computed by `sp_proto::state_class` from the public API) and the
//! counter changes are compared with the row. The prose tables in `spec/*.md` are
//! generated from the toml files and must match them byte for byte; run with
//! `SP_TABLES_BLESS=1` to rewrite them. The schema is in `spec/tables/README.md`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use sp_proto::proto::{Bus, Pair0, Pair1, Pub, Pull, Push, Rep, Req, Respondent, Sub, Surveyor};
use sp_proto::state_class;
use sp_proto::wire::backtrace::is_whole_backtrace;
use sp_proto::{
    AnyProtocol, Config, ContextId, Drain, DropReason, Event, Instant, Message, Options, Output,
    PipeId, PipeInfo, PipeRefused, ProtoStats, Protocol, RecvError, SendErrorKind, Transmit,
};

const TABLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/tables");
const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec");

#[path = "tables/machines.rs"]
mod machines;

/// The inputs and commands a role's table may name (the [`Protocol`] methods).
const INPUTS: [&str; 7] = [
    "send",
    "recv",
    "pipe_added",
    "pipe_removed",
    "message",
    "writable",
    "timeout",
];

/// The results a row may name (commands, and `pipe_added`, which may refuse the pipe).
const RESULTS: [&str; 10] = [
    "ok",
    "message",
    "would_block",
    "wrong_state",
    "timed_out",
    "no_peers",
    "bad_header",
    "not_supported",
    "busy",
    "duplicate",
];

// ---------------------------------------------------------------------------------------
// The schema.

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    role: String,
    doc: String,
    states: Vec<StateDef>,
    inputs: Vec<String>,
    guards: Vec<Named>,
    row: Vec<Row>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Named {
    name: String,
    means: String,
}

/// A declared state; a terminal one (the connection machines' `closed`) takes no input,
/// so completeness asks no row of it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateDef {
    name: String,
    means: String,
    #[serde(default)]
    terminal: bool,
}

/// What a kind of table may say: its inputs, which of them are commands with a result,
/// the results, and the output and counter names.
struct Vocabulary {
    inputs: &'static [&'static str],
    commands: &'static [&'static str],
    results: &'static [&'static str],
    output: fn(&str) -> Option<String>,
    counter: fn(&str) -> Option<()>,
}

/// The socket roles' vocabulary: the [`Protocol`] methods and their outputs.
const ROLE_WORDS: Vocabulary = Vocabulary {
    inputs: &INPUTS,
    commands: &["send", "recv", "pipe_added"],
    results: &RESULTS,
    output: parse_output,
    counter: counter_name_ok,
};

/// The vocabulary of `role`'s table: a socket role's, or a connection machine's.
fn vocabulary(role: &str) -> &'static Vocabulary {
    if ROLES.contains(&role) {
        &ROLE_WORDS
    } else {
        &machines::WORDS
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Row {
    state: String,
    input: String,
    guard: String,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    outputs: Vec<String>,
    next: String,
    #[serde(default)]
    counters: Vec<String>,
}

/// The roles with a table, in the order their files are checked.
const ROLES: [&str; 15] = [
    "req",
    "req-raw",
    "rep",
    "rep-raw",
    "surveyor",
    "respondent",
    "respondent-raw",
    "push",
    "pull",
    "pair1",
    "pair1-mono",
    "pair0",
    "pub",
    "sub",
    "bus",
];

fn table_path(role: &str) -> PathBuf {
    PathBuf::from(TABLES).join(format!("{role}.toml"))
}

/// Parses and validates one table; errors name the file and, for a bad row, its number
/// (1-based, in file order) and fields.
fn parse_table(file: &str, text: &str) -> Result<Table, String> {
    let table: Table = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
    let words = vocabulary(&table.role);
    let states: BTreeSet<&str> = table.states.iter().map(|s| s.name.as_str()).collect();
    let guards: BTreeSet<&str> = table.guards.iter().map(|g| g.name.as_str()).collect();
    for input in &table.inputs {
        if !words.inputs.contains(&input.as_str()) {
            return Err(format!("{file}: unknown input `{input}` in `inputs`"));
        }
    }
    for (i, row) in table.row.iter().enumerate() {
        let at = || {
            format!(
                "{file}: row {} ({} / {} / {})",
                i + 1,
                row.state,
                row.input,
                row.guard
            )
        };
        if !states.contains(row.state.as_str()) {
            return Err(format!("{}: unknown state `{}`", at(), row.state));
        }
        if !states.contains(row.next.as_str()) {
            return Err(format!("{}: unknown next state `{}`", at(), row.next));
        }
        if !table.inputs.contains(&row.input) {
            return Err(format!("{}: unknown input `{}`", at(), row.input));
        }
        if !guards.contains(row.guard.as_str()) {
            return Err(format!("{}: unknown guard `{}`", at(), row.guard));
        }
        let command = words.commands.contains(&row.input.as_str());
        match &row.result {
            None if command => return Err(format!("{}: `{}` needs a `result`", at(), row.input)),
            Some(r) if !command => return Err(format!("{}: input with result `{r}`", at())),
            Some(r) if !words.results.contains(&r.as_str()) => {
                return Err(format!("{}: unknown result `{r}`", at()))
            }
            _ => {}
        }
        for c in &row.counters {
            if (words.counter)(c).is_none() {
                return Err(format!("{}: unknown counter `{c}`", at()));
            }
        }
        for o in &row.outputs {
            if (words.output)(o).is_none() {
                return Err(format!("{}: malformed output `{o}`", at()));
            }
        }
        if table.row[..i]
            .iter()
            .any(|r| (&r.state, &r.input, &r.guard) == (&row.state, &row.input, &row.guard))
        {
            return Err(format!("{}: duplicate (state, input, guard)", at()));
        }
    }
    for g in &table.guards {
        if !table.row.iter().any(|r| r.guard == g.name) {
            return Err(format!("{file}: guard `{}` is used by no row", g.name));
        }
    }
    // Completeness: every declared (state, input) pair has a row, but for terminal states.
    for s in table.states.iter().filter(|s| !s.terminal) {
        for input in &table.inputs {
            if !table
                .row
                .iter()
                .any(|r| r.state == s.name && &r.input == input)
            {
                return Err(format!(
                    "{file}: no row for state `{}`, input `{input}`",
                    s.name
                ));
            }
        }
    }
    Ok(table)
}

fn load(role: &str) -> Table {
    let path = table_path(role);
    let file = format!("spec/tables/{role}.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let table = parse_table(&file, &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(table.role, role, "{file}: `role` must be the file's name");
    table
}

fn counter_name_ok(c: &str) -> Option<()> {
    match c.strip_prefix("dropped.") {
        Some(reason) => DropReason::ALL
            .iter()
            .any(|r| r.name() == reason)
            .then_some(()),
        None => ["resends", "delivered"].contains(&c).then_some(()),
    }
}

/// `transmit(p1, request)` or `event(name)` / `event(name, p1)`, normalised.
fn parse_output(o: &str) -> Option<String> {
    let (head, rest) = o.split_once('(')?;
    let args: Vec<&str> = rest.strip_suffix(')')?.split(',').map(str::trim).collect();
    let ok = match head.trim() {
        "transmit" => args.len() == 2 && pipe_named(args[0]).is_some(),
        "event" => match args.as_slice() {
            ["survey_expired"] => true,
            ["request_resent" | "pause" | "resume", p] => pipe_named(p).is_some(),
            _ => false,
        },
        _ => false,
    };
    ok.then(|| format!("{}({})", head.trim(), args.join(", ")))
}

fn pipe_named(name: &str) -> Option<PipeId> {
    name.strip_prefix('p')?.parse().ok().and_then(PipeId::new)
}

fn p(n: u32) -> PipeId {
    PipeId::new(n).expect("valid pipe id")
}

// ---------------------------------------------------------------------------------------
// The markdown generated from a table.

fn render(table: &Table) -> String {
    let guard = |name: &str| {
        table
            .guards
            .iter()
            .find(|g| g.name == name)
            .map_or(name, |g| g.means.as_str())
            .to_string()
    };
    let code = |xs: &[String]| {
        if xs.is_empty() {
            "—".to_string()
        } else {
            xs.iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    // The connection machines have neither results nor counters: no empty columns.
    let full = ROLES.contains(&table.role.as_str());
    let mut out = String::new();
    out.push_str(&format!(
        "<!-- Generated from spec/tables/{}.toml by sp-proto/tests/tables.rs; edit the toml, then run SP_TABLES_BLESS=1 cargo test -p sp-proto --test tables. -->\n\n",
        table.role
    ));
    out.push_str("| State | Meaning |\n|---|---|\n");
    for s in &table.states {
        out.push_str(&format!("| *{}* | {} |\n", s.name, s.means));
    }
    if !full {
        out.push_str("\n| State | Input | Guard | Outputs | Next |\n|---|---|---|---|---|\n");
    } else {
        out.push_str("\n| State | Input | Guard | Result | Outputs | Next | Counters |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
    }
    for r in &table.row {
        if !full {
            out.push_str(&format!(
                "| *{}* | {} | {} | {} | *{}* |\n",
                r.state,
                r.input,
                guard(&r.guard),
                code(&r.outputs),
                r.next,
            ));
            continue;
        }
        out.push_str(&format!(
            "| *{}* | {} | {} | {} | {} | *{}* | {} |\n",
            r.state,
            r.input,
            guard(&r.guard),
            r.result.as_deref().map_or("—".into(), |x| format!("`{x}`")),
            code(&r.outputs),
            r.next,
            code(&r.counters),
        ));
    }
    out
}

/// Replaces the block between `<!-- table:ROLE -->` and `<!-- /table -->` in `doc`.
fn splice(doc: &str, role: &str, block: &str) -> Result<String, String> {
    let open = format!("<!-- table:{role} -->\n");
    let close = "<!-- /table -->";
    let start = doc
        .find(&open)
        .ok_or_else(|| format!("no `{}` marker", open.trim()))?
        + open.len();
    let end = start
        + doc[start..]
            .find(close)
            .ok_or_else(|| format!("no `{close}` after `{}`", open.trim()))?;
    Ok(format!("{}{}{}", &doc[..start], block, &doc[end..]))
}

// ---------------------------------------------------------------------------------------
// Driving a row.

/// A protocol placed in a row's state, and what the row's input is applied with.
struct World {
    p: AnyProtocol,
    drain: Drain,
    now: Instant,
    /// The pipe the input names (`pipe_added`, `pipe_removed`, `message`, `writable`).
    pipe: PipeId,
    /// The payload of a `message` input.
    payload: Bytes,
    /// The message of a `send` command.
    msg: Message,
}

impl World {
    fn new(proto: impl Into<AnyProtocol>) -> Self {
        Self {
            p: proto.into(),
            drain: Drain::new(),
            now: Instant::ZERO,
            pipe: p(1),
            payload: Bytes::new(),
            msg: Message::from("new"),
        }
    }

    /// Takes every output (without write credit) and forgets it: setup steps.
    fn settle(&mut self) {
        while self.drain.next(&mut self.p, self.now).is_some() {}
    }

    fn add(&mut self, n: u32) {
        self.p
            .handle_pipe_added(self.now, p(n), PipeInfo::default())
            .expect("pipe accepted");
        self.settle();
    }

    fn remove(&mut self, n: u32) {
        self.p.handle_pipe_removed(self.now, p(n));
        self.settle();
    }

    fn writable(&mut self, n: u32) {
        self.p.handle_writable(self.now, p(n));
        self.settle();
    }

    fn deliver(&mut self, n: u32, payload: Bytes) {
        self.p.handle_message(self.now, p(n), payload);
        self.settle();
    }

    fn send(&mut self, body: &'static str) {
        self.p.send(self.now, Message::from(body)).expect("send");
        self.settle();
    }

    fn recv(&mut self) -> Result<Message, RecvError> {
        let r = self.p.recv(self.now);
        self.settle();
        r
    }

    fn at(&mut self, now: Instant) {
        self.now = now;
    }

    fn timeout(&mut self) {
        self.p.handle_timeout(self.now);
        self.settle();
    }
}

/// What applying a row's input produced.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    result: Option<String>,
    outputs: Vec<String>,
    next: String,
    counters: Vec<String>,
}

/// A role's test fixture: reaching states, naming state classes and transmits.
struct RoleDriver {
    setup: fn(state: &str, guard: &str) -> Result<World, String>,
    transmit_kind: &'static str,
}

fn driver(role: &str) -> RoleDriver {
    match role {
        "req" => RoleDriver {
            setup: req_setup,
            transmit_kind: "request",
        },
        "req-raw" => RoleDriver {
            setup: raw_req_setup,
            transmit_kind: "request",
        },
        "rep" => RoleDriver {
            setup: rep_setup,
            transmit_kind: "reply",
        },
        "rep-raw" => RoleDriver {
            setup: |state, guard| raw_replier_setup(|c| Rep::new(c).into(), state, guard),
            transmit_kind: "reply",
        },
        "respondent" => RoleDriver {
            setup: respondent_setup,
            transmit_kind: "response",
        },
        "respondent-raw" => RoleDriver {
            setup: |state, guard| raw_replier_setup(|c| Respondent::new(c).into(), state, guard),
            transmit_kind: "response",
        },
        "push" => RoleDriver {
            setup: push_setup,
            transmit_kind: "message",
        },
        "pair1" => RoleDriver {
            setup: pair1_setup,
            transmit_kind: "message",
        },
        "pair1-mono" => RoleDriver {
            setup: pair1_mono_setup,
            transmit_kind: "message",
        },
        "pair0" => RoleDriver {
            setup: pair0_setup,
            transmit_kind: "message",
        },
        "pub" => RoleDriver {
            setup: pub_setup,
            transmit_kind: "message",
        },
        "sub" => RoleDriver {
            setup: sub_setup,
            transmit_kind: "message",
        },
        "bus" => RoleDriver {
            setup: bus_setup,
            transmit_kind: "message",
        },
        "pull" => RoleDriver {
            setup: pull_setup,
            transmit_kind: "message",
        },
        "surveyor" => RoleDriver {
            setup: surveyor_setup,
            transmit_kind: "survey",
        },
        other => panic!("no driver for role `{other}`"),
    }
}

fn counters(stats: &ProtoStats) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = DropReason::ALL
        .iter()
        .map(|r| (format!("dropped.{}", r.name()), stats.dropped(*r)))
        .collect();
    v.push(("resends".into(), stats.resends));
    v.push(("delivered".into(), stats.delivered));
    v
}

/// Applies `row` to a fresh setup and reports what happened.
fn observe(d: &RoleDriver, row: &Row) -> Result<Observed, String> {
    let mut w = (d.setup)(&row.state, &row.guard)?;
    if row.guard == "no-pipe-fail" {
        // Every role's fail-fast row: the option set on the protocol the setup reached.
        let mut options = w.p.options().clone();
        options.fail_no_peers = true;
        w.p.set_options(options);
    }
    let start = class_of(&w.p);
    if start != row.state {
        return Err(format!(
            "setup for `{}` / `{}` reached state `{start}`",
            row.state, row.guard
        ));
    }
    let before = counters(w.p.stats());
    let now = w.now;
    let result = match row.input.as_str() {
        "send" => Some(match w.p.send(now, w.msg.clone()) {
            Ok(()) => "ok".to_string(),
            Err(e) => match e.kind {
                SendErrorKind::WouldBlock => "would_block",
                SendErrorKind::WrongState => "wrong_state",
                SendErrorKind::NoPeers => "no_peers",
                SendErrorKind::BadHeader => "bad_header",
                SendErrorKind::NotSupported => "not_supported",
                other => return Err(format!("unexpected send error {other:?}")),
            }
            .to_string(),
        }),
        "recv" => Some(
            match w.p.recv(now) {
                Ok(_) => "message",
                Err(RecvError::WouldBlock) => "would_block",
                Err(RecvError::WrongState) => "wrong_state",
                Err(RecvError::TimedOut) => "timed_out",
                Err(RecvError::NotSupported) => "not_supported",
                Err(other) => return Err(format!("unexpected recv error {other:?}")),
            }
            .to_string(),
        ),
        "pipe_added" => Some(
            match w.p.handle_pipe_added(now, w.pipe, PipeInfo::default()) {
                Ok(()) => "ok",
                Err(PipeRefused::Busy) => "busy",
                Err(PipeRefused::Duplicate(_)) => "duplicate",
            }
            .to_string(),
        ),
        "pipe_removed" => {
            w.p.handle_pipe_removed(now, w.pipe);
            None
        }
        "message" => {
            w.p.handle_message(now, w.pipe, w.payload.clone());
            None
        }
        "writable" => {
            w.p.handle_writable(now, w.pipe);
            None
        }
        "timeout" => {
            w.p.handle_timeout(now);
            None
        }
        other => return Err(format!("unknown input `{other}`")),
    };
    let mut outputs = Vec::new();
    while let Some(out) = w.drain.next(&mut w.p, now) {
        outputs.push(match out {
            Output::Transmit(t) => format!("transmit(p{}, {})", t.pipe, kind_of(d, &w.p, &t)),
            Output::Event(Event::PausePipe(pipe)) => format!("event(pause, p{pipe})"),
            Output::Event(Event::ResumePipe(pipe)) => format!("event(resume, p{pipe})"),
            Output::Event(Event::RequestResent { pipe }) => {
                format!("event(request_resent, p{pipe})")
            }
            Output::Event(Event::SurveyExpired) => "event(survey_expired)".to_string(),
            Output::Event(other) => format!("event({other:?})"),
        });
    }
    let after = counters(w.p.stats());
    let mut changed = Vec::new();
    for ((name, a), (_, b)) in before.iter().zip(&after) {
        for _ in *a..*b {
            changed.push(name.clone());
        }
    }
    Ok(Observed {
        result,
        outputs,
        next: class_of(&w.p),
        counters: changed,
    })
}

/// The role's message kind when the transmit's header is the one the role must send
/// (REQ: the current request id, raw: a backtrace; SURVEYOR: the current survey id, raw:
/// a backtrace; REP, RESPONDENT: a backtrace; PAIR v1: hop count 1; others: empty), else a kind that
/// names the bad header, so that no row can match it.
fn kind_of(d: &RoleDriver, p: &AnyProtocol, t: &Transmit) -> String {
    let h = &t.msg.header[..];
    let id_word = |id: Option<u32>| id.is_some_and(|id| h == id.to_be_bytes());
    let ok = match p {
        AnyProtocol::Req(_) | AnyProtocol::Surveyor(_) if p.is_raw() => is_whole_backtrace(h),
        AnyProtocol::Req(r) => id_word(r.request_id(ContextId::DEFAULT)),
        AnyProtocol::Surveyor(s) => id_word(s.current_survey(ContextId::DEFAULT)),
        AnyProtocol::Rep(_) | AnyProtocol::Respondent(_) => is_whole_backtrace(h),
        AnyProtocol::Pair1(_) => h == [0, 0, 0, 1],
        _ => h.is_empty(),
    };
    if ok {
        d.transmit_kind.to_string()
    } else {
        format!("{} with unexpected header {h:02x?}", d.transmit_kind)
    }
}

/// Where a row is, for messages: file, 1-based row number, state, input and guard.
fn row_at(role: &str, index: usize, row: &Row) -> String {
    format!(
        "spec/tables/{role}.toml row {} ({} / {} / {})",
        index + 1,
        row.state,
        row.input,
        row.guard
    )
}

/// Drives one row; `Err` describes every mismatch.
fn check_row(role: &str, index: usize, row: &Row) -> Result<(), String> {
    let d = driver(role);
    let at = row_at(role, index, row);
    let got = observe(&d, row).map_err(|e| format!("{at}: {e}"))?;
    compare(&at, &got, row, &ROLE_WORDS)
}

/// Compares what a row's input produced with the row (whose outputs are normalised with
/// `words`); `Err` names every mismatch.
fn compare(at: &str, got: &Observed, row: &Row, words: &Vocabulary) -> Result<(), String> {
    let mut want_counters = row.counters.clone();
    want_counters.sort();
    let mut got_counters = got.counters.clone();
    got_counters.sort();
    let want_outputs: Vec<String> = row
        .outputs
        .iter()
        .map(|o| (words.output)(o).unwrap_or_else(|| o.clone()))
        .collect();
    let mut errors = Vec::new();
    if got.result != row.result {
        errors.push(format!(
            "result {:?}, table says {:?}",
            got.result, row.result
        ));
    }
    if got.outputs != want_outputs {
        errors.push(format!(
            "outputs {:?}, table says {:?}",
            got.outputs, want_outputs
        ));
    }
    if got.next != row.next {
        errors.push(format!(
            "next state `{}`, table says `{}`",
            got.next, row.next
        ));
    }
    if got_counters != want_counters {
        errors.push(format!(
            "counters {got_counters:?}, table says {want_counters:?}"
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{at}: {}", errors.join("; ")))
    }
}

/// The table's state class of `p`: the one function the model checker uses too.
fn class_of(p: &AnyProtocol) -> String {
    state_class::state_class(p, Instant::ZERO)
        .unwrap_or_else(|| panic!("no table covers {p:?}"))
        .to_string()
}

fn with_options(raw: bool, f: impl FnOnce(&mut Options)) -> Config {
    let mut options = Options::default();
    f(&mut options);
    Config {
        options,
        seed: 7,
        raw,
    }
}

// ---------------------------------------------------------------------------------------
// REQ.

fn req(p: &AnyProtocol) -> &Req {
    match p {
        AnyProtocol::Req(r) => r,
        other => panic!("not a REQ: {other:?}"),
    }
}

const STALE_ID: u32 = 0x8000_3039;

fn req_reply(w: &World) -> Bytes {
    let id = req(&w.p)
        .request_id(ContextId::DEFAULT)
        .expect("a request in progress");
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(b"reply");
    v.into()
}

/// Leaves p1 attached but busy (its credit used by a completed request) and REQ idle.
fn req_busy_idle(w: &mut World) {
    w.add(1);
    w.send("old");
    let reply = req_reply(w);
    w.deliver(1, reply);
    w.recv().expect("the reply");
}

fn req_setup(state: &str, guard: &str) -> Result<World, String> {
    let mut w = World::new(Req::new(Config::cooked(7)));
    match (state, guard) {
        ("idle", "no-pipe" | "no-pipe-fail") => {}
        ("idle", "busy") => req_busy_idle(&mut w),
        ("idle", _) => w.add(1),
        ("held", "p1-writable-resend") => {
            // Written on p1, which stays busy; the resend deadline passes.
            w.add(1);
            w.send("req");
            w.at(Instant::ZERO + Duration::from_secs(60));
            w.timeout();
        }
        ("held", "new-pipe-resend") => {
            w.add(1);
            w.send("req");
            w.remove(1);
        }
        ("held", _) => {
            req_busy_idle(&mut w);
            w.send("req");
        }
        ("sent" | "replied", _) => {
            w.add(1);
            w.send("req");
            if state == "replied" {
                let reply = req_reply(&w);
                w.deliver(1, reply);
            }
            match guard {
                "writable" | "carrier-removed-writable" | "other-removed" => w.add(2),
                "deadline-writable" => {
                    w.writable(1);
                    w.at(Instant::ZERO + Duration::from_secs(60));
                }
                "deadline-busy" => w.at(Instant::ZERO + Duration::from_secs(60)),
                "before-deadline" => w.at(Instant::ZERO + Duration::from_secs(59)),
                _ => {}
            }
        }
        _ => return Err(format!("req: no setup for state `{state}`")),
    }
    w.pipe = match guard {
        "new-pipe" | "new-pipe-resend" | "other-removed" => p(2),
        _ => p(1),
    };
    w.payload = match guard {
        "reply" => req_reply(&w),
        "stale" => Bytes::from([&STALE_ID.to_be_bytes()[..], b"late"].concat()),
        "malformed" => Bytes::from_static(&[0, 1]),
        _ => Bytes::new(),
    };
    Ok(w)
}

// ---------------------------------------------------------------------------------------
// REP.

fn request(id: u32, body: &str) -> Bytes {
    Bytes::from([&(id | 0x8000_0000).to_be_bytes()[..], body.as_bytes()].concat())
}

fn rep_setup(state: &str, guard: &str) -> Result<World, String> {
    replier_setup(|c| Rep::new(c).into(), state, guard)
}

fn respondent_setup(state: &str, guard: &str) -> Result<World, String> {
    replier_setup(|c| Respondent::new(c).into(), state, guard)
}

/// REP and RESPONDENT share their engine and so their setups.
fn replier_setup(
    new: fn(Config) -> AnyProtocol,
    state: &str,
    guard: &str,
) -> Result<World, String> {
    let mut w = World::new(new(queue_of(queue_limit(guard))));
    w.add(1);
    // Makes p1 busy: one request answered without write credit.
    let busy = |w: &mut World, backlog: usize| {
        w.deliver(1, request(1, "a"));
        w.recv().expect("request");
        w.send("reply-a");
        for i in 0..backlog {
            w.deliver(1, request(10 + i as u32, "b"));
            w.recv().expect("request");
            w.send("reply-b");
        }
    };
    match (state, guard) {
        ("idle", "queued" | "queued-paused") => w.deliver(1, request(1, "a")),
        ("idle", "p1-writable-backlog" | "p1-removed-backlog") => busy(&mut w, 1),
        ("idle", _) => {}
        ("answering", _) => {
            match guard {
                "pipe-busy" => busy(&mut w, 0),
                "backlog-full" | "p1-writable-backlog" | "p1-removed-backlog" => busy(&mut w, 1),
                _ => {}
            }
            w.deliver(1, request(2, "c"));
            w.recv().expect("request");
            match guard {
                "pipe-gone" => w.remove(1),
                "queued" | "queued-paused" => w.deliver(1, request(3, "d")),
                _ => {}
            }
        }
        _ => return Err(format!("rep: no setup for state `{state}`")),
    }
    w.pipe = match guard {
        "new-pipe" => p(2),
        "unknown-pipe" => p(9),
        _ => p(1),
    };
    w.payload = match guard {
        "malformed" => Bytes::from_static(&[0, 0, 0, 1, b'x']),
        "ttl" => too_deep(),
        _ => request(5, "e"),
    };
    Ok(w)
}

// ---------------------------------------------------------------------------------------
// Raw REQ, REP and RESPONDENT: a device's two sides.

/// A header word with bit 31 set: the end of a backtrace.
const ID_WORD: u32 = 0x8000_0007;

fn words(ws: &[u32]) -> Bytes {
    ws.iter()
        .flat_map(|w| w.to_be_bytes())
        .collect::<Vec<u8>>()
        .into()
}

fn raw_req_setup(state: &str, guard: &str) -> Result<World, String> {
    if state != "raw" {
        return Err(format!("req-raw: no setup for state `{state}`"));
    }
    let config = queue_in_mode(true, queue_limit(guard));
    let mut w = World::new(Req::new(config));
    if guard != "no-pipe" {
        w.add(1);
    }
    let reply = request(7, "reply");
    match guard {
        "all-busy" => {
            w.msg = Message::with_header(words(&[ID_WORD]), Bytes::from_static(b"old"));
            w.p.send(w.now, w.msg.clone()).expect("raw send");
            w.settle();
        }
        "queued" | "queued-paused" | "p1-removed-queued" => w.deliver(1, reply.clone()),
        _ => {}
    }
    w.pipe = if guard == "new-pipe" { p(2) } else { p(1) };
    let header = if guard == "bad-header" { 1 } else { ID_WORD };
    w.msg = Message::with_header(words(&[header]), Bytes::from_static(b"new"));
    w.payload = match guard {
        "malformed" => Bytes::from_static(&[0, 0, 0, 1, b'x']),
        "ttl" => too_deep(),
        _ => reply,
    };
    Ok(w)
}

/// Raw REP and RESPONDENT share their engine and so their setups: a raw user answers
/// with the header it received, whose first word names the pipe.
fn raw_replier_setup(
    new: fn(Config) -> AnyProtocol,
    state: &str,
    guard: &str,
) -> Result<World, String> {
    if state != "raw" {
        return Err(format!("raw replier: no setup for state `{state}`"));
    }
    let config = queue_in_mode(true, queue_limit(guard));
    let mut w = World::new(new(config));
    w.add(1);
    let on_p1 = words(&[1, ID_WORD]);
    // Answers on p1 without write credit coming back: the first makes p1 busy, the
    // next ones go to its backlog.
    let answer = |w: &mut World, n: usize| {
        for _ in 0..n {
            let m = Message::with_header(on_p1.clone(), Bytes::from_static(b"old"));
            w.p.send(w.now, m).expect("raw send");
            w.settle();
        }
    };
    match guard {
        "pipe-busy" => answer(&mut w, 1),
        "backlog-full" | "p1-removed-backlog" | "p1-writable-backlog" => answer(&mut w, 2),
        "queued" | "queued-paused" => w.deliver(1, request(7, "a")),
        _ => {}
    }
    w.pipe = match guard {
        "new-pipe" => p(2),
        "unknown-pipe" => p(9),
        _ => p(1),
    };
    let header = match guard {
        "pipe-gone" => words(&[9, ID_WORD]),
        "bad-header" => words(&[ID_WORD]),
        _ => on_p1,
    };
    w.msg = Message::with_header(header, Bytes::from_static(b"new"));
    w.payload = match guard {
        "malformed" => Bytes::from_static(&[0, 0, 0, 1, b'x']),
        "ttl" => too_deep(),
        _ => request(5, "e"),
    };
    Ok(w)
}

// ---------------------------------------------------------------------------------------
// SURVEYOR.

fn surveyor(p: &AnyProtocol) -> &Surveyor {
    match p {
        AnyProtocol::Surveyor(s) => s,
        other => panic!("not a SURVEYOR: {other:?}"),
    }
}

const DEADLINE: Instant = Instant::from_millis(1000);

fn survey_response(w: &World) -> Bytes {
    let id = surveyor(&w.p)
        .current_survey(ContextId::DEFAULT)
        .expect("a survey in progress");
    Bytes::from([&id.to_be_bytes()[..], b"here"].concat())
}

fn surveyor_setup(state: &str, guard: &str) -> Result<World, String> {
    let config = with_options(state == "raw", |o| {
        if guard == "response-queue-full" {
            o.set_recv_queue(1).expect("valid");
        }
    });
    let mut w = World::new(Surveyor::new(config));
    if !matches!(guard, "no-pipe" | "no-pipe-fail") {
        w.add(1);
        w.add(2);
    }
    let queued = matches!(
        guard,
        "response-queued"
            | "response-queue-full"
            | "response-queued-writable"
            | "deadline-response-queued"
            | "p1-removed-response-queued"
    );
    let mut expired = None;
    match state {
        "raw" => {
            if queued {
                w.deliver(1, request(1, "r"));
            }
            w.msg = if guard == "bad-header" {
                Message::from("no header")
            } else {
                Message::with_header(request(1, ""), "new")
            };
        }
        "idle" => {
            if matches!(guard, "p2-busy" | "expired") {
                // One survey that expires and is reported: p1 and p2 are busy after it.
                w.send("old");
                expired = surveyor(&w.p).current_survey(ContextId::DEFAULT);
                w.at(DEADLINE);
                w.timeout();
                assert_eq!(w.recv(), Err(RecvError::TimedOut));
                if guard == "p2-busy" {
                    w.writable(1);
                }
            }
        }
        "active" | "timed_out" => {
            // The survey went to p1 and p2, which are busy after it.
            w.send("old");
            expired = surveyor(&w.p).current_survey(ContextId::DEFAULT);
            if queued {
                let r = survey_response(&w);
                w.deliver(1, r);
            }
            if state == "timed_out" {
                w.at(DEADLINE);
                w.timeout();
            }
            if matches!(
                guard,
                "writable" | "response-queued-writable" | "deadline-passed"
            ) {
                w.writable(1);
                w.writable(2);
            }
            match guard {
                "deadline-passed" | "deadline" | "deadline-response-queued" => w.at(DEADLINE),
                "before-deadline" => w.at(Instant::from_millis(999)),
                _ => {}
            }
        }
        _ => return Err(format!("surveyor: no setup for state `{state}`")),
    }
    w.pipe = match guard {
        "new-pipe" => p(3),
        _ => p(1),
    };
    w.payload = match guard {
        "malformed" => Bytes::from_static(&[0, 0, 0, 1, b'x']),
        "stale" => Bytes::from([&STALE_ID.to_be_bytes()[..], b"late"].concat()),
        "expired" => {
            let id = expired.ok_or("surveyor: no expired survey in this setup")?;
            Bytes::from([&id.to_be_bytes()[..], b"late"].concat())
        }
        "ttl" => too_deep(),
        _ if state == "raw" => request(2, "r2"),
        _ if state == "active" => survey_response(&w),
        _ => Bytes::new(),
    };
    Ok(w)
}

/// A backtrace of 8 pipe words and an id word: one word over the default TTL of 8.
fn too_deep() -> Bytes {
    let mut v = Vec::new();
    for hop in 1..=8u32 {
        v.extend_from_slice(&hop.to_be_bytes());
    }
    v.extend_from_slice(&request(4, "deep"));
    v.into()
}

// ---------------------------------------------------------------------------------------
// PUSH and PULL.

fn push_setup(state: &str, guard: &str) -> Result<World, String> {
    let mut w = World::new(Push::new(Config::cooked(7)));
    match (state, guard) {
        ("blocked", "no-pipe" | "no-pipe-fail") => {}
        ("blocked", _) => {
            // p1 took a message and has no write credit.
            w.add(1);
            w.send("old");
        }
        ("writable", "two-writable" | "other-removed") => {
            w.add(1);
            w.add(2);
        }
        ("writable", _) => w.add(1),
        _ => return Err(format!("push: no setup for state `{state}`")),
    }
    w.pipe = match guard {
        "new-pipe" | "other-removed" => p(2),
        _ => p(1),
    };
    w.payload = Bytes::from_static(b"data");
    Ok(w)
}

fn pull_setup(state: &str, guard: &str) -> Result<World, String> {
    let mut w = World::new(Pull::new(queue_of(queue_limit(guard))));
    w.add(1);
    match (state, guard) {
        ("empty", _) => {}
        ("queued", "two-queued" | "paused-two") => {
            w.deliver(1, Bytes::from_static(b"a"));
            w.deliver(1, Bytes::from_static(b"b"));
        }
        ("queued", _) => w.deliver(1, Bytes::from_static(b"a")),
        _ => return Err(format!("pull: no setup for state `{state}`")),
    }
    w.pipe = match guard {
        "new-pipe" => p(2),
        "unknown-pipe" => p(9),
        _ => p(1),
    };
    w.payload = Bytes::from_static(b"data");
    Ok(w)
}

// ---------------------------------------------------------------------------------------
// PAIR v1, polyamorous.

fn hop(count: u32, body: &str) -> Bytes {
    Bytes::from([&count.to_be_bytes()[..], body.as_bytes()].concat())
}

fn pair1_setup(state: &str, guard: &str) -> Result<World, String> {
    let config = with_options(false, |o| {
        o.pair1_polyamorous = true;
        if let Some(n) = queue_limit(guard) {
            o.set_recv_queue(n).expect("valid");
        }
    });
    let mut w = World::new(Pair1::new(config));
    match state {
        "none" => {}
        "peers" | "queued" => {
            w.add(1);
            if !matches!(guard, "last-removed" | "pipe-removed") {
                w.add(2);
            }
            if state == "queued" {
                w.deliver(1, hop(1, "queued"));
            }
            if matches!(guard, "two-queued" | "paused-two") {
                w.deliver(1, hop(1, "second"));
            }
            match guard {
                "all-busy" => {
                    w.send("x");
                    w.send("y");
                }
                "addressed-busy" => {
                    let mut m = Message::from("x");
                    m.pipe = Some(p(2));
                    w.p.send(w.now, m).expect("send");
                    w.settle();
                }
                "pipe-removed" => w.remove(1),
                _ => {}
            }
        }
        _ => return Err(format!("pair1: no setup for state `{state}`")),
    }
    w.pipe = match guard {
        "new-pipe" => p(3),
        "unknown" | "unknown-pipe" => p(9),
        _ => p(1),
    };
    w.msg.pipe = match guard {
        "addressed-writable" | "addressed-busy" => Some(p(2)),
        "addressed-gone" => Some(p(9)),
        _ => None,
    };
    w.payload = match guard {
        "malformed" => hop(0x100, "bad"),
        "ttl" => hop(9, "far"),
        _ => hop(1, "hi"),
    };
    Ok(w)
}

// ---------------------------------------------------------------------------------------
// PAIR v0, PUB, SUB, BUS.

/// A cooked config whose per-pipe receive queue holds `limit` messages (the default
/// when `None`).
fn queue_of(limit: Option<usize>) -> Config {
    queue_in_mode(false, limit)
}

/// [`queue_of`], raw or cooked.
fn queue_in_mode(raw: bool, limit: Option<usize>) -> Config {
    with_options(raw, |o| {
        if let Some(n) = limit {
            o.set_recv_queue(n).expect("valid");
        }
    })
}

/// The receive-queue limit a guard's set-up needs: 1 or 2 for the guards that fill a
/// queue or find it full, the default otherwise.
fn queue_limit(guard: &str) -> Option<usize> {
    match guard {
        "fills-queue" | "paused" | "queued-paused" | "request-fills-queue" | "backlog-full" => {
            Some(1)
        }
        "fills-queue-second" | "paused-two" => Some(2),
        _ => None,
    }
}

/// The pipe an input names: p1 unless the guard says otherwise.
fn named_pipe(guard: &str, new_pipe: u32) -> PipeId {
    match guard {
        "new-pipe" => p(new_pipe),
        "second" => p(2),
        "unknown" | "unknown-pipe" => p(9),
        _ => p(1),
    }
}

fn pair0_setup(state: &str, guard: &str) -> Result<World, String> {
    let config = queue_of(queue_limit(guard));
    one_peer_setup(World::new(Pair0::new(config)), state, guard, |body| {
        Bytes::from_static(body.as_bytes())
    })
}

/// PAIR v1 with one peer: PAIR v0's setups, with hop words on the wire; the `raw-`
/// guards run on a raw socket.
fn pair1_mono_setup(state: &str, guard: &str) -> Result<World, String> {
    let config = queue_in_mode(guard.starts_with("raw-"), queue_limit(guard));
    let mut w = World::new(Pair1::new(config));
    // A raw set-up's own sends carry hop word 0; the row's send carries the guard's.
    if guard.starts_with("raw-") {
        w.msg.header = Bytes::from_static(&[0, 0, 0, 0]);
    }
    let mut w = one_peer_setup(w, state, guard, |body| hop(1, body))?;
    w.payload = match guard {
        "malformed" => hop(0x100, "bad"),
        "ttl" => hop(9, "far"),
        _ => w.payload,
    };
    if guard == "raw-bad-header" {
        w.msg.header = Bytes::from_static(&[0, 0, 0, 0xff]);
    }
    Ok(w)
}

/// Takes `w`, a one-peer socket (PAIR v0, PAIR v1 not polyamorous), to `state`, sending
/// `w.msg` to make its peer busy; `wire` makes a payload its peer would send.
fn one_peer_setup(
    mut w: World,
    state: &str,
    guard: &str,
    wire: fn(&'static str) -> Bytes,
) -> Result<World, String> {
    match state {
        "none" => {
            if guard == "queued" {
                w.add(1);
                w.deliver(1, wire("left"));
                w.remove(1);
            }
        }
        "writable" | "busy" => {
            w.add(1);
            if state == "busy" {
                let m = w.msg.clone();
                w.p.send(w.now, m).expect("send");
                w.settle();
            }
            if matches!(guard, "queued" | "paused") {
                w.deliver(1, wire("queued"));
            }
        }
        _ => return Err(format!("one peer: no setup for state `{state}`")),
    }
    w.pipe = named_pipe(guard, 1);
    w.payload = wire("data");
    Ok(w)
}

fn pub_setup(state: &str, guard: &str) -> Result<World, String> {
    let mut w = World::new(Pub::new(Config::cooked(7)));
    match state {
        "none" => {}
        "subscribers" => {
            w.add(1);
            if guard != "last-removed" {
                w.add(2);
            }
            if matches!(guard, "p2-busy" | "all-busy") {
                w.send("x");
            }
            if guard == "p2-busy" {
                w.writable(1);
            }
        }
        _ => return Err(format!("pub: no setup for state `{state}`")),
    }
    w.pipe = named_pipe(guard, 3);
    w.payload = Bytes::from_static(b"data");
    Ok(w)
}

fn sub_setup(state: &str, guard: &str) -> Result<World, String> {
    let config = with_options(guard.starts_with("raw-"), |o| {
        if guard.starts_with("full-") || guard.starts_with("bp-") {
            o.set_recv_queue(1).expect("valid");
        }
        o.sub_prefer_new = guard != "full-prefer-old";
        o.sub_back_pressure = guard.starts_with("bp-");
    });
    let mut w = World::new(Sub::new(config));
    w.p.subscribe("a").expect("a SUB");
    w.add(1);
    match state {
        "empty" => {}
        "queued" => {
            w.deliver(1, Bytes::from_static(b"a1"));
            if guard == "two-queued" {
                w.deliver(1, Bytes::from_static(b"a2"));
            }
        }
        _ => return Err(format!("sub: no setup for state `{state}`")),
    }
    w.pipe = named_pipe(guard, 2);
    if guard == "bp-fills-p2" {
        w.add(2);
        w.pipe = p(2);
    }
    w.payload = if guard.ends_with("unsubscribed") {
        Bytes::from_static(b"b-news")
    } else {
        Bytes::from_static(b"a-news")
    };
    Ok(w)
}

fn bus_setup(state: &str, guard: &str) -> Result<World, String> {
    let raw = guard.starts_with("raw-");
    let mut w = World::new(Bus::new(queue_in_mode(raw, queue_limit(guard))));
    match state {
        "none" => {}
        "peers" | "queued" => {
            w.add(1);
            if guard != "last-removed" {
                w.add(2);
            }
            if state == "queued" {
                w.deliver(1, Bytes::from_static(b"queued"));
            }
            if matches!(guard, "two-queued" | "paused-two") {
                w.deliver(1, Bytes::from_static(b"second"));
            }
            if guard == "p2-busy" {
                w.send("x");
                w.writable(1);
            }
        }
        _ => return Err(format!("bus: no setup for state `{state}`")),
    }
    w.pipe = named_pipe(guard, 3);
    w.payload = Bytes::from_static(b"data");
    w.msg.header = match guard {
        "raw-header-p1" => Bytes::from_static(&[0, 0, 0, 1]),
        "raw-bad-header" => Bytes::from_static(&[0, 1]),
        _ => Bytes::new(),
    };
    Ok(w)
}

// ---------------------------------------------------------------------------------------
// The tests.

/// Drives every row of the `tables` with `check`; fails listing each row that does not
/// hold.
fn check_every_row(tables: &[&str], check: fn(&str, usize, &Row) -> Result<(), String>) {
    let mut failures = Vec::new();
    let mut rows = 0;
    for role in tables {
        let table = load(role);
        for (i, row) in table.row.iter().enumerate() {
            rows += 1;
            if let Err(e) = check(role, i, row) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {rows} rows fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_row_holds_against_the_real_protocol() {
    check_every_row(&ROLES, check_row);
}

#[test]
fn spec_documents_carry_the_generated_tables() {
    let bless = std::env::var_os("SP_TABLES_BLESS").is_some();
    // Every marker in a document names a table that exists.
    for entry in std::fs::read_dir(SPEC).expect("spec/ exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_none_or(|x| x != "md") {
            continue;
        }
        let doc = std::fs::read_to_string(&path).expect("readable");
        for marker in doc.split("<!-- table:").skip(1) {
            let role = marker.split(' ').next().unwrap_or_default();
            assert!(
                ROLES.contains(&role) || machines::MACHINES.contains(&role),
                "{}: marker for `{role}`, which has no table in ROLES or MACHINES",
                path.display()
            );
        }
    }
    for role in ROLES.into_iter().chain(machines::MACHINES) {
        let table = load(role);
        let path = PathBuf::from(SPEC).join(&table.doc);
        let doc =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("spec/{}: {e}", table.doc));
        let want = splice(&doc, role, &render(&table))
            .unwrap_or_else(|e| panic!("spec/{}: {e}", table.doc));
        if bless {
            std::fs::write(&path, &want).expect("write the spec document");
        } else {
            assert!(
                doc == want,
                "spec/{}: the `{role}` table differs from spec/tables/{role}.toml; run \
                 SP_TABLES_BLESS=1 cargo test -p sp-proto --test tables",
                table.doc
            );
        }
    }
}

/// The index in `spec/tables/README.md` gives each table's row count; it is checked
/// here, so it cannot go stale when rows are added.
#[test]
fn the_index_row_counts_are_the_tables() {
    let index = std::fs::read_to_string(PathBuf::from(TABLES).join("README.md")).expect("index");
    let mut listed = 0;
    for line in index.lines() {
        let Some(rest) = line.strip_prefix("| [") else {
            continue;
        };
        let Some((file, _)) = rest.split_once(".toml]") else {
            continue;
        };
        let count: usize = line
            .trim_end_matches(" |")
            .rsplit("| ")
            .next()
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or_else(|| panic!("spec/tables/README.md: no row count in {line:?}"));
        assert_eq!(
            count,
            load(file).row.len(),
            "spec/tables/README.md gives {file}.toml {count} rows"
        );
        listed += 1;
    }
    assert_eq!(
        listed,
        ROLES.len() + machines::MACHINES.len(),
        "every table is listed"
    );
}

#[test]
fn a_planted_bug_in_a_row_is_reported() {
    let table = load("req");
    let (i, row) = table
        .row
        .iter()
        .enumerate()
        .find(|(_, r)| r.state == "sent" && r.guard == "carrier-removed-writable")
        .expect("the row exists");
    assert_eq!(check_row("req", i, row), Ok(()));

    let mut wrong_next = row.clone();
    wrong_next.next = "held".into();
    let e = check_row("req", i, &wrong_next).expect_err("a wrong next state is caught");
    assert!(e.contains("next state `sent`, table says `held`"), "{e}");

    let mut wrong_output = row.clone();
    wrong_output.outputs[0] = "transmit(p1, request)".into();
    let e = check_row("req", i, &wrong_output).expect_err("a wrong output is caught");
    assert!(e.contains("outputs"), "{e}");

    let mut wrong_counter = row.clone();
    wrong_counter.counters.clear();
    let e = check_row("req", i, &wrong_counter).expect_err("a missing counter is caught");
    assert!(e.contains("counters"), "{e}");
}

#[test]
fn bad_tables_are_refused_with_file_and_row() {
    let good = std::fs::read_to_string(table_path("req")).expect("req.toml");
    let unknown_field = good.replacen("next = \"sent\"", "next = \"sent\"\nnxet = \"x\"", 1);
    let e = parse_table("req.toml", &unknown_field).expect_err("unknown field");
    assert!(e.starts_with("req.toml") && e.contains("nxet"), "{e}");

    let unknown_state = good.replacen("state = \"idle\"", "state = \"idel\"", 1);
    let e = parse_table("req.toml", &unknown_state).expect_err("unknown state");
    assert!(e.contains("req.toml: row 1") && e.contains("idel"), "{e}");

    let unknown_input = good.replacen("input = \"send\"", "input = \"sned\"", 1);
    let e = parse_table("req.toml", &unknown_input).expect_err("unknown input");
    assert!(e.contains("row 1") && e.contains("sned"), "{e}");

    let t = parse_table("req.toml", &good).expect("good");
    let mut missing = t.clone();
    missing
        .row
        .retain(|r| !(r.state == "held" && r.input == "timeout"));
    let text = toml_rows(&missing);
    let e = parse_table("req.toml", &text).expect_err("incomplete");
    assert!(
        e.contains("no row for state `held`, input `timeout`"),
        "{e}"
    );
}

/// Writes a table back as toml (only what the completeness check needs).
fn toml_rows(t: &Table) -> String {
    let q = |s: &str| format!("{s:?}");
    let list = |xs: &[String]| {
        format!(
            "[{}]",
            xs.iter().map(|x| q(x)).collect::<Vec<_>>().join(", ")
        )
    };
    let named = |xs: &mut dyn Iterator<Item = (&String, &String)>| {
        format!(
            "[{}]",
            xs.map(|(name, means)| format!("{{ name = {}, means = {} }}", q(name), q(means)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut s = format!(
        "role = {}\ndoc = {}\nstates = {}\ninputs = {}\nguards = {}\n",
        q(&t.role),
        q(&t.doc),
        named(&mut t.states.iter().map(|n| (&n.name, &n.means))),
        list(&t.inputs),
        named(&mut t.guards.iter().map(|n| (&n.name, &n.means)))
    );
    for r in &t.row {
        s.push_str(&format!(
            "[[row]]\nstate = {}\ninput = {}\nguard = {}\n{}outputs = {}\nnext = {}\ncounters = {}\n",
            q(&r.state),
            q(&r.input),
            q(&r.guard),
            r.result.as_ref().map_or(String::new(), |x| format!("result = {}\n", q(x))),
            list(&r.outputs),
            q(&r.next),
            list(&r.counters),
        ));
    }
    s
}
