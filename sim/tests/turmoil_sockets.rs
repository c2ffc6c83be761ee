//! The real `sp-net` sockets (driver, dialer backoff, protocol timers) over turmoil's
//! simulated TCP. Every run is seeded (turmoil's seed and each socket's); the tests assert
//! outcomes (who received what, in which phase), never timings.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sim::turmoil_net::{Fabric, TurmoilNetwork};
use sp_net::{Socket, SocketType};
use sp_proto::{Config, Priority};
use tokio::sync::Notify;
use tokio::time::timeout;

const SEED: u64 = 0x5eed_2024;

fn sim(seed: u64) -> turmoil::Sim<'static> {
    turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(Duration::from_secs(120))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5))
        .build()
}

fn socket(fabric: &Arc<Fabric>, ty: SocketType, seed: u64) -> Socket {
    Socket::with_config(ty, Config::cooked(seed), TurmoilNetwork::new(fabric))
}

/// Fast reconnects, so a repaired link is used again within a few hundred ms.
fn fast_reconnect(s: &Socket) {
    let mut o = s.options();
    o.reconnect_min = Duration::from_millis(50);
    o.reconnect_max = Duration::from_millis(200);
    s.set_options(o);
}

/// What a host received, shared with the test body (all hosts run on one thread).
#[derive(Clone, Default)]
struct Log {
    items: Arc<Mutex<Vec<String>>>,
    changed: Arc<Notify>,
}

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.items.lock().unwrap().push(s.into());
        self.changed.notify_waiters();
    }

    fn snapshot(&self) -> Vec<String> {
        self.items.lock().unwrap().clone()
    }

    fn count(&self, s: &str) -> usize {
        self.items
            .lock()
            .unwrap()
            .iter()
            .filter(|i| *i == s)
            .count()
    }

    /// Waits (event-driven) until `pred` holds for the log.
    async fn wait_until(&self, pred: impl Fn(&[String]) -> bool) {
        loop {
            let notified = self.changed.notified();
            if pred(&self.items.lock().unwrap()) {
                return;
            }
            notified.await;
        }
    }
}

/// A REP host answering `name:body` and logging every request it sees.
fn rep_host(sim: &mut turmoil::Sim<'_>, name: &'static str, fabric: &Arc<Fabric>, log: &Log) {
    let incarnation = Arc::new(AtomicUsize::new(0));
    let (fabric, log) = (fabric.clone(), log.clone());
    sim.host(name, move || {
        let (fabric, log) = (fabric.clone(), log.clone());
        let n = incarnation.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            let rep = socket(&fabric, SocketType::Rep, 100 + n as u64);
            rep.listen("tcp://*:5555").await?;
            loop {
                let q = rep.recv().await?;
                let body = String::from_utf8_lossy(&q.body).into_owned();
                log.push(body.clone());
                rep.send(format!("{name}#{n}:{body}")).await?;
            }
        }
    });
}

/// A simulation seeded `seed` with a REP host `srv` (see [`rep_host`]) on a new fabric:
/// the simulation, the fabric and the log of the requests `srv` serves.
fn with_rep_server(seed: u64) -> (turmoil::Sim<'static>, Arc<Fabric>, Log) {
    let mut sim = sim(seed);
    let fabric = Fabric::new();
    let served = Log::default();
    rep_host(&mut sim, "srv", &fabric, &served);
    (sim, fabric, served)
}

/// Sets `req` to resend every 200 ms, connects it to `srv` and checks the first answer
/// (`q-0`, from `srv`'s first incarnation).
async fn resend_and_ask_first(req: &sp_net::Socket) -> turmoil::Result {
    let mut o = req.protocol_options();
    o.set_resend_interval(Some(Duration::from_millis(200)));
    req.set_protocol_options(o);
    req.dial("tcp://srv:5555").await?;
    req.wait_for_pipes(1).await?;
    assert_eq!(body(&req.request("q-0").await?), "srv#1:q-0");
    Ok(())
}

fn body(m: &sp_net::Message) -> String {
    String::from_utf8_lossy(&m.body).into_owned()
}

#[test]
fn reqrep_partition_resets_and_request_is_answered_after_repair() -> turmoil::Result {
    let (mut sim, fabric, served) = with_rep_server(SEED);
    let f = fabric.clone();
    sim.client("cli", async move {
        let req = socket(&f, SocketType::Req, 1);
        fast_reconnect(&req);
        resend_and_ask_first(&req).await?;

        // A two-way partition: the connection is reset, the dialer is refused meanwhile.
        let reset = f.partition("srv", "cli");
        assert_eq!(reset, 2, "both ends of the one connection are reset");
        req.wait_for_pipes_at_most(0).await?;
        req.send("q-1").await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(req.try_recv().is_err(), "no reply across the split");
        assert_eq!(served.count("q-1"), 0, "nothing crossed the split");
        assert!(
            req.stats().socket.connect_failures > 0,
            "dialer kept trying"
        );

        f.repair("srv", "cli");
        let r = timeout(Duration::from_secs(5), req.recv()).await??;
        assert_eq!(body(&r), "srv#1:q-1");
        assert_eq!(served.count("q-1"), 1);
        Ok(())
    });
    sim.run()
}

