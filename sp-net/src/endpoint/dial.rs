//! The dial loop of every dialer: connect, set up, run the pipe until it ends, then wait
//! out the reconnect backoff (reset whenever a pipe was attached) and start again, until
//! the socket closes.

use sp_proto::backoff::Backoff;
use sp_proto::PipeInfo;

use super::{setup_failed, Connector};
use crate::core::SharedRef;
use crate::pipe::{self, PipeEnd};
use crate::stats::Count;
use crate::url::Url;

/// Runs a dialer until the socket closes (or its task is aborted).
pub(super) async fn run(
    shared: SharedRef,
    mut connector: Box<dyn Connector>,
    url: Url,
    info: PipeInfo,
    mut backoff: Backoff,
) {
    // Whether a set-up failed since the dialer started or last had a pipe: only the
    // first failure of a run is logged at `warn`.
    let mut failing = false;
    loop {
        if shared.is_closed() {
            return;
        }
        let outcome = match connector.connect().await {
            Ok(setup) => {
                shared.count(Count::Connect);
                match setup.await {
                    Ok(conn) => pipe::run(shared.clone(), conn, info).await,
                    Err(e) => {
                        let first = !failing;
                        failing = true;
                        setup_failed(&shared, &e, Some((&url, first)))
                    }
                }
            }
            Err(e) => {
                shared.count(Count::ConnectFailure);
                tracing::debug!(url = %url, error = %e, "connect failed");
                (PipeEnd::Io(e), false)
            }
        };
        match outcome {
            (PipeEnd::SocketClosed, _) => return,
            (_, true) => {
                backoff.reset();
                failing = false;
            }
            _ => {}
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}
