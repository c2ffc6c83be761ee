//! The pieces of the service-discovery demo: the discovery daemon (SURVEYOR), a service
//! (RESPONDENT + REP), the routing client (REQ with send priorities) and the scripted demo
//! that strings them together. `tests/service_discovery.rs` includes this file with
//! `#[path]` and drives the same functions with short deadlines.
//!
//! The wire is plain SP over TCP with ASCII bodies (see the example's header comment and
//! `docs/service-discovery.md`):
//!
//! - survey body (daemon to services): `service query`
//! - response body (service to daemon): `<name>|<address>`, e.g.
//!   `oracle-a@new-york|tcp://127.0.0.1:40001`
//! - request body (client to service): anything; reply body: `The answer is 42`

// Shared by the example and its test, each of which uses only a part.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use sp_net::stats::PipeEvent;
use sp_net::{Endpoint, Error, PipeId, Priority, Socket, SocketType};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::task::JoinHandle;

/// The survey the daemon sends each round.
pub(crate) const SURVEY_BODY: &str = "service query";
/// What every service answers to any request.
pub(crate) const ANSWER: &str = "The answer is 42";
/// Default daemon port (the seed's `PORT`).
pub(crate) const DEFAULT_PORT: u16 = 5555;
/// Default survey deadline (the seed's `DEADLINE`).
pub(crate) const DEFAULT_DEADLINE: Duration = Duration::from_millis(5000);
/// Default pause between rounds (the seed's `INTERVAL`).
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_millis(2000);
/// Send priority of providers in the client's own site.
pub(crate) const LOCAL_PRIORITY: u8 = 1;
/// Send priority of providers elsewhere.
pub(crate) const REMOTE_PRIORITY: u8 = 2;

/// The discovered services: name to REQ/REP address, sorted by name.
pub(crate) type ServiceMap = BTreeMap<String, String>;

/// Whether a survey body is the discovery query (a trailing NUL, as C peers often send
/// `strlen + 1` bytes, is accepted).
pub(crate) fn is_query(body: &[u8]) -> bool {
    let body = body.strip_suffix(b"\0").unwrap_or(body);
    body == SURVEY_BODY.as_bytes()
}

/// Parses a survey response `name|address`. `None` for anything else (not UTF-8, no `|`,
/// an empty part); a trailing NUL is tolerated.
pub(crate) fn parse_answer(body: &[u8]) -> Option<(String, String)> {
    let body = body.strip_suffix(b"\0").unwrap_or(body);
    let text = std::str::from_utf8(body).ok()?;
    let (name, address) = text.split_once('|')?;
    let (name, address) = (name.trim(), address.trim());
    if name.is_empty() || address.is_empty() {
        return None;
    }
    Some((name.to_owned(), address.to_owned()))
}

/// The site of a service name `service@site`, if it has one.
pub(crate) fn site_of(name: &str) -> Option<&str> {
    name.rsplit_once('@').map(|(_, site)| site)
}

/// `host:port` of a `tcp://host:port` address (what the transport reports as the peer).
fn host_port(address: &str) -> &str {
    address.strip_prefix("tcp://").unwrap_or(address)
}

/// Everything the demo can fail with.
#[derive(Debug)]
pub(crate) enum DemoError {
    /// The daemon's port is taken.
    PortInUse(String),
    /// A socket operation failed.
    Socket(&'static str, Error),
    /// Something expected did not happen in time.
    Timeout(String),
    /// Writing the report failed.
    Output(io::Error),
}

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PortInUse(url) => write!(
                f,
                "{url} is already in use (another discovery daemon?); \
                 pick another port with --port N, or --port 0 for any free port"
            ),
            Self::Socket(what, e) => write!(f, "{what}: {e}"),
            Self::Timeout(what) => write!(f, "timed out waiting for {what}"),
            Self::Output(e) => write!(f, "writing the report: {e}"),
        }
    }
}

impl std::error::Error for DemoError {}

impl From<io::Error> for DemoError {
    fn from(e: io::Error) -> Self {
        Self::Output(e)
    }
}

