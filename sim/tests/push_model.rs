//! proptest-state-machine over the simulator: one PUSH and two PULL hosts under random
//! sends, partitions, repairs, crashes, restarts and time steps. PUSH must accept a send
//! whenever it has a peer, never deliver a message twice, and lose nothing beyond the
//! frames the network itself dropped (in flight on a cut or crashed connection).

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use sim::scenario::Scenario;
use sim::Sim;

const NET: &str = r#"
[links.default]
latency_ms = 3
jitter_ms = 2
[[host]]
name = "pull0"
[[host.socket]]
name = "q"
type = "pull"
listen = [{ addr = "pull0:1" }]
[[host]]
name = "pull1"
[[host.socket]]
name = "q"
type = "pull"
listen = [{ addr = "pull1:1" }]
[[host]]
name = "push"
[[host.socket]]
name = "q"
type = "push"
dial = [
  { addr = "pull0:1", send_priority = 1, reconnect_min_ms = 20, reconnect_max_ms = 100 },
  { addr = "pull1:1", send_priority = 2, reconnect_min_ms = 20, reconnect_max_ms = 100 },
]
"#;

#[derive(Clone, Debug)]
enum Step {
    Send,
    Partition(usize),
    Repair(usize),
    Crash(usize),
    Restart(usize),
    Tick(u16),
}

struct Model;

impl ReferenceStateMachine for Model {
    type State = ();
    type Transition = Step;

    fn init_state() -> BoxedStrategy<()> {
        Just(()).boxed()
    }

    fn transitions(_: &()) -> BoxedStrategy<Step> {
        prop_oneof![
            4 => Just(Step::Send),
            1 => (0..2usize).prop_map(Step::Partition),
            1 => (0..2usize).prop_map(Step::Repair),
            1 => (0..2usize).prop_map(Step::Crash),
            1 => (0..2usize).prop_map(Step::Restart),
            3 => (1..300u16).prop_map(Step::Tick),
        ]
        .boxed()
    }

    fn apply(state: (), _: &Step) {
        state
    }
}

struct Harness {
    sim: Sim,
    sent: u64,
}

impl Harness {
    fn received(&self) -> BTreeMap<bytes::Bytes, u64> {
        let mut m = BTreeMap::new();
        for h in ["pull0.q", "pull1.q"] {
            for r in &self.sim.log(h).expect("log").received {
                *m.entry(r.body.clone()).or_default() += 1;
            }
        }
        m
    }

    fn lost_by_network(&self) -> u64 {
        self.sim
            .net_drops()
            .iter()
            .filter(|(k, _)| matches!(**k, "partition" | "conn_closed" | "host_down"))
            .map(|(_, v)| *v)
            .sum()
    }
}

struct PushNeverLoses;

impl StateMachineTest for PushNeverLoses {
    type SystemUnderTest = Harness;
    type Reference = Model;

    fn init_test(_: &()) -> Harness {
        let sc = Scenario::from_toml(NET).expect("parses");
        let mut sim = sc.build(11).expect("builds");
        sim.run_for(Duration::from_millis(50)).expect("runs");
        Harness { sim, sent: 0 }
    }

    fn apply(mut h: Harness, _: &(), step: Step) -> Harness {
        let host = |i: usize| format!("pull{i}");
        match step {
            Step::Send => {
                let has_peer = h.sim.pipe_count("push.q") > 0;
                let ok = h.sim.send("push.q", format!("m{}", h.sent)).expect("send");
                if ok {
                    h.sent += 1;
                }
                assert!(
                    ok || !has_peer,
                    "[seed 11] PUSH refused a send with a peer attached\n{}",
                    h.sim.trace_text()
                );
            }
            Step::Partition(i) => h.sim.partition("push", &host(i), false),
            Step::Repair(i) => h.sim.repair("push", &host(i), false),
            Step::Crash(i) => h.sim.crash(&host(i)).expect("crash"),
            Step::Restart(i) => h.sim.restart(&host(i)).expect("restart"),
            Step::Tick(ms) => h
                .sim
                .run_for(Duration::from_millis(u64::from(ms)))
                .expect("runs"),
        }
        h
    }

    fn check_invariants(h: &Harness, _: &()) {
        let got = h.received();
        let dup: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
        assert!(dup.is_empty(), "[seed 11] duplicates: {dup:?}");
        let delivered = got.len() as u64;
        assert!(
            delivered + h.lost_by_network() <= h.sent,
            "[seed 11] more delivered ({delivered}) than sent ({})",
            h.sent
        );
    }

    fn teardown(mut h: Harness, _: ()) {
        for i in 0..2 {
            let host = format!("pull{i}");
            h.sim.repair("push", &host, false);
            h.sim.restart(&host).expect("restart");
        }
        h.sim.run_for(Duration::from_secs(5)).expect("runs");
        let delivered = h.received().len() as u64;
        let lost = h.lost_by_network();
        assert_eq!(
            delivered + lost,
            h.sent,
            "[seed 11] sent {}, delivered {delivered}, lost in the network {lost}\n{}",
            h.sent,
            h.sim.trace_text()
        );
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn push_never_loses_a_message_while_a_peer_is_alive(sequential 1..40 => PushNeverLoses);
}
