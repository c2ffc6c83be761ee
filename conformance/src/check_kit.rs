//! What the behaviour checks share: the short interval they time with, a listening
//! address, a started C peer, a bounded receive on our socket, a counter poll, and raw
//! connections to a listener (for bytes no SP socket would send).

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use sp_net::{Socket, SocketType};

use crate::harness::{CallError, Lib, Peer, PeerExes};

/// The survey deadline and REQ resend interval the checks use.
pub(crate) const SHORT_MS: u32 = 300;

/// Names a failed peer call `what` in the check's error.
pub(crate) fn peer_err(what: &str) -> impl Fn(CallError) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// A loopback TCP address on a port the system picks.
pub(crate) fn tcp() -> &'static str {
    "tcp://127.0.0.1:0"
}

/// A C peer of `lib` with a socket of type `t` open.
pub(crate) async fn c_peer(lib: Lib, t: SocketType, exes: &PeerExes) -> Result<Peer, String> {
    let mut p = Peer::start(lib, exes).await?;
    p.open(t).await.map_err(peer_err("open"))?;
    Ok(p)
}

/// One message's body from our socket `s`, within the harness's receive limit.
pub(crate) async fn ours_recv(s: &Socket) -> Result<Vec<u8>, String> {
    match tokio::time::timeout(crate::harness::RECV_LIMIT, s.recv()).await {
        Ok(Ok(m)) => Ok(m.body.to_vec()),
        Ok(Err(e)) => Err(format!("ours: recv: {e}")),
        Err(_) => Err("ours: nothing received".to_owned()),
    }
}

/// Polls `f` until it holds (for counters, which have no event to await).
pub(crate) async fn eventually(what: &str, mut f: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while !f() {
        if start.elapsed() > Duration::from_secs(5) {
            return Err(format!("{what}: not within 5 s"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// A raw byte stream to a listener (TCP or IPC).
pub(crate) trait RawConn:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send
{
}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> RawConn for T {}

/// A raw connection to the `tcp://` or `ipc://` listener at `url`.
pub(crate) async fn connect(url: &str) -> Result<Box<dyn RawConn>, String> {
    if let Some(path) = url.strip_prefix("ipc://") {
        let s = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|e| format!("connect {url}: {e}"))?;
        Ok(Box::new(s))
    } else {
        let addr = url.trim_start_matches("tcp://");
        let s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {url}: {e}"))?;
        Ok(Box::new(s))
    }
}

/// How long the other end takes to close the connection (reading and discarding what it
/// sends), if it does within `limit`.
pub(crate) async fn closes_within(
    conn: &mut Box<dyn RawConn>,
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 256];
    let read_all = async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, read_all)
        .await
        .ok()
        .map(|()| start.elapsed())
}
