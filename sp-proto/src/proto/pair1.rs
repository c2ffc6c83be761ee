//! PAIR v1 (0x11, NNG's PAIR): a one-to-one link whose messages carry a 4-byte
//! big-endian hop word (wire-facts §10, §14, §16.9; experiment E12).
//!
//! # Wire behaviour
//!
//! * **Send.** Every message leaves with its hop count incremented, as NNG's pipe sender
//!   does: a cooked send starts from 0, so the first hop carries **1** on the wire
//!   (`00 00 00 01` before the body, as NNG; mangos sends 0). A raw send must supply a
//!   header of exactly 4 bytes holding a value below `0xff` (else
//!   [`SendErrorKind::BadHeader`], NNG's `NNG_EPROTO`); it is transmitted plus one, so a
//!   raw device forwarding what it received adds one hop.
//! * **Receive.** A payload shorter than 4 bytes or a hop word above `0xff` is dropped as
//!   [`DropReason::MalformedHeader`] and **the pipe is kept** (DESIGN.md: one bad message
//!   should not cut a link; NNG closes the pipe here). A hop count above
//!   [`Options::max_ttl`](crate::Options::max_ttl) (default 8) is dropped as [`DropReason::TtlExceeded`]; any value
//!   from 0 up to the TTL is accepted, so both NNG's 1 and mangos' 0 start values work.
//!   Raw receivers get the hop word **as received** in the header (NNG stores it unchanged;
//!   the increment happens on the next send), cooked receivers get an empty header.
//!
//! # Peers
//!
//! Normally exactly one peer, like PAIR v0: a second pipe is refused with
//! [`PipeRefused::Busy`] and a new one may attach once the peer is gone. Sending never
//! queues; with no writable peer `send` returns [`SendErrorKind::WouldBlock`].
//!
//! **Polyamorous mode** ([`Options::pair1_polyamorous`](crate::Options::pair1_polyamorous), cooked sockets only, fixed when the
//! socket is created; NNG's deprecated `nng_pair1_open_poly`) accepts many pipes. Received
//! messages carry [`Message::pipe`] so a reply can be addressed. A send with `msg.pipe` set
//! goes to that pipe only; if it is gone or not writable the message is dropped (counted as
//! [`DropReason::PipeGone`] / [`DropReason::PipeBusy`]) and `send` still returns `Ok`, as
//! NNG does, so one slow peer cannot block the others. A send without a pipe is
//! load-balanced over the writable pipes (send priority, then round-robin), or
//! `WouldBlock` if none is writable. A raw socket ignores the option (NNG has no raw
//! polyamorous mode).

use alloc::collections::BTreeSet;

use bytes::Bytes;

use super::common::{has_core, Core};
use crate::inbound::{Inbound, OnFull};
use crate::message::Message;
use crate::pipes::{PipeId, PipeInfo, PriorityRing};
use crate::protocol::{Config, PipeRefused, Protocol, SendError, SendErrorKind};
use crate::socket_type::SocketType;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::backtrace::first_word;
use crate::wire::hop::HopHeader;

/// The largest hop count a raw sender may hand in (it is incremented before transmission
/// and must still fit the hop byte below NNG's 0xff limit).
const MAX_RAW_SEND_HOPS: u32 = 0xfe;

/// The PAIR v1 state machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pair1 {
    polyamorous: bool,
    /// Every attached pipe.
    pipes: BTreeSet<PipeId>,
    /// The attached pipes that can take a message now.
    writable: PriorityRing,
    inbound: Inbound,
    core: Core,
}

impl Pair1 {
    /// A new PAIR v1 socket. Polyamorous mode is taken from the options here (cooked only)
    /// and does not change afterwards.
    pub fn new(config: Config) -> Self {
        let inbound = Inbound::new(config.options.recv_queue(), OnFull::Pause);
        Self {
            polyamorous: config.options.pair1_polyamorous && !config.raw,
            pipes: BTreeSet::new(),
            writable: PriorityRing::new(),
            inbound,
            core: Core::new(config),
        }
    }

