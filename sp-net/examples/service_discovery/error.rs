//! Errors, and waiting with a time limit.

use std::fmt;
use std::io;
use std::time::Duration;

use sp_net::Error;

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

pub(crate) fn sock(what: &'static str) -> impl FnOnce(Error) -> DemoError {
    move |e| DemoError::Socket(what, e)
}

/// Waits for `fut` at most `limit`, naming `what` if it does not finish.
pub(crate) async fn within<T>(
    limit: Duration,
    what: impl Into<String>,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, DemoError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| DemoError::Timeout(what.into()))
}

/// Waits at most `limit` for a socket wait `fut`: [`DemoError::Timeout`] naming `what` if
/// it does not finish, [`DemoError::Socket`] naming `socket` if it fails.
pub(crate) async fn wait_socket(
    limit: Duration,
    what: impl Into<String>,
    socket: &'static str,
    fut: impl std::future::Future<Output = Result<(), Error>>,
) -> Result<(), DemoError> {
    within(limit, what, fut).await?.map_err(sock(socket))
}
