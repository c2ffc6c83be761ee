//! The test side: start a peer process, script it, and treat our socket and a C peer
//! alike ([`Side`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sp_net::{Socket, SocketType};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::hex;

/// The longest a single peer command may take (peer sockets time out after 10 s).
pub const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// How long a receive waits by default, on both sides.
pub const RECV_LIMIT: Duration = Duration::from_secs(10);

/// A C library we test against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lib {
    /// libnanomsg (Debian `libnanomsg-dev`).
    Nanomsg,
    /// NNG 1.x (Debian `libnng-dev`).
    Nng,
}

impl Lib {
    /// Both libraries.
    pub const ALL: [Self; 2] = [Self::Nanomsg, Self::Nng];

    /// Short name (`nanomsg`, `nng`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Nanomsg => "nanomsg",
            Self::Nng => "nng",
        }
    }

    /// The Debian package that provides the library for linking.
    pub const fn deb(self) -> &'static str {
        match self {
            Self::Nanomsg => "libnanomsg-dev",
            Self::Nng => "libnng-dev",
        }
    }
}

/// Where the two peer binaries are (integration tests get them from
/// `env!("CARGO_BIN_EXE_nanomsg-peer")` and `env!("CARGO_BIN_EXE_nng-peer")`).
#[derive(Clone, Debug)]
pub struct PeerExes {
    /// The `nanomsg-peer` binary.
    pub nanomsg: PathBuf,
    /// The `nng-peer` binary.
    pub nng: PathBuf,
}

impl PeerExes {
    /// The binary for `lib`.
    pub fn get(&self, lib: Lib) -> &Path {
        match lib {
            Lib::Nanomsg => &self.nanomsg,
            Lib::Nng => &self.nng,
        }
    }
}

/// What a peer says about itself (`version`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The library's name for itself (`nanomsg`, `nng`).
    pub lib: String,
    /// Its version as the library reports it.
    pub version: String,
    /// The shared object its functions were loaded from.
    pub file: String,
}

/// Why a peer command failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The library returned an error (`err NAME text`).
    Peer {
        /// Portable error name.
        name: String,
        /// The library's message.
        text: String,
    },
    /// The peer process misbehaved (died, timed out, answered nonsense).
    Harness(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Peer { name, text } => write!(f, "{name} ({text})"),
            Self::Harness(s) => f.write_str(s),
        }
    }
}

/// A running peer process.
#[derive(Debug)]
pub struct Peer {
    lib: Lib,
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
    recv_timeout_ms: i32,
    /// What the peer reported about itself at start-up.
    pub info: PeerInfo,
}

