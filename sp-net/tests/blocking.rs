//! The blocking API: one socket shared by many threads, and close waking blocked threads.

use std::sync::Arc;
use std::thread;

use sp_net::{BlockingSocket, Error, SocketType};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn many_threads_share_one_socket() {
    assert_send_sync::<BlockingSocket>();
    let pull = Arc::new(BlockingSocket::new(SocketType::Pull));
    let ep = pull.listen("tcp://127.0.0.1:0").unwrap();
    let push = BlockingSocket::new(SocketType::Push);
    push.dial(ep.url()).unwrap();
    push.wait_for_pipes(1).unwrap();

    let senders: Vec<_> = (0..4u8)
        .map(|t| {
            let push = push.clone();
            thread::spawn(move || {
                for i in 0..250u8 {
                    push.send(vec![t, i]).unwrap();
                }
            })
        })
        .collect();
    let receivers: Vec<_> = (0..2)
        .map(|_| {
            let pull = pull.clone();
            thread::spawn(move || {
                (0..500)
                    .map(|_| pull.recv().unwrap().body.to_vec())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let mut got: Vec<Vec<u8>> = receivers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    got.sort();
    let mut want: Vec<Vec<u8>> = (0..4u8)
        .flat_map(|t| (0..250u8).map(move |i| vec![t, i]))
        .collect();
    want.sort();
    assert_eq!(got, want, "every message received exactly once");
}

#[test]
fn close_wakes_a_blocked_receiver() {
    let pull = BlockingSocket::new(SocketType::Pull);
    let waiter = {
        let pull = pull.clone();
        thread::spawn(move || pull.recv())
    };
    // The receiver may or may not have blocked yet; either way it must see Closed.
    pull.close();
    assert!(matches!(waiter.join().unwrap(), Err(Error::Closed)));
}

/// Dropping the last handle of a blocking socket (on a thread outside any runtime) still
/// lets the connections flush what was accepted for sending, within the linger time, as
/// `close` does: a REP that answers and is dropped at once must not lose its reply.
#[test]
fn dropping_a_blocking_socket_flushes_its_last_reply() {
    let limit = Some(std::time::Duration::from_secs(10));
    for round in 0..20 {
        let rep = BlockingSocket::new(SocketType::Rep);
        let mut o = rep.options();
        o.recv_timeout = limit;
        o.send_timeout = limit;
        rep.set_options(o.clone());
        let ep = rep.listen("tcp://127.0.0.1:0").unwrap();
        let server = thread::spawn(move || {
            let q = rep.recv().unwrap();
            rep.send(q.body).unwrap();
            // `rep` is dropped here, right after its reply was accepted.
        });
        let req = BlockingSocket::new(SocketType::Req);
        req.set_options(o);
        req.dial(ep.url()).unwrap();
        req.send(format!("round {round}")).unwrap();
        let reply = req.recv().unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(reply.body, format!("round {round}"));
        server.join().unwrap();
    }
}
