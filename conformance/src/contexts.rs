//! Contexts against NNG (`nng_ctx`; libnanomsg has none): [`IN_FLIGHT`] conversations at
//! once on each side, NNG's contexts against ours, answered in reverse order, and every
//! answer must land on the context that asked.

use std::time::Duration;

use sp_net::{Context, Socket, SocketType};

use crate::check_kit::{c_peer, peer_err, tcp};
use crate::harness::{Lib, Peer, PeerExes, RECV_LIMIT};
use crate::hex;

/// Contexts in flight on each side.
pub const IN_FLIGHT: usize = 16;

/// At most this many probes before NNG's SURVEYOR is heard (300 ms apart).
const PROBES: u8 = 20;

async fn ctx_send(p: &mut Peer, i: usize, body: &[u8]) -> Result<(), String> {
    p.call(&format!("ctx-send {i} {}", hex::encode(body)))
        .await
        .map(drop)
        .map_err(peer_err("ctx-send"))
}

async fn ctx_recv(p: &mut Peer, i: usize) -> Result<Vec<u8>, String> {
    let h = p
        .call(&format!("ctx-recv {i}"))
        .await
        .map_err(peer_err("ctx-recv"))?;
    hex::decode(&h).ok_or_else(|| "bad hex from the peer".to_owned())
}

async fn ours_ctx_recv(c: &Context) -> Result<Vec<u8>, String> {
    match tokio::time::timeout(RECV_LIMIT, c.recv()).await {
        Ok(Ok(m)) => Ok(m.body.to_vec()),
        Ok(Err(e)) => Err(format!("our context: recv: {e}")),
        Err(_) => Err("our context: nothing received".to_owned()),
    }
}

/// Whether `body` is one of the probes [`theirs_ask`] sends until our RESPONDENT hears
/// NNG's SURVEYOR: `p` and the probe's number.
fn is_probe(body: &[u8]) -> bool {
    matches!(body, [b'p', _])
}

/// A new context of ours receives one message, skipping the probes still on their way
/// when the first was heard (NNG has moved on from those surveys; they stay unanswered).
async fn ours_take_one(s: &Socket) -> Result<(Context, Vec<u8>), String> {
    let c = s.open_context().map_err(|e| e.to_string())?;
    let mut body = ours_ctx_recv(&c).await?;
    // Bounded: at most the probes sent, each received once.
    for _ in 0..PROBES {
        if !is_probe(&body) {
            break;
        }
        body = ours_ctx_recv(&c).await?;
    }
    Ok((c, body))
}

