//! Black-hole partitions: what crosses a cut direction is held, not lost, and the
//! connections stay open. A real TCP stack keeps retransmitting into a silent partition;
//! after the repair its next retransmission gets through and the stream resumes where it
//! stopped. Here every event that crosses the network on a connection (SYN, refusal, SP
//! header, frame, FIN) is parked on its direction while that direction is cut, and
//! released in order at the first retransmission time after the repair.

use std::time::Duration;

use sp_proto::Instant;

use super::{Conn, ConnId, Ev, Sim};

/// Linux's first retransmission timeout for data (`TCP_RTO_MIN`).
const FIRST_RTO_DATA: Duration = Duration::from_millis(200);
/// Linux's first retransmission timeout for a SYN (`TCP_TIMEOUT_INIT`).
const FIRST_RTO_SYN: Duration = Duration::from_secs(1);
/// Linux's cap on the retransmission timeout (`TCP_RTO_MAX`).
const RTO_MAX: Duration = Duration::from_secs(120);

impl Ev {
    /// The connection and direction (the sending end's index) an event crosses the
    /// network on, if it does.
    fn crossing(&self) -> Option<(ConnId, usize)> {
        match *self {
            Self::Syn { c } => Some((c, 0)),
            Self::Refused { c, .. } => Some((c, 1)),
            Self::Header { c, to } | Self::Frame { c, to, .. } | Self::Fin { c, to } => {
                Some((c, 1 - to))
            }
            _ => None,
        }
    }
}

/// The hosts at the sending and receiving side of direction `d` of `conn` (the listening
/// host stands for end 1 before it exists).
fn dir_hosts(conn: &Conn, d: usize) -> (usize, usize) {
    let host = |i: usize| conn.ends[i].map_or(conn.target, |e| e.host);
    (host(d), host(1 - d))
}

/// When a sender that began retransmitting at `since` (first timeout `first_rto`,
/// doubling up to [`RTO_MAX`]) next retransmits at or after `now`.
fn next_retransmission(since: Instant, now: Instant, first_rto: Duration) -> Instant {
    let mut rto = first_rto;
    let mut at = since + rto;
    while at < now {
        rto = (rto * 2).min(RTO_MAX);
        at += rto;
    }
    at
}

impl Sim {
    /// Holds `ev` if it crosses a cut direction, or one that still holds earlier events
    /// (the stream keeps its order). Returns the event when it may be handled now.
    pub(super) fn park(&mut self, ev: Ev) -> Option<Ev> {
        let Some((c, d)) = ev.crossing() else {
            return Some(ev);
        };
        let Some(conn) = self.conns.get(&c) else {
            return Some(ev);
        };
        let (from, to) = dir_hosts(conn, d);
        let blocked = self.is_blocked(from, to);
        let back_open = !self.is_blocked(to, from);
        let now = self.now;
        let conn = self.conns.get_mut(&c).expect("checked above");
        let dir = &mut conn.dirs[d];
        if !blocked && dir.parked.is_empty() {
            self.heard(c, d, back_open);
            return Some(ev);
        }
        if dir.aborted {
            // The sender reset the connection: its frames still on the way are lost in
            // the black hole, and nobody retransmits them.
            if let Ev::Frame { counted: true, .. } = ev {
                dir.inflight = dir.inflight.saturating_sub(1);
                self.net_drop(from, "partition");
                return None;
            }
        }
        let first = dir.parked.is_empty();
        if first {
            dir.parked_since = now;
        }
        dir.parked.push_back(ev);
        if first {
            self.start_user_timeout(c, d);
        }
        None
    }

    /// After a repair: plans the release of every held direction that is open again, at
    /// its sender's next retransmission plus one link delay.
    pub(super) fn plan_releases(&mut self) {
        let mut plans = Vec::new();
        for (&c, conn) in &self.conns {
            for d in 0..2 {
                let dir = &conn.dirs[d];
                let Some(first) = dir.parked.front() else {
                    continue;
                };
                let (from, to) = dir_hosts(conn, d);
                if self.is_blocked(from, to) {
                    continue;
                }
                let rto = if matches!(first, Ev::Syn { .. }) {
                    FIRST_RTO_SYN
                } else {
                    FIRST_RTO_DATA
                };
                plans.push((c, d, from, to, dir.parked_since, rto));
            }
        }
        for (c, d, from, to, since, rto) in plans {
            let at = next_retransmission(since, self.now, rto) + self.delay(from, to);
            self.schedule(at, Ev::Release { c, dir: d });
        }
    }

    /// Delivers the first event direction `d` of `c` held, unless it is cut again, and
    /// the next one at the same instant (one input per event: the sockets drain between).
    pub(super) fn on_release(&mut self, c: ConnId, d: usize) {
        let Some(conn) = self.conns.get_mut(&c) else {
            return;
        };
        let (from, to) = dir_hosts(conn, d);
        if self.net.blocked.contains(&(from, to)) {
            return;
        }
        let Some(ev) = conn.dirs[d].parked.pop_front() else {
            return;
        };
        if !conn.dirs[d].parked.is_empty() {
            self.schedule(self.now, Ev::Release { c, dir: d });
        }
        self.heard(c, d, !self.is_blocked(to, from));
        self.dispatch(ev);
    }

    /// Counts the frames a removed connection still held as lost to the partition (TCP
    /// drops its unacknowledged data with the connection).
    pub(super) fn discard_parked(&mut self, conn: &Conn) {
        for d in 0..2 {
            let (from, _) = dir_hosts(conn, d);
            for ev in &conn.dirs[d].parked {
                if matches!(ev, Ev::Frame { counted: true, .. }) {
                    self.net_drop(from, "partition");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransmissions_back_off_from_the_first_timeout() {
        let t = |ms: u64| Instant::ZERO + Duration::from_millis(ms);
        // Sent at 0: retransmitted at 200, 600, 1400, 3000 ms ...
        assert_eq!(next_retransmission(t(0), t(0), FIRST_RTO_DATA), t(200));
        assert_eq!(next_retransmission(t(0), t(700), FIRST_RTO_DATA), t(1400));
        assert_eq!(next_retransmission(t(0), t(1400), FIRST_RTO_DATA), t(1400));
        // A SYN: 1, 3, 7, 15 s.
        assert_eq!(next_retransmission(t(0), t(8000), FIRST_RTO_SYN), t(15000));
        // The timeout stops doubling at two minutes.
        let late = next_retransmission(t(0), t(1_000_000), FIRST_RTO_DATA);
        let before = next_retransmission(t(0), t(999_000), FIRST_RTO_DATA);
        assert!(late - before <= RTO_MAX);
    }
}
