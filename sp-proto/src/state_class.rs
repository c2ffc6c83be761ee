//! The state classes of the executable state tables (`spec/tables/*.toml`): which row of
//! its role's table a protocol value is in, computed through the public API only.
//!
//! The tables test drives every row through these functions, and the model checker
//! (`sp-model`) uses them to check that every transition it meets is one a table row
//! describes. A class is coarser than the state: it is what the tables name (`idle`,
//! `sent`, `queued`...), and its meaning is given next to the name in each table.

use crate::context::ContextId;
use crate::proto::AnyProtocol;
use crate::protocol::{Protocol, RecvError};
use crate::time::Instant;

/// The table that describes `p`, by role name (the file `spec/tables/<role>.toml`). Every
/// socket type and mode has one; the `Option` leaves room for a mode added without a table.
pub fn table_role(p: &AnyProtocol) -> Option<&'static str> {
    let raw = p.is_raw();
    Some(match p {
        AnyProtocol::Req(_) if raw => "req-raw",
        AnyProtocol::Req(_) => "req",
        AnyProtocol::Rep(_) if raw => "rep-raw",
        AnyProtocol::Rep(_) => "rep",
        AnyProtocol::Respondent(_) if raw => "respondent-raw",
        AnyProtocol::Respondent(_) => "respondent",
        AnyProtocol::Surveyor(_) => "surveyor",
        // Raw PUSH, PULL, PUB and PAIR v0 differ only in keeping the user's header.
        AnyProtocol::Push(_) => "push",
        AnyProtocol::Pull(_) => "pull",
        AnyProtocol::Pub(_) => "pub",
        AnyProtocol::Pair0(_) => "pair0",
        // Raw SUB differs only in not filtering, raw BUS only in its send: their rows are
        // in the same tables, under the `raw-` guards.
        AnyProtocol::Sub(_) => "sub",
        AnyProtocol::Bus(_) => "bus",
        AnyProtocol::Pair1(pair) if pair.is_polyamorous() => "pair1",
        AnyProtocol::Pair1(_) => "pair1-mono",
    })
}

/// What `recv` would answer at `now`, found on a copy.
fn would_recv(p: &AnyProtocol, now: Instant) -> Result<(), RecvError> {
    let mut probe = p.clone();
    probe.recv(now).map(drop)
}

/// The state class of `p` at `now` in its role's table (see [`table_role`]), or `None`
/// when no table covers it.
pub fn state_class(p: &AnyProtocol, now: Instant) -> Option<&'static str> {
    table_role(p)?;
    if p.is_raw()
        && matches!(
            p,
            AnyProtocol::Req(_)
                | AnyProtocol::Rep(_)
                | AnyProtocol::Respondent(_)
                | AnyProtocol::Surveyor(_)
        )
    {
        // A raw REQ, REP, RESPONDENT or SURVEYOR keeps no request or survey state.
        return Some("raw");
    }
    Some(match p {
        // idle / held / sent / replied, for the default context.
        AnyProtocol::Req(r) => {
            if r.is_pending(ContextId::DEFAULT) {
                if p.poll_timeout().is_some() {
                    "sent"
                } else {
                    "held"
                }
            } else if would_recv(p, now).is_ok() {
                "replied"
            } else {
                "idle"
            }
        }
        AnyProtocol::Rep(r) if r.is_pending(ContextId::DEFAULT) => "answering",
        AnyProtocol::Respondent(r) if r.is_pending(ContextId::DEFAULT) => "answering",
        AnyProtocol::Rep(_) | AnyProtocol::Respondent(_) => "idle",
        AnyProtocol::Surveyor(s) if s.current_survey(ContextId::DEFAULT).is_some() => "active",
        AnyProtocol::Surveyor(_) => match would_recv(p, now) {
            Err(RecvError::TimedOut) => "timed_out",
            _ => "idle",
        },
        AnyProtocol::Push(push) if push.can_send() => "writable",
        AnyProtocol::Push(_) => "blocked",
        AnyProtocol::Pull(_) => match would_recv(p, now) {
            Ok(()) => "queued",
            Err(_) => "empty",
        },
        AnyProtocol::Pair1(pair) if !pair.is_polyamorous() => {
            match (pair.pipes().next(), pair.can_send()) {
                (None, _) => "none",
                (Some(_), true) => "writable",
                (Some(_), false) => "busy",
            }
        }
        AnyProtocol::Pair1(pair) => {
            if would_recv(p, now).is_ok() {
                "queued"
            } else if pair.pipes().next().is_none() {
                "none"
            } else {
                "peers"
            }
        }
        AnyProtocol::Pair0(pair) => match (pair.peer(), pair.can_send()) {
            (None, _) => "none",
            (Some(_), true) => "writable",
            (Some(_), false) => "busy",
        },
        AnyProtocol::Pub(publisher) if publisher.pipe_count() == 0 => "none",
        AnyProtocol::Pub(_) => "subscribers",
        AnyProtocol::Sub(sub) if sub.queued() == 0 => "empty",
        AnyProtocol::Sub(_) => "queued",
        AnyProtocol::Bus(bus) => {
            if would_recv(p, now).is_ok() {
                "queued"
            } else if bus.pipes().next().is_none() {
                "none"
            } else {
                "peers"
            }
        }
    })
}
