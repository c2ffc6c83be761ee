//! Behaviour checks against the real peers, beyond "messages get through": survey
//! deadlines, REQ resends, and peers of the wrong type.

use std::time::{Duration, Instant};

use sp_net::{Socket, SocketOptions, SocketType};

use crate::check_kit::{c_peer, eventually, ours_recv, peer_err, tcp, SHORT_MS};
use crate::harness::{CallError, Lib, PeerExes};

/// A behaviour check, run against each library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// A C surveyor (deadline 300 ms) with two of our respondents, one answering in time
    /// and one late: see [`crate::survey`]. The deadline (not earlier) ends the survey
    /// with ETIMEDOUT, a receive then fails at once with EFSM, answers to an older survey
    /// and to the expired one are never delivered, and a new survey works.
    SurveyDeadlineTheirSurveyor,
    /// Our surveyor (deadline 300 ms) with two C respondents, one late: the same script;
    /// our end is `SurveyExpired`, then `WrongState`, and the two late answers are counted
    /// as `StaleId` and `SurveyExpired` respectively.
    SurveyDeadlineOurSurveyor,
    /// The default survey deadline (1 s) with nothing set, our surveyor and theirs.
    SurveyDefaultDeadline,
    /// Our REQ (resend 300 ms) with a C REP that drops the first request: the request is
    /// resent and answered.
    ReqResendOurReq,
    /// A C REQ (resend 300 ms) with our REP ignoring the first request: the request is
    /// resent and our answer reaches the C REQ.
    ReqResendTheirReq,
    /// Our REQ (default 60 s resend interval) with two C REPs at send priorities 1 and 2:
    /// the REP at priority 1 receives the request and is killed; the request goes to the
    /// other REP at once (long before the interval) and its answer arrives.
    ReqResendOnPipeLoss,
    /// Wrong peer types (our PUSH to their REP, their PUSH to our REP, our PAIR0 to their
    /// PAIR1 where they have it): no pipe forms, no message passes, the handshake
    /// failure is counted.
    WrongPeerRefused,
    /// Send-priority failover on PUSH: see [`crate::priority`].
    PriorityPush,
    /// Send-priority failover on REQ: see [`crate::priority`].
    PriorityReq,
    /// Devices in mixed chains, backtraces and the hop limit: see [`crate::devices`].
    Devices,
    /// SURVEY and PUB/SUB through a C device, BUS through a C reflector: see
    /// [`crate::device_patterns`].
    DevicePatterns,
    /// NNG's REQ, REP and SURVEYOR contexts against ours, many in flight: see
    /// [`crate::contexts`] (NNG only: libnanomsg has no contexts).
    Contexts,
    /// PAIR v1 polyamorous mode both ways and hop counts across a mixed device chain:
    /// see [`crate::pair1`] (NNG only: libnanomsg has no PAIR v1).
    Pair1,
    /// Several peers at once (PUB fan-out, a mixed BUS mesh, a mixed SURVEYOR): see
    /// [`crate::several`].
    SeveralPeers,
    /// Bad WebSocket upgrades and a text frame: see [`crate::ws_hostile`].
    WsHostile,
    /// A C peer over our receive limit: see [`crate::hostile::oversize`].
    Oversize,
    /// Hostile bytes towards their listeners and ours: see [`crate::hostile::check`].
    HostileInput,
    /// Priority failover under a black-hole partition: see [`crate::blackhole`].
    BlackHoleFailover,
    /// The test vectors a C peer can observe, replayed against it: see
    /// [`crate::vector_replay`].
    VectorReplay,
}

impl Check {
    /// Every check.
    pub const ALL: [Self; 19] = [
        Self::SurveyDeadlineTheirSurveyor,
        Self::SurveyDeadlineOurSurveyor,
        Self::SurveyDefaultDeadline,
        Self::ReqResendOurReq,
        Self::ReqResendTheirReq,
        Self::ReqResendOnPipeLoss,
        Self::WrongPeerRefused,
        Self::PriorityPush,
        Self::PriorityReq,
        Self::Devices,
        Self::DevicePatterns,
        Self::Contexts,
        Self::Pair1,
        Self::SeveralPeers,
        Self::WsHostile,
        Self::Oversize,
        Self::HostileInput,
        Self::BlackHoleFailover,
        Self::VectorReplay,
    ];

    /// Whether the check measures time (deadlines, resend gaps), so it must not run
    /// alongside the matrix's load.
    pub const fn timed(self) -> bool {
        matches!(
            self,
            Self::SurveyDeadlineTheirSurveyor
                | Self::SurveyDeadlineOurSurveyor
                | Self::SurveyDefaultDeadline
                | Self::ReqResendOurReq
                | Self::ReqResendTheirReq
                | Self::ReqResendOnPipeLoss
                | Self::BlackHoleFailover
        )
    }

