//! SUB (subscriber, 0x21): receives from every PUB peer the messages whose body starts
//! with one of its topics (wire-facts §8).
//!
//! Filtering is local: a SUB never sends anything (no subscription forwarding), so `send`
//! is [`SendErrorKind::NotSupported`](crate::SendErrorKind::NotSupported). Topics live in a [`Subscriptions`] radix tree with
//! set semantics (subscribing twice is a no-op; one unsubscribe removes the topic;
//! unsubscribing an unknown topic is [`NotSubscribed`]); the empty topic matches every
//! message. A new SUB has no topics and receives nothing.
//!
//! A message is checked once, on arrival, against the topics in force at that moment: if
//! none matches it is dropped and counted as [`DropReason::Unsubscribed`] and never
//! queued. Changing topics later does not touch messages already queued.
//!
//! Matching messages are fair-queued per pipe by receive priority, `recv_queue` messages
//! per pipe. By default a SUB never back-pressures its publishers: when a pipe's queue is
//! full the oldest queued message is dropped (`sub_prefer_new`, the default, as NNG's
//! `sub:prefnew`) or else the arriving one, counted as [`DropReason::QueueFull`]. With
//! `sub_back_pressure` (off by default) it instead pauses a pipe whose queue is full
//! until the user receives from it, as nanomsg's SUB does: nothing is dropped here, the
//! connection pushes back and the publisher's per-pipe queue drops instead.
//!
//! **Raw SUB does not filter** and passes every message on (NNG's behaviour, so a device
//! forwards everything; nanomsg's raw SUB still filters). Its topics are kept but unused.

use bytes::Bytes;

use super::common::{has_core, receive_only_pipes, Core};
use crate::inbound::{Inbound, OnFull};
use crate::options::Options;
use crate::pipes::PipeId;
use crate::protocol::{Config, Protocol};
use crate::socket_type::SocketType;
use crate::stats::DropReason;
pub use crate::subscriptions::NotSubscribed;
use crate::subscriptions::Subscriptions;
use crate::time::Instant;

/// The SUB state machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sub {
    topics: Subscriptions,
    inbound: Inbound,
    core: Core,
}

fn overflow_policy(options: &Options) -> OnFull {
    if options.sub_back_pressure {
        OnFull::Pause
    } else if options.sub_prefer_new {
        OnFull::DropOldest
    } else {
        OnFull::DropNewest
    }
}

impl Sub {
    /// A new SUB socket, with no subscriptions.
    pub fn new(config: Config) -> Self {
        let inbound = Inbound::new(
            config.options.recv_queue(),
            overflow_policy(&config.options),
        );
        Self {
            topics: Subscriptions::new(),
            inbound,
            core: Core::new(config),
        }
    }

    /// Receives messages whose body starts with `topic` from now on (the empty topic
    /// matches everything). Returns false if `topic` was already subscribed.
    pub fn subscribe(&mut self, topic: impl AsRef<[u8]>) -> bool {
        self.topics.subscribe(topic.as_ref())
    }

    /// Stops receiving `topic`; [`NotSubscribed`] if it was not subscribed.
    pub fn unsubscribe(&mut self, topic: impl AsRef<[u8]>) -> Result<(), NotSubscribed> {
        self.topics.unsubscribe(topic.as_ref())
    }

    /// The topics in force.
    pub fn subscriptions(&self) -> &Subscriptions {
        &self.topics
    }

    /// Compacts the topics into the least memory they need, each subtree laid out
    /// contiguously ([`Subscriptions::shrink_to_fit`]): worth calling after subscribing
    /// many topics at once, as it also speeds up matching.
    pub fn shrink_subscriptions(&mut self) {
        self.topics.shrink_to_fit();
    }

    /// Messages queued for the user.
    pub fn queued(&self) -> usize {
        self.inbound.len()
    }
}

has_core!(Sub { receiver: inbound });

impl Protocol for Sub {
    fn socket_type(&self) -> SocketType {
        SocketType::Sub
    }

    receive_only_pipes!(inbound);

    fn handle_message(&mut self, _now: Instant, pipe: PipeId, payload: Bytes) {
        self.core.arrived(payload.len());
        if !self.core.raw && !self.topics.matches(&payload) {
            self.core.dropped(DropReason::Unsubscribed);
            return;
        }
        self.core.receive_body(&mut self.inbound, pipe, payload);
    }

