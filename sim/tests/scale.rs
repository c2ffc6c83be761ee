//! Scale check: one surveyor and 1,000 respondents; one publisher and 1,000 subscribers;
//! the largest swarm seed of a range. Reports wall time per round (and simulated seconds
//! per wall second for the swarm) in the test output (`--nocapture`); no timed
//! assertions. `SIM_SCALE_N=10000` sets the number of respondents and subscribers (the
//! figures in docs/simulation.md come from a release build run that way).

use std::time::{Duration, Instant as WallClock};

use sim::scenario::{Layer, Scenario};
use sim::swarm;

/// Respondents and subscribers: `SIM_SCALE_N`, or 1,000.
fn n() -> usize {
    std::env::var("SIM_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn build(text: &str) -> sim::Sim {
    let sc = Scenario::from_toml(text).expect("parses");
    let mut sim = sc.build(5).expect("builds");
    sim.set_tracing(false);
    sim.run_for(Duration::from_millis(100)).expect("connects");
    sim
}

#[test]
fn surveyor_with_a_thousand_respondents() {
    let n = n();
    let text = format!(
        r#"
[links.default]
latency_ms = 2
jitter_ms = 1
[[host]]
name = "boss"
[[host.socket]]
name = "s"
type = "surveyor"
options = {{ survey_deadline_ms = 500 }}
listen = [{{ addr = "boss:1" }}]
[[host]]
name = "r"
count = {n}
[[host.socket]]
name = "r"
type = "respondent"
reply = {{ body = "{{host}}" }}
dial = [{{ addr = "boss:1" }}]
"#
    );
    let mut sim = build(&text);
    assert_eq!(sim.pipe_count("boss.s"), n);
    for round in 0..5 {
        let t = WallClock::now();
        assert!(sim.send("boss.s", format!("q{round}")).expect("send"));
        sim.run_for(Duration::from_millis(600)).expect("runs");
        let log = sim.log("boss.s").expect("log");
        let got = log.surveys[round].responses.len();
        println!(
            "survey round {round}: {got} responses from {n} respondents, wall {:?}",
            t.elapsed()
        );
        assert_eq!(got, n, "[seed 5] round {round}");
    }
}

#[test]
fn publisher_with_a_thousand_subscribers() {
    let n = n();
    let text = format!(
        r#"
[links.default]
latency_ms = 2
jitter_ms = 1
[[host]]
name = "pub"
[[host.socket]]
name = "p"
type = "pub"
listen = [{{ addr = "pub:1" }}]
[[host]]
name = "s"
count = {n}
[[host.socket]]
name = "s"
type = "sub"
subscribe = [""]
dial = [{{ addr = "pub:1" }}]
"#
    );
    let mut sim = build(&text);
    assert_eq!(sim.pipe_count("pub.p"), n);
    let all = WallClock::now();
    for round in 0..10 {
        let t = WallClock::now();
        for k in 0..10 {
            sim.send("pub.p", format!("r{round}-{k}")).expect("send");
        }
        sim.run_for(Duration::from_millis(50)).expect("runs");
        println!(
            "publish round {round}: 10 messages to {n} subscribers, wall {:?}",
            t.elapsed()
        );
    }
    println!("100 messages to {n} subscribers: wall {:?}", all.elapsed());
    let total: usize = sim
        .logs()
        .iter()
        .filter(|(k, _)| k.starts_with("s-"))
        .map(|(_, l)| l.received.len())
        .sum();
    assert_eq!(
        total,
        n * 100,
        "[seed 5] every subscriber got every message"
    );
}

#[test]
fn simulated_seconds_per_wall_second_on_the_largest_swarm_seed() {
    let plan = (1..200)
        .map(|seed| swarm::generate(seed, Layer::Proto))
        .max_by_key(|p| p.hosts.len())
        .expect("seeds");
    let t = WallClock::now();
    let r = swarm::run_plan(&plan).unwrap_or_else(|f| panic!("{f}"));
    let wall = t.elapsed().as_secs_f64();
    let simulated = r.end.as_nanos() as f64 / 1e9;
    println!(
        "swarm seed {} ({} hosts): {simulated:.2} simulated s in {wall:.3} wall s, {:.0} simulated s per wall s",
        plan.seed,
        plan.hosts.len(),
        simulated / wall
    );
}
