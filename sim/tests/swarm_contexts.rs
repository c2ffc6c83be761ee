//! REQ and SURVEYOR contexts in the swarm's workload (layer 1): the CI range sends on
//! contexts, and a context is refused where it has no meaning. (The planted bug that
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

#[test]
fn the_ci_range_sends_on_contexts() {
    let plans: Vec<_> = (1..201)
        .map(|seed| swarm::generate(seed, Layer::Proto))
        .filter(|p| contexts(p) > 0)
        .collect();
    assert!(plans.len() >= 40, "{} plans use contexts", plans.len());
    let report = swarm::run_plan(&plans[0]).expect("passes");
    assert!(report.trace.contains(" ctx="), "no context in a run");
    // Layer 2 plans use none (it refuses them).
    assert!((1..21).all(|s| contexts(&swarm::generate(s, Layer::Turmoil)) == 0));
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
