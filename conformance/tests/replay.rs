//! Replays of the simulator's survey-deadline, priority-failover and partition scenarios
//! (`sim/scenarios/`) over real loopback sockets, with libnanomsg and NNG peers in some
//! roles and partitions made by a cutting proxy (`conformance::proxy`): both sides see a
//! reset. Each checks the same outcome the simulation expects; none asserts a timing.
//! The same failover under a black hole (the proxy keeps both sockets open) is a
//! behaviour check of the matrix, `conformance::blackhole`, so that its findings land in
//! the report.

use std::time::Duration;

use conformance::harness::{Lib, PeerExes, Side};
use conformance::proxy::Proxy;
use sp_net::{Priority, Socket, SocketType};
use tokio::time::timeout;

/// The most one replay may take.
const LIMIT: Duration = Duration::from_secs(30);
/// How long a "nothing arrives" check waits.
const QUIET: Duration = Duration::from_millis(200);

fn exes() -> PeerExes {
    PeerExes {
        nanomsg: env!("CARGO_BIN_EXE_nanomsg-peer").into(),
        nng: env!("CARGO_BIN_EXE_nng-peer").into(),
        capi_dir: None,
    }
}

async fn c(lib: Lib, t: SocketType) -> Side {
    Side::c(lib, t, &exes())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn ours(s: &Side) -> &Socket {
    match s {
        Side::Ours(s) => s,
        Side::C(_) => unreachable!("not our socket"),
    }
}

fn fast_reconnect(s: &Socket) {
    let mut o = s.options();
    o.reconnect_min = Duration::from_millis(50);
    o.reconnect_max = Duration::from_millis(200);
    s.set_options(o);
}

async fn expect_quiet(side: &mut Side, what: &str) {
    let got = side.recv_within(QUIET).await.unwrap();
    assert_eq!(got, None, "{what}: nothing expected");
}

async fn recv_str(side: &mut Side) -> String {
    String::from_utf8(side.recv().await.unwrap()).unwrap()
}

/// One phase of the failover replay: `push` sends `{tag}0` to `{tag}4`, which `to`
/// receives in order, and the other PULL nothing (`quiet` says why).
async fn failover_phase(push: &Socket, tag: &str, to: &mut Side, quiet: (&mut Side, &str)) {
    for i in 0..5 {
        push.send(format!("{tag}{i}")).await.unwrap();
    }
    for i in 0..5 {
        assert_eq!(recv_str(to).await, format!("{tag}{i}"));
    }
    expect_quiet(quiet.0, quiet.1).await;
}

/// A respondent's application: answers the survey `q` with `side:q`.
async fn answer(side: &str, peer: &mut Side, q: &str) {
    let got = recv_str(peer).await;
    assert_eq!(got, q);
    peer.send(format!("{side}:{got}").as_bytes()).await.unwrap();
}

/// The replier's half of one exchange: `rep` receives the request `q` and answers
/// `srv:q`, which `req` then receives.
async fn serve_and_check_reply(rep: &mut Side, req: &mut Side, q: &str) {
    assert_eq!(recv_str(rep).await, q);
    let reply = format!("srv:{q}");
    rep.send(reply.as_bytes()).await.unwrap();
    assert_eq!(recv_str(req).await, reply);
}

/// Runs one replay, failing it if it takes longer than [`LIMIT`].
async fn within_limit(replay: impl std::future::Future<Output = ()>) {
    timeout(LIMIT, replay)
        .await
        .expect("replay within its limit");
}

/// survey_deadline.toml / the turmoil survey test: answers by the deadline are collected,
/// a respondent behind a slow link (400 ms each way) misses a 500 ms deadline, and its
/// late answer is not counted in the next round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_deadline_over_a_slow_link() {
    within_limit(async {
        let mut boss = Side::ours(SocketType::Surveyor);
        let url = boss.listen("tcp://127.0.0.1:0").await.unwrap();
        let slow = Proxy::for_url(&url, Duration::from_millis(400))
            .await
            .unwrap();
        let mut near = c(Lib::Nng, SocketType::Respondent).await;
        let mut far = c(Lib::Nanomsg, SocketType::Respondent).await;
        near.dial(&url).await.unwrap();
        far.dial(&slow.url()).await.unwrap();
        ours(&boss).wait_for_pipes(2).await.unwrap();

        let mut rounds = Vec::new();
        for (round, deadline) in [(1, 500), (2, 2000)] {
            boss.set_survey_deadline(deadline).await.unwrap();
            let q = format!("s{round}");
            let survey = ours(&boss).survey(q.clone()).await.unwrap();
            let (answers, (), ()) = tokio::join!(
                survey.collect(),
                answer("near", &mut near, &q),
                answer("far", &mut far, &q)
            );
            let mut answers: Vec<String> = answers
                .unwrap()
                .iter()
                .map(|m| String::from_utf8_lossy(&m.body).into_owned())
                .collect();
            answers.sort();
            rounds.push(answers);
        }
        assert_eq!(
            rounds[0],
            ["near:s1"],
            "the slow respondent missed the deadline"
        );
        assert_eq!(
            rounds[1],
            ["far:s2", "near:s2"],
            "late s1 answer not counted"
        );
        // The late s1 answer reaches our surveyor after the deadline, while s2 may
        // already be running: dropped as expired or as a stale survey id.
        let stats = ours(&boss).stats().protocol;
        let late = stats.dropped(sp_proto::DropReason::SurveyExpired)
            + stats.dropped(sp_proto::DropReason::StaleId);
        assert!(late >= 1, "the late answer was dropped");
        for s in [boss, near, far] {
            s.close().await;
        }
    })
    .await;
}

