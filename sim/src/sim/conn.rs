//! Connections: dialing and backoff, the modelled SP header exchange, frames arriving and
//! being delivered to the protocol, and closing either end.

use bytes::{Bytes, BytesMut};
use sp_proto::wire::backtrace::Backtrace;
use sp_proto::wire::frame::{FrameDecoder, FrameError, FrameFormat};
use sp_proto::wire::handshake::Handshake;
use sp_proto::{PipeId, Protocol, SocketType};

use super::{Conn, ConnId, Dir, End, EpRef, Ev, Sim, HANDSHAKE_TIMEOUT};
use crate::trace::What;

impl Sim {
    pub(super) fn on_dial(&mut self, h: usize, s: usize, inc: u64, ep: usize) {
        let host = &self.hosts[h];
        if !host.up || host.inc != inc {
            return;
        }
        let d = &self.hosts[h].sockets[s].dialers[ep];
        if d.conn.is_some() || d.closed {
            return;
        }
        let addr = d.addr.clone();
        let target = self
            .host_ix
            .get(addr.split(':').next().unwrap_or(""))
            .copied();
        let Some(th) = target else {
            self.note(
                h,
                Some(s),
                What::ConnectFailed {
                    addr,
                    reason: "unknown_host",
                },
            );
            self.schedule_redial(h, s, ep);
            return;
        };
        let ty = self.hosts[h].sockets[s].proto.socket_type();
        let c = self.next_conn;
        self.next_conn += 1;
        self.hosts[h].sockets[s].dialers[ep].conn = Some(c);
        self.hosts[h].sockets[s].dialers[ep].target = Some(th);
        self.conns.insert(
            c,
            Conn {
                ends: [
                    Some(End {
                        host: h,
                        sock: s,
                        inc,
                        ep: EpRef::Dial(ep),
                        pipe: None,
                        closed: false,
                        silent: false,
                        ty,
                    }),
                    None,
                ],
                dirs: [Dir::default(), Dir::default()],
                live: Default::default(),
                target: th,
                addr,
            },
        );
        let d = self.delay(h, th);
        self.schedule(self.now + d, Ev::Syn { c });
    }

    pub(super) fn on_syn(&mut self, c: ConnId) {
        let Some(conn) = self.conns.get(&c) else {
            return;
        };
        let Some(dialer) = conn.ends[0] else {
            return;
        };
        let th = conn.target;
        let addr = conn.addr.clone();
        // A SYN into a black hole waits in `blackhole.rs`, and so does the answer.
        let back = self.delay(th, dialer.host);
        let listener = self.bound.get(&addr).copied();
        let Some((lh, ls, lep)) = listener.filter(|&(lh, ..)| self.hosts[lh].up) else {
            self.schedule(
                self.now + back,
                Ev::Refused {
                    c,
                    reason: "refused",
                },
            );
            return;
        };
        let ty = self.hosts[lh].sockets[ls].proto.socket_type();
        let inc = self.hosts[lh].inc;
        let arrival = self.now + back;
        let conn = self.conns.get_mut(&c).expect("checked above");
        conn.ends[1] = Some(End {
            host: lh,
            sock: ls,
            inc,
            ep: EpRef::Listen(lep),
            pipe: None,
            closed: false,
            silent: false,
            ty,
        });
        conn.dirs[1].last_arrival = arrival;
        self.schedule(arrival, Ev::Header { c, to: 0 });
    }

    pub(super) fn on_refused(&mut self, c: ConnId, reason: &'static str) {
        let Some(conn) = self.conns.remove(&c) else {
            return;
        };
        self.discard_parked(&conn);
        let Some(e) = conn.ends[0] else {
            return;
        };
        if !self.end_alive(&e) {
            return;
        }
        let EpRef::Dial(ep) = e.ep else {
            return;
        };
        let addr = conn.addr.clone();
        self.note(e.host, Some(e.sock), What::ConnectFailed { addr, reason });
        self.hosts[e.host].sockets[e.sock].dialers[ep].conn = None;
        self.schedule_redial(e.host, e.sock, ep);
    }