impl Peer {
    /// Starts the peer for `lib` and checks that it really runs that library: the
    /// library must name itself, and its functions must come from `lib<name>.so`.
    pub async fn start(lib: Lib, exes: &PeerExes) -> Result<Self, String> {
        let exe = exes.get(lib);
        let mut child = tokio::process::Command::new(exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start the {} peer {}: {e} (build it with `cargo build -p \
                     conformance`; the library comes from `apt-get install {}`)",
                    lib.name(),
                    exe.display(),
                    lib.deb()
                )
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("peer without pipes".to_owned());
        };
        let mut peer = Self {
            lib,
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            recv_timeout_ms: crate::peer::DEFAULT_TIMEOUT_MS,
            info: PeerInfo {
                lib: String::new(),
                version: String::new(),
                file: String::new(),
            },
        };
        let answer = match peer.call("version").await {
            Ok(a) => a,
            Err(e) => {
                let stderr = peer.stderr().await;
                return Err(format!(
                    "the {} peer did not start ({e}). {stderr} \
                     (the library comes from `apt-get install {}`)",
                    lib.name(),
                    lib.deb()
                ));
            }
        };
        let mut parts = answer.splitn(3, ' ');
        peer.info = PeerInfo {
            lib: parts.next().unwrap_or_default().to_owned(),
            version: parts.next().unwrap_or_default().to_owned(),
            file: parts.next().unwrap_or_default().to_owned(),
        };
        let file_name = Path::new(&peer.info.file)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let expected_file = format!("lib{}.so", lib.name());
        if peer.info.lib != lib.name() || !file_name.starts_with(&expected_file) {
            return Err(format!(
                "the {} peer is not running {}: it reports {answer:?}",
                lib.name(),
                expected_file
            ));
        }
        Ok(peer)
    }

    /// The library this peer runs.
    pub fn lib(&self) -> Lib {
        self.lib
    }

    /// Whatever the process wrote on stderr (after it exited or was killed).
    async fn stderr(&mut self) -> String {
        let _ = self.child.start_kill();
        let mut text = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), e.read_to_string(&mut text)).await;
        }
        text.trim().to_owned()
    }

    /// Sends one command line and returns the answer after `ok ` / `msg `.
    pub async fn call(&mut self, line: &str) -> Result<String, CallError> {
        let exchange = async {
            self.stdin
                .write_all(format!("{line}\n").as_bytes())
                .await
                .map_err(|e| CallError::Harness(format!("peer stdin: {e}")))?;
            self.stdin
                .flush()
                .await
                .map_err(|e| CallError::Harness(format!("peer stdin: {e}")))?;
            self.stdout
                .next_line()
                .await
                .map_err(|e| CallError::Harness(format!("peer stdout: {e}")))?
                .ok_or_else(|| CallError::Harness("peer exited".to_owned()))
        };
        let answer = tokio::time::timeout(COMMAND_LIMIT, exchange)
            .await
            .map_err(|_| CallError::Harness(format!("peer did not answer {line:.40}")))??;
        let (kind, rest) = answer.split_once(' ').unwrap_or((&answer, ""));
        match kind {
            "ok" | "msg" => Ok(rest.to_owned()),
            "err" => {
                let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
                Err(CallError::Peer {
                    name: name.to_owned(),
                    text: text.to_owned(),
                })
            }
            _ => Err(CallError::Harness(format!("peer answered {answer:.80}"))),
        }
    }

    /// `open <type>`.
    pub async fn open(&mut self, t: SocketType) -> Result<(), CallError> {
        let name = match t {
            SocketType::Pair0 => "pair0",
            other => other.name(),
        };
        self.call(&format!("open {name}")).await.map(drop)
    }

    /// `opt <name> <value>`.
    pub async fn opt(
        &mut self,
        name: &str,
        value: impl std::fmt::Display,
    ) -> Result<(), CallError> {
        self.call(&format!("opt {name} {value}")).await.map(drop)
    }

    /// `send <hex>`.
    pub async fn send(&mut self, body: &[u8]) -> Result<(), CallError> {
        self.call(&format!("send {}", hex::encode(body)))
            .await
            .map(drop)
    }

    /// `recv`, with the receive timeout set to `timeout_ms` first if it differs.
    pub async fn recv_timeout(&mut self, timeout_ms: i32) -> Result<Vec<u8>, CallError> {
        if timeout_ms != self.recv_timeout_ms {
            self.opt("recv-timeout", timeout_ms).await?;
            self.recv_timeout_ms = timeout_ms;
        }
        let hex = self.call("recv").await?;
        hex::decode(&hex).ok_or_else(|| CallError::Harness("bad hex from peer".to_owned()))
    }

    /// Kills the process (SIGKILL): its connections drop without a close.
    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }

    /// Closes the socket and ends the process.
    pub async fn quit(mut self) {
        let _ = self.call("close").await;
        let _ = self.stdin.write_all(b"quit\n").await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// One side of a conversation: our socket or a C peer.
#[derive(Debug)]
pub enum Side {
    /// An `sp-net` socket.
    Ours(Socket),
    /// A C library in its peer process.
    C(Box<Peer>),
}

impl Side {
    /// Our socket of type `t`, with a receive timeout of [`RECV_LIMIT`].
    pub fn ours(t: SocketType) -> Self {
        let s = Socket::new(t);
        let mut o = s.options();
        o.recv_timeout = Some(RECV_LIMIT);
        o.send_timeout = Some(RECV_LIMIT);
        s.set_options(o);
        Self::Ours(s)
    }

    /// A C socket of type `t` in a new peer process.
    pub async fn c(lib: Lib, t: SocketType, exes: &PeerExes) -> Result<Self, String> {
        let mut p = Peer::start(lib, exes).await?;
        p.open(t)
            .await
            .map_err(|e| format!("{} cannot open {t}: {e}", lib.name()))?;
        Ok(Self::C(Box::new(p)))
    }

    /// `ours` or the library name.
    pub fn who(&self) -> &'static str {
        match self {
            Self::Ours(_) => "ours",
            Self::C(p) => p.lib().name(),
        }
    }

    /// Binds `url` and returns the address actually bound.
    pub async fn listen(&mut self, url: &str) -> Result<String, String> {
        match self {
            Self::Ours(s) => s
                .listen(url)
                .await
                .map(|ep| {
                    let bound = ep.url().to_string();
                    drop(ep); // lives as long as the socket
                    bound
                })
                .map_err(|e| format!("ours: listen {url}: {e}")),
            Self::C(p) => p
                .call(&format!("listen {url}"))
                .await
                .map_err(|e| format!("{}: listen {url}: {e}", p.lib().name())),
        }
    }

    /// Connects to `url` (in the background on both sides).
    pub async fn dial(&mut self, url: &str) -> Result<(), String> {
        match self {
            Self::Ours(s) => s
                .dial(url)
                .await
                .map(std::mem::forget)
                .map_err(|e| format!("ours: dial {url}: {e}")),
            Self::C(p) => p
                .call(&format!("dial {url}"))
                .await
                .map(drop)
                .map_err(|e| format!("{}: dial {url}: {e}", p.lib().name())),
        }
    }

    /// SUB: subscribes to `topic`.
    pub async fn subscribe(&mut self, topic: &[u8]) -> Result<(), String> {
        match self {
            Self::Ours(s) => s.subscribe(topic).map_err(|e| e.to_string()),
            Self::C(p) => p
                .opt("subscribe", hex::encode(topic))
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// SURVEYOR: sets the survey deadline.
    pub async fn set_survey_deadline(&mut self, ms: u32) -> Result<(), String> {
        match self {
            Self::Ours(s) => {
                let mut o = s.protocol_options();
                o.set_survey_deadline(Duration::from_millis(u64::from(ms)))
                    .map_err(|e| e.to_string())?;
                s.set_protocol_options(o);
                Ok(())
            }
            Self::C(p) => p
                .opt("survey-deadline", ms)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Sends one message.
    pub async fn send(&mut self, body: &[u8]) -> Result<(), String> {
        match self {
            Self::Ours(s) => s
                .send(body.to_vec())
                .await
                .map_err(|e| format!("ours: send {} bytes: {e}", body.len())),
            Self::C(p) => p
                .send(body)
                .await
                .map_err(|e| format!("{}: send {} bytes: {e}", p.lib().name(), body.len())),
        }
    }

    /// Receives one message, waiting at most `limit`: `Ok(None)` on a timeout.
    pub async fn recv_within(&mut self, limit: Duration) -> Result<Option<Vec<u8>>, String> {
        match self {
            Self::Ours(s) => match tokio::time::timeout(limit, s.recv()).await {
                // A C peer says ETIMEDOUT for both a receive timeout and a survey's end.
                Err(_) | Ok(Err(sp_net::Error::TimedOut | sp_net::Error::SurveyExpired)) => {
                    Ok(None)
                }
                Ok(Ok(m)) => Ok(Some(m.body.to_vec())),
                Ok(Err(e)) => Err(format!("ours: recv: {e}")),
            },
            Self::C(p) => {
                let ms = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX);
                match p.recv_timeout(ms).await {
                    Ok(b) => Ok(Some(b)),
                    Err(CallError::Peer { name, .. }) if name == "ETIMEDOUT" => Ok(None),
                    Err(e) => Err(format!("{}: recv: {e}", p.lib().name())),
                }
            }
        }
    }

    /// Receives one message within [`RECV_LIMIT`]; a timeout is an error.
    pub async fn recv(&mut self) -> Result<Vec<u8>, String> {
        let who = self.who();
        self.recv_within(RECV_LIMIT)
            .await?
            .ok_or_else(|| format!("{who}: nothing received within {RECV_LIMIT:?}"))
    }

    /// Waits until our socket has a pipe (no-op for a C peer, which cannot tell).
    pub async fn wait_connected(&self) -> Result<(), String> {
        match self {
            Self::Ours(s) => tokio::time::timeout(RECV_LIMIT, s.wait_for_pipes(1))
                .await
                .map_err(|_| "ours: no connection within 10 s".to_owned())?
                .map_err(|e| e.to_string()),
            Self::C(_) => Ok(()),
        }
    }

    /// Closes the socket (and ends a peer process).
    pub async fn close(self) {
        match self {
            Self::Ours(s) => s.close().await,
            Self::C(p) => p.quit().await,
        }
    }
}
