//! Cooperative scheduling: a loop of sends or receives that never has to wait still
//! gives way to the other tasks of its runtime (the pipes' readers and writers), as
//! tokio's own channels and sockets do. Without it, a publisher's tight loop on one
//! thread filled its pipe's queue before the writer ran once and dropped everything
//! past the queue (128 of 10 000 delivered).

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::{fresh_url, Transport};
use sp_net::{Socket, SocketType};
use sp_proto::DropReason;

const MESSAGES: u64 = 10_000;

/// A listener of `listener_type` and a dialer of `dialer_type`, connected over TCP.
async fn pair(listener_type: SocketType, dialer_type: SocketType) -> (Socket, Socket) {
    let listener = Socket::new(listener_type);
    let dialer = Socket::new(dialer_type);
    if dialer_type == SocketType::Sub {
        dialer.subscribe("").unwrap();
    }
    let mut o = dialer.options();
    o.recv_timeout = Some(Duration::from_secs(10));
    dialer.set_options(o);
    let ep = listener
        .listen(&fresh_url(Transport::Tcp, "fairness"))
        .await
        .unwrap();
    dialer.dial(ep.url()).await.unwrap();
    listener.wait_for_pipes(1).await.unwrap();
    dialer.wait_for_pipes(1).await.unwrap();
    (listener, dialer)
}

/// Messages queued at the receiver by [`queued_pull`]: deeper than tokio's budget (128),
/// so that a loop over them could run past it.
const QUEUED: u64 = 1_000;

/// A PUSH and a PULL over TCP with [`QUEUED`] messages (0, 1, ... as big-endian u64)
/// waiting at the PULL, so that none of the receives that follow has to wait.
async fn queued_pull() -> (Socket, Socket) {
    let (pusher, puller) = pair(SocketType::Push, SocketType::Pull).await;
    let mut o = puller.protocol_options();
    o.set_recv_queue(QUEUED as usize).unwrap();
    puller.set_protocol_options(o);
    for i in 0..QUEUED {
        pusher.send(i.to_be_bytes().to_vec()).await.unwrap();
    }
    // Bounded wait (yielding) until every message is queued.
    for _ in 0..1_000_000 {
        if puller.stats().protocol.msgs_in == QUEUED {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(puller.stats().protocol.msgs_in, QUEUED);
    (pusher, puller)
}

// `tokio::test` runs on the current-thread runtime: one thread for the loop, the
// writer and the reader.
#[tokio::test]
async fn a_tight_publish_loop_lets_the_pipe_writer_run() {
    let (publisher, subscriber) = pair(SocketType::Pub, SocketType::Sub).await;
    for i in 0..MESSAGES {
        publisher.send(i.to_be_bytes().to_vec()).await.unwrap();
    }
    let stats = publisher.stats().protocol;
    let busy = stats.dropped(DropReason::PipeBusy);
    assert_eq!(
        stats.msgs_out + busy,
        MESSAGES,
        "every message sent or counted"
    );
    assert!(
        stats.msgs_out >= MESSAGES / 2,
        "only {} of {MESSAGES} reached the pipe ({busy} dropped as busy)",
        stats.msgs_out
    );
    // Everything handed to the pipe arrives in order, or is dropped by the subscriber
    // as its queue overflows (it keeps the newest, so the last one always arrives).
    let mut last = None;
    let mut received = 0;
    while received + subscriber.stats().protocol.dropped(DropReason::QueueFull) < stats.msgs_out {
        let m = subscriber.recv().await.unwrap();
        let i = u64::from_be_bytes(m.body[..].try_into().unwrap());
        assert!(last < Some(i), "out of order: {i} after {last:?}");
        last = Some(i);
        received += 1;
    }
}

#[tokio::test]
async fn a_tight_receive_loop_lets_other_tasks_run() {
    let (_pusher, puller) = queued_pull().await;
    let other_ran = Arc::new(AtomicBool::new(false));
    let flag = other_ran.clone();
    let other = tokio::spawn(async move { flag.store(true, Ordering::Release) });
    for _ in 0..QUEUED {
        puller.recv().await.unwrap();
    }
    assert!(
        other_ran.load(Ordering::Acquire),
        "{QUEUED} ready receives never gave way to another task"
    );
    other.await.unwrap();
}

#[tokio::test]
async fn a_receive_dropped_while_it_gives_way_loses_no_message() {
    let (_pusher, puller) = queued_pull().await;
    // Each receive is polled once and dropped if not ready (as `now_or_never` or a
    // hand-written select would), which is exactly when it gives way for the budget
    // (every 128 operations): a receive that had taken its message before giving way
    // would lose it here.
    let (mut next, mut gave_way) = (0u64, 0u32);
    for _ in 0..QUEUED * 4 {
        if next == QUEUED {
            break;
        }
        let mut recv = std::pin::pin!(puller.recv());
        match std::future::poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx))).await {
            Poll::Ready(m) => {
                let i = u64::from_be_bytes(m.unwrap().body[..].try_into().unwrap());
                assert_eq!(i, next, "a message was lost");
                next += 1;
            }
            Poll::Pending => {
                gave_way += 1;
                // Back to the runtime, which renews the task's budget.
                tokio::task::yield_now().await;
            }
        }
    }
    assert_eq!(next, QUEUED, "every queued message received");
    assert!(
        gave_way > 0,
        "the loop never gave way, so nothing was tested"
    );
}