/// priority_failover.toml / the turmoil PUSH test: PUSH sends only to the priority-1
/// PULL, fails over to priority 2 while priority 1 is cut off, and returns once healed;
/// nothing is lost or duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_priority_failover_and_return() {
    within_limit(async {
        let mut p1 = c(Lib::Nng, SocketType::Pull).await;
        let mut p2 = c(Lib::Nanomsg, SocketType::Pull).await;
        let u1 = p1.listen("tcp://127.0.0.1:0").await.unwrap();
        let u2 = p2.listen("tcp://127.0.0.1:0").await.unwrap();
        let link1 = Proxy::for_url(&u1, Duration::ZERO).await.unwrap();
        let push = Socket::new(SocketType::Push);
        fast_reconnect(&push);
        for (url, prio) in [(link1.url(), 1), (u2, 2)] {
            let mut o = push.options();
            o.send_priority = Priority::new(prio).unwrap();
            push.set_options(o);
            drop(push.dial(&url).await.unwrap());
        }
        push.wait_for_pipes(2).await.unwrap();

        failover_phase(
            &push,
            "a",
            &mut p1,
            (&mut p2, "priority 2 while priority 1 is up"),
        )
        .await;

        link1.cut();
        push.wait_for_pipes_at_most(1).await.unwrap();
        failover_phase(&push, "b", &mut p2, (&mut p1, "priority 1 while cut off")).await;

        link1.heal();
        push.wait_for_pipes(2).await.unwrap();
        failover_phase(&push, "c", &mut p1, (&mut p2, "priority 2 after the heal")).await;
        expect_quiet(&mut p1, "no duplicates").await;
        push.close().await;
        p1.close().await;
        p2.close().await;
    })
    .await;
}

/// reqrep_partition_heal.toml, two-way case, with our REQ and a libnanomsg REP: a request
/// made during the split is answered once the link heals and the dialer reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_req_is_answered_after_the_partition_heals() {
    within_limit(async {
        let mut rep = c(Lib::Nanomsg, SocketType::Rep).await;
        let url = rep.listen("tcp://127.0.0.1:0").await.unwrap();
        let link = Proxy::for_url(&url, Duration::ZERO).await.unwrap();
        let mut req = Side::ours(SocketType::Req);
        let r = ours(&req).clone();
        fast_reconnect(&r);
        let mut o = r.protocol_options();
        o.set_resend_interval(Some(Duration::from_millis(300)));
        r.set_protocol_options(o);
        req.dial(&link.url()).await.unwrap();
        req.wait_connected().await.unwrap();

        req.send(b"q-0").await.unwrap();
        serve_and_check_reply(&mut rep, &mut req, "q-0").await;

        link.cut();
        r.wait_for_pipes_at_most(0).await.unwrap();
        req.send(b"q-1").await.unwrap();
        expect_quiet(&mut rep, "nothing crosses the split").await;
        expect_quiet(&mut req, "no reply across the split").await;

        link.heal();
        serve_and_check_reply(&mut rep, &mut req, "q-1").await;
        req.close().await;
        rep.close().await;
    })
    .await;
}

/// The same partition with the roles swapped: an NNG REQ (300 ms resend interval) dials
/// our REP through the proxy; the request it makes during the split is held (NNG blocks
/// the send until a pipe takes it), reaches our REP after the heal, and is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nng_req_held_during_the_split_is_answered_after_the_heal() {
    within_limit(async {
        let mut rep = Side::ours(SocketType::Rep);
        let url = rep.listen("tcp://127.0.0.1:0").await.unwrap();
        let link = Proxy::for_url(&url, Duration::ZERO).await.unwrap();
        let mut req = c(Lib::Nng, SocketType::Req).await;
        if let Side::C(p) = &mut req {
            p.opt("resend-ivl", 300).await.unwrap();
            p.opt("reconnect-ivl", 50).await.unwrap();
        }
        req.dial(&link.url()).await.unwrap();
        rep.wait_connected().await.unwrap();

        req.send(b"q-0").await.unwrap();
        serve_and_check_reply(&mut rep, &mut req, "q-0").await;

        link.cut();
        ours(&rep).wait_for_pipes_at_most(0).await.unwrap();
        // NNG's REQ send completes only once a pipe takes the request, so it runs
        // alongside the split and the heal.
        let (sent, ()) = tokio::join!(req.send(b"q-1"), async {
            expect_quiet(&mut rep, "nothing crosses the split").await;
            link.heal();
        });
        sent.unwrap();
        serve_and_check_reply(&mut rep, &mut req, "q-1").await;
        req.close().await;
        rep.close().await;
    })
    .await;
}
