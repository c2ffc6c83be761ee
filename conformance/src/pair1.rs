//! PAIR v1 against NNG beyond one peer and one hop (libnanomsg has no PAIR v1):
//!
//! - **Our polyamorous listener, NNG dialers.** Two NNG PAIR v1 sockets dial our
//!   polyamorous PAIR v1; each message arrives with its pipe, and a reply addressed to a
//!   pipe reaches that NNG socket only.
//! - **NNG's polyamorous listener, our dialers.** NNG (`nng_pair1_open_poly`) hears both of
//!   our PAIR v1 sockets; a message it sends without a pipe reaches exactly one of them
//!   (NNG sends it to its first pipe, where we load-balance: sp-pair.md §3.3).
//! - **Hop counts across a mixed chain.** Our PAIR v1 → NNG's raw device → our raw device
//!   → our raw PAIR v1: the end sees hop count 3 (one per socket left), and a message
//!   back comes through. With NNG's device last, after six of ours, the end sees hop 8
//!   (the TTL, delivered); after seven, hop 9 is dropped as `ttl_exceeded`.

use std::sync::Arc;
use std::time::Duration;

use sp_net::transport::TokioNetwork;
use sp_net::{Message, Socket, SocketType};
use sp_proto::{Config, DropReason};

use crate::check_kit::{eventually, ours_recv, peer_err, tcp};
use crate::devices::{Chain, DeviceTypes, Hop};
use crate::harness::{Lib, Peer, PeerExes, Side, RECV_LIMIT};

