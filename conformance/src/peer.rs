//! The peer side of the command language: what `nanomsg-peer` and `nng-peer` run.
//!
//! A peer holds up to two sockets, in slots 0 and 1 (`select` picks the slot the other
//! commands act on; slot 0 at start). It reads one command per line on stdin and answers
//! each with exactly one line on stdout, so a test can script it step by step:
//!
//! | Command | Answer | Meaning |
//! |---|---|---|
//! | `version` | `ok <lib> <version> <file>` | which library really runs, with the shared object it was loaded from |
//! | `sp-rs-version` | `ok <text>` or `ok -` | the text of `nn_sp_rs_version` when the loaded library exports it (sp-rs's drop-in `libnanomsg.so.5`, sp-capi), `-` otherwise (the real library) |
//! | `open <type>` | `ok` | opens a cooked socket in the selected slot: `pair0 pair1 req rep push pull pub sub surveyor respondent bus`; receive and send timeouts start at 10 s so nothing blocks forever |
//! | `open-poly` | `ok` | opens a cooked PAIR v1 socket in polyamorous mode (`nng_pair1_open_poly`: NNG 1.5.2 refuses the `pair1:polyamorous` option) in the selected slot, with the timeouts of `open` (NNG only) |
//! | `open-raw <type>` | `ok` | opens a raw socket (`AF_SP_RAW`, `nng_*_open_raw`) in the selected slot, with no timeouts (a device must not stop) |
//! | `select <0\|1>` | `ok` | picks the slot the following commands act on |
//! | `has-tls` | `ok yes` or `ok no` | whether the library was built with TLS |
//! | `device` | `ok` | runs the library's device (`nn_device`, `nng_device`) between the raw sockets of slots 0 and 1 on a thread of its own, until the process ends |
//! | `reflect` | `ok` | runs the library's device with one socket, the raw socket of slot 0 (`nn_device(s, -1)`, `nng_device(s, none)`), which sends what it receives back out (a BUS reflector), on a thread of its own |
//! | `listen <url>` | `ok <url>` | binds; a TCP port 0 is replaced by a free port, and the URL actually bound is returned |
//! | `dial <url>` | `ok` | connects in the background (reconnecting as the library does) |
//! | `opt <name> <value>` | `ok` | `recv-timeout`, `send-timeout`, `survey-deadline`, `resend-ivl`, `reconnect-ivl` (ms); `recv-max-size` (bytes, -1 = unlimited); `subscribe`, `unsubscribe` (hex topic, `-` = empty); `sndprio` (1..16, endpoints created afterwards; nanomsg only); `tls-cert-key-file`, `tls-ca-file` (a PEM path used by later `tls+tcp://` and `wss://` listeners and dialers; NNG only) |
//! | `send <hex>` | `ok` | sends one message (`-` = empty body) |
//! | `recv` | `msg <hex>` | receives one message |
//! | `close` | `ok` | closes the socket of the selected slot (all sockets at exit) |
//! | `ctx-open <n>` | `ok` | opens `n` contexts (numbered from 0) on the selected socket, replacing any earlier ones (NNG only) |
//! | `ctx-send <i> <hex>` | `ok` | sends one message on context `i`, waiting up to 10 s |
//! | `ctx-recv <i>` | `msg <hex>` | receives one message on context `i`, waiting up to 10 s |
//! | `quit` | (none) | exits |
//!
//! Any command can answer `err <NAME> <text>`, where NAME is the portable error name
//! (`ETIMEDOUT`, `EFSM`, `EAGAIN`, `EADDRINUSE`, `ENOTSUP`, `EBADF`, `EINVAL`, ...) and
//! text is the library's own message. `err USAGE ...` reports a malformed command.

use std::io::{BufRead, Write};

use sp_proto::SocketType;

use crate::hex;