    /// Whether the check applies to `lib` (contexts and PAIR v1 are NNG's).
    pub const fn applies(self, lib: Lib) -> bool {
        !matches!((self, lib), (Self::Contexts | Self::Pair1, Lib::Nanomsg))
    }

    /// A short description for the report.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SurveyDeadlineTheirSurveyor => {
                "survey deadline: their SURVEYOR, our RESPONDENTs (one late): end not early, EFSM after, stale and late answers dropped"
            }
            Self::SurveyDeadlineOurSurveyor => {
                "survey deadline: our SURVEYOR, their RESPONDENTs (one late): end not early, EFSM after, stale and late answers counted apart"
            }
            Self::SurveyDefaultDeadline => "survey default deadline (1 s, nothing set), ours and theirs",
            Self::ReqResendOurReq => {
                "REQ resend: our REQ, their REP drops the first request; resend not before 300 ms"
            }
            Self::ReqResendTheirReq => {
                "REQ resend: their REQ, our REP ignores the first request; resend not before 300 ms"
            }
            Self::ReqResendOnPipeLoss => {
                "REQ resend at once when the REP holding the request dies (our REQ, their REPs)"
            }
            Self::WrongPeerRefused => "wrong peer type refused (PUSH↔REP both ways, PAIR0↔PAIR1) over tcp, ipc and ws",
            Self::PriorityPush => {
                "PUSH priority failover (prio 1 and 2; 1 killed, then back), ours vs theirs"
            }
            Self::PriorityReq => {
                "REQ priority failover (prio 1 and 2; 1 killed, then back), ours vs theirs"
            }
            Self::Devices => "devices: mixed chains, backtrace per hop, hop limit 8",
            Self::DevicePatterns => {
                "devices beyond REQ/REP: SURVEY and PUB/SUB through a C device, a C BUS reflector, mixed ends"
            }
            Self::Contexts => "contexts: REQ, REP, SURVEYOR, 16 in flight each side",
            Self::Pair1 => {
                "PAIR v1: polyamorous listeners (ours, theirs) with two peers; hop counts through a mixed device chain, TTL 8"
            }
            Self::SeveralPeers => {
                "several peers at once: PUB fan-out, BUS mesh of three, SURVEYOR with C and Rust respondents"
            }
            Self::WsHostile => {
                "ws listeners: upgrade without a key, unserved path, text frame; theirs and ours"
            }
            Self::Oversize => "a C PUSH over our 1 MiB limit loses only its own connection",
            Self::HostileInput => {
                "hostile bytes (wire-facts E4, E7, E8, E9) towards their listener and ours"
            }
            Self::BlackHoleFailover => {
                "PUSH priority failover under a black hole (no FIN, no RST): who recovers, with which option"
            }
            Self::VectorReplay => {
                "spec/vectors replayed: connection headers, header errors, frames, backtraces, PAIR v1 hop counts, SUB topics and WebSocket upgrades (handshake, framing, backtrace, pair1, pubsub and websocket .json)"
            }
        }
    }

    /// Runs the check against `lib`.
    /// Runs the check against `lib`; `Ok` carries what was observed, if worth reporting.
    pub async fn run(self, lib: Lib, exes: &PeerExes) -> Result<String, String> {
        let none = |r: Result<(), String>| r.map(|()| String::new());
        match self {
            Self::SurveyDeadlineTheirSurveyor => {
                none(crate::survey::survey_their_surveyor(lib, exes).await)
            }
            Self::SurveyDeadlineOurSurveyor => {
                none(crate::survey::survey_our_surveyor(lib, exes).await)
            }
            Self::SurveyDefaultDeadline => crate::survey::default_deadline(lib, exes).await,
            Self::ReqResendOurReq => none(resend_our_req(lib, exes).await),
            Self::ReqResendTheirReq => none(resend_their_req(lib, exes).await),
            Self::ReqResendOnPipeLoss => none(resend_on_pipe_loss(lib, exes).await),
            Self::WrongPeerRefused => wrong_peer(lib, exes).await,
            Self::PriorityPush => crate::priority::check(lib, false, exes).await,
            Self::PriorityReq => crate::priority::check(lib, true, exes).await,
            Self::Devices => crate::devices::check(lib, exes).await,
            Self::DevicePatterns => crate::device_patterns::check(lib, exes).await,
            Self::Contexts => crate::contexts::check(lib, exes).await,
            Self::Pair1 => crate::pair1::check(exes).await,
            Self::SeveralPeers => crate::several::check(lib, exes).await,
            Self::WsHostile => crate::ws_hostile::check(lib, exes).await,
            Self::Oversize => crate::hostile::oversize(lib, exes).await,
            Self::HostileInput => crate::hostile::check(lib, exes).await,
            Self::BlackHoleFailover => crate::blackhole::check(lib, exes).await,
            Self::VectorReplay => crate::vector_replay::check(lib, exes).await,
        }
    }
}

