//! Checking the expectations against what a run observed, on either layer.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use sp_proto::{DropReason, Instant, ProtoStats};

use super::expect::{
    ConnectRateCheck, DropsCheck, ExactlyOnceCheck, Expect, NetDropsCheck, PipesCheck,
    ReceivedCheck, StatCheck, SurveyCheck,
};
use super::{CheckResult, ExpectDef};
use crate::def::{host_matches, ms};
use crate::trace::{body_text, time_text};
use crate::{Sent, Sim, SocketLog};

/// What a finished run observed, as the expectations read it: implemented by [`Sim`] and
/// by the turmoil layer's outcome.
pub(crate) trait Outcome {
    /// Every socket name (`host.socket`), in order.
    fn socket_names(&self) -> Vec<String>;
    /// What was recorded about one socket.
    fn log(&self, name: &str) -> Option<&SocketLog>;
    /// Every application send.
    fn sent(&self) -> &[Sent];
    /// Frames the network dropped, by reason.
    fn net_drops(&self) -> Vec<(String, u64)>;
    /// Pipes a socket has at the end.
    fn pipe_count(&self, name: &str) -> usize;
    /// Protocol counters of a socket's current incarnation.
    fn stats(&self, name: &str) -> Option<&ProtoStats>;
}

impl Outcome for Sim {
    fn socket_names(&self) -> Vec<String> {
        Self::socket_names(self)
    }
    fn log(&self, name: &str) -> Option<&SocketLog> {
        Self::log(self, name)
    }
    fn sent(&self) -> &[Sent] {
        Self::sent(self)
    }
    fn net_drops(&self) -> Vec<(String, u64)> {
        Self::net_drops(self)
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }
    fn pipe_count(&self, name: &str) -> usize {
        Self::pipe_count(self, name)
    }
    fn stats(&self, name: &str) -> Option<&ProtoStats> {
        Self::stats(self, name)
    }
}

/// Whether socket name `name` (`host.socket`) matches `pattern` (host part may be a
/// pattern; socket part exact or `*`; alternatives separated by `|`).
fn socket_matches(pattern: &str, name: &str) -> bool {
    pattern.split('|').any(|pattern| {
        let (Some((ph, ps)), Some((h, s))) = (pattern.split_once('.'), name.split_once('.')) else {
            return false;
        };
        host_matches(ph, h) && (ps == "*" || ps == s)
    })
}

fn body_matches(pattern: &str, body: &[u8]) -> bool {
    match pattern.strip_suffix('*') {
        Some(p) => body.starts_with(p.as_bytes()),
        None => body == pattern.as_bytes(),
    }
}

fn matching_sockets(sim: &impl Outcome, pattern: &str) -> Vec<String> {
    sim.socket_names()
        .into_iter()
        .filter(|n| socket_matches(pattern, n))
        .collect()
}

/// Checks one expectation against what a run observed.
pub(crate) fn check(run: &impl Outcome, e: &ExpectDef) -> CheckResult {
    let r = match &e.check {
        Expect::Received(c) => received(run, c),
        Expect::ExactlyOnce(c) => exactly_once(run, c),
        Expect::Survey(c) => survey(run, c),
        Expect::Drops(c) => drops(run, c),
        Expect::NetDrops(c) => net_drops(run, c),
        Expect::Pipes(c) => pipes(run, c),
        Expect::ConnectRate(c) => connect_rate(run, c),
        Expect::Stat(c) => stat(run, c),
    };
    let (ok, detail) = match r {
        Ok(detail) => (true, detail),
        Err(detail) => (false, detail),
    };
    CheckResult {
        what: e.title(),
        ok,
        detail,
    }
}

/// The sockets matching `pattern`; an error when there are none.
fn sockets(run: &impl Outcome, pattern: &str) -> Result<Vec<String>, String> {
    let socks = matching_sockets(run, pattern);
    if socks.is_empty() {
        Err(format!("no socket matches {pattern:?}"))
    } else {
        Ok(socks)
    }
}

