//! Priority failover under a black hole, with the real peers: who recovers, when, and
//! with which option.
//!
//! A sender with two receivers at send priorities 1 and 2 (as in `crate::priority`), the
//! priority-1 link through a [`Proxy`] that black-holes it (nothing relayed, nothing
//! closed: no FIN, no RST) for 600 ms. Three parts per library:
//!
//! 1. our PUSH to two of their PULLs over tcp, with TCP keepalive and user timeout set:
//!    neither can see this black hole (below), so PUSH stays on priority 1 (its writes
//!    wait in the kernels' buffers) and everything arrives after the heal;
//! 2. the same over ws with our WebSocket heartbeat (`SocketOptions::ws_ping`) on the
//!    priority-1 pipe: against NNG, which answers Pings, the silent pipe is closed and
//!    PUSH fails over; libnanomsg sends no Pong, so the heartbeat closes even its idle,
//!    healthy pipe;
//! 3. libnanomsg's PUSH (`NN_SNDPRIO`) to two of our PULLs: it has no option that could
//!    notice the black hole, stays on priority 1, and delivers after the heal. (NNG has
//!    no send priorities, and its `tcp-keepalive` only switches `SO_KEEPALIVE` on with
//!    the OS's timings, 2 hours on Linux.)
//!
//! The proxy is a user-space black hole: its kernel still acknowledges data and answers
//! TCP keepalive probes, so kernel timers (keepalive, `TCP_USER_TIMEOUT`) cannot see it;
//! the simulator (`sim`, `docs/simulation.md`) shows what they do against a network one.

use std::time::{Duration, Instant};

use sp_net::transport::{TcpKeepalive, WsPing};
use sp_net::{Priority, Socket, SocketOptions, SocketType};

use crate::harness::{Lib, PeerExes, Side};
use crate::proxy::Proxy;

/// How long the black hole lasts.
const HOLE: Duration = Duration::from_millis(600);
/// Messages sent during the black hole (one every [`GAP`]).
const SENT: usize = 10;
const GAP: Duration = Duration::from_millis(50);
/// How long a receiver is polled for more.
const QUIET: Duration = Duration::from_millis(250);
/// The heartbeat of part 2.
const PING: WsPing = WsPing {
    interval: Duration::from_millis(100),
    timeout: Duration::from_millis(200),
};

/// Every message `side` receives until it has been quiet for [`QUIET`].
async fn drain(side: &mut Side) -> Result<Vec<Vec<u8>>, String> {
    let mut got = Vec::new();
    while let Some(m) = side.recv_within(QUIET).await? {
        got.push(m);
    }
    Ok(got)
}

