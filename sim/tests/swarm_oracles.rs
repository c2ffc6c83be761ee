//! Each safety oracle of the swarm fails on a run that breaks its rule (events planted in
//! a trace), and passes on the same run without the break.

use bytes::Bytes;
use sim::scenario::Scenario;
use sim::swarm::oracle::check;
use sim::{TraceEvent, What};
use sp_proto::Instant;

/// Hosts `c` (REQ), `srv` (REP), `sv` (SURVEYOR, 100 ms deadline), `r` (RESPONDENT),
/// `p` (PUB), `sub` (SUB to "a"), `b1` and `b2` (BUS), `push` (PUSH) dialing `l1` and
/// `l2` (PULL); and, when `dup`, links that duplicate frames.
fn scenario(dup: bool) -> Scenario {
    let sock = |host: &str, kind: &str, extra: &str| {
        format!("[[host]]\nname = \"{host}\"\n[[host.socket]]\nname = \"s\"\ntype = \"{kind}\"\n{extra}\n")
    };
    let mut t = String::from("oracles = true\n");
    if dup {
        t += "[links.default]\nduplicate = 0.5\n";
    }
    t += &sock("srv", "rep", "listen = [{ addr = \"srv:1\" }]");
    t += &sock("c", "req", "dial = [{ addr = \"srv:1\" }]");
    t += &sock("r", "respondent", "listen = [{ addr = \"r:1\" }]");
    t += &sock(
        "sv",
        "surveyor",
        "options = { survey_deadline_ms = 100 }\ndial = [{ addr = \"r:1\" }]",
    );
    t += &sock("p", "pub", "listen = [{ addr = \"p:1\" }]");
    t += &sock(
        "sub",
        "sub",
        "subscribe = [\"a\"]\ndial = [{ addr = \"p:1\" }]",
    );
    t += &sock("b1", "bus", "listen = [{ addr = \"b1:1\" }]");
    t += &sock("b2", "bus", "dial = [{ addr = \"b1:1\" }]");
    t += &sock("l1", "pull", "listen = [{ addr = \"l1:1\" }]");
    t += &sock("l2", "pull", "listen = [{ addr = \"l2:1\" }]");
    t += &sock(
        "push",
        "push",
        "dial = [{ addr = \"l1:1\" }, { addr = \"l2:1\" }]",
    );
    Scenario::from_toml(&t).unwrap()
}

/// An event at `ms` on `host.s` (or on the host itself when `host` has no dot).
fn ev(ms: u64, host: &str, what: What) -> TraceEvent {
    let (node, socket) = match host.split_once('.') {
        Some((h, s)) => (h.to_owned(), Some(s.to_owned())),
        None => (host.to_owned(), None),
    };
    TraceEvent {
        at: Instant::from_nanos(ms * 1_000_000),
        node,
        socket,
        what,
    }
}

fn send(ms: u64, sock: &str, body: &str) -> TraceEvent {
    let body = Bytes::from(body.to_owned());
    ev(ms, sock, What::Send { body, ctx: 0 })
}

fn recv(ms: u64, sock: &str, body: &str) -> TraceEvent {
    let body = Bytes::from(body.to_owned());
    ev(
        ms,
        sock,
        What::Recv {
            body,
            from: None,
            ctx: 0,
        },
    )
}

/// The verdict on `trace`: `Ok` or the violation's text.
fn judge(trace: &[TraceEvent], dup: bool) -> Result<(), String> {
    let r = check(&scenario(dup), trace);
    if r.ok {
        Ok(())
    } else {
        Err(r.detail)
    }
}

#[test]
fn req_delivers_only_the_current_reply_once() {
    let good = vec![
        send(1, "c.s", "m~c.s~0~0"),
        send(2, "c.s", "m~c.s~0~1"),
        recv(3, "c.s", "m~c.s~0~1@srv"),
    ];
    judge(&good, false).unwrap();
    let mut old = good.clone();
    old[2] = recv(3, "c.s", "m~c.s~0~0@srv");
    let e = judge(&old, false).unwrap_err();
    assert!(e.contains("at 3ms") && e.contains("another request"), "{e}");
    let mut twice = good;
    twice.push(recv(4, "c.s", "m~c.s~0~1@srv"));
    let e = judge(&twice, false).unwrap_err();
    assert!(e.contains("second reply"), "{e}");
}