fn received(run: &impl Outcome, c: &ReceivedCheck) -> Result<String, String> {
    let b = c.bounds();
    let socks = sockets(run, &c.socket)?;
    // The messages considered, by body.
    let considered: Option<BTreeSet<Bytes>> = if c.sent_by.is_some() || c.body.is_some() {
        Some(
            run.sent()
                .iter()
                .filter(|s| s.accepted)
                .filter(|s| {
                    c.sent_by
                        .as_ref()
                        .is_none_or(|p| socket_matches(p, &s.socket))
                })
                .filter(|s| {
                    c.sent_between.is_none_or(|[a, b]| {
                        s.at >= Instant::ZERO + ms(a) && s.at < Instant::ZERO + ms(b)
                    })
                })
                .filter(|s| c.body.as_ref().is_none_or(|p| body_matches(p, &s.body)))
                .map(|s| s.body.clone())
                .collect(),
        )
    } else {
        None
    };
    let mut details = Vec::new();
    let mut errs = Vec::new();
    let mut total = 0;
    for name in &socks {
        let Some(log) = run.log(name) else { continue };
        let got: Vec<&Bytes> = log
            .received
            .iter()
            .filter(|r| c.by_ms.is_none_or(|t| r.at <= Instant::ZERO + ms(t)))
            .filter(|r| c.after_ms.is_none_or(|t| r.at >= Instant::ZERO + ms(t)))
            .filter(|r| {
                c.from_host
                    .as_ref()
                    .is_none_or(|p| r.from_host.as_ref().is_some_and(|h| host_matches(p, h)))
            })
            .map(|r| &r.body)
            .filter(|b| considered.as_ref().is_none_or(|set| set.contains(*b)))
            .collect();
        let n = got.len() as u64;
        if let Some(considered) = &considered {
            let got_set: BTreeSet<&Bytes> = got.iter().copied().collect();
            if c.all {
                let missing: Vec<String> = considered
                    .iter()
                    .filter(|b| !got_set.contains(b))
                    .map(|b| body_text(b))
                    .collect();
                if !missing.is_empty() {
                    errs.push(format!(
                        "{name} missed {} of {}: {}",
                        missing.len(),
                        considered.len(),
                        abbreviate(&missing)
                    ));
                }
            }
            if c.none && !got.is_empty() {
                let v: Vec<String> = got.iter().map(|b| body_text(b)).collect();
                errs.push(format!("{name} received {}", abbreviate(&v)));
            }
        }
        total += n;
        if !c.total {
            if let Err(m) = b.check(n) {
                errs.push(format!("{name}: {m}"));
            }
        }
        details.push(format!("{name}={n}"));
    }
    if c.total {
        if let Err(m) = b.check(total) {
            errs.push(format!("{} in total: {m}", c.socket));
        }
    }
    if considered.as_ref().is_some_and(BTreeSet::is_empty) && c.all {
        errs.push("no sent message matches the filter".into());
    }
    if errs.is_empty() {
        Ok(abbreviate(&details))
    } else {
        Err(errs.join("; "))
    }
}

