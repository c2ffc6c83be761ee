//! Playing a timeline: the [`Driver`] trait both simulator layers implement, and the one
//! loop ([`play`]) and action dispatch ([`apply`]) that drive either of them.

use std::time::Duration;

use bytes::Bytes;
use sp_proto::{Instant, SocketType};

use super::{Action, HostileFrame, Layer, Scenario, Timed};
use crate::def::{ms, LinkOverride};
use crate::{Sim, SimError};

/// What a simulator layer does for a timeline: run to a time, and perform each kind of
/// action. Layer 1 is [`Sim`]; layer 2 is the turmoil run.
pub(crate) trait Driver {
    /// Why an action or the run failed.
    type Error;
    /// Runs the simulation up to `t`.
    fn advance(&mut self, t: Instant) -> Result<(), Self::Error>;
    /// The application of `socket` sends `message` (a body, and the context number to
    /// send it on: 0 for the default); with `want`, the socket must be of that type (a `request` needs a REQ,
    /// a `survey` a SURVEYOR).
    fn send(
        &mut self,
        socket: &str,
        want: Option<SocketType>,
        message: (Bytes, u32),
    ) -> Result<(), Self::Error>;
    /// A SUB subscribes to `topic` (`on`) or unsubscribes.
    fn subscribe(&mut self, socket: &str, topic: &str, on: bool) -> Result<(), Self::Error>;
    /// The application receives up to `max` messages that are ready.
    fn recv(&mut self, socket: &str, max: usize) -> Result<(), Self::Error>;
    /// Cuts (`cut`) or repairs the network between two host patterns.
    fn partition(&mut self, a: &str, b: &str, oneway: bool, cut: bool) -> Result<(), Self::Error>;
    /// Resets every connection between two host patterns.
    fn reset(&mut self, a: &str, b: &str) -> Result<(), Self::Error>;
    /// A host crashes (`up` false; `silent`: without a FIN to its peers) or restarts
    /// from its definition.
    fn crash(&mut self, host: &str, up: bool, silent: bool) -> Result<(), Self::Error>;
    /// A listener closes and binds again after `down`.
    fn restart_listener(
        &mut self,
        socket: &str,
        addr: &str,
        down: Duration,
    ) -> Result<(), Self::Error>;
    /// Adds a link override from now on.
    fn set_link(&mut self, link: &LinkOverride) -> Result<(), Self::Error>;
    /// The application closes the dialer of `socket` to `addr`.
    fn close_dialer(&mut self, socket: &str, addr: &str) -> Result<(), Self::Error>;
    /// The application closes `socket`.
    fn close(&mut self, socket: &str) -> Result<(), Self::Error>;
    /// The host of `socket` writes a hostile `frame` onto the socket's pipes.
    fn hostile(&mut self, socket: &str, frame: HostileFrame) -> Result<(), Self::Error>;
    /// Whether the safety oracles watching the run saw a rule broken (the run stops).
    fn violated(&self) -> bool {
        false
    }
    /// Whether a failed action may be ignored (the run goes on).
    fn tolerated(_e: &Self::Error) -> bool {
        false
    }
}

/// Performs one timeline action.
pub(crate) fn apply<D: Driver>(d: &mut D, t: &Timed<'_>) -> Result<(), D::Error> {
    match t.action {
        Action::Send(s) => d.send(&s.socket, None, s.body(t.index)),
        Action::Request(s) => d.send(&s.socket, Some(SocketType::Req), s.body(t.index)),
        Action::Survey(s) => d.send(&s.socket, Some(SocketType::Surveyor), s.body(t.index)),
        Action::Subscribe { socket, topic } => d.subscribe(socket, topic, true),
        Action::Unsubscribe { socket, topic } => d.subscribe(socket, topic, false),
        Action::Recv { socket, max } => d.recv(socket, max.unwrap_or(usize::MAX)),
        Action::Partition { a, b, oneway } => d.partition(a, b, *oneway, true),
        Action::Repair { a, b, oneway } => d.partition(a, b, *oneway, false),
        Action::Reset { a, b } => d.reset(a, b),
        Action::Crash { host, silent } => d.crash(host, false, *silent),
        Action::Restart { host } => d.crash(host, true, false),
        Action::RestartListener {
            socket,
            addr,
            down_ms,
        } => d.restart_listener(socket, addr, ms(*down_ms)),
        Action::Link(l) => d.set_link(l),
        Action::Hostile { socket, frame } => d.hostile(socket, *frame),
        Action::CloseDialer { socket, addr } => d.close_dialer(socket, addr),
        Action::Close { socket } => d.close(socket),
        Action::Wait {} => Ok(()),
    }
}

