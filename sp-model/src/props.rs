//! The properties: each rule of the spec that the checker verifies, in one place, named
//! after the section that states it. Safety properties ("always") judge every state;
//! liveness properties ("eventually") judge every path that ends, and are checked only
//! under the fair schedule ([`Schedule::Fair`]), where a path ends only when nothing but a
//! timer could happen and no timer is left.

use bytes::Bytes;
use sp_proto::{AnyProtocol, DropReason, Protocol, SocketType};
use stateright::Property;

use crate::model::SpModel;
use crate::spec::{NodeSpec, Role, Schedule, Spec};
use crate::state::{Got, State};

/// REQ delivers only the reply to the request in progress, and at most one per request;
/// nothing after a newer request replaced it.
pub const REQ_CURRENT_REPLY: &str =
    "sp-reqrep 3.2: REQ delivers only the current request's reply, at most once";
/// REP and RESPONDENT answer on the pipe the request came from, with its whole backtrace.
pub const REPLY_ON_ORIGIN: &str =
    "sp-reqrep 4.1, sp-survey 4.1: a reply leaves by the request's pipe with its whole backtrace";
/// SURVEYOR delivers only responses to the survey in progress, before its deadline.
pub const SURVEY_CURRENT: &str =
    "sp-survey 3.2: SURVEYOR delivers only current-survey responses, before the deadline";
/// At most one response per respondent per survey.
pub const SURVEY_ONCE: &str =
    "sp-survey 3.2: SURVEYOR delivers at most one response per respondent per survey";
/// PUSH never sends on a lower-priority pipe while a higher-priority one can take it.
pub const PUSH_PRIORITY: &str =
    "sp-pipeline 3.1: PUSH never passes over a writable higher-priority pipe";
/// SUB delivers only messages a subscription prefixes, in each publisher's order.
pub const SUB_FILTER_ORDER: &str =
    "sp-pubsub 5.1: SUB delivers only subscribed messages, in each publisher's order";
/// A back-pressuring SUB drops nothing because a queue is full and delivers each
/// publisher's messages in the order published.
pub const SUB_BACK_PRESSURE: &str =
    "sp-pubsub 5.3 (PUB-R5): a back-pressuring SUB drops nothing for a full queue and delivers in publisher order";
/// BUS never sends a message back on the pipe it came from.
pub const BUS_NO_ECHO: &str = "sp-bus 4.1: BUS never sends a message back to its origin pipe";
/// PAIR has at most one peer.
pub const PAIR_ONE_PEER: &str = "sp-pair 3: PAIR has at most one peer";
/// A polyamorous PAIR v1 socket sends an addressed message only on the pipe it names.
pub const POLY_ADDRESSED: &str =
    "sp-pair 3.4 (PAIR-S4): a polyamorous PAIR v1 sends an addressed message only to its pipe";
/// A raw PAIR v1 device forwards only messages within its hop limit, adding one hop.
pub const PAIR1_TTL: &str =
    "sp-pair 4: a PAIR v1 device forwards only within the TTL, adding one hop";
/// A raw REQ/REP or SURVEYOR/RESPONDENT device forwards a request or survey only when its
/// backtrace was within the hop limit, and adds exactly one word to it.
pub const DEVICE_TTL: &str =
    "sp-reqrep 4.3, sp-survey 4.3: a device forwards only within the TTL, adding one backtrace word";
/// PULL's fair queue holds at most the receive queue length per pipe.
pub const PULL_QUEUE_BOUNDED: &str =
    "sp-pipeline 4.1: PULL queues at most recv_queue messages per pipe";
/// A receive-only socket accounts for every message it was handed.
pub const DROPS_COUNTED: &str =
    "sp-overview 8: every message a receiver was handed is delivered, queued, or counted dropped";
/// A closed socket hands its user nothing more and transmits nothing more.
pub const CLOSED_SILENT: &str =
    "sp-overview 14.3 (OV-R5): a closed socket delivers nothing and sends nothing more";
/// A broken link's dialer eventually reconnects it (its backoff fires).
pub const DIALER_RECONNECTS: &str =
    "sp-overview 10: a broken link's dialer eventually reconnects (its backoff fires)";
