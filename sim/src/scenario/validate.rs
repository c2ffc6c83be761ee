//! Load-time checks of a scenario: every host and socket name resolves, every socket or
//! host pattern matches something, and every duration is a finite, non-negative number.
//! A refused scenario's error points at the line of the offending value (found through
//! the spans of `toml`'s span-keeping parse), not at its table header.

use std::collections::BTreeSet;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use sp_proto::DropReason;

use super::check::STAT_FIELDS;
use super::{Action, Expect, Scenario, ScenarioError};
use crate::def::{host_matches, EndpointDef, HostDef, LinkOverride};
use crate::sim::NET_DROP_REASONS;

/// Where in a scenario file something is: the line (1-based) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// Line number, from 1.
    pub line: usize,
    /// The line's text, trimmed.
    pub text: String,
}

/// One step of a path into the scenario's TOML tree.
#[derive(Clone, Debug)]
pub(crate) enum Seg {
    /// A table key.
    Key(&'static str),
    /// An array index.
    Ix(usize),
}

use Seg::{Ix, Key};

/// Finds the lines of values in a scenario's text.
pub(crate) struct Locator<'a> {
    text: &'a str,
    root: Option<Spanned<DeTable<'a>>>,
}

impl<'a> Locator<'a> {
    /// A locator over `text` (which parses, or this finds nothing).
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            text,
            root: DeTable::parse(text).ok(),
        }
    }

    /// The line at byte offset `at`.
    pub(crate) fn line_at(&self, at: usize) -> Location {
        let at = at.min(self.text.len());
        let start = self.text[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        Location {
            line: self.text[..start].matches('\n').count() + 1,
            text: self.text[start..end].trim().to_owned(),
        }
    }

    /// The span of the value at `path`, or of the deepest part of it that exists.
    fn span(&self, path: &[Seg]) -> Option<Range<usize>> {
        let root = self.root.as_ref()?;
        let mut best = root.span();
        let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
        let mut value: Option<&Spanned<DeValue<'_>>> = None;
        for seg in path {
            let next = match (seg, table, value.map(Spanned::get_ref)) {
                (Key(k), Some(t), _) => t
                    .iter()
                    .find(|(key, _)| key.get_ref().as_ref() == *k)
                    .map(|(_, v)| v),
                (Ix(i), _, Some(DeValue::Array(a))) => a.get(*i),
                _ => None,
            };
            let Some(v) = next else { break };
            best = v.span();
            value = Some(v);
            table = match v.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        Some(best)
    }

    /// The line of the value at `path`.
    pub(crate) fn locate(&self, path: &[Seg]) -> Option<Location> {
        self.span(path).map(|s| self.line_at(s.start))
    }

    /// The line of key `key` inside the table at byte offset `at` (an entry whose error
    /// `toml` reports at its header), if there is one.
    pub(crate) fn key_in_entry(&self, at: usize, key: &str) -> Option<Location> {
        let root = self.root.as_ref()?;
        let mut found = None;
        for (_, v) in root.get_ref().iter() {
            let DeValue::Array(a) = v.get_ref() else {
                continue;
            };
            for e in a.iter() {
                if let DeValue::Table(t) = e.get_ref() {
                    let s = e.span();
                    if s.contains(&at) || s.start == at {
                        found = entry_key(t, key);
                    }
                }
            }
        }
        found.map(|s| self.line_at(s.start))
    }
}

/// The span of `key` in `t`, or of a string value equal to `key` (an unknown variant).
fn entry_key(t: &DeTable<'_>, key: &str) -> Option<Range<usize>> {
    t.iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(k, _)| k.span())
        .or_else(|| {
            t.iter()
                .find(|(_, v)| v.get_ref().as_str() == Some(key))
                .map(|(_, v)| v.span())
        })
}

/// Collects the problems found, each with its path.
struct Checker {
    hosts: Vec<HostDef>,
    sockets: Vec<String>,
    problems: Vec<(Vec<Seg>, String)>,
}

impl Checker {
    fn fail(&mut self, path: Vec<Seg>, msg: String) {
        self.problems.push((path, msg));
    }

    fn duration(&mut self, path: Vec<Seg>, key: &'static str, v: Option<f64>) {
        if let Some(v) = v {
            if !v.is_finite() || v < 0.0 {
                let mut p = path;
                p.push(Key(key));
                self.fail(
                    p,
                    format!("`{key}` is {v}: a duration must be a finite number >= 0"),
                );
            }
        }
    }

    fn host_exists(&self, name: &str) -> bool {
        self.hosts.iter().any(|h| h.name == name)
    }