    /// Whether this socket runs in polyamorous mode (many peers).
    pub fn is_polyamorous(&self) -> bool {
        self.polyamorous
    }

    /// The attached pipes, in id order.
    pub fn pipes(&self) -> impl Iterator<Item = PipeId> + '_ {
        self.pipes.iter().copied()
    }

    /// Whether some pipe can take a message now.
    pub fn can_send(&self) -> bool {
        self.writable.any_active()
    }

    /// The hop count the user's message starts with: 0 for cooked sends, the header's
    /// value for raw sends (validated).
    fn outgoing_hops(&self, msg: &Message) -> Option<u8> {
        if !self.core.raw {
            return Some(0);
        }
        if msg.header.len() != 4 {
            return None;
        }
        first_word(&msg.header)
            .filter(|&w| w <= MAX_RAW_SEND_HOPS)
            .and_then(|w| u8::try_from(w).ok())
    }
}

has_core!(Pair1 { receiver: inbound });

impl Protocol for Pair1 {
    fn socket_type(&self) -> SocketType {
        SocketType::Pair1
    }

    fn handle_pipe_added(
        &mut self,
        _now: Instant,
        pipe: PipeId,
        info: PipeInfo,
    ) -> Result<(), PipeRefused> {
        PipeRefused::if_attached(self.pipes.contains(&pipe), pipe)?;
        if !self.polyamorous && !self.pipes.is_empty() {
            return Err(PipeRefused::Busy);
        }
        self.writable.attach_writable(pipe, info.send_priority)?;
        self.pipes.insert(pipe);
        self.inbound.add_pipe(pipe, info.recv_priority);
        Ok(())
    }

    fn handle_pipe_removed(&mut self, _now: Instant, pipe: PipeId) {
        if self.pipes.remove(&pipe) {
            self.writable.remove(pipe);
            self.inbound.remove_pipe(pipe);
        }
    }

    fn handle_message(&mut self, _now: Instant, pipe: PipeId, payload: Bytes) {
        self.core.arrived(payload.len());
        if !self.pipes.contains(&pipe) {
            self.core.dropped(DropReason::PipeClosed);
            return;
        }
        let Ok(parsed) = HopHeader::parse(&payload) else {
            self.core.dropped(DropReason::MalformedHeader);
            return;
        };
        if parsed.hops > self.core.options.max_ttl() {
            self.core.dropped(DropReason::TtlExceeded);
            return;
        }
        let header = if self.core.raw {
            payload.slice(..4)
        } else {
            Bytes::new()
        };
        let msg = Message {
            header,
            body: parsed.body,
            pipe: Some(pipe),
        };
        self.core.receive(&mut self.inbound, pipe, msg);
    }

    fn handle_writable(&mut self, _now: Instant, pipe: PipeId) {
        self.writable.activate(pipe);
    }

    fn send(&mut self, _now: Instant, msg: Message) -> Result<(), SendError> {
        let msg = self.core.refuse_without_peers(self.pipes.len(), msg)?;
        let Some(hops) = self.outgoing_hops(&msg) else {
            return Err(SendError::new(SendErrorKind::BadHeader, msg));
        };
        let pipe = match msg.pipe.filter(|_| self.polyamorous) {
            Some(addressed) if !self.pipes.contains(&addressed) => {
                self.core.dropped(DropReason::PipeGone);
                return Ok(());
            }
            Some(addressed) if !self.writable.is_active(addressed) => {
                self.core.dropped(DropReason::PipeBusy);
                return Ok(());
            }
            Some(addressed) => {
                self.writable.deactivate(addressed);
                addressed
            }
            None => match self.writable.take() {
                Some(p) => p,
                None => return Err(SendError::new(SendErrorKind::WouldBlock, msg)),
            },
        };
        let out = Message {
            header: HopHeader::encode(hops + 1),
            body: msg.body,
            pipe: None,
        };
        self.core.transmit(pipe, out);
        Ok(())
    }
}