/// An error to report on the command line: a portable name and the library's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerError {
    /// Portable error name (`ETIMEDOUT`, `EFSM`, ...).
    pub name: String,
    /// Human-readable text from the library.
    pub text: String,
}

impl PeerError {
    /// A new error.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// A socket option the command language can set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerOption {
    /// Receive timeout in ms (-1 = forever).
    RecvTimeout(i32),
    /// Send timeout in ms (-1 = forever).
    SendTimeout(i32),
    /// SURVEYOR deadline in ms.
    SurveyDeadline(i32),
    /// REQ resend interval in ms.
    ResendInterval(i32),
    /// Reconnect interval in ms.
    ReconnectInterval(i32),
    /// Largest message accepted, in bytes (-1 = unlimited).
    RecvMaxSize(i64),
    /// SUB: add a subscription.
    Subscribe(Vec<u8>),
    /// SUB: remove a subscription.
    Unsubscribe(Vec<u8>),
    /// Send priority of endpoints created afterwards (nanomsg `NN_SNDPRIO`, 1..16).
    SendPriority(i32),
    /// PEM file with this side's certificate and key, for later TLS endpoints.
    TlsCertKeyFile(String),
    /// PEM file of trusted CA certificates, for later TLS dialers.
    TlsCaFile(String),
}

/// What a C library must provide to be driven by [`serve`].
pub trait Backend {
    /// `<lib> <version> <file>`: the library's own name for itself, its version as the
    /// library reports it, and the shared object its functions come from.
    fn describe(&self) -> Result<String, PeerError>;
    /// Opens a socket in the selected slot (closing any previous one there): cooked, or
    /// raw if `raw`.
    fn open(&mut self, socket_type: SocketType, raw: bool) -> Result<(), PeerError>;
    /// Opens a cooked PAIR v1 socket in polyamorous mode in the selected slot.
    fn open_poly(&mut self) -> Result<(), PeerError> {
        Err(PeerError::new(
            "ENOTSUP",
            "this library has no PAIR v1 polyamorous mode",
        ))
    }
    /// Makes `slot` (0 or 1) the socket the other commands act on.
    fn select(&mut self, slot: usize) -> Result<(), PeerError>;
    /// Starts the library's device between the raw sockets of slots 0 and 1, on a thread.
    fn device(&mut self) -> Result<(), PeerError>;
    /// Starts the library's device on the raw socket of slot 0 alone (a reflector), on a
    /// thread.
    fn reflect(&mut self) -> Result<(), PeerError>;
    /// Binds to `url` (never with port 0: [`serve`] picks the port).
    fn listen(&mut self, url: &str) -> Result<(), PeerError>;
    /// Connects to `url` without waiting for the connection.
    fn dial(&mut self, url: &str) -> Result<(), PeerError>;
    /// Sets an option.
    fn set_option(&mut self, option: &PeerOption) -> Result<(), PeerError>;
    /// Sends one message.
    fn send(&mut self, body: &[u8]) -> Result<(), PeerError>;
    /// Receives one message.
    fn recv(&mut self) -> Result<Vec<u8>, PeerError>;
    /// Closes the socket of the selected slot.
    fn close(&mut self) -> Result<(), PeerError>;
    /// Opens `n` contexts on the selected socket (NNG's `nng_ctx`), numbered from 0.
    fn ctx_open(&mut self, _n: usize) -> Result<(), PeerError> {
        Err(PeerError::new("ENOTSUP", "this library has no contexts"))
    }
    /// Sends on context `i`.
    fn ctx_send(&mut self, _i: usize, _body: &[u8]) -> Result<(), PeerError> {
        Err(PeerError::new("ENOTSUP", "this library has no contexts"))
    }
    /// Receives on context `i`.
    fn ctx_recv(&mut self, _i: usize) -> Result<Vec<u8>, PeerError> {
        Err(PeerError::new("ENOTSUP", "this library has no contexts"))
    }
    /// The text of `nn_sp_rs_version` when the loaded library is sp-rs's drop-in
    /// `libnanomsg.so.5` (sp-capi); `None` for the real C libraries.
    fn sp_rs_version(&self) -> Option<String> {
        None
    }
    /// Whether the library was built with TLS.
    fn has_tls(&self) -> bool {
        false
    }
    /// Closes every socket (at exit).
    fn close_all(&mut self) {
        for slot in [1, 0] {
            if self.select(slot).is_ok() {
                let _ = self.close();
            }
        }
    }
}

