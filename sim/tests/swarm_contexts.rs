//! REQ and SURVEYOR contexts in the swarm's workload, on both layers: the CI ranges send
//! on contexts, and a context is refused where it has no meaning. (The planted bug that
//! hands a reply to the wrong context is found and shrunk in `swarm.rs`.)

use sim::scenario::{Action, Layer, Scenario};
use sim::swarm;

fn contexts(plan: &swarm::Plan) -> usize {
    plan.steps
        .iter()
        .filter(|s| match &s.action {
            Action::Request(a) | Action::Survey(a) => a.context.is_some(),
            _ => false,
        })
        .count()
}

/// At least `want` plans of `seeds` send on a context, and one run's trace shows it,
/// byte for byte the same when the seed runs again.
fn ci_range_sends_on_contexts(layer: Layer, seeds: std::ops::Range<u64>, want: usize) {
    let plans: Vec<_> = seeds
        .map(|seed| swarm::generate(seed, layer))
        .filter(|p| contexts(p) > 0)
        .collect();
    assert!(plans.len() >= want, "{} plans use contexts", plans.len());
    let traced = plans.iter().find_map(|p| {
        let report = swarm::run_plan(p).expect("passes");
        report.trace.contains(" ctx=").then_some((p, report.trace))
    });
    let (plan, trace) = traced.unwrap_or_else(|| panic!("no context in a run on {layer}"));
    let again = swarm::run_plan(&swarm::generate(plan.seed, layer)).expect("passes");
    assert_eq!(again.trace, trace, "seed {} on {layer}", plan.seed);
}

#[test]
fn layer_1_plans_send_on_contexts() {
    ci_range_sends_on_contexts(Layer::Proto, 1..201, 40);
}

#[test]
fn layer_2_plans_send_on_contexts() {
    ci_range_sends_on_contexts(Layer::Turmoil, 1..21, 2);
}

#[test]
fn a_context_on_a_send_step_is_refused_at_its_line() {
    let text = r#"[[host]]
name = "a"
[[host.socket]]
name = "s"
type = "push"
[[step]]
at_ms = 1
do = "send"
socket = "a.s"
body = "x"
context = 2
"#;
    let e = Scenario::from_toml(text).unwrap_err();
    assert!(e.to_string().contains("only `request` and `survey`"), "{e}");
    assert_eq!(e.location.map(|l| l.line), Some(11));
}
