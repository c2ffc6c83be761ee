//! A newer NNG than Debian's 1.5.2: the one bundled in PyPI's `pynng` wheel (NNG 1.11.0
//! in pynng 0.9.0), driven by `conformance/py/pynng_peer.py` in a venv that
//! `scripts/test.sh` makes (`target/py-pynng`, passed as `SP_PYNNG_PYTHON`).
//!
//! Cells: REQ/REP and PAIR v1, each side listening, over tcp, ws with a path and ws
//! without one; each exchanges an empty, a short and a 70 000-byte message (over NNG's
//! 64 KiB WebSocket fragment size). And what NNG 1.11 sends as the request target when
//! it dials a path-less `ws://` URL (1.5.2 sends an empty one: sp-websocket.md §8).
//!
//! Without that Python the test is skipped with the reason printed, unless tools are
//! required (`SP_CAPI_REQUIRE_TOOLS`, which `scripts/test.sh` sets, or `CI`): then it
//! fails.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use sp_net::{Socket, SocketType};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

const CELL_LIMIT: Duration = Duration::from_secs(30);
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/py/pynng_peer.py");

/// The venv's Python with pynng importable; `None` (after saying why) when it is missing
/// and tools are not required.
fn python() -> Option<PathBuf> {
    let python = std::env::var_os("SP_PYNNG_PYTHON").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/py-pynng/bin/python"
            ))
        },
        PathBuf::from,
    );
    let imports = std::process::Command::new(&python)
        .args(["-c", "import pynng"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if imports {
        return Some(python);
    }
    let required = ["SP_CAPI_REQUIRE_TOOLS", "CI"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty() && x != "0"));
    let why = format!(
        "{} cannot import pynng (scripts/test.sh makes that venv)",
        python.display()
    );
    assert!(!required, "{why}");
    eprintln!("pynng cells skipped: {why}");
    None
}

#[derive(Clone, Copy, Debug)]
enum Proto {
    ReqRep,
    Pair1,
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp,
    Ws,
    WsNoPath,
}

impl Transport {
    /// The URL to listen at (port 0).
    fn listen_url(self) -> &'static str {
        match self {
            Self::Tcp => "tcp://127.0.0.1:0",
            Self::Ws => "ws://127.0.0.1:0/pynng",
            Self::WsNoPath => "ws://127.0.0.1:0",
        }
    }

    fn at_port(self, port: u16) -> String {
        self.listen_url().replace(":0", &format!(":{port}"))
    }
}

