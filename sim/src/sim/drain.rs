//! Draining: the sans-IO contract, applied to every socket an input touched.

use bytes::BytesMut;
use sp_proto::wire::frame::{encode_frame, FrameFormat};
use sp_proto::{Event, Output, Protocol};

use super::{Ev, Sim};
use crate::def::RecvMode;
use crate::trace::What;

impl Sim {
    /// Drains every socket touched since the last settle, until all are quiet.
    pub(super) fn settle(&mut self) {
        while let Some((h, s)) = self.dirty.pop_first() {
            if self.hosts[h].up && s < self.hosts[h].sockets.len() {
                self.drain(h, s);
            }
        }
    }

    /// The sans-IO contract: after any input, drain transmits and events until both are
    /// empty, let the application receive, then arm the socket's timer.
    pub(super) fn drain(&mut self, h: usize, s: usize) {
        for _ in 0..1_000_000 {
            let mut progress = false;
            let mut resumed = Vec::new();
            let now = self.now;
            loop {
                let sock = &mut self.hosts[h].sockets[s];
                let Some(out) = sock.drain.next(&mut sock.proto, now) else {
                    break;
                };
                progress = true;
                match out {
                    Output::Transmit(t) => {
                        let Some(&(c, end)) = sock.pipes.get(&t.pipe) else {
                            continue;
                        };
                        let mut framed = BytesMut::new();
                        encode_frame(FrameFormat::Tcp, &t.msg.header, &t.msg.body, &mut framed);
                        self.transmit(c, end, framed.freeze());
                    }
                    Output::Event(Event::PausePipe(p)) => {
                        sock.paused.insert(p);
                    }
                    Output::Event(Event::ResumePipe(p)) => {
                        sock.paused.remove(&p);
                        resumed.push(p);
                    }
                    Output::Event(Event::RequestResent { .. }) => {
                        self.note(h, Some(s), What::Event("request_resent"));
                    }
                    Output::Event(Event::SurveyExpired) => {
                        self.note(h, Some(s), What::Event("survey_expired"));
                    }
                    Output::Event(_) => self.note(h, Some(s), What::Event("other")),
                }
            }
            for p in resumed {
                progress |= self.flush_backlog(h, s, p);
            }
            let sock = &self.hosts[h].sockets[s];
            if !sock.proto.is_drained() {
                continue; // the messages just delivered left outputs: drain them first
            }
            let partner = self.hosts[h].device.as_ref().and_then(|d| d.partner(s));
            if let Some(other) = partner {
                // A device's socket: its process forwards instead of receiving.
                progress |= self.pump_device(h, s, other);
            } else if sock.def.recv == RecvMode::Auto
                && !sock.closed
                && sock.proto.socket_type().can_recv()
                && !sock.reply_pending
            {
                // A batch of receives (the socket is drained), drained after the batch.
                let now = self.now;
                while !self.hosts[h].sockets[s].reply_pending {
                    let Ok(m) = self.hosts[h].sockets[s].proto.recv(now) else {
                        break;
                    };
                    progress = true;
                    self.record_recv(h, s, m, 0);
                }
                // Then what each open context has (a reply, survey responses).
                let ids: Vec<(u32, sp_proto::ContextId)> = self.hosts[h].sockets[s]
                    .contexts
                    .iter()
                    .map(|(&k, &id)| (k, id))
                    .collect();
                for (k, id) in ids {
                    use sp_proto::Contexts;
                    while let Ok(m) = self.hosts[h].sockets[s].proto.recv_in(id, now) {
                        progress = true;
                        self.record_recv(h, s, m, k);
                    }
                }
            }
            if !progress {
                break;
            }
        }
        self.note_drops(h, s);
        let now = self.now;
        let inc = self.hosts[h].inc;
        let sock = &mut self.hosts[h].sockets[s];
        if sock.closed {
            return; // a closed socket's timers never fire
        }
        if let Some(t) = sock.proto.poll_timeout() {
            if sock.armed != Some(t) {
                sock.armed = Some(t);
                self.schedule(t.max(now), Ev::Timer { h, s, inc });
            }
        }
    }
}
