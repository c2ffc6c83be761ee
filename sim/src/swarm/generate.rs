//! The generator: a seed becomes a [`Plan`] (hosts grouped by protocol, a workload and a
//! fault schedule) using the seeded [`Rng`] only, so the same seed gives the same plan.

use sp_proto::rng::Rng;

use super::{Plan, Role};
use crate::def::{DeviceDef, OptionsDef, SocketDef};
use crate::def::{EndpointDef, HostDef, LinkDef, LinkOverride, LinksDef, RecvMode, ReplyDef};
use crate::scenario::{Action, HostileFrame, Layer, SendAction, Step};

/// The most hosts a plan has on each layer (layer 2 polls every host each 1 ms tick).
fn max_hosts(layer: Layer) -> u64 {
    match layer {
        Layer::Proto => 50,
        Layer::Turmoil => 8,
    }
}

/// The protocol of a group of hosts.
#[derive(Clone, Copy)]
enum Pattern {
    Pipeline,
    ReqRep,
    Survey,
    PubSub,
    Bus,
    Pair,
}

/// Seeded choices.
struct Gen {
    rng: Rng,
}

impl Gen {
    /// A stream of choices of its own for `seed`: `tag` tells the streams apart, so
    /// that what one part of the plan draws does not shift the others.
    fn stream(seed: u64, tag: u64) -> Self {
        Self {
            rng: Rng::new(seed ^ tag),
        }
    }
    fn below(&mut self, n: u64) -> u64 {
        self.rng.below(n.max(1))
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
    /// A probability in `lo..=hi` percent.
    fn rate(&mut self, lo: u64, hi: u64) -> f64 {
        self.range(lo, hi) as f64 / 100.0
    }
}

/// A socket named `s` of `kind` on host `name`.
fn host(name: String, kind: &str) -> HostDef {
    HostDef {
        name,
        count: None,
        sockets: vec![SocketDef {
            name: "s".into(),
            kind: kind.into(),
            raw: false,
            options: OptionsDef::default(),
            subscribe: vec![],
            recv: RecvMode::Auto,
            reply: None,
            listen: vec![],
            dial: vec![],
        }],
        device: None,
    }
}

/// The roles of a group's two sides: (clients, servers) and their socket kinds.
fn sides(p: Pattern) -> (&'static str, &'static str) {
    match p {
        Pattern::Pipeline => ("push", "pull"),
        Pattern::ReqRep => ("req", "rep"),
        Pattern::Survey => ("surveyor", "respondent"),
        Pattern::PubSub => ("pub", "sub"),
        Pattern::Bus => ("bus", "bus"),
        Pattern::Pair => ("pair", "pair"),
    }
}

/// Generates the plan of `seed` for `layer`.
pub fn generate(seed: u64, layer: Layer) -> Plan {
    let mut g = Gen::stream(seed, 0x5357_4152_4d00_0000);
    let mut dev = Gen::stream(seed, 0x4445_5649_4345_0000);
    let total = g.range(2, max_hosts(layer)) as usize;
    let base = LinkDef {
        latency_ms: g.range(1, 10) as f64,
        jitter_ms: g.below(4) as f64,
        ..LinkDef::default()
    };
    let mut hosts: Vec<HostDef> = Vec::new();
    let mut roles: Vec<Role> = Vec::new();
    let mut group = 0;
    while hosts.len() < total {
        let left = total - hosts.len();
        let mut p = g.pick(&[
            Pattern::Pipeline,
            Pattern::ReqRep,
            Pattern::Survey,
            Pattern::PubSub,
            Pattern::Bus,
            Pattern::Pair,
        ]);
        if matches!(p, Pattern::Pair) && left == 3 {
            p = Pattern::Bus;
        }
        let mut size = match p {
            Pattern::Pair => 2,
            _ => g.range(2, left.min(6) as u64) as usize,
        };
        if left - size == 1 {
            size += 1;
        }
        let first = hosts.len();
        add_group(&mut g, p, group, size, &mut hosts, &mut roles);
        // Devices come from their own stream, so the rest of the plan stays as it was.
        if matches!(p, Pattern::ReqRep) && layer == Layer::Proto && dev.chance(40) {
            let looped = dev.chance(50);
            let n = 1 + usize::from(looped);
            // Not past the largest plan, and never leaving room for a single host (a
            // group has at least two).
            let room = total.saturating_sub(hosts.len());
            if hosts.len() + n <= max_hosts(layer) as usize && room.checked_sub(n) != Some(1) {
                add_devices(&mut dev, group, first, looped, &mut hosts, &mut roles);
            }
        }
        group += 1;
    }
    let mut plan = Plan {
        seed,
        layer,
        base,
        hosts,
        roles,
        steps: Vec::new(),
        heal_ms: g.range(1500, 4000) as f64,
    };
    let mut hostile = Gen::stream(seed, 0x484f_5354_494c_0000);
    if layer == Layer::Proto && hostile.chance(25) {
        add_hostile(&mut hostile, &mut plan);
    }
    workload(&mut g, &mut plan);
    let mut ctx = Gen::stream(seed, 0x4354_5853_0000_0000);
    use_contexts(&mut ctx, &mut plan);
    let mut bufs = Gen::stream(seed, 0x4255_4653_0000_0000);
    buffers(&mut bufs, &mut plan);
    let mut closes = Gen::stream(seed, 0x434c_4f53_4500_0000);
    close_dialers(&mut closes, &mut plan);
    let mut socket_closes = Gen::stream(seed, 0x534f_434b_434c_0000);
    close_sockets(&mut socket_closes, &mut plan);
    faults(&mut g, &mut plan);
    loop_faults(&mut dev, &mut plan);
    if layer == Layer::Proto {
        let mut power = Gen::stream(seed, 0x504f_5745_5200_0000);
        silence_crashes(&mut power, &mut plan);
    }
    plan.steps
        .sort_by(|a, b| a.at_ms.partial_cmp(&b.at_ms).expect("finite times"));
    plan
}

/// Adds a group of `size` hosts speaking protocol `p`: clients and servers, one side
/// listening and the other dialing every listener of the other side (BUS: a full mesh).
fn add_group(
    g: &mut Gen,
    p: Pattern,
    group: usize,
    size: usize,
    hosts: &mut Vec<HostDef>,
    roles: &mut Vec<Role>,
) {
    let (ck, sk) = sides(p);
    let clients = match p {
        Pattern::Pipeline | Pattern::ReqRep => g.range(1, (size as u64 - 1).min(3)) as usize,
        Pattern::Survey | Pattern::PubSub | Pattern::Pair => 1,
        Pattern::Bus => size,
    };
    let first = hosts.len();
    let pair1 = g.chance(50);
    for i in 0..size {
        let (kind, j) = if i < clients || ck == sk {
            (if i < clients { ck } else { sk }, i)
        } else {
            (sk, i - clients)
        };
        let mut h = host(format!("g{group}-{kind}{j}"), kind);
        let s = &mut h.sockets[0];
        if kind == "pair" && pair1 {
            s.kind = "pair1".into();
        }
        options(g, s, clients == 1);
        hosts.push(h);
        roles.push(Role {
            group,
            client: i < clients,
        });
    }
    let clients_listen = g.chance(50);
    let members: Vec<usize> = (first..first + size).collect();
    for &a in &members {
        for &b in &members {
            let dials = match p {
                Pattern::Bus => a > b,
                _ => roles[a].client != roles[b].client && roles[b].client == clients_listen,
            };
            if dials {
                let addr = format!("{}:1", hosts[b].name);
                if !hosts[b].sockets[0].listen.iter().any(|e| e.addr == addr) {
                    hosts[b].sockets[0]
                        .listen
                        .push(EndpointDef::new(addr.clone()));
                }
                hosts[a].sockets[0].dial.push(dial_endpoint(g, addr));
            }
        }
    }
}

/// A dial endpoint to `addr` with a random send priority (1 to 3, or the default) and
/// reconnect delays (minimum 10 to 100 ms, maximum 2 to 10 times that).
fn dial_endpoint(g: &mut Gen, addr: String) -> EndpointDef {
    let mut e = EndpointDef::new(addr);
    if g.chance(50) {
        e.send_priority = Some(g.range(1, 3) as u8);
    }
    let min = g.pick(&[10u64, 50, 100]);
    e.reconnect_min_ms = Some(min as f64);
    e.reconnect_max_ms = Some((min * g.range(2, 10)) as f64);
    e
}

/// The lowest send priority: a device's pipe into a loop is used only when it has no
/// other pipe.
const LOOP_PRIORITY: u8 = 16;

/// A device host: a raw REP `s` (the front, facing the REQs) and a raw REQ `b` (the
/// back, facing the REPs), with a device between them, both with TTL `ttl`.
fn device_host(name: String, ttl: u32) -> HostDef {
    let mut h = host(name, "rep");
    let mut back = h.sockets[0].clone();
    back.name = "b".into();
    back.kind = "req".into();
    h.sockets.push(back);
    for s in &mut h.sockets {
        s.raw = true;
        s.options.ttl = Some(ttl);
    }
    h.device = Some(DeviceDef {
        a: "s".into(),
        b: "b".into(),
    });
    h
}

/// Puts a raw device between the REQs and REPs of the group whose hosts start at
/// `first` (the last group added): the REQs connect to its front, its back to the REPs,
/// each edge dialed from the side that dialed before. With `looped`, a second device
/// takes what the first sends it and sends it back: the first dials it at the lowest
/// priority, so requests go round that loop, one backtrace word more per device, only
/// while no REP is connected, until a device's TTL stops them. Every socket of the
/// group gets one TTL (2 to 8: the direct path needs 2).
fn add_devices(
    g: &mut Gen,
    group: usize,
    first: usize,
    looped: bool,
    hosts: &mut Vec<HostDef>,
    roles: &mut Vec<Role>,
) {
    let members: Vec<usize> = (first..hosts.len()).collect();
    let servers_dial = members
        .iter()
        .any(|&i| !roles[i].client && !hosts[i].sockets[0].dial.is_empty());
    let ttl = g.range(2, 8) as u32;
    let d0 = format!("g{group}-dev0");
    let d1 = format!("g{group}-dev1");
    let mut dev = device_host(d0.clone(), ttl);
    for &i in &members {
        let own = format!("{}:1", hosts[i].name);
        let client = roles[i].client;
        let s = &mut hosts[i].sockets[0];
        s.options.ttl = Some(ttl);
        s.dial.clear();
        s.listen.clear();
        match (client, servers_dial) {
            (true, false) => s.dial.push(dial_endpoint(g, format!("{d0}:1"))),
            (false, true) => s.dial.push(dial_endpoint(g, format!("{d0}:2"))),
            (true, true) => {
                s.listen.push(EndpointDef::new(own.clone()));
                dev.sockets[0].dial.push(dial_endpoint(g, own));
            }
            (false, false) => {
                s.listen.push(EndpointDef::new(own.clone()));
                dev.sockets[1].dial.push(dial_endpoint(g, own));
            }
        }
    }
    if !servers_dial || looped {
        dev.sockets[0]
            .listen
            .push(EndpointDef::new(format!("{d0}:1")));
    }
    if servers_dial {
        dev.sockets[1]
            .listen
            .push(EndpointDef::new(format!("{d0}:2")));
    }
    let mut extra = vec![];
    if looped {
        let mut e = dial_endpoint(g, format!("{d1}:1"));
        e.send_priority = Some(LOOP_PRIORITY);
        dev.sockets[1].dial.push(e);
        let mut back = device_host(d1.clone(), ttl);
        back.sockets[0]
            .listen
            .push(EndpointDef::new(format!("{d1}:1")));
        back.sockets[1]
            .dial
            .push(dial_endpoint(g, format!("{d0}:1")));
        extra.push(back);
    }
    for h in std::iter::once(dev).chain(extra) {
        hosts.push(h);
        roles.push(Role {
            group,
            client: false,
        });
    }
}

/// Random options for a socket by its kind: resend intervals, survey deadlines, TTL,
/// queue lengths, slow consumers, automatic replies and initial subscriptions. A REP
/// with a single client (`one_client`) may be slow.
fn options(g: &mut Gen, s: &mut SocketDef, one_client: bool) {
    if g.chance(30) {
        s.options.ttl = Some(g.range(1, 8) as u32);
    }
    match s.kind.as_str() {
        "req" => s.options.resend_interval_ms = Some(g.pick(&[100.0, 250.0, 500.0, 1000.0])),
        "surveyor" => s.options.survey_deadline_ms = Some(g.pick(&[100.0, 200.0, 500.0])),
        "rep" | "respondent" => {
            s.reply = Some(ReplyDef {
                body: "{body}@{host}".into(),
                // Some servers are slow, so requests are in progress when faults hit.
                delay_ms: if s.kind == "rep" && one_client && g.chance(30) {
                    // Below the shortest resend interval, and for one client only: a
                    // server slower than its clients' resends faces a retry storm, which
                    // is overload, not a bug.
                    g.range(30, 90)
                } else {
                    g.below(20)
                } as f64,
            });
        }
        "sub" => {
            for t in ["a", "b"] {
                if g.chance(50) {
                    s.subscribe.push(t.into());
                }
            }
        }
        "pull" if g.chance(25) => s.recv = RecvMode::Manual,
        _ => {}
    }
    if matches!(s.kind.as_str(), "pull" | "sub" | "bus" | "rep") && g.chance(30) {
        s.options.recv_queue = Some(g.range(1, 8) as usize);
    }
}

/// The send action of a client socket of `kind`.
fn send_action(kind: &str, s: SendAction) -> Action {
    match kind {
        "req" => Action::Request(s),
        "surveyor" => Action::Survey(s),
        _ => Action::Send(s),
    }
}

/// Sends, requests, surveys, subscription changes and slow-consumer receives, all before
/// the heal time.
fn workload(g: &mut Gen, plan: &mut Plan) {
    let end = plan.heal_ms - 100.0;
    let mut steps = Vec::new();
    for h in &plan.hosts {
        let s = &h.sockets[0];
        let full = format!("{}.s", h.name);
        let sends = matches!(s.kind.as_str(), "push" | "req" | "surveyor" | "pub" | "bus")
            || s.kind.starts_with("pair");
        if sends {
            for k in 0..g.range(1, 3) {
                let topic = if s.kind == "pub" {
                    g.pick(&["a", "b", "c"])
                } else {
                    "m"
                };
                let at = g.range(50, end as u64) as f64;
                let every = g.range(20, 200) as f64;
                // Every repetition before the heal time.
                let fits = ((end - at) / every) as u64 + 1;
                let act = SendAction {
                    socket: full.clone(),
                    body: format!("{topic}~{full}~{k}~{{i}}"),
                    count: Some(g.range(1, 10).min(fits) as usize),
                    every_ms: Some(every),
                    context: None,
                };
                steps.push(step(at, send_action(&s.kind, act)));
            }
        }
        if s.kind == "sub" {
            for _ in 0..g.below(3) {
                let topic = g.pick(&["a", "b", "c"]).to_owned();
                let socket = full.clone();
                let act = if g.chance(50) {
                    Action::Subscribe { socket, topic }
                } else {
                    Action::Unsubscribe { socket, topic }
                };
                steps.push(step(g.range(50, end as u64) as f64, act));
            }
        }
        if s.recv == RecvMode::Manual {
            let mut t = 100.0;
            while t < plan.heal_ms {
                let act = Action::Recv {
                    socket: full.clone(),
                    max: Some(1),
                };
                steps.push(step(t, act));
                t += 100.0;
            }
        }
    }
    plan.steps.extend(steps);
}

/// Buffer options and large messages (from their own seeded stream, both layers): a
/// quarter of the sockets get a send queue of 1 to 8 messages, a quarter a maximum
/// receive size of 128, 256 or 1024 bytes; and a fifth of the `send` steps (PUSH, PUB,
/// BUS, PAIR) carry a body padded to 100 to 600 bytes more, so that some messages are
/// over some receivers' limit: those close their connection (`oversize`) and are lost.
fn buffers(g: &mut Gen, plan: &mut Plan) {
    for s in plan.hosts.iter_mut().flat_map(|h| &mut h.sockets) {
        if g.chance(25) {
            s.options.send_queue = Some(g.range(1, 8) as usize);
        }
        if g.chance(25) {
            s.options.max_recv_size = Some(g.pick(&[128, 256, 1024]));
        }
    }
    for st in &mut plan.steps {
        if let Action::Send(a) = &mut st.action {
            if g.chance(20) {
                a.body.push('~');
                a.body
                    .extend(std::iter::repeat_n('x', g.range(100, 600) as usize));
            }
        }
    }
}

/// REQ and SURVEYOR contexts (from their own seeded stream): each request or
/// survey step of a cooked socket goes, with a chance of 40 %, to the socket's context
/// 1, 2 or 3 instead of its default one, so that several requests or surveys of one
/// socket are in flight at once.
fn use_contexts(g: &mut Gen, plan: &mut Plan) {
    for st in &mut plan.steps {
        if let Action::Request(a) | Action::Survey(a) = &mut st.action {
            if g.chance(40) {
                a.context = Some(g.range(1, 3) as u32);
            }
        }
    }
}

fn step(at_ms: f64, action: Action) -> Step {
    Step {
        at_ms,
        layers: None,
        action,
    }
}

/// The fault schedule: partitions (one-way on layer 1 only), crashes with restarts,
/// listener restarts, and on layer 1 link faults (loss, duplication, reordering, latency
/// spikes, clogging). Every fault ends before the heal time or is healed then.
fn faults(g: &mut Gen, plan: &mut Plan) {
    let n = plan.hosts.len() as u64;
    let heal = plan.heal_ms;
    let proto = plan.layer == Layer::Proto;
    let mut down_until = vec![0.0f64; plan.hosts.len()];
    let mut out = Vec::new();
    for _ in 0..g.range(0, 10) {
        let at = g.range(100, heal as u64 - 200) as f64;
        let until = at + g.range(50, 1500) as f64;
        let x = g.below(n) as usize;
        let a = plan.hosts[x].name.clone();
        let b = if g.chance(25) {
            "*".to_owned()
        } else {
            plan.hosts[g.below(n) as usize].name.clone()
        };
        let kind = g.below(if proto { 6 } else { 3 });
        let mut push = |at: f64, action| out.push(step(at, action));
        match kind {
            0 if a != b => {
                let oneway = proto && g.chance(30);
                push(
                    at,
                    Action::Partition {
                        a: a.clone(),
                        b: b.clone(),
                        oneway,
                    },
                );
                if until < heal {
                    push(until, Action::Repair { a, b, oneway });
                }
            }
            1 if down_until[x] < at => {
                push(
                    at,
                    Action::Crash {
                        host: a.clone(),
                        silent: false,
                    },
                );
                down_until[x] = if until < heal { until } else { f64::INFINITY };
                if until < heal {
                    push(until, Action::Restart { host: a });
                }
            }
            2 => {
                let s = &plan.hosts[x].sockets[0];
                if let Some(e) = s.listen.first() {
                    let down = g.range(10, 500) as f64;
                    if at + down < heal {
                        push(
                            at,
                            Action::RestartListener {
                                socket: format!("{a}.s"),
                                addr: e.addr.clone(),
                                down_ms: down,
                            },
                        );
                    }
                }
            }
            _ if proto && a != b => {
                let mut o = LinkOverride {
                    a: a.clone(),
                    b: b.clone(),
                    ..LinkOverride::default()
                };
                match g.below(5) {
                    0 => o.loss = Some(g.rate(5, 30)),
                    1 => o.duplicate = Some(g.rate(5, 30)),
                    2 => o.reorder = Some(g.rate(10, 50)),
                    3 => o.latency_ms = Some(g.range(50, 300) as f64),
                    // Clogging: frames held (in order) for long, not dropped.
                    _ => o.latency_ms = Some(g.range(500, 1500) as f64),
                }
                push(at, Action::Link(o));
                if until < heal {
                    push(until, Action::Link(reset_link(&plan.base, a, b)));
                }
            }
            _ => {}
        }
    }
    plan.steps.extend(out);
}

/// A hostile host (layer 1, from its own seeded stream): it joins the group of a
/// listening REP, RESPONDENT, PULL or SUB as one more client of the peer type, and 1 to 3
/// times before the heal writes a frame past its protocol: one announcing 4 GiB (the
/// victim closes the connection, and the hostile host redials), or to a REP or
/// RESPONDENT one too short for its header (dropped, `malformed_header`). Apart from
/// that it behaves, so the liveness phase checks it and everyone else is served.
fn add_hostile(g: &mut Gen, plan: &mut Plan) {
    if plan.hosts.len() >= max_hosts(plan.layer) as usize {
        return;
    }
    let victims: Vec<usize> = (0..plan.hosts.len())
        .filter(|&i| {
            let s = &plan.hosts[i].sockets[0];
            plan.hosts[i].device.is_none()
                && !s.listen.is_empty()
                && matches!(s.kind.as_str(), "rep" | "respondent" | "pull" | "sub")
        })
        .collect();
    if victims.is_empty() {
        return;
    }
    let v = victims[g.below(victims.len() as u64) as usize];
    let victim = &plan.hosts[v].sockets[0];
    let kind = match victim.kind.as_str() {
        "rep" => "req",
        "respondent" => "surveyor",
        "pull" => "push",
        _ => "pub",
    };
    let header = matches!(victim.kind.as_str(), "rep" | "respondent");
    let addr = victim.listen[0].addr.clone();
    let group = plan.roles[v].group;
    let mut h = host(format!("g{group}-hostile"), kind);
    options(g, &mut h.sockets[0], false);
    h.sockets[0].options.ttl = victim.options.ttl;
    h.sockets[0].dial.push(dial_endpoint(g, addr));
    let socket = format!("{}.s", h.name);
    for _ in 0..g.range(1, 3) {
        let frame = if header && g.chance(50) {
            HostileFrame::Malformed
        } else {
            HostileFrame::Oversize
        };
        let at = g.range(100, plan.heal_ms as u64 - 200) as f64;
        let socket = socket.clone();
        plan.steps.push(step(at, Action::Hostile { socket, frame }));
    }
    plan.hosts.push(h);
    plan.roles.push(Role {
        group,
        client: true,
    });
}

/// Turns about a third of the crashes into power losses (`silent`: no FIN, the peers'
/// connections stay half-open), from their own seeded stream. Every endpoint of the
/// crashed host's group then runs TCP keepalive (idle 100 to 500 ms, probes 50 to 200 ms
/// apart, 1 to 3 of them), which is what lets a peer that sends nothing notice, and what
/// the liveness phase's bound counts on.
fn silence_crashes(g: &mut Gen, plan: &mut Plan) {
    let mut groups = Vec::new();
    for st in &mut plan.steps {
        let Action::Crash { host, silent } = &mut st.action else {
            continue;
        };
        if g.chance(30) {
            *silent = true;
            if let Some(i) = plan.hosts.iter().position(|h| h.name == *host) {
                groups.push(plan.roles[i].group);
            }
        }
    }
    groups.sort_unstable();
    groups.dedup();
    for group in groups {
        let idle = g.range(100, 500) as f64;
        let interval = g.range(50, 200) as f64;
        let count = g.range(1, 3) as u32;
        let members = (0..plan.hosts.len()).filter(|&i| plan.roles[i].group == group);
        for i in members.collect::<Vec<_>>() {
            for s in &mut plan.hosts[i].sockets {
                for e in s.listen.iter_mut().chain(s.dial.iter_mut()) {
                    e.keepalive_idle_ms = Some(idle);
                    e.keepalive_interval_ms = Some(interval);
                    e.keepalive_count = Some(count);
                }
            }
        }
    }
}

/// Dialer closes in the workload (from their own seeded stream): a socket with two or
/// more dialers closes one of them (not its first, so it keeps a peer) with a chance of
/// 15 %, at a random time before the heal. The liveness phase then expects neither that
/// connection nor the peer across it, unless the host restarts after the close (which
/// reopens every dialer of its definition).
fn close_dialers(g: &mut Gen, plan: &mut Plan) {
    let end = plan.heal_ms as u64 - 200;
    for h in &plan.hosts {
        for s in &h.sockets {
            if s.dial.len() < 2 || !g.chance(15) {
                continue;
            }
            let e = &s.dial[g.range(1, s.dial.len() as u64 - 1) as usize];
            let act = Action::CloseDialer {
                socket: format!("{}.{}", h.name, s.name),
                addr: e.addr.clone(),
            };
            plan.steps.push(step(g.range(100, end) as f64, act));
        }
    }
}

/// Socket closes in the workload (from their own seeded stream): the application of a
/// host in a group without devices closes its socket `s` with a chance of 8 %, at a
/// random time before the heal (a REQ behind a device cannot tell that every REP
/// behind it is gone, so the liveness phase could not say what it waits for). The liveness phase then expects nothing of it nor of its pipes,
/// unless its host was down at the close (which then does nothing) or crashes after it
/// (its restart reopens the socket).
fn close_sockets(g: &mut Gen, plan: &mut Plan) {
    let end = plan.heal_ms as u64 - 200;
    let devices: Vec<usize> = (0..plan.hosts.len())
        .filter(|&i| plan.hosts[i].device.is_some())
        .map(|i| plan.roles[i].group)
        .collect();
    for (h, r) in plan.hosts.iter().zip(&plan.roles) {
        if !devices.contains(&r.group) && g.chance(8) {
            let act = Action::Close {
                socket: format!("{}.s", h.name),
            };
            plan.steps.push(step(g.range(100, end) as f64, act));
        }
    }
}

/// For every group with a device loop, a time when all its REPs are down at once (a
/// crash, and a restart 200 to 600 ms later, before the heal), so its first device
/// has no pipe but the one into the loop and the requests of that time go round it.
fn loop_faults(g: &mut Gen, plan: &mut Plan) {
    let heal = plan.heal_ms as u64;
    let mut out = Vec::new();
    for h in plan.hosts.iter().filter(|h| h.name.ends_with("-dev1")) {
        let prefix = h.name.trim_end_matches("dev1");
        let at = g.range(100, heal - 700) as f64;
        let until = at + g.range(200, 600) as f64;
        for rep in plan.hosts.iter().filter(|r| {
            r.name.starts_with(prefix) && r.device.is_none() && r.sockets[0].kind == "rep"
        }) {
            out.push(step(
                at,
                Action::Crash {
                    host: rep.name.clone(),
                    silent: false,
                },
            ));
            out.push(step(
                until,
                Action::Restart {
                    host: rep.name.clone(),
                },
            ));
        }
    }
    plan.steps.extend(out);
}

/// A link override that puts the direction(s) between `a` and `b` back to `base`.
pub(super) fn reset_link(base: &LinkDef, a: String, b: String) -> LinkOverride {
    LinkOverride {
        a,
        b,
        oneway: false,
        latency_ms: Some(base.latency_ms),
        jitter_ms: Some(base.jitter_ms),
        loss: Some(0.0),
        duplicate: Some(0.0),
        reorder: Some(0.0),
        rate_bytes_per_s: Some(0),
        capacity_frames: Some(base.capacity_frames),
    }
}

/// The links of a plan: its base link everywhere, no overrides at the start.
pub(super) fn links(base: &LinkDef) -> LinksDef {
    LinksDef {
        default: base.clone(),
        pairs: vec![],
    }
}
