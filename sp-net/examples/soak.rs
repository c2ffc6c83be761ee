//! Soak test: every protocol family over real loopback sockets (tcp, ipc, inproc) for a
//! given time, with peers killed and restarted at random (seeded choices), checking that
//! nothing is lost while both peers live, that memory stays flat and that every file
//! descriptor is returned. Run by `scripts/soak.sh`.
//!
//! ```text
//! cargo run --release -p sp-net --example soak -- [SECONDS] [--seed N]
//! ```
//!
//! Each family (PUSH/PULL, REQ/REP, PAIR, PUB/SUB, SURVEYOR/RESPONDENT, BUS) runs its own
//! loop of *lives*: a transport and address are chosen, a listener and a dialer are
//! created, then *epochs* repeat, each in two phases:
//!
//! 1. **alive**: both peers are up and connected (the dialer's pipe is attached on both
//!    sides before the phase starts) and stay up until the phase ends. Every message sent
//!    is tagged with its epoch and sequence number. For PUSH/PULL, REQ/REP and PAIR,
//!    every message accepted by `send` in this phase must be received (and every request
//!    answered) before the phase ends: any missing one is **lost**, and fails the run.
//!    PUB/SUB, SURVEY and BUS may drop by design (fan-out skips a busy pipe, late survey
//!    answers are discarded): their counts are reported, not checked.
//! 2. **dying**: traffic continues while one peer, chosen at random, is killed (closed
//!    with zero linger). Messages sent in this phase that never arrive are counted as
//!    **lost with a dying peer**, separately; they are expected. The killed peer is then
//!    restarted on the same address and the survivor reconnects to it (or it to the
//!    survivor), which is the next epoch's precondition. Messages from an earlier epoch
//!    that arrive later are counted as late, never as received in the current epoch.
//!
//! Every second the process samples its resident memory (`VmRSS` in /proc/self/status)
//! and its open descriptors (/proc/self/fd). After a warm-up (a fifth of the run, at
//! least 2 s) the growth of resident memory must stay below 64 MiB; after every socket is
//! closed the descriptor count must return to its value before the first socket.
//! Exits 1 when an invariant fails.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sp_net::{Error, Socket, SocketOptions, SocketType};

const PHASE_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages a dying phase sends at most (fan-out protocols never block).
const MAX_DYING_SENDS: u64 = 2000;
/// How long a lossy protocol's receiver waits for a message that may have been dropped.
const LOSSY_PATIENCE: Duration = Duration::from_millis(500);
const MAX_RSS_GROWTH_KIB: u64 = 64 * 1024;

/// xorshift64*: the run's seeded choices.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Per-family counters.
#[derive(Clone, Debug, Default)]
struct Counts {
    epochs: u64,
    kills: u64,
    sent: u64,
    received: u64,
    lost: u64,
    sent_dying: u64,
    received_dying: u64,
    late: u64,
    errors: Vec<String>,
}

type Shared = Arc<Mutex<Counts>>;

fn add(c: &Shared, f: impl FnOnce(&mut Counts)) {
    f(&mut c.lock().unwrap());
}

fn body(epoch: u32, seq: u32) -> Vec<u8> {
    let mut b = epoch.to_be_bytes().to_vec();
    b.extend_from_slice(&seq.to_be_bytes());
    b
}

fn parse(b: &[u8]) -> Option<(u32, u32)> {
    let e = u32::from_be_bytes(b.get(0..4)?.try_into().ok()?);
    let s = u32::from_be_bytes(b.get(4..8)?.try_into().ok()?);
    Some((e, s))
}

fn options() -> SocketOptions {
    SocketOptions {
        reconnect_min: Duration::from_millis(5),
        reconnect_max: Duration::from_millis(50),
        ..SocketOptions::default()
    }
}

