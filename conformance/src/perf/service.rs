//! The service workloads of [`perf_kit::service`] over any [`PerfSocket`]: one thread
//! per client, subscriber, respondent or pusher (blocking sockets, as a C program using
//! these libraries would write it), the serving socket on the main thread or, for
//! `reqrep`, served as each library serves best ([`PerfSocket::serve_replies`]:
//! libnanomsg's device on a raw REP socket, NNG's REP contexts). `fanout` and `survey`
//! may run as one part of a split run ([`perf_kit::split`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::Instant;

use perf_kit::hist::Histogram;
use perf_kit::mem::topic;
use perf_kit::service::{self as svc, mark, Received, ServiceArgs, SubscriberTally, Workload};
use perf_kit::split::{self, Part};

use super::{PerfKind, PerfSocket};

/// Stack of each peer thread: the workloads run up to a thousand of them.
const STACK: usize = 256 << 10;

fn spawn<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, String> {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .map_err(|e| format!("cannot start a thread: {e}"))
}

fn join<T>(handles: Vec<JoinHandle<Result<T, String>>>) -> Result<Vec<T>, String> {
    handles
        .into_iter()
        .map(|h| h.join().map_err(|_| "a peer thread panicked".to_owned())?)
        .collect()
}

/// A peer's socket of `kind`, connected to `url`, waits bounded by `limit`.
fn peer<S: PerfSocket>(kind: PerfKind, url: &str, limit: std::time::Duration) -> Result<S, String> {
    let mut s = S::open(kind)?;
    s.set_timeout(limit)?;
    s.connect(url)?;
    Ok(s)
}

/// Runs the workload `a` names.
pub fn run<S: PerfSocket>(a: &ServiceArgs) -> Result<(), String> {
    match a.workload {
        Workload::ReqRep => reqrep::<S>(a),
        Workload::Fanout => fanout::<S>(a),
        Workload::Survey => survey::<S>(a),
        Workload::Fanin => fanin::<S>(a),
    }
}