fn sock(what: &'static str) -> impl FnOnce(Error) -> DemoError {
    move |e| DemoError::Socket(what, e)
}

/// Waits for `fut` at most `limit`, naming `what` if it does not finish.
async fn within<T>(
    limit: Duration,
    what: impl Into<String>,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, DemoError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| DemoError::Timeout(what.into()))
}

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
    surveyor: Socket,
    url: String,
    deadline: Duration,
}

impl Daemon {
    /// Binds the daemon at `tcp://host:port` (port 0: any free port) with this survey
    /// deadline.
    pub(crate) async fn bind(host: &str, port: u16, deadline: Duration) -> Result<Self, DemoError> {
        let surveyor = Socket::new(SocketType::Surveyor);
        let mut o = surveyor.protocol_options();
        o.set_survey_deadline(deadline)
            .map_err(|e| DemoError::Socket("survey deadline", e.into()))?;
        surveyor.set_protocol_options(o);
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
        within(
            limit,
            format!("{n} services to connect to the daemon"),
            self.surveyor.wait_for_pipes(n),
        )
        .await?
        .map_err(sock("daemon"))
    }

    /// Waits until at most `n` respondents are connected (a killed service's connection
    /// has been noticed).
    pub(crate) async fn wait_for_at_most(
        &self,
        n: usize,
        limit: Duration,
    ) -> Result<(), DemoError> {
        within(
            limit,
            format!("the daemon to see at most {n} services"),
            self.surveyor.wait_for_pipes_at_most(n),
        )
        .await?
        .map_err(sock("daemon"))
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

/// What changed between two maps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// New names, with their address.
    pub(crate) discovered: Vec<(String, String)>,
    /// Names that did not answer this round, with their last address.
    pub(crate) undiscovered: Vec<(String, String)>,
    /// Names now answering with another address: (name, old, new).
    pub(crate) moved: Vec<(String, String, String)>,
}

impl Changes {
    /// Whether nothing changed.
    pub(crate) fn is_empty(&self) -> bool {
        self.discovered.is_empty() && self.undiscovered.is_empty() && self.moved.is_empty()
    }
}

/// The changes from `old` to `new`, each list sorted by name.
pub(crate) fn diff(old: &ServiceMap, new: &ServiceMap) -> Changes {
    let mut c = Changes::default();
    for (name, address) in new {
        match old.get(name) {
            None => c.discovered.push((name.clone(), address.clone())),
            Some(before) if before != address => {
                c.moved
                    .push((name.clone(), before.clone(), address.clone()));
            }
            Some(_) => {}
        }
    }
    for (name, address) in old {
        if !new.contains_key(name) {
            c.undiscovered.push((name.clone(), address.clone()));
        }
    }
    c
}

/// A service: a REP socket answering `The answer is 42` and a RESPONDENT dialing the
/// daemon and answering `service query` with `name|address`.
pub(crate) struct Service {
    name: String,
    address: String,
    rep: Socket,
    respondent: Socket,
    tasks: Vec<JoinHandle<()>>,
}

impl Service {
    /// Starts `name` serving REQ/REP on `listen` (e.g. `tcp://127.0.0.1:0`) and answering
    /// the daemon at `daemon_url`.
    pub(crate) async fn start(
        name: &str,
        listen: &str,
        daemon_url: &str,
    ) -> Result<Self, DemoError> {
        let rep = Socket::new(SocketType::Rep);
        let ep = rep.listen(listen).await.map_err(sock("service listen"))?;
        let address = ep.url().to_string();
        drop(ep);
        let respondent = Socket::new(SocketType::Respondent);
        respondent
            .dial(daemon_url)
            .await
            .map_err(sock("service dial"))?;
        let serve = {
            let rep = rep.clone();
            tokio::spawn(async move {
                // Ends when the socket closes.
                while rep.recv().await.is_ok() {
                    if rep.send(ANSWER).await.is_err() {
                        break;
                    }
                }
            })
        };
        let answer = {
            let respondent = respondent.clone();
            let me = format!("{name}|{address}");
            tokio::spawn(async move {
                while let Ok(q) = respondent.recv().await {
                    if is_query(&q.body) && respondent.send(me.clone()).await.is_err() {
                        break;
                    }
                }
            })
        };
        Ok(Self {
            name: name.to_owned(),
            address,
            rep,
            respondent,
            tasks: vec![serve, answer],
        })
    }