    fn host_pattern(&mut self, path: Vec<Seg>, key: &'static str, pattern: &str) {
        if !self.hosts.iter().any(|h| host_matches(pattern, &h.name)) {
            let mut p = path;
            p.push(Key(key));
            self.fail(p, format!("`{key}`: no host matches {pattern:?}"));
        }
    }

    fn host_name(&mut self, path: Vec<Seg>, key: &'static str, name: &str) {
        if !self.host_exists(name) {
            let mut p = path;
            p.push(Key(key));
            self.fail(p, format!("`{key}`: no host {name:?}"));
        }
    }

    /// The step at `path` names, as its `addr`, an address that `socket` listens on
    /// (`listen`) or dials.
    fn socket_endpoint(&mut self, mut path: Vec<Seg>, socket: &str, addr: &str, listen: bool) {
        let found = self.hosts.iter().any(|h| {
            h.sockets.iter().any(|s| {
                let eps = if listen { &s.listen } else { &s.dial };
                format!("{}.{}", h.name, s.name) == socket && eps.iter().any(|e| e.addr == addr)
            })
        });
        if self.sockets.iter().any(|s| s == socket) && !found {
            path.push(Key("addr"));
            let verb = if listen { "listen on" } else { "dial" };
            self.fail(path, format!("`addr`: {socket} does not {verb} {addr:?}"));
        }
    }

    /// The step at `path` closes `socket`, which must not be one of a device's sockets
    /// (the device would go on forwarding into it).
    fn closable(&mut self, mut path: Vec<Seg>, socket: &str) {
        let device = self.hosts.iter().any(|h| {
            h.device.as_ref().is_some_and(|d| {
                [&d.a, &d.b]
                    .iter()
                    .any(|s| format!("{}.{s}", h.name) == socket)
            })
        });
        if device {
            path.push(Key("socket"));
            self.fail(
                path,
                format!("`socket`: {socket} is a device's socket, which cannot be closed"),
            );
        }
    }

    fn socket_name(&mut self, path: Vec<Seg>, key: &'static str, name: &str) {
        if !self.sockets.iter().any(|s| s == name) {
            let mut p = path;
            p.push(Key(key));
            self.fail(p, format!("`{key}`: no socket {name:?} (want host.socket)"));
        }
    }

    fn socket_pattern(&mut self, path: Vec<Seg>, key: &'static str, pattern: &str) {
        for alt in pattern.split('|') {
            let hit = alt.split_once('.').is_some_and(|(ph, ps)| {
                self.sockets.iter().any(|n| {
                    n.split_once('.')
                        .is_some_and(|(h, s)| host_matches(ph, h) && (ps == "*" || ps == s))
                })
            });
            if !hit {
                let mut p = path.clone();
                p.push(Key(key));
                self.fail(p, format!("`{key}`: no socket matches {alt:?}"));
            }
        }
    }

    /// `value` must be `any` (except for `field`) or one of `names`.
    fn one_of(&mut self, path: Vec<Seg>, key: &'static str, value: &str, names: &[&str]) {
        let any = key != "field" && value == "any";
        if !any && !names.contains(&value) {
            let mut p = path;
            p.push(Key(key));
            let also = if key == "field" { "" } else { "any, " };
            self.fail(
                p,
                format!(
                    "`{key}`: unknown {key} {value:?} (want {also}{})",
                    names.join(", ")
                ),
            );
        }
    }

    fn endpoint(&mut self, path: Vec<Seg>, e: &EndpointDef) {
        if !self.host_exists(e.host()) {
            let mut p = path.clone();
            p.push(Key("addr"));
            self.fail(p, format!("`addr` {:?}: no host {:?}", e.addr, e.host()));
        }
        self.duration(path.clone(), "reconnect_min_ms", e.reconnect_min_ms);
        self.duration(path.clone(), "reconnect_max_ms", e.reconnect_max_ms);
        self.duration(path.clone(), "keepalive_idle_ms", e.keepalive_idle_ms);
        self.duration(
            path.clone(),
            "keepalive_interval_ms",
            e.keepalive_interval_ms,
        );
        self.duration(path.clone(), "tcp_user_timeout_ms", e.tcp_user_timeout_ms);
        if e.keepalive_count == Some(0) {
            let mut p = path;
            p.push(Key("keepalive_count"));
            self.fail(p, "`keepalive_count` is 0: at least one probe".to_owned());
        }
    }
}

