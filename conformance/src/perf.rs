//! The performance tools of the C libraries and of plain sockets, for side-by-side runs
//! with `sp-perf` (see `src/bin/perf-bench.rs`).
//!
//! [`tool_main`] implements nanomsg's six perf tools (`local_lat`, `remote_lat`,
//! `local_thr`, `remote_thr`, `inproc_lat`, `inproc_thr`: arguments, PAIR sockets, the
//! empty start message, TCP_NODELAY on the latency sockets, report lines) over any
//! [`PerfSocket`]; `nanomsg-perf` and `nng-perf` supply one for their library. [`raw_main`]
//! is the kernel baseline: the same tools over plain TCP or Unix sockets (ping-pong of
//! `size` bytes; one write per message, the receiver reading 256 KiB at a time).
//!
//! The memory tools `mem_conn` and `mem_sub` ([`mem`], shared with `sp-perf`) and the
//! service workloads ([`service`], `reqrep`, `fanout`, `survey`, `fanin`) run over any
//! [`PerfSocket`] too, through [`tool_main`].

pub mod service;

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use perf_kit::args::{parse_args, ToolArgs};
use perf_kit::mem;

/// The socket types the tools use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerfKind {
    /// PAIR v0 (every tool by default).
    Pair,
    /// PUSH, the sender of `--pipeline` throughput runs.
    Push,
    /// PULL, the receiver of `--pipeline` throughput runs.
    Pull,
    /// SUB, of `mem_sub` and `fanout`.
    Sub,
    /// REQ, the clients of `reqrep`.
    Req,
    /// The REP server of `reqrep`, as each library serves best (see
    /// [`PerfSocket::serve_replies`]).
    RepServer,
    /// PUB, of `fanout`.
    Pub,
    /// SURVEYOR, of `survey`.
    Surveyor,
    /// RESPONDENT, of `survey`.
    Respondent,
}

/// A blocking SP socket of some library.
pub trait PerfSocket: Sized + Send + 'static {
    /// Opens a socket.
    fn open(kind: PerfKind) -> Result<Self, String>;
    /// Turns TCP_NODELAY on for connections made afterwards.
    fn set_nodelay(&mut self) -> Result<(), String>;
    /// Listens at `url`.
    fn bind(&mut self, url: &str) -> Result<(), String>;
    /// Connects to `url` (in the background: the peer may not be there yet).
    fn connect(&mut self, url: &str) -> Result<(), String>;
    /// Sends one message.
    fn send(&mut self, buf: &[u8]) -> Result<(), String>;
    /// Receives one message into `buf` (sized for the expected message); returns its size.
    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, String>;
    /// Makes sends and receives fail after `limit` instead of waiting forever.
    fn set_timeout(&mut self, limit: Duration) -> Result<(), String>;
    /// Subscribes a SUB socket to `topic`.
    fn subscribe(&mut self, topic: &[u8]) -> Result<(), String>;
    /// Sets how many messages a PUB socket queues per pipe before it drops
    /// ([`perf_kit::service::PUB_PIPE_QUEUE`] says what each library does with it).
    fn set_pipe_queue(&mut self, messages: usize) -> Result<(), String>;
    /// Sets a SURVEYOR's survey deadline.
    fn set_survey_deadline(&mut self, limit: Duration) -> Result<(), String>;
    /// Answers every request of up to `clients` clients at once with its own body,
    /// until the process ends: libnanomsg with its loopback device on a raw REP socket
    /// (no user thread in the loop), NNG with one REP context per client, each on a
    /// thread of its own (its device refuses REP).
    fn serve_replies(&mut self, clients: usize) -> Result<(), String>;
    /// Closes the socket.
    fn close(self);
    /// The library actually loaded: its version as it reports it, and its file.
    fn library() -> String;
}

/// Prints the latency report (one-way latency = round trip / 2), as nanomsg's tools do.
pub fn report_lat(size: usize, rts: usize, secs: f64) {
    let lat_us = secs * 1e6 / (rts as f64 * 2.0);
    println!("message size: {size} [B]");
    println!("roundtrip count: {rts}");
    println!("average latency: {lat_us:.3} [us]");
}

