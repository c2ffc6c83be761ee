//! The service-discovery example, driven with short deadlines: the scripted demo itself,
//! the deadline, priority failover and back, and the wire seen by a peer that speaks SP
//! by hand over raw TCP (what a Python nanomsg/pynng peer sends).

#[path = "../examples/service_discovery/discovery.rs"]
mod discovery;

use std::collections::BTreeMap;
use std::time::Duration;

use discovery::{
    diff, is_query, parse_answer, Client, Daemon, RoundEnd, Service, ServiceMap, Settings, ANSWER,
    LOCAL_SITE, REMOTE_SITE,
};
use sp_net::{Socket, SocketType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bound on every test.
const LIMIT: Duration = Duration::from_secs(20);
/// Waits for connections in tests.
const SETTLE: Duration = Duration::from_secs(5);

fn fast() -> Settings {
    Settings {
        port: 0,
        // Rounds end as soon as every connected service has answered; the deadline only
        // bounds a round in which someone stays silent.
        deadline: Duration::from_secs(2),
        interval: Duration::from_millis(20),
        rounds: 5,
        ..Settings::default()
    }
}

fn ny(s: &str) -> String {
    format!("{s}@{LOCAL_SITE}")
}

fn ldn(s: &str) -> String {
    format!("{s}@{REMOTE_SITE}")
}

fn counts(names: &[(&str, usize)]) -> BTreeMap<String, usize> {
    names.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
}

fn by_provider(answers: &[discovery::Answer]) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    for a in answers {
        assert_eq!(a.body, ANSWER, "every provider answers the same");
        *by.entry(a.provider.clone()).or_insert(0) += 1;
    }
    by
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_script_discovers_undiscovers_fails_over_and_returns() {
    let settings = fast();
    let mut out = Vec::new();
    let reports = tokio::time::timeout(LIMIT, discovery::run_demo(&settings, &mut out))
        .await
        .expect("demo finished in time")
        .expect("demo ran");
    let text = String::from_utf8(out).unwrap();
    assert_eq!(reports.len(), 5, "{text}");
    let (a, b, c, d) = (
        ny("oracle-a"),
        ny("oracle-b"),
        ldn("oracle-c"),
        ldn("oracle-d"),
    );

    // Round 1: every service, local ones serve.
    let r1 = &reports[0];
    let names: Vec<&String> = r1.round.map.keys().collect();
    assert_eq!(names, [&a, &b, &c, &d], "{text}");
    assert_eq!(r1.round.ended, RoundEnd::AllAnswered);
    assert_eq!(r1.changes.discovered.len(), 4);
    assert_eq!(
        by_provider(&r1.answers),
        counts(&[(&a, 2), (&b, 2)]),
        "{text}"
    );
    // Killing a: the REQ socket moves to b at once, before discovery notices.
    assert_eq!(by_provider(&r1.after_action), counts(&[(&b, 4)]), "{text}");

    // Round 2: a is undiscovered.
    let r2 = &reports[1];
    assert!(!r2.round.map.contains_key(&a), "{text}");
    assert_eq!(r2.changes.undiscovered.len(), 1);
    assert_eq!(r2.changes.undiscovered[0].0, a);
    assert_eq!(r2.changes.undiscovered[0].1, r1.round.map[&a]);
    assert_eq!(by_provider(&r2.answers), counts(&[(&b, 4)]), "{text}");
    // Killing b, the last local provider: failover to london (priority 2).
    assert_eq!(
        by_provider(&r2.after_action),
        counts(&[(&c, 2), (&d, 2)]),
        "{text}"
    );

    // Round 3: b is undiscovered too, london serves.
    let r3 = &reports[2];
    assert_eq!(r3.changes.undiscovered.len(), 1);
    assert_eq!(r3.changes.undiscovered[0].0, b);
    assert_eq!(r3.round.map.keys().collect::<Vec<_>>(), [&c, &d]);
    assert_eq!(
        by_provider(&r3.answers),
        counts(&[(&c, 2), (&d, 2)]),
        "{text}"
    );

    // Round 4: a is back on a new address, and traffic returns to it.
    let r4 = &reports[3];
    assert_eq!(r4.changes.discovered.len(), 1, "{text}");
    assert_eq!(r4.changes.discovered[0].0, a);
    assert_eq!(by_provider(&r4.answers), counts(&[(&a, 4)]), "{text}");
    let r5 = &reports[4];
    assert!(r5.changes.is_empty(), "{text}");
    assert_eq!(by_provider(&r5.answers), counts(&[(&a, 4)]), "{text}");

    for needle in [
        "undiscovered oracle-a@new-york",
        "undiscovered oracle-b@new-york",
        "oracle-c@london (priority 2) x2",
        "client dials oracle-a@new-york",
        "done: 5 rounds",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_fails_over_to_priority_2_and_back() {
    tokio::time::timeout(LIMIT, async {
        let daemon = Daemon::bind("127.0.0.1", 0, Duration::from_secs(2))
            .await
            .unwrap();
        let url = daemon.dial_url();
        let local = Service::start(&ny("near"), "tcp://127.0.0.1:0", &url)
            .await
            .unwrap();
        let remote = Service::start(&ldn("far"), "tcp://127.0.0.1:0", &url)
            .await
            .unwrap();
        daemon.wait_for_services(2, SETTLE).await.unwrap();
        let round = daemon.survey_round().await.unwrap();
        assert_eq!(round.map.len(), 2);
        assert_eq!(round.map[&ny("near")], local.address());

        let mut client = Client::new(LOCAL_SITE, SETTLE).unwrap();
        client.update(&round.map).await.unwrap();
        assert_eq!(client.priority_of(&ny("near")), Some(1));
        assert_eq!(client.priority_of(&ldn("far")), Some(2));
        client.wait_connected(SETTLE).await.unwrap();
        let answers = client.ask(6).await.unwrap();
        assert_eq!(by_provider(&answers), counts(&[(&ny("near"), 6)]));

        // The local provider dies: requests go to priority 2 without any rediscovery.
        local.kill().await;
        client.wait_for_at_most(1, SETTLE).await.unwrap();
        let answers = client.ask(6).await.unwrap();
        assert_eq!(by_provider(&answers), counts(&[(&ldn("far"), 6)]));

        // The next round undiscovers it.
        daemon.wait_for_at_most(1, SETTLE).await.unwrap();
        let round2 = daemon.survey_round().await.unwrap();
        let changes = diff(&round.map, &round2.map);
        assert_eq!(
            changes.undiscovered,
            [(ny("near"), round.map[&ny("near")].clone())]
        );

        // A local provider comes back: once discovered and connected, it serves again.
        let back = Service::start(&ny("near"), "tcp://127.0.0.1:0", &url)
            .await
            .unwrap();
        daemon.wait_for_services(2, SETTLE).await.unwrap();
        let round3 = daemon.survey_round().await.unwrap();
        assert_eq!(round3.map[&ny("near")], back.address());
        client.update(&round3.map).await.unwrap();
        client.wait_connected(SETTLE).await.unwrap();
        let answers = client.ask(6).await.unwrap();
        assert_eq!(by_provider(&answers), counts(&[(&ny("near"), 6)]));

        client.close().await;
        back.kill().await;
        remote.kill().await;
        daemon.close().await;
    })
    .await
    .expect("finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_respondent_holds_the_round_until_the_deadline() {
    tokio::time::timeout(LIMIT, async {
        let deadline = Duration::from_millis(300);
        let daemon = Daemon::bind("127.0.0.1", 0, deadline).await.unwrap();
        let url = daemon.dial_url();
        let svc = Service::start(&ny("talker"), "tcp://127.0.0.1:0", &url)
            .await
            .unwrap();
        // Connected, receives the survey, never answers.
        let silent = Socket::new(SocketType::Respondent);
        silent.dial(&url).await.unwrap();
        daemon.wait_for_services(2, SETTLE).await.unwrap();
        let round = daemon.survey_round().await.unwrap();
        assert_eq!(round.ended, RoundEnd::Deadline);
        assert_eq!(round.asked, 2);
        assert!(round.elapsed >= deadline, "{:?}", round.elapsed);
        assert_eq!(round.map.keys().collect::<Vec<_>>(), [&ny("talker")]);
        let got = silent.recv().await.unwrap();
        assert!(is_query(&got.body));
        svc.kill().await;
        silent.close().await;
        daemon.close().await;
    })
    .await
    .expect("finished in time");
}

/// The SP header a peer of `protocol` sends: `00 'S' 'P' 00`, the protocol as 16-bit
/// big-endian, two reserved zero bytes.
fn sp_header(protocol: u16) -> [u8; 8] {
    let p = protocol.to_be_bytes();
    [0x00, 0x53, 0x50, 0x00, p[0], p[1], 0x00, 0x00]
}

async fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 8];
    s.read_exact(&mut len).await.unwrap();
    let len = usize::try_from(u64::from_be_bytes(len)).unwrap();
    assert!(len < 1 << 16, "frame of {len} bytes");
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).await.unwrap();
    payload
}

async fn write_frame(s: &mut TcpStream, payload: &[u8]) {
    let mut frame = (payload.len() as u64).to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    s.write_all(&frame).await.unwrap();
}

async fn raw_connect(url: &str, protocol: u16, expect_peer: u16) -> TcpStream {
    let mut s = TcpStream::connect(url.trim_start_matches("tcp://"))
        .await
        .unwrap();
    s.write_all(&sp_header(protocol)).await.unwrap();
    let mut theirs = [0u8; 8];
    s.read_exact(&mut theirs).await.unwrap();
    assert_eq!(theirs, sp_header(expect_peer));
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_tcp_respondent_joins_and_is_discovered() {
    tokio::time::timeout(LIMIT, async {
        let daemon = Daemon::bind("127.0.0.1", 0, Duration::from_secs(2))
            .await
            .unwrap();
        let url = daemon.dial_url();
        // RESPONDENT is 0x63, SURVEYOR 0x62.
        assert_eq!(sp_header(0x63), [0, 0x53, 0x50, 0, 0, 0x63, 0, 0]);
        let mut good = raw_connect(&url, 0x63, 0x62).await;
        let mut bad = raw_connect(&url, 0x63, 0x62).await;
        daemon.wait_for_services(2, SETTLE).await.unwrap();

        let peers = async {
            for (peer, answer) in [
                (
                    &mut good,
                    b"py-oracle@london|tcp://127.0.0.1:6001".as_slice(),
                ),
                (&mut bad, b"\xff\xfe no separator".as_slice()),
            ] {
                let survey = read_frame(peer).await;
                // A survey id with the high bit set, then the body, nothing else.
                assert_eq!(survey.len(), 4 + "service query".len());
                assert!(survey[0] & 0x80 != 0, "survey id {:02x?}", &survey[..4]);
                assert_eq!(&survey[4..], b"service query");
                let mut response = survey[..4].to_vec();
                response.extend_from_slice(answer);
                write_frame(peer, &response).await;
            }
        };
        let (round, ()) = tokio::join!(daemon.survey_round(), peers);
        let round = round.unwrap();
        assert_eq!(round.ended, RoundEnd::AllAnswered);
        assert_eq!(round.malformed, 1);
        let expected: ServiceMap = [(
            "py-oracle@london".to_owned(),
            "tcp://127.0.0.1:6001".to_owned(),
        )]
        .into();
        assert_eq!(round.map, expected);

        // The peer goes away: the next round undiscovers it.
        drop(good);
        drop(bad);
        daemon.wait_for_at_most(0, SETTLE).await.unwrap();
        let next = daemon.survey_round().await.unwrap();
        assert_eq!(
            diff(&round.map, &next.map).undiscovered,
            [(
                "py-oracle@london".to_owned(),
                "tcp://127.0.0.1:6001".to_owned()
            )]
        );
        daemon.close().await;
    })
    .await
    .expect("finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_tcp_requester_gets_the_answer_and_a_raw_surveyor_the_name() {
    tokio::time::timeout(LIMIT, async {
        // A raw SURVEYOR plays the daemon: our service dials it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let daemon_url = format!("tcp://{}", listener.local_addr().unwrap());
        let svc = Service::start(&ldn("rusty"), "tcp://127.0.0.1:0", &daemon_url)
            .await
            .unwrap();
        let (mut surveyor, _) = listener.accept().await.unwrap();
        surveyor.write_all(&sp_header(0x62)).await.unwrap();
        let mut theirs = [0u8; 8];
        surveyor.read_exact(&mut theirs).await.unwrap();
        assert_eq!(theirs, sp_header(0x63));
        // A survey that is not the query gets no answer; the query does (ids chosen by
        // hand, high bit set, as every surveyor does).
        write_frame(&mut surveyor, b"\x80\x00\x00\x07what time is it").await;
        write_frame(&mut surveyor, b"\x80\x00\x00\x08service query").await;
        let answer = read_frame(&mut surveyor).await;
        assert_eq!(&answer[..4], b"\x80\x00\x00\x08");
        let (name, address) = parse_answer(&answer[4..]).unwrap();
        assert_eq!(name, ldn("rusty"));
        assert_eq!(address, svc.address());

        // A raw REQ (0x30) asks the advertised address; REP is 0x31.
        let mut req = raw_connect(&address, 0x30, 0x31).await;
        write_frame(&mut req, b"\x80\x00\x00\x2aWhat is the answer?").await;
        let reply = read_frame(&mut req).await;
        assert_eq!(&reply[..4], b"\x80\x00\x00\x2a");
        assert_eq!(&reply[4..], ANSWER.as_bytes());
        svc.kill().await;
    })
    .await
    .expect("finished in time");
}

#[test]
fn answers_parse_strictly_and_never_panic() {
    assert_eq!(
        parse_answer(b"a@x|tcp://h:1"),
        Some(("a@x".into(), "tcp://h:1".into()))
    );
    // Only the first '|' separates; a trailing NUL (C peers send strlen + 1) is fine.
    assert_eq!(
        parse_answer(b"a|tcp://h:1|extra\0"),
        Some(("a".into(), "tcp://h:1|extra".into()))
    );
    for bad in [
        &b""[..],
        b"|",
        b"name|",
        b"|addr",
        b"no separator",
        b"\xff|\xfe",
        b"\0",
    ] {
        assert_eq!(parse_answer(bad), None, "{bad:?}");
    }
    assert!(is_query(b"service query"));
    assert!(is_query(b"service query\0"));
    assert!(!is_query(b"service query "));
    assert!(!is_query(b"SERVICE QUERY"));
    assert_eq!(discovery::site_of("a@new-york"), Some("new-york"));
    assert_eq!(discovery::site_of("plain"), None);
}

#[test]
fn diff_reports_discovered_undiscovered_and_moved_in_name_order() {
    let old: ServiceMap = [("b", "1"), ("a", "2"), ("c", "3")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
    let new: ServiceMap = [("c", "9"), ("d", "4"), ("b", "1")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
    let c = diff(&old, &new);
    assert_eq!(c.discovered, [("d".to_owned(), "4".to_owned())]);
    assert_eq!(c.undiscovered, [("a".to_owned(), "2".to_owned())]);
    assert_eq!(c.moved, [("c".to_owned(), "3".to_owned(), "9".to_owned())]);
    assert!(diff(&new, &new).is_empty());
}