/// Our contexts answer what each got with `answer:<what it got>`, last first.
async fn ours_answer_all(got: Vec<(Context, Vec<u8>)>) -> Result<(), String> {
    for (c, body) in got.into_iter().rev() {
        let mut answer = b"answer:".to_vec();
        answer.extend_from_slice(&body);
        c.send(answer).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// NNG's contexts ask (`ask-<i>` on context `i`), ours answer out of order; each NNG
/// context must get its own answer.
async fn theirs_ask(lib: Lib, exes: &PeerExes, theirs: SocketType) -> Result<(), String> {
    let ours_type = theirs.peer();
    let ours = Socket::new(ours_type);
    let mut c = c_peer(lib, theirs, exes).await?;
    let result = async {
        if theirs == SocketType::Surveyor {
            // The surveys must outlive the whole exchange.
            c.opt("survey-deadline", 8000)
                .await
                .map_err(peer_err("survey-deadline"))?;
        }
        let url = c
            .call(&format!("listen {}", tcp()))
            .await
            .map_err(peer_err("listen"))?;
        drop(ours.dial(url.as_str()).await.map_err(|e| e.to_string())?);
        tokio::time::timeout(RECV_LIMIT, ours.wait_for_pipes(1))
            .await
            .map_err(|_| "not connected".to_owned())?
            .map_err(|e| e.to_string())?;
        c.call(&format!("ctx-open {IN_FLIGHT}"))
            .await
            .map_err(peer_err("ctx-open"))?;
        if theirs == SocketType::Surveyor {
            // A survey is lost while NNG has not attached the pipe: probe until heard.
            let mut heard = false;
            for n in 0..PROBES {
                ctx_send(&mut c, 0, &[b'p', n]).await?;
                if let Ok(Ok(_)) =
                    tokio::time::timeout(Duration::from_millis(300), ours.recv()).await
                {
                    heard = true;
                    break;
                }
            }
            if !heard {
                return Err("our respondent never heard a survey".to_owned());
            }
        }
        // One ask at a time, each received by a new context of ours before the next, but
        // all unanswered until the last: NNG 1.5.2's SURVEYOR queues at most 8 surveys per
        // pipe (a fixed depth in survey.c) and discards the rest, so 16 sent at once lost
        // up to 7 whenever its pipe writer lagged (6 of 20 runs on a loaded machine).
        let mut got = Vec::new();
        for i in 0..IN_FLIGHT {
            ctx_send(&mut c, i, format!("ask-{i}").as_bytes()).await?;
            got.push(ours_take_one(&ours).await?);
        }
        ours_answer_all(got).await?;
        for i in 0..IN_FLIGHT {
            let got = ctx_recv(&mut c, i).await?;
            let want = format!("answer:ask-{i}");
            if got != want.as_bytes() {
                return Err(format!(
                    "NNG context {i} got {:?}, want {want:?}",
                    String::from_utf8_lossy(&got)
                ));
            }
        }
        Ok(())
    }
    .await;
    c.quit().await;
    ours.close().await;
    result
}

/// Our REQ contexts ask [`IN_FLIGHT`] requests at once; NNG's REP contexts take one each
/// and answer last first; each of our requests must get its own answer.
async fn ours_ask(lib: Lib, exes: &PeerExes) -> Result<(), String> {
    let req = Socket::new(SocketType::Req);
    let mut c = c_peer(lib, SocketType::Rep, exes).await?;
    let result = async {
        let url = c
            .call(&format!("listen {}", tcp()))
            .await
            .map_err(peer_err("listen"))?;
        drop(req.dial(url.as_str()).await.map_err(|e| e.to_string())?);
        c.call(&format!("ctx-open {IN_FLIGHT}"))
            .await
            .map_err(peer_err("ctx-open"))?;
        let asking: Vec<_> = (0..IN_FLIGHT)
            .map(|i| {
                let req = req.clone();
                tokio::spawn(async move {
                    let r = tokio::time::timeout(
                        Duration::from_secs(20),
                        req.request(format!("ask-{i}")),
                    )
                    .await;
                    (i, r)
                })
            })
            .collect();
        let mut got = Vec::new();
        for i in 0..IN_FLIGHT {
            got.push(ctx_recv(&mut c, i).await?);
        }
        for (i, body) in got.iter().enumerate().rev() {
            let mut answer = b"answer:".to_vec();
            answer.extend_from_slice(body);
            ctx_send(&mut c, i, &answer).await?;
        }
        for t in asking {
            let (i, r) = t.await.map_err(|e| e.to_string())?;
            let reply = r
                .map_err(|_| format!("request {i}: no reply"))?
                .map_err(|e| format!("request {i}: {e}"))?;
            let want = format!("answer:ask-{i}");
            if reply.body != want.as_bytes() {
                return Err(format!(
                    "our request {i} got {:?}, want {want:?}",
                    reply.body
                ));
            }
        }
        Ok(())
    }
    .await;
    c.quit().await;
    req.close().await;
    result
}

/// The check: NNG REQ, REP and SURVEYOR contexts against ours, [`IN_FLIGHT`] at once.
pub async fn check(lib: Lib, exes: &PeerExes) -> Result<String, String> {
    theirs_ask(lib, exes, SocketType::Req)
        .await
        .map_err(|e| format!("NNG REQ contexts: {e}"))?;
    ours_ask(lib, exes)
        .await
        .map_err(|e| format!("NNG REP contexts: {e}"))?;
    theirs_ask(lib, exes, SocketType::Surveyor)
        .await
        .map_err(|e| format!("NNG SURVEYOR contexts: {e}"))?;
    Ok(format!(
        "{IN_FLIGHT} in flight each way: NNG REQ ctx vs our REP ctx, our REQ ctx vs NNG REP ctx, \
         NNG SURVEYOR ctx vs our RESPONDENT ctx; answered last first, each on its own context"
    ))
}
