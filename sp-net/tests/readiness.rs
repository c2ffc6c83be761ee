//! Readiness and the change hook (`Socket::readiness`, `Socket::on_change`): what a send
//! and a receive would do now, kept in step with messages, peers and close.

use std::sync::mpsc;
use std::time::Duration;

use sp_net::{BlockingSocket, Error, SocketType};

/// Waits (bounded) for the hook's calls until `cond` holds.
fn until(calls: &mpsc::Receiver<()>, mut cond: impl FnMut() -> bool) {
    for _ in 0..100 {
        if cond() {
            return;
        }
        let _ = calls.recv_timeout(Duration::from_millis(100));
    }
    panic!("condition not reached after 100 hook calls or 10 s");
}

fn hook(s: &BlockingSocket) -> (mpsc::Receiver<()>, sp_net::ChangeWatch) {
    let (tx, rx) = mpsc::channel();
    let watch = s.as_async().on_change(move || {
        let _ = tx.send(());
    });
    (rx, watch)
}

#[test]
fn push_pull_readiness_follows_peers_and_messages() {
    let pull = BlockingSocket::new(SocketType::Pull);
    let push = BlockingSocket::new(SocketType::Push);
    let r = pull.as_async().readiness();
    assert!(matches!(r.recv, Err(Error::WouldBlock)), "{r:?}");
    assert!(matches!(r.send, Err(Error::NotSupported)), "{r:?}");
    let r = push.as_async().readiness();
    assert!(
        matches!(r.send, Err(Error::WouldBlock)),
        "no peer yet: {r:?}"
    );
    assert!(matches!(r.recv, Err(Error::NotSupported)), "{r:?}");

    let (pull_calls, _pull_watch) = hook(&pull);
    let (push_calls, _push_watch) = hook(&push);
    pull.listen("inproc://readiness-pp").unwrap();
    push.dial("inproc://readiness-pp").unwrap();
    until(&push_calls, || push.as_async().readiness().send.is_ok());

    push.send(&b"one"[..]).unwrap();
    until(&pull_calls, || pull.as_async().readiness().recv.is_ok());
    assert_eq!(&pull.recv().unwrap().body[..], b"one");
    assert!(matches!(
        pull.as_async().readiness().recv,
        Err(Error::WouldBlock)
    ));
}

#[test]
fn rep_can_send_only_while_answering() {
    let rep = BlockingSocket::new(SocketType::Rep);
    let req = BlockingSocket::new(SocketType::Req);
    rep.listen("inproc://readiness-rr").unwrap();
    req.dial("inproc://readiness-rr").unwrap();
    assert!(matches!(
        rep.as_async().readiness().send,
        Err(Error::WrongState)
    ));
    let (calls, _watch) = hook(&rep);
    req.send(&b"q"[..]).unwrap();
    until(&calls, || rep.as_async().readiness().recv.is_ok());
    // The probe took nothing: the request is still there.
    assert!(rep.as_async().readiness().recv.is_ok());
    rep.recv().unwrap();
    assert!(rep.as_async().readiness().send.is_ok());
    rep.send(&b"r"[..]).unwrap();
    assert!(matches!(
        rep.as_async().readiness().send,
        Err(Error::WrongState)
    ));
    assert_eq!(&req.recv().unwrap().body[..], b"r");
}

#[test]
fn close_is_ready_both_ways_and_ends_the_hook() {
    let pair = BlockingSocket::new(SocketType::Pair0);
    let probe = pair.as_async().readiness_probe();
    let (calls, _watch) = hook(&pair);
    calls
        .recv_timeout(Duration::from_secs(10))
        .expect("called at once");
    pair.close();
    let r = probe.readiness();
    assert!(matches!(r.recv, Err(Error::Closed)), "{r:?}");
    assert!(matches!(r.send, Err(Error::Closed)), "{r:?}");
    // The hook runs once more after the close, then its task ends and drops `f` (the
    // channel's sender): the receiver sees the disconnect.
    let mut n = 0;
    loop {
        match calls.recv_timeout(Duration::from_secs(10)) {
            Ok(()) => n += 1,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("hook still running after close"),
        }
        assert!(n < 100, "hook keeps running after close");
    }
    assert!(n >= 1, "the hook runs after the close");
}

#[test]
fn dropping_the_watch_stops_the_hook() {
    let pull = BlockingSocket::new(SocketType::Pull);
    let (calls, watch) = hook(&pull);
    calls
        .recv_timeout(Duration::from_secs(10))
        .expect("called at once");
    drop(watch);
    // The aborted task drops `f` (the sender).
    loop {
        match calls.recv_timeout(Duration::from_secs(10)) {
            Ok(()) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("hook not stopped"),
        }
    }
}