    pub(super) fn schedule_redial(&mut self, h: usize, s: usize, ep: usize) {
        let inc = self.hosts[h].inc;
        let d = &mut self.hosts[h].sockets[s].dialers[ep];
        if d.closed {
            return;
        }
        let delay = d.backoff.next_delay();
        let addr = d.addr.clone();
        self.note(h, Some(s), What::Backoff { addr, delay });
        self.schedule(self.now + delay, Ev::Dial { h, s, inc, ep });
    }

    /// The peer's 8-byte SP header arrives at end `to`: check it with the real handshake
    /// codec, attach the pipe, and (dialer side) send our header back.
    pub(super) fn on_header(&mut self, c: ConnId, to: usize) {
        let Some(conn) = self.conns.get(&c) else {
            return;
        };
        let (Some(me), Some(peer)) = (conn.ends[to], conn.ends[1 - to]) else {
            return;
        };
        if !self.end_alive(&me) {
            return;
        }
        let now = self.now;
        let peer_header = Handshake::new(peer.ty, now, HANDSHAKE_TIMEOUT).local_header();
        let mut hs = Handshake::new(me.ty, now, HANDSHAKE_TIMEOUT);
        let peer_name = self.end_name(&peer);
        let checked = match hs.feed(&peer_header) {
            Ok((_, Some(t))) => me.ty.accepts_peer_id(t.wire_id()),
            _ => false,
        };
        if !checked {
            self.refuse(c, to, me, peer_name, "bad_peer");
            return;
        }
        let sock = &mut self.hosts[me.host].sockets[me.sock];
        let info = match me.ep {
            EpRef::Listen(i) => sock.listeners[i].info,
            EpRef::Dial(i) => sock.dialers[i].info,
        };
        let pipe = sock.alloc.allocate();
        if let Err(e) = sock.input().handle_pipe_added(now, pipe, info) {
            sock.alloc.release(pipe);
            let reason = match e {
                sp_proto::PipeRefused::Busy => "busy",
                _ => "duplicate",
            };
            self.dirty.insert((me.host, me.sock));
            self.refuse(c, to, me, peer_name, reason);
            return;
        }
        sock.pipes.insert(pipe, (c, to));
        let full = sock.full.clone();
        self.dirty.insert((me.host, me.sock));
        if let Some(conn) = self.conns.get_mut(&c) {
            if let Some(e) = conn.ends[to].as_mut() {
                e.pipe = Some(pipe);
            }
        }
        self.rec.log(&full).connects.push(now);
        self.start_keepalive(c, to);
        self.note(
            me.host,
            Some(me.sock),
            What::Connect {
                peer: peer_name,
                pipe,
            },
        );
        if let EpRef::Dial(i) = me.ep {
            self.hosts[me.host].sockets[me.sock].dialers[i]
                .backoff
                .reset();
            let d = self.delay(me.host, peer.host);
            let conn = self.conns.get_mut(&c).expect("checked above");
            let at = (now + d).max(conn.dirs[to].last_arrival);
            conn.dirs[to].last_arrival = at;
            self.schedule(at, Ev::Header { c, to: 1 - to });
        }
    }

    /// Socket `me` refuses the connection from `peer` (counted, traced, closed).
    fn refuse(&mut self, c: ConnId, to: usize, me: End, peer: String, reason: &'static str) {
        let full = self.hosts[me.host].sockets[me.sock].full.clone();
        self.rec.log(&full).refused += 1;
        self.note(me.host, Some(me.sock), What::Refused { peer, reason });
        self.close_conn(c, to, reason);
    }

    /// Closes end `end` of connection `c` now and tells the other end after one link
    /// delay (after the frames already on their way, as a FIN follows the data).
    pub(super) fn close_conn(&mut self, c: ConnId, end: usize, reason: &'static str) {
        self.close_end(c, end, reason);
        let Some(conn) = self.conns.get(&c) else {
            return;
        };
        let (Some(me), Some(peer)) = (conn.ends[end], conn.ends[1 - end]) else {
            return;
        };
        if peer.closed {
            return;
        }
        let last = conn.dirs[end].last_arrival;
        let d = self.delay(me.host, peer.host);
        self.schedule((self.now + d).max(last), Ev::Fin { c, to: 1 - end });
    }

