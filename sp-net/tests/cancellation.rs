//! Cancellation safety: dropping a `recv` future (a timeout, a `select!` branch that
//! lost) loses no message, and a dropped `request` leaves no stale state behind.

mod common;

use std::time::Duration;

use common::connected;
use sp_net::SocketType;

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_dropped_recv_loses_no_message() {
    tokio::time::timeout(LIMIT, async {
        let (pull, push) = connected(SocketType::Pull, "tcp://127.0.0.1:0", SocketType::Push).await;
        for round in 0..50u32 {
            // A recv that is abandoned while it waits...
            let abandoned = tokio::time::timeout(Duration::from_millis(1), pull.recv()).await;
            assert!(abandoned.is_err(), "nothing was sent yet");
            // ...and one racing a message in a select!: whichever branch wins, the message
            // is received exactly once.
            push.send(round.to_be_bytes().to_vec()).await.unwrap();
            let got = tokio::select! {
                m = pull.recv() => m.unwrap(),
                () = tokio::task::yield_now() => pull.recv().await.unwrap(),
            };
            assert_eq!(&got.body[..], round.to_be_bytes());
        }
        assert_eq!(pull.stats().protocol.dropped_total(), 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_dropped_request_does_not_disturb_the_next_one() {
    tokio::time::timeout(LIMIT, async {
        let (rep, req) =
            connected(SocketType::Rep, "inproc://cancel-request", SocketType::Req).await;
        // Give up on a request before it is answered.
        let gave_up = tokio::time::timeout(Duration::from_millis(20), req.request("first")).await;
        assert!(gave_up.is_err());
        // The server still sees it and answers; that late reply must not be delivered to
        // the next request.
        let q = rep.recv().await.unwrap();
        assert_eq!(q.body, "first");
        rep.send("answer to first").await.unwrap();
        let server = tokio::spawn(async move {
            let q = rep.recv().await.unwrap();
            rep.send(q.body).await.unwrap();
        });
        assert_eq!(req.request("second").await.unwrap().body, "second");
        server.await.unwrap();
        assert!(req.stats().protocol.dropped(sp_proto::DropReason::StaleId) >= 1);
    })
    .await
    .unwrap();
}

/// sp-overview §14.3: what the user had not read when it closed the socket is discarded
/// and counted as `socket_closed`, not delivered.
#[tokio::test]
async fn a_close_counts_what_the_user_did_not_read() {
    tokio::time::timeout(LIMIT, async {
        let (pull, push) =
            connected(SocketType::Pull, "inproc://close-counts", SocketType::Push).await;
        for i in 0..3u8 {
            push.send(vec![i]).await.unwrap();
        }
        assert_eq!(&pull.recv().await.unwrap().body[..], [0]);
        // Wait, without sleeping, until the other two are queued unread.
        let arrived = std::sync::Arc::new(tokio::sync::Notify::new());
        let (probe, signal) = (pull.clone(), arrived.clone());
        let watch = pull.on_change(move || {
            if probe.stats().protocol.msgs_in == 3 {
                signal.notify_one();
            }
        });
        arrived.notified().await;
        drop(watch);
        pull.close().await;
        let s = pull.stats().protocol;
        assert_eq!(s.delivered, 1);
        assert_eq!(s.dropped(sp_proto::DropReason::SocketClosed), 2);
        assert_eq!(s.dropped_total(), 2);
    })
    .await
    .unwrap();
}
