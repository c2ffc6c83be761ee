//! The test vectors of `spec/vectors/` that a C peer can observe, replayed against the
//! real libraries from a raw socket (as `spec/vectors/README.md` says):
//!
//! - `handshake.json`, kind `header`: a C listener of the vector's socket type sends
//!   exactly the vector's 8 bytes, and keeps a connection that sends its peer's vector.
//! - kind `header-error`: the vector's bytes, sent to a C listener of type `local` (and,
//!   for `truncated`, followed by the end of the stream), make it close the connection;
//!   libnanomsg keeps one whose reserved bytes are not zero (it does not check them:
//!   `TCP-R3` in spec/sp-overview.md §13.3).
//! - kind `header-timeout`: the vector's partial header makes the C listener close the
//!   connection after its own handshake deadline, which is not ours (nanomsg 1 s, NNG
//!   10 s: spec/sp-tcp.md §8); the check records how long it took.
//! - `framing.json`, kind `frame` of a sender that may speak first (`tcp.req-hello`,
//!   `ipc.req-hello`, `tcp.push-job`, ...: the id names the sender): after the sender's
//!   header, the vector's bytes reach a C listener of the sender's peer type, which
//!   delivers exactly the vector's body. Frames of a REP or RESPONDENT (an answer needs a
//!   request the C side made), of no named sender, and frame errors (the C libraries'
//!   receive limits are not ours) are not replayed.
//! - `backtrace.json` kinds `parse` and `parse-error` (a REQ's payload to a REP, or a
//!   SURVEYOR's to a RESPONDENT) and `pair1.json` kinds `hop` and `hop-error` (to a PAIR
//!   v1, NNG only), all with the C libraries' default TTL of 8: a payload the vector
//!   delivers is delivered as its body; one it drops is not delivered, and a valid
//!   message after it on the same connection is, unless the C side closed the
//!   connection (NNG closes it on a malformed header: reported).
//! - `pubsub.json` kind `subscription`, cooked: a C SUB with the vector's topics delivers
//!   or drops a PUB's payload as the vector says (after a drop it subscribes to `ok`, and
//!   a message `ok` must then arrive). Raw SUBs are not replayed: a raw SUB MAY filter
//!   (spec/sp-pubsub.md §5.3), and libnanomsg's does.
//! - `websocket.json` upgrade requests (kinds `http-upgrade` from a REQ, `http-server`
//!   routed to a REP at `/`), sent to a C REP listening on `ws://`: one the vector
//!   accepts must be answered `101` with the vector's `Sec-WebSocket-Accept`; for one it
//!   refuses, the C status is reported where it is not ours (the C libraries choose
//!   their own refusals: spec/sp-versions.md §2.3). The frame vectors are not replayed
//!   (a C peer's reaction to a bad frame is checked by the `ws listeners` check).

use std::time::Duration;

use serde_json::Value;
use sp_net::SocketType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::check_kit::{closes_within, connect, tcp, RawConn};
use crate::harness::{Lib, PeerExes, Side};

/// How long a connection that must stay open is watched.
const KEPT: Duration = Duration::from_millis(300);
/// How long a message that must be dropped is waited for (and the valid one after it).
const DROP_WAIT: Duration = Duration::from_secs(1);
/// How long a connection that must close may take (beyond a handshake deadline).
const CLOSE_LIMIT: Duration = Duration::from_secs(3);

