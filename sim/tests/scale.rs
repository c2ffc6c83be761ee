//! Scale check: one surveyor and 1,000 respondents; one publisher and 1,000 subscribers.
//! Reports wall time per round in the test output (`--nocapture`); no timed assertions.

use std::time::{Duration, Instant as WallClock};

use sim::scenario::Scenario;

const N: usize = 1000;

fn build(text: &str) -> sim::Sim {
    let sc = Scenario::from_toml(text).expect("parses");
    let mut sim = sc.build(5).expect("builds");
    sim.set_tracing(false);
    sim.run_for(Duration::from_millis(100)).expect("connects");
    sim
}

#[test]
fn surveyor_with_a_thousand_respondents() {
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
count = {N}
[[host.socket]]
name = "r"
type = "respondent"
reply = {{ body = "{{host}}" }}
dial = [{{ addr = "boss:1" }}]
"#
    );
    let mut sim = build(&text);
    assert_eq!(sim.pipe_count("boss.s"), N);
    for round in 0..5 {
        let t = WallClock::now();
        assert!(sim.send("boss.s", format!("q{round}")).expect("send"));
        sim.run_for(Duration::from_millis(600)).expect("runs");
        let log = sim.log("boss.s").expect("log");
        let got = log.surveys[round].responses.len();
        println!(
            "survey round {round}: {got} responses from {N} respondents, wall {:?}",
            t.elapsed()
        );
        assert_eq!(got, N, "[seed 5] round {round}");
    }
}

#[test]
fn publisher_with_a_thousand_subscribers() {
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
count = {N}
[[host.socket]]
name = "s"
type = "sub"
subscribe = [""]
dial = [{{ addr = "pub:1" }}]
"#
    );
    let mut sim = build(&text);
    assert_eq!(sim.pipe_count("pub.p"), N);
    for round in 0..5 {
        let t = WallClock::now();
        for k in 0..10 {
            sim.send("pub.p", format!("r{round}-{k}")).expect("send");
        }
        sim.run_for(Duration::from_millis(50)).expect("runs");
        println!(
            "publish round {round}: 10 messages to {N} subscribers, wall {:?}",
            t.elapsed()
        );
    }
    let total: usize = sim
        .logs()
        .iter()
        .filter(|(k, _)| k.starts_with("s-"))
        .map(|(_, l)| l.received.len())
        .sum();
    assert_eq!(total, N * 50, "[seed 5] every subscriber got every message");
}
