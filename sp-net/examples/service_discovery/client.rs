//! The routing client: REQ with send priorities, following the discovered map.

use std::collections::BTreeMap;
use std::time::Duration;

use sp_net::stats::PipeEvent;
use sp_net::typed::Req;
use sp_net::{Endpoint, PipeId, Priority};
use tokio::sync::broadcast::error::TryRecvError;

use super::{
    host_port, site_of, sock, wait_socket, DemoError, ServiceMap, LOCAL_PRIORITY, REMOTE_PRIORITY,
};

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
    req: Req,
    site: String,
    providers: BTreeMap<String, Provider>,
    events: tokio::sync::broadcast::Receiver<PipeEvent>,
    peers: BTreeMap<PipeId, String>,
}

impl Client {
    /// A client in `site`; requests time out after `request_timeout`.
    pub(crate) fn new(site: &str, request_timeout: Duration) -> Result<Self, DemoError> {
        let req = Req::builder()
            .recv_timeout(request_timeout)
            .send_timeout(request_timeout)
            // Reconnect quickly: a provider that comes back is used again at once.
            .reconnect(Duration::from_millis(50), Duration::from_millis(500))
            .build()
            .map_err(sock("client socket"))?;
        // Subscribed before any dial, so every pipe's peer is known.
        let events = req.pipe_events();
        Ok(Self {
            req,
            site: site.to_owned(),
            providers: BTreeMap::new(),
            events,
            peers: BTreeMap::new(),
        })
    }

    /// The client's site.
    pub(crate) fn site(&self) -> &str {
        &self.site
    }

    /// Number of providers the client dials.
    pub(crate) fn provider_count(&self) -> usize {
        self.providers.len()
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
        wait_socket(
            limit,
            format!("the client to connect to {n} providers"),
            "client",
            async {
                self.req.wait_for_pipes(n).await?;
                self.req.wait_for_pipes_at_most(n).await
            },
        )
        .await
    }

    /// The priority of a provider the client dials.
    pub(crate) fn priority_of(&self, name: &str) -> Option<u8> {
        self.providers.get(name).map(|p| p.priority)
    }

    fn learn_peers(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(PipeEvent::Added { pipe, peer, .. }) => {
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
        wait_socket(
            limit,
            format!("the client to have at most {n} connections"),
            "client",
            self.req.wait_for_pipes_at_most(n),
        )
        .await
    }

    /// Closes the client.
    pub(crate) async fn close(&self) {
        self.req.close().await;
    }
}
