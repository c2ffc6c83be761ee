//! Limits and hostile input, towards the real C peers and towards ours.
//!
//! - A C peer sending a message over our receive limit loses that connection only: our
//!   other pipes keep working and the frame error is counted.
//! - Bytes no SP peer would send, from a raw socket, towards a listening C socket and
//!   towards ours, while a healthy pipe of ours is attached to the same socket: what
//!   each does (wire-facts E4, E5, E8, E9) and that the healthy pipe still works.

use std::time::Duration;

use sp_net::{Socket, SocketType};
use tokio::io::AsyncWriteExt;

use crate::check_kit::{closes_within, connect, tcp};
use crate::harness::{Lib, PeerExes, Side};

/// A C peer over our receive limit: that pipe closes, the other keeps working.
pub async fn oversize(lib: Lib, exes: &PeerExes) -> Result<String, String> {
    let pull = Socket::new(SocketType::Pull);
    let ep = pull.listen(tcp()).await.map_err(|e| e.to_string())?;
    let url = ep.url().to_string();
    drop(ep);
    let mut big = Side::c(lib, SocketType::Push, exes).await?;
    let mut good = Side::c(lib, SocketType::Push, exes).await?;
    let result = async {
        big.dial(&url).await?;
        good.dial(&url).await?;
        tokio::time::timeout(Duration::from_secs(10), pull.wait_for_pipes(2))
            .await
            .map_err(|_| "two pipes not attached".to_owned())?
            .map_err(|e| e.to_string())?;
        big.send(&vec![7u8; crate::matrix::MAX_RECV + 1]).await?;
        let start = std::time::Instant::now();
        while pull.stats().socket.frame_errors == 0 {
            if start.elapsed() > Duration::from_secs(10) {
                return Err("no frame error counted".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        good.send(b"still here").await?;
        let m = tokio::time::timeout(Duration::from_secs(10), pull.recv())
            .await
            .map_err(|_| "the other pipe delivered nothing".to_owned())?
            .map_err(|e| e.to_string())?;
        if m.body != "still here" {
            return Err(format!("got {} bytes, want the good message", m.body.len()));
        }
        let s = pull.stats().socket;
        Ok(format!(
            "frame_errors {}, pipes removed {}",
            s.frame_errors, s.pipes_removed
        ))
    }
    .await;
    big.close().await;
    good.close().await;
    pull.close().await;
    result
}

/// What a listener did with one hostile connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reaction {
    /// Closed the connection; nothing delivered.
    Closed,
    /// Kept the connection and delivered the message.
    Delivered,
    /// Kept the connection, delivered nothing.
    Ignored,
    /// The peer process died (an assertion in the library).
    Crashed,
}

/// The hostile inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// An HTTP request instead of the SP header (to a PULL).
    Garbage,
    /// Half an SP header, then end of stream (to a PULL).
    Truncated,
    /// A PUSH header with reserved bytes `12 34`, then a message (to a PULL; E4).
    Reserved,
    /// Over IPC, a message with type byte 2 (to a PULL; E9).
    IpcType,
    /// A request without a word carrying bit 31 (to a REP; E7/E8).
    NoRequestId,
}

impl Input {
    /// Every input.
    pub const ALL: [Self; 5] = [
        Self::Garbage,
        Self::Truncated,
        Self::Reserved,
        Self::IpcType,
        Self::NoRequestId,
    ];

    /// What each side must do, per wire-facts (C) and DESIGN (ours).
    pub const fn expected(self, who: Option<Lib>) -> Reaction {
        match (self, who) {
            (Self::Garbage | Self::Truncated, _) => Reaction::Closed,
            (Self::Reserved, Some(Lib::Nanomsg)) => Reaction::Delivered,
            (Self::Reserved, _) => Reaction::Closed,
            (Self::IpcType, Some(Lib::Nanomsg)) => Reaction::Crashed,
            (Self::IpcType, _) => Reaction::Closed,
            (Self::NoRequestId, Some(Lib::Nng)) => Reaction::Closed,
            (Self::NoRequestId, _) => Reaction::Ignored,
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Self::Garbage => "garbage",
            Self::Truncated => "truncated header",
            Self::Reserved => "reserved bytes 12 34",
            Self::IpcType => "ipc type byte 2",
            Self::NoRequestId => "request without id",
        }
    }
}

fn header(t: SocketType, reserved: [u8; 2]) -> Vec<u8> {
    let id = t.wire_id();
    vec![
        0,
        b'S',
        b'P',
        0,
        (id >> 8) as u8,
        id as u8,
        reserved[0],
        reserved[1],
    ]
}

fn frame(ipc_type: Option<u8>, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(ipc_type);
    f.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Numbers the IPC paths of [`hostile`].
static NEXT_IPC: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sends `input` to a listener played by `who`; returns its reaction, after checking
/// that a healthy pipe of ours on the same socket still works (unless it crashed).
pub async fn hostile(input: Input, who: Option<Lib>, exes: &PeerExes) -> Result<Reaction, String> {
    let (target_type, healthy_type) = match input {
        Input::NoRequestId => (SocketType::Rep, SocketType::Req),
        _ => (SocketType::Pull, SocketType::Push),
    };
    let url = match input {
        // Unique per call: the checks for both libraries run at once, and each also
        // targets our own listener.
        Input::IpcType => format!(
            "ipc://{}/sp-conformance-hostile-{}-{}-{}.ipc",
            std::env::temp_dir().display(),
            std::process::id(),
            who.map_or("ours", Lib::name),
            NEXT_IPC.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ),
        _ => tcp().to_owned(),
    };
    let mut target = match who {
        None => Side::ours(target_type),
        Some(lib) => Side::c(lib, target_type, exes).await?,
    };
    let healthy = Socket::new(healthy_type);
    let result = async {
        let bound = target.listen(&url).await?;
        drop(healthy.dial(&bound).await.map_err(|e| e.to_string())?);
        tokio::time::timeout(Duration::from_secs(10), healthy.wait_for_pipes(1))
            .await
            .map_err(|_| "healthy pipe not attached".to_owned())?
            .map_err(|e| e.to_string())?;
        let mut conn = connect(&bound).await?;
        let peer_type = healthy_type;
        let bytes = match input {
            Input::Garbage => b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            Input::Truncated => header(peer_type, [0, 0])[..4].to_vec(),
            Input::Reserved => {
                let mut b = header(peer_type, [0x12, 0x34]);
                b.extend(frame(None, b"hello"));
                b
            }
            Input::IpcType => {
                let mut b = header(peer_type, [0, 0]);
                b.extend(frame(Some(2), b"hello"));
                b
            }
            Input::NoRequestId => {
                let mut b = header(peer_type, [0, 0]);
                b.extend(frame(None, b"\x00\x00\x00\x01hello"));
                b
            }
        };
        conn.write_all(&bytes).await.map_err(|e| e.to_string())?;
        if input == Input::Truncated {
            let _ = conn.shutdown().await;
        }
        let closed = closes_within(&mut conn, Duration::from_secs(2))
            .await
            .is_some();
        let delivered = match target.recv_within(Duration::from_millis(300)).await {
            Ok(Some(m)) => m == b"hello",
            Ok(None) => false,
            Err(e) if e.contains("peer exited") || e.contains("peer stdin") => {
                return Ok(Reaction::Crashed)
            }
            Err(e) => return Err(e),
        };
        let reaction = match (closed, delivered) {
            (true, false) => Reaction::Closed,
            (_, true) => Reaction::Delivered,
            (false, false) => Reaction::Ignored,
        };
        // The healthy pipe still works.
        if healthy_type == SocketType::Req {
            healthy.send("alive").await.map_err(|e| e.to_string())?;
            let q = target.recv().await?;
            if q != b"alive" {
                return Err(format!("the healthy request arrived as {q:?}"));
            }
            target.send(b"yes").await?;
            let r = tokio::time::timeout(Duration::from_secs(10), healthy.recv())
                .await
                .map_err(|_| "no reply on the healthy pipe".to_owned())?
                .map_err(|e| e.to_string())?;
            if r.body != "yes" {
                return Err(format!("healthy reply {:?}", r.body));
            }
        } else {
            healthy.send("alive").await.map_err(|e| e.to_string())?;
            loop {
                let m = target.recv().await?;
                if m == b"alive" {
                    break;
                }
            }
        }
        Ok(reaction)
    }
    .await;
    target.close().await;
    healthy.close().await;
    if let Some(path) = url.strip_prefix("ipc://") {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// The hostile-input check for `lib`: each input towards `lib` and towards ours, each
/// reaction as expected; the detail lists them.
pub async fn check(lib: Lib, exes: &PeerExes) -> Result<String, String> {
    let mut rows = Vec::new();
    for input in Input::ALL {
        for who in [Some(lib), None] {
            let got = hostile(input, who, exes).await.map_err(|e| {
                format!("{} to {}: {e}", input.name(), who.map_or("ours", Lib::name))
            })?;
            let want = input.expected(who);
            let name = who.map_or("ours", Lib::name);
            if got != want {
                return Err(format!(
                    "{} to {name}: {got:?}, want {want:?}",
                    input.name()
                ));
            }
            rows.push(format!("{} → {name} {got:?}", input.name()));
        }
    }
    Ok(rows.join("; "))
}