/// Every request is eventually answered (resends included).
pub const REQ_ANSWERED: &str = "sp-reqrep 3.2: every request is eventually answered";
/// Every survey eventually ends.
pub const SURVEY_ENDS: &str = "sp-survey 3.2: every survey eventually ends";
/// A PUSH backlog drains to a live PULL.
pub const PUSH_DRAINS: &str = "sp-pipeline 3.1: a PUSH backlog drains to a live PULL";

/// The properties that apply to `spec`: those whose socket types it has, plus the
/// liveness properties under the fair schedule.
pub fn all(spec: &Spec) -> Vec<Property<SpModel>> {
    let has = |t: SocketType| spec.nodes.iter().any(|n| n.socket_type == t && !n.raw);
    let has_role = |r: fn(&Role) -> bool| spec.nodes.iter().any(|n| r(&n.role));
    let mut v = Vec::new();
    if has(SocketType::Req) {
        v.push(Property::always(REQ_CURRENT_REPLY, req_current_reply));
    }
    if spec.nodes.iter().any(backtrace_server) {
        v.push(Property::always(REPLY_ON_ORIGIN, reply_on_origin));
    }
    if has(SocketType::Surveyor) {
        v.push(Property::always(SURVEY_CURRENT, survey_current));
        v.push(Property::always(SURVEY_ONCE, survey_once));
    }
    if has(SocketType::Push) {
        v.push(Property::always(PUSH_PRIORITY, push_priority));
    }
    if has(SocketType::Sub) {
        v.push(Property::always(SUB_FILTER_ORDER, sub_filter_order));
    }
    if spec.nodes.iter().any(|n| n.back_pressure) {
        v.push(Property::always(SUB_BACK_PRESSURE, sub_back_pressure));
    }
    if has_role(|r| matches!(r, Role::Reflector)) {
        v.push(Property::always(BUS_NO_ECHO, bus_no_echo));
    }
    if spec.nodes.iter().any(is_mono_pair) {
        v.push(Property::always(PAIR_ONE_PEER, pair_one_peer));
    }
    if spec.nodes.iter().any(|n| n.polyamorous) {
        v.push(Property::always(POLY_ADDRESSED, poly_addressed));
    }
    if spec.nodes.iter().any(pair1_device) {
        v.push(Property::always(PAIR1_TTL, pair1_ttl));
    }
    if spec.nodes.iter().any(backtrace_device_in) {
        v.push(Property::always(DEVICE_TTL, device_ttl));
    }
    if has_role(|r| matches!(r, Role::Sink)) {
        v.push(Property::always(DROPS_COUNTED, drops_counted));
    }
    if has(SocketType::Pull) {
        v.push(Property::always(PULL_QUEUE_BOUNDED, pull_queue_bounded));
    }
    if spec.nodes.iter().any(|n| n.may_close) {
        v.push(Property::always(CLOSED_SILENT, closed_silent));
    }
    if spec.schedule == Schedule::Fair {
        if has(SocketType::Req) {
            v.push(Property::eventually(REQ_ANSWERED, req_answered));
        }
        if has(SocketType::Surveyor) {
            v.push(Property::eventually(SURVEY_ENDS, survey_ends));
        }
        if has(SocketType::Push) {
            v.push(Property::eventually(PUSH_DRAINS, push_drains));
        }
        if spec.reconnect.is_some() {
            // Judged where the fair schedule has nothing left to do: every link is up
            // there. ("Eventually" in stateright holds once it held on a path, and every
            // link is up at the start.)
            v.push(Property::always(DIALER_RECONNECTS, dialer_reconnects));
        }
    }
    v
}

