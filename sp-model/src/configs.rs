//! The standard configurations: each protocol in a network with more than two nodes
//! where it has more than two roles, with the faults that its rules must survive.
//!
//! Message duplication is injected only where the protocol defends against it (request
//! and survey ids): SP runs over ordered, reliable streams, so a copy can only come from a
//! resend, and PUB/SUB or PUSH/PULL have no way (and no duty) to notice one.

use std::time::Duration;

use sp_proto::{Priority, SocketType};

use crate::spec::{Faults, LinkSpec, NodeSpec, Role, Schedule, Spec};

fn prio(p: u8) -> Priority {
    Priority::new(p).expect("1..=16")
}

/// The dialers' reconnect backoff in the fair configurations that break a link: 10 to
/// 40 ms.
const BACKOFF: Option<(Duration, Duration)> =
    Some((Duration::from_millis(10), Duration::from_millis(40)));

/// `s` under the fair schedule, named `name`, its first node's user sending once (a
/// liveness property is judged on one request or survey).
fn fair_once(mut s: Spec, name: &'static str) -> Spec {
    s.name = name;
    s.nodes[0].role = Role::Client { sends: 1 };
    s.schedule = Schedule::Fair;
    s
}

/// Node 0 linked to each of nodes 1..=`leaves`, all attached, default priorities.
fn star(leaves: usize) -> Vec<LinkSpec> {
    (1..=leaves).map(|leaf| LinkSpec::new(0, leaf)).collect()
}

/// 1 REQ, 2 REPs; the REQ sends two requests (the second cancels the first if it is
/// still open). Faults: a loss, a duplicate, a broken and a re-attached link.
pub fn req_rep() -> Spec {
    let mut s = Spec::new(
        "req-rep",
        vec![
            NodeSpec::new("req", SocketType::Req, Role::Client { sends: 2 }),
            NodeSpec::new("rep1", SocketType::Rep, Role::Server),
            NodeSpec::new("rep2", SocketType::Rep, Role::Server),
        ],
        star(2),
    );
    s.faults = Faults {
        losses: 1,
        duplicates: 1,
        detaches: 1,
        attaches: 1,
    };
    s.horizon = Duration::from_millis(250);
    s
}

/// [`req_rep`] under the fair schedule, for liveness: one request, a loss and a broken
/// link that its dialer's backoff (10 to 40 ms) brings back.
pub fn req_rep_fair() -> Spec {
    let mut s = fair_once(req_rep(), "req-rep (fair)");
    s.reconnect = BACKOFF;
    s.faults = Faults {
        losses: 1,
        duplicates: 0,
        detaches: 1,
        attaches: 0,
    };
    s
}

/// 2 REQs, 1 REP: the REP has two pipes, so answering on the wrong one is possible;
/// `req1`'s user may close its socket (its reply may be queued or on the way). Faults: a
/// loss and a broken link.
pub fn rep_fan_in() -> Spec {
    let mut s = Spec::new(
        "rep fan-in",
        vec![
            NodeSpec::new("req1", SocketType::Req, Role::Client { sends: 1 }),
            NodeSpec::new("req2", SocketType::Req, Role::Client { sends: 1 }),
            NodeSpec::new("rep", SocketType::Rep, Role::Server),
        ],
        vec![LinkSpec::new(0, 2), LinkSpec::new(1, 2)],
    );
    s.nodes[0].may_close = true;
    s.faults = Faults {
        losses: 1,
        detaches: 1,
        ..Faults::default()
    };
    s
}

/// 1 SURVEYOR, 3 RESPONDENTs; two surveys, and the surveyor's user may close its
/// socket. Faults: a loss. No duplicates: the survey
/// protocol has no resend, and a surveyor cannot tell a duplicated response from a
/// device chain's second respondent behind the same pipe, so a copy made by the network
/// is not something its rules defend against (see the module docs).
pub fn survey() -> Spec {
    let mut s = Spec::new(
        "surveyor-respondent",
        vec![
            NodeSpec::new("surveyor", SocketType::Surveyor, Role::Client { sends: 2 }),
            NodeSpec::new("resp1", SocketType::Respondent, Role::Server),
            NodeSpec::new("resp2", SocketType::Respondent, Role::Server),
            NodeSpec::new("resp3", SocketType::Respondent, Role::Server),
        ],
        star(3),
    );
    s.nodes[0].may_close = true;
    s.faults = Faults {
        losses: 1,
        ..Faults::default()
    };
    s
}

