//! Devices in mixed chains (wire-facts §14): a C library's raw device (`nn_device`,
//! `nng_device`, two raw sockets in one peer process) between our sockets and the other
//! library, and our device (`sp_net::device::device`) between two C peers. Replies must
//! find their way back through every hop (backtraces), each hop must add one word, and a
//! chain longer than the hop limit (8, everyone's default) must drop the request.

use std::time::Duration;

use sp_net::device::device;
use sp_net::{Socket, SocketType};
use sp_proto::DropReason;

use crate::check_kit::{peer_err, tcp};
use crate::harness::{Lib, Peer, PeerExes, Side};

/// The raw sockets of a device in a chain: the one that listens for the hop before it,
/// and the one that dials the hop after it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DeviceTypes {
    /// Listens (REP in a REQ/REP chain).
    pub(crate) listens: SocketType,
    /// Dials on (REQ in a REQ/REP chain).
    pub(crate) dials: SocketType,
}

/// The devices of a REQ/REP chain.
const REQ_REP: DeviceTypes = DeviceTypes {
    listens: SocketType::Rep,
    dials: SocketType::Req,
};

/// A C device: the listening raw socket in slot 0 (returned URL), the dialing one in slot
/// 1, dialing `next`.
async fn c_device(
    lib: Lib,
    types: DeviceTypes,
    next: &str,
    exes: &PeerExes,
) -> Result<(Peer, String), String> {
    let mut p = Peer::start(lib, exes).await?;
    p.call(&format!("open-raw {}", types.listens.name()))
        .await
        .map_err(peer_err("open-raw"))?;
    let url = p
        .call(&format!("listen {}", tcp()))
        .await
        .map_err(peer_err("listen"))?;
    p.call("select 1").await.map_err(peer_err("select"))?;
    p.call(&format!("open-raw {}", types.dials.name()))
        .await
        .map_err(peer_err("open-raw"))?;
    p.call(&format!("dial {next}"))
        .await
        .map_err(peer_err("dial"))?;
    p.call("device").await.map_err(peer_err("device"))?;
    Ok((p, url))
}

/// Our device: the listening raw socket (returned URL) and the one dialing `next`.
async fn our_device(types: DeviceTypes, next: &str) -> Result<(Socket, Socket, String), String> {
    let front = Socket::new_raw(types.listens);
    let back = Socket::new_raw(types.dials);
    let ep = front.listen(tcp()).await.map_err(|e| e.to_string())?;
    let url = ep.url().to_string();
    drop(ep);
    drop(back.dial(next).await.map_err(|e| e.to_string())?);
    drop(device(&front, &back).map_err(|e| e.to_string())?);
    Ok((front, back, url))
}

/// A hop of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hop {
    /// A device of this C library.
    C(Lib),
    /// One of ours.
    Ours,
}

/// A chain of devices under test, from the sender's side to the end.
pub(crate) struct Chain {
    peers: Vec<Peer>,
    /// Our devices' sockets.
    pub(crate) sockets: Vec<Socket>,
    /// Where the sender dials.
    pub(crate) entry: String,
}

impl Chain {
    /// Builds the `hops` (from the sender's side) of `types` towards `end_url`, from the
    /// end back.
    pub(crate) async fn build(
        types: DeviceTypes,
        hops: &[Hop],
        end_url: &str,
        exes: &PeerExes,
    ) -> Result<Self, String> {
        let mut chain = Self {
            peers: Vec::new(),
            sockets: Vec::new(),
            entry: end_url.to_owned(),
        };
        for hop in hops.iter().rev() {
            chain.entry = match hop {
                Hop::C(lib) => {
                    let (p, url) = c_device(*lib, types, &chain.entry, exes).await?;
                    chain.peers.push(p);
                    url
                }
                Hop::Ours => {
                    let (f, b, url) = our_device(types, &chain.entry).await?;
                    chain.sockets.extend([f, b]);
                    url
                }
            };
        }
        Ok(chain)
    }

    /// Ends the C devices and closes ours.
    pub(crate) async fn close(self) {
        for p in self.peers {
            p.quit().await;
        }
        for s in self.sockets {
            s.close().await;
        }
    }
}

