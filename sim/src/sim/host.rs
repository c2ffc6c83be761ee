//! Hosts: starting their sockets and listeners, crashes, restarts and listener restarts,
//! timers, and the application's sends and receptions.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use sp_proto::backoff::Backoff;
use sp_proto::pipes::PipeIdAllocator;
use sp_proto::rng::Rng;
use sp_proto::{AnyProtocol, DropReason, Message, Protocol, SocketType};

use super::{ConnId, Dialer, EpRef, Ev, Listener, Sim, Sock};
use crate::def::ms;
use crate::trace::What;
use crate::SimError;

impl Sim {
    /// The host crashes: its sockets and their state are gone, listeners stop, peers see
    /// their pipes close after one link delay.
    pub fn crash(&mut self, host: &str) -> Result<(), SimError> {
        self.go_down(host, false)
    }

    /// The host loses power: as [`crash`](Self::crash), but no FIN leaves it, so its
    /// peers' connections stay half-open. A peer learns of it only when what it sends
    /// reaches the host after its restart (a reset, `peer_reset`) or when its keepalive
    /// gets no answer.
    pub fn power_off(&mut self, host: &str) -> Result<(), SimError> {
        self.go_down(host, true)
    }

    fn go_down(&mut self, host: &str, silent: bool) -> Result<(), SimError> {
        let &h = self
            .host_ix
            .get(host)
            .ok_or_else(|| SimError::NoSuchHost(host.to_owned()))?;
        if !self.hosts[h].up {
            return Ok(());
        }
        if silent {
            self.note(h, None, What::Event("power_off"));
        }
        self.note(h, None, What::Crash);
        for s in 0..self.hosts[h].sockets.len() {
            self.retire_socket_log(h, s);
        }
        self.hosts[h].up = false;
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for c in ids {
            for end in 0..2 {
                let on_host = self
                    .conns
                    .get(&c)
                    .and_then(|cn| cn.ends[end])
                    .is_some_and(|e| e.host == h && !e.closed);
                if on_host && silent {
                    self.close_end(c, end, "crash");
                    if let Some(e) = self.conns.get_mut(&c).and_then(|cn| cn.ends[end].as_mut()) {
                        e.silent = true;
                    }
                } else if on_host {
                    self.close_conn(c, end, "crash");
                }
            }
        }
        self.bound.retain(|_, v| v.0 != h);
        self.hosts[h].sockets.clear();
        self.hosts[h].device = None;
        self.hosts[h].inc += 1;
        self.settle();
        Ok(())
    }

    /// A crashed host starts again: fresh sockets from its definition.
    pub fn restart(&mut self, host: &str) -> Result<(), SimError> {
        let &h = self
            .host_ix
            .get(host)
            .ok_or_else(|| SimError::NoSuchHost(host.to_owned()))?;
        if self.hosts[h].up {
            return Ok(());
        }
        self.note(h, None, What::Restart);
        self.start_host(h)?;
        self.settle();
        Ok(())
    }

