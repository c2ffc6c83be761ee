//! The typed sockets: each exposes only what its protocol supports (a PUB has no `recv`,
//! a SUB no `send`; that is checked by the compiler), and they interoperate as usual.

use std::time::Duration;

use sp_net::typed::{Pub, Rep, Req, Sub};

#[tokio::test]
async fn typed_request_reply_and_pub_sub() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let rep = Rep::new();
        let ep = rep.listen("tcp://127.0.0.1:0").await.unwrap();
        let req = Req::new();
        req.dial(&ep.url().to_string()).await.unwrap();
        let server = tokio::spawn(async move {
            let q = rep.recv().await.unwrap();
            rep.send(q.body).await.unwrap();
        });
        assert_eq!(req.request("typed").await.unwrap().body, "typed");
        server.await.unwrap();

        let publisher = Pub::new();
        let ep = publisher.listen("inproc://typed-pub").await.unwrap();
        let sub = Sub::new();
        sub.subscribe("a").unwrap();
        sub.dial(&ep.url().to_string()).await.unwrap();
        publisher.wait_for_pipes(1).await.unwrap();
        publisher.send("b-skipped").await.unwrap();
        publisher.send("a-kept").await.unwrap();
        assert_eq!(sub.recv().await.unwrap().body, "a-kept");
    })
    .await
    .unwrap();
}
