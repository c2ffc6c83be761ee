//! Devices: forwarders between two raw sockets of one protocol family (nanomsg's
//! `nn_device`, NNG's `nng_device`), or a reflector on one raw socket.
//!
//! A device only moves messages: it receives from one raw state machine and sends to the
//! other with the header untouched. All backtrace work (pushing and popping pipe ids, the
//! hop limit) happens inside the raw sockets, so a chain of devices between a REQ and a
//! REP routes replies back and counts hops like the C libraries do.
//!
//! The device is sans-IO like everything else: call [`Device::pump`] after inputs reach
//! either socket, then drain both sockets' outputs as the driving contract says. When the
//! target cannot take a message (`WouldBlock`), the device holds that one message for its
//! direction and stops reading the source (so back-pressure propagates); the next pump
//! retries it first.

use crate::message::Message;
use crate::protocol::{Protocol, SendErrorKind};
use crate::socket_type::SocketType;
use crate::time::Instant;

/// Why a device cannot be built or run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The two socket types belong to different protocol families.
    #[error("{a} and {b} are not of the same protocol family")]
    DifferentFamily {
        /// The first socket type.
        a: SocketType,
        /// The second socket type.
        b: SocketType,
    },
    /// The two socket types are of one family but not peers of each other (e.g. two REPs).
    #[error("{a} and {b} are not peers")]
    NotPeers {
        /// The first socket type.
        a: SocketType,
        /// The second socket type.
        b: SocketType,
    },
    /// A reflector needs a socket type that is its own peer (BUS, PAIR).
    #[error("{0} cannot be a reflector: it is not its own peer")]
    NotSelfPeer(SocketType),
    /// A socket given to the device is in cooked mode.
    #[error("the {0} socket is not raw")]
    NotRaw(SocketType),
    /// A socket given to the device is not of the type it was built for.
    #[error("expected a {expected} socket, got {got}")]
    WrongSocket {
        /// The type the device was built for.
        expected: SocketType,
        /// The type it was given.
        got: SocketType,
    },
}

/// A forwarder between two raw sockets, or a reflector on one.
#[derive(Clone, Debug)]
pub struct Device {
    a: SocketType,
    /// `None` for a reflector.
    b: Option<SocketType>,
    /// `held[0]`: a message from `a` waiting for `b` (or the reflector's one direction);
    /// `held[1]`: from `b` waiting for `a`.
    held: [Option<Message>; 2],
    forwarded: u64,
    refused: u64,
}

impl Device {
    /// A device between a raw `a` and a raw `b`: they must be of one protocol family and
    /// peers of each other (REP with REQ, BUS with BUS, ...).
    pub fn new(a: SocketType, b: SocketType) -> Result<Self, DeviceError> {
        if a.protocol_number() != b.protocol_number() {
            return Err(DeviceError::DifferentFamily { a, b });
        }
        if a.peer() != b {
            return Err(DeviceError::NotPeers { a, b });
        }
        Ok(Self {
            a,
            b: Some(b),
            held: [None, None],
            forwarded: 0,
            refused: 0,
        })
    }

    /// A reflector: messages received by the raw socket `t` are sent back out of it (BUS
    /// loopback; raw BUS leaves out the source pipe named by the header).
    pub fn reflector(t: SocketType) -> Result<Self, DeviceError> {
        if t.peer() != t {
            return Err(DeviceError::NotSelfPeer(t));
        }
        Ok(Self {
            a: t,
            b: None,
            held: [None, None],
            forwarded: 0,
            refused: 0,
        })
    }

