//! Survey deadline checks against the real peers: the survey ends at its deadline (not
//! before), the end is told apart from a receive timeout and from "no survey" (EFSM),
//! late answers and answers to older surveys are never delivered and (on our side)
//! counted under their own drop reasons, and the default deadline is 1 s.

use std::time::{Duration, Instant};

use sp_net::{Socket, SocketType};
use sp_proto::DropReason;

use crate::check_kit::{c_peer, eventually, ours_recv, peer_err, tcp, SHORT_MS};
use crate::harness::{CallError, Lib, Peer, PeerExes, Side};

/// Respondent indices in a [`SurveyRig`]: one answers in time, one late.
const QUICK: usize = 0;
const LATE: usize = 1;

/// Slack below a deadline or interval for clock granularity (timers never fire early,
/// but the two processes read different clocks at millisecond grain).
pub(crate) const EARLY_SLACK: Duration = Duration::from_millis(20);

/// How an answer that must never be delivered is late.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Late {
    /// To an older survey than the one that last ended (a stale id).
    Stale,
    /// To the survey that just ended at its deadline.
    Expired,
}

/// The two sides of a survey deadline check, one ours and one C: a surveyor with the
/// deadline [`SHORT_MS`] and two connected respondents, [`QUICK`] and [`LATE`].
trait SurveyRig {
    /// The surveyor sends a new survey.
    async fn survey(&mut self, body: &'static [u8]) -> Result<(), String>;
    /// Respondent `i` receives a survey.
    async fn respondent_recv(&mut self, i: usize) -> Result<Vec<u8>, String>;
    /// Respondent `i` answers.
    async fn respond(&mut self, i: usize, body: &'static [u8]) -> Result<(), String>;
    /// The surveyor's next response; `None` once the deadline has ended the survey
    /// (anything else, a receive timeout included, is an error).
    async fn response(&mut self) -> Result<Option<Vec<u8>>, String>;
    /// With no survey in progress a receive fails at once with EFSM (ours: WrongState),
    /// not with a timeout.
    async fn no_survey(&mut self) -> Result<(), String>;
    /// The late respondent has just answered (`how` late): checks that the answer is not
    /// delivered, and on our side that it is counted under its own drop reason.
    async fn undelivered(&mut self, how: Late) -> Result<(), String>;
}

async fn expect_response(rig: &mut impl SurveyRig, want: &[u8]) -> Result<(), String> {
    let got = rig.response().await?;
    if got.as_deref() != Some(want) {
        return Err(format!(
            "surveyor got {got:?}, want {:?}",
            String::from_utf8_lossy(want)
        ));
    }
    Ok(())
}

/// Waits for the survey sent at `start` to end, and checks it ended at its deadline.
async fn expect_end(rig: &mut impl SurveyRig, start: Instant) -> Result<(), String> {
    if let Some(m) = rig.response().await? {
        return Err(format!("surveyor got {m:?}, want the end at the deadline"));
    }
    let elapsed = start.elapsed();
    let deadline = Duration::from_millis(u64::from(SHORT_MS));
    if elapsed + EARLY_SLACK < deadline || elapsed > Duration::from_secs(3) {
        return Err(format!(
            "the survey ended after {elapsed:?}, deadline {SHORT_MS} ms"
        ));
    }
    Ok(())
}

/// The script of both survey deadline checks.
async fn survey_deadline_script(rig: &mut impl SurveyRig) -> Result<(), String> {
    // Survey 1: both hear it, the quick one answers; the late one keeps it unanswered.
    rig.survey(b"survey-1").await?;
    for i in [QUICK, LATE] {
        let got = rig.respondent_recv(i).await?;
        if got != b"survey-1" {
            return Err(format!("respondent got {got:?}"));
        }
    }
    rig.respond(QUICK, b"quick-1").await?;
    expect_response(rig, b"quick-1").await?;
    // Survey 2 replaces it and runs to its deadline.
    let start = Instant::now();
    rig.survey(b"survey-2").await?;
    if rig.respondent_recv(QUICK).await? != b"survey-2" {
        return Err("the quick respondent missed survey-2".to_owned());
    }
    rig.respond(QUICK, b"quick-2").await?;
    expect_response(rig, b"quick-2").await?;
    expect_end(rig, start).await?;
    rig.no_survey().await?;
    // The late respondent answers survey 1 (an older id), then survey 2 (expired).
    rig.respond(LATE, b"late-1").await?;
    rig.undelivered(Late::Stale).await?;
    if rig.respondent_recv(LATE).await? != b"survey-2" {
        return Err("the late respondent missed survey-2".to_owned());
    }
    rig.respond(LATE, b"late-2").await?;
    rig.undelivered(Late::Expired).await?;
    // Survey 3 works, and nothing late turns up in it.
    let start = Instant::now();
    rig.survey(b"survey-3").await?;
    if rig.respondent_recv(QUICK).await? != b"survey-3" {
        return Err("the quick respondent missed survey-3".to_owned());
    }
    rig.respond(QUICK, b"quick-3").await?;
    expect_response(rig, b"quick-3").await?;
    expect_end(rig, start).await
}

/// A C surveyor's receive with no survey: EFSM at once.
async fn c_no_survey(surveyor: &mut Peer) -> Result<(), String> {
    let start = Instant::now();
    match surveyor.recv_timeout(2000).await {
        Err(CallError::Peer { name, .. }) if name == "EFSM" => {}
        other => {
            return Err(format!(
                "with no survey the surveyor got {other:?}, want EFSM"
            ))
        }
    }
    if start.elapsed() > Duration::from_secs(1) {
        return Err(format!(
            "EFSM came after {:?}, not at once",
            start.elapsed()
        ));
    }
    Ok(())
}

/// Their surveyor, our respondents.
struct TheirSurveyor {
    surveyor: Peer,
    respondents: [Socket; 2],
}

impl SurveyRig for TheirSurveyor {
    async fn survey(&mut self, body: &'static [u8]) -> Result<(), String> {
        self.surveyor.send(body).await.map_err(peer_err("send"))
    }

    async fn respondent_recv(&mut self, i: usize) -> Result<Vec<u8>, String> {
        // Skips the probes sent while connecting.
        loop {
            let got = ours_recv(&self.respondents[i]).await?;
            if got.first() != Some(&b'p') {
                return Ok(got);
            }
        }
    }

    async fn respond(&mut self, i: usize, body: &'static [u8]) -> Result<(), String> {
        self.respondents[i]
            .send(body)
            .await
            .map_err(|e| e.to_string())
    }

    async fn response(&mut self) -> Result<Option<Vec<u8>>, String> {
        match self.surveyor.recv_timeout(5000).await {
            Ok(body) => Ok(Some(body)),
            // The deadline ends the survey with ETIMEDOUT (a receive timeout would too,
            // but only after 5 s: `expect_end` tells them apart by the time).
            Err(CallError::Peer { name, .. }) if name == "ETIMEDOUT" => Ok(None),
            Err(e) => Err(format!("recv: {e}")),
        }
    }

    async fn no_survey(&mut self) -> Result<(), String> {
        c_no_survey(&mut self.surveyor).await
    }

    async fn undelivered(&mut self, _how: Late) -> Result<(), String> {
        // No survey is in progress: the C surveyor has nowhere to deliver it (survey 3
        // then checks that it does not turn up later).
        c_no_survey(&mut self.surveyor).await
    }
}

pub(crate) async fn survey_their_surveyor(lib: Lib, exes: &PeerExes) -> Result<(), String> {
    let mut surveyor = c_peer(lib, SocketType::Surveyor, exes).await?;
    surveyor
        .opt("survey-deadline", SHORT_MS)
        .await
        .map_err(peer_err("survey-deadline"))?;
    let url = surveyor
        .call(&format!("listen {}", tcp()))
        .await
        .map_err(peer_err("listen"))?;
    let (Side::Ours(quick), Side::Ours(late)) = (
        Side::ours(SocketType::Respondent),
        Side::ours(SocketType::Respondent),
    ) else {
        unreachable!()
    };
    for r in [&quick, &late] {
        drop(r.dial(&url).await.map_err(|e| e.to_string())?);
        tokio::time::timeout(Duration::from_secs(10), r.wait_for_pipes(1))
            .await
            .map_err(|_| "respondent not connected".to_owned())?
            .map_err(|e| e.to_string())?;
    }
    let mut rig = TheirSurveyor {
        surveyor,
        respondents: [quick, late],
    };
    let result = async {
        // The surveyor may not have attached both pipes yet: survey until both hear it.
        let mut heard = [false, false];
        for n in 0..20u8 {
            rig.surveyor
                .send(&[b'p', n])
                .await
                .map_err(peer_err("send"))?;
            for (i, r) in rig.respondents.iter().enumerate() {
                if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(200), r.recv()).await
                {
                    heard[i] = true;
                }
            }
            if heard == [true, true] {
                break;
            }
        }
        if heard != [true, true] {
            return Err("the surveyor never reached both respondents".to_owned());
        }
        survey_deadline_script(&mut rig).await
    }
    .await;
    let TheirSurveyor {
        surveyor,
        respondents: [quick, late],
    } = rig;
    surveyor.quit().await;
    quick.close().await;
    late.close().await;
    result
}

/// Our surveyor (cooked, surveying with plain send/recv so that every error shows),
/// their respondents.
struct OurSurveyor {
    surveyor: Socket,
    respondents: [Peer; 2],
    /// The drop counters (stale id, survey expired) just before the late respondent's
    /// latest answer was sent.
    before_late: (u64, u64),
}

/// Our surveyor's drop counters: (stale id, survey expired).
fn late_drops(s: &Socket) -> (u64, u64) {
    let p = s.stats().protocol;
    (
        p.dropped(DropReason::StaleId),
        p.dropped(DropReason::SurveyExpired),
    )
}

impl SurveyRig for OurSurveyor {
    async fn survey(&mut self, body: &'static [u8]) -> Result<(), String> {
        self.surveyor.send(body).await.map_err(|e| e.to_string())
    }

