//! Definitions of hosts, sockets, endpoints and links: what a scenario file declares and
//! what [`Sim`](crate::Sim) builds from (and rebuilds from, when a crashed host restarts).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sp_proto::{Config, Options, PipeInfo, Priority, SocketType};

use crate::SimError;

/// Milliseconds as a float (TOML integers are accepted too), converted to a duration.
pub(crate) fn ms(v: f64) -> Duration {
    if v.is_finite() && v > 0.0 {
        Duration::from_nanos((v * 1e6).round() as u64)
    } else {
        Duration::ZERO
    }
}

/// One host: a name and the sockets its process opens at start (and at every restart).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostDef {
    /// The host name. With `count`, hosts are named `name-0000`, `name-0001`, ...
    pub name: String,
    /// Expands this definition into `count` hosts (`{host}` and `{i}` in addresses and
    /// bodies are replaced per host).
    #[serde(default)]
    pub count: Option<usize>,
    /// The sockets, in the order they are opened.
    #[serde(default, rename = "socket")]
    pub sockets: Vec<SocketDef>,
    /// A device the host's process runs between two of its raw sockets (layer 1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceDef>,
}

/// A device (`nn_device`) between two raw sockets of one host: what one receives, the
/// other sends, headers untouched, so requests and replies cross it with their
/// backtraces (and the sockets' TTL bounds how many devices a message crosses).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceDef {
    /// The name of one raw socket of the host.
    pub a: String,
    /// The name of the other, a peer type of `a` (a raw REP with a raw REQ, ...).
    pub b: String,
}

/// What a socket does with messages that arrive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecvMode {
    /// Receive every message as soon as it is ready (an application always in `recv`).
    #[default]
    Auto,
    /// Receive only on a timeline `recv` action (messages queue and back-pressure builds).
    Manual,
}

/// An automatic answer from a REP or RESPONDENT socket.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyDef {
    /// The answer's body; `{body}` is the request's body, `{host}` this host's name.
    #[serde(default = "default_reply_body")]
    pub body: String,
    /// How long the application takes to answer, in milliseconds.
    #[serde(default)]
    pub delay_ms: f64,
}

impl ReplyDef {
    /// The answer to `request`: the body template with `{body}` replaced by the request.
    pub fn answer(&self, request: &[u8]) -> bytes::Bytes {
        bytes::Bytes::from(
            self.body
                .replace("{body}", &String::from_utf8_lossy(request)),
        )
    }
}

fn default_reply_body() -> String {
    "{host}:{body}".to_owned()
}

/// Option values for a socket (absent fields keep the protocol defaults).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsDef {
    /// SURVEYOR deadline in milliseconds.
    pub survey_deadline_ms: Option<f64>,
    /// REQ resend interval in milliseconds (0 disables timed resends).
    pub resend_interval_ms: Option<f64>,
    /// Maximum hops (1..=255).
    pub ttl: Option<u32>,
    /// Messages queued per pipe for the user.
    pub recv_queue: Option<usize>,
    /// REQ: fail at once when no peer is connected.
    pub fail_no_peers: Option<bool>,
    /// PAIR v1 polyamorous mode.
    pub polyamorous: Option<bool>,
    /// Messages a pipe may have queued for sending before the protocol must wait for it
    /// (sp-net's `send_queue`, default 128; at least 1). On layer 1 a pipe has at most
    /// this many frames (and at most its link's `capacity_frames`) in flight.
    pub send_queue: Option<usize>,
    /// The longest message payload (SP header and body), in bytes, the socket takes from
    /// a peer (sp-net's `max_recv_size`, default 1 MiB): a longer frame closes its
    /// connection, counted as `net_drops` `oversize`.
    pub max_recv_size: Option<u64>,
}