/// Prints the throughput report, as nanomsg's tools do.
pub fn report_thr(size: usize, count: usize, secs: f64) {
    let thr = (count as f64 / secs.max(1e-6)) as u64;
    let mbs = (thr as f64 * size as f64 * 8.0) / 1e6;
    println!("message size: {size} [B]");
    println!("message count: {count}");
    println!("throughput: {thr} [msg/s]");
    println!("throughput: {mbs:.3} [Mb/s]");
}

fn expect(got: usize, size: usize) -> Result<(), String> {
    if got == size {
        Ok(())
    } else {
        Err(format!("received {got} bytes, expected {size}"))
    }
}

fn echo<S: PerfSocket>(s: &mut S, size: usize, rts: usize) -> Result<(), String> {
    let mut buf = vec![0u8; size.max(1)];
    for _ in 0..rts {
        expect(s.recv(&mut buf)?, size)?;
        s.send(&buf[..size])?;
    }
    Ok(())
}

fn ping<S: PerfSocket>(s: &mut S, size: usize, rts: usize) -> Result<f64, String> {
    let mut buf = vec![111u8; size.max(1)];
    let start = Instant::now();
    for _ in 0..rts {
        s.send(&buf[..size])?;
        expect(s.recv(&mut buf)?, size)?;
    }
    Ok(start.elapsed().as_secs_f64())
}

fn sink<S: PerfSocket>(s: &mut S, size: usize, count: usize) -> Result<f64, String> {
    let mut buf = vec![0u8; size.max(1)];
    expect(s.recv(&mut buf)?, 0)?;
    let start = Instant::now();
    for _ in 0..count {
        expect(s.recv(&mut buf)?, size)?;
    }
    Ok(start.elapsed().as_secs_f64())
}

fn source<S: PerfSocket>(s: &mut S, size: usize, count: usize) -> Result<(), String> {
    let buf = vec![111u8; size];
    s.send(&[])?;
    for _ in 0..count {
        s.send(&buf)?;
    }
    Ok(())
}

/// How long a C library's socket stays open after its last send: neither library
/// promises to flush queued messages on close (nanomsg's own tools lose the last reply
/// or messages that way), so the sending side waits; the bench runner stops it as soon
/// as the measuring side reported.
const SENDER_LINGER: Duration = Duration::from_secs(2);

fn run_tool<S: PerfSocket>(a: &ToolArgs) -> Result<(), String> {
    let thr = a.tool.ends_with("_thr");
    let (recv_kind, send_kind) = if a.pipeline && thr {
        (PerfKind::Pull, PerfKind::Push)
    } else {
        (PerfKind::Pair, PerfKind::Pair)
    };
    match a.tool.as_str() {
        "local_lat" => {
            let mut s = S::open(PerfKind::Pair)?;
            s.set_nodelay()?;
            s.bind(&a.addr)?;
            echo(&mut s, a.size, a.count)?;
            std::thread::sleep(SENDER_LINGER);
            s.close();
        }
        "remote_lat" => {
            let mut s = S::open(PerfKind::Pair)?;
            s.set_nodelay()?;
            s.connect(&a.addr)?;
            let secs = ping(&mut s, a.size, a.count)?;
            report_lat(a.size, a.count, secs);
            s.close();
        }
        "local_thr" => {
            let mut s = S::open(recv_kind)?;
            s.bind(&a.addr)?;
            let secs = sink(&mut s, a.size, a.count)?;
            report_thr(a.size, a.count, secs);
            s.close();
        }
        "remote_thr" => {
            let mut s = S::open(send_kind)?;
            s.connect(&a.addr)?;
            source(&mut s, a.size, a.count)?;
            std::thread::sleep(SENDER_LINGER);
            s.close();
        }
        _ => {
            // In one process: the bound side here, the connecting side on a thread that
            // keeps its socket open until the bound side is done.
            let (size, count) = (a.size, a.count);
            let mut local = S::open(if thr { recv_kind } else { PerfKind::Pair })?;
            local.bind(&a.addr)?;
            let mut remote = S::open(if thr { send_kind } else { PerfKind::Pair })?;
            remote.connect(&a.addr)?;
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            if thr {
                let sender = std::thread::spawn(move || {
                    let r = source(&mut remote, size, count);
                    let _ = done_rx.recv();
                    remote.close();
                    r
                });
                let secs = sink(&mut local, size, count)?;
                let _ = done_tx.send(());
                sender.join().map_err(|_| "sender panicked".to_owned())??;
                report_thr(size, count, secs);
            } else {
                let echoer = std::thread::spawn(move || {
                    let r = echo(&mut local, size, count);
                    let _ = done_rx.recv();
                    local.close();
                    r
                });
                let secs = ping(&mut remote, size, count)?;
                let _ = done_tx.send(());
                echoer.join().map_err(|_| "echoer panicked".to_owned())??;
                report_lat(size, count, secs);
                remote.close();
            }
        }
    }
    Ok(())
}