/// Our PUSH dialing `urls` at priorities 1 and 2; `first` sets the options of the first
/// endpoint (the one through the proxy).
async fn our_push(urls: [&str; 2], first: fn(&mut SocketOptions)) -> Result<Socket, String> {
    let push = Socket::new(SocketType::Push);
    for (k, url) in urls.iter().enumerate() {
        let mut o = SocketOptions {
            send_priority: Priority::new(k as u8 + 1).ok_or("priority")?,
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_millis(200),
            ..SocketOptions::default()
        };
        if k == 0 {
            first(&mut o);
        }
        push.set_options(o);
        drop(push.dial(*url).await.map_err(|e| e.to_string())?);
    }
    tokio::time::timeout(Duration::from_secs(10), push.wait_for_pipes(2))
        .await
        .map_err(|_| "ours: 2 pipes not up within 10 s".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(push)
}

/// Sends [`SENT`] messages tagged `tag`, one every [`GAP`], from `tx`.
async fn send_all(tx: &mut Side, tag: u8) -> Result<(), String> {
    for i in 0..SENT {
        tx.send(&[tag, i as u8]).await?;
        tokio::time::sleep(GAP).await;
    }
    Ok(())
}

fn count(got: &[Vec<u8>], tag: u8) -> usize {
    got.iter().filter(|m| m.first() == Some(&tag)).count()
}

/// Part 1 or 3: `tx` sends into the black hole; returns how many messages reached
/// priority 2 during it, and how many reached priority 1 after the heal.
async fn stays(tx: &mut Side, rx: &mut [Side; 2], link: &Proxy) -> Result<(usize, usize), String> {
    // Until priority 1 has one, the sender may still be attaching pipes.
    for _ in 0..40 {
        tx.send(b"Aprobe").await?;
        if rx[0].recv_within(QUIET).await?.is_some() {
            break;
        }
    }
    drain(&mut rx[1]).await?;
    link.black_hole();
    send_all(tx, b'B').await?;
    tokio::time::sleep(HOLE.saturating_sub(GAP * SENT as u32)).await;
    let moved = count(&drain(&mut rx[1]).await?, b'B');
    link.heal();
    let late = count(&drain(&mut rx[0]).await?, b'B');
    Ok((moved, late))
}

/// The TCP timers of part 1: they would reset a connection into a network black hole
/// within the black hole's time, but the proxy's kernel acknowledges and answers.
fn tcp_timers(o: &mut SocketOptions) {
    o.tcp.keepalive = Some(TcpKeepalive {
        idle: Some(Duration::from_secs(1)),
        interval: Some(Duration::from_secs(1)),
        count: Some(1),
    });
    o.tcp.user_timeout = Some(Duration::from_millis(300));
}

/// Part 1: our PUSH over tcp with TCP timers that cannot see this black hole.
async fn ours_over_tcp(lib: Lib, exes: &PeerExes) -> Result<String, String> {
    let mut rx = [
        Side::c(lib, SocketType::Pull, exes).await?,
        Side::c(lib, SocketType::Pull, exes).await?,
    ];
    let u1 = rx[0].listen("tcp://127.0.0.1:0").await?;
    let u2 = rx[1].listen("tcp://127.0.0.1:0").await?;
    let link = Proxy::for_url(&u1, Duration::ZERO)
        .await
        .map_err(|e| e.to_string())?;
    let push = our_push([&link.url(), &u2], tcp_timers).await?;
    let mut tx = Side::Ours(push.clone());
    let result = stays(&mut tx, &mut rx, &link).await;
    close_all(tx, rx).await;
    let (moved, late) = result?;
    let silent = push.stats().socket.pipes_closed_for_silence;
    if moved != 0 || late != SENT || silent != 0 {
        return Err(format!(
            "ours→{} tcp: {moved} failed over, {late}/{SENT} late, {silent} closed for \
             silence; want 0, all, 0",
            lib.name()
        ));
    }
    Ok(format!(
        "ours→{} tcp (user timeout 300 ms, keepalive 1 s: the proxy's kernel still \
         acknowledges, so neither fires): no failover in {} ms, {late}/{SENT} delivered \
         after the heal",
        lib.name(),
        HOLE.as_millis()
    ))
}

/// Part 2: our PUSH over ws with the heartbeat on the priority-1 pipe.
async fn ours_over_ws(lib: Lib, exes: &PeerExes) -> Result<String, String> {
    let mut rx = [
        Side::c(lib, SocketType::Pull, exes).await?,
        Side::c(lib, SocketType::Pull, exes).await?,
    ];
    // libnanomsg refuses a path on a ws listener; NNG routes by path.
    let ws = match lib {
        Lib::Nanomsg => "ws://127.0.0.1:0",
        Lib::Nng => "ws://127.0.0.1:0/black-hole",
    };
    let u1 = rx[0].listen(ws).await?;
    let u2 = rx[1].listen("tcp://127.0.0.1:0").await?;
    let link = Proxy::for_url(&u1, Duration::ZERO)
        .await
        .map_err(|e| e.to_string())?;
    let push = our_push([&link.url(), &u2], |o| o.ws_ping = Some(PING)).await?;
    let result = heartbeat(lib, &push, &mut rx, &link).await;
    close_all(Side::Ours(push), rx).await;
    result
}

async fn heartbeat(
    lib: Lib,
    push: &Socket,
    rx: &mut [Side; 2],
    link: &Proxy,
) -> Result<String, String> {
    // Idle for several heartbeats on a healthy link.
    tokio::time::sleep(PING.interval * 6).await;
    let idle_closes = push.stats().socket.pipes_closed_for_silence;
    // An empty message at a PULL can only be a Ping its library handed up.
    let delivered_pings = drain(&mut rx[0])
        .await?
        .iter()
        .filter(|m| m.is_empty())
        .count();
    if lib == Lib::Nanomsg {
        if idle_closes == 0 {
            return Err("ours→nanomsg ws: the heartbeat kept an idle pipe; \
                 libnanomsg 1.1.5 was expected to send no Pong"
                .to_owned());
        }
        return Ok(format!(
            "ours→nanomsg ws with ws_ping: libnanomsg sends no Pong, so the heartbeat closed \
             its idle, healthy pipe (closes in {} ms: {idle_closes}), and {delivered_pings} \
             Pings reached its application as empty messages; not usable toward libnanomsg",
            (PING.interval * 6).as_millis()
        ));
    }
    if idle_closes != 0 {
        return Err(format!(
            "ours→nng ws: {idle_closes} idle pipes closed by the heartbeat"
        ));
    }
    let mut tx = Side::Ours(push.clone());
    link.black_hole();
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), push.wait_for_pipes_at_most(1))
        .await
        .map_err(|_| "ours→nng ws: the silent pipe was not closed within 5 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let detected = start.elapsed();
    send_all(&mut tx, b'B').await?;
    let moved = count(&drain(&mut rx[1]).await?, b'B');
    link.heal();
    if moved != SENT {
        return Err(format!("ours→nng ws: {moved}/{SENT} failed over"));
    }
    Ok(format!(
        "ours→nng ws with ws_ping {}+{} ms: silent pipe closed {} ms into the black hole, \
         {moved}/{SENT} then went to priority 2",
        PING.interval.as_millis(),
        PING.timeout.as_millis(),
        detected.as_millis()
    ))
}

