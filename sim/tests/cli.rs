//! The `sp-sim` binary: help on every command, exit statuses, and load errors that name
//! the file and line of the offending value (without the usage text).

mod common;
use common::PUSH_ONE;

use std::path::PathBuf;
use std::process::{Command, Output};

fn sp_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sp-sim"))
        .args(args)
        .output()
        .expect("runs sp-sim")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Writes `body` to a file of its own in the temp directory.
fn scenario_file(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sp-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, body).expect("write scenario");
    p
}

#[test]
fn help_on_the_binary_and_every_command() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["sweep", "--help"],
        &["help", "run"],
    ] {
        let o = sp_sim(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
        assert!(text(&o.stdout).contains("Usage: sp-sim"), "{args:?}");
    }
    let o = sp_sim(&["run", "--help"]);
    for flag in ["--seed", "--trace", "--layer"] {
        assert!(text(&o.stdout).contains(flag), "{flag}");
    }
    assert!(text(&sp_sim(&["sweep", "--help"]).stdout).contains("--seeds"));
}

#[test]
fn verdicts_exit_0_and_1() {
    let f = scenario_file("good", PUSH_ONE);
    let o = sp_sim(&["run", f.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("seed=3 PASS"));
    let o = sp_sim(&[
        "sweep",
        f.to_str().unwrap(),
        "--seeds",
        "1..3",
        "--layer",
        "turmoil",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("(turmoil): 2 passed, 0 failed"));
    let f = scenario_file("fails", &PUSH_ONE.replace("count = 1", "count = 2"));
    let o = sp_sim(&["run", f.to_str().unwrap(), "--trace"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("srv.pull recv"),
        "the trace is printed"
    );
    assert!(text(&o.stderr).contains("[seed 1] FAILED"));
}

#[test]
fn a_bad_scenario_exits_2_naming_the_line() {
    let bad = PUSH_ONE.replace(
        "dial = [{ addr = \"srv:1\" }]",
        "dial = [{ addr = \"svr:1\" }]",
    );
    let f = scenario_file("bad_dial", &bad);
    let o = sp_sim(&["run", f.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let line = bad.lines().position(|l| l.contains("svr")).unwrap() + 1;
    assert_eq!(line, 13);
    assert!(err.contains("bad_dial.toml:13:"), "{err}");
    assert!(err.contains("13 | dial = [{ addr = \"svr:1\" }]"), "{err}");
    assert!(!err.contains("Usage"), "no usage after a load error: {err}");

    let neg = PUSH_ONE.replace(
        "type = \"push\"",
        "type = \"push\"\noptions = { resend_interval_ms = -5 }",
    );
    let f = scenario_file("negative", &neg);
    let o = sp_sim(&["sweep", f.to_str().unwrap(), "--seeds", "1..2"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("negative.toml:13:"), "{err}");
    assert!(err.contains("`resend_interval_ms` is -5"), "{err}");
    assert!(
        err.contains("13 | options = { resend_interval_ms = -5 }"),
        "{err}"
    );

    let o = sp_sim(&["run", "/nonexistent/scenario.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("/nonexistent/scenario.toml"));
}

#[test]
fn usage_errors_exit_2() {
    let f = scenario_file("usage", PUSH_ONE);
    let f = f.to_str().unwrap();
    for args in [
        &[][..],
        &["frobnicate", f],
        &["run"],
        &["run", f, "--seed", "x"],
        &["run", f, "--layer", "tur"],
        &["sweep", f],
        &["sweep", f, "--seeds", "3..1"],
        &["sweep", f, "--seeds", "3"],
    ] {
        let o = sp_sim(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
    }
}

#[test]
fn swarm_runs_seeds_and_stops_at_its_time_limit() {
    let o = sp_sim(&["swarm", "--help"]);
    for flag in ["--seeds", "--layer", "--minutes", "--shrink-out", "--trace"] {
        assert!(text(&o.stdout).contains(flag), "{flag}");
    }
    let o = sp_sim(&["swarm", "--seeds", "5..8"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    let out = text(&o.stdout);
    assert!(
        out.contains("seed 5 ok") && out.contains("seed 7 ok"),
        "{out}"
    );
    assert!(out.contains("swarm (proto): 3 passed, 0 failed"), "{out}");
    let o = sp_sim(&["swarm", "--seeds", "5..8", "--minutes", "0"]);
    assert!(text(&o.stdout).contains("time limit reached before seed 5"));
    let o = sp_sim(&["swarm", "--seeds", "8..5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("empty seed range"),
        "{}",
        text(&o.stderr)
    );
}