/// The two socket slots (0 and 1) of a C library's peer: which one the commands act on,
/// and whether a device forwards between them. Both C peers keep their sockets here.
#[derive(Debug)]
pub struct Slots<S> {
    sockets: [Option<S>; 2],
    current: usize,
    device: bool,
}

impl<S> Default for Slots<S> {
    fn default() -> Self {
        Self {
            sockets: [None, None],
            current: 0,
            device: false,
        }
    }
}

impl<S: Copy> Slots<S> {
    /// The selected slot's socket.
    pub fn socket(&self) -> Result<S, PeerError> {
        self.sockets[self.current]
            .ok_or_else(|| PeerError::new("EBADF", "no socket: send `open` first"))
    }

    /// Puts `s` in the selected slot.
    pub fn set(&mut self, s: S) {
        self.sockets[self.current] = Some(s);
    }

    /// Empties the selected slot, returning its socket.
    pub fn take(&mut self) -> Option<S> {
        self.sockets[self.current].take()
    }

    /// [`Backend::select`].
    pub fn select(&mut self, slot: usize) -> Result<(), PeerError> {
        if slot > 1 {
            return Err(PeerError::new("EINVAL", "slots are 0 and 1"));
        }
        self.current = slot;
        Ok(())
    }

    /// The sockets of slots 0 and 1 for a device, which from now on owns them (see
    /// [`Slots::close_all`]).
    pub fn device(&mut self) -> Result<(S, S), PeerError> {
        let (Some(a), Some(b)) = (self.sockets[0], self.sockets[1]) else {
            return Err(PeerError::new(
                "EBADF",
                "a device needs sockets in slots 0 and 1",
            ));
        };
        self.device = true;
        Ok((a, b))
    }

    /// The socket of slot 0 for a reflector, which from now on owns it.
    pub fn reflector(&mut self) -> Result<S, PeerError> {
        let s = self.sockets[0]
            .ok_or_else(|| PeerError::new("EBADF", "a reflector needs a socket in slot 0"))?;
        self.device = true;
        Ok(s)
    }

    /// [`Backend::close_all`]: closes slot 1 then slot 0 with `close`, unless a device
    /// thread may still use the sockets (they are then left to the process exit).
    pub fn close_all(&mut self, mut close: impl FnMut(S)) {
        if self.device {
            return;
        }
        for slot in [1, 0] {
            self.current = slot;
            if let Some(s) = self.take() {
                close(s);
            }
        }
    }
}

/// The timeout every socket starts with, so that a peer never blocks forever.
pub const DEFAULT_TIMEOUT_MS: i32 = 10_000;

fn usage(text: impl Into<String>) -> PeerError {
    PeerError::new("USAGE", text)
}

/// The timeouts every cooked socket starts with, so nothing blocks forever.
fn cooked_timeouts(backend: &mut dyn Backend) -> Result<String, PeerError> {
    backend.set_option(&PeerOption::RecvTimeout(DEFAULT_TIMEOUT_MS))?;
    backend.set_option(&PeerOption::SendTimeout(DEFAULT_TIMEOUT_MS))?;
    Ok("ok".to_owned())
}