    /// The advertised name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The REQ/REP address.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// Kills the service: closes both sockets, so its connections drop.
    pub(crate) async fn kill(self) {
        self.respondent.close().await;
        self.rep.close().await;
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// One answered request: who answered and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The provider's name (or its peer address if unknown).
    pub(crate) provider: String,
    /// The reply body.
    pub(crate) body: String,
}

/// A client change made in response to discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Dial {
    /// Started dialing a provider at a priority.
    Added(String, String, u8),
    /// Stopped dialing a provider that was undiscovered or moved.
    Dropped(String),
}

struct Provider {
    address: String,
    priority: u8,
    endpoint: Endpoint,
}

/// The routing client: one REQ socket dialing every discovered provider, local ones at
/// send priority 1 and the rest at 2, so requests go to local providers while any is
/// connected and fail over to remote ones otherwise.
pub(crate) struct Client {
    req: Socket,
    site: String,
    providers: BTreeMap<String, Provider>,
    events: tokio::sync::broadcast::Receiver<PipeEvent>,
    peers: BTreeMap<PipeId, String>,
}

impl Client {
    /// A client in `site`; requests time out after `request_timeout`.
    pub(crate) fn new(site: &str, request_timeout: Duration) -> Self {
        let req = Socket::new(SocketType::Req);
        let mut o = req.options();
        o.recv_timeout = Some(request_timeout);
        o.send_timeout = Some(request_timeout);
        // Reconnect quickly: a provider that comes back is used again at once.
        o.reconnect_min = Duration::from_millis(50);
        o.reconnect_max = Duration::from_millis(500);
        req.set_options(o);
        // Subscribed before any dial, so every pipe's peer is known.
        let events = req.pipe_events();
        Self {
            req,
            site: site.to_owned(),
            providers: BTreeMap::new(),
            events,
            peers: BTreeMap::new(),
        }
    }

    /// The priority a provider gets: 1 in our site, 2 elsewhere (or without a site).
    pub(crate) fn priority_for(&self, name: &str) -> u8 {
        if site_of(name) == Some(self.site.as_str()) {
            LOCAL_PRIORITY
        } else {
            REMOTE_PRIORITY
        }
    }

    /// Follows the discovered map: dials new providers (at their priority) and stops
    /// dialing those that were undiscovered or moved. Returns what it did, sorted.
    pub(crate) async fn update(&mut self, map: &ServiceMap) -> Result<Vec<Dial>, DemoError> {
        let mut done = Vec::new();
        let gone: Vec<String> = self
            .providers
            .iter()
            .filter(|(name, p)| map.get(*name) != Some(&p.address))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            if let Some(p) = self.providers.remove(&name) {
                p.endpoint.close();
                done.push(Dial::Dropped(name));
            }
        }
        for (name, address) in map {
            if self.providers.contains_key(name) {
                continue;
            }
            let priority = self.priority_for(name);
            // Send priority is copied into endpoints when they are created.
            let mut o = self.req.options();
            o.send_priority = Priority::new(priority).unwrap_or_default();
            self.req.set_options(o);
            let endpoint = self.req.dial(address).await.map_err(sock("client dial"))?;
            self.providers.insert(
                name.clone(),
                Provider {
                    address: address.clone(),
                    priority,
                    endpoint,
                },
            );
            done.push(Dial::Added(name.clone(), address.clone(), priority));
        }
        Ok(done)
    }

    /// Waits until the client has exactly one connection per provider it dials.
    pub(crate) async fn wait_connected(&self, limit: Duration) -> Result<(), DemoError> {
        let n = self.providers.len();
        within(
            limit,
            format!("the client to connect to {n} providers"),
            async {
                self.req.wait_for_pipes(n).await?;
                self.req.wait_for_pipes_at_most(n).await
            },
        )
        .await?
        .map_err(sock("client"))
    }