    async fn respondent_recv(&mut self, i: usize) -> Result<Vec<u8>, String> {
        self.respondents[i]
            .recv_timeout(5000)
            .await
            .map_err(peer_err("recv"))
    }

    async fn respond(&mut self, i: usize, body: &'static [u8]) -> Result<(), String> {
        if i == LATE {
            self.before_late = late_drops(&self.surveyor);
        }
        self.respondents[i]
            .send(body)
            .await
            .map_err(peer_err("send"))
    }

    async fn response(&mut self) -> Result<Option<Vec<u8>>, String> {
        match self.surveyor.recv().await {
            Ok(m) => Ok(Some(m.body.to_vec())),
            Err(sp_net::Error::SurveyExpired) => Ok(None),
            Err(e) => Err(format!(
                "our surveyor: recv gave {e:?}, want a response or SurveyExpired"
            )),
        }
    }

    async fn no_survey(&mut self) -> Result<(), String> {
        let start = Instant::now();
        match self.surveyor.recv().await {
            Err(sp_net::Error::WrongState) if start.elapsed() < Duration::from_secs(1) => Ok(()),
            other => Err(format!(
                "with no survey our surveyor got {other:?} after {:?}, want WrongState at once",
                start.elapsed()
            )),
        }
    }

    async fn undelivered(&mut self, how: Late) -> Result<(), String> {
        let (stale, expired) = self.before_late;
        eventually(&format!("the {how:?} answer counted"), || {
            late_drops(&self.surveyor) != (stale, expired)
        })
        .await?;
        let want = match how {
            Late::Stale => (stale + 1, expired),
            Late::Expired => (stale, expired + 1),
        };
        let got = late_drops(&self.surveyor);
        if got != want {
            return Err(format!(
                "{how:?} answer: drops (stale id, survey expired) went from {:?} to {got:?}, \
                 want {want:?}",
                (stale, expired)
            ));
        }
        Ok(())
    }
}

pub(crate) async fn survey_our_surveyor(lib: Lib, exes: &PeerExes) -> Result<(), String> {
    let surveyor = Socket::new(SocketType::Surveyor);
    let mut o = surveyor.protocol_options();
    o.set_survey_deadline(Duration::from_millis(u64::from(SHORT_MS)))
        .map_err(|e| e.to_string())?;
    surveyor.set_protocol_options(o);
    let mut so = surveyor.options();
    so.recv_timeout = Some(Duration::from_secs(5));
    surveyor.set_options(so);
    let ep = surveyor.listen(tcp()).await.map_err(|e| e.to_string())?;
    let url = ep.url().to_string();
    drop(ep);
    let quick = c_peer(lib, SocketType::Respondent, exes).await?;
    let late = c_peer(lib, SocketType::Respondent, exes).await?;
    let mut rig = OurSurveyor {
        surveyor,
        respondents: [quick, late],
        before_late: (0, 0),
    };
    let result = async {
        for p in &mut rig.respondents {
            p.call(&format!("dial {url}"))
                .await
                .map_err(peer_err("dial"))?;
        }
        tokio::time::timeout(Duration::from_secs(10), rig.surveyor.wait_for_pipes(2))
            .await
            .map_err(|_| "respondents not connected".to_owned())?
            .map_err(|e| e.to_string())?;
        survey_deadline_script(&mut rig).await
    }
    .await;
    let OurSurveyor {
        surveyor,
        respondents: [quick, late],
        ..
    } = rig;
    quick.quit().await;
    late.quit().await;
    surveyor.close().await;
    result
}

/// The default deadline, both ways: a surveyor with no deadline set (ours, then theirs)
/// and one respondent (the other); the survey ends between 1 s and 3 s after it was sent.
pub(crate) async fn default_deadline(lib: Lib, exes: &PeerExes) -> Result<String, String> {
    let mut notes = Vec::new();
    for ours_surveys in [true, false] {
        let (mut surveyor, mut respondent) = if ours_surveys {
            (
                Side::ours(SocketType::Surveyor),
                Side::c(lib, SocketType::Respondent, exes).await?,
            )
        } else {
            (
                Side::c(lib, SocketType::Surveyor, exes).await?,
                Side::ours(SocketType::Respondent),
            )
        };
        let result = async {
            let url = surveyor.listen(tcp()).await?;
            respondent.dial(&url).await?;
            surveyor.wait_connected().await?;
            respondent.wait_connected().await?;
            // Probe until the respondent hears one (the C side may attach late).
            let mut heard = false;
            for n in 0..20u8 {
                surveyor.send(&[b'p', n]).await?;
                if respondent
                    .recv_within(Duration::from_millis(300))
                    .await?
                    .is_some()
                {
                    heard = true;
                    break;
                }
            }
            if !heard {
                return Err("the respondent never heard a survey".to_owned());
            }
            let start = Instant::now();
            surveyor.send(b"survey").await?;
            if respondent.recv().await? != b"survey" {
                return Err("the respondent missed the survey".to_owned());
            }
            respondent.send(b"answer").await?;
            if surveyor.recv().await? != b"answer" {
                return Err("the surveyor missed the answer".to_owned());
            }
            if let Some(m) = surveyor.recv_within(Duration::from_secs(5)).await? {
                return Err(format!("the surveyor got {m:?} after the answer"));
            }
            let elapsed = start.elapsed();
            if elapsed + EARLY_SLACK < Duration::from_secs(1) || elapsed > Duration::from_secs(3) {
                return Err(format!("the survey ended after {elapsed:?}, not at 1 s"));
            }
            Ok(format!(
                "{} surveyor ended after {} ms",
                surveyor.who(),
                elapsed.as_millis()
            ))
        }
        .await;
        surveyor.close().await;
        respondent.close().await;
        notes.push(result?);
    }
    Ok(notes.join("; "))
}
