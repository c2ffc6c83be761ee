//! Devices beyond REQ/REP: a C library's raw device forwarding surveys and publications
//! between our sockets and the other C library.
//!
//! - SURVEY: our SURVEYOR → the device (raw RESPONDENT | raw SURVEYOR) → a RESPONDENT of
//!   the other library and one of ours: both answers come back through the device.
//! - PUB/SUB: our PUB → the device (raw SUB | raw PUB) → a SUB of the other library and
//!   one of ours: every publication reaches both, in order.
//! - BUS: the library's reflector (one raw BUS socket, `reflect`) with two of our BUS
//!   sockets and one of the other library dialing it: each node's message reaches the two
//!   others exactly once and never comes back to its sender.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sp_net::SocketType;

use crate::check_kit::{peer_err, tcp};
use crate::harness::{Lib, Peer, PeerExes, Side};

fn other(lib: Lib) -> Lib {
    match lib {
        Lib::Nanomsg => Lib::Nng,
        Lib::Nng => Lib::Nanomsg,
    }
}

/// A C device: raw `front` in slot 0 dialing `upstream`, raw `back` in slot 1 listening
/// (the URL returned). libnanomsg's raw SUB still filters, so its front subscribes to
/// everything; NNG's raw SUB has no subscriptions (setting one fails) and passes all.
async fn c_device(
    lib: Lib,
    (front, back): (&str, &str),
    upstream: &str,
    exes: &PeerExes,
) -> Result<(Peer, String), String> {
    let mut p = Peer::start(lib, exes).await?;
    p.call(&format!("open-raw {front}"))
        .await
        .map_err(peer_err("open-raw"))?;
    if front == "sub" && lib == Lib::Nanomsg {
        p.opt("subscribe", "-")
            .await
            .map_err(peer_err("subscribe"))?;
    }
    p.call(&format!("dial {upstream}"))
        .await
        .map_err(peer_err("dial"))?;
    p.call("select 1").await.map_err(peer_err("select"))?;
    p.call(&format!("open-raw {back}"))
        .await
        .map_err(peer_err("open-raw"))?;
    let url = p
        .call(&format!("listen {}", tcp()))
        .await
        .map_err(peer_err("listen"))?;
    p.call("device").await.map_err(peer_err("device"))?;
    Ok((p, url))
}

/// The two far ends: one of the other library, one ours.
async fn ends(lib: Lib, t: SocketType, url: &str, exes: &PeerExes) -> Result<[Side; 2], String> {
    let mut ends = [Side::c(other(lib), t, exes).await?, Side::ours(t)];
    for e in ends.iter_mut() {
        if t == SocketType::Sub {
            e.subscribe(b"").await?;
        }
        e.dial(url).await?;
    }
    Ok(ends)
}

/// Sends probes from `from` until both `ends` have heard one (publications and surveys
/// are lost while a pipe on the way is not attached), then drains them.
async fn until_heard(from: &mut Side, ends: &mut [Side; 2]) -> Result<(), String> {
    let mut heard = [false, false];
    for n in 0..40u8 {
        from.send(&[b'p', n]).await?;
        for (i, e) in ends.iter_mut().enumerate() {
            while e.recv_within(Duration::from_millis(150)).await?.is_some() {
                heard[i] = true;
            }
        }
        if heard == [true, true] {
            return Ok(());
        }
    }
    Err(format!("the probes never reached both ends: {heard:?}"))
}

/// What runs between our socket and the two far ends once a probe reached both.
type Exchange = for<'a> fn(&'a mut Side, &'a mut [Side; 2]) -> BoxedExchange<'a>;
type BoxedExchange<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Our `head` socket listening, `lib`'s device (`pair`: its front and back raw socket
/// types) in the middle, and the two far ends of type `far` behind it: once a probe has
/// reached both ends, runs `exchange`; then closes everything.
async fn through_device(
    lib: Lib,
    exes: &PeerExes,
    mut head: Side,
    pair: (&str, &str),
    far: SocketType,
    exchange: Exchange,
) -> Result<(), String> {
    let url = head.listen(tcp()).await?;
    let (device, back) = c_device(lib, pair, &url, exes).await?;
    let result = async {
        let mut ends = ends(lib, far, &back, exes).await?;
        let r = async {
            until_heard(&mut head, &mut ends).await?;
            exchange(&mut head, &mut ends).await
        }
        .await;
        for e in ends {
            e.close().await;
        }
        r
    }
    .await;
    device.quit().await;
    head.close().await;
    result
}

