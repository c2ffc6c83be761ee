//! Several peers on one socket at once: PUB fan-out to C subscribers, a BUS mesh of
//! ours and both C libraries, and a SURVEYOR answered by C and Rust respondents together.

use std::time::Duration;

use sp_net::{Socket, SocketType};

use crate::check_kit::tcp;
use crate::harness::{Lib, PeerExes, Side};

/// Subscribers in the fan-out.
const SUBSCRIBERS: usize = 3;
/// Messages the PUB sends.
const PUBLISHED: usize = 10;

fn other(lib: Lib) -> Lib {
    match lib {
        Lib::Nanomsg => Lib::Nng,
        Lib::Nng => Lib::Nanomsg,
    }
}

async fn close_all(sides: Vec<Side>) {
    for s in sides {
        s.close().await;
    }
}

/// Our PUB to [`SUBSCRIBERS`] C SUBs: every subscriber gets every message, in order.
async fn fan_out(lib: Lib, exes: &PeerExes) -> Result<(), String> {
    let Side::Ours(publisher) = Side::ours(SocketType::Pub) else {
        unreachable!()
    };
    let mut subs = Vec::new();
    let result = async {
        let url = publisher
            .listen(tcp())
            .await
            .map_err(|e| e.to_string())?
            .url()
            .to_string();
        for _ in 0..SUBSCRIBERS {
            let mut s = Side::c(lib, SocketType::Sub, exes).await?;
            s.subscribe(b"").await?;
            s.dial(&url).await?;
            subs.push(s);
        }
        tokio::time::timeout(
            Duration::from_secs(10),
            publisher.wait_for_pipes(SUBSCRIBERS),
        )
        .await
        .map_err(|_| "the subscribers did not all connect".to_owned())?
        .map_err(|e| e.to_string())?;
        for n in 0..PUBLISHED {
            publisher
                .send(format!("m-{n}"))
                .await
                .map_err(|e| e.to_string())?;
        }
        for (k, s) in subs.iter_mut().enumerate() {
            for n in 0..PUBLISHED {
                let got = s.recv().await.map_err(|e| format!("subscriber {k}: {e}"))?;
                if got != format!("m-{n}").as_bytes() {
                    return Err(format!("subscriber {k} got {got:?} as message {n}"));
                }
            }
        }
        Ok(())
    }
    .await;
    publisher.close().await;
    close_all(subs).await;
    result
}

/// Receives until `want` (all distinct) have arrived, skipping probes (`p...`); fails
/// on anything else or a repeat.
async fn expect_set(side: &mut Side, who: &str, want: &[Vec<u8>]) -> Result<(), String> {
    let mut seen = vec![false; want.len()];
    for _ in 0..200 {
        if seen.iter().all(|s| *s) {
            return Ok(());
        }
        let got = side.recv().await.map_err(|e| format!("{who}: {e}"))?;
        if got.first() == Some(&b'p') {
            continue;
        }
        match want.iter().position(|w| *w == got) {
            Some(i) if !seen[i] => seen[i] = true,
            _ => return Err(format!("{who} got {got:?} (again or unexpected)")),
        }
    }
    Err(format!("{who}: too many messages"))
}

/// BUS mesh of three: ours, `lib` and the other library, each linked to both others.
/// After probes have crossed every link, each node sends once: each other node gets it
/// exactly once, and nothing comes back to its sender (BUS does not forward).
async fn bus_mesh(lib: Lib, exes: &PeerExes) -> Result<(), String> {
    let mut nodes = [
        Side::ours(SocketType::Bus),
        Side::c(lib, SocketType::Bus, exes).await?,
        Side::c(other(lib), SocketType::Bus, exes).await?,
    ];
    let result = async {
        // 0 listens (1 and 2 dial it); 1 listens (2 dials it).
        let url0 = nodes[0].listen(tcp()).await?;
        let url1 = nodes[1].listen(tcp()).await?;
        nodes[1].dial(&url0).await?;
        nodes[2].dial(&url0).await?;
        nodes[2].dial(&url1).await?;
        each_hears_the_others_once(&mut nodes).await
    }
    .await;
    close_all(Vec::from(nodes)).await;
    result
}

