//! Protocol conveniences on top of [`Socket`]: contexts (many requests or surveys in
//! flight on one socket), `request`, `survey`, and subscriptions. Which socket types
//! have them is sp-proto's business ([`Contexts`] and `AnyProtocol::subscribe`): nothing
//! here names a protocol.

use sp_proto::proto::SubscribeError;
use sp_proto::{ContextId, Contexts, Message};

use crate::error::Error;
use crate::socket::Socket;

/// One independent conversation on a REQ, REP, SURVEYOR or RESPONDENT socket (NNG's
/// contexts). Each context has its own request/survey state, so many can be in flight
/// at once; it is closed (cancelling what it had in progress) when dropped.
#[derive(Debug)]
pub struct Context {
    socket: Socket,
    id: ContextId,
}

impl Context {
    /// The context id.
    pub fn id(&self) -> ContextId {
        self.id
    }

    /// Sends on this context (a request, a reply, a survey, or a response).
    pub async fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let id = self.id;
        self.socket
            .send_with(msg.into(), move |p, now, m| p.send_in(id, now, m))
            .await
    }

    /// Receives on this context (the reply, the next request, the next response).
    pub async fn recv(&self) -> Result<Message, Error> {
        let id = self.id;
        self.socket
            .recv_with(move |p, now| p.recv_in(id, now))
            .await
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let id = self.id;
        self.socket.with_protocol(|p| p.close_context(id));
    }
}

/// The responses to one survey, ending at the survey deadline.
#[derive(Debug)]
pub struct Survey {
    ctx: Context,
}

impl Survey {
    /// The next response, or `None` once the deadline has passed. The survey's deadline
    /// bounds the wait: a receive timeout shorter than it does not end the survey.
    pub async fn next(&mut self) -> Result<Option<Message>, Error> {
        loop {
            match self.ctx.recv().await {
                Ok(m) => return Ok(Some(m)),
                Err(Error::SurveyExpired | Error::WrongState) => return Ok(None),
                // `recv` is cancellation-safe: wait on until the deadline.
                Err(Error::TimedOut) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Every response that arrives before the deadline.
    pub async fn collect(mut self) -> Result<Vec<Message>, Error> {
        let mut all = Vec::new();
        while let Some(m) = self.next().await? {
            all.push(m);
        }
        Ok(all)
    }
}

impl Socket {
    /// Opens a context (REQ, REP, SURVEYOR, RESPONDENT in cooked mode).
    pub fn open_context(&self) -> Result<Context, Error> {
        let id = self
            .with_protocol(|p| p.open_context())
            .map_err(|_| Error::NotSupported)?;
        Ok(Context {
            socket: self.clone(),
            id,
        })
    }

    /// REQ: sends `msg` and waits for its reply. Any number of requests may be in flight
    /// on one socket at once, each in its own context.
    pub async fn request(&self, msg: impl Into<Message>) -> Result<Message, Error> {
        let ctx = self.open_context()?;
        ctx.send(msg).await?;
        ctx.recv().await
    }

    /// SURVEYOR: sends a survey and returns its responses as they arrive, until the
    /// deadline. Surveys on one socket may overlap.
    pub async fn survey(&self, msg: impl Into<Message>) -> Result<Survey, Error> {
        let ctx = self.open_context()?;
        ctx.send(msg).await?;
        Ok(Survey { ctx })
    }

    /// SUB: subscribes to messages whose body starts with `topic` (empty = all).
    pub fn subscribe(&self, topic: impl AsRef<[u8]>) -> Result<(), Error> {
        self.with_protocol(|p| p.subscribe(topic))
            .map(drop)
            .map_err(subscribe_error)
    }

    /// SUB: removes a subscription; an error if it was not subscribed.
    pub fn unsubscribe(&self, topic: impl AsRef<[u8]>) -> Result<(), Error> {
        self.with_protocol(|p| p.unsubscribe(topic))
            .map_err(subscribe_error)
    }
}

fn subscribe_error(e: SubscribeError) -> Error {
    match e {
        SubscribeError::NotSubscribed => Error::NotSubscribed,
        _ => Error::NotSupported,
    }
}
