//! The service workloads of `perf_kit::service` over sp-net: one task per client,
//! subscriber, respondent or pusher, each with its own socket; the REP server answers
//! with one context per client, so every client has a request in progress at once.
//! `fanout` and `survey` may run as one part of a split run ([`perf_kit::split`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use perf_kit::hist::Histogram;
use perf_kit::mem::topic;
use perf_kit::service::{self as svc, mark, Received, ServiceArgs, SubscriberTally, Workload};
use perf_kit::split::{self, Part};
use sp_net::{Error, Message, Socket, SocketType};
use tokio::sync::Barrier;
use tokio::task::JoinHandle;

fn err(what: &str) -> impl Fn(Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// A socket whose sends and receives give up after `limit`.
fn bounded(socket_type: SocketType, limit: Duration) -> Socket {
    let s = Socket::new(socket_type);
    let mut o = s.options();
    o.send_timeout = Some(limit);
    o.recv_timeout = Some(limit);
    o.max_connections = o.max_connections.max(100_000);
    s.set_options(o);
    s
}

async fn peer(socket_type: SocketType, url: &str, limit: Duration) -> Result<Socket, String> {
    let s = bounded(socket_type, limit);
    s.dial(url).await.map_err(err("connect"))?;
    Ok(s)
}

async fn server(socket_type: SocketType, url: &str) -> Result<Socket, String> {
    let s = bounded(socket_type, svc::WAIT);
    s.listen(url).await.map_err(err("bind"))?;
    Ok(s)
}

async fn join<T>(handles: Vec<JoinHandle<Result<T, String>>>) -> Result<Vec<T>, String> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.map_err(|e| format!("a peer task failed: {e}"))??);
    }
    Ok(out)
}

/// Runs the workload `a` names.
pub(crate) async fn run(a: ServiceArgs) -> Result<(), String> {
    match a.workload {
        Workload::ReqRep => reqrep(&a).await,
        Workload::Fanout => fanout(&a).await,
        Workload::Survey => survey(&a).await,
        Workload::Fanin => fanin(&a).await,
    }
}

async fn reqrep(a: &ServiceArgs) -> Result<(), String> {
    let rep = server(SocketType::Rep, &a.url).await?;
    for _ in 0..a.peers {
        let ctx = rep.open_context().map_err(err("context"))?;
        tokio::spawn(async move {
            while let Ok(m) = ctx.recv().await {
                if ctx.send(m).await.is_err() {
                    break;
                }
            }
        });
    }
    let start_line = Arc::new(Barrier::new(a.peers + 1));
    let clients: Vec<_> = (0..a.peers)
        .map(|_| {
            let (url, size, count, start_line) =
                (a.url.clone(), a.size, a.count, start_line.clone());
            tokio::spawn(async move {
                let msg = Message::new(svc::message(b"", size, mark::DATA));
                // One untimed request: the connection is up and the server answers.
                let ready = async {
                    let s = peer(SocketType::Req, &url, svc::WAIT).await?;
                    s.send(msg.clone()).await.map_err(err("send"))?;
                    s.recv().await.map_err(err("recv"))?;
                    Ok::<_, String>(s)
                }
                .await;
                start_line.wait().await;
                let s = ready?;
                let mut latency = Histogram::new();
                for _ in 0..count {
                    let t = Instant::now();
                    s.send(msg.clone()).await.map_err(err("send"))?;
                    let m = s.recv().await.map_err(err("recv"))?;
                    if m.body.len() != msg.body.len() {
                        return Err(format!("reply of {} bytes", m.body.len()));
                    }
                    latency.record(svc::nanos(t.elapsed()));
                }
                let end = Instant::now();
                s.close().await;
                Ok((latency, end))
            })
        })
        .collect();
    start_line.wait().await;
    let start = Instant::now();
    let (latency, end) = svc::merge_clients(start, join(clients).await?);
    svc::report_reqrep(a, &latency, (end - start).as_secs_f64());
    rep.close().await;
    Ok(())
}

/// Sends `warm` every [`svc::WARM_EVERY`] until `ready` counts `peers` (or a peer
/// `failed`, or [`svc::WAIT`] passed).
async fn warm_up(
    s: &Socket,
    warm: &Message,
    ready: &AtomicUsize,
    peers: usize,
    failed: &AtomicBool,
) -> Result<(), String> {
    let since = Instant::now();
    while !svc::warmed_up(ready, peers, failed, since)? {
        s.send(warm.clone()).await.map_err(err("send"))?;
        tokio::time::sleep(svc::WARM_EVERY).await;
    }
    Ok(())
}

/// A peer task made from the readiness count and failure flag its part shares.
type PeerFn<'a, T> =
    dyn Fn(Arc<AtomicUsize>, Arc<AtomicBool>) -> JoinHandle<Result<T, String>> + Sync + 'a;