fn reqrep<S: PerfSocket>(a: &ServiceArgs) -> Result<(), String> {
    let mut server = S::open(PerfKind::RepServer)?;
    server.bind(&a.url)?;
    // The server runs until the process ends.
    let clients = a.peers;
    spawn(move || {
        if let Err(e) = server.serve_replies(clients) {
            eprintln!("reqrep server: {e}");
        }
    })?;
    let start_line = Arc::new(Barrier::new(a.peers + 1));
    let clients = (0..a.peers)
        .map(|_| {
            let (url, size, count, start_line) =
                (a.url.clone(), a.size, a.count, start_line.clone());
            spawn(move || {
                let msg = svc::message(b"", size, mark::DATA);
                let mut buf = vec![0u8; msg.len() + 1];
                // One untimed request: the connection is up and the server answers.
                let ready = peer::<S>(PerfKind::Req, &url, svc::WAIT).and_then(|mut s| {
                    s.send(&msg)?;
                    s.recv(&mut buf)?;
                    Ok(s)
                });
                start_line.wait();
                let mut s = ready?;
                let mut latency = Histogram::new();
                for _ in 0..count {
                    let t = Instant::now();
                    s.send(&msg)?;
                    let n = s.recv(&mut buf)?;
                    super::expect(n, msg.len())?;
                    latency.record(svc::nanos(t.elapsed()));
                }
                let end = Instant::now();
                s.close();
                Ok((latency, end))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    start_line.wait();
    let start = Instant::now();
    let (latency, end) = svc::merge_clients(start, join(clients)?);
    svc::report_reqrep(a, &latency, (end - start).as_secs_f64());
    Ok(())
}

/// Sends `warm` every [`svc::WARM_EVERY`] until `ready` counts `peers` (or a peer
/// `failed`, or [`svc::WAIT`] passed).
fn warm_up<S: PerfSocket>(
    s: &mut S,
    warm: &[u8],
    ready: &AtomicUsize,
    peers: usize,
    failed: &AtomicBool,
) -> Result<(), String> {
    let since = Instant::now();
    while !svc::warmed_up(ready, peers, failed, since)? {
        s.send(warm)?;
        std::thread::sleep(svc::WARM_EVERY);
    }
    Ok(())
}

/// A peer thread made from the readiness count and failure flag its part shares.
type PeerFn<'a, T> =
    dyn Fn(Arc<AtomicUsize>, Arc<AtomicBool>) -> Result<JoinHandle<Result<T, String>>, String> + 'a;

/// `n` peer threads made by `one`, sharing `ready` and `failed`.
fn spawn_peers<T>(
    n: usize,
    (ready, failed): &(Arc<AtomicUsize>, Arc<AtomicBool>),
    one: &PeerFn<'_, T>,
) -> Result<Vec<JoinHandle<Result<T, String>>>, String> {
    (0..n).map(|_| one(ready.clone(), failed.clone())).collect()
}

/// A peer part ([`Part::Peers`]): `a.peers` threads made by `one`, announced once all
/// are ready; what they returned.
fn peer_part<T>(a: &ServiceArgs, one: &PeerFn<'_, T>) -> Result<Vec<T>, String> {
    let shared = server_view(None);
    let peers = spawn_peers(a.peers, &shared, one)?;
    let announce = split::announce_ready(shared.0, a.peers, shared.1);
    let out = join(peers)?;
    announce
        .join()
        .map_err(|_| "the announcing thread panicked".to_owned())??;
    Ok(out)
}

/// The readiness count and failure flag a server waits on: its own peers' or, for a
/// server part, the peer parts' ([`split::Remote`]).
fn server_view(remote: Option<&split::Remote>) -> (Arc<AtomicUsize>, Arc<AtomicBool>) {
    match remote {
        Some(r) => (r.ready.clone(), r.closed.clone()),
        None => Default::default(),
    }
}

fn fanout<S: PerfSocket>(a: &ServiceArgs) -> Result<(), String> {
    let subscribe = |ready: Arc<AtomicUsize>, failed: Arc<AtomicBool>| {
        let (url, size, topics) = (a.url.clone(), a.size, a.topics);
        spawn(move || svc::flag(subscriber::<S>(&url, size, topics, &ready), &failed))
    };
    if a.part == Part::Peers {
        split::print_tallies(&peer_part(a, &subscribe)?);
        return Ok(());
    }
    let prefixes = svc::fanout_prefixes(a.topics);
    let mut publisher = S::open(PerfKind::Pub)?;
    publisher.set_pipe_queue(svc::PUB_PIPE_QUEUE)?;
    publisher.bind(&a.url)?;
    let remote = (a.part == Part::Server).then(split::Remote::listen);
    let shared = server_view(remote.as_ref());
    let local = if remote.is_some() { 0 } else { a.peers };
    let subscribers = spawn_peers(local, &shared, &subscribe)?;
    let (ready, failed) = shared;
    let warm = svc::message(&prefixes[0], a.size, mark::WARM);
    warm_up(&mut publisher, &warm, &ready, a.peers, &failed)?;
    let data: Vec<Vec<u8>> = prefixes
        .iter()
        .map(|p| svc::message(p, a.size, mark::DATA))
        .collect();
    let start = Instant::now();
    for m in data.iter().cycle().take(a.count) {
        publisher.send(m)?;
    }
    let last_send = Instant::now();
    let end = svc::message(&prefixes[0], a.size, mark::END);
    for _ in 0..svc::END_REPEAT.0 {
        std::thread::sleep(svc::END_REPEAT.1);
        publisher.send(&end)?;
    }
    let tallies = match &remote {
        Some(r) => r.tallies(a.peers)?,
        None => join(subscribers)?,
    };
    svc::report_fanout(a, start, last_send, &tallies);
    publisher.close();
    Ok(())
}

fn subscriber<S: PerfSocket>(
    url: &str,
    size: usize,
    topics: usize,
    ready: &AtomicUsize,
) -> Result<SubscriberTally, String> {
    let mut s = S::open(PerfKind::Sub)?;
    s.set_timeout(svc::IDLE_END)?;
    if topics == 0 {
        s.subscribe(b"")?;
    } else {
        for i in 0..topics {
            s.subscribe(&topic(i as u32))?;
        }
    }
    s.connect(url)?;
    let since = Instant::now();
    let mut buf = vec![0u8; size + 32];
    let mut tally = SubscriberTally::default();
    let mut warmup = svc::Warmup::default();
    loop {
        let got = s.recv(&mut buf);
        let body = got.as_ref().ok().map(|&n| &buf[..n.min(buf.len())]);
        if tally.take(&mut warmup, body, ready) {
            break;
        }
        if let Err(e) = got {
            if since.elapsed() > svc::WAIT {
                return Err(e);
            }
        }
    }
    s.close();
    Ok(tally)
}

fn survey<S: PerfSocket>(a: &ServiceArgs) -> Result<(), String> {
    // A peer part's respondents are done when perf-bench closes its standard input.
    let done = match a.part {
        Part::Peers => split::done_at_eof(),
        _ => Arc::new(AtomicBool::new(false)),
    };
    let respond = |ready: Arc<AtomicUsize>, failed: Arc<AtomicBool>| {
        let (url, size, done) = (a.url.clone(), a.size, done.clone());
        spawn(move || svc::flag(respondent::<S>(&url, size, &ready, &done), &failed))
    };
    if a.part == Part::Peers {
        peer_part(a, &respond)?;
        return Ok(());
    }
    let mut surveyor = S::open(PerfKind::Surveyor)?;
    surveyor.set_survey_deadline(svc::WAIT)?;
    surveyor.set_timeout(svc::WAIT)?;
    surveyor.bind(&a.url)?;
    let remote = (a.part == Part::Server).then(split::Remote::listen);
    let shared = server_view(remote.as_ref());
    let local = if remote.is_some() { 0 } else { a.peers };
    let respondents = spawn_peers(local, &shared, &respond)?;
    let (ready, failed) = shared;
    let warm = svc::message(b"", a.size, mark::WARM);
    warm_up(&mut surveyor, &warm, &ready, a.peers, &failed)?;
    let question = svc::message(b"", a.size, mark::DATA);
    let mut buf = vec![0u8; question.len() + 1];
    let mut rounds = Histogram::new();
    for _ in 0..a.count {
        let t = Instant::now();
        surveyor.send(&question)?;
        for k in 0..a.peers {
            let n = surveyor
                .recv(&mut buf)
                .map_err(|e| format!("response {k}: {e}"))?;
            super::expect(n, question.len())?;
        }
        rounds.record(svc::nanos(t.elapsed()));
    }
    done.store(true, Ordering::Release);
    surveyor.send(&svc::message(b"", a.size, mark::END))?;
    join(respondents)?;
    svc::report_survey(a, &rounds);
    surveyor.close();
    Ok(())
}

fn respondent<S: PerfSocket>(
    url: &str,
    size: usize,
    ready: &AtomicUsize,
    done: &AtomicBool,
) -> Result<(), String> {
    let mut s = peer::<S>(PerfKind::Respondent, url, svc::IDLE_END)?;
    let since = Instant::now();
    let mut buf = vec![0u8; size + 2];
    let mut warmup = svc::Warmup::default();
    loop {
        match s.recv(&mut buf) {
            Ok(n) => match warmup.classify(&buf[..n.min(buf.len())], ready) {
                Received::Data => s.send(&buf[..n])?,
                Received::End => break,
                Received::Other => {}
            },
            Err(_) if done.load(Ordering::Acquire) => break,
            Err(e) if since.elapsed() > svc::WAIT => return Err(e),
            Err(_) => {}
        }
    }
    s.close();
    Ok(())
}

fn fanin<S: PerfSocket>(a: &ServiceArgs) -> Result<(), String> {
    let mut pull = S::open(PerfKind::Pull)?;
    pull.set_timeout(svc::WAIT)?;
    pull.bind(&a.url)?;
    // Every pusher's warm-up message is in before `go`; the senders stay open until
    // `done` (the libraries do not promise to flush on close).
    let go = Arc::new(Barrier::new(a.peers + 1));
    let done = Arc::new(Barrier::new(a.peers + 1));
    let pushers = (0..a.peers)
        .map(|_| {
            let (url, size, count) = (a.url.clone(), a.size, a.count);
            let (go, done) = (go.clone(), done.clone());
            spawn(move || {
                let warm = svc::message(b"", size, mark::WARM);
                let ready = peer::<S>(PerfKind::Push, &url, svc::WAIT).and_then(|mut s| {
                    s.send(&warm)?;
                    Ok(s)
                });
                go.wait();
                let sent = ready.and_then(|mut s| {
                    let data = svc::message(b"", size, mark::DATA);
                    for _ in 0..count {
                        s.send(&data)?;
                    }
                    Ok(s)
                });
                done.wait();
                sent.map(S::close)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let msg_len = svc::message(b"", a.size, mark::DATA).len();
    let mut buf = vec![0u8; msg_len + 1];
    let mut receive = |n: usize, want: u8| -> Result<(), String> {
        for _ in 0..n {
            let got = pull.recv(&mut buf)?;
            if svc::mark_of(&buf[..got.min(buf.len())]) != want {
                return Err(format!("expected mark {:?}", want as char));
            }
        }
        Ok(())
    };
    let warmed = receive(a.peers, mark::WARM);
    go.wait();
    let start = Instant::now();
    let received = warmed.and_then(|()| receive(a.peers * a.count, mark::DATA));
    let secs = start.elapsed().as_secs_f64();
    done.wait();
    join(pushers)?;
    received?;
    svc::report_fanin(a, secs);
    pull.close();
    Ok(())
}