/// A resend received `since_send` after the request was sent must not have come before
/// the [`SHORT_MS`] interval (timers never fire early: the slack is clock grain).
fn not_early(since_send: Duration) -> Result<(), String> {
    if since_send + crate::survey::EARLY_SLACK < Duration::from_millis(u64::from(SHORT_MS)) {
        return Err(format!(
            "the resend arrived {since_send:?} after the request, before the {SHORT_MS} ms interval"
        ));
    }
    Ok(())
}

/// Asks `question` on our `req` in the background; the task fails unless the reply
/// `answer` arrives within 10 s.
fn ask_question(req: &Socket) -> tokio::task::JoinHandle<Result<(), String>> {
    let req = req.clone();
    tokio::spawn(async move {
        let reply = tokio::time::timeout(Duration::from_secs(10), req.request("question"))
            .await
            .map_err(|_| "no reply within 10 s".to_owned())?
            .map_err(|e| e.to_string())?;
        if reply.body != "answer" {
            return Err(format!("REQ got {reply:?}"));
        }
        Ok(())
    })
}

async fn resend_our_req(lib: Lib, exes: &PeerExes) -> Result<(), String> {
    let req = Socket::new(SocketType::Req);
    let mut o = req.protocol_options();
    o.set_resend_interval(Some(Duration::from_millis(u64::from(SHORT_MS))));
    req.set_protocol_options(o);
    let mut rep = c_peer(lib, SocketType::Rep, exes).await?;
    let result = async {
        let url = rep
            .call(&format!("listen {}", tcp()))
            .await
            .map_err(peer_err("listen"))?;
        drop(req.dial(&url).await.map_err(|e| e.to_string())?);
        let sent = Instant::now();
        let asking = ask_question(&req);
        // The first copy is received and dropped (never answered); the resend comes.
        let first = rep.recv_timeout(5000).await.map_err(peer_err("recv"))?;
        let start = Instant::now();
        let second = rep
            .recv_timeout(5000)
            .await
            .map_err(peer_err("recv resend"))?;
        let gap = start.elapsed();
        if first != b"question" || second != b"question" {
            return Err(format!("REP got {first:?} then {second:?}"));
        }
        not_early(sent.elapsed())?;
        if gap > Duration::from_secs(3) {
            return Err(format!("the resend came after {gap:?}"));
        }
        rep.send(b"answer").await.map_err(peer_err("send"))?;
        asking.await.map_err(|e| e.to_string())??;
        if req.stats().protocol.resends == 0 {
            return Err("our REQ counted no resend".to_owned());
        }
        Ok(())
    }
    .await;
    rep.quit().await;
    req.close().await;
    result
}

async fn resend_on_pipe_loss(lib: Lib, exes: &PeerExes) -> Result<(), String> {
    let req = Socket::new(SocketType::Req); // default resend interval: 60 s
    let mut first = c_peer(lib, SocketType::Rep, exes).await?;
    let mut second = c_peer(lib, SocketType::Rep, exes).await?;
    let result = async {
        for (peer, prio) in [(&mut first, 1), (&mut second, 2)] {
            let url = peer
                .call(&format!("listen {}", tcp()))
                .await
                .map_err(peer_err("listen"))?;
            let priority = sp_net::Priority::new(prio).expect("1 and 2 are priorities");
            req.set_options(SocketOptions {
                send_priority: priority,
                ..req.options()
            });
            drop(req.dial(&url).await.map_err(|e| e.to_string())?);
        }
        req.wait_for_pipes(2).await.map_err(|e| e.to_string())?;
        let asking = ask_question(&req);
        let got = first
            .recv_timeout(5000)
            .await
            .map_err(peer_err("recv at priority 1"))?;
        if got != b"question" {
            return Err(format!("the priority-1 REP got {got:?}"));
        }
        let start = Instant::now();
        first.kill().await;
        let again = second
            .recv_timeout(5000)
            .await
            .map_err(peer_err("recv at priority 2"))?;
        let gap = start.elapsed();
        if again != b"question" {
            return Err(format!("the priority-2 REP got {again:?}"));
        }
        if gap > Duration::from_secs(3) {
            return Err(format!("the resend came after {gap:?}, not at once"));
        }
        second.send(b"answer").await.map_err(peer_err("send"))?;
        asking.await.map_err(|e| e.to_string())??;
        if req.stats().protocol.resends != 1 {
            return Err(format!(
                "our REQ counted {} resends, expected 1",
                req.stats().protocol.resends
            ));
        }
        Ok(())
    }
    .await;
    second.quit().await;
    req.close().await;
    result
}