    /// The listener of socket `name` on `addr` closes (its pipes close; peers see them
    /// go) and binds again after `down`.
    pub fn restart_listener(
        &mut self,
        name: &str,
        addr: &str,
        down: Duration,
    ) -> Result<(), SimError> {
        let (h, s) = self.find_up(name)?;
        let inc = self.hosts[h].inc;
        let ep = self.hosts[h].sockets[s]
            .listeners
            .iter()
            .position(|l| l.addr == addr)
            .ok_or_else(|| SimError::Config(format!("{name} does not listen on {addr}")))?;
        self.hosts[h].sockets[s].listeners[ep].bound = false;
        self.bound.remove(addr);
        self.note(
            h,
            Some(s),
            What::ListenerDown {
                addr: addr.to_owned(),
            },
        );
        let ids: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.ends[1].is_some_and(|e| {
                    e.host == h && e.sock == s && e.ep == EpRef::Listen(ep) && !e.closed
                })
            })
            .map(|(&id, _)| id)
            .collect();
        for c in ids {
            self.close_conn(c, 1, "listener_closed");
        }
        self.schedule(self.now + down, Ev::ListenerUp { h, s, inc, ep });
        self.settle();
        Ok(())
    }

    /// The application closes the dialer of socket `name` to `addr`: its connection
    /// closes (the peer sees it one link delay later) and it dials no more.
    pub fn close_dialer(&mut self, name: &str, addr: &str) -> Result<(), SimError> {
        let (h, s) = self.find_up(name)?;
        let ep = self.hosts[h].sockets[s]
            .dialers
            .iter()
            .position(|d| d.addr == addr)
            .ok_or_else(|| SimError::Config(format!("{name} does not dial {addr}")))?;
        let d = &mut self.hosts[h].sockets[s].dialers[ep];
        if d.closed {
            return Ok(());
        }
        d.closed = true;
        let conn = d.conn;
        let what = What::DialerClosed {
            addr: addr.to_owned(),
        };
        self.note(h, Some(s), what);
        if let Some(c) = conn {
            let end = self.conns.get(&c).and_then(|cn| {
                (0..2).find(|&i| {
                    cn.ends[i]
                        .is_some_and(|e| e.host == h && e.sock == s && e.ep == EpRef::Dial(ep))
                })
            });
            if let Some(end) = end {
                self.close_conn(c, end, "dialer_closed");
            }
        }
        self.settle();
        Ok(())
    }

    /// The application closes socket `name`: its listeners unbind, its dialers stop, and
    /// every connection it has closes (peers see their pipes go one link delay later).
    /// It takes no operation and no frame until its host restarts, which reopens it
    /// from its definition. A device's sockets cannot be closed (the device would go on
    /// forwarding into them).
    pub fn close_socket(&mut self, name: &str) -> Result<(), SimError> {
        let (h, s) = self.find_up(name)?;
        if let Some(d) = &self.hosts[h].def.device {
            let sock = &self.hosts[h].def.sockets[s].name;
            if *sock == d.a || *sock == d.b {
                return Err(SimError::Config(format!(
                    "{name} is a device's socket and cannot be closed"
                )));
            }
        }
        let sock = &mut self.hosts[h].sockets[s];
        sock.closed = true;
        sock.armed = None;
        for d in &mut sock.dialers {
            d.closed = true;
        }
        for l in &mut sock.listeners {
            l.bound = false;
        }
        self.bound.retain(|_, v| (v.0, v.1) != (h, s));
        self.note(h, Some(s), What::SocketClosed);
        #[cfg(feature = "testing")]
        if self.planted == Some(super::PlantedBug::CloseKeepsPipes) {
            return Ok(()); // the planted bug: its connections stay open
        }
        let ids: Vec<(ConnId, usize)> = self
            .conns
            .iter()
            .filter_map(|(&id, c)| {
                (0..2)
                    .find(|&i| c.ends[i].is_some_and(|e| e.host == h && e.sock == s && !e.closed))
                    .map(|end| (id, end))
            })
            .collect();
        for (c, end) in ids {
            self.close_conn(c, end, "socket_closed");
        }
        self.settle();
        Ok(())
    }

    pub(super) fn start_host(&mut self, h: usize) -> Result<(), SimError> {
        let def = self.hosts[h].def.clone();
        let inc = self.hosts[h].inc;
        let mut socks = Vec::new();
        for sd in &def.sockets {
            let seed = self.rng.next_u64();
            let mut srng = Rng::new(seed);
            let ty = sd.socket_type()?;
            #[allow(unused_mut)] // changed only by a planted bug
            let mut config = sd.config(srng.next_u64())?;
            #[cfg(feature = "testing")]
            self.planted_config(&def, sd, &mut config);
            let mut proto = AnyProtocol::new(ty, config);
            for t in &sd.subscribe {
                // Only SUB sockets have subscriptions; other types ignore the list.
                let _ = proto.subscribe(t.as_bytes());
            }
            let alloc = PipeIdAllocator::new(&mut srng);
            let listeners = sd
                .listen
                .iter()
                .map(|e| {
                    Ok(Listener {
                        addr: e.addr.clone(),
                        info: e.pipe_info()?,
                        bound: false,
                    })
                })
                .collect::<Result<Vec<_>, SimError>>()?;
            let dialers = sd
                .dial
                .iter()
                .map(|e| {
                    let min = e
                        .reconnect_min_ms
                        .map_or(sp_proto::backoff::DEFAULT_RECONNECT_MIN, ms);
                    let max = e
                        .reconnect_max_ms
                        .map_or(sp_proto::backoff::DEFAULT_RECONNECT_MAX, ms);
                    let mut backoff = Backoff::new(min, max, srng.next_u64());
                    backoff.set_jitter(e.reconnect_jitter.unwrap_or(true));
                    Ok(Dialer {
                        addr: e.addr.clone(),
                        target: None,
                        info: e.pipe_info()?,
                        backoff,
                        conn: None,
                        closed: false,
                    })
                })
                .collect::<Result<Vec<_>, SimError>>()?;
            let full = format!("{}.{}", def.name, sd.name);
            self.rec.log(&full);
            socks.push(Sock {
                full,
                def: sd.clone(),
                proto,
                drain: sp_proto::Drain::new(),
                alloc,
                pipes: BTreeMap::new(),
                paused: BTreeSet::new(),
                listeners,
                dialers,
                armed: None,
                reply_pending: false,
                drops_seen: [0; DropReason::ALL.len()],
                closed: false,
                contexts: BTreeMap::new(),
            });
        }
        let host = &mut self.hosts[h];
        host.sockets = socks;
        host.device = super::device::HostDevice::build(&def)?;
        host.up = true;
        for s in 0..self.hosts[h].sockets.len() {
            for ep in 0..self.hosts[h].sockets[s].listeners.len() {
                self.bind(h, s, ep)?;
            }
            for ep in 0..self.hosts[h].sockets[s].dialers.len() {
                self.schedule(self.now, Ev::Dial { h, s, inc, ep });
            }
            self.dirty.insert((h, s));
        }
        Ok(())
    }

    pub(super) fn bind(&mut self, h: usize, s: usize, ep: usize) -> Result<(), SimError> {
        let addr = self.hosts[h].sockets[s].listeners[ep].addr.clone();
        if let Some(&(oh, os, _)) = self.bound.get(&addr) {
            if (oh, os) != (h, s) {
                return Err(SimError::Config(format!("address {addr} already in use")));
            }
        }
        self.bound.insert(addr.clone(), (h, s, ep));
        self.hosts[h].sockets[s].listeners[ep].bound = true;
        self.note(h, Some(s), What::ListenerUp { addr });
        Ok(())
    }

    pub(super) fn retire_socket_log(&mut self, h: usize, s: usize) {
        let sock = &self.hosts[h].sockets[s];
        let resends = sock.proto.stats().resends;
        let full = sock.full.clone();
        self.rec.log(&full).resends_before += resends;
    }

    pub(super) fn on_timer(&mut self, h: usize, s: usize, inc: u64) {
        let host = &self.hosts[h];
        if !host.up || host.inc != inc || host.sockets[s].closed {
            return;
        }
        let now = self.now;
        let sock = &mut self.hosts[h].sockets[s];
        if sock.proto.poll_timeout().is_some_and(|t| t <= now) {
            sock.armed = None;
            sock.input().handle_timeout(now);
            self.note(h, Some(s), What::Timer);
            self.dirty.insert((h, s));
        }
    }

    /// The application of socket `s` sends `body` on its context number `ctx` (0: the
    /// default context; any other must be open).
    pub(super) fn app_send(&mut self, h: usize, s: usize, body: Bytes, ctx: u32) -> bool {
        use sp_proto::Contexts;
        let now = self.now;
        let sock = &mut self.hosts[h].sockets[s];
        let msg = Message::new(body.clone());
        let r = match sock.contexts.get(&ctx) {
            Some(&id) => sock.input().send_in(id, now, msg),
            None => sock.input().send(now, msg),
        };
        let survey = sock.proto.socket_type() == SocketType::Surveyor && !sock.def.raw;
        self.dirty.insert((h, s));
        let refused = r.as_ref().err().map(|e| format!("{:?}", e.kind));
        self.rec.send(now, &sock.full, (body, ctx), refused, survey);
        r.is_ok()
    }

    /// The application of socket `s` received `m` on its context number `ctx`.
    pub(super) fn record_recv(&mut self, h: usize, s: usize, m: Message, ctx: u32) {
        #[cfg(feature = "testing")]
        let ctx = self.planted_recv_context(h, s, ctx);
        let sock = &self.hosts[h].sockets[s];
        let from = m
            .pipe
            .and_then(|p| sock.pipes.get(&p))
            .and_then(|&(c, end)| self.conns.get(&c).and_then(|cn| cn.ends[1 - end]));
        let from_host = from.map(|e| self.hosts[e.host].def.name.clone());
        let from_name = from.filter(|_| self.rec.tracing).map(|e| self.end_name(&e));
        let ty = sock.proto.socket_type();
        let survey = ty == SocketType::Surveyor;
        self.rec.recv(
            self.now,
            &sock.full,
            (m.body.clone(), ctx),
            survey,
            from_host,
            from_name,
        );
        let sock = &self.hosts[h].sockets[s];
        if let Some(reply) = sock.def.replier(ty) {
            let body = reply.answer(&m.body);
            let delay = ms(reply.delay_ms);
            // An answer at once is sent at once only when the receive left no outputs
            // (a resumed pipe, say): the protocol takes no input before those are
            // drained, so otherwise it goes out at the same instant, after the drain.
            if delay.is_zero() && sock.proto.is_drained() {
                self.app_send(h, s, body, 0);
            } else {
                let inc = self.hosts[h].inc;
                self.hosts[h].sockets[s].reply_pending = true;
                self.schedule(self.now + delay, Ev::Reply { h, s, inc, body });
            }
        }
    }

    pub(super) fn note_drops(&mut self, h: usize, s: usize) {
        let sock = &mut self.hosts[h].sockets[s];
        let stats = sock.proto.stats();
        let mut new = Vec::new();
        for (i, r) in DropReason::ALL.into_iter().enumerate() {
            let n = stats.dropped(r);
            if n > sock.drops_seen[i] {
                new.push((r, n - sock.drops_seen[i]));
                sock.drops_seen[i] = n;
            }
        }
        if new.is_empty() {
            return;
        }
        let full = sock.full.clone();
        let log = self.rec.log(&full);
        for &(r, n) in &new {
            *log.drops.entry(r).or_default() += n;
        }
        for (r, n) in new {
            self.note(
                h,
                Some(s),
                What::Drop {
                    reason: format!("proto:{}", r.name()),
                    count: n,
                },
            );
        }
    }
}