/// The readiness count and failure flag a server waits on: its own peers' or, for a
/// server part, the peer parts' ([`split::Remote`]).
fn server_view(remote: Option<&split::Remote>) -> (Arc<AtomicUsize>, Arc<AtomicBool>) {
    match remote {
        Some(r) => (r.ready.clone(), r.closed.clone()),
        None => Default::default(),
    }
}

/// `n` peer tasks made by `one`, sharing `ready` and `failed`.
fn spawn_peers<T>(
    n: usize,
    (ready, failed): &(Arc<AtomicUsize>, Arc<AtomicBool>),
    one: &PeerFn<'_, T>,
) -> Vec<JoinHandle<Result<T, String>>> {
    (0..n).map(|_| one(ready.clone(), failed.clone())).collect()
}

/// A peer part ([`Part::Peers`]): `a.peers` tasks made by `one`, announced once all
/// are ready; what they returned.
async fn peer_part<T>(a: &ServiceArgs, one: &PeerFn<'_, T>) -> Result<Vec<T>, String> {
    let shared = server_view(None);
    let peers = spawn_peers(a.peers, &shared, one);
    let announce = split::announce_ready(shared.0, a.peers, shared.1);
    let out = join(peers).await?;
    tokio::task::spawn_blocking(move || announce.join())
        .await
        .map_err(|e| format!("the announcing thread failed: {e}"))?
        .map_err(|_| "the announcing thread panicked".to_owned())??;
    Ok(out)
}

async fn fanout(a: &ServiceArgs) -> Result<(), String> {
    let subscribe = |ready: Arc<AtomicUsize>, failed: Arc<AtomicBool>| {
        let (url, topics) = (a.url.clone(), a.topics);
        tokio::spawn(async move { svc::flag(subscriber(&url, topics, &ready).await, &failed) })
    };
    if a.part == Part::Peers {
        split::print_tallies(&peer_part(a, &subscribe).await?);
        return Ok(());
    }
    let prefixes = svc::fanout_prefixes(a.topics);
    let publisher = server(SocketType::Pub, &a.url).await?;
    let mut o = publisher.options();
    o.send_queue = svc::PUB_PIPE_QUEUE;
    publisher.set_options(o);
    let remote = (a.part == Part::Server).then(split::Remote::listen);
    let shared = server_view(remote.as_ref());
    let local = if remote.is_some() { 0 } else { a.peers };
    let subscribers = spawn_peers(local, &shared, &subscribe);
    let (ready, failed) = shared;
    let warm = Message::new(svc::message(&prefixes[0], a.size, mark::WARM));
    warm_up(&publisher, &warm, &ready, a.peers, &failed).await?;
    let data: Vec<Message> = prefixes
        .iter()
        .map(|p| Message::new(svc::message(p, a.size, mark::DATA)))
        .collect();
    let start = Instant::now();
    for m in data.iter().cycle().take(a.count) {
        publisher.send(m.clone()).await.map_err(err("send"))?;
    }
    let last_send = Instant::now();
    let end = Message::new(svc::message(&prefixes[0], a.size, mark::END));
    for _ in 0..svc::END_REPEAT.0 {
        tokio::time::sleep(svc::END_REPEAT.1).await;
        publisher.send(end.clone()).await.map_err(err("send"))?;
    }
    let tallies = match remote {
        Some(r) => {
            let peers = a.peers;
            tokio::task::spawn_blocking(move || r.tallies(peers))
                .await
                .map_err(|e| format!("waiting for the tallies failed: {e}"))??
        }
        None => join(subscribers).await?,
    };
    svc::report_fanout(a, start, last_send, &tallies);
    publisher.close().await;
    Ok(())
}

async fn subscriber(
    url: &str,
    topics: usize,
    ready: &AtomicUsize,
) -> Result<SubscriberTally, String> {
    let s = bounded(SocketType::Sub, svc::IDLE_END);
    if topics == 0 {
        s.subscribe(b"").map_err(err("subscribe"))?;
    } else {
        for i in 0..topics {
            s.subscribe(topic(i as u32)).map_err(err("subscribe"))?;
        }
    }
    s.dial(url).await.map_err(err("connect"))?;
    let since = Instant::now();
    let mut tally = SubscriberTally::default();
    let mut warmup = svc::Warmup::default();
    loop {
        let got = s.recv().await;
        if tally.take(&mut warmup, got.as_ref().ok().map(|m| &m.body[..]), ready) {
            break;
        }
        if let Err(e) = got {
            if since.elapsed() > svc::WAIT {
                return Err(format!("recv: {e}"));
            }
        }
    }
    s.close().await;
    Ok(tally)
}

