//! Dialer and socket closes, on both layers: the swarm generates them in the CI seed
//! ranges, they happen in the runs, and the liveness phase expects neither the closed
//! connection nor the peer across it; the `close` step's names are checked at load, and
//! the closed-socket oracle catches a planted close that leaves its connections open.

use sim::scenario::{Action, Layer, Scenario};
use sim::swarm::PlantedBug;

/// How many steps of `plan` close a dialer (`socket` false) or a socket.
fn closes(plan: &sim::swarm::Plan, socket: bool) -> usize {
    plan.steps
        .iter()
        .filter(|s| match s.action {
            Action::CloseDialer { .. } => !socket,
            Action::Close { .. } => socket,
            _ => false,
        })
        .count()
}

/// At least `want` plans of `seeds` close a dialer (or a socket), and one such close
/// shows in a run's trace (as `traced`), the same when the seed runs again.
fn ci_range_closes(layer: Layer, seeds: std::ops::Range<u64>, want: usize, socket: bool) {
    let traced_as = if socket {
        "socket_closed"
    } else {
        "dialer_closed"
    };
    let mut plans = 0;
    let mut traced = false;
    for seed in seeds {
        let plan = sim::swarm::generate(seed, layer);
        if closes(&plan, socket) == 0 {
            continue;
        }
        plans += 1;
        if !traced {
            let report = sim::swarm::run_plan(&plan).expect("passes");
            traced = report.trace.contains(traced_as);
            // Byte for byte the same run again.
            let again = sim::swarm::run_plan(&sim::swarm::generate(seed, layer));
            assert_eq!(again.expect("passes").trace, report.trace, "seed {seed}");
        }
    }
    assert!(plans >= want, "{plans} plans with a {traced_as} on {layer}");
    assert!(traced, "no {traced_as} happened in a run on {layer}");
}

#[test]
fn layer_1_plans_close_dialers() {
    ci_range_closes(Layer::Proto, 1..201, 20, false);
}

#[test]
fn layer_2_plans_close_dialers() {
    ci_range_closes(Layer::Turmoil, 1..21, 1, false);
}

#[test]
fn layer_1_plans_close_sockets() {
    ci_range_closes(Layer::Proto, 1..201, 20, true);
}

#[test]
fn layer_2_plans_close_sockets() {
    ci_range_closes(Layer::Turmoil, 1..21, 1, true);
}

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/socket_close.toml");

fn scenario() -> (String, Scenario) {
    let text = std::fs::read_to_string(FILE).expect("readable");
    let sc = Scenario::from_toml(&text).expect("parses");
    (text, sc)
}

#[test]
fn a_close_step_names_a_socket_that_is_not_a_device_s() {
    let (text, _) = scenario();
    let bad = text.replace("socket = \"b.rep\"", "socket = \"b.nope\"");
    let e = Scenario::from_toml(&bad).unwrap_err();
    assert!(e.to_string().contains("no socket \"b.nope\""), "{e}");
    let line = bad.lines().position(|l| l.contains("b.nope")).unwrap() + 1;
    assert_eq!(e.location.map(|l| l.line), Some(line));
    // A device's socket cannot be closed.
    let device = text.replace(
        "reply = { body = \"{body}@{host}\", delay_ms = 30 }",
        "raw = true\n[[host.socket]]\nname = \"back\"\ntype = \"req\"\nraw = true\n\
         [host.device]\na = \"rep\"\nb = \"back\"",
    );
    let e = Scenario::from_toml(&device).unwrap_err();
    assert!(e.to_string().contains("a device's socket"), "{e}");
    let line = device
        .lines()
        .position(|l| l.contains("socket = \"b.rep\""))
        .unwrap()
        + 1;
    assert_eq!(e.location.map(|l| l.line), Some(line));
}

#[test]
fn the_close_scenario_passes_on_both_layers() {
    let (_, sc) = scenario();
    let r = sc.run(1).expect("runs");
    assert!(r.passed(), "{r}");
    let r = sim::turmoil_scenario::run_scenario(&sc, 1).expect("runs");
    assert!(r.passed(), "{r}");
}

#[test]
fn a_close_that_keeps_its_pipes_is_caught() {
    let (_, sc) = scenario();
    let f = sim::swarm::run_scenario_with(&sc, Layer::Proto, 1, Some(PlantedBug::CloseKeepsPipes))
        .expect_err("the planted bug is caught");
    assert_eq!(f.kind(), "safety", "{f}");
    assert!(
        f.to_string().contains("still has 1 pipe(s) to b.rep"),
        "{f}"
    );
    // The swarm finds it too, in the CI range.
    let found = (1..201).find(|&seed| {
        let plan = sim::swarm::generate(seed, Layer::Proto);
        closes(&plan, true) > 0
            && sim::swarm::run_plan_with(&plan, Some(PlantedBug::CloseKeepsPipes))
                .is_err_and(|f| f.to_string().contains("pipe(s) to"))
    });
    assert!(found.is_some(), "no seed of 1..201 caught the planted bug");
}

/// Seeds where a dialer close came while its host was down (so it did nothing), which
/// the liveness phase once took as closed: found by `scripts/swarm.sh`.
#[test]
fn a_close_on_a_crashed_host_leaves_the_dialer_expected() {
    for seed in [1_000_374, 1_000_785, 1_005_017] {
        let r = sim::swarm::run_seed(seed, Layer::Proto);
        assert!(
            r.is_ok(),
            "{}",
            r.err().map(|f| f.to_string()).unwrap_or_default()
        );
    }
}
