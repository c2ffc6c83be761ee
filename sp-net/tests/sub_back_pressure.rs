//! SUB back-pressure over a real TCP connection (`sp_proto::Options::sub_back_pressure`,
//! spec sp-pubsub PUB-R5): a subscriber whose user has not received yet, with a receive
//! queue of one message, pauses its pipe instead of dropping, so every message the
//! publisher sent arrives, in order, once the user receives. The same set-up without
//! back-pressure drops at the subscriber (`queue_full`), which shows the test can fail.

mod common;

use std::time::Duration;

use common::{fresh_url, Transport};
use sp_net::{Socket, SocketType};
use sp_proto::DropReason;

const MESSAGES: u64 = 1_000;

/// A PUB (deep enough per-pipe queue that it drops nothing) and a SUB with a receive
/// queue of one, connected over TCP, after the publisher sent [`MESSAGES`] messages.
async fn published(back_pressure: bool) -> (Socket, Socket) {
    let publisher = Socket::new(SocketType::Pub);
    let mut o = publisher.options();
    o.send_queue = 2 * MESSAGES as usize;
    publisher.set_options(o);
    let subscriber = Socket::new(SocketType::Sub);
    subscriber.subscribe("").unwrap();
    let mut o = subscriber.options();
    o.recv_timeout = Some(Duration::from_secs(10));
    subscriber.set_options(o);
    let mut p = subscriber.protocol_options();
    p.set_recv_queue(1).unwrap();
    p.sub_back_pressure = back_pressure;
    subscriber.set_protocol_options(p);
    let ep = publisher
        .listen(&fresh_url(Transport::Tcp, "sub-back-pressure"))
        .await
        .unwrap();
    subscriber.dial(ep.url()).await.unwrap();
    publisher.wait_for_pipes(1).await.unwrap();
    subscriber.wait_for_pipes(1).await.unwrap();
    for i in 0..MESSAGES {
        publisher.send(i.to_be_bytes().to_vec()).await.unwrap();
    }
    (publisher, subscriber)
}

#[tokio::test]
async fn a_back_pressuring_subscriber_receives_everything_in_order() {
    let (publisher, subscriber) = published(true).await;
    for i in 0..MESSAGES {
        let m = subscriber.recv().await.unwrap();
        assert_eq!(u64::from_be_bytes(m.body[..].try_into().unwrap()), i);
    }
    assert_eq!(
        subscriber.stats().protocol.dropped(DropReason::QueueFull),
        0
    );
    assert_eq!(publisher.stats().protocol.dropped(DropReason::PipeBusy), 0);
}

#[tokio::test]
async fn without_back_pressure_the_same_subscriber_drops() {
    let (_publisher, subscriber) = published(false).await;
    // Bounded wait (yielding) until the subscriber's reader has overflowed its queue.
    for _ in 0..1_000_000 {
        if subscriber.stats().protocol.dropped(DropReason::QueueFull) > 0 {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("no queue_full drop without back-pressure");
}