/// BUS nodes already linked (directly or through a reflector): probes until each has
/// heard from every other, then each sends its name once; each other node gets it
/// exactly once, and nothing comes back to its sender.
pub(crate) async fn each_hears_the_others_once(nodes: &mut [Side; 3]) -> Result<(), String> {
    let mut heard = [[false; 3]; 3];
    for n in 0..40u8 {
        for (from, node) in (0u8..).zip(nodes.iter_mut()) {
            node.send(&[b'p', from, n]).await?;
        }
        for (to, node) in nodes.iter_mut().enumerate() {
            while let Some(m) = node.recv_within(Duration::from_millis(100)).await? {
                if let [b'p', from, _] = m[..] {
                    heard[to][usize::from(from)] = true;
                }
            }
        }
        if (0..3).all(|to| (0..3).all(|from| from == to || heard[to][from])) {
            break;
        }
    }
    if !(0..3).all(|to| (0..3).all(|from| from == to || heard[to][from])) {
        return Err(format!("the mesh never formed: heard {heard:?}"));
    }
    // Drain probes still in flight, then each node says its name once.
    for node in nodes.iter_mut() {
        while node
            .recv_within(Duration::from_millis(200))
            .await?
            .is_some()
        {}
    }
    let names: Vec<Vec<u8>> = (0..)
        .zip(nodes.iter())
        .map(|(i, n)| format!("{i}-{}", n.who()).into_bytes())
        .collect();
    for (node, name) in nodes.iter_mut().zip(&names) {
        node.send(name).await?;
    }
    for (i, node) in nodes.iter_mut().enumerate() {
        let want: Vec<Vec<u8>> = names
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, n)| n.clone())
            .collect();
        let who = node.who();
        expect_set(node, who, &want).await?;
        if let Some(m) = node.recv_within(Duration::from_millis(200)).await? {
            return Err(format!("{who} got {m:?} after the two others' messages"));
        }
    }
    Ok(())
}

/// Our SURVEYOR with respondents of `lib`, of the other library and ours: one survey,
/// an answer from each, all three delivered before the deadline.
async fn mixed_survey(lib: Lib, exes: &PeerExes) -> Result<(), String> {
    let surveyor = Socket::new(SocketType::Surveyor);
    let mut o = surveyor.protocol_options();
    o.set_survey_deadline(Duration::from_secs(3))
        .map_err(|e| e.to_string())?;
    surveyor.set_protocol_options(o);
    let mut respondents = vec![
        Side::c(lib, SocketType::Respondent, exes).await?,
        Side::c(other(lib), SocketType::Respondent, exes).await?,
        Side::ours(SocketType::Respondent),
    ];
    let result = async {
        let url = surveyor
            .listen(tcp())
            .await
            .map_err(|e| e.to_string())?
            .url()
            .to_string();
        for r in respondents.iter_mut() {
            r.dial(&url).await?;
        }
        tokio::time::timeout(Duration::from_secs(10), surveyor.wait_for_pipes(3))
            .await
            .map_err(|_| "the respondents did not all connect".to_owned())?
            .map_err(|e| e.to_string())?;
        let survey = surveyor.survey("who").await.map_err(|e| e.to_string())?;
        for r in respondents.iter_mut() {
            if r.recv().await? != b"who" {
                return Err(format!("{} missed the survey", r.who()));
            }
            let name = r.who();
            r.send(name.as_bytes()).await?;
        }
        let mut got: Vec<String> = survey
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .map(|m| String::from_utf8_lossy(&m.body).into_owned())
            .collect();
        got.sort();
        let mut want: Vec<String> = respondents.iter().map(|r| r.who().to_owned()).collect();
        want.sort();
        if got != want {
            return Err(format!("responses {got:?}, want {want:?}"));
        }
        Ok(())
    }
    .await;
    surveyor.close().await;
    close_all(respondents).await;
    result
}

/// The check: fan-out, mesh and mixed survey, with `lib` in the leading C role.
pub async fn check(lib: Lib, exes: &PeerExes) -> Result<String, String> {
    fan_out(lib, exes)
        .await
        .map_err(|e| format!("PUB fan-out: {e}"))?;
    bus_mesh(lib, exes)
        .await
        .map_err(|e| format!("BUS mesh: {e}"))?;
    mixed_survey(lib, exes)
        .await
        .map_err(|e| format!("mixed SURVEYOR: {e}"))?;
    Ok(format!(
        "our PUB → {SUBSCRIBERS} {} SUBs, {PUBLISHED} messages each in order; BUS mesh ours + \
         {} (listening) + {}; our SURVEYOR answered by {}, {} and ours",
        lib.name(),
        lib.name(),
        other(lib).name(),
        lib.name(),
        other(lib).name()
    ))
}