fn parse_type(name: &str) -> Result<SocketType, PeerError> {
    let t = match name {
        "pair0" | "pair" => SocketType::Pair0,
        "pair1" => SocketType::Pair1,
        "req" => SocketType::Req,
        "rep" => SocketType::Rep,
        "push" => SocketType::Push,
        "pull" => SocketType::Pull,
        "pub" => SocketType::Pub,
        "sub" => SocketType::Sub,
        "surveyor" => SocketType::Surveyor,
        "respondent" => SocketType::Respondent,
        "bus" => SocketType::Bus,
        other => return Err(usage(format!("unknown socket type {other:?}"))),
    };
    Ok(t)
}

fn parse_option(name: &str, value: &str) -> Result<PeerOption, PeerError> {
    let ms = || {
        value
            .parse::<i32>()
            .map_err(|_| usage(format!("{name} needs a number of ms, not {value:?}")))
    };
    let topic = || hex::decode(value).ok_or_else(|| usage(format!("bad hex topic {value:?}")));
    Ok(match name {
        "recv-timeout" => PeerOption::RecvTimeout(ms()?),
        "send-timeout" => PeerOption::SendTimeout(ms()?),
        "survey-deadline" => PeerOption::SurveyDeadline(ms()?),
        "resend-ivl" => PeerOption::ResendInterval(ms()?),
        "reconnect-ivl" => PeerOption::ReconnectInterval(ms()?),
        "recv-max-size" => PeerOption::RecvMaxSize(
            value
                .parse()
                .map_err(|_| usage(format!("bad size {value:?}")))?,
        ),
        "subscribe" => PeerOption::Subscribe(topic()?),
        "unsubscribe" => PeerOption::Unsubscribe(topic()?),
        "sndprio" => PeerOption::SendPriority(ms()?),
        "tls-cert-key-file" => PeerOption::TlsCertKeyFile(value.to_owned()),
        "tls-ca-file" => PeerOption::TlsCaFile(value.to_owned()),
        other => return Err(usage(format!("unknown option {other:?}"))),
    })
}

/// Splits `scheme://host:0/rest` into the parts around a port 0, if it has one.
fn port_zero(url: &str) -> Option<(&str, &str)> {
    let after_scheme = url.find("://")? + 3;
    let rest = &url[after_scheme..];
    let end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..end];
    let colon = authority.rfind(':')?;
    if &authority[colon + 1..] != "0" {
        return None;
    }
    let split = after_scheme + colon + 1;
    Some((&url[..split], &url[split + 1..]))
}