fn spawn(python: &PathBuf, protocol: &str, role: &str, url: &str) -> Child {
    Command::new(python)
        .args([SCRIPT, protocol, role, url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python starts")
}

/// Echoes each message as `re:` + message, `n` times (our REP or PAIR v1).
async fn echo(s: &Socket, n: usize) -> Result<(), String> {
    for _ in 0..n {
        let m = s.recv().await.map_err(|e| format!("ours: recv: {e}"))?;
        let mut answer = b"re:".to_vec();
        answer.extend_from_slice(&m.body);
        s.send(answer)
            .await
            .map_err(|e| format!("ours: send: {e}"))?;
    }
    Ok(())
}

/// The script's bodies, as our side sends them when it is the one asking.
fn bodies() -> Vec<Vec<u8>> {
    let mut big = b"m2-".to_vec();
    big.extend(std::iter::repeat_n(b'x', 70_000));
    vec![Vec::new(), b"m1".to_vec(), big]
}

/// Our side of one cell; the script asks when it is REQ or PAIR v1, answers when REP.
async fn our_side(proto: Proto, s: &Socket) -> Result<(), String> {
    match proto {
        Proto::Pair1 => echo(s, bodies().len()).await,
        Proto::ReqRep if s.socket_type() == SocketType::Rep => echo(s, bodies().len()).await,
        Proto::ReqRep => {
            for body in bodies() {
                let r = s
                    .request(body.clone())
                    .await
                    .map_err(|e| format!("ours: request: {e}"))?;
                if r.body[..] != [b"re:".as_slice(), &body].concat()[..] {
                    return Err(format!("ours: reply of {} bytes is wrong", r.body.len()));
                }
            }
            Ok(())
        }
    }
}

async fn run_cell(
    python: &PathBuf,
    proto: Proto,
    t: Transport,
    ours_listens: bool,
) -> Result<(), String> {
    let (ours_type, theirs) = match (proto, ours_listens) {
        (Proto::Pair1, _) => (SocketType::Pair1, "pair1"),
        (Proto::ReqRep, true) => (SocketType::Rep, "req"),
        (Proto::ReqRep, false) => (SocketType::Req, "rep"),
    };
    let ours = Socket::new(ours_type);
    let mut child = if ours_listens {
        let ep = ours
            .listen(t.listen_url())
            .await
            .map_err(|e| format!("ours: listen: {e}"))?;
        let url = ep.url().to_string();
        drop(ep);
        spawn(python, theirs, "dial", &url)
    } else {
        let mut child = spawn(python, theirs, "listen", t.listen_url());
        let stdout = child.stdout.as_mut().expect("piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .map_err(|e| e.to_string())?;
        let port: u16 = line
            .strip_prefix("port ")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| format!("pynng said {line:?}, not its port"))?;
        drop(
            ours.dial(&t.at_port(port))
                .await
                .map_err(|e| format!("ours: dial: {e}"))?,
        );
        child
    };
    // Whichever ends first: a failing script does not leave our side waiting.
    let ours_done = our_side(proto, &ours);
    tokio::pin!(ours_done);
    let (result, status) = tokio::select! {
        r = &mut ours_done => (r, child.wait().await),
        status = child.wait() => {
            let r = match &status {
                Ok(s) if s.success() => ours_done.await,
                _ => Ok(()),
            };
            (r, status)
        }
    };
    let status = status.map_err(|e| e.to_string())?;
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out).await;
    }
    let mut err = String::new();
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err).await;
    }
    ours.close().await;
    result?;
    if !status.success() || !out.contains("done") {
        return Err(format!("pynng: {status}: {out} {err}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_nng_through_pynng() {
    let Some(python) = python() else { return };
    let mut failed = Vec::new();
    let mut passed = 0;
    for proto in [Proto::ReqRep, Proto::Pair1] {
        for t in [Transport::Tcp, Transport::Ws, Transport::WsNoPath] {
            for ours_listens in [true, false] {
                let what = format!(
                    "{proto:?} over {t:?}, {} listens",
                    if ours_listens { "ours" } else { "pynng" }
                );
                let outcome =
                    tokio::time::timeout(CELL_LIMIT, run_cell(&python, proto, t, ours_listens))
                        .await
                        .unwrap_or_else(|_| Err(format!("timed out after {CELL_LIMIT:?}")));
                match outcome {
                    Ok(()) => passed += 1,
                    Err(e) => failed.push(format!("{what}: {e}")),
                }
            }
        }
    }
    println!("pynng: {passed} of {} cells pass", passed + failed.len());
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// NNG 1.11 dialing `ws://127.0.0.1:PORT` (no path) still sends an empty request target,
/// as 1.5.2 does (sp-websocket.md §8), which our listener serves as `/`.
#[tokio::test]
async fn newer_nng_request_target_for_a_pathless_url() {
    let Some(python) = python() else { return };
    let raw = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = raw.local_addr().unwrap().port();
    let _child = spawn(&python, "req", "dial", &format!("ws://127.0.0.1:{port}"));
    let (mut s, _) = tokio::time::timeout(CELL_LIMIT, raw.accept())
        .await
        .expect("pynng dials")
        .unwrap();
    let mut line = String::new();
    tokio::time::timeout(CELL_LIMIT, BufReader::new(&mut s).read_line(&mut line))
        .await
        .expect("a request line")
        .unwrap();
    println!("NNG 1.11 request line: {line:?}");
    assert_eq!(line, "GET  HTTP/1.1\r\n");
}
