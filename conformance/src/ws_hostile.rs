//! WebSocket upgrades and frames no SP peer sends, towards a C PULL listening on ws and
//! towards ours: an upgrade without `Sec-WebSocket-Key` (400 expected), a path no one
//! serves (404 where the listener routes by path), and a text frame after a good
//! upgrade (SP messages travel in binary frames only).

use std::time::Duration;

use sp_net::SocketType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Lib, PeerExes, Side};

/// How long a raw read waits for the listener's answer.
const ANSWER_WAIT: Duration = Duration::from_secs(2);

/// An upgrade request from a PUSH to a PULL listener (the token names the listener).
fn request(port: u16, path: &str, with_key: bool) -> Vec<u8> {
    let key = if with_key {
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    } else {
        ""
    };
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\n{key}Sec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: pull.sp.nanomsg.org\r\n\r\n"
    )
    .into_bytes()
}

/// Sends `req` and returns the status line (up to 3 words), or what happened instead.
/// Sends `req` to the listener on `port`; its status code (or `no answer`), with the
/// stream.
async fn status(port: u16, req: &[u8]) -> Result<(String, TcpStream), String> {
    answer(port, req).await.map(|(code, _, s)| (code, s))
}

/// Sends `req` to the listener on `port`; its status code (or `no answer`), the head of
/// its answer as far as it came (up to the blank line, within [`ANSWER_WAIT`] per
/// read), and the stream.
pub(crate) async fn answer(port: u16, req: &[u8]) -> Result<(String, String, TcpStream), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(req).await.map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(ANSWER_WAIT, s.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let code = match text.lines().next() {
        None => "no answer".to_owned(),
        Some(line) => line.split(' ').nth(1).unwrap_or(line).to_owned(),
    };
    Ok((code, text, s))
}

async fn text_frame(port: u16, path: &str, pull: &mut Side) -> Result<String, String> {
    let (code, mut s) = status(port, &request(port, path, true)).await?;
    if code != "101" {
        return Err(format!("the good upgrade got {code}"));
    }
    let payload = b"text";
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    s.write_all(&frame).await.map_err(|e| e.to_string())?;
    if let Some(m) = pull.recv_within(Duration::from_secs(1)).await? {
        return Ok(format!("delivered {:?}", String::from_utf8_lossy(&m)));
    }
    let mut buf = [0u8; 256];
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(ANSWER_WAIT, s.read(&mut buf)).await {
            Err(_) => return Ok("ignored".to_owned()),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
    // A close frame, if one came after the HTTP head: 0x88, length, 2-byte code.
    let body = seen
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(&seen[..], |i| &seen[i + 4..]);
    Ok(match body {
        [0x88, len, hi, lo, ..] if *len >= 2 => {
            format!("closed {}", u16::from(*hi) << 8 | u16::from(*lo))
        }
        _ => "closed".to_owned(),
    })
}

/// What one listener did with the three inputs: `(no key, wrong path, text frame)`.
async fn probe(pull: &mut Side, path: &str) -> Result<[String; 3], String> {
    let url = pull.listen(&format!("ws://127.0.0.1:0{path}")).await?;
    let port: u16 = url
        .trim_start_matches("ws://127.0.0.1:")
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("no port in {url}"))?;
    let no_key = status(
        port,
        &request(port, if path.is_empty() { "/" } else { path }, false),
    )
    .await?
    .0;
    let wrong_path = status(port, &request(port, "/elsewhere", true)).await?.0;
    let text = text_frame(port, if path.is_empty() { "/" } else { path }, pull).await?;
    Ok([no_key, wrong_path, text])
}

/// The expected answers `(no key, wrong path, text frame)` of `who` (None = ours).
const fn expected(who: Option<Lib>) -> [&'static str; 3] {
    match who {
        // libnanomsg serves every path (its nn_bind refuses one), and delivers a text
        // frame as a message (it can send text frames too: NN_WS_MSG_TYPE); NNG and we
        // close with 1003 (unsupported data).
        Some(Lib::Nanomsg) => ["400", "101", "delivered"],
        Some(Lib::Nng) => ["400", "404", "closed"],
        None => ["400", "404", "closed"],
    }
}

/// The check, against `lib` and ours.
pub async fn check(lib: Lib, exes: &PeerExes) -> Result<String, String> {
    let mut notes = Vec::new();
    for who in [Some(lib), None] {
        let mut pull = match who {
            Some(l) => Side::c(l, SocketType::Pull, exes).await?,
            None => Side::ours(SocketType::Pull),
        };
        // libnanomsg refuses a path in its ws listener.
        let path = if who == Some(Lib::Nanomsg) { "" } else { "/sp" };
        let got = probe(&mut pull, path).await;
        let name = pull.who();
        pull.close().await;
        let got = got.map_err(|e| format!("{name}: {e}"))?;
        let want = expected(who);
        let ok = got
            .iter()
            .zip(want)
            .all(|(g, w)| g == w || g.starts_with(&format!("{w} ")));
        let line = format!(
            "{name}: no key → {}, wrong path → {}, text frame → {}",
            got[0], got[1], got[2]
        );
        if !ok {
            return Err(format!("{line}; want {want:?}"));
        }
        notes.push(line);
    }
    Ok(notes.join("; "))
}