/// Binds `url`; a port 0 is replaced by a port the kernel just handed out (a few tries
/// in case another process takes it in between).
fn listen(backend: &mut dyn Backend, url: &str) -> Result<String, PeerError> {
    let Some((head, tail)) = port_zero(url) else {
        backend.listen(url)?;
        return Ok(url.to_owned());
    };
    let mut last = usage("no free port");
    for _ in 0..10 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| PeerError::new("EIO", e.to_string()))?
            .port();
        let concrete = format!("{head}{port}{tail}");
        match backend.listen(&concrete) {
            Ok(()) => return Ok(concrete),
            Err(e) if e.name == "EADDRINUSE" => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Runs one command line; `None` for `quit`.
pub fn execute(backend: &mut dyn Backend, line: &str) -> Option<Result<String, PeerError>> {
    let line = line.trim();
    let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
    let arg = arg.trim();
    let result = match cmd {
        "quit" => return None,
        "version" => backend.describe().map(|d| format!("ok {d}")),
        "sp-rs-version" => Ok(format!(
            "ok {}",
            backend.sp_rs_version().unwrap_or_else(|| "-".to_owned())
        )),
        "open" => parse_type(arg).and_then(|t| {
            backend.open(t, false)?;
            cooked_timeouts(backend)
        }),
        "open-poly" => backend.open_poly().and_then(|()| cooked_timeouts(backend)),
        "open-raw" => parse_type(arg).and_then(|t| {
            backend.open(t, true)?;
            backend.set_option(&PeerOption::RecvTimeout(-1))?;
            backend.set_option(&PeerOption::SendTimeout(-1))?;
            Ok("ok".to_owned())
        }),
        "select" => match arg {
            "0" => backend.select(0),
            "1" => backend.select(1),
            other => Err(usage(format!("select 0 or 1, not {other:?}"))),
        }
        .map(|()| "ok".to_owned()),
        "has-tls" => Ok(if backend.has_tls() { "ok yes" } else { "ok no" }.to_owned()),
        "device" => backend.device().map(|()| "ok".to_owned()),
        "reflect" => backend.reflect().map(|()| "ok".to_owned()),
        "listen" => listen(backend, arg).map(|u| format!("ok {u}")),
        "dial" => backend.dial(arg).map(|()| "ok".to_owned()),
        "opt" => {
            let (name, value) = arg.split_once(' ').unwrap_or((arg, ""));
            parse_option(name, value.trim())
                .and_then(|o| backend.set_option(&o))
                .map(|()| "ok".to_owned())
        }
        "send" => match hex::decode(arg) {
            Some(body) => backend.send(&body).map(|()| "ok".to_owned()),
            None => Err(usage("send needs a hex body")),
        },
        "recv" => backend.recv().map(|b| format!("msg {}", hex::encode(&b))),
        "close" => backend.close().map(|()| "ok".to_owned()),
        "ctx-open" => match arg.parse() {
            Ok(n) => backend.ctx_open(n).map(|()| "ok".to_owned()),
            Err(_) => Err(usage("ctx-open needs a count")),
        },
        "ctx-send" => match arg
            .split_once(' ')
            .and_then(|(i, h)| Some((i.parse().ok()?, hex::decode(h)?)))
        {
            Some((i, body)) => backend.ctx_send(i, &body).map(|()| "ok".to_owned()),
            None => Err(usage("ctx-send needs a context number and a hex body")),
        },
        "ctx-recv" => match arg.parse() {
            Ok(i) => backend
                .ctx_recv(i)
                .map(|b| format!("msg {}", hex::encode(&b))),
            Err(_) => Err(usage("ctx-recv needs a context number")),
        },
        other => Err(usage(format!("unknown command {other:?}"))),
    };
    Some(result)
}

/// Reads commands from stdin and answers on stdout until `quit` or end of input.
pub fn serve(backend: &mut dyn Backend) {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match execute(backend, &line) {
            None => break,
            Some(Ok(s)) => s,
            Some(Err(e)) => format!("err {} {}", e.name, e.text.replace('\n', " ")),
        };
        if writeln!(stdout, "{answer}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
    backend.close_all();
}

/// What a peer built without its library does: says how to install it and exits 1.
pub fn missing_library(lib: &str, deb: &str) -> ! {
    eprintln!(
        "error: this peer was built without lib{lib}, which was not installed. \
         Install it with `sudo apt-get install {deb}` (scripts/test.sh does this), \
         then rebuild (`cargo build -p conformance`)."
    );
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_is_found_only_in_the_port() {
        assert_eq!(
            port_zero("tcp://127.0.0.1:0"),
            Some(("tcp://127.0.0.1:", ""))
        );
        assert_eq!(
            port_zero("ws://127.0.0.1:0/path"),
            Some(("ws://127.0.0.1:", "/path"))
        );
        assert_eq!(port_zero("tcp://127.0.0.1:5000"), None);
        assert_eq!(port_zero("ipc:///tmp/x:0"), None);
        assert_eq!(port_zero("ipc:///tmp/a.sock"), None);
    }

    #[test]
    fn options_parse() {
        assert_eq!(
            parse_option("recv-timeout", "250").unwrap(),
            PeerOption::RecvTimeout(250)
        );
        assert_eq!(
            parse_option("subscribe", "-").unwrap(),
            PeerOption::Subscribe(vec![])
        );
        assert_eq!(parse_option("nope", "1").unwrap_err().name, "USAGE");
        assert_eq!(parse_option("send-timeout", "x").unwrap_err().name, "USAGE");
    }
}
