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
/// `env!("CARGO_BIN_EXE_nanomsg-peer")` and `env!("CARGO_BIN_EXE_nng-peer")`), and our
/// own `libnanomsg.so.5` for the cells that run `nanomsg-peer` on it.
#[derive(Clone, Debug)]
pub struct PeerExes {
    /// The `nanomsg-peer` binary.
    pub nanomsg: PathBuf,
    /// The `nng-peer` binary.
    pub nng: PathBuf,
    /// A directory holding sp-capi's library as `libnanomsg.so.5` (see
    /// [`capi_lib_dir`]), for [`Loader::OurCapi`]; `None` where no test needs it.
    pub capi_dir: Option<PathBuf>,
}

/// Which `libnanomsg.so.5` a `nanomsg-peer` process loads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loader {
    /// Whatever the dynamic linker finds by itself: the real C library (Debian's, or one
    /// of the user's own on `LD_LIBRARY_PATH`). It must not be sp-rs's.
    System,
    /// sp-rs's drop-in (the `sp-capi` crate): the process runs with `LD_LIBRARY_PATH`
    /// set to this directory, which holds it as `libnanomsg.so.5`.
    OurCapi(PathBuf),
}

/// A fresh directory serving sp-capi's `libnanomsg.so` (the file `lib`) under the soname
/// programs ask for, `libnanomsg.so.5`, for [`Loader::OurCapi`].
pub fn capi_lib_dir(lib: &Path, tag: &str) -> Result<PathBuf, String> {
    let lib = std::fs::canonicalize(lib).map_err(|e| {
        format!(
            "{}: {e} (build our library with `cargo build -p sp-capi`)",
            lib.display()
        )
    })?;
    let dir = std::env::temp_dir().join(format!("sp-capi-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let link = dir.join("libnanomsg.so.5");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&lib, &link).map_err(|e| format!("{}: {e}", link.display()))?;
    Ok(dir)
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
    /// `nn_sp_rs_version`'s text when the library is sp-rs's drop-in (sp-capi).
    pub sp_rs: Option<String>,
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

/// Checks that a peer runs the library `loader` promised: `lib` naming itself, from
/// `lib<name>.so`; sp-rs's drop-in, from the file in `loader`'s directory, for
/// [`Loader::OurCapi`]; anything but sp-rs's for [`Loader::System`].
pub fn check_loaded(lib: Lib, loader: &Loader, info: &PeerInfo) -> Result<(), String> {
    let file_name = Path::new(&info.file)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let expected_file = format!("lib{}.so", lib.name());
    if info.lib != lib.name() || !file_name.starts_with(&expected_file) {
        return Err(format!(
            "the {} peer is not running {expected_file}: it reports {info:?}",
            lib.name()
        ));
    }
    match loader {
        Loader::System if info.sp_rs.is_some() => Err(format!(
            "the {} peer runs sp-rs's drop-in, not the real library: {info:?}",
            lib.name()
        )),
        Loader::System => Ok(()),
        Loader::OurCapi(dir) => {
            let ours = dir.join("libnanomsg.so.5");
            let ours =
                std::fs::canonicalize(&ours).map_err(|e| format!("{}: {e}", ours.display()))?;
            if info.sp_rs.is_none() || Path::new(&info.file) != ours {
                return Err(format!(
                    "the peer on {} is not running sp-rs's libnanomsg ({}): it reports {info:?}",
                    dir.display(),
                    ours.display()
                ));
            }
            Ok(())
        }
    }
}

/// A running peer process.
#[derive(Debug)]
pub struct Peer {
    lib: Lib,
    on_capi: bool,
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
    recv_timeout_ms: i32,
    /// What the peer reported about itself at start-up.
    pub info: PeerInfo,
}

impl Peer {
    /// Starts the peer for `lib` on the real C library and checks that it really runs
    /// that library: the library must name itself, its functions must come from
    /// `lib<name>.so`, and it must not be sp-rs's drop-in.
    pub async fn start(lib: Lib, exes: &PeerExes) -> Result<Self, String> {
        Self::start_on(lib, exes, &Loader::System).await
    }

    /// [`Peer::start`] with `loader` choosing the `libnanomsg.so.5` (only `nanomsg-peer`
    /// can run on [`Loader::OurCapi`]). On our library the peer must report
    /// `nn_sp_rs_version` and the very file of `loader`'s directory.
    pub async fn start_on(lib: Lib, exes: &PeerExes, loader: &Loader) -> Result<Self, String> {
        let exe = exes.get(lib);
        let mut command = tokio::process::Command::new(exe);
        if let Loader::OurCapi(dir) = loader {
            if lib != Lib::Nanomsg {
                return Err(format!("{} cannot run on libnanomsg.so.5", lib.name()));
            }
            command.env("LD_LIBRARY_PATH", dir);
        }
        let mut child = command
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
            on_capi: matches!(loader, Loader::OurCapi(_)),
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            recv_timeout_ms: crate::peer::DEFAULT_TIMEOUT_MS,
            info: PeerInfo {
                lib: String::new(),
                version: String::new(),
                file: String::new(),
                sp_rs: None,
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
        let sp_rs = peer
            .call("sp-rs-version")
            .await
            .map_err(|e| format!("the {} peer: sp-rs-version: {e}", lib.name()))?;
        let mut parts = answer.splitn(3, ' ');
        peer.info = PeerInfo {
            lib: parts.next().unwrap_or_default().to_owned(),
            version: parts.next().unwrap_or_default().to_owned(),
            file: parts.next().unwrap_or_default().to_owned(),
            sp_rs: (sp_rs != "-").then_some(sp_rs),
        };
        check_loaded(lib, loader, &peer.info)?;
        Ok(peer)
    }

    /// `sp-capi` for a peer on our library, else the library's name.
    pub fn name(&self) -> &'static str {
        if self.on_capi {
            "sp-capi"
        } else {
            self.lib.name()
        }
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

    /// A C socket of type `t` in a new peer process on the real library.
    pub async fn c(lib: Lib, t: SocketType, exes: &PeerExes) -> Result<Self, String> {
        Self::c_on(lib, t, exes, &Loader::System).await
    }

    /// A C socket of type `t` in a new peer process on `loader`'s library.
    pub async fn c_on(
        lib: Lib,
        t: SocketType,
        exes: &PeerExes,
        loader: &Loader,
    ) -> Result<Self, String> {
        let mut p = Peer::start_on(lib, exes, loader).await?;
        p.open(t)
            .await
            .map_err(|e| format!("{} cannot open {t}: {e}", p.name()))?;
        Ok(Self::C(Box::new(p)))
    }

    /// `ours` or the library name.
    pub fn who(&self) -> &'static str {
        match self {
            Self::Ours(_) => "ours",
            Self::C(p) => p.name(),
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
                .map_err(|e| format!("{}: listen {url}: {e}", p.name())),
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
                .map_err(|e| format!("{}: dial {url}: {e}", p.name())),
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
                .map_err(|e| format!("{}: send {} bytes: {e}", p.name(), body.len())),
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
                    Err(e) => Err(format!("{}: recv: {e}", p.name())),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn info(file: &str, sp_rs: Option<&str>) -> PeerInfo {
        PeerInfo {
            lib: "nanomsg".to_owned(),
            version: "abi-5.1.0".to_owned(),
            file: file.to_owned(),
            sp_rs: sp_rs.map(str::to_owned),
        }
    }

    #[test]
    fn a_real_peer_on_our_library_is_refused() {
        let real = info("/usr/lib/libnanomsg.so.5.1.0", None);
        assert_eq!(check_loaded(Lib::Nanomsg, &Loader::System, &real), Ok(()));
        let ours = info("/usr/lib/libnanomsg.so.5.1.0", Some("sp-rs sp-capi 0.1.0"));
        let err = check_loaded(Lib::Nanomsg, &Loader::System, &ours).unwrap_err();
        assert!(err.contains("runs sp-rs's drop-in"), "{err}");
        let nng = PeerInfo {
            lib: "nng".to_owned(),
            ..real
        };
        assert!(check_loaded(Lib::Nanomsg, &Loader::System, &nng).is_err());
    }

    #[test]
    fn a_capi_peer_must_load_the_file_it_was_given() {
        let dir = std::env::temp_dir().join(format!("sp-harness-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("libnanomsg.so");
        std::fs::write(&target, b"").unwrap();
        let served = capi_lib_dir(&target, "harness-check").unwrap();
        let file = std::fs::canonicalize(&target)
            .unwrap()
            .display()
            .to_string();
        let loader = Loader::OurCapi(served.clone());
        let good = info(&file, Some("sp-rs sp-capi 0.1.0"));
        assert_eq!(check_loaded(Lib::Nanomsg, &loader, &good), Ok(()));
        // The right file without our symbol, or our symbol from another file: refused.
        for bad in [
            info(&file, None),
            info("/usr/lib/libnanomsg.so.5.1.0", Some("sp-rs sp-capi 0.1.0")),
        ] {
            let err = check_loaded(Lib::Nanomsg, &loader, &bad).unwrap_err();
            assert!(err.contains("is not running sp-rs's libnanomsg"), "{err}");
        }
        let _ = std::fs::remove_dir_all(served);
        let _ = std::fs::remove_dir_all(dir);
    }
}
