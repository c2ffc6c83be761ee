//! The socket set-up and the send/receive loops of nanocat's `main`.

use std::io::Write;

use bytes::Bytes;
use sp_net::transport::tls::TlsConfig;
use sp_net::url::UrlError;
use sp_net::{Error, Socket, SocketType};
use tokio::time::Instant;

use crate::args::{strerror, Config};
use crate::format::Format;

/// A failure that ends the program: the message for standard error (empty: print
/// nothing) and the exit status.
#[derive(Debug)]
pub(crate) struct Fatal {
    pub(crate) message: String,
    pub(crate) code: i32,
}

/// nanocat's `nn_assert_errno`: `what: reason`, exit status 3. The reasons are the C
/// library's (and nanomsg's) texts for the errno nanocat would have seen; a bad URL
/// adds what exactly is wrong with it.
fn fatal(what: &str, e: &Error) -> Fatal {
    let reason = match e {
        Error::Closed => "Bad file descriptor".to_owned(),
        // nanomsg reports a survey's end as ETIMEDOUT too.
        Error::TimedOut | Error::SurveyExpired => "Connection timed out".to_owned(),
        Error::WrongState => "Operation cannot be performed in this state".to_owned(),
        Error::NotSupported => "Operation not supported".to_owned(),
        Error::WouldBlock => "Resource temporarily unavailable".to_owned(),
        Error::Url(u @ UrlError::UnknownScheme(_)) => format!("Protocol not supported ({u})"),
        Error::Url(u) => format!("Invalid argument ({u})"),
        // nanocat's text is the errno's alone (its `what` says bind or connect).
        Error::Io(io) | Error::Listen { source: io, .. } | Error::Dial { source: io, .. } => {
            strerror(io)
        }
        other => other.to_string(),
    };
    Fatal {
        message: format!("{what}: {reason}"),
        code: 3,
    }
}

/// Echoes received messages to standard output in the chosen format.
struct Echo {
    format: Format,
    buf: Vec<u8>,
}

impl Echo {
    fn print(&mut self, body: &[u8]) -> Result<(), Fatal> {
        if self.format == Format::No {
            return Ok(());
        }
        self.buf.clear();
        self.format.render(body, &mut self.buf);
        let mut out = std::io::stdout().lock();
        // A closed standard output (`spcat ... | head -1`) ends the program quietly
        // with the status a shell reports for nanocat killed by SIGPIPE.
        out.write_all(&self.buf)
            .and_then(|()| out.flush())
            .map_err(|_| Fatal {
                message: String::new(),
                code: 141,
            })
    }
}

/// Runs the command line's socket until its loop ends.
pub(crate) async fn run(cfg: Config) -> Result<(), Fatal> {
    let sock = Socket::new(cfg.socket_type);
    let mut o = sock.options();
    o.send_timeout = cfg.send_timeout;
    o.recv_timeout = cfg.recv_timeout;
    if let Some(max) = cfg.recv_max {
        o.max_recv_size = max;
    }
    sock.set_options(o);
    if cfg.socket_type == SocketType::Sub {
        for prefix in &cfg.subscriptions {
            sock.subscribe(prefix)
                .map_err(|e| fatal("Can't subscribe", &e))?;
        }
    }
    let uses_tls = cfg
        .binds
        .iter()
        .chain(&cfg.connects)
        .any(|u| u.to_ascii_lowercase().starts_with("tls+tcp"));
    if uses_tls || cfg.insecure || cfg.cert.is_some() || cfg.cacert.is_some() {
        let tls = TlsConfig::from_pem(
            cfg.cert.as_deref(),
            cfg.key.as_deref(),
            cfg.cacert.as_deref(),
            cfg.insecure,
        )
        .map_err(|e| Fatal {
            message: format!("Unable to configure TLS: {e}"),
            code: 1,
        })?;
        sock.set_tls(tls);
    }
    let mut endpoints = Vec::new();
    for url in &cfg.binds {
        let ep = sock
            .listen(url)
            .await
            .map_err(|e| fatal("Can't bind", &e))?;
        if cfg.verbose > 0 {
            eprintln!("Listening at: {}", ep.url());
        }
        endpoints.push(ep);
    }
    for url in &cfg.connects {
        let ep = sock
            .dial(url)
            .await
            .map_err(|e| fatal("Can't connect", &e))?;
        if cfg.verbose > 0 {
            eprintln!("Connected to: {}", ep.url());
        }
        endpoints.push(ep);
    }
    if !cfg.delay.is_zero() {
        tokio::time::sleep(cfg.delay).await;
    }
    let mut echo = Echo {
        format: cfg.format,
        buf: Vec::new(),
    };
    let data = cfg.data.clone().map(Bytes::from);
    let result = match (cfg.socket_type, data) {
        (SocketType::Pub | SocketType::Push, data) => {
            send_loop(&sock, &cfg, data.unwrap_or_default()).await
        }
        (SocketType::Req | SocketType::Surveyor, data) => {
            rw_loop(&sock, &cfg, &mut echo, data.unwrap_or_default(), true).await
        }
        (SocketType::Bus | SocketType::Pair0 | SocketType::Pair1, Some(data)) => {
            rw_loop(&sock, &cfg, &mut echo, data, false).await
        }
        (SocketType::Rep | SocketType::Respondent, Some(data)) => {
            resp_loop(&sock, &cfg, &mut echo, data).await
        }
        _ => recv_loop(&sock, &mut echo, cfg.count).await,
    };
    // Flushes what was accepted for sending (within the linger time), then stops.
    sock.close().await;
    drop(endpoints);
    result
}