#[test]
fn surveyor_delivers_only_current_responses_before_the_deadline() {
    let good = vec![
        send(0, "sv.s", "m~sv.s~0~0"),
        recv(100, "sv.s", "m~sv.s~0~0@r"),
    ];
    judge(&good, false).unwrap();
    let late = vec![
        send(0, "sv.s", "m~sv.s~0~0"),
        recv(101, "sv.s", "m~sv.s~0~0@r"),
    ];
    let e = judge(&late, false).unwrap_err();
    assert!(e.contains("after the deadline"), "{e}");
    let older = vec![
        send(0, "sv.s", "m~sv.s~0~0"),
        send(10, "sv.s", "m~sv.s~0~1"),
        recv(20, "sv.s", "m~sv.s~0~0@r"),
    ];
    let e = judge(&older, false).unwrap_err();
    assert!(e.contains("older survey"), "{e}");
}

#[test]
fn sub_delivers_only_subscribed_topics() {
    let topic = |t: &str| Bytes::from(t.to_owned());
    judge(&[recv(1, "sub.s", "a~p.s~0~0")], false).unwrap();
    let e = judge(&[recv(1, "sub.s", "b~p.s~0~0")], false).unwrap_err();
    assert!(e.contains("no subscription"), "{e}");
    let on = ev(
        1,
        "sub.s",
        What::Subscribe {
            topic: topic("b"),
            on: true,
        },
    );
    judge(&[on.clone(), recv(2, "sub.s", "b~p.s~0~0")], false).unwrap();
    let off = ev(
        1,
        "sub.s",
        What::Subscribe {
            topic: topic("a"),
            on: false,
        },
    );
    assert!(judge(&[off, recv(2, "sub.s", "a~p.s~0~0")], false).is_err());
    // A restart goes back to the subscriptions of the definition.
    let restarted = [
        on,
        ev(2, "sub", What::Restart),
        recv(3, "sub.s", "b~p.s~0~0"),
    ];
    assert!(judge(&restarted, false).is_err());
}

#[test]
fn bus_never_echoes() {
    judge(&[recv(1, "b1.s", "m~b2.s~0~0")], false).unwrap();
    let e = judge(&[recv(1, "b1.s", "m~b1.s~0~0")], false).unwrap_err();
    assert!(e.contains("echoed"), "{e}");
}

#[test]
fn pull_never_delivers_twice_unless_links_duplicate() {
    let trace = [
        send(1, "push.s", "m~push.s~0~0"),
        recv(2, "l1.s", "m~push.s~0~0"),
        recv(3, "l2.s", "m~push.s~0~0"),
    ];
    let e = judge(&trace, false).unwrap_err();
    assert!(e.contains("at 3ms") && e.contains("delivered twice"), "{e}");
    judge(&trace, true).unwrap();
}

#[test]
fn push_loses_nothing_between_peers_that_stayed_connected() {
    let lost = [
        send(1, "push.s", "m~push.s~0~0"),
        send(2, "push.s", "m~push.s~0~1"),
        recv(3, "l2.s", "m~push.s~0~0"),
    ];
    let e = judge(&lost, false).unwrap_err();
    assert!(
        e.contains("\"m~push.s~0~1\"") && e.contains("stayed connected"),
        "{e}"
    );
    // A pipe that closed excuses the loss.
    let mut broken = lost.to_vec();
    let gone = What::Disconnect {
        peer: "push.s".into(),
        pipe: sp_proto::PipeId::new(7).unwrap(),
        reason: "partition",
    };
    broken.push(ev(2, "l1.s", gone));
    judge(&broken, false).unwrap();
}

