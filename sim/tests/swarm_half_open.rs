//! Power losses in the swarm (crashes without a FIN, layer 1): the peers' half-open
//! connections are found by a reset from the restarted host or by keepalive, and the
//! liveness phase needs that keepalive: without it, a seed whose pipes only keepalive
//! closed does not converge.

use sim::scenario::{Action, Layer};

fn silent_crashes(plan: &sim::swarm::Plan) -> usize {
    plan.steps
        .iter()
        .filter(|s| matches!(s.action, Action::Crash { silent: true, .. }))
        .count()
}

#[test]
fn power_losses_leave_half_open_pipes_that_resets_and_keepalive_close() {
    let (mut plans, mut reset, mut by_keepalive) = (0, 0, None);
    for seed in 1..201 {
        let plan = sim::swarm::generate(seed, Layer::Proto);
        if silent_crashes(&plan) == 0 {
            continue;
        }
        plans += 1;
        if reset > 0 && by_keepalive.is_some() {
            continue;
        }
        let report = sim::swarm::run_plan(&plan).expect("passes");
        if report.trace.contains("(peer_reset)") {
            reset += 1;
        }
        if by_keepalive.is_none() && report.trace.contains("(keepalive)") {
            by_keepalive = Some(plan);
        }
    }
    assert!(plans >= 20, "{plans} plans with a power loss");
    assert!(reset > 0, "no half-open pipe was reset by a restarted host");
    let mut plan = by_keepalive.expect("a half-open pipe closed by keepalive");
    // The same seed without keepalive: the half-open pipes stay, and liveness fails.
    for h in &mut plan.hosts {
        for s in &mut h.sockets {
            for e in s.listen.iter_mut().chain(s.dial.iter_mut()) {
                e.keepalive_idle_ms = None;
                e.keepalive_interval_ms = None;
                e.keepalive_count = None;
            }
        }
    }
    let f = sim::swarm::run_plan(&plan).expect_err("no keepalive, no convergence");
    assert_eq!(f.kind(), "liveness", "{f}");
}

#[test]
fn layer_2_plans_have_no_power_losses() {
    for seed in 1..50 {
        assert_eq!(
            silent_crashes(&sim::swarm::generate(seed, Layer::Turmoil)),
            0
        );
    }
}
