//! PUSH/PULL over real loopback TCP and IPC: delivery, order, reconnect after the
//! listener restarts, max-size rejection, and peer-type refusal.

mod common;

use std::time::Duration;

use common::connected;
use sp_net::{Error, Socket, SocketOptions, SocketType};
use sp_proto::wire::MaxRecvSize;

/// Every test waits on events, but a bug must fail the test rather than hang it.
const LIMIT: Duration = Duration::from_secs(20);

fn ipc_url(tag: &str) -> String {
    let dir = std::env::temp_dir();
    format!(
        "ipc://{}/sp-net-test-{}-{tag}.sock",
        dir.display(),
        std::process::id()
    )
}

async fn round_trip(url: &str) {
    let (pull, push) = connected(SocketType::Pull, url, SocketType::Push).await;
    for i in 0..1000u32 {
        push.send(i.to_be_bytes().to_vec()).await.unwrap();
    }
    for i in 0..1000u32 {
        let m = pull.recv().await.unwrap();
        assert_eq!(&m.body[..], i.to_be_bytes(), "in order, none lost");
    }
    // A message of exactly the default maximum passes.
    let big = vec![7u8; 1024 * 1024];
    push.send(big.clone()).await.unwrap();
    assert_eq!(pull.recv().await.unwrap().body.len(), big.len());
}

#[tokio::test]
async fn push_pull_over_tcp() {
    tokio::time::timeout(LIMIT, round_trip("tcp://127.0.0.1:0"))
        .await
        .unwrap();
}

#[tokio::test]
async fn push_pull_over_ipc() {
    tokio::time::timeout(LIMIT, round_trip(&ipc_url("pp")))
        .await
        .unwrap();
}

/// Sizes around the writer's copy limit (16 KiB) and flush point (64 KiB), interleaved,
/// arrive whole and in order (the write buffer starts empty and grows).
#[tokio::test]
async fn mixed_sizes_keep_order_and_bytes_over_tcp() {
    let run = async {
        let (pull, push) = connected(SocketType::Pull, "tcp://127.0.0.1:0", SocketType::Push).await;
        let sizes = [
            0,
            1,
            16 * 1024,
            16 * 1024 + 1,
            3,
            70 * 1024,
            5,
            64 * 1024,
            2,
        ];
        let body = |i: usize, n: usize| (0..n).map(|k| (i + k) as u8).collect::<Vec<u8>>();
        for round in 0..20 {
            for (i, &n) in sizes.iter().enumerate() {
                push.send(body(round + i, n)).await.unwrap();
            }
        }
        for round in 0..20 {
            for (i, &n) in sizes.iter().enumerate() {
                assert_eq!(pull.recv().await.unwrap().body[..], body(round + i, n)[..]);
            }
        }
    };
    tokio::time::timeout(LIMIT, run).await.unwrap();
}

#[tokio::test]
async fn push_pull_over_inproc() {
    tokio::time::timeout(LIMIT, round_trip("inproc://push-pull"))
        .await
        .unwrap();
}