    /// The priority of a provider the client dials.
    pub(crate) fn priority_of(&self, name: &str) -> Option<u8> {
        self.providers.get(name).map(|p| p.priority)
    }

    fn learn_peers(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(PipeEvent::Added { pipe, peer }) => {
                    self.peers.insert(pipe, peer);
                }
                // Removals and failed handshakes (PipeEvent is non-exhaustive).
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
    }

    fn provider_of(&mut self, pipe: Option<PipeId>) -> String {
        self.learn_peers();
        let peer = pipe.and_then(|p| self.peers.get(&p).cloned()).or_else(|| {
            let pipe = pipe?;
            self.req
                .pipe_stats()
                .into_iter()
                .find(|s| s.pipe == pipe)
                .map(|s| s.peer)
        });
        let Some(peer) = peer else {
            return "an unknown provider".to_owned();
        };
        self.providers
            .iter()
            .find(|(_, p)| host_port(&p.address) == peer)
            .map_or(peer, |(name, _)| name.clone())
    }

    /// Sends `n` requests one after the other and reports who answered each.
    pub(crate) async fn ask(&mut self, n: usize) -> Result<Vec<Answer>, DemoError> {
        let mut answers = Vec::with_capacity(n);
        for i in 1..=n {
            let reply = self
                .req
                .request(format!("question {i}"))
                .await
                .map_err(sock("request"))?;
            let provider = self.provider_of(reply.pipe);
            answers.push(Answer {
                provider,
                body: String::from_utf8_lossy(&reply.body).into_owned(),
            });
        }
        Ok(answers)
    }

    /// One line saying who answered how many requests, at which priority, and with
    /// which replies.
    pub(crate) fn describe(&self, answers: &[Answer]) -> String {
        let mut by: BTreeMap<(u8, &str), usize> = BTreeMap::new();
        for a in answers {
            let p = self.priority_of(&a.provider).unwrap_or(0);
            *by.entry((p, a.provider.as_str())).or_insert(0) += 1;
        }
        let who: Vec<String> = by
            .iter()
            .map(|((p, name), n)| format!("{name} (priority {p}) x{n}"))
            .collect();
        let bodies: std::collections::BTreeSet<String> =
            answers.iter().map(|a| format!("{:?}", a.body)).collect();
        format!(
            "{} requests answered by {}; replies: {}",
            answers.len(),
            who.join(", "),
            bodies.into_iter().collect::<Vec<_>>().join(", ")
        )
    }

    /// Open connections to providers.
    pub(crate) fn connections(&self) -> usize {
        self.req.pipe_count()
    }

    /// Waits until at most `n` connections are open (a killed provider's connection has
    /// been noticed).
    pub(crate) async fn wait_for_at_most(
        &self,
        n: usize,
        limit: Duration,
    ) -> Result<(), DemoError> {
        within(
            limit,
            format!("the client to have at most {n} connections"),
            self.req.wait_for_pipes_at_most(n),
        )
        .await?
        .map_err(sock("client"))
    }

    /// Closes the client.
    pub(crate) async fn close(&self) {
        self.req.close().await;
    }
}

/// Settings of a run.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Interface the daemon binds (`127.0.0.1`, or `*` for all as the seed does).
    pub(crate) host: String,
    /// Daemon port (0: any free port).
    pub(crate) port: u16,
    /// Survey deadline.
    pub(crate) deadline: Duration,
    /// Pause between rounds.
    pub(crate) interval: Duration,
    /// Rounds to run (0: forever, for the daemon and client roles).
    pub(crate) rounds: u32,
    /// Requests the client sends each round.
    pub(crate) requests: usize,
    /// The client's site.
    pub(crate) site: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: DEFAULT_PORT,
            deadline: DEFAULT_DEADLINE,
            interval: DEFAULT_INTERVAL,
            rounds: 6,
            requests: 4,
            site: LOCAL_SITE.to_owned(),
        }
    }
}

/// The client's (local) site in the demo.
pub(crate) const LOCAL_SITE: &str = "new-york";
/// The remote site in the demo.
pub(crate) const REMOTE_SITE: &str = "london";

