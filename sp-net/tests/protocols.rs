//! Every protocol pair over every transport, each side listening in turn: the exchange
//! each protocol promises (request/reply, fan-out, survey, bus, pair), over real loopback
//! sockets.

mod common;

use std::time::Duration;

use common::{connected, fresh_url, setup_tls, Transport, FIRST_SIDES};
use sp_net::{Socket, SocketType};

const LIMIT: Duration = Duration::from_secs(30);

/// Connects `a` and `b` over `t`, with `a` listening if `a_listens`.
async fn connect(t: Transport, a: &Socket, b: &Socket, a_listens: bool) {
    setup_tls(t, a, b);
    let (listener, dialer) = if a_listens { (a, b) } else { (b, a) };
    let ep = listener.listen(&fresh_url(t, "matrix")).await.unwrap();
    dialer.dial(ep.url()).await.unwrap();
    drop(ep); // the endpoint lives as long as the socket
    a.wait_for_pipes(1).await.unwrap();
    b.wait_for_pipes(1).await.unwrap();
}

async fn exchange(a_type: SocketType, t: Transport, a_listens: bool) {
    let b_type = a_type.peer();
    let a = Socket::new(a_type);
    let b = Socket::new(b_type);
    if b_type == SocketType::Sub {
        b.subscribe("").unwrap();
    }
    connect(t, &a, &b, a_listens).await;
    let what = format!("{a_type}<->{b_type} over {t:?} (a listens: {a_listens})");
    match a_type {
        SocketType::Pair0 | SocketType::Pair1 | SocketType::Bus => {
            a.send("from a").await.unwrap();
            b.send("from b").await.unwrap();
            assert_eq!(b.recv().await.unwrap().body, "from a", "{what}");
            assert_eq!(a.recv().await.unwrap().body, "from b", "{what}");
        }
        SocketType::Req => {
            let server = tokio::spawn(async move {
                for _ in 0..3 {
                    let q = b.recv().await.unwrap();
                    let mut reply = q.body.to_vec();
                    reply.extend_from_slice(b" answered");
                    b.send(reply).await.unwrap();
                }
            });
            for i in 0..3 {
                let r = a.request(format!("q{i}")).await.unwrap();
                assert_eq!(r.body, format!("q{i} answered"), "{what}");
            }
            server.await.unwrap();
        }
        SocketType::Push => {
            for i in 0..100u32 {
                a.send(i.to_be_bytes().to_vec()).await.unwrap();
            }
            for i in 0..100u32 {
                assert_eq!(&b.recv().await.unwrap().body[..], i.to_be_bytes(), "{what}");
            }
        }
        SocketType::Pub => {
            a.send("news").await.unwrap();
            assert_eq!(b.recv().await.unwrap().body, "news", "{what}");
        }
        SocketType::Surveyor => {
            let mut o = a.protocol_options();
            o.set_survey_deadline(Duration::from_secs(5)).unwrap();
            a.set_protocol_options(o);
            let mut survey = a.survey("who?").await.unwrap();
            let q = b.recv().await.unwrap();
            assert_eq!(q.body, "who?", "{what}");
            b.send("me").await.unwrap();
            assert_eq!(survey.next().await.unwrap().unwrap().body, "me", "{what}");
        }
        other => unreachable!("{other} is not a first side"),
    }
}

async fn matrix(t: Transport) {
    for a in FIRST_SIDES {
        for a_listens in [true, false] {
            tokio::time::timeout(LIMIT, exchange(a, t, a_listens))
                .await
                .unwrap_or_else(|_| panic!("{a} over {t:?} (a listens: {a_listens}) timed out"));
        }
    }
}

#[tokio::test]
async fn every_pair_over_tcp() {
    matrix(Transport::Tcp).await;
}

#[tokio::test]
async fn every_pair_over_ipc() {
    matrix(Transport::Ipc).await;
}

#[tokio::test]
async fn every_pair_over_inproc() {
    matrix(Transport::Inproc).await;
}

#[tokio::test]
async fn every_pair_over_tls() {
    matrix(Transport::Tls).await;
}

#[tokio::test]
async fn every_pair_over_ws() {
    matrix(Transport::Ws).await;
}

#[tokio::test]
async fn every_pair_over_wss() {
    matrix(Transport::Wss).await;
}

#[tokio::test]
async fn many_requests_in_flight_on_one_req_socket() {
    tokio::time::timeout(LIMIT, async {
        let (rep, req) = connected(SocketType::Rep, "tcp://127.0.0.1:0", SocketType::Req).await;
        // A REP server answering with contexts, in reverse order of arrival.
        let server = tokio::spawn(async move {
            let ctxs: Vec<_> = (0..8).map(|_| rep.open_context().unwrap()).collect();
            let mut got = Vec::new();
            for c in &ctxs {
                got.push(c.recv().await.unwrap().body);
            }
            for (c, body) in ctxs.iter().zip(got).rev() {
                c.send(body).await.unwrap();
            }
        });
        let requests = (0..8).map(|i| {
            let req = req.clone();
            async move { req.request(format!("r{i}")).await.unwrap().body }
        });
        let replies = futures_join_all(requests).await;
        for (i, r) in replies.iter().enumerate() {
            assert_eq!(r, &format!("r{i}"), "each reply reaches its own request");
        }
        server.await.unwrap();
    })
    .await
    .unwrap();
}

/// Runs futures concurrently on the current task (avoids a dependency on `futures`).
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    fs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn subscriptions_filter_by_prefix() {
    tokio::time::timeout(LIMIT, async {
        let publisher = Socket::new(SocketType::Pub);
        let ep = publisher.listen("tcp://127.0.0.1:0").await.unwrap();
        let sub = Socket::new(SocketType::Sub);
        sub.subscribe("weather.").unwrap();
        sub.dial(ep.url()).await.unwrap();
        publisher.wait_for_pipes(1).await.unwrap();
        for m in ["sports.x", "weather.rain", "weatherman", "weather.sun"] {
            publisher.send(m).await.unwrap();
        }
        assert_eq!(sub.recv().await.unwrap().body, "weather.rain");
        assert_eq!(sub.recv().await.unwrap().body, "weather.sun");
        assert!(matches!(
            sub.unsubscribe("nope"),
            Err(sp_net::Error::NotSubscribed)
        ));
        assert!(matches!(
            publisher.subscribe("x"),
            Err(sp_net::Error::NotSupported)
        ));
    })
    .await
    .unwrap();
}