#[test]
fn the_oracles_watch_a_run_and_stop_it_at_the_first_violation() {
    // b2 sends a body that names b1 as its sender: when b1 receives it, the oracles take
    // it for an echo, during the run, which stops at the next step.
    let sc = Scenario::from_toml(
        r#"
        oracles = true
        run_ms = 5000
        [[host]]
        name = "b1"
        [[host.socket]]
        name = "s"
        type = "bus"
        listen = [{ addr = "b1:1" }]
        [[host]]
        name = "b2"
        [[host.socket]]
        name = "s"
        type = "bus"
        dial = [{ addr = "b1:1" }]
        [[step]]
        at_ms = 100
        do = "send"
        socket = "b2.s"
        body = "m~b1.s~0~0"
        [[step]]
        at_ms = 200
        do = "wait"
        [[step]]
        at_ms = 4000
        do = "send"
        socket = "b2.s"
        body = "m~b2.s~0~1"
    "#,
    )
    .unwrap();
    let r = sc.run(1).unwrap();
    let oracle = r.checks.last().unwrap();
    assert!(!oracle.ok, "{r}");
    assert!(oracle.detail.starts_with("at 101ms:"), "{}", oracle.detail);
    assert!(oracle.detail.contains("echoed"), "{}", oracle.detail);
    assert_eq!(
        r.end,
        Instant::from_nanos(200_000_000),
        "the run stopped at the next step"
    );
}

#[test]
fn every_message_handed_to_a_receiver_is_delivered_or_counted_dropped() {
    let frame = |ms: u64| {
        ev(
            ms,
            "sub.s",
            What::Deliver {
                from: "p.s".into(),
                len: 12,
            },
        )
    };
    let dropped = |ms: u64, reason: &str| {
        let reason = format!("proto:{reason}");
        ev(ms, "sub.s", What::Drop { reason, count: 1 })
    };
    let ok = [
        frame(1),
        recv(1, "sub.s", "a~p.s~0~0"),
        frame(2),
        dropped(2, "unsubscribed"),
    ];
    judge(&ok, false).unwrap();
    let e = judge(&ok[..3], false).unwrap_err();
    assert!(
        e.contains("sub.s: 2 messages handed") && e.contains("1 unaccounted"),
        "{e}"
    );
    // A drop of a message the socket was sending does not account for one that arrived.
    let e = judge(&[frame(1), dropped(1, "cancelled")], false).unwrap_err();
    assert!(e.contains("unaccounted"), "{e}");
    // A crash takes its queued messages with it.
    judge(&[frame(1), ev(2, "sub", What::Crash)], false).unwrap();
}

#[test]
fn push_never_passes_over_an_attached_higher_priority_pull() {
    let sc = Scenario::from_toml(
        r#"
        oracles = true
        [[host]]
        name = "near"
        [[host.socket]]
        name = "s"
        type = "pull"
        listen = [{ addr = "near:1" }]
        [[host]]
        name = "far"
        [[host.socket]]
        name = "s"
        type = "pull"
        listen = [{ addr = "far:1" }]
        [[host]]
        name = "push"
        [[host.socket]]
        name = "s"
        type = "push"
        dial = [{ addr = "near:1", send_priority = 1 }, { addr = "far:1", send_priority = 2 }]
    "#,
    )
    .unwrap();
    let pipe = sp_proto::PipeId::new(1).unwrap();
    let attach = |ms, peer: &str| {
        ev(
            ms,
            "push.s",
            What::Connect {
                peer: peer.into(),
                pipe,
            },
        )
    };
    let gone = What::Disconnect {
        peer: "near.s".into(),
        pipe,
        reason: "partition",
    };
    let judge = |t: &[TraceEvent]| {
        let r = check(&sc, t);
        if r.ok {
            Ok(())
        } else {
            Err(r.detail)
        }
    };
    let base = [
        attach(1, "far.s"),
        attach(2, "near.s"),
        send(3, "push.s", "m~push.s~0~0"),
    ];
    let mut good = base.to_vec();
    good.push(recv(4, "near.s", "m~push.s~0~0"));
    judge(&good).unwrap();
    let mut inverted = base.to_vec();
    inverted.push(recv(4, "far.s", "m~push.s~0~0"));
    let e = judge(&inverted).unwrap_err();
    assert!(
        e.contains("priority inversion") && e.contains("near.s"),
        "{e}"
    );
    // Once the near pipe is gone, the far one is the best there is.
    let mut failover = base[..2].to_vec();
    failover.push(ev(3, "push.s", gone));
    failover.push(send(4, "push.s", "m~push.s~0~0"));
    failover.push(recv(5, "far.s", "m~push.s~0~0"));
    judge(&failover).unwrap();
}

