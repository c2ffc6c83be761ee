//! Devices over real sockets: REQ -> raw REP | device | raw REQ -> REP, a BUS reflector
//! hub, and the type checks.

use std::time::Duration;

use sp_net::device::{device, reflector, DeviceError};
use sp_net::{Socket, SocketType};

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn request_reply_through_a_device_keeps_backtraces() {
    tokio::time::timeout(LIMIT, async {
        // client REQ -> front (raw REP) | device | back (raw REQ) -> server REP
        let front = Socket::new_raw(SocketType::Rep);
        let back = Socket::new_raw(SocketType::Req);
        let front_ep = front.listen("tcp://127.0.0.1:0").await.unwrap();
        let back_ep = back.listen("inproc://device-back").await.unwrap();
        let dev = device(&front, &back).unwrap();

        let server = Socket::new(SocketType::Rep);
        server.dial(back_ep.url()).await.unwrap();
        let clients: Vec<_> = (0..3).map(|_| Socket::new(SocketType::Req)).collect();
        for c in &clients {
            c.dial(front_ep.url()).await.unwrap();
        }
        server.wait_for_pipes(1).await.unwrap();
        for c in &clients {
            c.wait_for_pipes(1).await.unwrap();
        }
        let srv = tokio::spawn(async move {
            for _ in 0..6 {
                let q = server.recv().await.unwrap();
                let mut a = b"re: ".to_vec();
                a.extend_from_slice(&q.body);
                server.send(a).await.unwrap();
            }
        });
        for round in 0..2 {
            for (i, c) in clients.iter().enumerate() {
                let r = c.request(format!("{round}/{i}")).await.unwrap();
                assert_eq!(
                    r.body,
                    format!("re: {round}/{i}"),
                    "each reply returns to its requester"
                );
            }
        }
        srv.await.unwrap();
        dev.stop();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn bus_reflector_hub_never_echoes_to_the_sender() {
    tokio::time::timeout(LIMIT, async {
        let hub = Socket::new_raw(SocketType::Bus);
        let ep = hub.listen("tcp://127.0.0.1:0").await.unwrap();
        let _r = reflector(&hub).unwrap();
        let leaves: Vec<_> = (0..3).map(|_| Socket::new(SocketType::Bus)).collect();
        for l in &leaves {
            l.dial(ep.url()).await.unwrap();
            l.wait_for_pipes(1).await.unwrap();
        }
        hub.wait_for_pipes(3).await.unwrap();
        leaves[0].send("hello").await.unwrap();
        for l in &leaves[1..] {
            assert_eq!(l.recv().await.unwrap().body, "hello");
        }
        // The sender gets nothing back: a later message from another leaf is the next
        // thing it sees.
        leaves[1].send("second").await.unwrap();
        assert_eq!(leaves[0].recv().await.unwrap().body, "second");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn devices_check_their_sockets() {
    let cooked = Socket::new(SocketType::Rep);
    let raw_req = Socket::new_raw(SocketType::Req);
    assert!(matches!(
        device(&cooked, &raw_req),
        Err(DeviceError::NotRaw(SocketType::Rep))
    ));
    let raw_pub = Socket::new_raw(SocketType::Pub);
    assert!(matches!(
        device(&raw_pub, &raw_req),
        Err(DeviceError::Mismatch { .. })
    ));
    assert!(matches!(
        reflector(&raw_req),
        Err(DeviceError::NotSelfPeer(SocketType::Req))
    ));
}