#[test]
fn reqrep_held_link_resends_and_takes_one_reply() -> turmoil::Result {
    let (mut sim, fabric, served) = with_rep_server(SEED + 1);
    let (f, log) = (fabric.clone(), served.clone());
    sim.client("cli", async move {
        let req = socket(&f, SocketType::Req, 2);
        resend_and_ask_first(&req).await?;

        // A short outage TCP rides out: segments are held, then delivered late.
        turmoil::hold("srv", "cli");
        req.send("q-1").await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(req.try_recv().is_err(), "no reply while held");
        turmoil::release("srv", "cli");
        let r = timeout(Duration::from_secs(5), req.recv()).await??;
        assert_eq!(body(&r), "srv#1:q-1");
        // The resends made during the outage arrive too; each is answered, and the
        // REQ keeps only the first answer.
        log.wait_until(|l| l.iter().filter(|s| *s == "q-1").count() >= 2)
            .await;
        assert!(req.stats().protocol.resends >= 2);
        assert_eq!(body(&req.request("q-2").await?), "srv#1:q-2");
        assert!(req.try_recv().is_err(), "no stale q-1 reply left over");
        Ok(())
    });
    sim.run()
}

#[test]
fn req_reconnects_after_server_crash_and_restart() -> turmoil::Result {
    let (mut sim, fabric, served) = with_rep_server(SEED + 2);
    let phase = Arc::new(AtomicUsize::new(0));
    let (f, p) = (fabric.clone(), phase.clone());
    sim.client("cli", async move {
        let req = socket(&f, SocketType::Req, 3);
        fast_reconnect(&req);
        req.dial("tcp://srv:5555").await?;
        req.wait_for_pipes(1).await?;
        assert_eq!(body(&req.request("before").await?), "srv#1:before");
        p.store(1, Ordering::SeqCst);
        // The crash closes the connection; the REQ waits for the restarted server.
        req.wait_for_pipes_at_most(0).await?;
        p.store(2, Ordering::SeqCst);
        let r = timeout(Duration::from_secs(10), req.request("after")).await??;
        assert_eq!(body(&r), "srv#2:after", "answered by the new incarnation");
        assert!(req.stats().socket.connects >= 2);
        Ok(())
    });
    while phase.load(Ordering::SeqCst) < 1 {
        sim.step()?;
    }
    sim.crash("srv");
    while phase.load(Ordering::SeqCst) < 2 {
        sim.step()?;
    }
    // Down for a while: the dialer is refused and backs off.
    for _ in 0..500 {
        sim.step()?;
    }
    assert!(!sim.is_host_running("srv"));
    sim.bounce("srv");
    sim.run()?;
    assert_eq!(served.snapshot(), ["before", "after"]);
    Ok(())
}