async fn survey_through(lib: Lib, exes: &PeerExes) -> Result<(), String> {
    let mut surveyor = Side::ours(SocketType::Surveyor);
    surveyor.set_survey_deadline(3000).await?;
    let pair = ("respondent", "surveyor");
    through_device(lib, exes, surveyor, pair, SocketType::Respondent, |s, e| {
        Box::pin(survey_both(s, e))
    })
    .await
}

/// One survey: both ends answer with their names, and both answers come back.
async fn survey_both(surveyor: &mut Side, ends: &mut [Side; 2]) -> Result<(), String> {
    surveyor.send(b"who").await?;
    for e in ends.iter_mut() {
        if e.recv().await? != b"who" {
            return Err(format!("{} missed the survey", e.who()));
        }
        let name = e.who();
        e.send(name.as_bytes()).await?;
    }
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(String::from_utf8_lossy(&surveyor.recv().await?).into_owned());
    }
    got.sort();
    let mut want: Vec<String> = ends.iter().map(|e| e.who().to_owned()).collect();
    want.sort();
    if got != want {
        return Err(format!("answers {got:?}, want {want:?}"));
    }
    Ok(())
}

async fn publish_through(lib: Lib, exes: &PeerExes) -> Result<(), String> {
    let publisher = Side::ours(SocketType::Pub);
    through_device(
        lib,
        exes,
        publisher,
        ("sub", "pub"),
        SocketType::Sub,
        |p, e| Box::pin(publish_to_both(p, e)),
    )
    .await
}

/// Five publications, one at a time (PUB drops what a busy pipe cannot take): both ends
/// receive each in order.
async fn publish_to_both(publisher: &mut Side, ends: &mut [Side; 2]) -> Result<(), String> {
    for n in 0..5 {
        publisher.send(format!("m-{n}").as_bytes()).await?;
        for e in ends.iter_mut() {
            let got = e.recv().await?;
            if got != format!("m-{n}").as_bytes() {
                return Err(format!("{} got {got:?} as message {n}", e.who()));
            }
        }
    }
    Ok(())
}

async fn bus_reflected(lib: Lib, exes: &PeerExes) -> Result<(), String> {
    let mut reflector = Peer::start(lib, exes).await?;
    let mut nodes = [
        Side::ours(SocketType::Bus),
        Side::c(other(lib), SocketType::Bus, exes).await?,
        Side::ours(SocketType::Bus),
    ];
    let result = async {
        reflector
            .call("open-raw bus")
            .await
            .map_err(peer_err("open-raw"))?;
        let url = reflector
            .call(&format!("listen {}", tcp()))
            .await
            .map_err(peer_err("listen"))?;
        reflector
            .call("reflect")
            .await
            .map_err(peer_err("reflect"))?;
        for n in nodes.iter_mut() {
            n.dial(&url).await?;
        }
        crate::several::each_hears_the_others_once(&mut nodes).await
    }
    .await;
    for n in nodes {
        n.close().await;
    }
    reflector.quit().await;
    result
}

/// The check, with `lib`'s device in the middle.
pub async fn check(lib: Lib, exes: &PeerExes) -> Result<String, String> {
    survey_through(lib, exes)
        .await
        .map_err(|e| format!("SURVEY: {e}"))?;
    publish_through(lib, exes)
        .await
        .map_err(|e| format!("PUB/SUB: {e}"))?;
    bus_reflected(lib, exes)
        .await
        .map_err(|e| format!("BUS reflector: {e}"))?;
    Ok(format!(
        "our SURVEYOR → {l} device → {o} and our RESPONDENTs, both answers back; our PUB → {l} \
         device → {o} and our SUBs, 5 in order; {l} BUS reflector with two of our BUS and \
         one {o}: each message to the two others once, none back",
        l = lib.name(),
        o = other(lib).name(),
    ))
}