/// Two requesters (`req`) through `hops` to a REP (`rep`): each gets its own answer.
async fn two_requesters(
    req: Option<Lib>,
    hops: &[Hop],
    rep: Option<Lib>,
    exes: &PeerExes,
) -> Result<(), String> {
    let side = |who: Option<Lib>, t| async move {
        match who {
            None => Ok(Side::ours(t)),
            Some(lib) => Side::c(lib, t, exes).await,
        }
    };
    let mut server = side(rep, SocketType::Rep).await?;
    let end = server.listen(tcp()).await?;
    let chain = Chain::build(REQ_REP, hops, &end, exes).await?;
    let mut clients = [
        side(req, SocketType::Req).await?,
        side(req, SocketType::Req).await?,
    ];
    let result = async {
        for c in &mut clients {
            c.dial(&chain.entry).await?;
        }
        // Requests may be lost while the chain connects: REQ resends only after its
        // interval, so send again until the server hears from both.
        for round in 0..2u8 {
            let mut asked = [false, false];
            let mut pending = Vec::new();
            for _ in 0..40 {
                for (i, c) in clients.iter_mut().enumerate() {
                    if !asked[i] {
                        c.send(&[b'q', round, i as u8]).await?;
                    }
                }
                while let Some(q) = server.recv_within(Duration::from_millis(250)).await? {
                    let i = usize::from(q.get(2).copied().unwrap_or(9));
                    if q.len() == 3 && q[1] == round && i < 2 {
                        // Every copy of this round's request gets the real answer: the
                        // requester's latest copy is its current request, and its REQ
                        // drops the answers to the copies it replaced.
                        if !asked[i] {
                            asked[i] = true;
                            pending.push(i);
                        }
                        server.send(&[b'r', round, i as u8]).await?;
                    } else {
                        // A copy from an earlier round: its requester has moved on, and
                        // its REQ drops this reply as stale.
                        server.send(b"stale").await?;
                    }
                }
                if asked == [true, true] {
                    break;
                }
            }
            if asked != [true, true] {
                return Err(format!("round {round}: the server heard {asked:?}"));
            }
            for i in pending {
                let r = clients[i].recv().await?;
                if r != [b'r', round, i as u8] {
                    return Err(format!("requester {i} got {r:?}, want its own reply"));
                }
            }
        }
        Ok(())
    }
    .await;
    for c in clients {
        c.close().await;
    }
    chain.close().await;
    server.close().await;
    result
}

/// Our REQ through `hops` to our raw REP: the header must hold one word per hop (bit 31
/// clear), then the request id (bit 31 set), after the raw REP's own pipe word. With
/// `expect_drop`, nothing may arrive and our REP counts a TTL drop instead.
/// Our REQ, resending every 300 ms: a request lost while a device on the way still
/// connects is sent again.
fn resending_req() -> Socket {
    let req = Socket::new(SocketType::Req);
    let mut o = req.protocol_options();
    o.set_resend_interval(Some(Duration::from_millis(300)));
    req.set_protocol_options(o);
    req
}

/// Waits up to 10 s for our `req`'s reply and checks that it is `want`.
async fn expect_reply(req: &Socket, want: &str) -> Result<(), String> {
    let reply = tokio::time::timeout(Duration::from_secs(10), req.recv())
        .await
        .map_err(|_| "no reply".to_owned())?
        .map_err(|e| e.to_string())?;
    if reply.body != want {
        return Err(format!("the reply came back as {:?}", reply.body));
    }
    Ok(())
}

