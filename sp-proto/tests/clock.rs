//! `Protocol::uses_clock`: a protocol that answers `false` must behave the same whatever
//! instants it is given (drivers then skip their clock read per message), and the
//! protocols with timers must answer `true`.

use bytes::Bytes;
use sp_proto::rng::Rng;
use sp_proto::{AnyProtocol, Config, Instant, Message, PipeId, PipeInfo, Protocol, SocketType};

/// Drives `proto` through a fixed script, asking `clock` for each call's instant, and
/// returns everything observable, as text.
fn trace(t: SocketType, raw: bool, mut clock: impl FnMut() -> Instant) -> String {
    let config = if raw {
        Config::raw(7)
    } else {
        Config::cooked(7)
    };
    let mut p = AnyProtocol::new(t, config);
    let mut log = Vec::new();
    let pipes = [PipeId::new(5).unwrap(), PipeId::new(9).unwrap()];
    for pipe in pipes {
        log.push(format!(
            "add {:?}",
            p.handle_pipe_added(clock(), pipe, PipeInfo::default())
        ));
    }
    // A header a raw REP/RESPONDENT or PAIR v1 accepts, then a body.
    let payloads = [
        Bytes::from_static(b"\x80\x00\x00\x01hello"),
        Bytes::from_static(b"\x00\x00\x00\x01\x80\x00\x00\x02x"),
        Bytes::from_static(b"plain"),
    ];
    for round in 0..3 {
        for (i, msg) in payloads.iter().enumerate() {
            p.handle_message(clock(), pipes[i % 2], msg.clone());
        }
        let mut m = Message::from(format!("m{round}"));
        if raw {
            m.header = Bytes::from_static(b"\x80\x00\x00\x07");
        }
        log.push(format!("send {:?}", p.send(clock(), m).map_err(|e| e.kind)));
        for _ in 0..4 {
            log.push(format!("recv {:?}", p.recv(clock())));
        }
        p.handle_timeout(clock());
        while let Some(tx) = p.poll_transmit() {
            log.push(format!("tx {tx:?}"));
            p.handle_writable(clock(), tx.pipe);
        }
        while let Some(ev) = p.poll_event() {
            log.push(format!("event {ev:?}"));
        }
        log.push(format!("timeout {:?}", p.poll_timeout()));
    }
    p.handle_pipe_removed(clock(), pipes[0]);
    log.push(format!("recv {:?}", p.recv(clock())));
    log.push(format!("stats {:?}", p.stats()));
    log.join("\n")
}

fn frozen() -> impl FnMut() -> Instant {
    || Instant::ZERO
}

/// Instants that jump far ahead at random (hours apart), past every timer default.
fn jumping(seed: u64) -> impl FnMut() -> Instant {
    let mut rng = Rng::new(seed);
    let mut now = 0u64;
    move || {
        now += rng.below(3_600_000);
        Instant::from_millis(now)
    }
}

#[test]
fn clock_free_protocols_ignore_the_instants_they_are_given() {
    let mut clock_free = Vec::new();
    for t in SocketType::ALL {
        for raw in [false, true] {
            if AnyProtocol::new(t, Config::cooked(1)).uses_clock() {
                continue;
            }
            clock_free.push(t);
            let reference = trace(t, raw, frozen());
            for seed in 1..4 {
                assert_eq!(
                    trace(t, raw, jumping(seed)),
                    reference,
                    "{t:?} (raw: {raw}) changed behaviour with the clock"
                );
            }
        }
    }
    clock_free.dedup();
    assert_eq!(
        clock_free,
        [
            SocketType::Pair0,
            SocketType::Pair1,
            SocketType::Pub,
            SocketType::Sub,
            SocketType::Push,
            SocketType::Pull,
            SocketType::Bus,
        ]
    );
}

#[test]
fn protocols_with_timers_say_so_and_the_script_notices_their_clock() {
    for t in [
        SocketType::Req,
        SocketType::Rep,
        SocketType::Surveyor,
        SocketType::Respondent,
    ] {
        assert!(AnyProtocol::new(t, Config::cooked(1)).uses_clock(), "{t:?}");
    }
    // The comparison above can fail: a REQ resends and a SURVEYOR's survey expires when
    // time jumps, and the traces show it.
    for t in [SocketType::Req, SocketType::Surveyor] {
        assert_ne!(
            trace(t, false, frozen()),
            trace(t, false, jumping(1)),
            "{t:?}"
        );
    }
}
