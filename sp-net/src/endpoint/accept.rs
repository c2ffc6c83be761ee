//! The accept loop of every listener: take the next connection, count it, refuse it at
//! the connection limit, else run its set-up and then its pipe in a task of its own.

use tokio::task::JoinSet;

use super::{setup_failed, Acceptor, EndpointConfig};
use crate::core::SharedRef;
use crate::pipe;
use crate::release::{Hold, Holding};
use crate::stats::Count;

/// Runs a listener until its transport stops accepting (or its task is aborted, which
/// also stops its connections). Each connection's task keeps a clone of `hold`, so the
/// endpoint counts as released only once its connections are dropped too.
pub(super) async fn run(
    shared: SharedRef,
    mut acceptor: Box<dyn Acceptor>,
    cfg: EndpointConfig,
    hold: Hold,
) {
    let counted = acceptor.counts_accepts();
    let mut pipes = JoinSet::new();
    loop {
        tokio::select! {
            setup = acceptor.accept() => {
                let Some(setup) = setup else { return };
                if !counted {
                    shared.count(Count::Accept);
                }
                while pipes.try_join_next().is_some() {}
                if pipes.len() >= cfg.max_connections {
                    drop(setup);
                    shared.count(Count::Refused);
                    tracing::warn!("listener at its connection limit; closing a new connection");
                    continue;
                }
                let shared = shared.clone();
                pipes.spawn(Holding::new(async move {
                    // The set-up is boxed (a `Setup`): the task keeps its largest state
                    // for its whole life, and an idle pipe should not pay for a TLS
                    // handshake's.
                    match setup.await {
                        Ok(conn) => pipe::run(shared, conn, cfg.info).await,
                        Err(e) => setup_failed(&shared, &e, None),
                    }
                }, hold.clone()));
            }
            Some(_) = pipes.join_next(), if !pipes.is_empty() => {}
        }
    }
}
