//! The scenario files on layer 2: the real `sp-net` sockets over turmoil. Every file
//! either meets its expectations there or is refused with the parts layer 2 cannot model;
//! which files are refused, and why, is pinned here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use sim::scenario::{Layer, Scenario};
use sim::turmoil_scenario;
use sim::Folder;

/// Scenarios that must pass on layer 2 with the expectations they have on layer 1.
const REQUIRED: [&str; 4] = [
    "survey-deadline",
    "priority-blackhole-stall",
    "reqrep-partition-heal",
    "pair-crash-restart",
];

#[test]
fn every_scenario_runs_on_layer_2_or_is_declared_unsupported() {
    // The first of the seeds layer 1 tests with (test time: ~0.2 s a run).
    let report = Folder::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))
        .only(Layer::Turmoil)
        .max_seeds(Layer::Turmoil, 1)
        .run()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut passed = BTreeSet::new();
    let mut refused: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    let mut failures = report.errors.clone();
    for r in &report.runs {
        println!("{}", r.summary());
        assert_eq!(r.layer, Layer::Turmoil);
        if r.passed() {
            passed.insert(r.scenario.clone());
        } else {
            failures.push(r.to_string());
        }
    }
    for x in &report.refused {
        println!("{}: unsupported on layer 2", x.scenario);
        assert!(!x.items.is_empty());
        let reasons = refused.entry(x.scenario.clone()).or_default();
        for i in &x.items {
            println!("  {i}");
            reasons.insert(i.reason);
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    for name in REQUIRED {
        assert!(passed.contains(name), "{name} did not pass on layer 2");
    }
    // Exactly these are refused, for these reasons (matched by a phrase of each).
    let want: BTreeMap<&str, Vec<&str>> = [
        ("device-loop", vec!["devices"]),
        (
            "half-open",
            vec!["no keepalive", "without a FIN", "network drops"],
        ),
        (
            "hostile-frames",
            vec!["only through", "network drops", "sending host"],
        ),
        ("link-faults", vec!["one-way link", "loss", "network drops"]),
        ("reconnect-storm", vec!["more hosts"]),
        ("priority-failover", vec!["no keepalive"]),
        (
            "swarm-half-open-paused-backlog",
            vec!["no keepalive", "without a FIN"],
        ),
        (
            "survey-partition",
            vec!["one-way partitions", "network drops"],
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        refused.keys().map(String::as_str).collect::<Vec<_>>(),
        want.keys().copied().collect::<Vec<_>>(),
        "{refused:#?}"
    );
    for (name, phrases) in &want {
        let got = &refused[*name];
        assert_eq!(got.len(), phrases.len(), "{name}: {got:?}");
        for p in phrases {
            assert!(
                got.iter().any(|r| r.contains(p)),
                "{name}: {p:?} not in {got:?}"
            );
        }
    }
    assert_eq!(passed.len() + refused.len(), report.files.len());
}

#[test]
fn same_seed_same_outcome_on_layer_2() {
    let f =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/priority_blackhole_stall.toml");
    let a = turmoil_scenario::run(&f, 11).expect("runs");
    let b = turmoil_scenario::run(&f, 11).expect("runs");
    assert!(a.passed(), "{a}");
    assert_eq!(a.summary(), b.summary());
    assert_eq!(a.checks, b.checks);
    assert_eq!(a.trace, b.trace);
    assert!(a.trace.lines().count() > 50, "the trace records the run");
}

/// Steps and expectations restricted to a layer: skipped (and listed) on the other one.
#[test]
fn layer_restricted_entries_are_listed_as_skipped() {
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/reqrep_partition_heal.toml");
    let l2 = turmoil_scenario::run(&f, 1).expect("runs");
    let l1 = sim::scenario::run(&f, 1).expect("runs");
    assert!(l1.passed() && l2.passed(), "{l1}\n{l2}");
    assert_eq!(l1.skipped.len(), 2, "{:?}", l1.skipped);
    assert_eq!(l2.skipped.len(), 8, "{:?}", l2.skipped);
    assert!(l2.skipped.iter().any(|s| s.contains("(partition)")));
    assert!(l2.to_string().contains("--layer turmoil"));
}

const STORM: &str = r#"
name = "small-storm"
run_ms = 3000
[links.default]
latency_ms = 1
[[host]]
name = "srv"
[[host.socket]]
name = "pull"
type = "pull"
listen = [{ addr = "srv:1" }]
[[host]]
name = "c"
count = 6
[[host.socket]]
name = "push"
type = "push"
dial = [{ addr = "srv:1", reconnect_min_ms = 100, reconnect_max_ms = 400 }]
[[step]]
at_ms = 1000
do = "restart_listener"
socket = "srv.pull"
addr = "srv:1"
down_ms = 300
[[step]]
at_ms = 2500
do = "send"
socket = "c-*.push"
body = "x"
[[expect]]
label = "everyone connects at start"
check = "connect_rate"
socket = "srv.pull"
before_ms = 1000
window_ms = 1000
max_per_window = 6
count = 6
[[expect]]
label = "everyone reconnects after the listener is back"
check = "connect_rate"
socket = "srv.pull"
after_ms = 1300
window_ms = 1000
max_per_window = 6
count = 6
[[expect]]
label = "nobody connects while it is down"
check = "connect_rate"
socket = "srv.pull"
after_ms = 1000
before_ms = 1300
window_ms = 1000
max_per_window = 0
count = 0
[[expect]]
check = "pipes"
socket = "srv.pull"
count = 6
"#;

#[test]
fn listener_restart_on_layer_2() {
    // A socket pattern is not a socket name: refused at load, at the step's line.
    let e = Scenario::from_toml(STORM).unwrap_err();
    assert!(e.to_string().contains("no socket \"c-*.push\""), "{e}");
    let line = STORM.lines().position(|l| l.contains("c-*.push")).unwrap() + 1;
    assert_eq!(e.location.map(|l| l.line), Some(line));
    let fixed = STORM.replace("c-*.push", "c-0003.push");
    let sc = Scenario::from_toml(&fixed).expect("parses");
    let r = turmoil_scenario::run_scenario(&sc, 3).expect("runs");
    assert!(r.passed(), "{r}");
    // The same file on layer 1.
    let r1 = sc.run(3).expect("runs");
    assert!(r1.passed(), "{r1}");
}

/// A layer-2 run replays byte for byte in one process, whatever tasks the process spawned
/// before. It is layer-2 swarm seed 7 as generated at commit 118f4d8 (a `max_recv_size`
/// and large messages, a crash at 575 ms), which gave one of four traces by the task ids
/// tokio had handed out before the run: a crashed host's runtime shuts its tasks down
/// shard by shard, by task id modulo 4, and the host's connections closed (drawing their
/// latencies from turmoil's seeded generator) in that order, until the simulator made a
/// crashed host's connections close in the order of their addresses. Each run here
/// starts at another task id modulo 4 (unless other tests of this binary spawn tasks
/// meanwhile).
#[test]
fn an_oversize_run_on_layer_2_replays_byte_for_byte() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/oversize_replay_layer2.toml"
    );
    let sc = Scenario::load(std::path::Path::new(path)).expect("loads");
    let mut first = None;
    for shift in 0..4 {
        spawn_tasks_until_next_id_is(shift);
        let trace = turmoil_scenario::run_scenario(&sc, 7).expect("runs").trace;
        let first = first.get_or_insert_with(|| trace.clone());
        assert!(
            *first == trace,
            "the run at task id {shift} modulo 4 differs"
        );
    }
}

/// Spawns throwaway tokio tasks until the next task id is `k` modulo 4 (at most 64: tasks
/// spawned by other threads meanwhile may make it miss).
fn spawn_tasks_until_next_id_is(k: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for _ in 0..64 {
            let id = tokio::spawn(async { tokio::task::id() })
                .await
                .expect("joins");
            let id: u64 = id.to_string().parse().expect("a task id is a number");
            if (id + 1) % 4 == k {
                return;
            }
        }
    });
}