#[tokio::test]
async fn inproc_dial_before_listen_connects_later_and_name_is_exclusive() {
    tokio::time::timeout(LIMIT, async {
        let push = Socket::new(SocketType::Push);
        push.set_options(SocketOptions { reconnect_min: Duration::from_millis(5), ..SocketOptions::default() });
        push.dial("inproc://late").await.unwrap();
        let pull = Socket::new(SocketType::Pull);
        let ep = pull.listen("inproc://late").await.unwrap();
        let other = Socket::new(SocketType::Pull);
        assert!(matches!(other.listen("inproc://late").await, Err(e) if e.io_kind() == Some(std::io::ErrorKind::AddrInUse)));
        push.wait_for_pipes(1).await.unwrap();
        push.send("hello").await.unwrap();
        assert_eq!(pull.recv().await.unwrap().body, "hello");
        ep.close();
        push.wait_for_pipes_at_most(0).await.unwrap();
        // The name is free again once the endpoint is gone.
        let _ep = other.listen("inproc://late").await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn dialer_reconnects_after_listener_restart() {
    tokio::time::timeout(LIMIT, async {
        let pull = Socket::new(SocketType::Pull);
        let ep = pull.listen("tcp://127.0.0.1:0").await.unwrap();
        let url = ep.url().to_string();
        let push = Socket::new(SocketType::Push);
        push.set_options(SocketOptions {
            reconnect_min: Duration::from_millis(10),
            reconnect_max: Duration::from_millis(50),
            ..SocketOptions::default()
        });
        push.dial(&url).await.unwrap();
        push.wait_for_pipes(1).await.unwrap();
        push.send("before").await.unwrap();
        assert_eq!(pull.recv().await.unwrap().body, "before");

        ep.close();
        push.wait_for_pipes_at_most(0).await.unwrap();
        let _ep2 = pull.listen(&url).await.unwrap();
        push.wait_for_pipes(1).await.unwrap();
        push.send("after").await.unwrap();
        assert_eq!(pull.recv().await.unwrap().body, "after");
        assert!(push.stats().socket.connects >= 2);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn oversize_message_closes_only_that_connection() {
    tokio::time::timeout(LIMIT, async {
        let pull = Socket::new(SocketType::Pull);
        pull.set_options(SocketOptions {
            max_recv_size: MaxRecvSize::Limited(1024),
            ..SocketOptions::default()
        });
        let ep = pull.listen("tcp://127.0.0.1:0").await.unwrap();
        let push = Socket::new(SocketType::Push);
        push.set_options(SocketOptions {
            reconnect_min: Duration::from_millis(10),
            ..SocketOptions::default()
        });
        push.dial(ep.url()).await.unwrap();
        push.wait_for_pipes(1).await.unwrap();
        push.send(vec![0u8; 2000]).await.unwrap();
        pull.wait_for_pipes_at_most(0).await.unwrap();
        assert_eq!(pull.stats().socket.frame_errors, 1);
        // The dialer comes back and small messages flow again.
        pull.wait_for_pipes(1).await.unwrap();
        push.wait_for_pipes(1).await.unwrap();
        push.send("small").await.unwrap();
        assert_eq!(pull.recv().await.unwrap().body, "small");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn wrong_peer_type_is_refused() {
    tokio::time::timeout(LIMIT, async {
        let listener = Socket::new(SocketType::Push);
        let ep = listener.listen("tcp://127.0.0.1:0").await.unwrap();
        let dialer = Socket::new(SocketType::Push);
        dialer.dial(ep.url()).await.unwrap();
        // Wait until the listener has refused at least one handshake.
        let mut rx = tokio::time::interval(Duration::from_millis(5));
        while listener.stats().socket.handshake_failures == 0 {
            rx.tick().await;
        }
        assert_eq!(listener.pipe_count(), 0);
        assert_eq!(dialer.pipe_count(), 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn recv_timeout_and_unsupported_ops() {
    let pull = Socket::new(SocketType::Pull);
    pull.set_options(SocketOptions {
        recv_timeout: Some(Duration::from_millis(20)),
        ..SocketOptions::default()
    });
    assert!(matches!(pull.recv().await, Err(Error::TimedOut)));
    assert!(matches!(pull.send("x").await, Err(Error::NotSupported)));
    pull.close().await;
    assert!(matches!(pull.recv().await, Err(Error::Closed)));
}

#[tokio::test]
async fn pipe_events_and_per_pipe_counters() {
    tokio::time::timeout(LIMIT, async {
        let pull = Socket::new(SocketType::Pull);
        let mut events = pull.pipe_events();
        let ep = pull.listen("tcp://127.0.0.1:0").await.unwrap();
        let push = Socket::new(SocketType::Push);
        push.dial(ep.url()).await.unwrap();
        let sp_net::stats::PipeEvent::Added { pipe, .. } = events.recv().await.unwrap() else {
            panic!("first event must be Added")
        };
        push.wait_for_pipes(1).await.unwrap();
        for _ in 0..3 {
            push.send("abcd").await.unwrap();
        }
        for _ in 0..3 {
            pull.recv().await.unwrap();
        }
        let out = push.pipe_stats();
        assert_eq!((out.len(), out[0].msgs_out, out[0].bytes_out), (1, 3, 12));
        push.close().await;
        match events.recv().await.unwrap() {
            sp_net::stats::PipeEvent::Removed { stats } => {
                assert_eq!((stats.pipe, stats.msgs_in, stats.bytes_in), (pipe, 3, 12));
            }
            other => panic!("expected Removed, got {other:?}"),
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn dropping_a_socket_flushes_what_it_accepted() {
    tokio::time::timeout(LIMIT, async {
        let (pull, push) = connected(SocketType::Pull, "tcp://127.0.0.1:0", SocketType::Push).await;
        for i in 0..100u32 {
            push.send(i.to_be_bytes().to_vec()).await.unwrap();
        }
        drop(push);
        for i in 0..100u32 {
            assert_eq!(&pull.recv().await.unwrap().body[..], i.to_be_bytes());
        }
        pull.wait_for_pipes_at_most(0).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn dial_from_a_chosen_local_address_with_keepalive() {
    tokio::time::timeout(LIMIT, async {
        let pull = Socket::new(SocketType::Pull);
        let mut events = pull.pipe_events();
        let ep = pull.listen("tcp://127.0.0.1:0").await.unwrap();
        let port = ep.url().port().unwrap();
        let push = Socket::new(SocketType::Push);
        let keepalive = Some(sp_net::transport::TcpKeepalive::default());
        let tcp = sp_net::transport::StreamOptions { keepalive, ..Default::default() };
        push.set_options(SocketOptions { tcp, ..SocketOptions::default() });
        // nanomsg's `iface;host:port` form: connect from 127.0.0.2.
        push.dial(&format!("tcp://127.0.0.2;127.0.0.1:{port}")).await.unwrap();
        let sp_net::stats::PipeEvent::Added { peer, .. } = events.recv().await.unwrap() else {
            panic!("expected Added")
        };
        assert!(peer.starts_with("127.0.0.2:"), "peer {peer} connected from the chosen address");
        push.wait_for_pipes(1).await.unwrap();
        push.send("from .2").await.unwrap();
        assert_eq!(pull.recv().await.unwrap().body, "from .2");
        let named = Socket::new(SocketType::Push);
        assert!(matches!(named.dial("tcp://eth0;127.0.0.1:1").await, Err(e) if e.io_kind() == Some(std::io::ErrorKind::InvalidInput)));
        // A listener takes no local address: refused, not silently ignored.
        let listener = Socket::new(SocketType::Pull);
        assert!(matches!(listener.listen("tcp://127.0.0.2;127.0.0.1:0").await, Err(e) if e.io_kind() == Some(std::io::ErrorKind::InvalidInput)));
    })
    .await
    .unwrap();
}

/// A listener removes a stale *socket* file at its path, but never a regular file: Linux
/// refuses a connect to a regular file too, which once made the bind delete it.
#[tokio::test]
async fn ipc_bind_leaves_a_regular_file_alone_and_replaces_a_stale_socket() {
    let url = ipc_url("regular-file");
    let path = url.strip_prefix("ipc://").expect("an ipc URL").to_owned();
    std::fs::write(&path, b"precious").expect("write a regular file");
    let pull = Socket::new(SocketType::Pull);
    let refused = pull.listen(url.as_str()).await;
    assert!(refused.is_err(), "bound over a regular file");
    assert_eq!(std::fs::read(&path).expect("still there"), b"precious");
    std::fs::remove_file(&path).expect("clean up");

    // A stale socket file: bound by a listener that is gone without removing it.
    let stale = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    drop(stale);
    assert!(
        std::path::Path::new(&path).exists(),
        "the socket file stays"
    );
    let ep = pull
        .listen(url.as_str())
        .await
        .expect("the stale file is replaced");
    let push = Socket::new(SocketType::Push);
    push.dial(ep.url()).await.unwrap();
    tokio::time::timeout(LIMIT, push.wait_for_pipes(1))
        .await
        .unwrap()
        .unwrap();
}

/// `abstract://` runs over Linux's abstract namespace: no file, a name in use is refused.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn push_pull_over_the_abstract_namespace() {
    let url = format!("abstract://sp-net-test-{}", std::process::id());
    let run = async {
        round_trip(&url).await;
        let held = format!("{url}-held");
        let pull = Socket::new(SocketType::Pull);
        let _bound = pull.listen(held.as_str()).await.expect("bind");
        let again = Socket::new(SocketType::Pull);
        assert!(again.listen(held.as_str()).await.is_err(), "a name in use");
    };
    tokio::time::timeout(LIMIT, run).await.unwrap();
}