    /// End `end` of `c` is gone: remove its pipe, drop what waited for it, and let a
    /// dialer plan its next attempt.
    pub(super) fn close_end(&mut self, c: ConnId, end: usize, reason: &'static str) {
        let Some(conn) = self.conns.get_mut(&c) else {
            return;
        };
        let Some(e) = conn.ends[end].as_mut() else {
            return;
        };
        if e.closed {
            return;
        }
        e.closed = true;
        let e = *e;
        let lost = conn.dirs[1 - end].backlog.len();
        // Frames that never arrive no longer occupy the link (as for a reset): a peer
        // left half-open by a power loss must not count them in flight for ever, or its
        // keepalive would wait on them and never probe.
        let counted = conn.dirs[1 - end].backlog.iter().filter(|f| f.1).count();
        conn.dirs[1 - end].inflight = conn.dirs[1 - end].inflight.saturating_sub(counted);
        conn.dirs[1 - end].backlog.clear();
        let peer = conn.ends[1 - end];
        let both_closed = conn.ends.iter().all(|x| x.is_none_or(|x| x.closed));
        if both_closed {
            if let Some(conn) = self.conns.remove(&c) {
                self.discard_parked(&conn);
            }
        }
        self.gone.entry(c).or_insert("conn_closed");
        let peer_name = peer.map(|p| self.end_name(&p));
        for _ in 0..lost {
            self.net_drop(e.host, "conn_closed");
        }
        let host = &self.hosts[e.host];
        if !host.up || host.inc != e.inc {
            return;
        }
        let now = self.now;
        if let Some(pipe) = e.pipe {
            // Several pipes of one socket may close at once (a listener restart, a
            // partition): the outputs the previous removal left are drained first, as
            // the protocol takes no input before.
            if !self.hosts[e.host].sockets[e.sock].proto.is_drained() {
                self.drain(e.host, e.sock);
            }
            let sock = &mut self.hosts[e.host].sockets[e.sock];
            sock.pipes.remove(&pipe);
            sock.paused.remove(&pipe);
            sock.alloc.release(pipe);
            sock.input().handle_pipe_removed(now, pipe);
            self.dirty.insert((e.host, e.sock));
            #[cfg(feature = "testing")]
            self.planted_after_pipe_loss(e.host, e.sock);
            self.note(
                e.host,
                Some(e.sock),
                What::Disconnect {
                    peer: peer_name.unwrap_or_default(),
                    pipe,
                    reason,
                },
            );
        }
        if let EpRef::Dial(ep) = e.ep {
            let d = &mut self.hosts[e.host].sockets[e.sock].dialers[ep];
            if d.conn == Some(c) {
                d.conn = None;
                if e.pipe.is_none() {
                    let addr = d.addr.clone();
                    self.note(e.host, Some(e.sock), What::ConnectFailed { addr, reason });
                }
                self.schedule_redial(e.host, e.sock, ep);
            }
        }
    }

    pub(super) fn on_frame(&mut self, c: ConnId, to: usize, bytes: Bytes, counted: bool) {
        let target = self.conns.get(&c).and_then(|cn| cn.ends[to]);
        let Some(me) = target.filter(|e| self.end_alive(e) && e.pipe.is_some()) else {
            if counted {
                if let Some(cn) = self.conns.get_mut(&c) {
                    cn.dirs[1 - to].inflight = cn.dirs[1 - to].inflight.saturating_sub(1);
                }
            }
            if let Some(e) = target.filter(|e| self.answers_with_reset(e)) {
                // The host restarted since: it answers with a reset (a half-open
                // connection, left by a host that went down without a FIN).
                self.net_drop(e.host, "reset");
                self.reset_end(c, 1 - to, "peer_reset");
                return;
            }
            let h = target
                .map(|e| e.host)
                .or_else(|| self.conns.get(&c).map(|cn| cn.target));
            if let Some(h) = h {
                let reason = if self.hosts[h].up {
                    self.gone.get(&c).copied().unwrap_or("conn_closed")
                } else {
                    "host_down"
                };
                self.net_drop(h, reason);
            } else {
                let reason = self.gone.get(&c).copied().unwrap_or("conn_closed");
                *self.net.drops.entry(reason).or_default() += 1;
                self.note_net(What::Drop {
                    reason: reason.to_owned(),
                    count: 1,
                });
            }
            return;
        };
        let pipe = me.pipe.expect("filtered above");
        if self.hosts[me.host].sockets[me.sock].paused.contains(&pipe) {
            if let Some(cn) = self.conns.get_mut(&c) {
                cn.dirs[1 - to].backlog.push_back((bytes, counted));
            }
            return;
        }
        self.deliver(c, to, me, bytes, counted);
    }

