//! The typed sockets: each exposes only what its protocol supports (a PUB has no `recv`,
//! a SUB no `send`; that is checked by the compiler), and they interoperate as usual.

use std::time::Duration;

use sp_net::typed::{Pair1, Pub, Rep, Req, Respondent, Sub, Surveyor};
use sp_net::Error;
use sp_proto::OptionError;

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

#[tokio::test]
async fn a_builder_sets_runtime_and_protocol_options_in_one_chain() {
    let surveyor = Surveyor::builder()
        .deadline(Duration::from_millis(300))
        .recv_timeout(Duration::from_millis(40))
        .reconnect(Duration::from_millis(20), Duration::from_millis(400))
        .fail_no_peers(true)
        .build()
        .unwrap();
    let (o, p) = (surveyor.options(), surveyor.as_socket().protocol_options());
    assert_eq!(o.recv_timeout, Some(Duration::from_millis(40)));
    assert_eq!(
        (o.reconnect_min, o.reconnect_max),
        (Duration::from_millis(20), Duration::from_millis(400))
    );
    assert_eq!(p.survey_deadline(), Duration::from_millis(300));
    assert!(p.fail_no_peers);
    assert!(matches!(
        surveyor.survey("anyone?").await,
        Err(Error::NoPeers)
    ));

    let req = Req::builder()
        .resend_interval(None)
        .recv_queue(4)
        .build()
        .unwrap();
    let p = req.as_socket().protocol_options();
    assert_eq!((p.resend_interval(), p.recv_queue()), (None, 4));
    let rep = Rep::builder().max_ttl(3).build().unwrap();
    assert_eq!(rep.as_socket().protocol_options().max_ttl(), 3);
    assert!(
        !Sub::builder()
            .prefer_new(false)
            .build()
            .unwrap()
            .as_socket()
            .protocol_options()
            .sub_prefer_new
    );
    assert!(
        Sub::builder()
            .back_pressure(true)
            .build()
            .unwrap()
            .as_socket()
            .protocol_options()
            .sub_back_pressure
    );
    assert!(
        Pair1::builder()
            .polyamorous(true)
            .build()
            .unwrap()
            .as_socket()
            .protocol_options()
            .pair1_polyamorous
    );
}

#[tokio::test]
async fn a_builder_reports_the_first_value_out_of_range() {
    assert!(matches!(
        Surveyor::builder().deadline(Duration::ZERO).build(),
        Err(Error::Option(OptionError::ZeroDuration(_)))
    ));
    assert!(matches!(
        Respondent::builder().max_ttl(0).recv_queue(0).build(),
        Err(Error::Option(OptionError::Ttl(0)))
    ));
    assert!(matches!(
        Pub::builder().recv_queue(0).build(),
        Err(Error::Option(OptionError::QueueLen))
    ));
}

#[tokio::test]
async fn a_surveys_deadline_from_the_builder_ends_it_over_tcp() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let surveyor = Surveyor::builder()
            .deadline(Duration::from_millis(150))
            .recv_timeout(Duration::from_millis(20))
            .build()
            .unwrap();
        let ep = surveyor.listen("tcp://127.0.0.1:0").await.unwrap();
        let respondent = Respondent::builder().build().unwrap();
        respondent.dial(ep.url()).await.unwrap();
        surveyor.wait_for_pipes(1).await.unwrap();
        let started = std::time::Instant::now();
        let mut survey = surveyor.survey("ping").await.unwrap();
        let q = respondent.recv().await.unwrap();
        respondent.send(q.body).await.unwrap();
        assert_eq!(survey.next().await.unwrap().unwrap().body, "ping");
        // Many receive timeouts pass inside the deadline; only the deadline ends it.
        assert!(survey.next().await.unwrap().is_none());
        assert!(started.elapsed() >= Duration::from_millis(150));
    })
    .await
    .unwrap();
}