/// Opens a socket whose sends and receives give up after [`mem::WAIT`].
fn bounded<S: PerfSocket>(kind: PerfKind) -> Result<S, String> {
    let mut s = S::open(kind)?;
    s.set_timeout(mem::WAIT)?;
    Ok(s)
}

/// `mem_conn`: a PULL listener at `url` and `count` PUSH dialer sockets, each sending
/// one message; the listener receiving all `count` proves every connection up.
fn mem_conn<S: PerfSocket>(url: &str, count: usize) -> Result<(), String> {
    let mut listener = bounded::<S>(PerfKind::Pull)?;
    listener.bind(url)?;
    let before = mem::usage();
    let mut dialers = (0..count)
        .map(|_| bounded::<S>(PerfKind::Push))
        .collect::<Result<Vec<_>, _>>()?;
    let opened = mem::usage();
    for d in &mut dialers {
        d.connect(url)?;
    }
    for d in &mut dialers {
        d.send(b"up")?;
    }
    let mut buf = [0u8; 2];
    for _ in 0..count {
        expect(listener.recv(&mut buf)?, 2)?;
    }
    std::thread::sleep(mem::SETTLE);
    let idle = mem::usage();
    mem::report_conn(count, before, opened, idle);
    dialers.into_iter().for_each(S::close);
    listener.close();
    Ok(())
}

/// `mem_sub`: one SUB socket subscribed to [`mem::topic`]`(0..count)`.
fn mem_sub<S: PerfSocket>(count: usize) -> Result<(), String> {
    let n = u32::try_from(count).map_err(|_| format!("{count} topics are too many"))?;
    let mut s = S::open(PerfKind::Sub)?;
    let before = mem::usage();
    for i in 0..n {
        s.subscribe(&mem::topic(i))?;
    }
    let after = mem::usage();
    mem::report("subscription", count, before, after);
    s.close();
    Ok(())
}

/// The `main` of a perf tool binary over socket type `S`.
pub fn tool_main<S: PerfSocket>() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("version") {
        println!("library: {}", S::library());
        return ExitCode::SUCCESS;
    }
    let run = match (perf_kit::service::parse(&argv), mem::parse_tool(&argv)) {
        (Some(workload), _) => workload.map(|a| service::run::<S>(&a)),
        (None, Some(Ok(mem::MemTool::Conn { url, count }))) => Ok(mem_conn::<S>(&url, count)),
        (None, Some(Ok(mem::MemTool::Sub { count }))) => Ok(mem_sub::<S>(count)),
        (None, Some(Err(e))) => Err(e),
        (None, None) => parse_args(&argv).map(|a| run_tool::<S>(&a)),
    };
    let outcome = match run {
        Ok(outcome) => outcome,
        Err(e) => {
            println!("{e}");
            return ExitCode::from(1);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "{}: {e}",
                argv.first().map(String::as_str).unwrap_or("perf")
            );
            ExitCode::from(2)
        }
    }
}

/// A plain stream socket of the raw baseline.
trait RawStream: Read + Write {}
impl<T: Read + Write> RawStream for T {}

fn raw_accept(url: &str) -> Result<Box<dyn RawStream>, String> {
    if let Some(addr) = url.strip_prefix("tcp://") {
        let addr = addr.replacen('*', "0.0.0.0", 1);
        let l = std::net::TcpListener::bind(&addr).map_err(|e| format!("bind {addr}: {e}"))?;
        let (s, _) = l.accept().map_err(|e| e.to_string())?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        return Ok(Box::new(s));
    }
    #[cfg(unix)]
    if let Some(path) = url.strip_prefix("ipc://") {
        let _ = std::fs::remove_file(path);
        let l = std::os::unix::net::UnixListener::bind(path)
            .map_err(|e| format!("bind {path}: {e}"))?;
        let (s, _) = l.accept().map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(path);
        return Ok(Box::new(s));
    }
    Err(format!(
        "raw sockets support tcp:// and ipc:// only, not {url}"
    ))
}

