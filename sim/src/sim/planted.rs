//! Bugs planted in the simulated sockets (feature `testing` only), so tests can show that
//! the swarm finds and shrinks a real defect. Never built into the simulator otherwise.

use sp_proto::{AnyProtocol, Config, Options, Protocol, SocketType};

use super::{EpRef, Sim};
use crate::def::{HostDef, SocketDef};

/// A defect the simulator can plant in its sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedBug {
    /// A cooked REQ forgets its request in progress when one of its pipes is lost: it
    /// neither resends it at once nor when its resend timer fires (the wrapper replaces
    /// the protocol with a fresh one, re-attaching the pipes that remain).
    ReqForgetsOnPipeLoss,
    /// A device's sockets ignore the TTL they were given and use the largest (255), so a
    /// loop of devices passes a message round far more often than its TTL allows.
    DeviceIgnoresTtl,
    /// Closing a socket marks it closed but leaves its connections open, so its peers
    /// keep their pipes to it.
    CloseKeepsPipes,
    /// The application side of a cooked REQ's contexts hands a reply received on one
    /// context to another (the next context number it has open, or the default
    /// context), as a wrapper mixing up its context table would.
    CtxReplyMisrouted,
    /// Every socket decodes frames with the default maximum receive size (1 MiB),
    /// whatever its `max_recv_size` says.
    IgnoresMaxRecvSize,
}

impl Sim {
    /// Plants `bug` (or none) in every socket from now on (the sockets already open
    /// included).
    pub fn plant(&mut self, bug: Option<PlantedBug>) {
        self.planted = bug;
        for h in 0..self.hosts.len() {
            let def = self.hosts[h].def.clone();
            for (sd, sock) in def.sockets.iter().zip(&mut self.hosts[h].sockets) {
                let mut options = sock.proto.options().clone();
                if planted_options(bug, &def, sd, &mut options) {
                    sock.proto.set_options(options);
                }
            }
        }
    }

    /// Called when a socket of `host` is configured: a planted bug may change its options.
    pub(super) fn planted_config(&self, host: &HostDef, sock: &SocketDef, config: &mut Config) {
        planted_options(self.planted, host, sock, &mut config.options);
    }

    /// Called when socket `s` of host `h` received on its context number `ctx`: the
    /// context the application is told it came on.
    pub(super) fn planted_recv_context(&self, h: usize, s: usize, ctx: u32) -> u32 {
        let sock = &self.hosts[h].sockets[s];
        if self.planted != Some(PlantedBug::CtxReplyMisrouted)
            || ctx == 0
            || sock.proto.socket_type() != SocketType::Req
        {
            return ctx;
        }
        sock.contexts
            .keys()
            .copied()
            .find(|&k| k > ctx)
            .unwrap_or(0)
    }

    /// Called after socket `s` of host `h` lost a pipe.
    pub(super) fn planted_after_pipe_loss(&mut self, h: usize, s: usize) {
        if self.planted != Some(PlantedBug::ReqForgetsOnPipeLoss) {
            return;
        }
        let seed = self.rng.next_u64();
        let now = self.now;
        let sock = &self.hosts[h].sockets[s];
        if sock.proto.socket_type() != SocketType::Req || sock.def.raw {
            return;
        }
        let Ok(config) = sock.def.config(seed) else {
            return;
        };
        let mut infos = Vec::new();
        for (&pipe, &(conn, end)) in &sock.pipes {
            let ep = self
                .conns
                .get(&conn)
                .and_then(|c| c.ends[end])
                .map(|e| e.ep);
            let info = match ep {
                Some(EpRef::Listen(i)) => sock.listeners[i].info,
                Some(EpRef::Dial(i)) => sock.dialers[i].info,
                None => continue,
            };
            infos.push((pipe, info));
        }
        let sock = &mut self.hosts[h].sockets[s];
        sock.proto = AnyProtocol::new(SocketType::Req, config);
        // The fresh protocol has no contexts: the application opens them again.
        sock.contexts.clear();
        // The fresh protocol counts its drops from zero (those counted so far are kept).
        sock.drops_seen = Default::default();
        for (pipe, info) in infos {
            let _ = sock.proto.handle_pipe_added(now, pipe, info);
        }
        self.dirty.insert((h, s));
    }
}

/// What `bug` changes in the options of socket `sock` of `host`; whether it changed them.
fn planted_options(
    bug: Option<PlantedBug>,
    host: &HostDef,
    sock: &SocketDef,
    options: &mut Options,
) -> bool {
    if bug != Some(PlantedBug::DeviceIgnoresTtl) {
        return false;
    }
    let on_device = host
        .device
        .as_ref()
        .is_some_and(|d| d.a == sock.name || d.b == sock.name);
    // Cannot fail: 255 is the largest TTL.
    on_device && options.set_max_ttl(u32::from(u8::MAX)).is_ok()
}