/// The cooked nodes of type `t` with their index.
fn nodes_of<'a>(
    m: &'a SpModel,
    st: &'a State,
    t: SocketType,
) -> impl Iterator<Item = (usize, &'a crate::state::Node)> + 'a {
    st.nodes
        .iter()
        .enumerate()
        .filter(move |(i, _)| m.spec.nodes[*i].socket_type == t && !m.spec.nodes[*i].raw)
}

/// The message a received reply or response must answer: the last one the user had sent
/// on the context it arrived on, when it arrived.
fn answered_on(m: &SpModel, node: usize, g: &Got) -> Option<u8> {
    m.latest_on(node, g.ctx, g.sent)
}

fn req_current_reply(m: &SpModel, st: &State) -> bool {
    nodes_of(m, st, SocketType::Req).all(|(i, n)| {
        // Per context: the reply to its current request, each request answered once.
        let mut last: Vec<Option<u8>> = vec![None; usize::from(m.spec.nodes[i].context_slots())];
        n.user.got.iter().all(|g| {
            let Some(k) = answered_on(m, i, g) else {
                return false;
            };
            let Some(slot) = last.get_mut(usize::from(g.ctx)) else {
                return false;
            };
            let ok = g.body == m.body(i, k) && *slot < Some(k);
            *slot = Some(k);
            ok
        })
    })
}

/// The backtrace at the front of `payload`: words up to and including the first with bit
/// 31 set.
fn backtrace(payload: &[u8]) -> Option<&[u8]> {
    let words = payload.chunks_exact(4);
    let mut len = 0;
    for w in words {
        len += 4;
        if w[0] & 0x80 != 0 {
            return Some(&payload[..len]);
        }
    }
    None
}

/// A server that answers by backtrace (REP, RESPONDENT; not a polyamorous PAIR v1,
/// which addresses its answers by pipe).
fn backtrace_server(n: &NodeSpec) -> bool {
    n.role == Role::Server && matches!(n.socket_type, SocketType::Rep | SocketType::Respondent)
}

fn reply_on_origin(m: &SpModel, st: &State) -> bool {
    st.nodes.iter().enumerate().all(|(i, n)| {
        !backtrace_server(&m.spec.nodes[i])
            || n.user.wire_out.iter().all(|(link, out)| {
                backtrace(out).is_some_and(|bt| {
                    n.user
                        .wire_in
                        .iter()
                        .any(|(l, inp)| l == link && backtrace(inp) == Some(bt))
                })
            })
    })
}

fn survey_current(m: &SpModel, st: &State) -> bool {
    nodes_of(m, st, SocketType::Surveyor).all(|(i, n)| {
        n.user.got.iter().all(|g| {
            let Some(k) = answered_on(m, i, g) else {
                return false;
            };
            let mut prefix = m.body(i, k).to_vec();
            prefix.push(b'|');
            let deadline = n.user.sent_at[usize::from(k)] + m.spec.survey_deadline;
            g.body.starts_with(&prefix) && g.at < deadline
        })
    })
}

fn survey_once(m: &SpModel, st: &State) -> bool {
    nodes_of(m, st, SocketType::Surveyor).all(|(_, n)| {
        let mut bodies: Vec<&Bytes> = n.user.got.iter().map(|g| &g.body).collect();
        bodies.sort();
        bodies.windows(2).all(|w| w[0] != w[1])
    })
}

fn push_priority(m: &SpModel, st: &State) -> bool {
    nodes_of(m, st, SocketType::Push).all(|(_, n)| n.user.priority_inversions == 0)
}

fn sub_filter_order(m: &SpModel, st: &State) -> bool {
    nodes_of(m, st, SocketType::Sub).all(|(_, n)| {
        // A subscription in force when it arrived matched it.
        n.user
            .got
            .iter()
            .all(|g| n.user.admissible.contains(&g.body))
            && in_publisher_order(n)
    })
}

/// Every back-pressuring SUB's queue-full drop counter is zero, and it delivered each
/// publisher's messages in order.
fn sub_back_pressure(m: &SpModel, st: &State) -> bool {
    nodes_of(m, st, SocketType::Sub)
        .filter(|(i, _)| m.spec.nodes[*i].back_pressure)
        .all(|(_, n)| {
            n.machine.proto().stats().dropped(DropReason::QueueFull) == 0 && in_publisher_order(n)
        })
}

/// A SUB's user received each publisher's publications (`topic:publisher:k`) in
/// increasing `k`.
fn in_publisher_order(n: &crate::state::Node) -> bool {
    let mut last: Vec<(&[u8], u32)> = Vec::new();
    n.user.got.iter().all(|g| {
        // "topic:publisher:k"
        let mut parts = g.body.split(|&b| b == b':');
        let (Some(_), Some(publisher), Some(k)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let Some(k) = std::str::from_utf8(k)
            .ok()
            .and_then(|k| k.parse::<u32>().ok())
        else {
            return false;
        };
        match last.iter_mut().find(|(p, _)| *p == publisher) {
            Some((_, prev)) if *prev >= k => false,
            Some((_, prev)) => {
                *prev = k;
                true
            }
            None => {
                last.push((publisher, k));
                true
            }
        }
    })
}

fn bus_no_echo(m: &SpModel, st: &State) -> bool {
    st.nodes.iter().enumerate().all(|(i, n)| {
        m.spec.nodes[i].role != Role::Reflector
            || n.user
                .wire_out
                .iter()
                .all(|out| !n.user.wire_in.contains(out))
    })
}

/// A PAIR node that may have only one peer (not polyamorous).
fn is_mono_pair(n: &NodeSpec) -> bool {
    matches!(n.socket_type, SocketType::Pair0 | SocketType::Pair1) && !n.polyamorous
}

fn pair_one_peer(m: &SpModel, st: &State) -> bool {
    (0..st.nodes.len())
        .filter(|&i| is_mono_pair(&m.spec.nodes[i]))
        .all(|i| {
            m.spec
                .links
                .iter()
                .enumerate()
                .filter(|(j, l)| st.links[*j].up && (l.a == i || l.b == i))
                .count()
                <= 1
        })
}

/// A polyamorous server answers each message to the pipe it came from, and its peers'
/// bodies name them (`p1:0`): so everything it transmits on a link carries the body of
/// the node at that link's other end. A reply addressed to a pipe that is gone (the link
/// broke, or broke and came back with a new pipe) must be dropped, not sent elsewhere.
fn poly_addressed(m: &SpModel, st: &State) -> bool {
    st.nodes.iter().enumerate().all(|(i, n)| {
        !m.spec.nodes[i].polyamorous
            || n.user.wire_out.iter().all(|(link, out)| {
                let l = &m.spec.links[usize::from(*link)];
                let peer = if l.a == i { l.b } else { l.a };
                let prefix = format!("{}:", m.spec.nodes[peer].name);
                hops(out).is_some_and(|(_, body)| body.starts_with(prefix.as_bytes()))
            })
    })
}

/// A PAIR v1 payload's hop count and body.
fn hops(payload: &[u8]) -> Option<(usize, &[u8])> {
    let word = payload.get(..4)?;
    let count = u32::from_be_bytes(word.try_into().ok()?);
    Some((usize::try_from(count).ok()?, &payload[4..]))
}

fn pair1_ttl(m: &SpModel, st: &State) -> bool {
    forwards_within_ttl(m, st, pair1_device, hops)
}

/// Whether a node is one side of a raw PAIR v1 device.
fn pair1_device(n: &NodeSpec) -> bool {
    n.socket_type == SocketType::Pair1 && matches!(n.role, Role::Forward { .. })
}

/// Whether a node is the inward side of a backtrace device: a raw REP or RESPONDENT
/// that hands what it receives to its device's other socket.
fn backtrace_device_in(n: &NodeSpec) -> bool {
    matches!(n.role, Role::Forward { .. })
        && matches!(n.socket_type, SocketType::Rep | SocketType::Respondent)
}

/// The number of backtrace words at the front of `payload`, and the body after them.
fn backtrace_words(payload: &[u8]) -> Option<(usize, &[u8])> {
    let bt = backtrace(payload)?;
    Some((bt.len() / 4, &payload[bt.len()..]))
}

fn device_ttl(m: &SpModel, st: &State) -> bool {
    forwards_within_ttl(m, st, backtrace_device_in, backtrace_words)
}

/// Reads a forwarded payload's hop count (hop word or backtrace words) and its body.
type HopReader = fn(&[u8]) -> Option<(usize, &[u8])>;

/// The device rule shared by PAIR v1 and the backtrace devices: for every device side
/// `f` that `inward` selects, everything the device's other socket sent came in at `f`
/// (same body) with a hop count, as `hops` reads it, within `max_ttl`, and left with one
/// hop more.
fn forwards_within_ttl(
    m: &SpModel,
    st: &State,
    inward: fn(&NodeSpec) -> bool,
    hops: HopReader,
) -> bool {
    let ttl = usize::from(m.spec.max_ttl);
    m.spec.nodes.iter().enumerate().all(|(f, spec)| {
        let Role::Forward { to } = spec.role else {
            return true;
        };
        if !inward(spec) {
            return true;
        }
        st.nodes[usize::from(to)]
            .user
            .wire_out
            .iter()
            .all(|(_, out)| {
                let Some((out_hops, body)) = hops(out) else {
                    return false;
                };
                st.nodes[f].user.wire_in.iter().any(|(_, inp)| {
                    hops(inp).is_some_and(|(in_hops, b)| {
                        b == body && in_hops <= ttl && out_hops == in_hops + 1
                    })
                })
            })
    })
}

/// For receive-only nodes (sinks): messages handed in = messages the user received +
/// messages still queued + drops counted in the statistics, whatever their reason.
fn drops_counted(m: &SpModel, st: &State) -> bool {
    st.nodes.iter().enumerate().all(|(i, n)| {
        m.spec.nodes[i].role != Role::Sink
            || usize::from(n.user.handed_in)
                == n.user.got.len()
                    + n.machine.queued(st.now)
                    + n.machine.proto().stats().dropped_total() as usize
    })
}

fn dialer_reconnects(m: &SpModel, st: &State) -> bool {
    // A closed socket's links stay down: nothing dials it any more.
    let closed = |i: usize| st.nodes[i].user.closed;
    let up_or_closed = |(j, l): (usize, &crate::state::Link)| {
        let sl = &m.spec.links[j];
        l.up || closed(sl.a) || closed(sl.b)
    };
    st.links.iter().enumerate().all(up_or_closed) || !m.quiescent(st)
}

/// A closed node handed its user nothing and transmitted nothing after the close, and
/// its protocol holds nothing more for a receive (what it held was discarded; the drop
/// count balance, [`DROPS_COUNTED`], checks that it was counted).
fn closed_silent(_: &SpModel, st: &State) -> bool {
    st.nodes
        .iter()
        .all(|n| !n.user.closed || (n.user.after_close == 0 && n.machine.queued(st.now) == 0))
}

/// The model pauses deliveries on `PausePipe` at once, so a PULL's queue (counted on a
/// copy) never exceeds the configured length for each pipe it ever had: messages of a
/// removed pipe stay receivable (the checker showed that a per-attached-pipe bound is
/// wrong), so every pipe attached so far counts, each attach of a link being a new pipe.
fn pull_queue_bounded(m: &SpModel, st: &State) -> bool {
    nodes_of(m, st, SocketType::Pull).all(|(i, n)| {
        let pipes: usize = m
            .spec
            .links
            .iter()
            .enumerate()
            .filter(|(_, l)| l.a == i || l.b == i)
            .map(|(j, _)| usize::from(st.links[j].generation))
            .sum();
        n.machine.queued(st.now) <= m.spec.recv_queue * pipes
    })
}

/// Every client of type `t` has sent all it will send.
fn all_sent(m: &SpModel, st: &State, t: SocketType) -> bool {
    nodes_of(m, st, t).all(|(i, n)| match m.spec.nodes[i].role {
        Role::Client { sends } => n.user.sent == sends,
        _ => true,
    })
}

fn req_answered(m: &SpModel, st: &State) -> bool {
    all_sent(m, st, SocketType::Req)
        && nodes_of(m, st, SocketType::Req).all(|(i, n)| {
            // Each context's last request has its reply.
            (0..m.spec.nodes[i].context_slots()).all(|ctx| {
                m.latest_on(i, ctx, n.user.sent).is_none_or(|k| {
                    n.user
                        .got
                        .iter()
                        .any(|g| g.ctx == ctx && g.body == m.body(i, k))
                })
            })
        })
}

fn survey_ends(m: &SpModel, st: &State) -> bool {
    all_sent(m, st, SocketType::Surveyor)
        && nodes_of(m, st, SocketType::Surveyor).all(|(_, n)| match n.machine.proto() {
            AnyProtocol::Surveyor(s) => n
                .machine
                .context_ids()
                .into_iter()
                .all(|ctx| s.current_survey(ctx).is_none()),
            _ => true,
        })
}

fn push_drains(m: &SpModel, st: &State) -> bool {
    let sent: usize = nodes_of(m, st, SocketType::Push)
        .map(|(_, n)| usize::from(n.user.sent))
        .sum();
    let got: usize = nodes_of(m, st, SocketType::Pull)
        .map(|(_, n)| n.user.got.len())
        .sum();
    all_sent(m, st, SocketType::Push) && got + usize::from(st.lost) == sent
}
