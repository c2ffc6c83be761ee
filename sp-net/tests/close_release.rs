//! Closing lets go of addresses: once `Socket::close().await` (or an endpoint's
//! `close().await`) returns, the listener's address can be listened on again at once, on
//! every transport, with no retry and no sleep.

use std::time::Duration;

use sp_net::{Socket, SocketOptions, SocketType};

const LIMIT: Duration = Duration::from_secs(30);
/// Rounds per transport: the listener's task used to be dropped a moment after `close`
/// returned, so one round could pass by luck.
const ROUNDS: usize = 20;

/// A listener at `url` with one connected peer that has exchanged a message (so the
/// listener has a connection of its own to drop too); returns the listener, its bound URL
/// and the peer.
async fn serving(url: &str) -> (Socket, sp_net::Endpoint, Socket) {
    let pull = Socket::new(SocketType::Pull);
    let ep = pull.listen(url).await.unwrap();
    let push = Socket::new(SocketType::Push);
    push.set_options(SocketOptions {
        reconnect_min: Duration::from_millis(5),
        reconnect_max: Duration::from_millis(20),
        ..SocketOptions::default()
    });
    push.dial(ep.url()).await.unwrap();
    push.send("hello").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().body, "hello");
    (pull, ep, push)
}

/// Listens at `url` (fixed after the first round: port 0 becomes the bound port), closes
/// the socket, and listens again at once, `ROUNDS` times; each new listener must serve.
async fn relisten_after_socket_close(url: &str) {
    tokio::time::timeout(LIMIT, async {
        let (pull, ep, push) = serving(url).await;
        let url = ep.url().to_string();
        drop(ep);
        pull.close().await;
        push.close().await;
        for round in 0..ROUNDS {
            let (pull, _ep, push) = serving(&url).await;
            pull.close().await;
            push.close().await;
            let again = Socket::new(SocketType::Pull);
            match again.listen(&url).await {
                Ok(_) => again.close().await,
                Err(e) => panic!("round {round}: listen at {url} right after close: {e}"),
            }
        }
    })
    .await
    .unwrap();
}

/// The same with one endpoint closed (`Endpoint::close().await`) on a socket that stays
/// open; the same socket listens again at once, and serves.
async fn relisten_after_endpoint_close(url: &str) {
    tokio::time::timeout(LIMIT, async {
        let (pull, mut ep, mut push) = serving(url).await;
        let url = ep.url().clone();
        for round in 0..ROUNDS {
            push.close().await;
            ep.close().await;
            ep = match pull.listen(&url).await {
                Ok(ep) => ep,
                Err(e) => panic!("round {round}: listen at {url} right after close: {e}"),
            };
            push = Socket::new(SocketType::Push);
            push.dial(&url).await.unwrap();
            push.send("again").await.unwrap();
            assert_eq!(pull.recv().await.unwrap().body, "again");
        }
        push.close().await;
        pull.close().await;
    })
    .await
    .unwrap();
}

fn ipc_url(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("sp-close-release-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    format!("ipc://{}", dir.join(name).display())
}

#[tokio::test]
async fn tcp_address_is_free_when_socket_close_returns() {
    relisten_after_socket_close("tcp://127.0.0.1:0").await;
}

#[tokio::test]
async fn ipc_path_is_free_when_socket_close_returns() {
    let url = ipc_url("socket.ipc");
    relisten_after_socket_close(&url).await;
    // The last socket's file went with it.
    assert!(!std::path::Path::new(url.trim_start_matches("ipc://")).exists());
}

#[tokio::test]
async fn ws_port_is_free_when_socket_close_returns() {
    relisten_after_socket_close("ws://127.0.0.1:0/close").await;
}

#[tokio::test]
async fn tcp_address_is_free_when_endpoint_close_returns() {
    relisten_after_endpoint_close("tcp://127.0.0.1:0").await;
}

#[tokio::test]
async fn ipc_path_is_free_when_endpoint_close_returns() {
    relisten_after_endpoint_close(&ipc_url("endpoint.ipc")).await;
}

#[tokio::test]
async fn ws_port_is_free_when_endpoint_close_returns() {
    relisten_after_endpoint_close("ws://127.0.0.1:0/close").await;
}

/// A `ws://` port shared by two sockets' listeners stays bound while one of them is
/// left, and closing the first does not wait for the second.
#[tokio::test]
async fn ws_shared_port_outlives_one_listener() {
    tokio::time::timeout(LIMIT, async {
        let a = Socket::new(SocketType::Pull);
        let ep_a = a.listen("ws://127.0.0.1:0/a").await.unwrap();
        let port = ep_a.url().port().unwrap();
        let b = Socket::new(SocketType::Pull);
        let _ep_b = b.listen(&format!("ws://127.0.0.1:{port}/b")).await.unwrap();
        a.close().await;
        // Path /a is free again on the same port, still bound by b.
        let c = Socket::new(SocketType::Pull);
        c.listen(&format!("ws://127.0.0.1:{port}/a")).await.unwrap();
        let push = Socket::new(SocketType::Push);
        push.dial(&format!("ws://127.0.0.1:{port}/b"))
            .await
            .unwrap();
        push.send("still here").await.unwrap();
        assert_eq!(b.recv().await.unwrap().body, "still here");
    })
    .await
    .unwrap();
}

/// A listener removes only the socket file it created: when its file was removed and
/// another listener bound the path again, closing the first leaves the second's file.
#[tokio::test]
async fn ipc_close_leaves_a_newer_listeners_file() {
    tokio::time::timeout(LIMIT, async {
        let url = ipc_url("replaced.ipc");
        let path = std::path::PathBuf::from(url.trim_start_matches("ipc://"));
        let old = Socket::new(SocketType::Pull);
        old.listen(&url).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        let new = Socket::new(SocketType::Pull);
        new.listen(&url).await.unwrap();
        old.close().await;
        assert!(path.exists(), "the old listener removed the new one's file");
        let push = Socket::new(SocketType::Push);
        push.dial(&url).await.unwrap();
        push.send("to the new one").await.unwrap();
        assert_eq!(new.recv().await.unwrap().body, "to the new one");
    })
    .await
    .unwrap();
}

/// `BlockingSocket::close` waits the same way (it blocks on `Socket::close`).
#[test]
fn blocking_close_frees_the_address() {
    let first = sp_net::BlockingSocket::new(SocketType::Pull);
    let url = first.listen("tcp://127.0.0.1:0").unwrap().url().to_string();
    first.close();
    for round in 0..ROUNDS {
        let s = sp_net::BlockingSocket::new(SocketType::Pull);
        if let Err(e) = s.listen(&url) {
            panic!("round {round}: listen at {url} right after close: {e}");
        }
        s.close();
    }
}
