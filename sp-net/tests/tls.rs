//! tls+tcp:// over loopback with a certificate made for the test.

use std::time::Duration;

use sp_net::stats::PipeEvent;
use sp_net::transport::tls::{ClientAuth, TlsConfig, TlsError};
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

/// The two TLS transports: where to listen and how to dial the bound port.
const TLS_TRANSPORTS: [(&str, &str); 2] = [
    ("tls+tcp://127.0.0.1:0", "tls+tcp://127.0.0.1:{port}"),
    (
        "wss://127.0.0.1:0/identity",
        "wss://127.0.0.1:{port}/identity",
    ),
];

/// A self-signed certificate for `name`: (certificate PEM, key PEM, certificate DER).
fn identity_named(name: &str) -> (String, String, Vec<u8>) {
    let made = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    (
        made.cert.pem(),
        made.key_pair.serialize_pem(),
        made.cert.der().to_vec(),
    )
}

/// Listens on `listen` and returns the URL dialers use.
async fn listen_at(sock: &Socket, (listen, dial): (&str, &str)) -> String {
    let ep = sock.listen(listen).await.unwrap();
    dial.replace("{port}", &ep.url().port().unwrap().to_string())
}

/// The peer certificate of the only pipe of `sock`.
fn only_peer_certificate(sock: &Socket) -> Option<Vec<u8>> {
    let stats = sock.pipe_stats();
    assert_eq!(stats.len(), 1);
    sock.peer_certificates(stats[0].pipe)
        .map(|c| c.end_entity().to_vec())
}

