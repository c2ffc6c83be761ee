//! Scenario text shared by the sim test files.

/// One PUSH on host `cli` dials one PULL on host `srv`, sends `x` at 100 ms, and the PULL
/// must receive exactly one message: the smallest scenario that passes on both layers.
pub(crate) const PUSH_ONE: &str = r#"[[host]]
name = "srv"
[[host.socket]]
name = "pull"
type = "pull"
listen = [{ addr = "srv:1" }]

[[host]]
name = "cli"
[[host.socket]]
name = "push"
type = "push"
dial = [{ addr = "srv:1" }]

[[step]]
at_ms = 100
do = "send"
socket = "cli.push"
body = "x"

[[expect]]
check = "received"
socket = "srv.pull"
count = 1
"#;