fn exactly_once(run: &impl Outcome, c: &ExactlyOnceCheck) -> Result<String, String> {
    let socks = sockets(run, &c.receivers)?;
    let sent: Vec<&Bytes> = run
        .sent()
        .iter()
        .filter(|s| s.accepted && socket_matches(&c.sender, &s.socket))
        .map(|s| &s.body)
        .collect();
    let mut times: BTreeMap<&Bytes, u64> = sent.iter().map(|b| (*b, 0)).collect();
    for name in &socks {
        if let Some(log) = run.log(name) {
            for r in &log.received {
                if let Some(n) = times.get_mut(&r.body) {
                    *n += 1;
                }
            }
        }
    }
    let lost: Vec<String> = times
        .iter()
        .filter(|(_, &n)| n == 0)
        .map(|(b, _)| body_text(b))
        .collect();
    let dup: Vec<String> = times
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(b, n)| format!("{}x{n}", body_text(b)))
        .collect();
    if sent.is_empty() {
        Err(format!("{} sent nothing", c.sender))
    } else if lost.is_empty() && dup.is_empty() {
        Ok(format!("{} messages", sent.len()))
    } else {
        Err(format!(
            "{} sent, lost {}: {}; duplicated {}: {}",
            sent.len(),
            lost.len(),
            abbreviate(&lost),
            dup.len(),
            abbreviate(&dup)
        ))
    }
}

fn survey(run: &impl Outcome, c: &SurveyCheck) -> Result<String, String> {
    let Some(log) = run.log(&c.socket) else {
        return Err(format!("no socket matches {:?}", c.socket));
    };
    let Some(r) = log.surveys.get(c.round) else {
        return Err(format!("only {} surveys were sent", log.surveys.len()));
    };
    let got: BTreeSet<String> = r
        .responses
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    let want: BTreeSet<String> = c.responses.iter().cloned().collect();
    if got == want && got.len() == r.responses.len() {
        Ok(format!("{} responses", got.len()))
    } else {
        Err(format!("got {got:?}, want {want:?}"))
    }
}

fn drops(run: &impl Outcome, c: &DropsCheck) -> Result<String, String> {
    let socks = sockets(run, &c.socket)?;
    let reason = if c.reason == "any" {
        None
    } else {
        match DropReason::ALL.into_iter().find(|r| r.name() == c.reason) {
            Some(r) => Some(r),
            None => return Err(format!("unknown drop reason {:?}", c.reason)),
        }
    };
    let n: u64 = socks
        .iter()
        .filter_map(|s| run.log(s))
        .map(|l| match reason {
            Some(r) => l.drops.get(&r).copied().unwrap_or(0),
            None => l.drops.values().sum(),
        })
        .sum();
    c.bounds().check(n).map(|()| n.to_string())
}

fn net_drops(run: &impl Outcome, c: &NetDropsCheck) -> Result<String, String> {
    let n: u64 = run
        .net_drops()
        .iter()
        .filter(|(k, _)| c.reason == "any" || *k == c.reason)
        .map(|(_, v)| *v)
        .sum();
    c.bounds().check(n).map(|()| n.to_string())
}

fn pipes(run: &impl Outcome, c: &PipesCheck) -> Result<String, String> {
    let socks = sockets(run, &c.socket)?;
    let b = c.bounds();
    let mut errs = Vec::new();
    let mut seen = BTreeMap::<usize, usize>::new();
    for s in &socks {
        let n = run.pipe_count(s);
        *seen.entry(n).or_default() += 1;
        if let Err(m) = b.check(n as u64) {
            errs.push(format!("{s}: {m}"));
        }
    }
    if errs.is_empty() {
        Ok(seen
            .iter()
            .map(|(n, k)| format!("{k} socket(s) with {n}"))
            .collect::<Vec<_>>()
            .join(", "))
    } else {
        Err(abbreviate(&errs))
    }
}

fn connect_rate(run: &impl Outcome, c: &ConnectRateCheck) -> Result<String, String> {
    let socks = sockets(run, &c.socket)?;
    let from = Instant::ZERO + ms(c.after_ms);
    let mut times: Vec<Instant> = socks
        .iter()
        .filter_map(|s| run.log(s))
        .flat_map(|l| l.connects.iter().copied())
        .filter(|t| *t >= from)
        .filter(|t| c.before_ms.is_none_or(|b| *t < Instant::ZERO + ms(b)))
        .collect();
    times.sort();
    let window_ms = c.window_ms;
    let (peak, at) = peak_in_window(&times, ms(window_ms));
    let total = times.len() as u64;
    c.bounds().check(total)?;
    if peak > c.max_per_window {
        return Err(format!(
            "{peak} connections within {window_ms}ms from {} (max {})",
            time_text(at),
            c.max_per_window
        ));
    }
    Ok(format!(
        "{total} connections, peak {peak} per {window_ms}ms"
    ))
}

