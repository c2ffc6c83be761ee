//! Protocol options shared by every state machine, with nanomsg-compatible meanings,
//! DESIGN.md's defaults, and validated setters.

use core::time::Duration;

use crate::wire::backtrace::DEFAULT_MAX_TTL;

/// Default REQ resend interval (nanomsg, NNG and mangos agree on 60 s).
pub const DEFAULT_RESEND_INTERVAL: Duration = Duration::from_secs(60);
/// Default survey deadline (1 s everywhere; the draft RFC's 60 s is not what anyone runs).
pub const DEFAULT_SURVEY_DEADLINE: Duration = Duration::from_secs(1);
/// Default number of messages a socket queues for the user per pipe before it stops
/// reading that pipe (or, for SUB without `sub_back_pressure`, drops the oldest).
pub const DEFAULT_RECV_QUEUE: usize = 128;

/// An option value that is out of range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// The TTL must be within 1..=255.
    #[error("TTL {0} out of range 1..=255")]
    Ttl(u32),
    /// A queue length must be at least 1.
    #[error("queue length must be at least 1")]
    QueueLen,
    /// A duration that must be non-zero was zero.
    #[error("{0} must be greater than zero")]
    ZeroDuration(&'static str),
}

/// Options read by the protocol state machines.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Options {
    max_ttl: u8,
    resend_interval: Option<Duration>,
    survey_deadline: Duration,
    recv_queue: usize,
    /// Fail fast when nobody can answer: a cooked `send` (REQ, SURVEYOR, PUSH, PUB, BUS,
    /// PAIR) while no pipe is attached fails with
    /// [`SendErrorKind::NoPeers`](crate::SendErrorKind::NoPeers) instead of waiting for
    /// a pipe (REQ holds the request, PUSH and PAIR say `WouldBlock`) or going nowhere
    /// (SURVEYOR starts a survey nobody hears, PUB and BUS send to no one). Replies
    /// (REP, RESPONDENT) and raw sockets are not affected. mangos: `OptionFailNoPeers`.
    pub fail_no_peers: bool,
    /// PAIR v1: polyamorous mode (many peers; sends go to the message's pipe, or any).
    pub pair1_polyamorous: bool,
    /// SUB: when the receive queue is full, drop the oldest queued message (true, NNG's
    /// default) or the newly arrived one (false). Irrelevant under
    /// [`sub_back_pressure`](Self::sub_back_pressure), which drops nothing.
    pub sub_prefer_new: bool,
    /// SUB: when a pipe's receive queue is full, stop reading that pipe until the user
    /// has received from it (true), so the connection pushes back on the publisher and
    /// the publisher's per-pipe queue, not the SUB, drops; or drop as
    /// [`sub_prefer_new`](Self::sub_prefer_new) says (false, the default). nanomsg's SUB
    /// behaves as with true. Switching it off resumes the paused pipes.
    pub sub_back_pressure: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_ttl: DEFAULT_MAX_TTL,
            resend_interval: Some(DEFAULT_RESEND_INTERVAL),
            survey_deadline: DEFAULT_SURVEY_DEADLINE,
            recv_queue: DEFAULT_RECV_QUEUE,
            fail_no_peers: false,
            pair1_polyamorous: false,
            sub_prefer_new: true,
            sub_back_pressure: false,
        }
    }
}

impl Options {
    /// Maximum hops: backtrace words at REP/RESPONDENT, hop count at PAIR v1. Default 8.
    pub fn max_ttl(&self) -> u8 {
        self.max_ttl
    }

    /// Sets the TTL (1..=255).
    pub fn set_max_ttl(&mut self, ttl: u32) -> Result<(), OptionError> {
        match u8::try_from(ttl) {
            Ok(t) if t >= 1 => {
                self.max_ttl = t;
                Ok(())
            }
            _ => Err(OptionError::Ttl(ttl)),
        }
    }

    /// REQ resend interval; `None` disables resending (but a lost pipe still triggers an
    /// immediate resend). Default 60 s.
    pub fn resend_interval(&self) -> Option<Duration> {
        self.resend_interval
    }

    /// Sets the resend interval (`None` or zero disables timed resends).
    pub fn set_resend_interval(&mut self, ivl: Option<Duration>) {
        self.resend_interval = ivl.filter(|d| !d.is_zero());
    }

    /// Survey deadline. Default 1 s.
    pub fn survey_deadline(&self) -> Duration {
        self.survey_deadline
    }

    /// Sets the survey deadline (must be non-zero).
    pub fn set_survey_deadline(&mut self, d: Duration) -> Result<(), OptionError> {
        if d.is_zero() {
            return Err(OptionError::ZeroDuration("survey deadline"));
        }
        self.survey_deadline = d;
        Ok(())
    }

    /// Messages queued per pipe for the user. Default 128.
    pub fn recv_queue(&self) -> usize {
        self.recv_queue
    }

    /// Sets the per-pipe receive queue length (at least 1).
    pub fn set_recv_queue(&mut self, n: usize) -> Result<(), OptionError> {
        if n == 0 {
            return Err(OptionError::QueueLen);
        }
        self.recv_queue = n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_ranges() {
        let mut o = Options::default();
        assert_eq!(o.max_ttl(), 8);
        assert_eq!(o.resend_interval(), Some(Duration::from_secs(60)));
        assert_eq!(o.survey_deadline(), Duration::from_secs(1));
        assert_eq!(o.set_max_ttl(0), Err(OptionError::Ttl(0)));
        assert_eq!(o.set_max_ttl(256), Err(OptionError::Ttl(256)));
        assert!(o.set_max_ttl(255).is_ok());
        o.set_resend_interval(Some(Duration::ZERO));
        assert_eq!(o.resend_interval(), None);
        assert!(o.set_survey_deadline(Duration::ZERO).is_err());
        assert!(o.set_recv_queue(0).is_err());
    }
}
