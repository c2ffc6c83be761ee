//! tls+tcp:// over loopback with a certificate made for the test.

use std::time::Duration;

use sp_net::transport::tls::TlsConfig;
use sp_net::{Error, Socket, SocketType};

const LIMIT: Duration = Duration::from_secs(20);

fn test_identity() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (cert.cert.pem(), cert.key_pair.serialize_pem())
}

#[tokio::test]
async fn push_pull_over_tls_with_a_verified_certificate() {
    tokio::time::timeout(LIMIT, async {
        let (cert, key) = test_identity();
        let server =
            TlsConfig::from_pem(Some(cert.as_bytes()), Some(key.as_bytes()), None, false).unwrap();
        let client = TlsConfig::from_pem(None, None, Some(cert.as_bytes()), false).unwrap();
        let pull = Socket::new(SocketType::Pull);
        pull.set_tls(server);
        let ep = pull.listen("tls+tcp://127.0.0.1:0").await.unwrap();
        let port = ep.url().port().unwrap();
        assert_ne!(port, 0, "the bound port is reported");
        let push = Socket::new(SocketType::Push);
        push.set_tls(client);
        push.dial(&format!("tls+tcp://localhost:{port}"))
            .await
            .unwrap();
        push.wait_for_pipes(1).await.unwrap();
        for i in 0..100u32 {
            push.send(i.to_be_bytes().to_vec()).await.unwrap();
        }
        for i in 0..100u32 {
            assert_eq!(&pull.recv().await.unwrap().body[..], i.to_be_bytes());
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn untrusted_certificate_is_refused_and_insecure_accepts_it() {
    tokio::time::timeout(LIMIT, async {
        let (cert, key) = test_identity();
        let pull = Socket::new(SocketType::Pull);
        pull.set_tls(
            TlsConfig::from_pem(Some(cert.as_bytes()), Some(key.as_bytes()), None, false).unwrap(),
        );
        let ep = pull.listen("tls+tcp://127.0.0.1:0").await.unwrap();
        let url = format!("tls+tcp://localhost:{}", ep.url().port().unwrap());

        // A dialer that trusts no CA never gets a pipe, and the listener counts failures.
        let strict = Socket::new(SocketType::Push);
        strict.set_tls(TlsConfig::from_pem(None, None, None, false).unwrap());
        strict.dial(&url).await.unwrap();
        let mut tick = tokio::time::interval(Duration::from_millis(5));
        while pull.stats().socket.handshake_failures == 0 {
            tick.tick().await;
        }
        assert_eq!(strict.pipe_count(), 0);
        strict.close().await;

        let insecure = Socket::new(SocketType::Push);
        insecure.set_tls(TlsConfig::from_pem(None, None, None, true).unwrap());
        insecure.dial(&url).await.unwrap();
        insecure.wait_for_pipes(1).await.unwrap();
        insecure.send("ok").await.unwrap();
        assert_eq!(pull.recv().await.unwrap().body, "ok");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn tls_endpoints_need_settings() {
    let s = Socket::new(SocketType::Pull);
    assert!(matches!(
        s.listen("tls+tcp://127.0.0.1:0").await,
        Err(Error::Tls(_))
    ));
    s.set_tls(TlsConfig::from_pem(None, None, None, true).unwrap());
    assert!(
        matches!(s.listen("tls+tcp://127.0.0.1:0").await, Err(Error::Tls(_))),
        "no certificate to serve"
    );
    assert!(TlsConfig::from_pem(Some(b"not pem"), Some(b"x"), None, false).is_err());
}
