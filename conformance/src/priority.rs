//! Send-priority failover (wire-facts §12) with real peers.
//!
//! A load-balancing sender (PUSH, REQ) with two receivers at send priorities 1 and 2:
//! traffic goes to priority 1, fails over to priority 2 while priority 1 is gone, and
//! returns to priority 1 when it comes back. We run it with our sender and two C
//! receivers (their process is killed and restarted on the same address), and with a
//! libnanomsg sender (`NN_SNDPRIO` set before each `nn_connect`) and two of our receivers
//! (our socket closed and reopened), and compare the two distributions. NNG has no
//! priorities, so only its receivers take part.

use std::time::Duration;

use sp_net::{Priority, SocketType};

use crate::harness::{Lib, PeerExes, Side};

/// Messages per phase.
const PER_PHASE: usize = 20;
/// How long a receiver is polled for stragglers.
const QUIET: Duration = Duration::from_millis(250);

/// Where each phase's messages went: `[at priority 1, at priority 2]` for the phases
/// "both up", "priority 1 gone", "priority 1 back".
pub type Distribution = [[usize; 2]; 3];

/// What every sender must produce.
pub const EXPECTED: Distribution = [[PER_PHASE, 0], [0, PER_PHASE], [PER_PHASE, 0]];

fn tcp() -> &'static str {
    "tcp://127.0.0.1:0"
}

/// Who plays a part: our socket (`None`) or a C library.
pub type Player = Option<Lib>;

async fn new_side(who: Player, t: SocketType, exes: &PeerExes) -> Result<Side, String> {
    match who {
        None => Ok(Side::ours(t)),
        Some(lib) => Side::c(lib, t, exes).await,
    }
}

async fn set_priority(tx: &mut Side, p: u8) -> Result<(), String> {
    match tx {
        Side::Ours(s) => {
            let mut o = s.options();
            o.send_priority = Priority::new(p).ok_or("bad priority")?;
            s.set_options(o);
            Ok(())
        }
        Side::C(peer) => peer
            .opt("sndprio", p)
            .await
            .map_err(|e| format!("{}: sndprio: {e}", peer.lib().name())),
    }
}

/// Sends `body` (a request if `req`) and finds which receiver gets it (answering it and
/// collecting the reply on REQ/REP); `None` if none did.
async fn deliver_one(
    tx: &mut Side,
    rx: &mut [Option<Side>; 2],
    body: &[u8],
    req: bool,
) -> Result<Option<usize>, String> {
    tx.send(body).await?;
    // A few rounds over the receivers, so a delivery slowed by load is still found.
    for _ in 0..4 {
        for (k, r) in rx.iter_mut().enumerate() {
            let Some(r) = r else { continue };
            while let Some(m) = r.recv_within(QUIET).await? {
                if m != body {
                    continue; // a late probe
                }
                if req {
                    r.send(b"reply").await?;
                    let reply = tx.recv().await?;
                    if reply != b"reply" {
                        return Err(format!("{} got reply {reply:?}", tx.who()));
                    }
                }
                return Ok(Some(k));
            }
        }
    }
    Ok(None)
}

/// Sends probes until one reaches receiver `want` (the sender may not have noticed a
/// pipe coming or going yet).
async fn settle(
    tx: &mut Side,
    rx: &mut [Option<Side>; 2],
    want: usize,
    req: bool,
    n: &mut u32,
) -> Result<(), String> {
    for _ in 0..40 {
        *n += 1;
        let probe = format!("probe-{n}");
        if deliver_one(tx, rx, probe.as_bytes(), req).await? == Some(want) {
            return Ok(());
        }
    }
    Err(format!(
        "{} never delivered to priority {}",
        tx.who(),
        want + 1
    ))
}

/// One phase: [`PER_PHASE`] messages, counted where they arrive.
async fn phase(
    tx: &mut Side,
    rx: &mut [Option<Side>; 2],
    tag: u8,
    req: bool,
) -> Result<[usize; 2], String> {
    let mut counts = [0; 2];
    for i in 0..PER_PHASE {
        if let Some(k) = deliver_one(tx, rx, &[tag, i as u8], req).await? {
            counts[k] += 1;
        }
    }
    Ok(counts)
}