impl OptionsDef {
    /// The protocol options these values give.
    pub fn to_options(&self) -> Result<Options, SimError> {
        let mut o = Options::default();
        if let Some(d) = self.survey_deadline_ms {
            o.set_survey_deadline(ms(d))
                .map_err(|e| SimError::Config(e.to_string()))?;
        }
        if let Some(d) = self.resend_interval_ms {
            o.set_resend_interval(Some(ms(d)));
        }
        if let Some(t) = self.ttl {
            o.set_max_ttl(t)
                .map_err(|e| SimError::Config(e.to_string()))?;
        }
        if let Some(n) = self.recv_queue {
            o.set_recv_queue(n)
                .map_err(|e| SimError::Config(e.to_string()))?;
        }
        if let Some(b) = self.fail_no_peers {
            o.fail_no_peers = b;
        }
        if let Some(b) = self.polyamorous {
            o.pair1_polyamorous = b;
        }
        if self.send_queue == Some(0) {
            return Err(SimError::Config("send_queue must be at least 1".into()));
        }
        Ok(o)
    }

    /// The largest message the socket takes from a peer.
    pub fn max_recv(&self) -> sp_proto::wire::frame::MaxRecvSize {
        self.max_recv_size
            .map_or(sp_proto::wire::frame::MaxRecvSize::DEFAULT, |n| {
                sp_proto::wire::frame::MaxRecvSize::Limited(n)
            })
    }
}

/// One socket of a host.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SocketDef {
    /// Name, unique within the host; the socket is addressed as `host.name`.
    pub name: String,
    /// Socket type: `pair`, `pair1`, `pub`, `sub`, `req`, `rep`, `push`, `pull`,
    /// `surveyor`, `respondent`, `bus`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Raw mode.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub raw: bool,
    /// Options.
    #[serde(default)]
    pub options: OptionsDef,
    /// Topics a SUB socket subscribes to when it opens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscribe: Vec<String>,
    /// When the application receives.
    #[serde(default)]
    pub recv: RecvMode,
    /// Automatic answers (REP, RESPONDENT).
    #[serde(default)]
    pub reply: Option<ReplyDef>,
    /// Addresses this socket listens on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listen: Vec<EndpointDef>,
    /// Addresses this socket dials.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dial: Vec<EndpointDef>,
}

impl SocketDef {
    /// How the application answers what it receives: a cooked REP or RESPONDENT with a
    /// `reply` answers every request (on either layer); anything else does not answer.
    pub fn replier(&self, ty: SocketType) -> Option<&ReplyDef> {
        self.reply
            .as_ref()
            .filter(|_| matches!(ty, SocketType::Rep | SocketType::Respondent) && !self.raw)
    }

    /// The socket type named by `kind`.
    pub fn socket_type(&self) -> Result<SocketType, SimError> {
        SocketType::ALL
            .into_iter()
            .find(|t| t.name() == self.kind || (self.kind == "pair0" && *t == SocketType::Pair0))
            .ok_or_else(|| SimError::Config(format!("unknown socket type {:?}", self.kind)))
    }

    /// The state machine configuration, with the given seed.
    pub fn config(&self, seed: u64) -> Result<Config, SimError> {
        Ok(Config {
            options: self.options.to_options()?,
            seed,
            raw: self.raw,
        })
    }
}

/// A listen or dial endpoint.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDef {
    /// `host:port`. The part before the colon names the host that listens there.
    pub addr: String,
    /// Send priority of pipes made by this endpoint (1 highest ..= 16, default 8).
    #[serde(default)]
    pub send_priority: Option<u8>,
    /// Receive priority of pipes made by this endpoint.
    #[serde(default)]
    pub recv_priority: Option<u8>,
    /// Dialers: first reconnect delay in milliseconds (default 100).
    #[serde(default)]
    pub reconnect_min_ms: Option<f64>,
    /// Dialers: reconnect delay cap in milliseconds (default 5000).
    #[serde(default)]
    pub reconnect_max_ms: Option<f64>,
    /// Dialers: randomise reconnect delays (default true; false gives every dialer the
    /// same schedule, to show what jitter prevents).
    #[serde(default)]
    pub reconnect_jitter: Option<bool>,
    /// TCP keepalive on this endpoint's connections: idle time before the first probe,
    /// in milliseconds. Keepalive is on when any `keepalive_*` field is set; the others
    /// default to Linux's (7 200 000 ms idle, 75 000 ms interval, 9 probes).
    #[serde(default)]
    pub keepalive_idle_ms: Option<f64>,
    /// TCP keepalive: time between probes in milliseconds.
    #[serde(default)]
    pub keepalive_interval_ms: Option<f64>,
    /// TCP keepalive: unanswered probes before the connection is reset (at least 1).
    #[serde(default)]
    pub keepalive_count: Option<u32>,
    /// `TCP_USER_TIMEOUT` in milliseconds: the connection is reset when data it sent stays
    /// unacknowledged that long.
    #[serde(default)]
    pub tcp_user_timeout_ms: Option<f64>,
}