#[test]
fn no_frame_crosses_more_devices_than_the_ttl_allows() {
    // `c` has the default TTL, 8: a socket of its host may pass on at most 9 words.
    let hops = |n: usize| {
        let from = "c.s".to_owned();
        vec![ev(1, "srv.s", What::Hops { from, hops: n })]
    };
    judge(&hops(9), false).unwrap();
    let e = judge(&hops(10), false).unwrap_err();
    assert!(e.contains("loop past TTL") && e.contains("TTL 8"), "{e}");
}

#[test]
fn a_closed_socket_delivers_nothing_and_keeps_no_pipe() {
    let pipe = sp_proto::PipeId::new(7).unwrap();
    let connect = |ms, s: &str, peer: &str| {
        let peer = peer.to_owned();
        ev(ms, s, What::Connect { peer, pipe })
    };
    let disconnect = |ms, s: &str, peer: &str| {
        let peer = peer.to_owned();
        let reason = "peer_closed";
        ev(ms, s, What::Disconnect { peer, pipe, reason })
    };
    let good = vec![
        connect(1, "l1.s", "push.s"),
        connect(1, "push.s", "l1.s"),
        ev(5, "l1.s", What::SocketClosed),
        disconnect(5, "l1.s", "push.s"),
        disconnect(7, "push.s", "l1.s"),
    ];
    judge(&good, false).unwrap();
    // Its peer never saw the pipe go.
    let e = judge(&good[..4], false).unwrap_err();
    assert!(e.contains("push.s still has 1 pipe(s) to l1.s"), "{e}");
    // It delivered after the close.
    let mut late = good.clone();
    late.push(recv(8, "l1.s", "m~push.s~0~0"));
    let e = judge(&late, false).unwrap_err();
    assert!(
        e.contains("at 8ms") && e.contains("l1.s delivered a message after"),
        "{e}"
    );
    // A restart of its host reopens it.
    let mut restarted = good;
    restarted.push(ev(8, "l1", What::Crash));
    restarted.push(ev(9, "l1", What::Restart));
    restarted.push(recv(10, "l1.s", "m~push.s~0~1"));
    judge(&restarted, false).unwrap();
}

#[test]
fn req_and_surveyor_are_judged_per_context() {
    let on = |e: TraceEvent, k: u32| {
        let what = match e.what {
            What::Send { body, .. } => What::Send { body, ctx: k },
            What::Recv { body, from, .. } => What::Recv { body, from, ctx: k },
            w => w,
        };
        TraceEvent { what, ..e }
    };
    // Two requests in flight on contexts 1 and 2, each answered on its own context.
    let good = vec![
        on(send(1, "c.s", "m~c.s~0~0"), 1),
        on(send(2, "c.s", "m~c.s~1~0"), 2),
        on(recv(3, "c.s", "m~c.s~1~0@srv"), 2),
        on(recv(4, "c.s", "m~c.s~0~0@srv"), 1),
    ];
    judge(&good, false).unwrap();
    // A reply handed to the context that did not ask.
    let mut wrong = good.clone();
    wrong[2] = on(recv(3, "c.s", "m~c.s~1~0@srv"), 1);
    let e = judge(&wrong, false).unwrap_err();
    assert!(
        e.contains("another request than the one in progress on context 1"),
        "{e}"
    );
    // One to a context with no request.
    let mut none = good.clone();
    none[3] = on(recv(4, "c.s", "m~c.s~0~0@srv"), 3);
    let e = judge(&none, false).unwrap_err();
    assert!(e.contains("no request in progress on context 3"), "{e}");
    // Surveys overlap on two contexts, each within its own deadline (100 ms).
    let surveys = vec![
        on(send(0, "sv.s", "m~sv.s~0~0"), 1),
        on(send(50, "sv.s", "m~sv.s~1~0"), 2),
        on(recv(90, "sv.s", "m~sv.s~0~0@r"), 1),
        on(recv(140, "sv.s", "m~sv.s~1~0@r"), 2),
    ];
    judge(&surveys, false).unwrap();
    let mut late = surveys.clone();
    late[3] = on(recv(151, "sv.s", "m~sv.s~1~0@r"), 2);
    let e = judge(&late, false).unwrap_err();
    assert!(e.contains("after the deadline on context 2"), "{e}");
    let mut crossed = surveys;
    crossed[2] = on(recv(90, "sv.s", "m~sv.s~0~0@r"), 2);
    let e = judge(&crossed, false).unwrap_err();
    assert!(e.contains("older survey on context 2"), "{e}");
}
