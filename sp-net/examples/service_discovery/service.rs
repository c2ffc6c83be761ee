//! A service: answers surveys with its name and address, and requests with the answer.

use sp_net::{Socket, SocketType};
use tokio::task::JoinHandle;

use super::{is_query, sock, DemoError, ANSWER};

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