/// Plays the scenario's timeline for `layer` on `d`, then runs to the end time.
pub(crate) fn play<D: Driver>(d: &mut D, sc: &Scenario, layer: Layer) -> Result<(), D::Error> {
    for t in sc.timeline(Some(layer)) {
        d.advance(t.at)?;
        if d.violated() {
            return Ok(()); // the oracles' first violation ends the run
        }
        match apply(d, &t) {
            Ok(()) => {}
            Err(e) if D::tolerated(&e) => {}
            Err(e) => return Err(e),
        }
    }
    d.advance(sc.end())
}

/// Layer 1: actions on a crashed host or a closed socket are ignored, as on a real
/// network (the application's call fails).
impl Driver for Sim {
    type Error = SimError;

    fn advance(&mut self, t: Instant) -> Result<(), SimError> {
        self.run_until(t)
    }

    fn send(
        &mut self,
        socket: &str,
        want: Option<SocketType>,
        (body, ctx): (Bytes, u32),
    ) -> Result<(), SimError> {
        use sp_proto::Protocol;
        if let (Some(want), Some(p)) = (want, self.protocol(socket)) {
            if p.socket_type() != want {
                return Err(SimError::Config(format!(
                    "{socket} is a {}, not a {want}",
                    p.socket_type()
                )));
            }
        }
        Self::send_in(self, socket, ctx, body).map(drop)
    }

    fn subscribe(&mut self, socket: &str, topic: &str, on: bool) -> Result<(), SimError> {
        Self::subscribe(self, socket, topic.as_bytes(), on)
    }

    fn recv(&mut self, socket: &str, max: usize) -> Result<(), SimError> {
        Self::recv(self, socket, max).map(drop)
    }

    fn partition(&mut self, a: &str, b: &str, oneway: bool, cut: bool) -> Result<(), SimError> {
        if cut {
            Self::partition(self, a, b, oneway);
        } else {
            self.repair(a, b, oneway);
        }
        Ok(())
    }

    fn reset(&mut self, a: &str, b: &str) -> Result<(), SimError> {
        Self::reset(self, a, b);
        Ok(())
    }

    fn crash(&mut self, host: &str, up: bool, silent: bool) -> Result<(), SimError> {
        if up {
            self.restart(host)
        } else if silent {
            self.power_off(host)
        } else {
            Self::crash(self, host)
        }
    }

    fn restart_listener(
        &mut self,
        socket: &str,
        addr: &str,
        down: Duration,
    ) -> Result<(), SimError> {
        Self::restart_listener(self, socket, addr, down)
    }

    fn set_link(&mut self, link: &LinkOverride) -> Result<(), SimError> {
        self.add_link(link.clone())
    }

    fn close_dialer(&mut self, socket: &str, addr: &str) -> Result<(), SimError> {
        Self::close_dialer(self, socket, addr)
    }

    fn close(&mut self, socket: &str) -> Result<(), SimError> {
        self.close_socket(socket)
    }

    fn hostile(&mut self, socket: &str, frame: HostileFrame) -> Result<(), SimError> {
        Self::hostile(self, socket, frame)
    }

    fn violated(&self) -> bool {
        Self::violated(self)
    }

    fn tolerated(e: &SimError) -> bool {
        matches!(e, SimError::HostDown(_) | SimError::SocketClosed(_))
    }
}