/// The counters a `stat` check can name.
pub(crate) const STAT_FIELDS: [&str; 7] = [
    "resends",
    "delivered",
    "msgs_in",
    "msgs_out",
    "refused",
    "send_failed",
    "connects",
];

fn stat(run: &impl Outcome, c: &StatCheck) -> Result<String, String> {
    let socks = sockets(run, &c.socket)?;
    let mut n = 0u64;
    for s in &socks {
        let st = run.stats(s);
        let log = run.log(s);
        n += match c.field.as_str() {
            "resends" => st.map_or(0, |x| x.resends) + log.map_or(0, |l| l.resends_before),
            "delivered" => st.map_or(0, |x| x.delivered),
            "msgs_in" => st.map_or(0, |x| x.msgs_in),
            "msgs_out" => st.map_or(0, |x| x.msgs_out),
            "refused" => log.map_or(0, |l| l.refused),
            "send_failed" => run
                .sent()
                .iter()
                .filter(|m| m.socket == *s && !m.accepted)
                .count() as u64,
            "connects" => log.map_or(0, |l| l.connects.len() as u64),
            other => return Err(format!("unknown counter {other:?}")),
        };
    }
    c.bounds().check(n).map(|()| n.to_string())
}

/// The largest number of instants within any window of length `w`, and where it starts.
fn peak_in_window(sorted: &[Instant], w: std::time::Duration) -> (u64, Instant) {
    let mut best = (0u64, Instant::ZERO);
    let mut lo = 0;
    for hi in 0..sorted.len() {
        while sorted[hi] - sorted[lo] >= w && lo < hi {
            lo += 1;
        }
        let n = (hi - lo + 1) as u64;
        if n > best.0 {
            best = (n, sorted[lo]);
        }
    }
    best
}

fn abbreviate(v: &[String]) -> String {
    if v.len() <= 8 {
        v.join(", ")
    } else {
        format!("{}, ... ({} more)", v[..8].join(", "), v.len() - 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Bounds, Scenario};

    #[test]
    fn patterns_and_windows() {
        assert!(socket_matches("ny.pull", "ny.pull"));
        assert!(socket_matches("*.pull", "ldn.pull"));
        assert!(socket_matches("sub-*.s", "sub-0001.s"));
        assert!(!socket_matches("sub-*.s", "pub.s"));
        assert!(socket_matches("ny.*", "ny.req"));
        assert!(socket_matches("a.x|b.x", "b.x"));
        assert!(!socket_matches("a.x|b.x", "c.x"));
        assert!(body_matches("m*", b"m12"));
        let t = |m| Instant::from_millis(m);
        let (p, at) = peak_in_window(&[t(0), t(1), t(5), t(6), t(7), t(20)], ms(5.0));
        assert_eq!((p, at), (3, t(5)));
        assert!(Bounds::default().check(5).is_ok());
        assert!(Bounds {
            count: Some(1),
            ..Bounds::default()
        }
        .check(2)
        .is_err());
    }

    #[test]
    fn bad_files_are_typed_errors() {
        assert!(Scenario::from_toml("host = 3").is_err());
        let sc = Scenario::from_toml(
            "[[host]]\nname = \"a\"\n[[host.socket]]\nname = \"s\"\ntype = \"nope\"\n",
        )
        .unwrap();
        let e = sc.run(7).unwrap_err();
        assert!(e.to_string().contains("seed 7"), "{e}");
        assert!(Scenario::from_toml("[[step]]\nat_ms = 1\ndo = \"fly\"\n").is_err());
    }
}
