//! Swarm testing: generated scenarios serialise to files that load and replay the same
//! run, runs are deterministic on both layers, a fixed seed range passes on both layers
//! (the CI run), and a planted bug is found in a fixed seed range and shrunk.

use sim::scenario::{Layer, Scenario};
use sim::swarm::{self, PlantedBug};

/// The seeds CI runs on each layer (well under a minute together in a debug build).
const PROTO_SEEDS: std::ops::Range<u64> = 1..201;
const TURMOIL_SEEDS: std::ops::Range<u64> = 1..21;

#[test]
fn generated_scenarios_round_trip_through_toml() {
    for seed in 1..16 {
        for layer in [Layer::Proto, Layer::Turmoil] {
            let plan = swarm::generate(seed, layer);
            let sc = plan.scenario();
            let text = sc.to_toml().unwrap();
            let back = Scenario::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(back.to_toml().unwrap(), text, "seed {seed}");
            if layer == Layer::Proto {
                let a = swarm::run_plan_report(&plan).unwrap();
                let b = back.run(seed).unwrap();
                assert_eq!(
                    a.trace, b.trace,
                    "seed {seed}: the file replays the same run"
                );
            }
        }
    }
}

#[test]
fn plans_stay_within_their_bounds() {
    for seed in 1..200 {
        let plan = swarm::generate(seed, Layer::Proto);
        assert!((2..=50).contains(&plan.hosts.len()), "seed {seed}");
        let t = swarm::generate(seed, Layer::Turmoil);
        assert!(
            sim::turmoil_scenario::unsupported(&t.scenario()).is_empty(),
            "seed {seed}: layer 2 plans use only what layer 2 models"
        );
    }
    // Every kind of fault appears somewhere in the range.
    let text: String = (1..50)
        .map(|s| {
            swarm::generate(s, Layer::Proto)
                .scenario()
                .to_toml()
                .unwrap()
        })
        .collect();
    for needle in [
        "do = \"partition\"",
        "oneway = true",
        "do = \"crash\"",
        "do = \"restart_listener\"",
        "loss = 0.",
        "duplicate = 0.",
        "reorder = 0.",
        "recv = \"manual\"",
        "do = \"unsubscribe\"",
        "send_queue = ",
        "max_recv_size = ",
        "xxxxxxxxxx",
    ] {
        assert!(text.contains(needle), "no {needle} in seeds 1..50");
    }
}

#[test]
fn the_same_seed_gives_the_same_trace_on_both_layers() {
    for (seed, layer) in [(3, Layer::Proto), (17, Layer::Proto), (2, Layer::Turmoil)] {
        let plan = swarm::generate(seed, layer);
        let a = swarm::run_plan_report(&plan).unwrap();
        let b = swarm::run_plan_report(&swarm::generate(seed, layer)).unwrap();
        assert!(a.trace.len() > 1000, "seed {seed} on {layer}: a real run");
        assert_eq!(a.trace, b.trace, "seed {seed} on {layer}");
    }
}

