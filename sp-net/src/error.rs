//! Errors of the socket API.

use std::io;

/// Everything a socket operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket was closed.
    #[error("socket closed")]
    Closed,
    /// The send or receive timeout expired (`SocketOptions::send_timeout`,
    /// `SocketOptions::recv_timeout`). A SURVEYOR whose survey's deadline passed returns
    /// [`Error::SurveyExpired`] instead, so that the two can be told apart.
    #[error("operation timed out")]
    TimedOut,
    /// SURVEYOR: the survey's deadline passed, so no more responses to it can arrive.
    /// Returned once, by the first `recv` after the deadline; later ones return
    /// [`Error::WrongState`] until the next survey. nanomsg and NNG report both this and
    /// a receive timeout as `ETIMEDOUT`; here a receive timeout is [`Error::TimedOut`].
    #[error("survey deadline expired")]
    SurveyExpired,
    /// The operation is not valid in the protocol's current state (nanomsg's EFSM):
    /// REQ recv with no request, REP send with nothing to answer, SURVEYOR recv with no
    /// survey.
    #[error("operation not valid in the current protocol state")]
    WrongState,
    /// The socket type cannot do this (send on SUB/PULL, recv on PUB/PUSH).
    #[error("operation not supported by this socket type")]
    NotSupported,
    /// Raw send with a header the protocol cannot route.
    #[error("invalid message header for a raw send")]
    BadHeader,
    /// REQ with fail-fast enabled and no peer connected.
    #[error("no peer connected")]
    NoPeers,
    /// SUB: unsubscribing from a topic that was not subscribed.
    #[error("not subscribed to that topic")]
    NotSubscribed,
    /// Non-blocking operation could not complete now.
    #[error("operation would block")]
    WouldBlock,
    /// The URL is malformed or uses an unknown transport.
    #[error(transparent)]
    Url(#[from] crate::url::UrlError),
    /// An option value is out of range.
    #[error(transparent)]
    Option(#[from] sp_proto::OptionError),
    /// TLS settings are missing or invalid.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// An I/O error from the transport, not tied to one endpoint. `listen` and `dial`
    /// report theirs as [`Error::Listen`] and [`Error::Dial`], which name the URL.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// `listen` failed with an I/O error (address in use, permission denied, a name that
    /// does not resolve, ...). The `Display` text names the operation, the URL and the
    /// OS's reason; [`Error::io_kind`] gives the [`io::ErrorKind`].
    #[error("listen on {url}: {source}")]
    Listen {
        /// The URL given to `listen`.
        url: crate::url::Url,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// `dial` failed with an I/O error before starting (a bad local interface, ...).
    /// Connection failures after that are retried in the background, not returned.
    #[error("dial {url}: {source}")]
    Dial {
        /// The URL given to `dial`.
        url: crate::url::Url,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The kind of the underlying I/O error, for [`Error::Io`], [`Error::Listen`] and
    /// [`Error::Dial`]; `None` for every other error.
    ///
    /// ```
    /// # async fn f(s: &sp_net::Socket) {
    /// match s.listen("tcp://127.0.0.1:5555").await {
    ///     Err(e) if e.io_kind() == Some(std::io::ErrorKind::AddrInUse) => { /* try another */ }
    ///     _ => {}
    /// }
    /// # }
    /// ```
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        self.io_error().map(io::Error::kind)
    }

    /// The underlying I/O error, for [`Error::Io`], [`Error::Listen`] and
    /// [`Error::Dial`].
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Self::Io(e) | Self::Listen { source: e, .. } | Self::Dial { source: e, .. } => Some(e),
            _ => None,
        }
    }

    /// Names `url` and the operation in an I/O error from `listen` (`dial` if not
    /// `listen`); other errors are returned as they are.
    pub(crate) fn at(self, url: &crate::url::Url, listen: bool) -> Self {
        match self {
            Self::Io(source) if listen => Self::Listen {
                url: url.clone(),
                source,
            },
            Self::Io(source) => Self::Dial {
                url: url.clone(),
                source,
            },
            other => other,
        }
    }

    pub(crate) fn from_send(kind: sp_proto::SendErrorKind) -> Self {
        use sp_proto::SendErrorKind as K;
        match kind {
            K::WouldBlock => Self::WouldBlock,
            K::WrongState => Self::WrongState,
            K::NotSupported => Self::NotSupported,
            K::BadHeader => Self::BadHeader,
            K::NoPeers => Self::NoPeers,
            _ => Self::WrongState,
        }
    }

    pub(crate) fn from_recv(e: sp_proto::RecvError) -> Self {
        use sp_proto::RecvError as R;
        match e {
            R::WouldBlock => Self::WouldBlock,
            // sp-proto's only `TimedOut` is the survey deadline.
            R::TimedOut => Self::SurveyExpired,
            R::NotSupported => Self::NotSupported,
            _ => Self::WrongState,
        }
    }
}

/// Why TLS settings could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM input held no usable item.
    #[error("no {0} found in the PEM input")]
    Missing(&'static str),
    /// A PEM input could not be parsed.
    #[error("bad PEM input: {0}")]
    Pem(String),
    /// rustls refused the configuration.
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client certificate verifier could not be built from the CA certificates.
    #[error("cannot verify client certificates: {0}")]
    Verifier(String),
}