    fn set_options(&mut self, options: Options) {
        self.inbound.set_capacity(options.recv_queue());
        self.inbound
            .set_on_full(overflow_policy(&options), &mut self.core.events);
        self.core.options = options;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipes::tests::p;
    use crate::pipes::PipeInfo;
    use crate::protocol::Event;

    /// A cooked SUB of all topics with one pipe, p1, and the given options.
    fn sub_with(options: impl FnOnce(&mut Options)) -> Sub {
        let mut config = Config::cooked(1);
        options(&mut config.options);
        let mut s = Sub::new(config);
        s.subscribe("");
        s.handle_pipe_added(Instant::ZERO, p(1), PipeInfo::default())
            .expect("a new pipe");
        s
    }

    fn arrive(s: &mut Sub, bodies: &[&'static str]) {
        for &b in bodies {
            s.handle_message(Instant::ZERO, p(1), Bytes::from_static(b.as_bytes()));
        }
    }

    fn events(s: &mut Sub) -> Vec<Event> {
        core::iter::from_fn(|| s.poll_event()).collect()
    }

    fn recv_all(s: &mut Sub) -> Vec<Bytes> {
        core::iter::from_fn(|| s.recv(Instant::ZERO).ok())
            .map(|m| m.body)
            .collect()
    }

    fn queue_full(s: &Sub) -> u64 {
        s.stats().dropped(DropReason::QueueFull)
    }

    fn set(s: &mut Sub, change: impl FnOnce(&mut Options)) {
        let mut o = s.options().clone();
        change(&mut o);
        s.set_options(o);
    }

    #[test]
    fn back_pressure_pauses_a_full_pipe_and_drops_nothing_whatever_prefer_new_says() {
        for prefer_new in [true, false] {
            let mut s = sub_with(|o| {
                o.set_recv_queue(2).expect("valid");
                o.sub_back_pressure = true;
                o.sub_prefer_new = prefer_new;
            });
            arrive(&mut s, &["a", "b"]);
            assert_eq!(events(&mut s), [Event::PausePipe(p(1))]);
            // What the driver had already read when it paused still arrives, and is kept.
            arrive(&mut s, &["c"]);
            assert!(events(&mut s).is_empty(), "paused once");
            assert_eq!(s.queued(), 3);
            assert_eq!(recv_all(&mut s), ["a", "b", "c"], "publisher order");
            assert_eq!(events(&mut s), [Event::ResumePipe(p(1))]);
            assert_eq!(queue_full(&s), 0);
        }
    }

    #[test]
    fn by_default_a_full_queue_drops_and_never_pauses() {
        let mut s = sub_with(|o| o.set_recv_queue(1).expect("valid"));
        arrive(&mut s, &["old", "new"]);
        assert!(events(&mut s).is_empty());
        assert_eq!(queue_full(&s), 1);
        assert_eq!(recv_all(&mut s), ["new"]);
        let mut s = sub_with(|o| {
            o.set_recv_queue(1).expect("valid");
            o.sub_prefer_new = false;
        });
        arrive(&mut s, &["old", "new"]);
        assert!(events(&mut s).is_empty());
        assert_eq!(recv_all(&mut s), ["old"]);
    }

    #[test]
    fn switching_back_pressure_at_runtime() {
        let mut s = sub_with(|o| {
            o.set_recv_queue(1).expect("valid");
            o.sub_back_pressure = true;
        });
        arrive(&mut s, &["a"]);
        assert_eq!(events(&mut s), [Event::PausePipe(p(1))]);
        // Setting the same options again keeps the full pipe paused.
        set(&mut s, |_| {});
        assert!(events(&mut s).is_empty());
        // Off: the paused pipe resumes, and a full queue drops again (the oldest).
        set(&mut s, |o| o.sub_back_pressure = false);
        assert_eq!(events(&mut s), [Event::ResumePipe(p(1))]);
        arrive(&mut s, &["b"]);
        assert_eq!(queue_full(&s), 1);
        assert!(events(&mut s).is_empty());
        // On again: the next arrival on the full queue pauses instead of dropping.
        set(&mut s, |o| o.sub_back_pressure = true);
        assert!(events(&mut s).is_empty(), "nothing was paused");
        arrive(&mut s, &["c"]);
        assert_eq!(events(&mut s), [Event::PausePipe(p(1))]);
        assert_eq!(queue_full(&s), 1);
        // A longer queue makes room: the pipe resumes without a recv.
        set(&mut s, |o| o.set_recv_queue(4).expect("valid"));
        assert_eq!(events(&mut s), [Event::ResumePipe(p(1))]);
        assert_eq!(recv_all(&mut s), ["b", "c"]);
    }
}