/// Linux's keepalive defaults (`tcp_keepalive_time`, `_intvl`, `_probes`).
const LINUX_KEEPALIVE: (f64, f64, u32) = (7_200_000.0, 75_000.0, 9);

/// An endpoint's TCP timers: keepalive (idle, interval, count) and user timeout.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TcpTimers {
    /// Keepalive idle time, probe interval and probe count, when keepalive is on.
    pub keepalive: Option<(Duration, Duration, u32)>,
    /// `TCP_USER_TIMEOUT`, when set.
    pub user_timeout: Option<Duration>,
}

impl EndpointDef {
    /// The TCP timers this endpoint's connections run.
    pub fn tcp_timers(&self) -> TcpTimers {
        let on = self.keepalive_idle_ms.is_some()
            || self.keepalive_interval_ms.is_some()
            || self.keepalive_count.is_some();
        let (idle, interval, count) = LINUX_KEEPALIVE;
        TcpTimers {
            keepalive: on.then(|| {
                (
                    ms(self.keepalive_idle_ms.unwrap_or(idle)),
                    ms(self.keepalive_interval_ms.unwrap_or(interval)),
                    self.keepalive_count.unwrap_or(count).max(1),
                )
            }),
            user_timeout: self.tcp_user_timeout_ms.map(ms),
        }
    }

    /// An endpoint at `addr` with default priorities and backoff.
    pub fn new(addr: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            send_priority: None,
            recv_priority: None,
            reconnect_min_ms: None,
            reconnect_max_ms: None,
            reconnect_jitter: None,
            keepalive_idle_ms: None,
            keepalive_interval_ms: None,
            keepalive_count: None,
            tcp_user_timeout_ms: None,
        }
    }

    /// The pipe priorities this endpoint gives its pipes.
    pub fn pipe_info(&self) -> Result<PipeInfo, SimError> {
        let p = |v: Option<u8>| match v {
            None => Ok(Priority::DEFAULT),
            Some(v) => Priority::new(v)
                .ok_or_else(|| SimError::Config(format!("priority {v} out of range 1..=16"))),
        };
        Ok(PipeInfo {
            send_priority: p(self.send_priority)?,
            recv_priority: p(self.recv_priority)?,
        })
    }

    /// The host part of the address.
    pub fn host(&self) -> &str {
        self.addr.split(':').next().unwrap_or("")
    }
}

/// Behaviour of one direction of the network between two hosts (netem-style).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkDef {
    /// One-way delay in milliseconds.
    #[serde(default = "default_latency")]
    pub latency_ms: f64,
    /// Extra delay, uniform in `[0, jitter]` milliseconds, per frame.
    #[serde(default)]
    pub jitter_ms: f64,
    /// Probability (0..=1) that a frame is lost.
    #[serde(default)]
    pub loss: f64,
    /// Probability that a frame is delivered twice.
    #[serde(default)]
    pub duplicate: f64,
    /// Probability that a frame may overtake earlier frames (otherwise the connection
    /// keeps stream order, as TCP does).
    #[serde(default)]
    pub reorder: f64,
    /// Serialisation rate in bytes per second (0: unlimited).
    #[serde(default)]
    pub rate_bytes_per_s: u64,
    /// Frames one connection direction holds in flight (sent, not yet taken by the
    /// receiver) before its writer stops being writable.
    #[serde(default = "default_capacity")]
    pub capacity_frames: usize,
}

fn default_latency() -> f64 {
    1.0
}

fn default_capacity() -> usize {
    64
}

impl Default for LinkDef {
    fn default() -> Self {
        Self {
            latency_ms: default_latency(),
            jitter_ms: 0.0,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            rate_bytes_per_s: 0,
            capacity_frames: default_capacity(),
        }
    }
}