async fn survey(a: &ServiceArgs) -> Result<(), String> {
    // A peer part's respondents are done when perf-bench closes its standard input.
    let done = match a.part {
        Part::Peers => split::done_at_eof(),
        _ => Arc::new(AtomicBool::new(false)),
    };
    let respond = |ready: Arc<AtomicUsize>, failed: Arc<AtomicBool>| {
        let (url, done) = (a.url.clone(), done.clone());
        tokio::spawn(async move { svc::flag(respondent(&url, &ready, &done).await, &failed) })
    };
    if a.part == Part::Peers {
        peer_part(a, &respond).await?;
        return Ok(());
    }
    let surveyor = server(SocketType::Surveyor, &a.url).await?;
    let mut o = surveyor.protocol_options();
    o.set_survey_deadline(svc::WAIT)
        .map_err(|e| format!("survey deadline: {e}"))?;
    surveyor.set_protocol_options(o);
    let remote = (a.part == Part::Server).then(split::Remote::listen);
    let shared = server_view(remote.as_ref());
    let local = if remote.is_some() { 0 } else { a.peers };
    let respondents = spawn_peers(local, &shared, &respond);
    let (ready, failed) = shared;
    let warm = Message::new(svc::message(b"", a.size, mark::WARM));
    warm_up(&surveyor, &warm, &ready, a.peers, &failed).await?;
    let question = Message::new(svc::message(b"", a.size, mark::DATA));
    let mut rounds = Histogram::new();
    for _ in 0..a.count {
        let t = Instant::now();
        surveyor.send(question.clone()).await.map_err(err("send"))?;
        for _ in 0..a.peers {
            let m = surveyor.recv().await.map_err(err("recv"))?;
            if m.body.len() != question.body.len() {
                return Err(format!("response of {} bytes", m.body.len()));
            }
        }
        rounds.record(svc::nanos(t.elapsed()));
    }
    done.store(true, Ordering::Release);
    let end = Message::new(svc::message(b"", a.size, mark::END));
    surveyor.send(end).await.map_err(err("send"))?;
    join(respondents).await?;
    svc::report_survey(a, &rounds);
    surveyor.close().await;
    Ok(())
}

async fn respondent(url: &str, ready: &AtomicUsize, done: &AtomicBool) -> Result<(), String> {
    let s = peer(SocketType::Respondent, url, svc::IDLE_END).await?;
    let since = Instant::now();
    let mut warmup = svc::Warmup::default();
    loop {
        match s.recv().await {
            Ok(m) => match warmup.classify(&m.body, ready) {
                Received::Data => s.send(m).await.map_err(err("send"))?,
                Received::End => break,
                Received::Other => {}
            },
            Err(_) if done.load(Ordering::Acquire) => break,
            Err(e) if since.elapsed() > svc::WAIT => return Err(format!("recv: {e}")),
            Err(_) => {}
        }
    }
    s.close().await;
    Ok(())
}

async fn fanin(a: &ServiceArgs) -> Result<(), String> {
    let pull = server(SocketType::Pull, &a.url).await?;
    // Every pusher's warm-up message is in before `go`; the senders stay open until
    // `done`, as in the C libraries' version of this workload.
    let go = Arc::new(Barrier::new(a.peers + 1));
    let done = Arc::new(Barrier::new(a.peers + 1));
    let pushers: Vec<_> = (0..a.peers)
        .map(|_| {
            let (url, size, count) = (a.url.clone(), a.size, a.count);
            let (go, done) = (go.clone(), done.clone());
            tokio::spawn(async move {
                let ready = async {
                    let s = peer(SocketType::Push, &url, svc::WAIT).await?;
                    let warm = svc::message(b"", size, mark::WARM);
                    s.send(warm).await.map_err(err("send"))?;
                    Ok::<_, String>(s)
                }
                .await;
                go.wait().await;
                let sent = async {
                    let s = ready?;
                    let data = Message::new(svc::message(b"", size, mark::DATA));
                    for _ in 0..count {
                        s.send(data.clone()).await.map_err(err("send"))?;
                    }
                    Ok::<_, String>(s)
                }
                .await;
                done.wait().await;
                sent?.close().await;
                Ok(())
            })
        })
        .collect();
    let receive = |n: usize, want: u8| {
        let pull = &pull;
        async move {
            for _ in 0..n {
                let m = pull.recv().await.map_err(err("recv"))?;
                if svc::mark_of(&m.body) != want {
                    return Err(format!("expected mark {:?}", want as char));
                }
            }
            Ok::<_, String>(())
        }
    };
    let warmed = receive(a.peers, mark::WARM).await;
    go.wait().await;
    let start = Instant::now();
    let received = match warmed {
        Ok(()) => receive(a.peers * a.count, mark::DATA).await,
        Err(e) => Err(e),
    };
    let secs = start.elapsed().as_secs_f64();
    done.wait().await;
    join(pushers).await?;
    received?;
    svc::report_fanin(a, secs);
    pull.close().await;
    Ok(())
}
