//! Protocol conveniences on top of [`Socket`]: contexts (many requests or surveys in
//! flight on one socket), `request`, `survey`, and subscriptions.

use sp_proto::subscriptions::NotSubscribed;
use sp_proto::{AnyProtocol, ContextId, Instant, Message, RecvError, SendError, SendErrorKind};

use crate::error::Error;
use crate::socket::Socket;

fn no_context(msg: Message) -> SendError {
    SendError::new(SendErrorKind::NoSuchContext, msg)
}

fn ctx_send(
    p: &mut AnyProtocol,
    ctx: ContextId,
    now: Instant,
    msg: Message,
) -> Result<(), SendError> {
    match p {
        AnyProtocol::Req(r) => r.send_in(ctx, now, msg),
        AnyProtocol::Rep(r) => r.send_in(ctx, now, msg),
        AnyProtocol::Surveyor(s) => s.send_in(ctx, now, msg),
        AnyProtocol::Respondent(r) => r.send_in(ctx, now, msg),
        _ => Err(no_context(msg)),
    }
}

fn ctx_recv(p: &mut AnyProtocol, ctx: ContextId, now: Instant) -> Result<Message, RecvError> {
    match p {
        AnyProtocol::Req(r) => r.recv_in(ctx, now),
        AnyProtocol::Rep(r) => r.recv_in(ctx, now),
        AnyProtocol::Surveyor(s) => s.recv_in(ctx, now),
        AnyProtocol::Respondent(r) => r.recv_in(ctx, now),
        _ => Err(RecvError::NoSuchContext),
    }
}

fn ctx_open(p: &mut AnyProtocol) -> Option<ContextId> {
    match p {
        AnyProtocol::Req(r) => Some(r.open_context()),
        AnyProtocol::Rep(r) => Some(r.open_context()),
        AnyProtocol::Surveyor(s) => s.open_context(),
        AnyProtocol::Respondent(r) => r.open_context(),
        _ => None,
    }
}

fn ctx_close(p: &mut AnyProtocol, ctx: ContextId) {
    match p {
        AnyProtocol::Req(r) => {
            r.close_context(ctx);
        }
        AnyProtocol::Rep(r) => {
            r.close_context(ctx);
        }
        AnyProtocol::Surveyor(s) => {
            s.close_context(ctx);
        }
        AnyProtocol::Respondent(r) => {
            r.close_context(ctx);
        }
        _ => {}
    }
}

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
            .send_with(msg.into(), move |p, now, m| ctx_send(p, id, now, m))
            .await
    }

    /// Receives on this context (the reply, the next request, the next response).
    pub async fn recv(&self) -> Result<Message, Error> {
        let id = self.id;
        self.socket
            .recv_with(move |p, now| ctx_recv(p, id, now))
            .await
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let id = self.id;
        self.socket.with_protocol(|p| ctx_close(p, id));
    }
}

/// The responses to one survey, ending at the survey deadline.
#[derive(Debug)]
pub struct Survey {
    ctx: Context,
}

impl Survey {
    /// The next response, or `None` once the deadline has passed.
    pub async fn next(&mut self) -> Result<Option<Message>, Error> {
        match self.ctx.recv().await {
            Ok(m) => Ok(Some(m)),
            Err(Error::TimedOut | Error::WrongState) => Ok(None),
            Err(e) => Err(e),
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
        let id = self.with_protocol(ctx_open).ok_or(Error::NotSupported)?;
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
        self.with_protocol(|p| match p {
            AnyProtocol::Sub(s) => {
                s.subscribe(topic);
                Ok(())
            }
            _ => Err(Error::NotSupported),
        })
    }

    /// SUB: removes a subscription; an error if it was not subscribed.
    pub fn unsubscribe(&self, topic: impl AsRef<[u8]>) -> Result<(), Error> {
        self.with_protocol(|p| match p {
            AnyProtocol::Sub(s) => s
                .unsubscribe(topic)
                .map_err(|NotSubscribed| Error::NotSubscribed),
            _ => Err(Error::NotSupported),
        })
    }
}