#[tokio::test]
async fn each_side_reads_the_peer_certificate_of_its_pipe_and_clients_can_be_required() {
    tokio::time::timeout(LIMIT, async {
        for transport in TLS_TRANSPORTS {
            let (server_pem, server_key, server_der) = identity_named("localhost");
            let (client_pem, client_key, client_der) = identity_named("client.example");
            let server = TlsConfig::from_pem(
                Some(server_pem.as_bytes()),
                Some(server_key.as_bytes()),
                Some(client_pem.as_bytes()),
                false,
            )
            .unwrap()
            .with_client_auth(ClientAuth::Required)
            .unwrap();
            let pull = Socket::new(SocketType::Pull);
            pull.set_tls(server);
            let mut events = pull.pipe_events();
            let url = listen_at(&pull, transport).await;

            // A client without a certificate is refused by a listener that requires one.
            let anonymous = Socket::new(SocketType::Push);
            anonymous.set_tls(
                TlsConfig::from_pem(None, None, Some(server_pem.as_bytes()), false)
                    .unwrap()
                    .with_server_name("localhost"),
            );
            let mut refused = anonymous.pipe_events();
            anonymous.dial(&url).await.unwrap();
            match refused.recv().await.unwrap() {
                PipeEvent::HandshakeFailed { dialed: true, .. } => {}
                other => panic!("{transport:?}: unexpected {other:?}"),
            }
            anonymous.close().await;
            assert_eq!(pull.pipe_count(), 0, "{transport:?}");

            let push = Socket::new(SocketType::Push);
            push.set_tls(
                TlsConfig::from_pem(
                    Some(client_pem.as_bytes()),
                    Some(client_key.as_bytes()),
                    Some(server_pem.as_bytes()),
                    false,
                )
                .unwrap()
                .with_server_name("localhost"),
            );
            push.dial(&url).await.unwrap();
            let added = loop {
                match events.recv().await.unwrap() {
                    PipeEvent::Added {
                        peer_certificates, ..
                    } => break peer_certificates,
                    PipeEvent::HandshakeFailed { .. } => {} // the anonymous client's retries
                    other => panic!("{transport:?}: unexpected {other:?}"),
                }
            };
            assert_eq!(added.unwrap().end_entity().to_vec(), client_der);

            // The server authorizes by the pipe a message came from.
            push.send("who am I").await.unwrap();
            let msg = pull.recv().await.unwrap();
            let chain = pull.peer_certificates(msg.pipe.unwrap()).unwrap();
            assert_eq!(chain.end_entity().to_vec(), client_der, "{transport:?}");
            assert_eq!(chain.chain().len(), 1);
            // And the client sees the server's.
            assert_eq!(
                only_peer_certificate(&push),
                Some(server_der),
                "{transport:?}"
            );
            push.close().await;
            pull.close().await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn plain_transports_and_clients_not_asked_have_no_peer_certificate() {
    tokio::time::timeout(LIMIT, async {
        // A listener not asking for client certificates sees none, even from a client
        // that has one; over plain TCP neither side has any.
        for (transport, tls) in [
            (TLS_TRANSPORTS[0], true),
            (("tcp://127.0.0.1:0", "tcp://127.0.0.1:{port}"), false),
        ] {
            let pull = Socket::new(SocketType::Pull);
            let push = Socket::new(SocketType::Push);
            if tls {
                let (pem, key, _) = identity_named("localhost");
                let both = TlsConfig::from_pem(
                    Some(pem.as_bytes()),
                    Some(key.as_bytes()),
                    Some(pem.as_bytes()),
                    false,
                )
                .unwrap()
                .with_server_name("localhost");
                pull.set_tls(both.clone());
                push.set_tls(both);
            }
            let url = listen_at(&pull, transport).await;
            push.dial(&url).await.unwrap();
            push.send("x").await.unwrap();
            let msg = pull.recv().await.unwrap();
            assert_eq!(pull.peer_certificates(msg.pipe.unwrap()), None);
            assert_eq!(only_peer_certificate(&push).is_some(), tls);
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_listeners_certificate_is_replaced_without_restarting_it() {
    tokio::time::timeout(LIMIT, async {
        for transport in TLS_TRANSPORTS {
            let (old_pem, old_key, old_der) = identity_named("localhost");
            let (new_pem, new_key, new_der) = identity_named("localhost");
            let trusts_both = || {
                TlsConfig::from_pem(
                    None,
                    None,
                    Some(format!("{old_pem}{new_pem}").as_bytes()),
                    false,
                )
                .unwrap()
                .with_server_name("localhost")
            };
            let server = TlsConfig::from_pem(
                Some(old_pem.as_bytes()),
                Some(old_key.as_bytes()),
                None,
                false,
            )
            .unwrap();
            let pull = Socket::new(SocketType::Pull);
            pull.set_tls(server.clone());
            let url = listen_at(&pull, transport).await;

            let before = Socket::new(SocketType::Push);
            before.set_tls(trusts_both());
            before.dial(&url).await.unwrap();
            before.wait_for_pipes(1).await.unwrap();
            assert_eq!(only_peer_certificate(&before), Some(old_der.clone()));

            // A chain and a key that do not belong together are refused; nothing changes.
            assert!(server
                .set_identity_pem(new_pem.as_bytes(), old_key.as_bytes())
                .is_err());
            server
                .set_identity_pem(new_pem.as_bytes(), new_key.as_bytes())
                .unwrap();

            let after = Socket::new(SocketType::Push);
            after.set_tls(trusts_both());
            after.dial(&url).await.unwrap();
            after.wait_for_pipes(1).await.unwrap();
            assert_eq!(
                only_peer_certificate(&after),
                Some(new_der),
                "{transport:?}"
            );

            // The pipe made before the change is still the same one, and still carries.
            assert_eq!(
                only_peer_certificate(&before),
                Some(old_der),
                "{transport:?}"
            );
            before.send("still up").await.unwrap();
            after.send("new").await.unwrap();
            let mut got = vec![
                pull.recv().await.unwrap().body,
                pull.recv().await.unwrap().body,
            ];
            got.sort();
            assert_eq!(got, ["new", "still up"]);
            assert_eq!(pull.stats().socket.pipes_removed, 0, "{transport:?}");
            assert_eq!(pull.pipe_count(), 2);
        }
    })
    .await
    .unwrap();
}

#[test]
fn client_auth_needs_a_ca_to_verify_with() {
    let (pem, key, _) = identity_named("localhost");
    let no_ca =
        TlsConfig::from_pem(Some(pem.as_bytes()), Some(key.as_bytes()), None, false).unwrap();
    assert!(matches!(
        no_ca.with_client_auth(ClientAuth::Optional),
        Err(TlsError::Missing(_))
    ));
}