async fn header_through(hops: &[Hop], exes: &PeerExes, expect_drop: bool) -> Result<(), String> {
    let rep = Socket::new_raw(SocketType::Rep);
    let ep = rep.listen(tcp()).await.map_err(|e| e.to_string())?;
    let end = ep.url().to_string();
    drop(ep);
    let chain = Chain::build(REQ_REP, hops, &end, exes).await?;
    let req = resending_req();
    let result = async {
        drop(req.dial(&chain.entry).await.map_err(|e| e.to_string())?);
        req.send("deep").await.map_err(|e| e.to_string())?;
        if expect_drop {
            let start = std::time::Instant::now();
            while rep.stats().protocol.dropped(DropReason::TtlExceeded) == 0 {
                if start.elapsed() > Duration::from_secs(10) {
                    return Err(format!("{} hops: our REP counted no TTL drop", hops.len()));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if let Ok(m) = rep.try_recv() {
                return Err(format!("{} hops: delivered {:?}", hops.len(), m.header));
            }
            return Ok(());
        }
        let m = tokio::time::timeout(Duration::from_secs(10), rep.recv())
            .await
            .map_err(|_| format!("{} hops: nothing arrived", hops.len()))?
            .map_err(|e| e.to_string())?;
        let words: Vec<u32> = m
            .header
            .chunks(4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let want = hops.len() + 2;
        let shape_ok = m.header.len() == 4 * want
            && words[..want - 1].iter().all(|w| w & 0x8000_0000 == 0)
            && words[want - 1] & 0x8000_0000 != 0;
        if !shape_ok {
            return Err(format!(
                "{} hops: header {words:08x?}, want our pipe word, {} hop words, then the \
                 request id",
                hops.len(),
                hops.len()
            ));
        }
        rep.send(m).await.map_err(|e| e.to_string())?;
        expect_reply(&req, "deep").await
    }
    .await;
    req.close().await;
    chain.close().await;
    rep.close().await;
    result
}

/// Our REQ through `hops` to a C REP of `lib`, which must answer (`answers`) or drop the
/// request for its hop limit.
async fn ttl_at_c_rep(
    lib: Lib,
    hops: &[Hop],
    answers: bool,
    exes: &PeerExes,
) -> Result<(), String> {
    let mut rep = Side::c(lib, SocketType::Rep, exes).await?;
    let end = rep.listen(tcp()).await?;
    let chain = Chain::build(REQ_REP, hops, &end, exes).await?;
    // A drop seen over 1.5 s is the hop limit, as a lost request is resent.
    let req = resending_req();
    let result = async {
        drop(req.dial(&chain.entry).await.map_err(|e| e.to_string())?);
        // Wait for the whole chain: every socket of ours has its pipes.
        for s in &chain.sockets {
            tokio::time::timeout(Duration::from_secs(10), s.wait_for_pipes(1))
                .await
                .map_err(|_| "the chain did not connect".to_owned())?
                .map_err(|e| e.to_string())?;
        }
        req.wait_for_pipes(1).await.map_err(|e| e.to_string())?;
        req.send("ttl").await.map_err(|e| e.to_string())?;
        let got = rep.recv_within(Duration::from_millis(1500)).await?;
        match (got, answers) {
            (Some(q), true) if q == b"ttl" => {
                rep.send(b"ok").await?;
                expect_reply(&req, "ok").await
            }
            (None, false) => Ok(()),
            (got, _) => Err(format!(
                "{} REP after {} hops got {got:?}; want {}",
                lib.name(),
                hops.len(),
                if answers {
                    "the request"
                } else {
                    "nothing (TTL)"
                }
            )),
        }
    }
    .await;
    req.close().await;
    chain.close().await;
    rep.close().await;
    result
}

/// The device check for `lib`: mixed chains, backtrace shape and the hop limit.
pub async fn check(lib: Lib, exes: &PeerExes) -> Result<String, String> {
    let other = match lib {
        Lib::Nanomsg => Lib::Nng,
        Lib::Nng => Lib::Nanomsg,
    };
    let c = Hop::C(lib);
    // Our REQs → their device → the other library's REP.
    two_requesters(None, &[c], Some(other), exes)
        .await
        .map_err(|e| format!("ours → {} device → {} REP: {e}", lib.name(), other.name()))?;
    // Their REQs → our device → the other library's REP.
    two_requesters(Some(lib), &[Hop::Ours], Some(other), exes)
        .await
        .map_err(|e| {
            format!(
                "{} REQ → our device → {} REP: {e}",
                lib.name(),
                other.name()
            )
        })?;
    // Ours → their device → our device → our raw REP: one word per hop.
    header_through(&[c, Hop::Ours], exes, false)
        .await
        .map_err(|e| format!("header through {} device + ours: {e}", lib.name()))?;
    // Hop limit 8 (words, request id included): 7 devices pass, 8 are dropped, at their
    // REP and at ours.
    let mut seven = vec![c];
    seven.extend([Hop::Ours; 6]);
    let mut eight = seven.clone();
    eight.push(Hop::Ours);
    ttl_at_c_rep(lib, &seven, true, exes)
        .await
        .map_err(|e| format!("7 hops to their REP: {e}"))?;
    ttl_at_c_rep(lib, &eight, false, exes)
        .await
        .map_err(|e| format!("8 hops to their REP: {e}"))?;
    header_through(&eight, exes, true)
        .await
        .map_err(|e| format!("8 hops to our REP: {e}"))?;
    Ok(format!(
        "ours→{l} device→{o} REP, {l} REQ→our device→{o} REP, header words per hop, \
         7 hops answered and 8 dropped at {l} REP and at ours",
        l = lib.name(),
        o = other.name()
    ))
}