/// Waits until our sender has `n` pipes (a C sender cannot tell; [`settle`] covers it).
async fn our_pipes(tx: &Side, n: usize) -> Result<(), String> {
    if let Side::Ours(s) = tx {
        let start = std::time::Instant::now();
        while s.pipe_count() != n {
            if start.elapsed() > Duration::from_secs(10) {
                return Err(format!("ours: {} pipes, want {n}", s.pipe_count()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

/// Runs the three phases: `sender` is PUSH (or REQ if `req`), `receivers` are PULL (REP)
/// at priorities 1 and 2. Exactly one of the two is a C library.
pub async fn failover(
    sender: Player,
    receivers: Player,
    req: bool,
    exes: &PeerExes,
) -> Result<Distribution, String> {
    let (tx_type, rx_type) = if req {
        (SocketType::Req, SocketType::Rep)
    } else {
        (SocketType::Push, SocketType::Pull)
    };
    let mut rx: [Option<Side>; 2] = [None, None];
    let mut urls = Vec::new();
    for slot in &mut rx {
        let mut r = new_side(receivers, rx_type, exes).await?;
        urls.push(r.listen(tcp()).await?);
        *slot = Some(r);
    }
    let mut tx = new_side(sender, tx_type, exes).await?;
    let result = async {
        for (k, url) in urls.iter().enumerate() {
            set_priority(&mut tx, k as u8 + 1).await?;
            tx.dial(url).await?;
        }
        let mut n = 0;
        let mut d: Distribution = [[0; 2]; 3];
        our_pipes(&tx, 2).await?;
        settle(&mut tx, &mut rx, 0, req, &mut n).await?;
        d[0] = phase(&mut tx, &mut rx, b'A', req).await?;
        if let Some(r) = rx[0].take() {
            kill(r).await;
        }
        our_pipes(&tx, 1).await?;
        settle(&mut tx, &mut rx, 1, req, &mut n).await?;
        d[1] = phase(&mut tx, &mut rx, b'B', req).await?;
        let mut back = new_side(receivers, rx_type, exes).await?;
        back.listen(&urls[0]).await?;
        rx[0] = Some(back);
        our_pipes(&tx, 2).await?;
        settle(&mut tx, &mut rx, 0, req, &mut n).await?;
        d[2] = phase(&mut tx, &mut rx, b'C', req).await?;
        Ok(d)
    }
    .await;
    tx.close().await;
    for r in rx.into_iter().flatten() {
        r.close().await;
    }
    result
}

/// Ends a C peer the hard way (SIGKILL), or closes our socket.
async fn kill(side: Side) {
    match side {
        Side::C(p) => p.kill().await,
        Side::Ours(s) => s.close().await,
    }
}

/// Shows a distribution as `A 20/0, B 0/20, C 20/0`.
pub fn show(d: &Distribution) -> String {
    let parts: Vec<String> = ["both up", "1 gone", "1 back"]
        .iter()
        .zip(d)
        .map(|(name, [a, b])| format!("{name} {a}/{b}"))
        .collect();
    parts.join(", ")
}

/// The check: our sender with two `lib` receivers and, where `lib` has priorities
/// (libnanomsg), a `lib` sender with two of ours; both must give [`EXPECTED`].
pub async fn check(lib: Lib, req: bool, exes: &PeerExes) -> Result<String, String> {
    let ours = failover(None, Some(lib), req, exes).await?;
    let mut report = format!("ours→{}: {}", lib.name(), show(&ours));
    if ours != EXPECTED {
        return Err(format!("{report}; want {}", show(&EXPECTED)));
    }
    if lib == Lib::Nanomsg {
        let theirs = failover(Some(lib), None, req, exes).await?;
        report.push_str(&format!("; {}→ours: {}", lib.name(), show(&theirs)));
        if theirs != ours {
            return Err(format!("{report}: the distributions differ"));
        }
    } else {
        report.push_str("; NNG has no send priorities");
    }
    Ok(report)
}