/// Checks `sc`; the first problem found, located in `text`.
pub(crate) fn validate(sc: &Scenario, text: &str) -> Result<(), ScenarioError> {
    let hosts: Vec<HostDef> = sc.hosts.iter().flat_map(HostDef::expand).collect();
    let sockets = hosts
        .iter()
        .flat_map(|h| h.sockets.iter().map(|s| format!("{}.{}", h.name, s.name)))
        .collect();
    let mut c = Checker {
        hosts,
        sockets,
        problems: Vec::new(),
    };
    c.duration(vec![], "run_ms", sc.run_ms);
    let d = &sc.links.default;
    c.duration(
        vec![Key("links"), Key("default")],
        "latency_ms",
        Some(d.latency_ms),
    );
    c.duration(
        vec![Key("links"), Key("default")],
        "jitter_ms",
        Some(d.jitter_ms),
    );
    for (i, o) in sc.links.pairs.iter().enumerate() {
        let p = vec![Key("links"), Key("pair"), Ix(i)];
        c.host_pattern(p.clone(), "a", &o.a);
        c.host_pattern(p.clone(), "b", &o.b);
        c.duration(p.clone(), "latency_ms", o.latency_ms);
        c.duration(p, "jitter_ms", o.jitter_ms);
    }
    let mut seen = BTreeSet::new();
    for (hi, h) in sc.hosts.iter().enumerate() {
        for e in h.expand() {
            if !seen.insert(e.name.clone()) {
                c.fail(
                    vec![Key("host"), Ix(hi), Key("name")],
                    format!("host {:?} defined twice", e.name),
                );
            }
        }
        // Endpoints are checked on the expanded hosts (addresses may use `{host}`), and
        // reported at the definition.
        for (si, s) in h.sockets.iter().enumerate() {
            let sp = vec![Key("host"), Ix(hi), Key("socket"), Ix(si)];
            c.duration(
                [sp.clone(), vec![Key("options")]].concat(),
                "survey_deadline_ms",
                s.options.survey_deadline_ms,
            );
            c.duration(
                [sp.clone(), vec![Key("options")]].concat(),
                "resend_interval_ms",
                s.options.resend_interval_ms,
            );
            if let Some(r) = &s.reply {
                c.duration(
                    [sp.clone(), vec![Key("reply")]].concat(),
                    "delay_ms",
                    Some(r.delay_ms),
                );
            }
            for e in h.expand() {
                let s = &e.sockets[si];
                for (key, list) in [("listen", &s.listen), ("dial", &s.dial)] {
                    for (ei, ep) in list.iter().enumerate() {
                        c.endpoint([sp.clone(), vec![Key(key), Ix(ei)]].concat(), ep);
                    }
                }
            }
        }
    }
    for (i, st) in sc.steps.iter().enumerate() {
        let p = vec![Key("step"), Ix(i)];
        c.duration(p.clone(), "at_ms", Some(st.at_ms));
        match &st.action {
            Action::Send(s) | Action::Request(s) | Action::Survey(s) => {
                if matches!(st.action, Action::Send(_)) && s.context.is_some() {
                    let mut q = p.clone();
                    q.push(Key("context"));
                    c.fail(
                        q,
                        "`context`: only `request` and `survey` steps send on a context".into(),
                    );
                }
                c.socket_name(p.clone(), "socket", &s.socket);
                c.duration(p, "every_ms", s.every_ms);
            }
            Action::Subscribe { socket, .. }
            | Action::Unsubscribe { socket, .. }
            | Action::Recv { socket, .. }
            | Action::Hostile { socket, .. } => c.socket_name(p, "socket", socket),
            Action::Partition { a, b, .. }
            | Action::Repair { a, b, .. }
            | Action::Reset { a, b }
            | Action::Link(LinkOverride { a, b, .. }) => {
                c.host_pattern(p.clone(), "a", a);
                c.host_pattern(p, "b", b);
            }
            Action::Crash { host, .. } | Action::Restart { host } => c.host_name(p, "host", host),
            Action::Close { socket } => {
                c.socket_name(p.clone(), "socket", socket);
                c.closable(p, socket);
            }
            Action::CloseDialer { socket, addr } => {
                c.socket_name(p.clone(), "socket", socket);
                c.socket_endpoint(p, socket, addr, false);
            }
            Action::RestartListener {
                socket,
                addr,
                down_ms,
            } => {
                c.socket_name(p.clone(), "socket", socket);
                c.duration(p.clone(), "down_ms", Some(*down_ms));
                c.socket_endpoint(p, socket, addr, true);
            }
            Action::Wait {} => {}
        }
    }
    for (i, e) in sc.expects.iter().enumerate() {
        let p = vec![Key("expect"), Ix(i)];
        match &e.check {
            Expect::Received(r) => {
                c.socket_pattern(p.clone(), "socket", &r.socket);
                if let Some(s) = &r.sent_by {
                    c.socket_pattern(p.clone(), "sent_by", s);
                }
                if let Some(h) = &r.from_host {
                    c.host_pattern(p.clone(), "from_host", h);
                }
                if let Some([a, b]) = r.sent_between {
                    for v in [a, b] {
                        c.duration(p.clone(), "sent_between", Some(v));
                    }
                }
                c.duration(p.clone(), "by_ms", r.by_ms);
                c.duration(p, "after_ms", r.after_ms);
            }
            Expect::ExactlyOnce(x) => {
                c.socket_pattern(p.clone(), "sender", &x.sender);
                c.socket_pattern(p, "receivers", &x.receivers);
            }
            Expect::Survey(x) => c.socket_pattern(p, "socket", &x.socket),
            Expect::Drops(x) => {
                c.socket_pattern(p.clone(), "socket", &x.socket);
                let names: Vec<&str> = DropReason::ALL.iter().map(|r| r.name()).collect();
                c.one_of(p, "reason", &x.reason, &names);
            }
            Expect::NetDrops(x) => c.one_of(p, "reason", &x.reason, &NET_DROP_REASONS),
            Expect::Pipes(x) => c.socket_pattern(p, "socket", &x.socket),
            Expect::ConnectRate(x) => {
                c.socket_pattern(p.clone(), "socket", &x.socket);
                c.duration(p.clone(), "window_ms", Some(x.window_ms));
                c.duration(p.clone(), "after_ms", Some(x.after_ms));
                c.duration(p, "before_ms", x.before_ms);
            }
            Expect::Stat(x) => {
                c.socket_pattern(p.clone(), "socket", &x.socket);
                c.one_of(p, "field", &x.field, &STAT_FIELDS);
            }
        }
    }
    let Some((path, message)) = c.problems.into_iter().next() else {
        return Ok(());
    };
    let loc = Locator::new(text);
    Err(ScenarioError {
        file: None,
        seed: None,
        location: loc.locate(&path),
        message,
    })
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;

    const BASE: &str = r#"
[[host]]
name = "srv"
[[host.socket]]
name = "rep"
type = "rep"
listen = [{ addr = "srv:1" }]

[[host]]
name = "cli"
[[host.socket]]
name = "req"
type = "req"
dial = [{ addr = "srv:1" }]
"#;

    /// Loads `BASE` plus `extra`; the error's line number and line text.
    fn refused(extra: &str) -> (usize, String, String) {
        let text = format!("{BASE}{extra}");
        let e = Scenario::from_toml(&text).expect_err("must be refused");
        let l = e.location.clone().unwrap_or_else(|| panic!("no line: {e}"));
        (l.line, l.text, e.to_string())
    }

    fn line_of(extra: &str, needle: &str) -> usize {
        let text = format!("{BASE}{extra}");
        text.lines()
            .position(|l| l.contains(needle))
            .expect("needle")
            + 1
    }

    #[test]
    fn the_base_loads() {
        Scenario::from_toml(BASE).expect("valid");
    }

    #[test]
    fn link_to_unknown_host() {
        let x = "[[links.pair]]\na = \"cli\"\nb = \"faar\"\nlatency_ms = 4\n";
        let (line, text, msg) = refused(x);
        assert_eq!(
            (line, text.as_str()),
            (line_of(x, "faar"), "b = \"faar\""),
            "{msg}"
        );
        assert!(msg.contains("no host matches \"faar\""), "{msg}");
    }

    #[test]
    fn partition_of_unknown_host() {
        let x = "[[step]]\nat_ms = 10\ndo = \"partition\"\na = \"cli\"\nb = \"svr\"\n";
        let (line, text, msg) = refused(x);
        assert_eq!(
            (line, text.as_str()),
            (line_of(x, "svr"), "b = \"svr\""),
            "{msg}"
        );
    }

    #[test]
    fn expectation_pattern_matching_nothing() {
        let x = "[[step]]\nat_ms = 10\ndo = \"request\"\nsocket = \"cli.req\"\nbody = \"q\"\n\
                 [[expect]]\ncheck = \"received\"\nsocket = \"srv.rep\"\n\
                 sent_by = \"cli.rq\"\nnone = true\n";
        let (line, text, msg) = refused(x);
        assert_eq!(
            (line, text.as_str()),
            (line_of(x, "cli.rq"), "sent_by = \"cli.rq\"")
        );
        assert!(msg.contains("no socket matches \"cli.rq\""), "{msg}");
        // One bad alternative of several is refused too.
        let y = x.replace("cli.rq\"", "cli.req|cli.rq\"");
        assert_eq!(refused(&y).0, line_of(&y, "cli.rq\""));
    }

    #[test]
    fn dial_to_unknown_host() {
        let text = BASE.replace(
            "dial = [{ addr = \"srv:1\" }]",
            "dial = [{ addr = \"sv:1\" }]",
        );
        let e = Scenario::from_toml(&text).unwrap_err();
        let l = e.location.clone().expect("a line");
        assert_eq!(l.text, "dial = [{ addr = \"sv:1\" }]", "{e}");
        assert!(e.message.contains("no host \"sv\""), "{e}");
    }

    #[test]
    fn negative_durations_are_refused_with_key_and_line() {
        let text = BASE.replace(
            "type = \"req\"",
            "type = \"req\"\noptions = { resend_interval_ms = -5 }",
        );
        let e = Scenario::from_toml(&text).unwrap_err();
        let l = e.location.clone().expect("a line");
        assert_eq!(l.text, "options = { resend_interval_ms = -5 }");
        assert!(e.message.contains("`resend_interval_ms` is -5"), "{e}");
        for (x, key) in [
            ("[[step]]\nat_ms = -1\ndo = \"wait\"\n", "at_ms"),
            (
                "[[step]]\nat_ms = 1\ndo = \"send\"\nsocket = \"cli.req\"\nbody = \"b\"\n\
              every_ms = -3\n",
                "every_ms",
            ),
            ("[links.default]\njitter_ms = -2\n", "jitter_ms"),
            (
                "[[expect]]\ncheck = \"connect_rate\"\nsocket = \"srv.rep\"\nwindow_ms = -1\n\
              max_per_window = 1\n",
                "window_ms",
            ),
            ("run_ms = nan\n", "run_ms"),
        ] {
            let (line, text, msg) = refused(x);
            assert_eq!(line, line_of(x, key), "{msg}");
            assert!(text.starts_with(key), "{msg}");
            assert!(msg.contains(&format!("`{key}`")), "{msg}");
        }
    }

    #[test]
    fn unknown_names_in_steps() {
        for (x, needle) in [
            (
                "[[step]]\nat_ms = 1\ndo = \"send\"\nsocket = \"cli.rq\"\nbody = \"b\"\n",
                "cli.rq",
            ),
            (
                "[[step]]\nat_ms = 1\ndo = \"crash\"\nhost = \"srvv\"\n",
                "srvv",
            ),
            (
                "[[step]]\nat_ms = 1\ndo = \"restart_listener\"\nsocket = \"srv.rep\"\n\
              addr = \"srv:2\"\n",
                "srv:2",
            ),
        ] {
            let (line, _, msg) = refused(x);
            assert_eq!(line, line_of(x, needle), "{msg}");
        }
    }

    #[test]
    fn unknown_reasons_and_counters() {
        for (x, needle) in [
            (
                "[[expect]]\ncheck = \"net_drops\"\nreason = \"los\"\nmax = 0\n",
                "los",
            ),
            (
                "[[expect]]\ncheck = \"drops\"\nsocket = \"*.req\"\nreason = \"stale\"\n",
                "stale",
            ),
            (
                "[[expect]]\ncheck = \"stat\"\nsocket = \"*.req\"\nfield = \"resend\"\n",
                "resend",
            ),
        ] {
            let (line, _, msg) = refused(x);
            assert_eq!(line, line_of(x, needle), "{msg}");
            assert!(msg.contains("unknown"), "{msg}");
        }
    }

    #[test]
    fn field_errors_point_inside_the_entry() {
        for (x, needle) in [
            (
                "[[step]]\nat_ms = 1\ndo = \"sned\"\nsocket = \"cli.req\"\nbody = \"b\"\n",
                "sned",
            ),
            (
                "[[expect]]\ncheck = \"pipes\"\nsocket = \"srv.rep\"\ncoutn = 1\n",
                "coutn",
            ),
            (
                "[[step]]\nat_ms = 1\ndo = \"send\"\nsocket = \"cli.req\"\nbdy = \"b\"\n",
                "bdy",
            ),
        ] {
            let (line, _, msg) = refused(x);
            assert_eq!(line, line_of(x, needle), "{msg}");
        }
    }
}
