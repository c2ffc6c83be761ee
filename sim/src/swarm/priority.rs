//! The priority oracle: a PUSH never passes over a higher-priority pipe that can take
//! the message (`sp-model`'s `PUSH_PRIORITY`), judged where the trace shows it. A message
//! is judged when, at the moment the application sent it, the PUSH had a pipe to a PULL
//! that receives at once (so the pipe never fills: the swarm sends far fewer messages
//! than a link holds); the message must then arrive at a PULL whose pipe has that
//! priority or a higher one. Peers are named by socket only on layer 1; on layer 2 the
//! trace names them by address and nothing is judged.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use sp_proto::Priority;

use crate::def::{RecvMode, SocketDef};

/// What the priority oracle keeps.
#[derive(Debug, Default)]
pub(super) struct Priorities {
    /// The send priority of the pipe from a PUSH to a PULL.
    priority: BTreeMap<(String, String), Priority>,
    /// PULLs whose application receives at once.
    eager: BTreeSet<String>,
    /// Pipes attached, as the PUSH sees them: (push, pull).
    connected: BTreeSet<(String, String)>,
    /// For each message sent while an eager PULL was attached: the best priority then,
    /// and the PULL it had.
    best: BTreeMap<Bytes, (Priority, String)>,
}

/// The send priority `e` gives its pipes.
fn send_priority(e: &crate::def::EndpointDef) -> Priority {
    e.pipe_info().map_or(Priority::DEFAULT, |i| i.send_priority)
}

impl Priorities {
    /// The priorities of every PUSH-to-PULL pipe the definitions can make. A PUSH with a
    /// `send_queue` is not judged: its best pipe may be full (the swarm's send queues
    /// are 1 to 8 messages), and then a lower priority is the rule.
    pub(super) fn new(defs: &BTreeMap<String, SocketDef>) -> Self {
        let mut p = Self::default();
        let judged = |d: &SocketDef| d.kind == "push" && d.options.send_queue.is_none();
        for (s, d) in defs.iter().filter(|(_, d)| judged(d)) {
            for (l, o) in defs.iter().filter(|(_, o)| o.kind == "pull") {
                let dialed = d
                    .dial
                    .iter()
                    .find(|e| o.listen.iter().any(|x| x.addr == e.addr));
                let listened = d
                    .listen
                    .iter()
                    .find(|e| o.dial.iter().any(|x| x.addr == e.addr));
                if let Some(e) = dialed.or(listened) {
                    p.priority.insert((s.clone(), l.clone()), send_priority(e));
                }
                if o.recv == RecvMode::Auto {
                    p.eager.insert(l.clone());
                }
            }
        }
        p
    }

    /// PUSH `s` attached (`on`) or lost its pipe to `peer`.
    pub(super) fn pipe(&mut self, s: &str, peer: &str, on: bool) {
        let key = (s.to_owned(), peer.to_owned());
        if !self.priority.contains_key(&key) {
            return;
        }
        if on {
            self.connected.insert(key);
        } else {
            self.connected.remove(&key);
        }
    }

    /// Host `host` crashed or restarted: its PUSHes have no pipes.
    pub(super) fn host_reset(&mut self, host: &str) {
        self.connected
            .retain(|(s, _)| s.split_once('.').map(|x| x.0) != Some(host));
    }

    /// PUSH `s` sent `body`.
    pub(super) fn sent(&mut self, s: &str, body: &Bytes) {
        let best = self
            .connected
            .iter()
            .filter(|(p, l)| p == s && self.eager.contains(l))
            .filter_map(|k| self.priority.get(k).map(|p| (*p, k.1.clone())))
            .min();
        if let Some(b) = best {
            self.best.insert(body.clone(), b);
        }
    }

    /// PULL `l` received `body` from PUSH `from`: the violation, if any.
    pub(super) fn received(&self, l: &str, from: &str, body: &Bytes) -> Option<String> {
        let (best, at) = self.best.get(body)?;
        let got = self.priority.get(&(from.to_owned(), l.to_owned()))?;
        (got > best).then(|| {
            format!(
                "priority inversion: sent on a priority-{} pipe while the priority-{} pipe \
                 to {at} was attached",
                got.get(),
                best.get()
            )
        })
    }
}