/// One vector file's vectors.
fn vectors(file: &str) -> Result<Vec<Value>, String> {
    let path = format!("{}/../spec/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    doc["vectors"]
        .as_array()
        .cloned()
        .ok_or_else(|| format!("{path}: no vectors"))
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    v[name]
        .as_str()
        .ok_or_else(|| format!("{}: no field {name}", v["id"]))
}

/// The bytes of a hex field (`"00 53 50 00"`).
pub fn hex_field(text: &str) -> Result<Vec<u8>, String> {
    text.split_whitespace()
        .map(|w| u8::from_str_radix(w, 16).map_err(|_| format!("bad hex byte {w:?}")))
        .collect()
}

/// The bytes of `t`'s `header` vector among `handshakes` (`handshake.json`).
fn header_wire(handshakes: &[Value], t: SocketType) -> Result<Vec<u8>, String> {
    let v = handshakes
        .iter()
        .find(|v| v["kind"] == "header" && v["socket"] == t.name())
        .ok_or_else(|| format!("no header vector for {t}"))?;
    hex_field(field(v, "wire")?)
}

/// The socket type of a vector's name for it (`req`, `pair1`, ...).
fn socket_type(name: &str) -> Result<SocketType, String> {
    SocketType::ALL
        .into_iter()
        .find(|t| t.name() == name)
        .ok_or_else(|| format!("unknown socket type {name:?}"))
}

/// Whether `lib` has socket type `t` (libnanomsg has no PAIR v1).
const fn has(lib: Lib, t: SocketType) -> bool {
    !matches!((lib, t), (Lib::Nanomsg, SocketType::Pair1))
}

/// A C listener of type `t` of `lib` on `url`, with the address it bound.
async fn c_listener(
    lib: Lib,
    t: SocketType,
    url: &str,
    exes: &PeerExes,
) -> Result<(Side, String), String> {
    let mut side = Side::c(lib, t, exes).await?;
    match side.listen(url).await {
        Ok(bound) => Ok((side, bound)),
        Err(e) => {
            side.close().await;
            Err(e)
        }
    }
}

/// The first 8 bytes the other end sends (its SP header).
async fn read_header(conn: &mut Box<dyn RawConn>) -> Result<[u8; 8], String> {
    let mut h = [0u8; 8];
    match tokio::time::timeout(CLOSE_LIMIT, conn.read_exact(&mut h)).await {
        Ok(Ok(_)) => Ok(h),
        Ok(Err(e)) => Err(format!("reading its header: {e}")),
        Err(_) => Err("no header within 3 s".to_owned()),
    }
}

/// Compares what a peer sent with a vector's bytes.
pub fn same_bytes(id: &str, want: &[u8], got: &[u8]) -> Result<(), String> {
    if want == got {
        return Ok(());
    }
    Err(format!(
        "{id}: sent {got:02x?}, the vector says {want:02x?}"
    ))
}

/// A `header` vector against `lib`: its C listener of `socket` sends `wire`, and keeps a
/// connection that sends `peer_wire`.
pub async fn header(
    lib: Lib,
    id: &str,
    socket: SocketType,
    wire: &[u8],
    peer_wire: &[u8],
    exes: &PeerExes,
) -> Result<(), String> {
    let (side, url) = c_listener(lib, socket, tcp(), exes).await?;
    let result = async {
        let mut conn = connect(&url).await?;
        same_bytes(id, wire, &read_header(&mut conn).await?)?;
        conn.write_all(peer_wire).await.map_err(|e| e.to_string())?;
        if closes_within(&mut conn, KEPT).await.is_some() {
            return Err(format!("{id}: closed the connection of its peer's header"));
        }
        Ok(())
    }
    .await;
    side.close().await;
    result
}

/// Whether `lib` must close a connection whose header fails with `error`.
pub fn must_close(lib: Lib, error: &str) -> bool {
    !(lib == Lib::Nanomsg && error == "non-zero-reserved")
}

/// A `header-error` vector against `lib`: sends `wire` (then, for `truncated`, the end of
/// the stream) to its C listener of type `local`; whether it closed.
async fn header_error(
    lib: Lib,
    local: SocketType,
    wire: &[u8],
    end: bool,
    limit: Duration,
    exes: &PeerExes,
) -> Result<Option<Duration>, String> {
    let (side, url) = c_listener(lib, local, tcp(), exes).await?;
    let result = async {
        let mut conn = connect(&url).await?;
        conn.write_all(wire).await.map_err(|e| e.to_string())?;
        if end {
            let _ = conn.shutdown().await;
        }
        Ok(closes_within(&mut conn, limit).await)
    }
    .await;
    side.close().await;
    result
}

/// Numbers the IPC paths of frame replays.
static NEXT_IPC: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A `frame` vector with what its replay needs.
struct Frame<'a> {
    id: &'a str,
    /// The socket type sending it.
    sender: SocketType,
    /// Over IPC (else TCP).
    ipc: bool,
    /// The sender's header (its `handshake.json` vector).
    hello: Vec<u8>,
    /// The C listener's subscriptions (when it is a SUB).
    topics: Vec<Vec<u8>>,
    wire: Vec<u8>,
    expect: Expect,
}

/// What a replayed frame must do at the C listener.
enum Expect {
    /// Be delivered as exactly these bytes.
    Body(Vec<u8>),
    /// Be dropped: nothing delivered. A valid message sent next on the same connection
    /// is then delivered, unless the C side closed the connection (which is reported).
    Dropped,
}

