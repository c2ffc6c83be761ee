//! Hostile hosts in the swarm: the generator adds them on layer 1, their oversize and
//! malformed frames are refused and counted, and the runs still pass (everyone else is
//! served, the liveness phase included).

use sim::scenario::{Action, HostileFrame, Layer};

#[test]
fn the_ci_seed_range_has_hostile_hosts_whose_frames_are_refused_and_counted() {
    let (mut plans, mut oversize, mut malformed) = (0, 0, 0);
    for seed in 1..201 {
        let plan = sim::swarm::generate(seed, Layer::Proto);
        let frames: Vec<HostileFrame> = plan
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::Hostile { frame, .. } => Some(*frame),
                _ => None,
            })
            .collect();
        if frames.is_empty() {
            continue;
        }
        plans += 1;
        if oversize > 0 && malformed > 0 {
            continue;
        }
        let report = sim::swarm::run_plan(&plan).expect("passes");
        // A frame may find no pipe (its victim down, a black hole between them), so
        // not every plan shows one refused.
        if report.trace.contains("drop oversize") {
            oversize += 1;
        }
        if report.trace.contains("malformed_header") {
            malformed += 1;
        }
    }
    assert!(plans >= 20, "{plans} plans with a hostile host");
    assert!(
        oversize > 0 && malformed > 0,
        "refused: {oversize} oversize, {malformed} malformed"
    );
}

#[test]
fn layer_2_plans_have_no_hostile_hosts() {
    for seed in 1..50 {
        let plan = sim::swarm::generate(seed, Layer::Turmoil);
        assert!(!plan.hosts.iter().any(|h| h.name.ends_with("-hostile")));
    }
}
