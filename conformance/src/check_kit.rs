//! What the behaviour checks share: the short interval they time with, a listening
//! address, a started C peer, a bounded receive on our socket, and a counter poll.

use std::time::{Duration, Instant};

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