/// [`survey`] under the fair schedule: one survey, a broken link that comes back.
pub fn survey_fair() -> Spec {
    let mut s = fair_once(survey(), "surveyor-respondent (fair)");
    s.nodes[0].may_close = false;
    s.faults = Faults {
        detaches: 1,
        ..Faults::default()
    };
    s
}

/// REQ and REP with contexts: the REQ's user opens two contexts and sends three
/// requests, the first and third on context 0 (the third cancels the first if it is still
/// open) and the second on context 1, so replies for both contexts are in flight at once;
/// the REP answers on two contexts of its own. Faults: a loss and a duplicate.
pub fn req_rep_contexts() -> Spec {
    let mut req = NodeSpec::new("req", SocketType::Req, Role::Client { sends: 3 });
    req.contexts = 2;
    let mut rep = NodeSpec::new("rep", SocketType::Rep, Role::Server);
    rep.contexts = 2;
    let mut s = Spec::new("req-rep (contexts)", vec![req, rep], star(1));
    s.faults = Faults {
        losses: 1,
        duplicates: 1,
        ..Faults::default()
    };
    s.horizon = Duration::from_millis(250);
    s
}

/// [`req_rep_contexts`] under the fair schedule, for liveness: every context's last
/// request is answered, with a loss on the way.
pub fn req_rep_contexts_fair() -> Spec {
    let mut s = req_rep_contexts();
    s.name = "req-rep (contexts, fair)";
    s.schedule = Schedule::Fair;
    s.faults = Faults {
        losses: 1,
        ..Faults::default()
    };
    s
}

/// A SURVEYOR whose user runs two surveys at once on two contexts, and two
/// RESPONDENTs. Faults: a loss. (No duplicate, as in [`survey`]: a survey id tells
/// surveys apart, not two copies of one respondent's answer, and a respondent never
/// answers twice over its stream; the first run with a duplicate showed the copy
/// delivered, as nanomsg and NNG would too.)
pub fn survey_contexts() -> Spec {
    let mut surveyor = NodeSpec::new("surveyor", SocketType::Surveyor, Role::Client { sends: 2 });
    surveyor.contexts = 2;
    let mut s = Spec::new(
        "surveyor-respondent (contexts)",
        vec![
            surveyor,
            NodeSpec::new("resp1", SocketType::Respondent, Role::Server),
            NodeSpec::new("resp2", SocketType::Respondent, Role::Server),
        ],
        star(2),
    );
    s.faults = Faults {
        losses: 1,
        ..Faults::default()
    };
    s
}

/// [`survey_contexts`] under the fair schedule, for liveness: both contexts' surveys
/// end, with a broken link on the way.
pub fn survey_contexts_fair() -> Spec {
    let mut s = survey_contexts();
    s.name = "surveyor-respondent (contexts, fair)";
    s.schedule = Schedule::Fair;
    s.faults = Faults {
        detaches: 1,
        ..Faults::default()
    };
    s
}

/// 2 PUSH, 2 PULL. `push1` prefers `pull1` (priority 1) over `pull2` (2); `push2` gives
/// both the default; `pull1`'s user may close its socket. Faults: a broken link and one
/// attach.
pub fn pipeline() -> Spec {
    let mut l1 = LinkSpec::new(0, 2);
    l1.priority_a = prio(1);
    let mut l2 = LinkSpec::new(0, 3);
    l2.priority_a = prio(2);
    let mut s = Spec::new(
        "push-pull",
        vec![
            NodeSpec::new("push1", SocketType::Push, Role::Client { sends: 3 }),
            NodeSpec::new("push2", SocketType::Push, Role::Client { sends: 1 }),
            NodeSpec::new("pull1", SocketType::Pull, Role::Sink),
            NodeSpec::new("pull2", SocketType::Pull, Role::Sink),
        ],
        vec![l1, l2, LinkSpec::new(1, 2), LinkSpec::new(1, 3)],
    );
    s.nodes[2].may_close = true;
    s.faults = Faults {
        detaches: 1,
        attaches: 1,
        ..Faults::default()
    };
    s
}

