//! The discovery daemon: a SURVEYOR that surveys every connected service each round.

use std::io;
use std::time::{Duration, Instant};

use sp_net::typed::Surveyor;

use super::{parse_answer, sock, wait_socket, DemoError, ServiceMap, SURVEY_BODY};

/// How a survey round ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RoundEnd {
    /// Every respondent connected when the survey left has answered.
    AllAnswered,
    /// The deadline passed first.
    Deadline,
}

/// The outcome of one survey.
#[derive(Clone, Debug)]
pub(crate) struct Round {
    /// Who answered, by name.
    pub(crate) map: ServiceMap,
    /// Respondents connected when the survey was sent.
    pub(crate) asked: usize,
    /// Answers that were not `name|address` (ignored).
    pub(crate) malformed: usize,
    /// How the round ended.
    pub(crate) ended: RoundEnd,
    /// How long it took.
    pub(crate) elapsed: Duration,
}

/// The discovery daemon: a SURVEYOR listening on the daemon port.
pub(crate) struct Daemon {
    surveyor: Surveyor,
    url: String,
    deadline: Duration,
}

impl Daemon {
    /// Binds the daemon at `tcp://host:port` (port 0: any free port) with this survey
    /// deadline.
    pub(crate) async fn bind(host: &str, port: u16, deadline: Duration) -> Result<Self, DemoError> {
        let surveyor = Surveyor::builder()
            .deadline(deadline)
            .build()
            .map_err(sock("survey deadline"))?;
        let wanted = format!("tcp://{host}:{port}");
        let ep = match surveyor.listen(&wanted).await {
            Ok(ep) => ep,
            Err(e) if e.io_kind() == Some(io::ErrorKind::AddrInUse) => {
                return Err(DemoError::PortInUse(wanted))
            }
            Err(e) => return Err(DemoError::Socket("daemon listen", e)),
        };
        let url = ep.url().to_string();
        // The endpoint lives as long as the socket.
        drop(ep);
        Ok(Self {
            surveyor,
            url,
            deadline,
        })
    }

    /// The address services dial (`tcp://host:port`, with the port actually bound).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The address services on this machine dial (the wildcard host replaced by
    /// loopback).
    pub(crate) fn dial_url(&self) -> String {
        self.url
            .replace("tcp://*:", "tcp://127.0.0.1:")
            .replace("tcp://0.0.0.0:", "tcp://127.0.0.1:")
    }

    /// Connected respondents.
    pub(crate) fn connected(&self) -> usize {
        self.surveyor.pipe_count()
    }

    /// Waits until `n` respondents are connected.
    pub(crate) async fn wait_for_services(
        &self,
        n: usize,
        limit: Duration,
    ) -> Result<(), DemoError> {
        wait_socket(
            limit,
            format!("{n} services to connect to the daemon"),
            "daemon",
            self.surveyor.wait_for_pipes(n),
        )
        .await
    }

    /// Waits until at most `n` respondents are connected (a killed service's connection
    /// has been noticed).
    pub(crate) async fn wait_for_at_most(
        &self,
        n: usize,
        limit: Duration,
    ) -> Result<(), DemoError> {
        wait_socket(
            limit,
            format!("the daemon to see at most {n} services"),
            "daemon",
            self.surveyor.wait_for_pipes_at_most(n),
        )
        .await
    }

    /// One round: sends `service query` and gathers `name|address` answers until every
    /// respondent connected at that moment has answered or the deadline passes.
    pub(crate) async fn survey_round(&self) -> Result<Round, DemoError> {
        let started = Instant::now();
        let mut survey = self
            .surveyor
            .survey(SURVEY_BODY)
            .await
            .map_err(sock("survey"))?;
        // Counted after sending: a respondent that joins in between makes the count one
        // too high, which only means waiting for the deadline.
        let asked = self.surveyor.pipe_count();
        let mut answers = 0;
        let mut map = ServiceMap::new();
        let mut malformed = 0;
        let ended = loop {
            if answers >= asked {
                break RoundEnd::AllAnswered;
            }
            // The protocol ends the survey at the deadline; the outer limit is a guard.
            match tokio::time::timeout(self.deadline * 2, survey.next()).await {
                Ok(Ok(Some(m))) => {
                    answers += 1;
                    match parse_answer(&m.body) {
                        Some((name, address)) => {
                            // Two services claiming one name: keep the smallest address,
                            // so the map does not depend on arrival order.
                            let slot = map.entry(name).or_insert_with(|| address.clone());
                            if address < *slot {
                                *slot = address;
                            }
                        }
                        None => malformed += 1,
                    }
                }
                Ok(Ok(None)) | Err(_) => break RoundEnd::Deadline,
                Ok(Err(e)) => return Err(DemoError::Socket("survey", e)),
            }
        };
        Ok(Round {
            map,
            asked,
            malformed,
            ended,
            elapsed: started.elapsed(),
        })
    }

    /// Closes the daemon.
    pub(crate) async fn close(&self) {
        self.surveyor.close().await;
    }
}