/// One send; a full queue is reported and skipped, as nanocat does for EAGAIN.
async fn send_one(sock: &Socket, data: &Bytes) -> Result<(), Fatal> {
    match sock.send(data.clone()).await {
        Ok(()) => Ok(()),
        Err(Error::WouldBlock) => {
            eprintln!("Message not sent (EAGAIN)");
            Ok(())
        }
        Err(e) => Err(fatal("Can't send", &e)),
    }
}

/// PUB, PUSH: send once, or every interval; `--count` messages at most.
async fn send_loop(sock: &Socket, cfg: &Config, data: Bytes) -> Result<(), Fatal> {
    let mut sent = 0u64;
    loop {
        let start = Instant::now();
        send_one(sock, &data).await?;
        sent += 1;
        if cfg.count > 0 && sent >= cfg.count {
            return Ok(());
        }
        match cfg.interval {
            Some(interval) => tokio::time::sleep_until(start + interval).await,
            // nngcat: with a count and no interval, the messages go back to back.
            None if cfg.count > 0 => {}
            None => return Ok(()),
        }
    }
}

/// Receive and print until a timeout or the end of a request or survey ("no more
/// messages possible"), or `limit` messages (0: no limit).
async fn recv_loop(sock: &Socket, echo: &mut Echo, limit: u64) -> Result<(), Fatal> {
    let mut received = 0u64;
    while limit == 0 || received < limit {
        match sock.recv().await {
            Ok(m) => {
                echo.print(&m.body)?;
                received += 1;
            }
            Err(Error::WouldBlock) => {}
            Err(Error::TimedOut | Error::SurveyExpired | Error::WrongState) => return Ok(()),
            Err(e) => return Err(fatal("Can't recv", &e)),
        }
    }
    Ok(())
}

/// REQ, SURVEYOR, and BUS/PAIR with data: send, then print what arrives until the next
/// interval. Without an interval, send once and receive until the end (REQ: the reply;
/// SURVEYOR: the deadline); `--count` then counts rounds for REQ/SURVEYOR and received
/// messages for BUS/PAIR. With an interval it counts rounds.
async fn rw_loop(
    sock: &Socket,
    cfg: &Config,
    echo: &mut Echo,
    data: Bytes,
    request: bool,
) -> Result<(), Fatal> {
    let mut rounds = 0u64;
    loop {
        let start = Instant::now();
        send_one(sock, &data).await?;
        rounds += 1;
        let Some(interval) = cfg.interval else {
            if !(request && cfg.count > 0) {
                return recv_loop(sock, echo, cfg.count).await;
            }
            recv_loop(sock, echo, 0).await?;
            if rounds >= cfg.count {
                return Ok(());
            }
            continue;
        };
        let next = start + interval;
        loop {
            let now = Instant::now();
            if now >= next {
                break;
            }
            let mut wait = next - now;
            if let Some(t) = cfg.recv_timeout {
                wait = wait.min(t);
            }
            match tokio::time::timeout(wait, sock.recv()).await {
                Ok(Ok(m)) => echo.print(&m.body)?,
                Ok(Err(Error::WouldBlock)) => {}
                // Timed out, or nothing more can come this round: wait for the next.
                Ok(Err(Error::TimedOut | Error::SurveyExpired | Error::WrongState)) | Err(_) => {
                    tokio::time::sleep_until(next).await;
                }
                Ok(Err(e)) => return Err(fatal("Can't recv", &e)),
            }
        }
        if cfg.count > 0 && rounds >= cfg.count {
            return Ok(());
        }
    }
}

/// REP, RESPONDENT with data: receive, print, answer with the data; `--count` answers.
async fn resp_loop(sock: &Socket, cfg: &Config, echo: &mut Echo, data: Bytes) -> Result<(), Fatal> {
    let mut answered = 0u64;
    loop {
        let m = match sock.recv().await {
            Ok(m) => m,
            Err(Error::WouldBlock) => continue,
            Err(e) => return Err(fatal("Can't recv", &e)),
        };
        echo.print(&m.body)?;
        send_one(sock, &data).await?;
        answered += 1;
        if cfg.count > 0 && answered >= cfg.count {
            return Ok(());
        }
    }
}
