//! `sp-perf`: nanomsg's performance tools (`local_lat`, `remote_lat`, `local_thr`,
//! `remote_thr`, `inproc_lat`, `inproc_thr`) built on `sp-net`, with the same arguments,
//! behaviour and report lines, so either side pairs with nanomsg's own tools.
//!
//! ```text
//! sp-perf local_lat  <bind-to>    <msg-size> <roundtrips>
//! sp-perf remote_lat <connect-to> <msg-size> <roundtrips>
//! sp-perf local_thr  <bind-to>    <msg-size> <msg-count>
//! sp-perf remote_thr <connect-to> <msg-size> <msg-count>
//! sp-perf inproc_lat <msg-size> <roundtrips>
//! sp-perf inproc_thr <msg-size> <msg-count>
//! sp-perf mem_conn   <url> <count>
//! sp-perf mem_sub    <count>
//! sp-perf reqrep <url> <clients> <msg-size> <requests-per-client>
//! sp-perf fanout <url> <subscribers> <msg-size> <messages> [<topics>]
//! sp-perf survey <url> <respondents> <msg-size> <rounds>
//! sp-perf fanin  <url> <pushers> <msg-size> <messages-per-pusher>
//! sp-perf [--threads N] ...
//! ```
//!
//! The tool name may also come from the program name (a link called `local_lat`).
//! Latency tools ping-pong over PAIR and report the one-way latency (round-trip / 2);
//! throughput tools send over PAIR, the sender first sending an empty start message that
//! starts the receiver's clock. Extensions, all optional: `--pipeline` before the
//! arguments uses PUSH (sender) and PULL (receiver) for the throughput tools;
//! `--threads N` first on the command line (or the environment variable
//! `SP_PERF_THREADS`, which the option overrides) picks the tokio runtime: `0` is the
//! current-thread runtime, `N` the multi-thread runtime with exactly N workers (the
//! user loop of the six nanomsg tools staying on the main thread). Nothing depends on
//! the machine's core count: without the option the default is current-thread, except
//! for TCP/IPC throughput with messages of 16 KiB and more: one worker then (the user's
//! thread plus an I/O thread, as nanomsg's worker thread), which overlaps copying with
//! the socket; for small messages the hand-off between threads costs more than it
//! saves on 2 cores. tokio's own defaults for idle workers (parking after a short
//! spin, work stealing) are kept: tokio 1.x exposes no knob for them on a stable build.
//!
//! The service workloads (`perf_kit::service`, shared with the C libraries' tools) run
//! every client, subscriber, respondent and pusher as a task with its own socket, in
//! one process; the default runtime is current-thread there too, and `perf-bench`
//! passes `--threads` explicitly.
//!
//! The memory tools (`perf_kit::mem`, shared with the C libraries' tools) measure heap
//! and resident bytes: `mem_conn` per idle connection (a PULL listener and `count` PUSH
//! dialer sockets, each sending one message that the listener receives, which proves
//! every connection up; both ends counted) and per unconnected socket, `mem_sub` per
//! subscription of a SUB socket. They run on the current-thread runtime.

use std::process::ExitCode;
use std::time::Instant;

use sp_net::{Message, Socket, SocketType};

// Shared with the C libraries' perf tools (and `perf-bench`, which reads the reports
// back): every perf tool parses and reports the same way.
use perf_kit::args::{parse_args, ToolArgs as Args};
use perf_kit::mem;
use perf_kit::service::{self as svc, ServiceArgs};

#[path = "sp-perf/service.rs"]
mod service;

fn check(what: &str, r: Result<(), sp_net::Error>) -> Result<(), String> {
    r.map_err(|e| format!("{what}: {e}"))
}

fn expect_size(got: &Message, size: usize) -> Result<(), String> {
    if got.body.len() == size {
        Ok(())
    } else {
        Err(format!(
            "received {} bytes, expected {size}",
            got.body.len()
        ))
    }
}

async fn recv(s: &Socket, size: usize) -> Result<Message, String> {
    let m = s.recv().await.map_err(|e| format!("recv: {e}"))?;
    expect_size(&m, size)?;
    Ok(m)
}

fn payload(size: usize) -> Message {
    Message::new(vec![111u8; size])
}

/// Echoes `rts` messages back (the bound side of the latency test).
async fn local_lat(s: &Socket, size: usize, rts: usize) -> Result<(), String> {
    for _ in 0..rts {
        let m = recv(s, size).await?;
        check("send", s.send(m).await)?;
    }
    Ok(())
}

