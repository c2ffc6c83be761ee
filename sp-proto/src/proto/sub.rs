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
//! per pipe. A SUB never back-pressures its publishers: when a pipe's queue is full the
//! oldest queued message is dropped (`sub_prefer_new`, the default, as NNG's
//! `sub:prefnew`) or else the arriving one, counted as [`DropReason::QueueFull`].
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
    if options.sub_prefer_new {
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
        self.inbound.set_on_full(overflow_policy(&options));
        self.core.options = options;
    }
}