fn io(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Our cooked PAIR v1 socket in polyamorous mode.
fn our_poly() -> Socket {
    let mut config = Config::cooked(0x5eed_0001);
    config.options.pair1_polyamorous = true;
    Socket::with_config(SocketType::Pair1, config, Arc::new(TokioNetwork::new()))
}

async fn listen(s: &Socket) -> Result<String, String> {
    let ep = s.listen(tcp()).await.map_err(io)?;
    let url = ep.url().to_string();
    drop(ep); // lives as long as the socket
    Ok(url)
}

async fn our_poly_listener(exes: &PeerExes) -> Result<(), String> {
    let poly = our_poly();
    let url = listen(&poly).await?;
    let mut nng = [
        Side::c(Lib::Nng, SocketType::Pair1, exes).await?,
        Side::c(Lib::Nng, SocketType::Pair1, exes).await?,
    ];
    let result = async {
        for (i, n) in nng.iter_mut().enumerate() {
            n.dial(&url).await?;
            n.send(format!("from-{i}").as_bytes()).await?;
        }
        let mut pipes = [None, None];
        for _ in 0..2 {
            let m = tokio::time::timeout(RECV_LIMIT, poly.recv())
                .await
                .map_err(|_| "ours: nothing received".to_owned())?
                .map_err(io)?;
            let i = match &m.body[..] {
                b"from-0" => 0,
                b"from-1" => 1,
                other => return Err(format!("ours got {other:?}")),
            };
            pipes[i] = Some(m.pipe.ok_or("a polyamorous receive without its pipe")?);
        }
        if pipes[0] == pipes[1] {
            return Err(format!("both NNG sockets arrived on one pipe {pipes:?}"));
        }
        // Answer the second first: addressing, not order, picks the peer.
        for i in [1, 0] {
            let mut reply = Message::from(format!("to-{i}"));
            reply.pipe = pipes[i];
            poly.send(reply).await.map_err(io)?;
        }
        for (i, n) in nng.iter_mut().enumerate() {
            let got = n.recv().await?;
            if got != format!("to-{i}").as_bytes() {
                return Err(format!("NNG socket {i} got {got:?}, want its own reply"));
            }
        }
        Ok(())
    }
    .await;
    for n in nng {
        n.close().await;
    }
    poly.close().await;
    result
}

async fn nng_poly_listener(exes: &PeerExes) -> Result<String, String> {
    let mut nng = Peer::start(Lib::Nng, exes).await?;
    let ours = [Side::ours(SocketType::Pair1), Side::ours(SocketType::Pair1)];
    let result = async {
        nng.call("open-poly").await.map_err(peer_err("open-poly"))?;
        let url = nng
            .call(&format!("listen {}", tcp()))
            .await
            .map_err(peer_err("listen"))?;
        let mut ours = ours;
        for (i, o) in ours.iter_mut().enumerate() {
            o.dial(&url).await?;
            o.wait_connected().await?;
            o.send(format!("from-{i}").as_bytes()).await?;
        }
        let mut got = vec![
            nng.recv_timeout(5000).await.map_err(peer_err("recv"))?,
            nng.recv_timeout(5000).await.map_err(peer_err("recv"))?,
        ];
        got.sort();
        if got != [b"from-0".to_vec(), b"from-1".to_vec()] {
            return Err(format!("NNG heard {got:?}"));
        }
        // Unaddressed: NNG picks one pipe.
        nng.send(b"any").await.map_err(peer_err("send"))?;
        let mut heard = Vec::new();
        for (i, o) in ours.iter_mut().enumerate() {
            if let Some(m) = o.recv_within(Duration::from_millis(500)).await? {
                if m != b"any" {
                    return Err(format!("ours {i} got {m:?}"));
                }
                heard.push(i);
            }
        }
        if heard.len() != 1 {
            return Err(format!(
                "NNG's unaddressed message reached {heard:?}, want one"
            ));
        }
        for o in ours {
            o.close().await;
        }
        Ok(format!(
            "its unaddressed message reached one of them (our dialer {}, 0 = first connected)",
            heard[0]
        ))
    }
    .await;
    nng.quit().await;
    result
}

/// The devices of a PAIR v1 chain.
const PAIR1: DeviceTypes = DeviceTypes {
    listens: SocketType::Pair1,
    dials: SocketType::Pair1,
};

/// Our PAIR v1 sends through `hops` (from the sender's side) to our raw PAIR v1: it
/// must arrive with hop count `hops + 1` and an answer must come back, or, when
/// `hops + 1` exceeds the TTL 8, be dropped as `ttl_exceeded` at the end.
async fn hops_through(hops: &[Hop], exes: &PeerExes) -> Result<(), String> {
    let end = Socket::new_raw(SocketType::Pair1);
    let end_url = listen(&end).await?;
    let chain = Chain::build(PAIR1, hops, &end_url, exes).await?;
    let sender = Socket::new(SocketType::Pair1);
    let want = u32::try_from(hops.len() + 1).expect("a short chain");
    let result = async {
        drop(sender.dial(&chain.entry).await.map_err(io)?);
        sender.send("hop").await.map_err(io)?;
        if want > 8 {
            eventually("the end's ttl_exceeded drop", || {
                end.stats().protocol.dropped(DropReason::TtlExceeded) == 1
            })
            .await?;
            if let Ok(m) = end.try_recv() {
                return Err(format!("delivered {:?} after {want} hops", m.header));
            }
            return Ok(());
        }
        let m = tokio::time::timeout(RECV_LIMIT, end.recv())
            .await
            .map_err(|_| "the end got nothing".to_owned())?
            .map_err(io)?;
        if m.header[..] != want.to_be_bytes() || m.body != "hop" {
            return Err(format!("the end got {m:?}, want hop count {want}"));
        }
        end.send(Message::with_header(vec![0, 0, 0, 0], "back"))
            .await
            .map_err(io)?;
        let back = ours_recv(&sender).await?;
        if back != b"back" {
            return Err(format!("the sender got {back:?} back"));
        }
        Ok(())
    }
    .await;
    sender.close().await;
    chain.close().await;
    end.close().await;
    result
}

/// The check (NNG only).
pub async fn check(exes: &PeerExes) -> Result<String, String> {
    our_poly_listener(exes)
        .await
        .map_err(|e| format!("our polyamorous listener, NNG dialers: {e}"))?;
    let nng_poly = nng_poly_listener(exes)
        .await
        .map_err(|e| format!("NNG's polyamorous listener, our dialers: {e}"))?;
    let nng = Hop::C(Lib::Nng);
    hops_through(&[nng, Hop::Ours], exes)
        .await
        .map_err(|e| format!("NNG device then ours: {e}"))?;
    let mut seven = vec![Hop::Ours; 6];
    seven.push(nng);
    hops_through(&seven, exes)
        .await
        .map_err(|e| format!("six of ours then NNG's device (hop 8): {e}"))?;
    let mut eight = vec![Hop::Ours; 7];
    eight.push(nng);
    hops_through(&eight, exes)
        .await
        .map_err(|e| format!("seven of ours then NNG's device (hop 9): {e}"))?;
    Ok(format!(
        "addressed replies from our polyamorous PAIR1 reach each NNG dialer; NNG's \
         polyamorous listener hears both of ours and {nng_poly}; hop count 3 through NNG's \
         device and ours and back, 8 delivered and 9 dropped behind NNG's device"
    ))
}