/// A valid message of `sender`'s after a dropped one, as TCP frame bytes: a one-word
/// header (a request or survey id, or a PAIR v1 hop count of 1; none from a PUB, whose
/// SUB then subscribes to it) and the body `ok`.
fn follow_up(sender: SocketType) -> Vec<u8> {
    let word: &[u8] = match sender {
        SocketType::Pub => &[],
        SocketType::Pair1 => &[0, 0, 0, 1],
        _ => &[0x80, 0, 0, 1],
    };
    tcp_frame(&[word, b"ok"].concat())
}

/// `payload` in TCP framing: its 64-bit big-endian length, then itself.
fn tcp_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u64).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

/// A frame sent, after its sender's header, to `lib`'s C listener of the sender's peer
/// type, and what happened as `f.expect` says; `Ok` carries a note when the C side closed
/// the connection of a dropped message.
async fn frame(lib: Lib, f: &Frame<'_>, exes: &PeerExes) -> Result<Option<String>, String> {
    let (id, sender) = (f.id, f.sender);
    let url = if f.ipc {
        format!(
            "ipc://{}/sp-conformance-vector-{}-{}-{}.ipc",
            std::env::temp_dir().display(),
            std::process::id(),
            lib.name(),
            NEXT_IPC.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    } else {
        tcp().to_owned()
    };
    let (mut side, bound) = c_listener(lib, sender.peer(), &url, exes).await?;
    let result = async {
        for topic in &f.topics {
            side.subscribe(topic)
                .await
                .map_err(|e| format!("{id}: subscribe: {e}"))?;
        }
        let mut conn = connect(&bound).await?;
        let mut bytes = f.hello.clone();
        bytes.extend_from_slice(&f.wire);
        conn.write_all(&bytes).await.map_err(|e| e.to_string())?;
        match &f.expect {
            Expect::Body(body) => {
                let got = side.recv_within(CLOSE_LIMIT).await?;
                let got = got.ok_or_else(|| format!("{id}: nothing delivered"))?;
                same_bytes(id, body, &got).map(|()| None)
            }
            Expect::Dropped => {
                if let Some(got) = side.recv_within(DROP_WAIT).await? {
                    return Err(format!("{id}: delivered {got:02x?}, must be dropped"));
                }
                if sender == SocketType::Pub {
                    side.subscribe(b"ok").await?;
                }
                let _ = conn.write_all(&follow_up(sender)).await;
                match side.recv_within(DROP_WAIT).await? {
                    Some(got) if got == b"ok" => Ok(None),
                    Some(got) => Err(format!("{id}: then delivered {got:02x?}, want \"ok\"")),
                    None if closes_within(&mut conn, KEPT).await.is_some() => {
                        Ok(Some(format!("{id}: dropped, and the connection closed")))
                    }
                    None => Err(format!("{id}: the connection stalled after the drop")),
                }
            }
        }
    }
    .await;
    side.close().await;
    if let Some(path) = url.strip_prefix("ipc://") {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// A message payload (protocol header and body) sent by `sender` over TCP to `lib`'s C
/// listener of the peer type: delivered as exactly `body`, or, for `None`, dropped (a
/// valid message after it still delivered, or the connection closed, which the `Ok`
/// note reports).
pub async fn replay_payload(
    lib: Lib,
    id: &str,
    sender: SocketType,
    payload: &[u8],
    body: Option<Vec<u8>>,
    exes: &PeerExes,
) -> Result<Option<String>, String> {
    let hello = header_wire(&vectors("handshake.json")?, sender)?;
    let f = Frame {
        id,
        sender,
        ipc: false,
        hello,
        topics: Vec::new(),
        wire: tcp_frame(payload),
        expect: body.map_or(Expect::Dropped, Expect::Body),
    };
    frame(lib, &f, exes).await
}

/// What `lib`'s C REP, listening on `ws://` at `/` (libnanomsg: path-less, it serves
/// every path), answers the request of a `websocket.json` upgrade vector: an upgrade the
/// vector accepts must get `101` with the vector's `Sec-WebSocket-Accept`; for one it
/// refuses, `Ok` notes the status when it is not the vector's.
pub async fn upgrade(lib: Lib, v: &Value, exes: &PeerExes) -> Result<Option<String>, String> {
    let id = field(v, "id")?;
    let request = field(v, "request")?;
    let response = field(v, "response")?;
    let want = response.split(' ').nth(1).unwrap_or_default();
    let url = match lib {
        Lib::Nanomsg => "ws://127.0.0.1:0",
        Lib::Nng => "ws://127.0.0.1:0/",
    };
    let (side, bound) = c_listener(lib, SocketType::Rep, url, exes).await?;
    let result = async {
        let port = bound
            .trim_start_matches("ws://127.0.0.1:")
            .split('/')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| format!("no port in {bound}"))?;
        let (code, head, _) = crate::ws_hostile::answer(port, request.as_bytes()).await?;
        if want == "101" {
            let accept = response
                .lines()
                .find(|l| l.starts_with("Sec-WebSocket-Accept:"))
                .ok_or_else(|| format!("{id}: no accept key in the vector"))?;
            let has_key = head.lines().any(|l| l.eq_ignore_ascii_case(accept));
            if code != "101" || !has_key {
                return Err(format!("{id}: answered {head:?}, want 101 with {accept:?}"));
            }
            return Ok(None);
        }
        Ok((code != want).then(|| format!("{id}: {code} (ours {want})")))
    }
    .await;
    side.close().await;
    result
}

/// The sender a frame vector's id names, if it may speak first (`tcp.req-hello` → REQ);
/// `None` for a REP or RESPONDENT answer and for ids that name no socket type.
fn first_speaker(id: &str) -> Option<SocketType> {
    let name = id.split_once('.')?.1.split('-').next()?;
    let t = socket_type(name).ok()?;
    (!matches!(t, SocketType::Rep | SocketType::Respondent)).then_some(t)
}

/// Every replayable vector against `lib`; the detail counts what was replayed and says
/// what the C peer did where it differs from us.
pub async fn check(lib: Lib, exes: &PeerExes) -> Result<String, String> {
    let mut notes = Vec::new();
    let handshakes = vectors("handshake.json")?;
    let wire_of = |t: SocketType| header_wire(&handshakes, t);
    let (mut headers, mut errors) = (0, 0);
    for v in &handshakes {
        let id = field(v, "id")?;
        match field(v, "kind")? {
            "header" => {
                let t = socket_type(field(v, "socket")?)?;
                if !has(lib, t) {
                    continue;
                }
                let wire = hex_field(field(v, "wire")?)?;
                header(lib, id, t, &wire, &wire_of(t.peer())?, exes).await?;
                headers += 1;
            }
            "header-error" => {
                let local = socket_type(field(v, "local")?)?;
                if !has(lib, local) {
                    continue;
                }
                let error = field(v, "error")?;
                let wire = hex_field(field(v, "wire")?)?;
                let end = error == "truncated";
                let closed = header_error(lib, local, &wire, end, CLOSE_LIMIT, exes).await?;
                match (closed.is_some(), must_close(lib, error)) {
                    (true, true) => {}
                    (false, false) => notes.push(format!(
                        "{id}: kept open (libnanomsg does not check the reserved bytes, TCP-R3)"
                    )),
                    (got, _) => {
                        return Err(format!(
                            "{id}: the connection was {}",
                            if got { "closed" } else { "kept open" }
                        ))
                    }
                }
                errors += 1;
            }
            "header-timeout" => {
                let local = socket_type(field(v, "local")?)?;
                let wire = hex_field(field(v, "wire")?)?;
                let ours = v["timeout_ms"].as_u64().unwrap_or(0);
                let limit = Duration::from_secs(10) + CLOSE_LIMIT;
                let closed = header_error(lib, local, &wire, false, limit, exes).await?;
                let took = closed.ok_or_else(|| format!("{id}: not closed within {limit:?}"))?;
                notes.push(format!(
                    "{id}: closed after {} ms (ours: {ours} ms)",
                    took.as_millis()
                ));
                errors += 1;
            }
            other => return Err(format!("{id}: unknown kind {other}")),
        }
    }
    let mut frames = 0;
    for v in vectors("framing.json")? {
        let id = field(&v, "id")?;
        if v["kind"] != "frame" {
            continue;
        }
        let Some(sender) = first_speaker(id) else {
            continue;
        };
        if !has(lib, sender) {
            continue;
        }
        let f = Frame {
            id,
            sender,
            ipc: field(&v, "format")? == "ipc",
            hello: wire_of(sender)?,
            // A SUB listener takes everything a framing vector's PUB sends.
            topics: if sender == SocketType::Pub {
                vec![Vec::new()]
            } else {
                Vec::new()
            },
            wire: hex_field(field(&v, "wire")?)?,
            expect: Expect::Body(hex_field(field(&v, "body")?)?),
        };
        frame(lib, &f, exes).await?;
        frames += 1;
    }
    // Payloads of backtrace.json (to a REP, or a RESPONDENT for a survey's) and
    // pair1.json (to a PAIR v1: NNG only), framed for TCP; the vectors' TTL is the C
    // libraries' default, 8.
    let mut payloads = 0;
    for (file, kinds) in [
        ("backtrace.json", ["parse", "parse-error"]),
        ("pair1.json", ["hop", "hop-error"]),
    ] {
        for v in vectors(file)? {
            let id = field(&v, "id")?;
            let kind = field(&v, "kind")?;
            if !kinds.contains(&kind) {
                continue;
            }
            let sender = match file {
                "pair1.json" => SocketType::Pair1,
                _ if id.contains("survey") => SocketType::Surveyor,
                _ => SocketType::Req,
            };
            if !has(lib, sender) || v["max_ttl"].as_u64().is_some_and(|t| t != 8) {
                continue;
            }
            let deliver = kind == "parse" || v["verdict"] == "deliver";
            let body = if deliver {
                Some(hex_field(field(&v, "body")?)?)
            } else {
                None
            };
            let payload = hex_field(field(&v, "payload")?)?;
            notes.extend(replay_payload(lib, id, sender, &payload, body, exes).await?);
            payloads += 1;
        }
    }
    // pubsub.json: a C SUB with the vector's topics, a PUB's payload; raw SUBs are not
    // replayed (a raw SUB MAY filter, and libnanomsg's does: sp-pubsub.md §5.3).
    let mut subscriptions = 0;
    for v in vectors("pubsub.json")? {
        let id = field(&v, "id")?;
        if field(&v, "kind")? != "subscription" || v["raw"].as_bool() == Some(true) {
            continue;
        }
        let topics = v["topics"]
            .as_array()
            .ok_or_else(|| format!("{id}: no topics"))?
            .iter()
            .map(|t| {
                t.as_str()
                    .ok_or_else(|| format!("{id}: bad topic"))
                    .and_then(hex_field)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let payload = hex_field(field(&v, "payload")?)?;
        let f = Frame {
            id,
            sender: SocketType::Pub,
            ipc: false,
            hello: wire_of(SocketType::Pub)?,
            topics,
            wire: tcp_frame(&payload),
            expect: if v["verdict"] == "deliver" {
                Expect::Body(payload)
            } else {
                Expect::Dropped
            },
        };
        notes.extend(frame(lib, &f, exes).await?);
        subscriptions += 1;
    }
    // websocket.json: the upgrade requests, to a C REP listening on ws://.
    let mut upgrades = 0;
    for v in vectors("websocket.json")? {
        let kind = field(&v, "kind")?;
        let routes_rep = v["routes"]
            .as_object()
            .is_some_and(|r| r.len() == 1 && r.get("/").is_some_and(|t| t == "rep"));
        if kind == "http-upgrade" && v["socket"] == "req" || kind == "http-server" && routes_rep {
            notes.extend(upgrade(lib, &v, exes).await?);
            upgrades += 1;
        }
    }
    notes.insert(
        0,
        format!(
            "{headers} headers sent as the vectors say and accepted from their peers; \
             {errors} header errors replayed, each closed unless noted; {frames} frames \
             delivered as their bodies; {payloads} backtrace and PAIR v1 payloads and \
             {subscriptions} subscriptions delivered or dropped as their vectors say; \
             {upgrades} WebSocket upgrade requests, each accepted one answered 101 with the \
             vector's accept key, refusals' statuses as noted where not ours"
        ),
    );
    Ok(notes.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_byte_is_reported() {
        let want = hex_field("00 53 50 00 00 30 00 00").unwrap();
        assert!(same_bytes("handshake.req", &want, &want).is_ok());
        let mut got = want.clone();
        got[5] = 0x31;
        let e = same_bytes("handshake.req", &want, &got).unwrap_err();
        assert!(e.contains("handshake.req") && e.contains("31"), "{e}");
    }

    #[test]
    fn senders_are_read_from_ids() {
        assert_eq!(first_speaker("tcp.req-hello"), Some(SocketType::Req));
        assert_eq!(first_speaker("ipc.req-hello"), Some(SocketType::Req));
        assert_eq!(first_speaker("tcp.pair1-hi"), Some(SocketType::Pair1));
        assert_eq!(first_speaker("tcp.rep-world"), None);
        assert_eq!(first_speaker("tcp.respondent-answer"), None);
        assert_eq!(first_speaker("tcp.empty"), None);
        assert_eq!(first_speaker("tcp.err-oversize"), None);
    }

    #[test]
    fn only_nanomsg_keeps_non_zero_reserved_bytes() {
        assert!(!must_close(Lib::Nanomsg, "non-zero-reserved"));
        assert!(must_close(Lib::Nng, "non-zero-reserved"));
        assert!(must_close(Lib::Nanomsg, "bad-version"));
    }
}