/// What one round of the demo showed.
#[derive(Clone, Debug)]
pub(crate) struct RoundReport {
    /// Round number, from 1.
    pub(crate) number: u32,
    /// The survey's outcome.
    pub(crate) round: Round,
    /// The change since the previous round.
    pub(crate) changes: Changes,
    /// What the client did about it.
    pub(crate) dials: Vec<Dial>,
    /// The client's answers this round.
    pub(crate) answers: Vec<Answer>,
    /// The scripted action taken after the round, if any.
    pub(crate) action: Option<String>,
    /// The client's answers right after a kill (before the next round).
    pub(crate) after_action: Vec<Answer>,
}

impl RoundReport {
    /// How many answers each provider gave, by provider name.
    pub(crate) fn answers_by_provider(&self) -> BTreeMap<String, usize> {
        let mut by = BTreeMap::new();
        for a in &self.answers {
            *by.entry(a.provider.clone()).or_insert(0) += 1;
        }
        by
    }
}

/// Runs one round: survey, diff against `known` (then updated), let the client follow
/// and ask. Prints the round to `out`.
pub(crate) async fn run_round(
    number: u32,
    daemon: &Daemon,
    known: &mut ServiceMap,
    client: Option<&mut Client>,
    settings: &Settings,
    out: &mut (dyn Write + Send),
) -> Result<RoundReport, DemoError> {
    let round = daemon.survey_round().await?;
    let changes = diff(known, &round.map);
    known.clone_from(&round.map);
    let ended = match round.ended {
        RoundEnd::AllAnswered => "all answered".to_owned(),
        RoundEnd::Deadline => format!("deadline {} ms passed", settings.deadline.as_millis()),
    };
    writeln!(
        out,
        "round {number}: {} of {} connected services answered ({ended}, {} ms)",
        round.map.len(),
        round.asked,
        round.elapsed.as_millis()
    )?;
    if round.malformed > 0 {
        writeln!(
            out,
            "  ignored {} answers that were not name|address",
            round.malformed
        )?;
    }
    for (name, address) in &changes.discovered {
        writeln!(out, "  discovered   {name} at {address}")?;
    }
    for (name, old, new) in &changes.moved {
        writeln!(out, "  moved        {name} from {old} to {new}")?;
    }
    for (name, address) in &changes.undiscovered {
        writeln!(
            out,
            "  undiscovered {name} (was {address}): no answer this round"
        )?;
    }
    if changes.is_empty() {
        writeln!(out, "  no change")?;
    }
    writeln!(out, "  map:")?;
    if round.map.is_empty() {
        writeln!(out, "    (empty)")?;
    }
    let width = round.map.keys().map(String::len).max().unwrap_or(0);
    for (name, address) in &round.map {
        writeln!(out, "    {name:<width$} -> {address}")?;
    }
    let mut dials = Vec::new();
    let mut answers = Vec::new();
    if let Some(client) = client {
        dials = client.update(&round.map).await?;
        for d in &dials {
            match d {
                Dial::Added(name, address, p) => {
                    writeln!(out, "  client dials {name} at {address}, priority {p}")?;
                }
                Dial::Dropped(name) => writeln!(out, "  client drops {name}")?,
            }
        }
        let site = client.site.clone();
        if client.providers.is_empty() {
            writeln!(
                out,
                "  client ({site}): no providers known, no requests sent"
            )?;
        } else {
            // Wait until it is connected to every provider it knows of (and no longer to
            // a killed one), so the answers show routing rather than connection timing.
            // A provider that died since it answered the survey never connects: ask anyway.
            if let Err(e) = client.wait_connected(settings.deadline).await {
                writeln!(out, "  client ({site}): {e}; asking anyway")?;
            }
            match client.ask(settings.requests).await {
                Ok(a) => {
                    writeln!(out, "  client ({site}): {}", client.describe(&a))?;
                    answers = a;
                }
                Err(e) => writeln!(out, "  client ({site}): {e}")?,
            }
        }
    }
    Ok(RoundReport {
        number,
        round,
        changes,
        dials,
        answers,
        action: None,
        after_action: Vec::new(),
    })
}