async fn resend_their_req(lib: Lib, exes: &PeerExes) -> Result<(), String> {
    let rep = Socket::new(SocketType::Rep);
    let ep = rep.listen(tcp()).await.map_err(|e| e.to_string())?;
    let url = ep.url().to_string();
    drop(ep);
    let mut req = c_peer(lib, SocketType::Req, exes).await?;
    let result = async {
        req.opt("resend-ivl", SHORT_MS)
            .await
            .map_err(peer_err("resend-ivl"))?;
        req.call(&format!("dial {url}"))
            .await
            .map_err(peer_err("dial"))?;
        let sent = Instant::now();
        req.send(b"question").await.map_err(peer_err("send"))?;
        let first = ours_recv(&rep).await?;
        let start = Instant::now();
        let second = ours_recv(&rep).await?;
        let gap = start.elapsed();
        if first != b"question" || second != b"question" {
            return Err(format!("our REP got {first:?} then {second:?}"));
        }
        not_early(sent.elapsed())?;
        if gap > Duration::from_secs(3) {
            return Err(format!("the resend came after {gap:?}"));
        }
        rep.send("answer").await.map_err(|e| e.to_string())?;
        let reply = req.recv_timeout(5000).await.map_err(peer_err("recv"))?;
        if reply != b"answer" {
            return Err(format!("their REQ got {reply:?}"));
        }
        Ok(())
    }
    .await;
    req.quit().await;
    rep.close().await;
    result
}

/// Connects our `ours` socket to a C socket of type `theirs` over `transport` (ours
/// listening if `ours_listens`) and checks that the connection is refused.
async fn refused(
    lib: Lib,
    exes: &PeerExes,
    transport: &crate::matrix::Transport,
    (ours_type, theirs): (SocketType, SocketType),
    ours_listens: bool,
) -> Result<(), String> {
    let what = format!("our {ours_type} vs their {theirs} over {}", transport.name);
    let url = crate::matrix::fresh_url(transport, lib);
    let ours = Socket::new(ours_type);
    // libnanomsg's ws listener answers a wrong subprotocol with a `400` whose header block
    // never ends, and keeps the connection open: our handshake timeout ends it.
    ours.set_options(SocketOptions {
        handshake_timeout: Duration::from_secs(1),
        ..ours.options()
    });
    let mut c = c_peer(lib, theirs, exes).await?;
    let result = async {
        if ours_listens {
            let ep = ours.listen(url.as_str()).await.map_err(|e| e.to_string())?;
            let url = ep.url().to_string();
            drop(ep);
            c.call(&format!("dial {url}"))
                .await
                .map_err(peer_err("dial"))?;
        } else {
            let url = c
                .call(&format!("listen {url}"))
                .await
                .map_err(peer_err("listen"))?;
            drop(ours.dial(&url).await.map_err(|e| e.to_string())?);
        }
        eventually(&format!("{what}: a refused handshake"), || {
            ours.stats().socket.handshake_failures > 0
        })
        .await?;
        if ours.pipe_count() != 0 || ours.stats().socket.pipes_added != 0 {
            return Err(format!("{what}: a pipe was attached"));
        }
        // Nothing passes either way.
        if matches!(
            ours_type,
            SocketType::Push | SocketType::Pair0 | SocketType::Pair1
        ) {
            match ours.try_send("x") {
                Err(sp_net::Error::WouldBlock) => {}
                other => return Err(format!("{what}: our send gave {other:?}, want WouldBlock")),
            }
        }
        if theirs.can_recv() {
            match c.recv_timeout(300).await {
                Err(CallError::Peer { name, .. }) if name == "ETIMEDOUT" => {}
                other => return Err(format!("{what}: they received {other:?}")),
            }
        }
        Ok(())
    }
    .await;
    c.quit().await;
    ours.close().await;
    result
}

async fn wrong_peer(lib: Lib, exes: &PeerExes) -> Result<String, String> {
    use SocketType::{Pair0, Pair1, Push, Rep};
    let mut over = Vec::new();
    for t in crate::matrix::TRANSPORTS {
        if !["tcp", "ipc", "ws"].contains(&t.name) || !t.libs.contains(&lib) {
            continue;
        }
        refused(lib, exes, t, (Push, Rep), false).await?;
        refused(lib, exes, t, (Rep, Push), true).await?;
        if lib == Lib::Nng {
            refused(lib, exes, t, (Pair0, Pair1), true).await?;
            refused(lib, exes, t, (Pair1, Pair0), false).await?;
        }
        over.push(t.name);
    }
    Ok(format!("refused over {}", over.join(", ")))
}
