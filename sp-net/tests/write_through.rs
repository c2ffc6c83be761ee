//! Write-through on idle TCP and IPC pipes (`transport/direct.rs`): a message sent alone
//! on a quiet pipe is written by its sender, not by the pipe's writer task
//! (`PipeStats::msgs_written_through`), and a stream that mixes written-through messages
//! with queued ones arrives whole and in order.

mod common;

use std::time::Duration;

use common::{connected, fresh_url, Transport};
use sp_net::blocking::BlockingSocket;
use sp_net::{Socket, SocketType};

const ROUND_TRIPS: u64 = 100;

fn written_through(s: &Socket) -> u64 {
    s.pipe_stats().iter().map(|p| p.msgs_written_through).sum()
}

/// REQ/REP ping-pong: every request and every reply finds its pipe quiet (the previous
/// message went a round trip earlier), so nearly all are written through by their senders.
async fn ping_pong_writes_through(t: Transport) {
    let (rep, req) = connected(SocketType::Rep, &fresh_url(t, "wt-pp"), SocketType::Req).await;
    rep.wait_for_pipes(1).await.unwrap();
    for i in 0..ROUND_TRIPS {
        req.send(i.to_be_bytes().to_vec()).await.unwrap();
        let q = rep.recv().await.unwrap();
        rep.send(q.body).await.unwrap();
        let a = req.recv().await.unwrap();
        assert_eq!(a.body[..], i.to_be_bytes()[..]);
    }
    let (sent_req, sent_rep) = (written_through(&req), written_through(&rep));
    // The first message of each side may find its writer task not yet started; a loaded
    // machine may deschedule a writer between its last write and going idle. Most go
    // through all the same.
    assert!(
        sent_req >= ROUND_TRIPS * 9 / 10 && sent_rep >= ROUND_TRIPS * 9 / 10,
        "{t:?}: written through: {sent_req} requests, {sent_rep} replies of {ROUND_TRIPS}"
    );
}

#[tokio::test]
async fn requests_and_replies_on_a_quiet_tcp_pipe_are_written_by_their_senders() {
    ping_pong_writes_through(Transport::Tcp).await;
}

#[tokio::test]
async fn requests_and_replies_on_a_quiet_ipc_pipe_are_written_by_their_senders() {
    ping_pong_writes_through(Transport::Ipc).await;
}

#[tokio::test]
async fn inproc_pipes_are_never_written_through() {
    let (rep, req) = connected(
        SocketType::Rep,
        &fresh_url(Transport::Inproc, "wt-inproc"),
        SocketType::Req,
    )
    .await;
    req.send(&b"q"[..]).await.unwrap();
    let q = rep.recv().await.unwrap();
    rep.send(q.body).await.unwrap();
    req.recv().await.unwrap();
    assert_eq!(written_through(&req) + written_through(&rep), 0);
}

const BURSTS: u64 = 200;
const PER_BURST: u64 = 50;

/// The size of message `seq`: from 8 bytes to past the write-through limit (16 KiB), so
/// that some messages of every burst go to the writer task whatever their timing.
fn size_of(seq: u64) -> usize {
    8 + (seq.wrapping_mul(2_654_435_761) % 24_000) as usize
}

/// The body of message `seq`: its number, then a byte pattern of its own.
fn body_of(seq: u64) -> Vec<u8> {
    let mut b = seq.to_be_bytes().to_vec();
    b.extend((0..size_of(seq) - 8).map(|i| (seq as usize + i) as u8));
    b
}

/// A blocking PUSH (its sender thread is not on the runtime, as a C API caller is not)
/// sends bursts to a PULL; between bursts it waits until the PULL has everything, so the
/// first message of each burst finds the pipe quiet and is written through while the
/// rest of the burst queues behind it for the writer task. Every message must arrive
/// whole and in order.
fn bursts_arrive_whole_and_in_order(t: Transport) {
    let pull = BlockingSocket::new(SocketType::Pull);
    let mut o = pull.options();
    o.recv_timeout = Some(Duration::from_secs(20));
    pull.set_options(o);
    let ep = pull.listen(fresh_url(t, "wt-order")).unwrap();
    let push = BlockingSocket::new(SocketType::Push);
    push.dial(ep.url()).unwrap();
    push.wait_for_pipes(1).unwrap();
    let (ack_tx, ack_rx) = std::sync::mpsc::channel::<u64>();
    let receiver = std::thread::spawn(move || {
        for burst in 0..BURSTS {
            for k in 0..PER_BURST {
                let seq = burst * PER_BURST + k;
                let m = pull.recv().unwrap();
                assert_eq!(m.body.len(), size_of(seq), "message {seq}: length");
                assert!(m.body[..] == body_of(seq)[..], "message {seq}: bytes");
            }
            ack_tx.send(burst).unwrap();
        }
        // Kept open until the counts are read: a closed PULL ends the PUSH's pipe.
        pull
    });
    for burst in 0..BURSTS {
        for k in 0..PER_BURST {
            push.send(body_of(burst * PER_BURST + k)).unwrap();
        }
        assert_eq!(ack_rx.recv().unwrap(), burst);
    }
    let _pull = receiver.join().unwrap();
    let through: u64 = push
        .as_async()
        .pipe_stats()
        .iter()
        .map(|p| p.msgs_written_through)
        .sum();
    // At least the first message of most bursts went through (the receiver's
    // acknowledgement takes far longer than the quiet gap), and not every message did.
    assert!(
        (BURSTS / 2..BURSTS * PER_BURST).contains(&through),
        "{t:?}: {through} of {} written through",
        BURSTS * PER_BURST
    );
}

#[test]
fn bursts_over_tcp_mixing_written_through_and_queued_messages_arrive_in_order() {
    bursts_arrive_whole_and_in_order(Transport::Tcp);
}

#[test]
fn bursts_over_ipc_mixing_written_through_and_queued_messages_arrive_in_order() {
    bursts_arrive_whole_and_in_order(Transport::Ipc);
}