/// Part 3: libnanomsg's PUSH to two of our PULLs.
async fn theirs_over_tcp(exes: &PeerExes) -> Result<String, String> {
    let mut rx = [Side::ours(SocketType::Pull), Side::ours(SocketType::Pull)];
    let u1 = rx[0].listen("tcp://127.0.0.1:0").await?;
    let u2 = rx[1].listen("tcp://127.0.0.1:0").await?;
    let link = Proxy::for_url(&u1, Duration::ZERO)
        .await
        .map_err(|e| e.to_string())?;
    let mut tx = Side::c(Lib::Nanomsg, SocketType::Push, exes).await?;
    let result = async {
        for (k, url) in [link.url(), u2].iter().enumerate() {
            if let Side::C(p) = &mut tx {
                p.opt("sndprio", k as i64 + 1)
                    .await
                    .map_err(|e| format!("nanomsg: sndprio: {e}"))?;
            }
            tx.dial(url).await?;
        }
        for r in &rx {
            r.wait_connected().await?;
        }
        stays(&mut tx, &mut rx, &link).await
    }
    .await;
    close_all(tx, rx).await;
    let (moved, late) = result?;
    if moved != 0 || late != SENT {
        return Err(format!(
            "nanomsg→ours: {moved} failed over, {late}/{SENT} late; want 0 and all"
        ));
    }
    Ok(format!(
        "nanomsg→ours tcp (no keepalive or heartbeat option exists): no failover in {} ms, \
         {late}/{SENT} delivered after the heal",
        HOLE.as_millis()
    ))
}

async fn close_all(tx: Side, rx: [Side; 2]) {
    tx.close().await;
    for r in rx {
        r.close().await;
    }
}

/// The check against `lib`: the parts that apply to it, each described.
pub async fn check(lib: Lib, exes: &PeerExes) -> Result<String, String> {
    let mut parts = vec![
        ours_over_tcp(lib, exes).await?,
        ours_over_ws(lib, exes).await?,
    ];
    match lib {
        Lib::Nanomsg => parts.push(theirs_over_tcp(exes).await?),
        Lib::Nng => parts.push(
            "nng→ours: not run (NNG has no send priorities; its tcp-keepalive only switches \
             SO_KEEPALIVE on, with the OS's 2 h timings)"
                .to_owned(),
        ),
    }
    Ok(parts.join("; "))
}
