//! Shrinking a failing plan: greedy, bounded delta debugging. It tries, largest cuts
//! first, to remove a whole protocol group, one host (with the steps and dial endpoints
//! that name it), a chunk of steps (halves, quarters, ...), one step, or to cut a
//! repeated send down to one; it keeps every cut
//! after which the plan still fails, and stops when no cut helps or the run budget is
//! spent. The liveness phase and its expectations are derived again from what is left.

use super::Plan;
use crate::scenario::Action;

/// A shrunk plan and what shrinking cost.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The smallest failing plan found.
    pub plan: Plan,
    /// Runs spent.
    pub runs: usize,
}

/// The host a step names (socket owner, crashed host, partition or link side), if any.
fn names_host(action: &Action, host: &str) -> bool {
    let sock = |s: &str| s.split_once('.').map(|x| x.0) == Some(host);
    match action {
        Action::Send(s) | Action::Request(s) | Action::Survey(s) => sock(&s.socket),
        Action::Subscribe { socket, .. }
        | Action::Unsubscribe { socket, .. }
        | Action::Recv { socket, .. }
        | Action::RestartListener { socket, .. }
        | Action::Hostile { socket, .. }
        | Action::CloseDialer { socket, .. }
        | Action::Close { socket } => sock(socket),
        Action::Partition { a, b, .. } | Action::Repair { a, b, .. } | Action::Reset { a, b } => {
            a == host || b == host
        }
        Action::Link(o) => o.a == host || o.b == host,
        Action::Crash { host: h, .. } | Action::Restart { host: h } => h == host,
        Action::Wait {} => false,
    }
}

/// `plan` without host `i`: its steps and every dial endpoint to it go too.
fn without_host(plan: &Plan, i: usize) -> Plan {
    let mut p = plan.clone();
    let h = p.hosts.remove(i);
    p.roles.remove(i);
    let prefix = format!("{}:", h.name);
    for o in &mut p.hosts {
        for s in &mut o.sockets {
            s.dial.retain(|e| !e.addr.starts_with(&prefix));
        }
    }
    p.steps.retain(|s| !names_host(&s.action, &h.name));
    p
}

/// The candidate cuts of `plan`, largest first.
fn candidates(plan: &Plan) -> Vec<Plan> {
    let mut v = Vec::new();
    let groups: std::collections::BTreeSet<usize> = plan.roles.iter().map(|r| r.group).collect();
    if groups.len() > 1 {
        for g in groups {
            let mut p = plan.clone();
            while let Some(i) = p.roles.iter().position(|r| r.group == g) {
                p = without_host(&p, i);
            }
            v.push(p);
        }
    }
    for i in 0..plan.hosts.len() {
        v.push(without_host(plan, i));
    }
    // Steps in chunks first (halves, quarters, ...), as delta debugging does, then one
    // by one.
    let n = plan.steps.len();
    let mut size = n / 2;
    while size > 1 {
        for start in (0..n).step_by(size) {
            let mut p = plan.clone();
            p.steps.drain(start..(start + size).min(n));
            v.push(p);
        }
        size /= 2;
    }
    for k in 0..plan.steps.len() {
        let mut p = plan.clone();
        p.steps.remove(k);
        v.push(p);
    }
    for k in 0..plan.steps.len() {
        if let Action::Send(s) | Action::Request(s) | Action::Survey(s) = &plan.steps[k].action {
            if s.count.unwrap_or(1) > 1 {
                let mut p = plan.clone();
                if let Action::Send(s) | Action::Request(s) | Action::Survey(s) =
                    &mut p.steps[k].action
                {
                    s.count = Some(1);
                }
                v.push(p);
            }
        }
    }
    v
}

/// Shrinks `plan`, which `fails`, spending at most `budget` runs of `fails`.
pub fn shrink(plan: &Plan, budget: usize, mut fails: impl FnMut(&Plan) -> bool) -> Shrunk {
    let mut best = plan.clone();
    let mut runs = 0;
    'outer: loop {
        for c in candidates(&best) {
            if runs >= budget {
                break 'outer;
            }
            runs += 1;
            if fails(&c) {
                best = c;
                continue 'outer;
            }
        }
        break;
    }
    Shrunk { plan: best, runs }
}
