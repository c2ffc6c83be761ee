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
        req.dial(ep.url()).await.unwrap();
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
        sub.dial(ep.url()).await.unwrap();
        publisher.wait_for_pipes(1).await.unwrap();
        publisher.send("b-skipped").await.unwrap();
        publisher.send("a-kept").await.unwrap();
        assert_eq!(sub.recv().await.unwrap().body, "a-kept");
    })
    .await
    .unwrap();
}

/// `listen` and `dial` take every address form (`&str`, `String`, `&String`, `Url`,
/// `&Url`) on `Socket`, the typed sockets and `BlockingSocket`; a bad string is still an
/// `Error::Url`.
#[tokio::test]
async fn listen_and_dial_take_strings_and_urls() {
    use sp_net::{Socket, SocketType, Url};
    tokio::time::timeout(Duration::from_secs(20), async {
        let pull = Socket::new(SocketType::Pull);
        let a = pull.listen("tcp://127.0.0.1:0").await.unwrap(); // &str
        let b = pull
            .listen(String::from("tcp://127.0.0.1:0"))
            .await
            .unwrap(); // String
        let c_url = Url::parse("inproc://typed-into-url").unwrap();
        let c = pull.listen(&c_url).await.unwrap(); // &Url
        let pushes = [
            Socket::new(SocketType::Push),
            Socket::new(SocketType::Push),
            Socket::new(SocketType::Push),
            Socket::new(SocketType::Push),
        ];
        pushes[0].dial(a.url()).await.unwrap(); // &Url
        pushes[1].dial(b.url().clone()).await.unwrap(); // Url
        let c_string: &String = &c.url().to_string();
        pushes[2].dial(c_string).await.unwrap(); // &String
        pushes[3].dial(c_url).await.unwrap(); // Url
        pull.wait_for_pipes(4).await.unwrap();

        let rep = Rep::new();
        let ep = rep.listen("tcp://127.0.0.1:0").await.unwrap();
        let req = Req::new();
        req.dial(ep.url()).await.unwrap();
        rep.wait_for_pipes(1).await.unwrap();

        assert!(matches!(
            pull.dial("nonsense").await,
            Err(sp_net::Error::Url(_))
        ));
    })
    .await
    .unwrap();
}

#[test]
fn blocking_listen_and_dial_take_urls() {
    use sp_net::{BlockingSocket, SocketType};
    let pull = BlockingSocket::new(SocketType::Pull);
    let ep = pull.listen(String::from("tcp://127.0.0.1:0")).unwrap();
    let push = BlockingSocket::new(SocketType::Push);
    push.dial(ep.url()).unwrap();
    pull.wait_for_pipes(1).unwrap();
}