fn raw_connect(url: &str) -> Result<Box<dyn RawStream>, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r: std::io::Result<Box<dyn RawStream>> = if let Some(addr) = url.strip_prefix("tcp://")
        {
            std::net::TcpStream::connect(addr).and_then(|s| {
                s.set_nodelay(true)?;
                Ok(Box::new(s) as Box<dyn RawStream>)
            })
        } else {
            #[cfg(unix)]
            match url.strip_prefix("ipc://") {
                Some(path) => std::os::unix::net::UnixStream::connect(path)
                    .map(|s| Box::new(s) as Box<dyn RawStream>),
                None => {
                    return Err(format!(
                        "raw sockets support tcp:// and ipc:// only, not {url}"
                    ))
                }
            }
            #[cfg(not(unix))]
            return Err(format!("raw sockets support tcp:// only, not {url}"));
        };
        match r {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => return Err(format!("connect {url}: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

const RAW_READ: usize = 256 * 1024;

fn run_raw(a: &ToolArgs) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let (size, count) = (a.size, a.count);
    let mut buf = vec![111u8; size.max(RAW_READ)];
    match a.tool.as_str() {
        "local_lat" => {
            let mut s = raw_accept(&a.addr)?;
            for _ in 0..count {
                s.read_exact(&mut buf[..size]).map_err(io)?;
                s.write_all(&buf[..size]).map_err(io)?;
            }
        }
        "remote_lat" => {
            let mut s = raw_connect(&a.addr)?;
            let start = Instant::now();
            for _ in 0..count {
                s.write_all(&buf[..size]).map_err(io)?;
                s.read_exact(&mut buf[..size]).map_err(io)?;
            }
            report_lat(size, count, start.elapsed().as_secs_f64());
        }
        "local_thr" => {
            let mut s = raw_accept(&a.addr)?;
            // One start byte, then count * size bytes read in large chunks.
            s.read_exact(&mut buf[..1]).map_err(io)?;
            let start = Instant::now();
            let mut left = size * count;
            while left > 0 {
                let n = s.read(&mut buf[..RAW_READ.min(left)]).map_err(io)?;
                if n == 0 {
                    return Err("connection closed early".into());
                }
                left -= n;
            }
            report_thr(size, count, start.elapsed().as_secs_f64());
        }
        "remote_thr" => {
            let mut s = raw_connect(&a.addr)?;
            s.write_all(&[0]).map_err(io)?;
            for _ in 0..count {
                s.write_all(&buf[..size]).map_err(io)?;
            }
            s.flush().map_err(io)?;
        }
        other => return Err(format!("{other}: raw sockets have no in-process variant")),
    }
    Ok(())
}

/// The `main` of `raw-perf`: the perf tools over plain TCP/Unix sockets.
pub fn raw_main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if mem::parse_tool(&argv).is_some() {
        eprintln!("raw-perf: plain sockets have no memory tools");
        return ExitCode::from(1);
    }
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            println!("{e}");
            return ExitCode::from(1);
        }
    };
    match run_raw(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raw-perf: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn memory_tools_parse() {
        let conn = mem::MemTool::Conn {
            url: "tcp://127.0.0.1:5555".into(),
            count: 500,
        };
        assert_eq!(
            mem::parse_tool(&argv("x mem_conn tcp://127.0.0.1:5555 500")),
            Some(Ok(conn))
        );
        assert_eq!(
            mem::parse_tool(&argv("/bin/mem_sub 10")),
            Some(Ok(mem::MemTool::Sub { count: 10 }))
        );
        assert!(matches!(mem::parse_tool(&argv("x mem_sub")), Some(Err(_))));
        assert!(matches!(
            mem::parse_tool(&argv("x mem_sub many")),
            Some(Err(_))
        ));
        assert!(matches!(
            mem::parse_tool(&argv("x mem_conn tcp://a:1")),
            Some(Err(_))
        ));
        assert_eq!(mem::parse_tool(&argv("x local_lat tcp://a:1 1 1")), None);
        assert_eq!(mem::parse_tool(&argv("x")), None);
    }
}