/// Every seed of `seeds` passes on `layer`; the failures, each with its replay line.
fn range_passes(layer: Layer, seeds: std::ops::Range<u64>) {
    let failures: Vec<String> = seeds
        .filter_map(|s| swarm::run_seed(s, layer).err())
        .map(|f| f.to_string())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_fixed_seed_range_passes_on_layer_1() {
    range_passes(Layer::Proto, PROTO_SEEDS);
}

#[test]
fn a_fixed_seed_range_passes_on_layer_2() {
    range_passes(Layer::Turmoil, TURMOIL_SEEDS);
}

/// Finds the first plan of seeds 1..200 for which `bug` gives a failure that `caught`
/// accepts (and that passes without the bug), shrinks it, checks that it shrank to at
/// most `hosts` hosts and `steps` steps, and returns the shrunk plan as a scenario
/// file's text read back, which still fails with the bug and passes without it.
fn found_and_shrunk(
    bug: Option<PlantedBug>,
    caught: impl Fn(&swarm::Failure) -> bool,
    hosts: usize,
    steps: usize,
) -> (swarm::Plan, Scenario, swarm::Failure) {
    let fails = |p: &swarm::Plan| {
        swarm::run_plan_with(p, bug).is_err_and(|f| caught(&f)) && swarm::run_plan(p).is_ok()
    };
    let plan = (1..200)
        .map(|seed| swarm::generate(seed, Layer::Proto))
        .find(|p| fails(p))
        .expect("the swarm finds the planted bug in seeds 1..200");
    let shrunk = swarm::shrink(&plan, 400, fails);
    let small = shrunk.plan;
    assert!(
        small.hosts.len() <= hosts && small.steps.len() <= steps,
        "shrunk to {} hosts and {} steps (from {} and {}) in {} runs",
        small.hosts.len(),
        small.steps.len(),
        plan.hosts.len(),
        plan.steps.len(),
        shrunk.runs
    );
    // The shrunk scenario, written and read back, still fails with the bug and only then.
    let text = small.scenario().to_toml().unwrap();
    let sc = Scenario::from_toml(&text).unwrap();
    let f = swarm::run_scenario_with(&sc, Layer::Proto, small.seed, bug).unwrap_err();
    assert!(sc.run(small.seed).unwrap().passed(), "{text}");
    println!("{text}");
    (small, sc, f)
}

#[test]
fn a_planted_bug_is_found_and_shrunk() {
    let bug = Some(PlantedBug::ReqForgetsOnPipeLoss);
    let liveness = |f: &swarm::Failure| f.kind() == "liveness";
    let (_, _, f) = found_and_shrunk(bug, liveness, 3, 4);
    assert!(f.reasons[0].starts_with("no liveness:"), "{f}");
    assert!(f.reasons[0].contains("waits for the reply"), "{f}");
}

/// REQ contexts: an application side that hands a reply to another context than the
/// one that asked is caught by the per-context REQ oracle and shrunk.
#[test]
fn a_reply_on_the_wrong_context_is_found_and_shrunk() {
    let bug = Some(PlantedBug::CtxReplyMisrouted);
    let safety = |f: &swarm::Failure| f.kind() == "safety";
    let (small, _, f) = found_and_shrunk(bug, safety, 2, 2);
    assert!(f.to_string().contains("REQ delivered a"), "{f}");
    let ctx = small.steps.iter().any(|s| match &s.action {
        sim::scenario::Action::Request(a) => a.context.is_some(),
        _ => false,
    });
    assert!(ctx, "the shrunk plan sends on a context: {:?}", small.steps);
}

/// Maximum receive sizes: a socket decoding with the default limit whatever its option
/// says takes messages over it, which the oracle catches.
#[test]
fn a_message_over_the_maximum_receive_size_is_found_and_shrunk() {
    let bug = Some(PlantedBug::IgnoresMaxRecvSize);
    let over = |f: &swarm::Failure| f.to_string().contains("over its maximum receive size");
    let (small, sc, _) = found_and_shrunk(bug, over, 2, 2);
    // Without the bug the message closes its connection and is counted.
    let r = sc.run(small.seed).unwrap();
    assert!(r.trace.contains("drop oversize"), "{}", r.trace);
}

#[test]
fn shrinking_keeps_only_what_the_failure_needs() {
    let plan = swarm::generate(7, Layer::Proto);
    assert!(plan.hosts.len() > 10 && plan.steps.len() > 10);
    let target = plan.hosts[3].name.clone();
    // A "failure" that needs one host and one of its sends, and nothing else.
    let needs = |p: &swarm::Plan| {
        p.hosts.iter().any(|h| h.name == target)
            && p.steps.iter().any(|s| match &s.action {
                sim::scenario::Action::Send(a) => a.socket.starts_with(&target),
                _ => false,
            })
    };
    assert!(needs(&plan), "seed 7's host 3 sends");
    let s = swarm::shrink(&plan, 10_000, needs);
    assert_eq!(s.plan.hosts.len(), 1, "{:?}", s.plan.hosts);
    assert_eq!(s.plan.steps.len(), 1, "{:?}", s.plan.steps);
    // The budget bounds the work.
    assert_eq!(swarm::shrink(&plan, 5, needs).runs, 5);
}

#[test]
fn shipped_scenarios_round_trip_through_toml() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let sc = Scenario::load(&path).unwrap();
        let text = sc.to_toml().unwrap();
        let back = Scenario::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back.to_toml().unwrap(), text, "{}", path.display());
        let seed = sc.test_seeds()[0];
        let (a, b) = (sc.run(seed).unwrap(), back.run(seed).unwrap());
        assert_eq!(a.trace, b.trace, "{}", path.display());
        assert_eq!(a.checks, b.checks, "{}", path.display());
        n += 1;
    }
    assert!(n >= 14, "{n} scenarios");
}

/// Seeds where a PUSH with a small send queue went to a lower-priority pipe while its
/// best one was full, which the priority oracle once took for an inversion: found by
/// `sp-sim swarm --seeds 1000..6000`.
#[test]
fn a_push_with_a_full_best_pipe_is_not_an_inversion() {
    for seed in [2391, 2638, 4805, 4820, 5944] {
        let r = swarm::run_seed(seed, Layer::Proto);
        assert!(
            r.is_ok(),
            "{}",
            r.err().map(|f| f.to_string()).unwrap_or_default()
        );
    }
}