impl LinkDef {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), SimError> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(SimError::Config(format!("{name} {p} outside 0..=1")));
            }
        }
        if self.latency_ms < 0.0 || self.jitter_ms < 0.0 {
            return Err(SimError::Config("negative latency or jitter".into()));
        }
        if self.capacity_frames == 0 {
            return Err(SimError::Config(
                "capacity_frames must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// A per-pair override of the default link: fields given replace the default's.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    /// One host (or a prefix ending in `*`).
    pub a: String,
    /// The other host (or a prefix ending in `*`).
    pub b: String,
    /// Only the direction from `a` to `b` (default: both).
    #[serde(default)]
    pub oneway: bool,
    /// See [`LinkDef::latency_ms`].
    pub latency_ms: Option<f64>,
    /// See [`LinkDef::jitter_ms`].
    pub jitter_ms: Option<f64>,
    /// See [`LinkDef::loss`].
    pub loss: Option<f64>,
    /// See [`LinkDef::duplicate`].
    pub duplicate: Option<f64>,
    /// See [`LinkDef::reorder`].
    pub reorder: Option<f64>,
    /// See [`LinkDef::rate_bytes_per_s`].
    pub rate_bytes_per_s: Option<u64>,
    /// See [`LinkDef::capacity_frames`].
    pub capacity_frames: Option<usize>,
}

impl LinkOverride {
    /// `base` with this override's fields applied.
    pub fn apply(&self, base: &LinkDef) -> LinkDef {
        LinkDef {
            latency_ms: self.latency_ms.unwrap_or(base.latency_ms),
            jitter_ms: self.jitter_ms.unwrap_or(base.jitter_ms),
            loss: self.loss.unwrap_or(base.loss),
            duplicate: self.duplicate.unwrap_or(base.duplicate),
            reorder: self.reorder.unwrap_or(base.reorder),
            rate_bytes_per_s: self.rate_bytes_per_s.unwrap_or(base.rate_bytes_per_s),
            capacity_frames: self.capacity_frames.unwrap_or(base.capacity_frames),
        }
    }

    /// Whether this override covers the direction `from -> to`.
    pub fn covers(&self, from: &str, to: &str) -> bool {
        (host_matches(&self.a, from) && host_matches(&self.b, to))
            || (!self.oneway && host_matches(&self.a, to) && host_matches(&self.b, from))
    }
}

/// The network: a default link and per-pair overrides (later overrides win).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinksDef {
    /// The link between any two hosts not overridden.
    #[serde(default)]
    pub default: LinkDef,
    /// Overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty", rename = "pair")]
    pub pairs: Vec<LinkOverride>,
}

impl LinksDef {
    /// The link for the direction `from -> to`.
    pub fn resolve(&self, from: &str, to: &str) -> LinkDef {
        let mut l = self.default.clone();
        for o in &self.pairs {
            if o.covers(from, to) {
                l = o.apply(&l);
            }
        }
        l
    }
}

/// Whether `host` is matched by `pattern` (exact, `*`, or a prefix ending in `*`).
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => host.starts_with(prefix),
        None => pattern == host,
    }
}

/// Replaces `{host}` and `{i}` in `s`.
pub(crate) fn subst(s: &str, host: &str, i: usize) -> String {
    s.replace("{host}", host).replace("{i}", &i.to_string())
}

impl HostDef {
    /// The concrete hosts this definition stands for (one, or `count` numbered ones), with
    /// `{host}` and `{i}` replaced in addresses, topics and reply bodies.
    pub fn expand(&self) -> Vec<Self> {
        let names: Vec<(String, usize)> = match self.count {
            None => vec![(self.name.clone(), 0)],
            Some(n) => (0..n)
                .map(|i| (format!("{}-{i:04}", self.name), i))
                .collect(),
        };
        names
            .into_iter()
            .map(|(name, i)| {
                let mut h = self.clone();
                h.count = None;
                for s in &mut h.sockets {
                    for e in s.listen.iter_mut().chain(s.dial.iter_mut()) {
                        e.addr = subst(&e.addr, &name, i);
                    }
                    for t in &mut s.subscribe {
                        *t = subst(t, &name, i);
                    }
                    if let Some(r) = &mut s.reply {
                        r.body = subst(&r.body, &name, i);
                    }
                }
                h.name = name;
                h
            })
            .collect()
    }
}