    /// Messages forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.forwarded
    }

    /// Messages the target refused for a reason other than back-pressure (a header it
    /// cannot use), which the device discarded.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Messages held because their target was busy (0, 1 or 2).
    pub fn held(&self) -> usize {
        self.held.iter().flatten().count()
    }

    /// Moves every message `a` and `b` have ready to the other side; returns how many were
    /// sent. Drain both sockets' outputs afterwards.
    pub fn pump(
        &mut self,
        now: Instant,
        a: &mut impl Protocol,
        b: &mut impl Protocol,
    ) -> Result<usize, DeviceError> {
        let Some(b_type) = self.b else {
            return self.pump_reflector(now, a);
        };
        check(self.a, a)?;
        check(b_type, b)?;
        let [to_b, to_a] = &mut self.held;
        let mut moved = 0;
        if self.a.can_recv() && b_type.can_send() {
            moved += forward(now, to_b, a, b, &mut self.refused);
        }
        if b_type.can_recv() && self.a.can_send() {
            moved += forward(now, to_a, b, a, &mut self.refused);
        }
        self.forwarded += moved as u64;
        Ok(moved)
    }

    /// Runs a reflector built with [`reflector`](Self::reflector) on its one socket:
    /// everything it receives is sent back out of it. ([`pump`](Self::pump) on a
    /// reflector does the same with its first socket.) A device built with
    /// [`new`](Self::new) gives [`DeviceError::NotSelfPeer`] here.
    pub fn pump_reflector(
        &mut self,
        now: Instant,
        s: &mut impl Protocol,
    ) -> Result<usize, DeviceError> {
        if self.b.is_some() {
            return Err(DeviceError::NotSelfPeer(self.a));
        }
        check(self.a, s)?;
        let mut moved = 0;
        // A socket that sends into itself: take each message out first, then send it.
        loop {
            let msg = match self.held[0].take() {
                Some(m) => m,
                None => match s.recv(now) {
                    Ok(m) => m,
                    Err(_) => break,
                },
            };
            match send_one(now, s, msg) {
                Sent::Yes => moved += 1,
                Sent::Busy(m) => {
                    self.held[0] = Some(m);
                    break;
                }
                Sent::Refused => self.refused += 1,
            }
        }
        self.forwarded += moved as u64;
        Ok(moved)
    }
}

fn check(expected: SocketType, s: &impl Protocol) -> Result<(), DeviceError> {
    let got = s.socket_type();
    if got != expected {
        return Err(DeviceError::WrongSocket { expected, got });
    }
    if !s.is_raw() {
        return Err(DeviceError::NotRaw(got));
    }
    Ok(())
}

enum Sent {
    Yes,
    Busy(Message),
    Refused,
}

fn send_one(now: Instant, to: &mut impl Protocol, mut msg: Message) -> Sent {
    // The arrival pipe belongs to the source socket; it must not steer the target.
    msg.pipe = None;
    match to.send(now, msg) {
        Ok(()) => Sent::Yes,
        Err(e) if e.kind == SendErrorKind::WouldBlock => Sent::Busy(e.msg),
        Err(_) => Sent::Refused,
    }
}

/// Moves messages `from` → `to` until `from` is empty or `to` is busy.
fn forward(
    now: Instant,
    held: &mut Option<Message>,
    from: &mut impl Protocol,
    to: &mut impl Protocol,
    refused: &mut u64,
) -> usize {
    let mut moved = 0;
    loop {
        let msg = match held.take() {
            Some(m) => m,
            None => match from.recv(now) {
                Ok(m) => m,
                Err(_) => break,
            },
        };
        match send_one(now, to, msg) {
            Sent::Yes => moved += 1,
            Sent::Busy(m) => {
                *held = Some(m);
                break;
            }
            Sent::Refused => *refused += 1,
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_rules() {
        use SocketType::*;
        assert!(Device::new(Rep, Req).is_ok());
        assert!(Device::new(Req, Rep).is_ok());
        assert!(Device::new(Bus, Bus).is_ok());
        assert!(Device::new(Pub, Sub).is_ok());
        assert_eq!(
            Device::new(Rep, Rep).unwrap_err(),
            DeviceError::NotPeers { a: Rep, b: Rep }
        );
        assert_eq!(
            Device::new(Rep, Pull).unwrap_err(),
            DeviceError::DifferentFamily { a: Rep, b: Pull }
        );
        assert_eq!(
            Device::new(Pair0, Pair1).unwrap_err(),
            DeviceError::NotPeers { a: Pair0, b: Pair1 }
        );
        assert!(Device::reflector(Bus).is_ok());
        assert_eq!(
            Device::reflector(Req).unwrap_err(),
            DeviceError::NotSelfPeer(Req)
        );
    }
}
