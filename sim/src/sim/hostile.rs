//! A hostile host: bytes written straight onto a socket's pipes, past its protocol, to
//! show that receivers refuse oversize and malformed frames, count why, and go on.

use bytes::{BufMut, Bytes, BytesMut};
use sp_proto::wire::frame::{encode_frame, FrameFormat};

use super::{Ev, Sim};
use crate::scenario::HostileFrame;
use crate::trace::What;
use crate::SimError;

/// The bytes of a hostile frame, as the TCP mapping frames them.
fn hostile_bytes(frame: HostileFrame) -> Bytes {
    let mut out = BytesMut::new();
    match frame {
        HostileFrame::Oversize => {
            // A length prefix announcing 4 GiB, then the first bytes of the "message".
            out.put_u64(1 << 32);
            out.put_slice(b"xx");
        }
        HostileFrame::Malformed => encode_frame(FrameFormat::Tcp, &[], &[0, 1], &mut out),
    }
    out.freeze()
}

impl Sim {
    /// The host of socket `name` writes a hostile `frame` onto every pipe of the socket,
    /// in stream order after what it sent before (not counted against the link's
    /// capacity: the protocol did not write it).
    pub fn hostile(&mut self, name: &str, frame: HostileFrame) -> Result<(), SimError> {
        let (h, s) = self.find_up(name)?;
        let bytes = hostile_bytes(frame);
        let kind = match frame {
            HostileFrame::Oversize => "hostile_oversize",
            HostileFrame::Malformed => "hostile_malformed",
        };
        self.note(h, Some(s), What::Event(kind));
        let pipes: Vec<_> = self.hosts[h].sockets[s].pipes.values().copied().collect();
        for (c, from) in pipes {
            let Some(peer) = self.conns.get(&c).and_then(|cn| cn.ends[1 - from]) else {
                continue;
            };
            let arrival = self.now + self.delay(h, peer.host);
            let Some(cn) = self.conns.get_mut(&c) else {
                continue;
            };
            let dir = &mut cn.dirs[from];
            let arrival = arrival.max(dir.last_arrival);
            dir.last_arrival = arrival;
            let ev = Ev::Frame {
                c,
                to: 1 - from,
                bytes: bytes.clone(),
                counted: false,
            };
            self.schedule(arrival, ev);
        }
        self.settle();
        Ok(())
    }
}
