//! Network emulation: link settings, delays and random rolls per direction, partitions,
//! and moving frames onto a connection (capacity, rate, loss, duplication, reordering).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use sp_proto::rng::Rng;

use super::{ConnId, Ev, Sim};
use crate::def::{host_matches, ms, LinkDef, LinkOverride, LinksDef};
use crate::trace::What;
use crate::SimError;

/// The network's own state: the link settings (default and per pair) and their
/// resolution per direction, each direction's random stream, the directions a partition
/// blocks, and the frames dropped, by reason.
#[derive(Default)]
pub(super) struct Net {
    links: LinksDef,
    pub(super) cache: BTreeMap<(usize, usize), LinkDef>,
    pub(super) rngs: BTreeMap<(usize, usize), Rng>,
    pub(super) blocked: BTreeSet<(usize, usize)>,
    pub(super) drops: BTreeMap<&'static str, u64>,
}

impl Net {
    /// New link settings, for frames sent from now on.
    pub(super) fn set_links(&mut self, links: LinksDef) {
        self.links = links;
        self.cache.clear();
    }
}

/// Every reason the network drops a frame for, as `net_drops` checks name them.
pub(crate) const NET_DROP_REASONS: [&str; 7] = [
    "loss",
    "partition",
    "reset",
    "conn_closed",
    "host_down",
    "bad_frame",
    "oversize",
];

impl Sim {
    /// Cuts the network between hosts matching `a` and hosts matching `b` (exact names,
    /// `*`, or prefixes ending in `*`), both ways or (`oneway`) only `a -> b`. A black
    /// hole: nothing is reset, connections stay open, and whatever crosses a cut
    /// direction (frames, SYNs, FINs) is held as TCP would keep retransmitting it, then
    /// delivered in order after the [`repair`](Self::repair). Only a timer (a REQ resend,
    /// a keepalive) or the peer's own traffic after the repair ends such a connection.
    pub fn partition(&mut self, a: &str, b: &str, oneway: bool) {
        for (x, y) in self.pairs(a, b) {
            self.net.blocked.insert((x, y));
            if !oneway {
                self.net.blocked.insert((y, x));
            }
        }
        self.note_net(What::Partition {
            a: a.to_owned(),
            b: b.to_owned(),
            oneway,
        });
        self.settle();
    }

    /// Undoes [`partition`](Self::partition) for the same patterns: what was held is
    /// delivered at each sender's next retransmission.
    pub fn repair(&mut self, a: &str, b: &str, oneway: bool) {
        for (x, y) in self.pairs(a, b) {
            self.net.blocked.remove(&(x, y));
            if !oneway {
                self.net.blocked.remove(&(y, x));
            }
        }
        self.note_net(What::Repair {
            a: a.to_owned(),
            b: b.to_owned(),
            oneway,
        });
        self.plan_releases();
        self.settle();
    }