    /// Whether a segment for end `e`, gone in a power loss (no FIN told its peer),
    /// reaches its host restarted since, so that it answers with a reset.
    pub(super) fn answers_with_reset(&self, e: &End) -> bool {
        let host = &self.hosts[e.host];
        e.silent && host.up && host.inc != e.inc
    }

    /// The name of the socket at the other end of connection `c` from end `to`.
    fn sender_name(&self, c: ConnId, to: usize) -> String {
        self.conns
            .get(&c)
            .and_then(|cn| cn.ends[1 - to])
            .map(|p| self.end_name(&p))
            .unwrap_or_default()
    }

    /// Decodes one frame with the real codec and hands it to the protocol.
    pub(super) fn deliver(&mut self, c: ConnId, to: usize, me: End, bytes: Bytes, counted: bool) {
        let pipe = me.pipe.expect("only attached ends receive");
        let mut buf = BytesMut::from(&bytes[..]);
        // The socket's maximum receive size (1 MiB by default, as sp-net's).
        #[allow(unused_mut)] // changed only by a planted bug
        let mut max = self.hosts[me.host].sockets[me.sock].def.options.max_recv();
        #[cfg(feature = "testing")]
        if self.planted == Some(super::PlantedBug::IgnoresMaxRecvSize) {
            max = sp_proto::wire::frame::MaxRecvSize::DEFAULT;
        }
        let mut dec = FrameDecoder::new(FrameFormat::Tcp, max);
        let payload = match dec.decode(&mut buf) {
            Ok(Some(payload)) => payload,
            Err(FrameError::Oversize { .. }) => {
                self.net_drop(me.host, "oversize");
                self.close_conn(c, to, "oversize");
                return;
            }
            _ => {
                self.net_drop(me.host, "bad_frame");
                self.close_conn(c, to, "bad_frame");
                return;
            }
        };
        if self.rec.tracing {
            let from = self.sender_name(c, to);
            self.note(
                me.host,
                Some(me.sock),
                What::Deliver {
                    from,
                    len: payload.len(),
                },
            );
        }
        if let Some(hops) = device_hops(me.ty, &payload) {
            let from = self.sender_name(c, to);
            self.note(me.host, Some(me.sock), What::Hops { from, hops });
        }
        self.frames += 1;
        let now = self.now;
        self.hosts[me.host].sockets[me.sock]
            .proto
            .handle_message(now, pipe, payload);
        self.dirty.insert((me.host, me.sock));
        if counted {
            if let Some(cn) = self.conns.get_mut(&c) {
                cn.dirs[1 - to].inflight = cn.dirs[1 - to].inflight.saturating_sub(1);
            }
            self.try_credit(c, 1 - to);
        }
    }

    pub(super) fn flush_backlog(&mut self, h: usize, s: usize, pipe: PipeId) -> bool {
        let Some(&(c, to)) = self.hosts[h].sockets[s].pipes.get(&pipe) else {
            return false;
        };
        let mut any = false;
        while !self.hosts[h].sockets[s].paused.contains(&pipe) {
            let Some(cn) = self.conns.get_mut(&c) else {
                break;
            };
            let Some((bytes, counted)) = cn.dirs[1 - to].backlog.pop_front() else {
                break;
            };
            let Some(me) = cn.ends[to] else {
                break;
            };
            any = true;
            self.deliver(c, to, me, bytes, counted);
        }
        any
    }
}

/// The backtrace words of a frame arriving at a socket of type `ty` of a family that
/// carries one (REQ/REP, SURVEYOR/RESPONDENT), when there is more than one: the message
/// crossed a device. Stacks deeper than any TTL (255) are not counted.
fn device_hops(ty: SocketType, payload: &Bytes) -> Option<usize> {
    if !matches!(
        ty,
        SocketType::Req | SocketType::Rep | SocketType::Surveyor | SocketType::Respondent
    ) {
        return None;
    }
    let words = Backtrace::parse(payload, u8::MAX).ok()?.hops();
    (words > 1).then_some(words)
}