/// How long to wait for a connection event in the demo before giving up.
fn settle_limit(settings: &Settings) -> Duration {
    settings.deadline.max(Duration::from_secs(2))
}

/// The whole scripted demo on loopback; prints to `out` and returns each round's report.
///
/// Script (by round, after the round is printed): 1: kill `oracle-a@new-york`; 2: kill
/// `oracle-b@new-york` (the last local provider); 3: restart `oracle-a@new-york` on a new
/// port. Later rounds just watch.
pub(crate) async fn run_demo(
    settings: &Settings,
    out: &mut (dyn Write + Send),
) -> Result<Vec<RoundReport>, DemoError> {
    let limit = settle_limit(settings);
    let daemon = Daemon::bind(&settings.host, settings.port, settings.deadline).await?;
    let dial_url = daemon.dial_url();
    writeln!(
        out,
        "discovery daemon at {} (deadline {} ms, interval {} ms, {} rounds)",
        daemon.url(),
        settings.deadline.as_millis(),
        settings.interval.as_millis(),
        settings.rounds
    )?;
    let names = [
        format!("oracle-a@{LOCAL_SITE}"),
        format!("oracle-b@{LOCAL_SITE}"),
        format!("oracle-c@{REMOTE_SITE}"),
        format!("oracle-d@{REMOTE_SITE}"),
    ];
    let mut services: BTreeMap<String, Service> = BTreeMap::new();
    for name in &names {
        let s = Service::start(name, "tcp://127.0.0.1:0", &dial_url).await?;
        writeln!(out, "started {} serving at {}", s.name(), s.address())?;
        services.insert(name.clone(), s);
    }
    daemon.wait_for_services(services.len(), limit).await?;
    let mut client = Client::new(&settings.site, limit);
    writeln!(
        out,
        "client in {} (local providers at priority {LOCAL_PRIORITY}, others at {REMOTE_PRIORITY})",
        settings.site
    )?;
    let mut known = ServiceMap::new();
    let mut reports = Vec::new();
    for number in 1..=settings.rounds {
        writeln!(out)?;
        let mut report = run_round(
            number,
            &daemon,
            &mut known,
            Some(&mut client),
            settings,
            out,
        )
        .await?;
        let kill = |name: &str| (name.to_owned(), format!("killing {name}"));
        let action = match number {
            1 => Some(kill(&names[0])),
            2 => Some((
                names[1].clone(),
                format!("killing {} (the last provider in {LOCAL_SITE})", names[1]),
            )),
            3 => Some((
                names[0].clone(),
                format!("restarting {} on a new port", names[0]),
            )),
            _ => None,
        };
        if let Some((name, text)) = action.filter(|_| number < settings.rounds) {
            writeln!(out, "-- {text}")?;
            let before = daemon.connected();
            if let Some(s) = services.remove(&name) {
                let connections = client.connections();
                s.kill().await;
                daemon.wait_for_at_most(before - 1, limit).await?;
                client
                    .wait_for_at_most(connections.saturating_sub(1), limit)
                    .await?;
                // The REQ socket reroutes at once, before discovery has noticed anything.
                let answers = client.ask(settings.requests).await?;
                writeln!(
                    out,
                    "   client right away, before the next round: {}",
                    client.describe(&answers)
                )?;
                report.after_action = answers;
            } else {
                let s = Service::start(&name, "tcp://127.0.0.1:0", &dial_url).await?;
                writeln!(out, "   {name} now serving at {}", s.address())?;
                services.insert(name, s);
                daemon.wait_for_services(before + 1, limit).await?;
            }
            report.action = Some(text);
        }
        reports.push(report);
        if number < settings.rounds {
            tokio::time::sleep(settings.interval).await;
        }
    }
    writeln!(out)?;
    writeln!(out, "done: {} rounds", settings.rounds)?;
    client.close().await;
    for (_, s) in services {
        s.kill().await;
    }
    daemon.close().await;
    Ok(reports)
}