fn socket(t: SocketType) -> Socket {
    let s = Socket::new(t);
    s.set_options(options());
    if t == SocketType::Surveyor {
        let mut o = s.protocol_options();
        o.set_survey_deadline(Duration::from_millis(300)).unwrap();
        s.set_protocol_options(o);
    }
    if matches!(t, SocketType::Rep | SocketType::Respondent) {
        spawn_echo(&s);
    }
    if t == SocketType::Sub {
        s.with_protocol(|p| {
            if let sp_proto::AnyProtocol::Sub(sub) = p {
                sub.subscribe(b"");
            }
        });
    }
    s
}

/// Kills a socket: no linger, everything it held is gone.
async fn kill(s: &Socket) {
    s.set_options(SocketOptions {
        linger: Duration::ZERO,
        ..options()
    });
    s.close().await;
}

/// Binds `url` (retrying while the previous owner of the address lets go); returns the
/// bound URL.
async fn listen(s: &Socket, url: &str) -> Result<String, Error> {
    let mut last = None;
    for _ in 0..200 {
        match s.listen(url).await {
            Ok(ep) => {
                let bound = ep.url().to_string();
                drop(ep); // the endpoint keeps running until the socket closes
                return Ok(bound);
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(last.expect("an error"))
}

async fn connected(a: &Socket, b: &Socket) -> bool {
    tokio::time::timeout(PHASE_TIMEOUT, async {
        let _ = a.wait_for_pipes(1).await;
        let _ = b.wait_for_pipes(1).await;
    })
    .await
    .is_ok()
}

/// One-way traffic `tx -> rx` in the alive phase: `k` messages, all must arrive.
/// Returns (sent, received, late).
async fn one_way(
    tx: &Socket,
    rx: &Socket,
    epoch: u32,
    k: u32,
    patience: Duration,
) -> (u64, u64, u64) {
    let sender = tx.clone();
    let send = tokio::spawn(async move {
        let mut sent = 0;
        for i in 0..k {
            match tokio::time::timeout(PHASE_TIMEOUT, sender.send(body(epoch, i))).await {
                Ok(Ok(())) => sent += 1,
                _ => break,
            }
        }
        sent
    });
    let mut seen = vec![false; k as usize];
    let (mut got, mut late) = (0u64, 0u64);
    while got < u64::from(k) {
        match tokio::time::timeout(patience, rx.recv()).await {
            Ok(Ok(m)) => match parse(&m.body) {
                Some((e, i)) if e == epoch && !seen[i as usize] => {
                    seen[i as usize] = true;
                    got += 1;
                }
                _ => late += 1,
            },
            _ => break,
        }
    }
    let sent = send.await.unwrap_or(0);
    (sent, got, late)
}

/// Dying-phase traffic `tx -> rx` until `stop`; returns (sent, received).
async fn one_way_dying(
    tx: &Socket,
    rx: &Socket,
    epoch: u32,
    victim: &Socket,
    delay: Duration,
) -> (u64, u64) {
    let sender = tx.clone();
    let send = tokio::spawn(async move {
        let mut sent = 0u64;
        let end = Instant::now() + delay + Duration::from_millis(20);
        while Instant::now() < end && sent < MAX_DYING_SENDS {
            match tokio::time::timeout(
                Duration::from_millis(50),
                sender.send(body(epoch, sent as u32)),
            )
            .await
            {
                Ok(Ok(())) => sent += 1,
                Ok(Err(_)) => break,
                Err(_) => {}
            }
        }
        sent
    });
    let receiver = rx.clone();
    let recv = tokio::spawn(async move {
        let mut got = 0u64;
        // Until the receiver is closed, or nothing more comes.
        while let Ok(Ok(m)) =
            tokio::time::timeout(Duration::from_millis(300), receiver.recv()).await
        {
            if parse(&m.body).is_some_and(|(e, _)| e == epoch) {
                got += 1;
            }
        }
        got
    });
    tokio::time::sleep(delay).await;
    kill(victim).await;
    let sent = send.await.unwrap_or(0);
    let got = recv.await.unwrap_or(0);
    (sent, got)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Family {
    Pipeline,
    ReqRep,
    Pair,
    PubSub,
    Survey,
    Bus,
}

impl Family {
    const ALL: [Self; 6] = [
        Self::Pipeline,
        Self::ReqRep,
        Self::Pair,
        Self::PubSub,
        Self::Survey,
        Self::Bus,
    ];

    /// (listener type, dialer type).
    fn types(self) -> (SocketType, SocketType) {
        match self {
            Self::Pipeline => (SocketType::Pull, SocketType::Push),
            Self::ReqRep => (SocketType::Rep, SocketType::Req),
            Self::Pair => (SocketType::Pair1, SocketType::Pair1),
            Self::PubSub => (SocketType::Pub, SocketType::Sub),
            Self::Survey => (SocketType::Surveyor, SocketType::Respondent),
            Self::Bus => (SocketType::Bus, SocketType::Bus),
        }
    }

    /// Whether messages may be lost by design while both peers live.
    fn lossy(self) -> bool {
        matches!(self, Self::PubSub | Self::Survey | Self::Bus)
    }
}

/// Answers every request (REP) or survey (RESPONDENT) with its own body until closed.
fn spawn_echo(s: &Socket) {
    let s = s.clone();
    tokio::spawn(async move {
        while let Ok(m) = s.recv().await {
            if s.send(m.body).await.is_err() {
                return;
            }
        }
    });
}

/// The alive phase of one epoch. Returns (sent, received, late).
async fn alive(f: Family, l: &Socket, d: &Socket, epoch: u32, k: u32) -> (u64, u64, u64) {
    match f {
        Family::Pipeline => one_way(d, l, epoch, k, PHASE_TIMEOUT).await,
        Family::Pair | Family::Bus => {
            let patience = if f.lossy() {
                LOSSY_PATIENCE
            } else {
                PHASE_TIMEOUT
            };
            let (a, b) = tokio::join!(
                one_way(d, l, epoch, k, patience),
                one_way(l, d, epoch, k, patience)
            );
            (a.0 + b.0, a.1 + b.1, a.2 + b.2)
        }
        Family::PubSub => one_way(l, d, epoch, k, LOSSY_PATIENCE).await,
        Family::ReqRep => {
            let (mut sent, mut got, mut late) = (0, 0, 0);
            for i in 0..k {
                if tokio::time::timeout(PHASE_TIMEOUT, d.send(body(epoch, i)))
                    .await
                    .is_err()
                {
                    break;
                }
                sent += 1;
                loop {
                    match tokio::time::timeout(PHASE_TIMEOUT, d.recv()).await {
                        Ok(Ok(m)) if parse(&m.body) == Some((epoch, i)) => {
                            got += 1;
                            break;
                        }
                        Ok(Ok(_)) => late += 1,
                        _ => break,
                    }
                }
            }
            (sent, got, late)
        }
        Family::Survey => {
            let (mut sent, mut got, mut late) = (0, 0, 0);
            for i in 0..k.min(20) {
                if l.send(body(epoch, i)).await.is_err() {
                    break;
                }
                sent += 1;
                // One respondent: its answer ends the survey early; none by the
                // deadline ends it too.
                loop {
                    match l.recv().await {
                        Ok(m) if parse(&m.body) == Some((epoch, i)) => {
                            got += 1;
                            break;
                        }
                        Ok(_) => late += 1,
                        Err(_) => break,
                    }
                }
            }
            (sent, got, late)
        }
    }
}

async fn run_family(
    f: Family,
    seed: u64,
    end: Instant,
    counts: Shared,
    transports: Vec<&'static str>,
) {
    let mut rng = Rng::new(seed);
    let (lt, dt) = f.types();
    let mut life = 0u32;
    let mut epoch = 0u32;
    while Instant::now() < end {
        life += 1;
        let transport = transports[rng.below(transports.len() as u64) as usize];
        let url = match transport {
            "tcp" => "tcp://127.0.0.1:0".to_owned(),
            "ipc" => format!(
                "ipc:///tmp/sp-soak-{}-{f:?}-{life}.sock",
                std::process::id()
            ),
            _ => format!("inproc://soak-{f:?}-{life}"),
        };
        let mut l = socket(lt);
        let url = match listen(&l, &url).await {
            Ok(u) => u,
            Err(e) => {
                add(&counts, |c| {
                    c.errors.push(format!("{f:?}: listen {url}: {e}"))
                });
                return;
            }
        };
        let mut d = socket(dt);
        if let Err(e) = d.dial(&url).await {
            add(&counts, |c| {
                c.errors.push(format!("{f:?}: dial {url}: {e}"))
            });
            return;
        }
        // After the dialer is restarted, the listener may still hold the dead dialer's
        // pipe for a moment; a PAIR then refuses the new connection after its handshake
        // (as nanomsg and NNG do), and the new dialer's short-lived pipe would make the
        // sockets look connected. So wait for the listener to attach a new pipe.
        let mut listener_events: Option<
            tokio::sync::broadcast::Receiver<sp_net::stats::PipeEvent>,
        > = None;
        for _ in 0..(2 + rng.below(4)) {
            if Instant::now() >= end {
                break;
            }
            epoch += 1;
            if let Some(mut events) = listener_events.take() {
                let added = tokio::time::timeout(PHASE_TIMEOUT, async {
                    loop {
                        match events.recv().await {
                            Ok(sp_net::stats::PipeEvent::Added { .. }) => return true,
                            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                            Err(_) => return false,
                        }
                    }
                })
                .await
                .unwrap_or(false);
                if !added {
                    add(&counts, |c| {
                        c.errors.push(format!("{f:?}: the listener attached no new pipe over {transport} in epoch {epoch}"))
                    });
                    return;
                }
            }
            if !connected(&l, &d).await {
                add(&counts, |c| {
                    c.errors.push(format!(
                        "{f:?}: no reconnection over {transport} in epoch {epoch}"
                    ))
                });
                return;
            }
            let k = 20 + rng.below(200) as u32;
            let (sent, got, late) = alive(f, &l, &d, epoch, k).await;
            let lost = if f.lossy() {
                0
            } else {
                sent.saturating_sub(got)
            };
            add(&counts, |c| {
                c.epochs += 1;
                c.sent += sent;
                c.received += got;
                c.late += late;
                c.lost += lost;
                if lost > 0 {
                    c.errors.push(format!("{f:?}: {lost} of {sent} lost over {transport} in epoch {epoch} with both peers alive"));
                }
            });
            // Dying phase: kill one side at a random moment, then restart it.
            epoch += 1;
            let kill_listener = rng.below(2) == 0;
            let delay = Duration::from_millis(rng.below(30));
            let victim = if kill_listener { l.clone() } else { d.clone() };
            let (sent, got) = match f {
                Family::Pipeline => one_way_dying(&d, &l, epoch, &victim, delay).await,
                Family::Pair | Family::Bus => one_way_dying(&l, &d, epoch, &victim, delay).await,
                _ => {
                    tokio::time::sleep(delay).await;
                    kill(&victim).await;
                    (0, 0)
                }
            };
            add(&counts, |c| {
                c.kills += 1;
                c.sent_dying += sent;
                c.received_dying += got.min(sent);
            });
            if kill_listener {
                l = socket(lt);
                if let Err(e) = listen(&l, &url).await {
                    add(&counts, |c| {
                        c.errors.push(format!("{f:?}: relisten {url}: {e}"))
                    });
                    return;
                }
            } else {
                listener_events = Some(l.pipe_events());
                d = socket(dt);
                if let Err(e) = d.dial(&url).await {
                    add(&counts, |c| {
                        c.errors.push(format!("{f:?}: redial {url}: {e}"))
                    });
                    return;
                }
            }
        }
        l.close().await;
        d.close().await;
    }
}

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn main() {
    let mut seconds = 600u64;
    let mut seed = 1u64;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => seed = it.next().and_then(|s| s.parse().ok()).expect("--seed N"),
            s => seconds = s.parse().expect("SECONDS"),
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let ok = rt.block_on(soak(seconds, seed));
    drop(rt);
    std::process::exit(if ok { 0 } else { 1 });
}

async fn soak(seconds: u64, seed: u64) -> bool {
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let warm_up = Duration::from_secs((seconds / 5).max(2));
    let fd_base = fd_count();
    let rss_base = vm_rss_kib();
    println!("soak: {seconds} s, seed {seed}; baseline {fd_base} fds, {rss_base} KiB resident");
    let mut tasks = Vec::new();
    let mut all = Vec::new();
    for (i, f) in Family::ALL.into_iter().enumerate() {
        let counts = Shared::default();
        all.push((f, counts.clone()));
        let transports = vec!["tcp", "ipc", "inproc"];
        tasks.push(tokio::spawn(run_family(
            f,
            seed.wrapping_add(i as u64 * 7919),
            end,
            counts,
            transports,
        )));
    }
    let mut samples: Vec<(u64, u64, usize)> = Vec::new();
    let mut rss_warm = None;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let t = start.elapsed();
        let (rss, fds) = (vm_rss_kib(), fd_count());
        samples.push((t.as_secs(), rss, fds));
        if rss_warm.is_none() && t >= warm_up {
            rss_warm = Some(rss);
        }
    }
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(60), t).await;
    }
    // Sockets are closed; their connections go away in the background. Give them time.
    let settle = Instant::now();
    while fd_count() > fd_base && settle.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (fd_end, rss_end) = (fd_count(), vm_rss_kib());
    let rss_max = samples.iter().map(|s| s.1).max().unwrap_or(rss_end);
    let fd_max = samples.iter().map(|s| s.2).max().unwrap_or(fd_end);
    let rss_warm = rss_warm.unwrap_or(rss_end);
    let mut ok = true;
    println!(
        "{:<9} {:>6} {:>5} {:>9} {:>9} {:>5} {:>10} {:>10} {:>6}",
        "family", "epochs", "kills", "sent", "received", "lost", "sent-dying", "lost-dying", "late"
    );
    for (f, c) in &all {
        let c = c.lock().unwrap().clone();
        println!(
            "{:<9} {:>6} {:>5} {:>9} {:>9} {:>5} {:>10} {:>10} {:>6}{}",
            format!("{f:?}"),
            c.epochs,
            c.kills,
            c.sent,
            c.received,
            if f.lossy() {
                format!("({})", c.sent.saturating_sub(c.received))
            } else {
                c.lost.to_string()
            },
            c.sent_dying,
            c.sent_dying - c.received_dying,
            c.late,
            if f.lossy() {
                "  (lossy by design: not checked)"
            } else {
                ""
            }
        );
        for e in &c.errors {
            println!("FAIL: {e}");
            ok = false;
        }
        if c.epochs == 0 {
            println!("FAIL: {f:?} completed no epoch");
            ok = false;
        }
    }
    let growth = rss_end.saturating_sub(rss_warm);
    println!("memory: {rss_base} KiB at start, {rss_warm} KiB after the {} s warm-up, {rss_end} KiB at the end (max {rss_max}); growth after warm-up {growth} KiB", warm_up.as_secs());
    println!("descriptors: {fd_base} at start, max {fd_max}, {fd_end} at the end");
    if growth > MAX_RSS_GROWTH_KIB {
        println!(
            "FAIL: resident memory grew by {growth} KiB after warm-up (limit {MAX_RSS_GROWTH_KIB})"
        );
        ok = false;
    }
    if fd_end > fd_base {
        println!(
            "FAIL: {} descriptors still open at the end",
            fd_end - fd_base
        );
        ok = false;
    }
    println!("{}", if ok { "soak: ok" } else { "soak: FAILED" });
    ok
}