/// [`pipeline`] under the fair schedule.
pub fn pipeline_fair() -> Spec {
    let mut s = pipeline();
    s.name = "push-pull (fair)";
    s.nodes[2].may_close = false;
    s.schedule = Schedule::Fair;
    s.reconnect = BACKOFF;
    s.faults = Faults {
        detaches: 1,
        ..Faults::default()
    };
    s
}

/// 2 PUB, 2 SUB with overlapping subscriptions (`a` and `ab` overlap; `b` only one side).
/// Publications go out on topics `a`, `b`, `ab` in turn. Faults: a broken link and one
/// attach.
pub fn pubsub() -> Spec {
    let mut sub1 = NodeSpec::new("sub1", SocketType::Sub, Role::Sink);
    sub1.subscriptions = &[b"a"];
    let mut sub2 = NodeSpec::new("sub2", SocketType::Sub, Role::Sink);
    sub2.subscriptions = &[b"ab", b"b"];
    let mut s = Spec::new(
        "pub-sub",
        vec![
            NodeSpec::new("pub1", SocketType::Pub, Role::Client { sends: 3 }),
            NodeSpec::new("pub2", SocketType::Pub, Role::Client { sends: 2 }),
            sub1,
            sub2,
        ],
        vec![
            LinkSpec::new(0, 2),
            LinkSpec::new(0, 3),
            LinkSpec::new(1, 2),
            LinkSpec::new(1, 3),
        ],
    );
    s.faults = Faults {
        detaches: 1,
        attaches: 1,
        ..Faults::default()
    };
    s
}

/// 1 PUB (3 publications on `a`, `b`, `ab`), 2 SUBs: `sub1` subscribed to `a` and `b`,
/// whose user may unsubscribe `a` and subscribe it again at any moment, and `sub2` to
/// `ab`. Faults: a broken link and one attach.
pub fn pubsub_unsubscribe() -> Spec {
    let mut sub1 = NodeSpec::new("sub1", SocketType::Sub, Role::Sink);
    sub1.subscriptions = &[b"a", b"b"];
    sub1.topic_flips = 2;
    let mut sub2 = NodeSpec::new("sub2", SocketType::Sub, Role::Sink);
    sub2.subscriptions = &[b"ab"];
    let mut s = Spec::new(
        "pub-sub (unsubscribe)",
        vec![
            NodeSpec::new("pub", SocketType::Pub, Role::Client { sends: 3 }),
            sub1,
            sub2,
        ],
        star(2),
    );
    s.faults = Faults {
        detaches: 1,
        attaches: 1,
        ..Faults::default()
    };
    s
}

/// 1 PUB (3 publications on `a`, `b`, `ab`), 1 back-pressuring SUB (`sub_back_pressure`) subscribed
/// to `a`, with a queue of one message: its pipe pauses as soon as one message waits, so
/// the PUB finds the link busy and drops at its side. Faults: a broken link and one
/// attach.
pub fn pubsub_back_pressure() -> Spec {
    let mut sub = NodeSpec::new("sub", SocketType::Sub, Role::Sink);
    sub.subscriptions = &[b"a"];
    sub.back_pressure = true;
    let mut s = Spec::new(
        "pub-sub (back-pressure)",
        vec![
            NodeSpec::new("pub", SocketType::Pub, Role::Client { sends: 3 }),
            sub,
        ],
        star(1),
    );
    s.recv_queue = 1;
    s.faults = Faults {
        detaches: 1,
        attaches: 1,
        ..Faults::default()
    };
    s
}

/// A raw BUS reflector between three cooked BUS nodes: two send one message each, all
/// receive. Faults: one loss.
pub fn bus() -> Spec {
    let mut reflector = NodeSpec::new("reflector", SocketType::Bus, Role::Reflector);
    reflector.raw = true;
    let mut s = Spec::new(
        "bus (reflector)",
        vec![
            reflector,
            NodeSpec::new("bus1", SocketType::Bus, Role::Client { sends: 1 }),
            NodeSpec::new("bus2", SocketType::Bus, Role::Client { sends: 1 }),
            NodeSpec::new("bus3", SocketType::Bus, Role::Sink),
        ],
        star(3),
    );
    s.faults = Faults {
        losses: 1,
        ..Faults::default()
    };
    s
}