/// A crash marked with `Fabric::crashing` closes the host's connections from the host's
/// `CrashGuard` (so in the order of their addresses, whatever the task ids): the peers see
/// them close and `Fabric::crashed` counts none left. Without a guard (the planted bug)
/// nothing closes them inside the simulation: `crashed` counts them and the peer's pipes
/// stay up.
#[test]
fn a_marked_crash_closes_the_connections_through_the_crash_guard() -> turmoil::Result {
    for guarded in [true, false] {
        let mut sim = sim(SEED + 5);
        let fabric = Fabric::new();
        let f = fabric.clone();
        sim.host("srv", move || {
            let f = f.clone();
            async move {
                let _guard = guarded.then(|| f.crash_guard(turmoil::lookup("srv")));
                let pull = socket(&f, SocketType::Pull, 7);
                pull.listen("tcp://*:5555").await?;
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        let phase = Arc::new(AtomicUsize::new(0));
        let (f, p) = (fabric.clone(), phase.clone());
        sim.client("cli", async move {
            let pushes: Vec<Socket> = (0..3)
                .map(|i| socket(&f, SocketType::Push, 10 + i))
                .collect();
            for push in &pushes {
                push.dial("tcp://srv:5555").await?;
                push.wait_for_pipes(1).await?;
            }
            p.store(1, Ordering::SeqCst);
            let mut closed = 0;
            for push in &pushes {
                let gone = push.wait_for_pipes_at_most(0);
                closed += usize::from(timeout(Duration::from_secs(2), gone).await.is_ok());
            }
            p.store(2 + closed, Ordering::SeqCst);
            Ok(())
        });
        while phase.load(Ordering::SeqCst) < 1 {
            sim.step()?;
        }
        let ip = sim.lookup("srv");
        fabric.crashing(ip);
        sim.crash("srv");
        let unclosed = fabric.crashed(ip);
        while phase.load(Ordering::SeqCst) < 2 {
            sim.step()?;
        }
        let closed = phase.load(Ordering::SeqCst) - 2;
        if guarded {
            assert_eq!((unclosed, closed), (0, 3), "closed by the guard");
        } else {
            assert_eq!((unclosed, closed), (3, 0), "left to the check");
        }
    }
    Ok(())
}

/// PUSH dials p1 (priority 1) and p2 (priority 2); returns which host got each message.
fn push_failover(seed: u64) -> Vec<String> {
    let mut sim = sim(seed);
    let fabric = Fabric::new();
    let got = Log::default();
    for name in ["p1", "p2"] {
        let (fabric, got) = (fabric.clone(), got.clone());
        sim.host(name, move || {
            let (fabric, got) = (fabric.clone(), got.clone());
            async move {
                let pull = socket(&fabric, SocketType::Pull, 10);
                pull.listen("tcp://*:7000").await?;
                loop {
                    let m = pull.recv().await?;
                    got.push(format!("{name}:{}", body(&m)));
                }
            }
        });
    }
    let (f, log) = (fabric.clone(), got.clone());
    sim.client("src", async move {
        let push = socket(&f, SocketType::Push, 4);
        fast_reconnect(&push);
        for (host, prio) in [("p1", 1), ("p2", 2)] {
            let mut o = push.options();
            o.send_priority = Priority::new(prio).expect("valid priority");
            push.set_options(o);
            push.dial(&format!("tcp://{host}:7000")).await?;
        }
        push.wait_for_pipes(2).await?;
        let phase = |tag: &'static str, log: Log, push: Socket| async move {
            for i in 0..5 {
                push.send(format!("{tag}{i}")).await?;
            }
            let total = log.snapshot().len() + 5;
            log.wait_until(|l| l.len() >= total).await;
            Ok::<_, sp_net::Error>(())
        };
        phase("a", log.clone(), push.clone()).await?;
        f.partition("p1", "src");
        push.wait_for_pipes_at_most(1).await?;
        phase("b", log.clone(), push.clone()).await?;
        f.repair("p1", "src");
        push.wait_for_pipes(2).await?;
        phase("c", log.clone(), push.clone()).await?;
        Ok(())
    });
    sim.run().expect("simulation");
    got.snapshot()
}

#[test]
fn push_fails_over_to_priority_two_and_returns_when_healed() {
    let got = push_failover(SEED + 3);
    let on = |host: &str, tag: &str| {
        got.iter()
            .filter(|s| s.starts_with(&format!("{host}:{tag}")))
            .count()
    };
    assert_eq!((on("p1", "a"), on("p2", "a")), (5, 0), "{got:?}");
    assert_eq!((on("p1", "b"), on("p2", "b")), (0, 5), "{got:?}");
    assert_eq!((on("p1", "c"), on("p2", "c")), (5, 0), "{got:?}");
    assert_eq!(got.len(), 15, "nothing lost or duplicated: {got:?}");
}

#[test]
fn same_seed_same_run() {
    assert_eq!(push_failover(99), push_failover(99));
}

#[test]
fn survey_deadline_excludes_the_slow_respondent() -> turmoil::Result {
    let mut sim = sim(SEED + 4);
    let fabric = Fabric::new();
    for name in ["near", "far"] {
        let fabric = fabric.clone();
        sim.host(name, move || {
            let fabric = fabric.clone();
            async move {
                let resp = socket(&fabric, SocketType::Respondent, 20);
                fast_reconnect(&resp);
                resp.dial("tcp://boss:6000").await?;
                loop {
                    let q = resp.recv().await?;
                    resp.send(format!("{name}:{}", body(&q))).await?;
                }
            }
        });
    }
    let f = fabric.clone();
    sim.client("boss", async move {
        let surveyor = socket(&f, SocketType::Surveyor, 5);
        surveyor.listen("tcp://*:6000").await?;
        surveyor.wait_for_pipes(2).await?;
        let deadline = |ms| {
            let mut o = surveyor.protocol_options();
            o.set_survey_deadline(Duration::from_millis(ms))
                .expect("non-zero");
            surveyor.set_protocol_options(o);
        };
        let answers = |v: Vec<sp_net::Message>| {
            let mut v: Vec<String> = v.iter().map(body).collect();
            v.sort();
            v
        };
        // 400 ms each way to `far`: its answer needs 800 ms.
        deadline(500);
        let r1 = answers(surveyor.survey("s1").await?.collect().await?);
        assert_eq!(r1, ["near:s1"]);
        deadline(2000);
        let r2 = answers(surveyor.survey("s2").await?.collect().await?);
        assert_eq!(
            r2,
            ["far:s2", "near:s2"],
            "the late s1 answer was discarded"
        );
        Ok(())
    });
    sim.set_link_latency("boss", "far", Duration::from_millis(400));
    sim.run()
}
