//! `fail_no_peers` (mangos' `OptionFailNoPeers`): a cooked send with no pipe attached
//! fails at once with `Error::NoPeers` on every socket that sends to peers, and succeeds
//! again once a peer is connected.

mod common;

use std::time::Duration;

use common::{connected, FIRST_SIDES};
use sp_net::{Error, Socket, SocketType};

/// Every test waits on events, but a bug must fail the test rather than hang it.
const LIMIT: Duration = Duration::from_secs(20);

fn fail_fast(s: &Socket) {
    let mut p = s.protocol_options();
    p.fail_no_peers = true;
    s.set_protocol_options(p);
}

#[tokio::test]
async fn every_sender_fails_at_once_without_peers_and_sends_with_one() {
    tokio::time::timeout(LIMIT, async {
        for ty in FIRST_SIDES {
            let alone = Socket::new(ty);
            fail_fast(&alone);
            let r = alone.send("anyone?").await;
            assert!(matches!(r, Err(Error::NoPeers)), "{ty:?} alone: {r:?}");

            let (listener, dialer) = connected(ty.peer(), "tcp://127.0.0.1:0", ty).await;
            fail_fast(&dialer);
            dialer
                .send("hello")
                .await
                .unwrap_or_else(|e| panic!("{ty:?} with a peer: {e}"));
            drop(listener);
        }
        // Replies are not affected: a REP has nobody to fail for.
        let rep = Socket::new(SocketType::Rep);
        fail_fast(&rep);
        assert!(!matches!(rep.send("reply").await, Err(Error::NoPeers)));
    })
    .await
    .unwrap();
}