/// PAIR v0 with a third party: `pair_a` is connected to `pair_b`; `pair_c` tries to
/// attach to `pair_a`, which must refuse while `pair_b` is there. Faults: a broken link
/// and two attaches.
pub fn pair() -> Spec {
    let mut third = LinkSpec::new(0, 2);
    third.initially_up = false;
    let mut s = Spec::new(
        "pair + third party",
        vec![
            NodeSpec::new("pair_a", SocketType::Pair0, Role::Client { sends: 1 }),
            NodeSpec::new("pair_b", SocketType::Pair0, Role::Sink),
            NodeSpec::new("pair_c", SocketType::Pair0, Role::Client { sends: 1 }),
        ],
        vec![LinkSpec::new(0, 1), third],
    );
    s.faults = Faults {
        detaches: 1,
        attaches: 2,
        ..Faults::default()
    };
    s
}

/// PAIR v1 through two raw PAIR v1 devices (each two raw sockets back to back), a hop
/// limit of 1: `a`'s message reaches the first device with 1 hop and is forwarded with 2;
/// the second device must drop it (and so must `a` drop what `b` sends the other way).
/// Each end sends two messages. Faults: a loss, a broken link and one attach.
pub fn pair1_devices() -> Spec {
    let raw = |name, to| device_side(name, SocketType::Pair1, to);
    let mut s = Spec::new(
        "pair1 through 2 raw devices",
        vec![
            NodeSpec::new("a", SocketType::Pair1, Role::Client { sends: 2 }),
            raw("d1a", 2),
            raw("d1b", 1),
            raw("d2a", 4),
            raw("d2b", 3),
            NodeSpec::new("b", SocketType::Pair1, Role::Client { sends: 2 }),
        ],
        vec![
            LinkSpec::new(0, 1),
            LinkSpec::new(2, 3),
            LinkSpec::new(4, 5),
        ],
    );
    s.max_ttl = 1;
    s.faults = Faults {
        losses: 1,
        detaches: 1,
        attaches: 1,
        ..Faults::default()
    };
    s
}

/// A polyamorous PAIR v1 node answering two PAIR v1 peers, each reply addressed to the
/// pipe its message came from. Each peer sends two messages. Faults: a broken link and
/// one attach, so a message can wait in the polyamorous node's queue while its pipe is
/// removed (and, re-attached, replaced by a new pipe), and the reply to it must then be
/// dropped.
pub fn pair1_poly() -> Spec {
    let mut poly = NodeSpec::new("poly", SocketType::Pair1, Role::Server);
    poly.polyamorous = true;
    let mut s = Spec::new(
        "pair1 polyamorous",
        vec![
            poly,
            NodeSpec::new("p1", SocketType::Pair1, Role::Client { sends: 2 }),
            NodeSpec::new("p2", SocketType::Pair1, Role::Client { sends: 2 }),
        ],
        star(2),
    );
    s.faults = Faults {
        detaches: 1,
        attaches: 1,
        ..Faults::default()
    };
    s
}

/// One side of a two-socket raw device: a raw node that hands what it receives to node
/// `to`, the device's other socket.
fn device_side(name: &'static str, socket_type: SocketType, to: u8) -> NodeSpec {
    let mut n = NodeSpec::new(name, socket_type, Role::Forward { to });
    n.raw = true;
    n
}

/// REQ, a raw REP|raw REQ device, REP: the request crosses the device, which pushes its
/// pipe's word onto the backtrace; the reply comes back by it, and the device pops the
/// word to find the pipe. The REQ sends two requests. Faults: a loss.
pub fn req_rep_device() -> Spec {
    let mut s = Spec::new(
        "req-rep through a raw device",
        vec![
            NodeSpec::new("req", SocketType::Req, Role::Client { sends: 2 }),
            device_side("dev_rep", SocketType::Rep, 2),
            device_side("dev_req", SocketType::Req, 1),
            NodeSpec::new("rep", SocketType::Rep, Role::Server),
        ],
        vec![LinkSpec::new(0, 1), LinkSpec::new(2, 3)],
    );
    s.faults = Faults {
        losses: 1,
        ..Faults::default()
    };
    s.horizon = Duration::from_millis(250);
    s
}