    /// Resets every connection between hosts matching `a` and hosts matching `b`: both
    /// ends see it go at once (reason `reset`). The network stays up, so dialers
    /// reconnect after their backoff.
    pub fn reset(&mut self, a: &str, b: &str) {
        let pairs: std::collections::BTreeSet<(usize, usize)> =
            self.pairs(a, b).into_iter().collect();
        let cut: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                let hs: Vec<usize> = c.ends.iter().flatten().map(|e| e.host).collect();
                hs.len() == 2
                    && (pairs.contains(&(hs[0], hs[1])) || pairs.contains(&(hs[1], hs[0])))
            })
            .map(|(&id, _)| id)
            .collect();
        self.note_net(What::Reset {
            a: a.to_owned(),
            b: b.to_owned(),
        });
        for c in cut {
            self.gone.insert(c, "reset");
            self.close_end(c, 0, "reset");
            self.close_end(c, 1, "reset");
        }
        self.settle();
    }

    /// Adds a link override (see [`LinksDef`]) for frames sent from now on: a latency
    /// spike, a clogged link (a long latency holds frames without dropping them; the
    /// connection keeps their order) or new fault rates.
    pub fn add_link(&mut self, link: LinkOverride) -> Result<(), SimError> {
        link.apply(&self.net.links.default).validate()?;
        self.note_net(What::Link {
            a: link.a.clone(),
            b: link.b.clone(),
            oneway: link.oneway,
        });
        self.net.links.pairs.push(link);
        self.net.cache.clear();
        self.settle();
        Ok(())
    }

    pub(super) fn pairs(&self, a: &str, b: &str) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for (xn, &x) in &self.host_ix {
            for (yn, &y) in &self.host_ix {
                if x != y && host_matches(a, xn) && host_matches(b, yn) {
                    v.push((x, y));
                }
            }
        }
        v
    }

    pub(super) fn net_drop(&mut self, h: usize, reason: &'static str) {
        debug_assert!(NET_DROP_REASONS.contains(&reason), "{reason} not listed");
        *self.net.drops.entry(reason).or_default() += 1;
        self.note(
            h,
            None,
            What::Drop {
                reason: reason.to_owned(),
                count: 1,
            },
        );
    }

    pub(super) fn link(&mut self, from: usize, to: usize) -> LinkDef {
        if let Some(l) = self.net.cache.get(&(from, to)) {
            return l.clone();
        }
        let l = self
            .net
            .links
            .resolve(&self.hosts[from].def.name, &self.hosts[to].def.name);
        self.net.cache.insert((from, to), l.clone());
        l
    }

    pub(super) fn link_rng(&mut self, from: usize, to: usize) -> &mut Rng {
        if !self.net.rngs.contains_key(&(from, to)) {
            let r = self.rng.fork();
            self.net.rngs.insert((from, to), r);
        }
        self.net.rngs.get_mut(&(from, to)).expect("inserted above")
    }

    /// One-way delay for a frame from `from` to `to`: latency plus a jitter sample.
    pub(super) fn delay(&mut self, from: usize, to: usize) -> Duration {
        let l = self.link(from, to);
        let jitter_us = (l.jitter_ms * 1000.0).round() as u64;
        let j = if jitter_us > 0 {
            self.link_rng(from, to).below(jitter_us + 1)
        } else {
            0
        };
        ms(l.latency_ms) + Duration::from_micros(j)
    }

    pub(super) fn roll(&mut self, from: usize, to: usize, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let r = self.link_rng(from, to).below(1 << 53) as f64 / (1u64 << 53) as f64;
        r < p
    }

    pub(super) fn is_blocked(&self, from: usize, to: usize) -> bool {
        self.net.blocked.contains(&(from, to))
    }

    /// Gives the writer of direction `dir` its writability back if the link has room.
    pub(super) fn try_credit(&mut self, c: ConnId, dir: usize) {
        let Some(conn) = self.conns.get(&c) else {
            return;
        };
        let Some(me) = conn.ends[dir] else {
            return;
        };
        let Some(peer) = conn.ends[1 - dir] else {
            return;
        };
        let (owed, busy_until, inflight) = (
            conn.dirs[dir].owed,
            conn.dirs[dir].busy_until,
            conn.dirs[dir].inflight,
        );
        if !owed || busy_until > self.now || !self.end_alive(&me) {
            return;
        }
        let queue = self.hosts[me.host].sockets[me.sock].def.options.send_queue;
        let cap = self
            .link(me.host, peer.host)
            .capacity_frames
            .min(queue.unwrap_or(usize::MAX));
        if inflight >= cap {
            return;
        }
        let Some(pipe) = me.pipe else {
            return;
        };
        if let Some(cn) = self.conns.get_mut(&c) {
            cn.dirs[dir].owed = false;
        }
        // The socket's drain feeds it to `handle_writable` once its transmits are out.
        self.hosts[me.host].sockets[me.sock].drain.credit(pipe);
        self.dirty.insert((me.host, me.sock));
    }

    /// A protocol wrote `payload` on the pipe of end `from` of `c`.
    pub(super) fn transmit(&mut self, c: ConnId, from: usize, framed: Bytes) {
        let Some(conn) = self.conns.get(&c) else {
            return;
        };
        let (Some(me), Some(peer)) = (conn.ends[from], conn.ends[1 - from]) else {
            return;
        };
        let (fh, th) = (me.host, peer.host);
        let link = self.link(fh, th);
        if let Some(cn) = self.conns.get_mut(&c) {
            cn.dirs[from].owed = true;
        }
        let now = self.now;
        // A frame into a black hole is not lost: it is held on arrival (`blackhole.rs`).
        if !self.is_blocked(fh, th) && self.roll(fh, th, link.loss) {
            self.net_drop(fh, "loss");
            self.try_credit(c, from);
            return;
        }
        let ser = (framed.len() as u64)
            .saturating_mul(1_000_000_000)
            .checked_div(link.rate_bytes_per_s)
            .map_or(Duration::ZERO, Duration::from_nanos);
        let delay = self.delay(fh, th);
        let reorder = self.roll(fh, th, link.reorder);
        let dup = self.roll(fh, th, link.duplicate);
        let dup_delay = if dup { Some(self.delay(fh, th)) } else { None };
        let cn = self.conns.get_mut(&c).expect("checked above");
        let dir = &mut cn.dirs[from];
        let depart = dir.busy_until.max(now) + ser;
        dir.busy_until = depart;
        let mut arrival = depart + delay;
        if !reorder {
            arrival = arrival.max(dir.last_arrival);
        }
        dir.last_arrival = dir.last_arrival.max(arrival);
        dir.inflight += 1;
        let to = 1 - from;
        if let Some(d2) = dup_delay {
            self.schedule(
                depart + d2.max(delay),
                Ev::Frame {
                    c,
                    to,
                    bytes: framed.clone(),
                    counted: false,
                },
            );
        }
        self.schedule(
            arrival,
            Ev::Frame {
                c,
                to,
                bytes: framed,
                counted: true,
            },
        );
        if depart > now {
            self.schedule(depart, Ev::Depart { c, dir: from });
        } else {
            self.try_credit(c, from);
        }
    }
}
