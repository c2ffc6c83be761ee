//! Errors and signals a user sees: each failure says what it is, where, and why.

use std::time::{Duration, Instant};

use sp_net::{Error, Socket, SocketType};

/// The classic nanomsg loop "receive until the error" on a SURVEYOR with a receive
/// timeout shorter than the survey deadline: the receive timeouts are `TimedOut`, the
/// end of the survey is `SurveyExpired`, so the loop can tell "nothing yet" from "done".
#[tokio::test]
async fn survey_deadline_is_not_a_receive_timeout() {
    let surveyor = Socket::new(SocketType::Surveyor);
    let mut o = surveyor.options();
    o.recv_timeout = Some(Duration::from_millis(50));
    surveyor.set_options(o);
    let mut p = surveyor.protocol_options();
    p.set_survey_deadline(Duration::from_millis(200)).unwrap();
    surveyor.set_protocol_options(p);

    let start = Instant::now();
    surveyor.send("anyone?").await.unwrap();
    let mut timeouts = 0;
    let end = loop {
        match surveyor.recv().await {
            Err(Error::TimedOut) => timeouts += 1,
            other => break other,
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the survey never ended"
        );
    };
    assert!(matches!(end, Err(Error::SurveyExpired)), "{end:?}");
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert!(
        timeouts >= 1,
        "a 50 ms receive timeout fired inside a 200 ms survey"
    );
    assert_eq!(Error::SurveyExpired.to_string(), "survey deadline expired");
    // Reported once; then no survey is in progress.
    assert!(matches!(surveyor.recv().await, Err(Error::WrongState)));
}

/// An address already in use names the operation and the URL, and keeps the
/// `io::ErrorKind`.
#[tokio::test]
async fn listen_error_names_the_url() {
    let a = Socket::new(SocketType::Pair0);
    let ep = a.listen("tcp://127.0.0.1:0").await.unwrap();
    let url = ep.url().to_string();
    let b = Socket::new(SocketType::Pair0);
    let e = b.listen(&url).await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("listen") && text.contains(&url), "{text}");
    assert_eq!(e.io_kind(), Some(std::io::ErrorKind::AddrInUse), "{e:?}");
    assert!(matches!(&e, Error::Listen { url: u, .. } if u.to_string() == url));
    assert!(std::error::Error::source(&e).is_some());
}

/// A name that does not resolve, likewise.
#[tokio::test]
async fn unresolvable_listen_names_the_url() {
    let s = Socket::new(SocketType::Pair0);
    let url = "tcp://no-such-host.invalid:5555";
    let e = s.listen(url).await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("listen") && text.contains(url), "{text}");
    assert!(e.io_kind().is_some(), "{e:?}");
}

/// A log line captured by [`capture_logs`].
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A REQ dialing a SURVEYOR: `dial` succeeds (it connects in the background), and the
/// failed handshake is reported as a pipe event naming the URL and the reason, and
/// logged once at `warn` with the URL and the reason (the redials log at `debug`).
#[tokio::test]
async fn wrong_peer_type_is_reported_to_a_dialer() {
    let logs = Logs::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let surveyor = Socket::new(SocketType::Surveyor);
    let ep = surveyor.listen("tcp://127.0.0.1:0").await.unwrap();
    let url = ep.url().to_string();
    let req = Socket::new(SocketType::Req);
    let mut o = req.options();
    o.reconnect_min = Duration::from_millis(10);
    o.reconnect_max = Duration::from_millis(10);
    req.set_options(o);
    let mut events = req.pipe_events();
    req.dial(&url).await.unwrap();

    let mut failures = 0;
    while failures < 3 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("a handshake failure event")
            .unwrap();
        match event {
            sp_net::stats::PipeEvent::HandshakeFailed {
                peer,
                dialed,
                reason,
            } => {
                assert_eq!(peer, url);
                assert!(dialed);
                assert!(reason.contains("surveyor"), "{reason}");
                failures += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(req.stats().socket.handshake_failures >= 3);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let ours: Vec<_> = text.lines().filter(|l| l.contains("dial:")).collect();
    assert_eq!(ours.len(), 1, "one warning for a run of failures: {text}");
    assert!(ours[0].contains("WARN"), "{text}");
    assert!(ours[0].contains(&url), "{text}");
    assert!(ours[0].contains("surveyor"), "{text}");
}

/// The panic message of `f`.
fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("it panics");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Outside a tokio runtime the constructors say what to do, not tokio's generic
/// "there is no reactor running".
#[test]
fn socket_new_outside_a_runtime_says_what_to_do() {
    let m = panic_message(|| drop(Socket::new(SocketType::Req)));
    assert!(
        m.contains("sp_net::Socket::new must be called inside a tokio runtime"),
        "{m}"
    );
    assert!(m.contains("BlockingSocket"), "{m}");
    let m = panic_message(|| drop(Socket::new_raw(SocketType::Rep)));
    assert!(
        m.contains("sp_net::Socket::new_raw must be called inside"),
        "{m}"
    );
    let m = panic_message(|| drop(sp_net::typed::Req::new()));
    assert!(m.contains("must be called inside a tokio runtime"), "{m}");
    // The blocking socket brings its own runtime.
    drop(sp_net::BlockingSocket::new(SocketType::Req));
}

/// `Survey::collect` with a receive timeout shorter than the deadline still collects
/// until the deadline (it used to stop at the first receive timeout).
#[tokio::test]
async fn a_survey_outlasts_a_shorter_receive_timeout() {
    let surveyor = Socket::new(SocketType::Surveyor);
    let mut o = surveyor.options();
    o.recv_timeout = Some(Duration::from_millis(50));
    surveyor.set_options(o);
    let mut p = surveyor.protocol_options();
    p.set_survey_deadline(Duration::from_millis(400)).unwrap();
    surveyor.set_protocol_options(p);
    let ep = surveyor
        .listen("inproc://errors-survey-outlasts")
        .await
        .unwrap();
    let r = Socket::new(SocketType::Respondent);
    r.dial(ep.url()).await.unwrap();
    surveyor.wait_for_pipes(1).await.unwrap();
    tokio::spawn(async move {
        let _question = r.recv().await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        r.send("late but in time").await.unwrap();
        r // keep the socket open until the task ends
    });
    let answers = surveyor
        .survey("who?")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].body, "late but in time");
}
