//! Socket types, their 16-bit wire ids and the peer matrix.
//!
//! The wire id is `protocol * 16 + role`, sent big-endian in the connection header.

use core::fmt;

/// One SP socket type (protocol and role).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SocketType {
    /// PAIR version 0 (nanomsg's PAIR), id 16.
    Pair0,
    /// PAIR version 1 (NNG's PAIR, with a hop-count header), id 17.
    Pair1,
    /// Publisher, id 32.
    Pub,
    /// Subscriber, id 33.
    Sub,
    /// Requester, id 48.
    Req,
    /// Replier, id 49.
    Rep,
    /// Pipeline sender, id 80.
    Push,
    /// Pipeline receiver, id 81.
    Pull,
    /// Surveyor, id 98.
    Surveyor,
    /// Respondent, id 99.
    Respondent,
    /// Bus, id 112.
    Bus,
}

impl SocketType {
    /// Every socket type, in wire-id order.
    pub const ALL: [Self; 11] = [
        Self::Pair0,
        Self::Pair1,
        Self::Pub,
        Self::Sub,
        Self::Req,
        Self::Rep,
        Self::Push,
        Self::Pull,
        Self::Surveyor,
        Self::Respondent,
        Self::Bus,
    ];

    /// The 16-bit id sent in the connection header.
    pub const fn wire_id(self) -> u16 {
        match self {
            Self::Pair0 => 0x10,
            Self::Pair1 => 0x11,
            Self::Pub => 0x20,
            Self::Sub => 0x21,
            Self::Req => 0x30,
            Self::Rep => 0x31,
            Self::Push => 0x50,
            Self::Pull => 0x51,
            Self::Surveyor => 0x62,
            Self::Respondent => 0x63,
            Self::Bus => 0x70,
        }
    }

    /// The socket type with this wire id, if it is one we speak.
    pub fn from_wire_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.wire_id() == id)
    }

    /// The only socket type this one accepts as a peer.
    pub const fn peer(self) -> Self {
        match self {
            Self::Pair0 => Self::Pair0,
            Self::Pair1 => Self::Pair1,
            Self::Pub => Self::Sub,
            Self::Sub => Self::Pub,
            Self::Req => Self::Rep,
            Self::Rep => Self::Req,
            Self::Push => Self::Pull,
            Self::Pull => Self::Push,
            Self::Surveyor => Self::Respondent,
            Self::Respondent => Self::Surveyor,
            Self::Bus => Self::Bus,
        }
    }

    /// Whether a peer announcing `wire_id` is acceptable to this socket.
    pub const fn accepts_peer_id(self, wire_id: u16) -> bool {
        self.peer().wire_id() == wire_id
    }

    /// The lowercase protocol name (`req`, `pair1`, ...), used in WebSocket subprotocols.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pair0 => "pair",
            Self::Pair1 => "pair1",
            Self::Pub => "pub",
            Self::Sub => "sub",
            Self::Req => "req",
            Self::Rep => "rep",
            Self::Push => "push",
            Self::Pull => "pull",
            Self::Surveyor => "surveyor",
            Self::Respondent => "respondent",
            Self::Bus => "bus",
        }
    }

    /// The 12-bit protocol number (`wire_id / 16`); a raw device needs both sides to share it.
    pub const fn protocol_number(self) -> u16 {
        self.wire_id() >> 4
    }

    /// Whether a user may send on a cooked socket of this type.
    pub const fn can_send(self) -> bool {
        !matches!(self, Self::Sub | Self::Pull)
    }

    /// Whether a user may receive on a cooked socket of this type.
    pub const fn can_recv(self) -> bool {
        !matches!(self, Self::Pub | Self::Push)
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_the_registry() {
        let ids: Vec<u16> = SocketType::ALL.iter().map(|t| t.wire_id()).collect();
        assert_eq!(ids, [16, 17, 32, 33, 48, 49, 80, 81, 98, 99, 112]);
        for t in SocketType::ALL {
            assert_eq!(SocketType::from_wire_id(t.wire_id()), Some(t));
            assert_eq!(t.peer().peer(), t, "peer relation is symmetric for {t}");
            assert!(t.accepts_peer_id(t.peer().wire_id()));
        }
        assert_eq!(
            SocketType::from_wire_id(0x60),
            None,
            "pre-0.6 surveyor is not spoken"
        );
        assert!(
            !SocketType::Pair0.accepts_peer_id(17),
            "PAIR v0 and v1 do not interoperate"
        );
    }
}
