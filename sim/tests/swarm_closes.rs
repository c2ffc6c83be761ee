//! Dialer closes in the swarm's workload, on both layers: they are generated in the CI
//! seed ranges, happen in the runs, and the liveness phase expects neither the closed
//! connection nor the peer across it.

use sim::scenario::{Action, Layer};

fn closes(plan: &sim::swarm::Plan) -> usize {
    plan.steps
        .iter()
        .filter(|s| matches!(s.action, Action::CloseDialer { .. }))
        .count()
}

fn ci_range_closes_dialers(layer: Layer, seeds: std::ops::Range<u64>, want: usize) {
    let mut plans = 0;
    let mut traced = false;
    for seed in seeds {
        let plan = sim::swarm::generate(seed, layer);
        if closes(&plan) == 0 {
            continue;
        }
        plans += 1;
        if !traced {
            let report = sim::swarm::run_plan(&plan).expect("passes");
            traced = report.trace.contains("dialer_closed");
        }
    }
    assert!(plans >= want, "{plans} plans close a dialer on {layer}");
    assert!(traced, "no close happened in a run on {layer}");
}

#[test]
fn layer_1_plans_close_dialers() {
    ci_range_closes_dialers(Layer::Proto, 1..201, 20);
}

#[test]
fn layer_2_plans_close_dialers() {
    ci_range_closes_dialers(Layer::Turmoil, 1..21, 1);
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