/// [`req_rep_device`] under the fair schedule, for liveness: one request crosses the
/// device and is answered, also when a loss or a broken link on either side of the device
/// makes the REQ resend it (the link's dialer redials after its backoff, 10 to 40 ms).
pub fn req_rep_device_fair() -> Spec {
    let mut s = fair_once(req_rep_device(), "req-rep through a raw device (fair)");
    s.reconnect = BACKOFF;
    s.faults.detaches = 1;
    s
}

/// A TTL loop: REQ into device 1, whose raw REQ side feeds device 2, whose raw REQ side
/// feeds device 1 again. No REP: the request goes round, one backtrace word more at each
/// device, until a raw REP finds more than `max_ttl` (2) words and drops it. The REQ
/// sends two requests (the second replaces the first) and resends within the horizon.
/// Faults: a loss.
pub fn req_rep_device_loop() -> Spec {
    let mut s = Spec::new(
        "req-rep device loop (TTL)",
        vec![
            NodeSpec::new("req", SocketType::Req, Role::Client { sends: 2 }),
            device_side("d1_rep", SocketType::Rep, 2),
            device_side("d1_req", SocketType::Req, 1),
            device_side("d2_rep", SocketType::Rep, 4),
            device_side("d2_req", SocketType::Req, 3),
        ],
        vec![
            LinkSpec::new(0, 1),
            LinkSpec::new(2, 3),
            LinkSpec::new(4, 1),
        ],
    );
    s.max_ttl = 2;
    s.faults = Faults {
        losses: 1,
        ..Faults::default()
    };
    s.horizon = Duration::from_millis(250);
    s
}

/// SURVEYOR through a raw RESPONDENT|raw SURVEYOR device to two RESPONDENTs, and a TTL
/// loop: the device's raw SURVEYOR side also feeds a second device, whose raw SURVEYOR
/// side feeds the first device's RESPONDENT side again, so each survey also goes round
/// until a hop limit of 2 drops it. Two surveys (the second cancels the first). Faults: a
/// loss.
pub fn survey_device() -> Spec {
    let mut s = Spec::new(
        "surveyor through a raw device, with a loop",
        vec![
            NodeSpec::new("surveyor", SocketType::Surveyor, Role::Client { sends: 2 }),
            device_side("d1_resp", SocketType::Respondent, 2),
            device_side("d1_surv", SocketType::Surveyor, 1),
            NodeSpec::new("resp1", SocketType::Respondent, Role::Server),
            NodeSpec::new("resp2", SocketType::Respondent, Role::Server),
            device_side("d2_resp", SocketType::Respondent, 6),
            device_side("d2_surv", SocketType::Surveyor, 5),
        ],
        vec![
            LinkSpec::new(0, 1),
            LinkSpec::new(2, 3),
            LinkSpec::new(2, 4),
            LinkSpec::new(2, 5),
            LinkSpec::new(6, 1),
        ],
    );
    s.max_ttl = 2;
    s.faults = Faults {
        losses: 1,
        ..Faults::default()
    };
    s
}

/// [`survey_device`] under the fair schedule, for liveness, and so explored whole: one
/// survey through the device and round the loop, which ends at its deadline. Faults: a
/// loss.
pub fn survey_device_fair() -> Spec {
    fair_once(
        survey_device(),
        "surveyor through a raw device, with a loop (fair)",
    )
}

/// Every standard configuration.
pub fn all() -> Vec<Spec> {
    vec![
        req_rep(),
        req_rep_fair(),
        req_rep_contexts(),
        req_rep_contexts_fair(),
        rep_fan_in(),
        survey(),
        survey_fair(),
        survey_contexts(),
        survey_contexts_fair(),
        pipeline(),
        pipeline_fair(),
        pubsub(),
        pubsub_unsubscribe(),
        pubsub_back_pressure(),
        bus(),
        pair(),
        pair1_devices(),
        pair1_poly(),
        req_rep_device(),
        req_rep_device_fair(),
        req_rep_device_loop(),
        survey_device(),
        survey_device_fair(),
    ]
}