/// Sends and awaits `rts` round trips; returns the elapsed time.
async fn remote_lat(s: &Socket, size: usize, rts: usize) -> Result<f64, String> {
    let msg = payload(size);
    let start = Instant::now();
    for _ in 0..rts {
        check("send", s.send(msg.clone()).await)?;
        recv(s, size).await?;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Waits for the empty start message, then receives `count` messages; returns the time
/// from the start message to the last message.
async fn local_thr(s: &Socket, size: usize, count: usize) -> Result<f64, String> {
    recv(s, 0).await?;
    let start = Instant::now();
    for _ in 0..count {
        recv(s, size).await?;
    }
    Ok(start.elapsed().as_secs_f64())
}

async fn remote_thr(s: &Socket, size: usize, count: usize) -> Result<(), String> {
    let msg = payload(size);
    check("send", s.send(Message::new(Vec::new())).await)?;
    for _ in 0..count {
        check("send", s.send(msg.clone()).await)?;
    }
    Ok(())
}

fn report_lat(size: usize, rts: usize, secs: f64) {
    let lat_us = secs * 1e6 / (rts as f64 * 2.0);
    println!("message size: {size} [B]");
    println!("roundtrip count: {rts}");
    println!("average latency: {lat_us:.3} [us]");
}

fn report_thr(size: usize, count: usize, secs: f64) {
    let secs = secs.max(1e-6);
    let thr = (count as f64 / secs) as u64;
    let mbs = (thr as f64 * size as f64 * 8.0) / 1e6;
    println!("message size: {size} [B]");
    println!("message count: {count}");
    println!("throughput: {thr} [msg/s]");
    println!("throughput: {mbs:.3} [Mb/s]");
}

fn socket_types(a: &Args) -> (SocketType, SocketType) {
    if a.pipeline && a.tool.ends_with("_thr") {
        (SocketType::Pull, SocketType::Push)
    } else {
        (SocketType::Pair0, SocketType::Pair0)
    }
}

async fn run(a: Args) -> Result<(), String> {
    let (local_type, remote_type) = socket_types(&a);
    match a.tool.as_str() {
        "local_lat" | "local_thr" => {
            let s = Socket::new(local_type);
            s.listen(&a.addr)
                .await
                .map_err(|e| format!("bind {}: {e}", a.addr))?;
            if a.tool == "local_lat" {
                local_lat(&s, a.size, a.count).await?;
            } else {
                let secs = local_thr(&s, a.size, a.count).await?;
                report_thr(a.size, a.count, secs);
            }
            s.close().await;
        }
        "remote_lat" | "remote_thr" => {
            let s = Socket::new(remote_type);
            s.dial(&a.addr)
                .await
                .map_err(|e| format!("connect {}: {e}", a.addr))?;
            if a.tool == "remote_lat" {
                let secs = remote_lat(&s, a.size, a.count).await?;
                report_lat(a.size, a.count, secs);
            } else {
                remote_thr(&s, a.size, a.count).await?;
            }
            s.close().await;
        }
        _ => {
            // Both ends in this process: the bound side on a task, the measuring side here.
            let local = Socket::new(local_type);
            local
                .listen(&a.addr)
                .await
                .map_err(|e| format!("bind {}: {e}", a.addr))?;
            let remote = Socket::new(remote_type);
            remote
                .dial(&a.addr)
                .await
                .map_err(|e| format!("connect {}: {e}", a.addr))?;
            let (size, count) = (a.size, a.count);
            if a.tool == "inproc_lat" {
                let echo = tokio::spawn(async move { local_lat(&local, size, count).await });
                let secs = remote_lat(&remote, size, count).await?;
                echo.await.map_err(|e| e.to_string())??;
                report_lat(size, count, secs);
            } else {
                let sender = tokio::spawn(async move {
                    let r = remote_thr(&remote, size, count).await;
                    (r, remote)
                });
                let secs = local_thr(&local, size, count).await?;
                let (r, remote) = sender.await.map_err(|e| e.to_string())?;
                r?;
                remote.close().await;
                report_thr(size, count, secs);
            }
        }
    }
    Ok(())
}

/// A socket that fails after [`mem::WAIT`] instead of waiting forever.
fn bounded(socket_type: SocketType) -> Socket {
    let s = Socket::new(socket_type);
    let mut o = s.options();
    o.send_timeout = Some(mem::WAIT);
    o.recv_timeout = Some(mem::WAIT);
    s.set_options(o);
    s
}

/// `mem_conn`: a PULL listener at `url` and `count` PUSH dialer sockets.
async fn mem_conn(url: &str, count: usize) -> Result<(), String> {
    let listener = bounded(SocketType::Pull);
    let mut o = listener.options();
    o.max_connections = o.max_connections.max(count);
    listener.set_options(o);
    listener
        .listen(url)
        .await
        .map_err(|e| format!("bind {url}: {e}"))?;
    let before = mem::usage();
    let dialers: Vec<Socket> = (0..count).map(|_| bounded(SocketType::Push)).collect();
    let opened = mem::usage();
    for d in &dialers {
        d.dial(url)
            .await
            .map_err(|e| format!("connect {url}: {e}"))?;
    }
    // One message from each dialer: all `count` arrive only if every connection is up.
    for d in &dialers {
        check("send", d.send(Message::new(b"up".to_vec())).await)?;
    }
    for _ in 0..count {
        recv(&listener, 2).await?;
    }
    tokio::time::sleep(mem::SETTLE).await;
    let idle = mem::usage();
    mem::report_conn(count, before, opened, idle);
    for d in &dialers {
        d.close().await;
    }
    listener.close().await;
    Ok(())
}

/// `mem_sub`: one SUB socket subscribed to [`mem::topic`]`(0..count)`.
async fn mem_sub(count: usize) -> Result<(), String> {
    let s = Socket::new(SocketType::Sub);
    let n = u32::try_from(count).map_err(|_| format!("{count} topics are too many"))?;
    let before = mem::usage();
    for i in 0..n {
        s.subscribe(mem::topic(i))
            .map_err(|e| format!("subscribe: {e}"))?;
    }
    let after = mem::usage();
    mem::report("subscription", count, before, after);
    s.close().await;
    Ok(())
}

/// What the command line asks for.
enum Job {
    Perf(Args),
    Mem(mem::MemTool),
    Service(ServiceArgs),
}

async fn run_job(job: Job) -> Result<(), String> {
    match job {
        Job::Perf(a) => run(a).await,
        Job::Mem(mem::MemTool::Conn { url, count }) => mem_conn(&url, count).await,
        Job::Mem(mem::MemTool::Sub { count }) => mem_sub(count).await,
        Job::Service(a) => service::run(a).await,
    }
}

/// Message size from which the throughput tools default to an I/O worker thread.
const LARGE_MESSAGE: usize = 16 * 1024;

/// Takes `--threads N` off the front of `argv`: `Ok(None)` when it is absent.
fn take_threads(argv: &mut Vec<String>) -> Result<Option<usize>, String> {
    if argv.get(1).map(String::as_str) != Some("--threads") {
        return Ok(None);
    }
    let n = argv
        .get(2)
        .and_then(|v| v.parse().ok())
        .ok_or("--threads needs a number of worker threads (0: current-thread)")?;
    argv.drain(1..3);
    Ok(Some(n))
}

fn main() -> ExitCode {
    let mut argv: Vec<String> = std::env::args().collect();
    let threads = take_threads(&mut argv);
    let parsed = match (svc::parse(&argv), mem::parse_tool(&argv)) {
        (Some(w), _) => w.map(Job::Service),
        (None, Some(m)) => m.map(Job::Mem),
        (None, None) => parse_args(&argv).map(Job::Perf),
    };
    let (job, threads) = match (parsed, threads) {
        (Ok(j), Ok(t)) => (j, t),
        (Err(e), _) | (_, Err(e)) => {
            println!("{e}");
            return ExitCode::from(1);
        }
    };
    // An I/O worker thread pays off where copying overlaps the socket (large messages);
    // for small ones the cross-thread hand-off costs more than it saves (measured on 2
    // cores: 64 B over TCP 4.4-4.7 M msg/s current-thread against 2.7-3.1 M with a
    // worker; 64 KiB 10 k against 22 k).
    let io_worker = matches!(&job, Job::Perf(a)
        if a.tool.ends_with("_thr") && !a.tool.starts_with("inproc") && a.size >= LARGE_MESSAGE);
    let threads = threads.unwrap_or_else(|| {
        std::env::var("SP_PERF_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(usize::from(io_worker))
    });
    let rt = if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sp-perf: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // On the current-thread runtime the tool runs as a spawned task, not as the
    // `block_on` future itself: waking the `block_on` future from a pipe task costs an
    // extra `epoll_wait` per wake-up, a spawned task is just queued. On the multi-thread
    // runtime it stays on the main thread, the pipe tasks going to the workers.
    let outcome = if threads == 0 {
        rt.block_on(async {
            tokio::spawn(run_job(job))
                .await
                .unwrap_or_else(|e| Err(format!("the tool's task failed: {e}")))
        })
    } else {
        rt.block_on(run_job(job))
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sp-perf: {e}");
            ExitCode::from(2)
        }
    }
}
