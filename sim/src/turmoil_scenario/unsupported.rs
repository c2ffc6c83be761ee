//! What layer 2 refuses to run, before the run: every part of a scenario without a
//! faithful model on turmoil, with the reason.

use super::UnsupportedItem;
use crate::def::LinkDef;
use crate::scenario::{on_layer, Action, Expect, Layer, Scenario};

const ONEWAY: &str = "one-way partitions have no faithful model on turmoil's TCP (it holds \
     segments only in both directions, and dropping them would stall the stream for good)";

const ONEWAY_LINK: &str = "one-way link settings have no model (turmoil links are symmetric)";

const LINK_FAULTS: &str = "loss, duplication, reordering, rate and capacity limits are not \
     modelled (turmoil's TCP does not retransmit)";

const TOO_MANY_HOSTS: &str = "more hosts than layer 2 runs in reasonable time (turmoil polls \
     every host's runtime on each 1 ms tick)";

/// The most hosts layer 2 runs; larger scenarios are refused as unsupported.
pub const MAX_HOSTS: usize = 64;

const NO_JITTER: &str = "sp-net dialers always jitter their reconnect delays";

const TCP_TIMERS: &str = "turmoil's TCP has no keepalive and no user timeout";

const LINK_CHANGE: &str = "link settings cannot change during a run on layer 2 (turmoil \
     links keep the latency they start with)";

const DEVICES: &str = "devices are not run on layer 2 yet (its hosts open their sockets \
     without sp-net's device between them)";

const HOSTILE: &str = "layer 2 hosts write only through their sockets' protocols";

const SILENT_CRASH: &str = "a host gone without a FIN needs keepalive or a reset from its \
     restarted host to be noticed, and turmoil's TCP has neither";

const NET_DROPS: &str = "turmoil counts no network drops";

const FROM_HOST: &str = "the sending host of a message is not recorded on layer 2";

fn faults(l: &LinkDef) -> bool {
    let d = LinkDef::default();
    l.loss != 0.0
        || l.duplicate != 0.0
        || l.reorder != 0.0
        || l.rate_bytes_per_s != 0
        || l.capacity_frames != d.capacity_frames
}

/// The parts of `sc` that layer 2 cannot run (empty: it can run all of it). Steps and
/// expectations the scenario restricts to other layers are not considered.
pub fn unsupported(sc: &Scenario) -> Vec<UnsupportedItem> {
    let mut v = Vec::new();
    let mut item = |what: String, reason| v.push(UnsupportedItem { what, reason });
    let hosts: usize = sc.hosts.iter().map(|h| h.count.unwrap_or(1)).sum();
    if hosts > MAX_HOSTS {
        item(
            format!("{hosts} hosts (at most {MAX_HOSTS})"),
            TOO_MANY_HOSTS,
        );
    }
    if faults(&sc.links.default) {
        item("links.default".into(), LINK_FAULTS);
    }
    for (i, p) in sc.links.pairs.iter().enumerate() {
        let what = || format!("links.pair {i} ({} - {})", p.a, p.b);
        if p.oneway {
            item(what(), ONEWAY_LINK);
        }
        if faults(&p.apply(&sc.links.default)) {
            item(what(), LINK_FAULTS);
        }
    }
    for h in &sc.hosts {
        if h.device.is_some() {
            item(format!("host {} device", h.name), DEVICES);
        }
        for s in &h.sockets {
            for e in &s.dial {
                if e.reconnect_jitter == Some(false) {
                    item(
                        format!("host {} socket {} dial {}", h.name, s.name, e.addr),
                        NO_JITTER,
                    );
                }
            }
            for e in s.listen.iter().chain(&s.dial) {
                if e.tcp_timers() != crate::def::TcpTimers::default() {
                    item(
                        format!("host {} socket {} endpoint {}", h.name, s.name, e.addr),
                        TCP_TIMERS,
                    );
                }
            }
        }
    }
    for (i, st) in sc.steps.iter().enumerate() {
        if !on_layer(st.layers.as_deref(), Layer::Turmoil) {
            continue;
        }
        let what =
            |extra: &str| format!("step {i} at {}ms ({}{extra})", st.at_ms, st.action.name());
        match &st.action {
            Action::Partition { oneway: true, .. } | Action::Repair { oneway: true, .. } => {
                item(what(", oneway"), ONEWAY);
            }
            Action::Link(_) => item(what(""), LINK_CHANGE),
            Action::Hostile { .. } => item(what(""), HOSTILE),
            Action::Crash { silent: true, .. } => item(what(", silent"), SILENT_CRASH),
            _ => {}
        }
    }
    for (i, e) in sc.expects.iter().enumerate() {
        if !on_layer(e.layers.as_deref(), Layer::Turmoil) {
            continue;
        }
        let what = format!("expect {i}: {}", e.what());
        match &e.check {
            Expect::NetDrops { .. } => item(what, NET_DROPS),
            Expect::Received(c) if c.from_host.is_some() => item(what, FROM_HOST),
            _ => {}
        }
    }
    v
}
