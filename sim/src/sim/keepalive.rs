//! Dead-peer detection on emulated connections, as Linux does it: TCP keepalive and
//! `TCP_USER_TIMEOUT` (the endpoint options `keepalive_*` and `tcp_user_timeout_ms`).
//!
//! - **Keepalive.** An end that has received nothing for `idle` while none of its own
//!   data is outstanding sends a probe, then one every `interval`. The peer's host answers
//!   while the path is open both ways and it is up (a restarted host, which no longer
//!   knows the connection, answers with a reset); any answer or any segment from the peer
//!   restarts the wait. After `count` unanswered probes the end resets the connection, so
//!   a silent peer is noticed `idle + interval * count` after the last thing heard from
//!   it. Like Linux, no probe is sent while the end's sent data is unacknowledged (here:
//!   held by a black hole or in flight): that case is the user timeout's.
//! - **User timeout.** An end whose sent data stays unacknowledged (held by a black hole)
//!   for the timeout resets the connection.
//!
//! A reset end drops what it still held and tells its peer with a FIN-like event that a
//! black hole holds as well (a real RST is not retransmitted; its peer learns of the reset
//! when it next sends after the repair, which comes to about the same time). Not
//! modelled: TCP giving up after its retransmissions without a user timeout (about 15
//! minutes on Linux), far beyond any scenario.

use sp_proto::Instant;

use super::{ConnId, EpRef, Ev, Sim};
use crate::def::TcpTimers;

/// What one end knows about its peer's liveness.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Liveness {
    /// When a segment (data, header, FIN or an acknowledgement) last came from the peer.
    heard: Instant,
    /// Unanswered keepalive probes since then.
    probes: u32,
}

impl Sim {
    /// The TCP timers of the endpoint that made end `e` of `c` (none once it is gone).
    fn timers(&self, c: ConnId, e: usize) -> TcpTimers {
        let Some(end) = self.conns.get(&c).and_then(|cn| cn.ends[e]) else {
            return TcpTimers::default();
        };
        if !self.end_alive(&end) {
            return TcpTimers::default();
        }
        let def = &self.hosts[end.host].sockets[end.sock].def;
        let ep = match end.ep {
            EpRef::Listen(i) => def.listen.get(i),
            EpRef::Dial(i) => def.dial.get(i),
        };
        ep.map(|d| d.tcp_timers()).unwrap_or_default()
    }

    /// A segment crossed direction `d` of `c` and arrived: the receiving end heard from
    /// its peer, and so did the sender, by the acknowledgement, if it can come back.
    pub(super) fn heard(&mut self, c: ConnId, d: usize, back_open: bool) {
        let now = self.now;
        if let Some(conn) = self.conns.get_mut(&c) {
            conn.live[1 - d] = Liveness {
                heard: now,
                probes: 0,
            };
            if back_open {
                conn.live[d] = Liveness {
                    heard: now,
                    probes: 0,
                };
            }
        }
    }

    /// End `e` of `c` became a pipe: its keepalive starts.
    pub(super) fn start_keepalive(&mut self, c: ConnId, e: usize) {
        if let Some((idle, _, _)) = self.timers(c, e).keepalive {
            self.schedule(self.now + idle, Ev::Liveness { c, end: e });
        }
    }

    /// Direction `e` of `c` began holding data: its user timeout starts.
    pub(super) fn start_user_timeout(&mut self, c: ConnId, e: usize) {
        if let Some(t) = self.timers(c, e).user_timeout {
            self.schedule(self.now + t, Ev::Liveness { c, end: e });
        }
    }

    /// End `e` of `c` checks its peer: user timeout, then keepalive.
    pub(super) fn on_liveness(&mut self, c: ConnId, e: usize) {
        let timers = self.timers(c, e);
        let Some(conn) = self.conns.get(&c) else {
            return;
        };
        let (Some(me), Some(peer)) = (conn.ends[e], conn.ends[1 - e]) else {
            return;
        };
        if me.pipe.is_none() {
            return;
        }
        let now = self.now;
        let dir = &conn.dirs[e];
        if let Some(t) = timers.user_timeout {
            if !dir.parked.is_empty() && now >= dir.parked_since + t {
                self.reset_end(c, e, "user_timeout");
                return;
            }
        }
        let Some((idle, interval, count)) = timers.keepalive else {
            return;
        };
        let live = conn.live[e];
        if dir.inflight > 0 || !dir.parked.is_empty() || now < live.heard + idle {
            // Data outstanding (no probes: the retransmissions watch it), or not idle
            // long enough yet.
            let next = (live.heard + idle).max(now + idle.min(interval));
            self.schedule(next, Ev::Liveness { c, end: e });
            return;
        }
        if live.probes >= count {
            self.reset_end(c, e, "keepalive");
            return;
        }
        let open = !self.is_blocked(me.host, peer.host) && !self.is_blocked(peer.host, me.host);
        if open && self.hosts[peer.host].up {
            if !self.end_alive(&peer) {
                // The peer's host restarted and answers the probe with a reset.
                self.reset_end(c, e, "peer_reset");
                return;
            }
            self.heard(c, 1 - e, true);
            self.schedule(now + idle, Ev::Liveness { c, end: e });
            return;
        }
        if let Some(conn) = self.conns.get_mut(&c) {
            conn.live[e].probes += 1;
        }
        self.schedule(now + interval, Ev::Liveness { c, end: e });
    }

    /// End `e` resets the connection: what it still held is lost, its pipe goes, and its
    /// peer is told (when the network lets the news through).
    pub(super) fn reset_end(&mut self, c: ConnId, e: usize, reason: &'static str) {
        let Some(conn) = self.conns.get_mut(&c) else {
            return;
        };
        conn.dirs[e].aborted = true;
        let held = std::mem::take(&mut conn.dirs[e].parked);
        let from = conn.ends[e].map_or(conn.target, |x| x.host);
        let lost = held
            .iter()
            .filter(|ev| matches!(ev, Ev::Frame { counted: true, .. }))
            .count();
        // Frames that never arrive no longer occupy the link.
        conn.dirs[e].inflight = conn.dirs[e].inflight.saturating_sub(lost);
        for _ in 0..lost {
            self.net_drop(from, "partition");
        }
        self.close_conn(c, e, reason);
    }
}
