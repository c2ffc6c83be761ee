//! SURVEYOR/RESPONDENT behaviour (wire-facts §7, §14, §16.11, §17 C2–C4, E11): fan-out,
//! deadlines and the nanomsg error sequence, cancellation, back-pressure, backtraces
//! through a raw device, TTL, malformed input, contexts, and a model-checked state machine.

mod common;

use common::{pipe, refuses_headers};
use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use sp_proto::proto::{respondent, surveyor, Respondent, Surveyor};
use sp_proto::testing::{NodeId, TestNet};
use sp_proto::{
    AnyProtocol, Config, DropReason, Event, Instant, Message, PipeId, PipeInfo, Protocol,
    RecvError, SendErrorKind,
};
use sp_proto::{ContextError, Contexts};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A cooked surveyor with the given deadline.
fn surveyor_with_deadline(seed: u64, deadline: Duration) -> Surveyor {
    let mut cfg = Config::cooked(seed);
    cfg.options.set_survey_deadline(deadline).unwrap();
    Surveyor::new(cfg)
}

fn surveyor_of(net: &mut TestNet, n: NodeId) -> &mut Surveyor {
    match net.proto_mut(n) {
        AnyProtocol::Surveyor(s) => s,
        other => panic!("not a surveyor: {other:?}"),
    }
}

fn respondent_of(net: &mut TestNet, n: NodeId) -> &mut Respondent {
    match net.proto_mut(n) {
        AnyProtocol::Respondent(r) => r,
        other => panic!("not a respondent: {other:?}"),
    }
}

/// A respondent receives one survey and answers it with `body`; returns the survey body.
fn answer(net: &mut TestNet, r: NodeId, body: impl Into<Message>) -> Bytes {
    let survey = net.recv(r).expect("a survey to answer");
    net.send(r, body).expect("answer accepted");
    survey.body
}

fn word(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes[..4].try_into().unwrap())
}

/// A surveyor and `n` respondents connected to it, with the surveyor-side pipe of each.
struct Star {
    net: TestNet,
    s: NodeId,
    rs: Vec<NodeId>,
    links: Vec<PipeId>,
}

fn star(n: usize, deadline: Duration) -> Star {
    let mut net = TestNet::new();
    let s = net.add(surveyor_with_deadline(1, deadline));
    let rs: Vec<_> = (0..n)
        .map(|i| net.add(Respondent::new(Config::cooked(100 + i as u64))))
        .collect();
    let links = rs.iter().map(|&r| net.connect(s, r).unwrap().0).collect();
    Star { net, s, rs, links }
}

#[test]
fn survey_fans_out_and_every_respondent_answers() {
    let Star { mut net, s, rs, .. } = star(5, ms(1000));
    net.send(s, "who is there?").unwrap();
    for (i, &r) in rs.iter().enumerate() {
        let got = answer(&mut net, r, format!("r{i}").into_bytes());
        assert_eq!(got, "who is there?");
    }
    let mut answers = Vec::new();
    let pipes = net.pipes(s);
    while let Ok(m) = net.recv(s) {
        assert!(m.header.is_empty(), "cooked: the survey id is stripped");
        assert!(pipes.contains(&m.pipe.unwrap()), "msg.pipe is set");
        answers.push(m.body);
    }
    answers.sort();
    assert_eq!(answers, ["r0", "r1", "r2", "r3", "r4"]);
    assert_eq!(net.proto(s).stats().delivered, 5);
    assert_eq!(net.proto(s).stats().dropped_total(), 0);
}

#[test]
fn fan_out_shares_one_body_buffer_and_ids_are_seeded() {
    let now = Instant::ZERO;
    let mut s = Surveyor::new(Config::cooked(7));
    for n in 1..=3 {
        s.handle_pipe_added(now, pipe(n), PipeInfo::default())
            .unwrap();
    }
    let body = Bytes::from(vec![b'x'; 64]);
    s.send(now, Message::new(body.clone())).unwrap();
    let sent: Vec<_> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert_eq!(sent.len(), 3);
    let id = s.current_survey(surveyor::ContextId::DEFAULT).unwrap();
    assert_ne!(id & 0x8000_0000, 0);
    for t in &sent {
        assert_eq!(t.msg.body.as_ptr(), body.as_ptr(), "no copy of the body");
        assert_eq!(&t.msg.header[..], &id.to_be_bytes());
    }
    // The next survey increments the id; another socket with the same seed agrees.
    for n in 1..=3 {
        s.handle_writable(now, pipe(n));
    }
    s.send(now, Message::from("again")).unwrap();
    let next = s.current_survey(surveyor::ContextId::DEFAULT).unwrap();
    assert_eq!(next, (id.wrapping_add(1)) | 0x8000_0000);
    let mut twin = Surveyor::new(Config::cooked(7));
    twin.send(now, Message::from("x")).unwrap();
    assert_eq!(twin.current_survey(surveyor::ContextId::DEFAULT), Some(id));
    let mut other = Surveyor::new(Config::cooked(8));
    other.send(now, Message::from("x")).unwrap();
    assert_ne!(other.current_survey(surveyor::ContextId::DEFAULT), Some(id));
}

#[test]
fn default_deadline_is_one_second() {
    let mut s = Surveyor::new(Config::cooked(1));
    let start = Instant::from_millis(5);
    s.send(start, Message::from("q")).unwrap(); // no pipes: the survey still starts
    assert_eq!(s.poll_timeout(), Some(start + Duration::from_secs(1)));
    assert_eq!(s.recv(start), Err(RecvError::WouldBlock));
}

#[test]
fn answers_after_the_deadline_are_dropped_and_counted() {
    let Star { mut net, s, rs, .. } = star(3, ms(100));
    net.send(s, "q").unwrap();
    assert_eq!(net.next_deadline(), Some(Instant::from_millis(100)));
    net.advance(ms(50));
    answer(&mut net, rs[0], "on time");
    assert_eq!(net.recv(s).unwrap().body, "on time");
    // Arrives in time but is not collected before the deadline: discarded at expiry.
    net.advance(ms(10));
    answer(&mut net, rs[1], "queued");
    net.advance(ms(40));
    assert_eq!(net.take_events(s), [Event::SurveyExpired]);
    assert_eq!(net.proto(s).stats().dropped(DropReason::SurveyExpired), 1);
    // Arrives after the deadline.
    net.advance(ms(50));
    answer(&mut net, rs[2], "late");
    let stats = net.proto(s).stats().clone();
    assert_eq!(stats.dropped(DropReason::SurveyExpired), 2);
    assert_eq!(stats.delivered, 1);
    assert_eq!(stats.dropped_total(), 2);
    assert_eq!(net.recv(s), Err(RecvError::TimedOut));
    assert_eq!(net.recv(s), Err(RecvError::WrongState));
    assert_eq!(net.next_deadline(), None);
}

#[test]
fn recv_error_sequence_follows_nanomsg() {
    // wire-facts E11: EFSM before any survey, ETIMEDOUT once at expiry, EFSM after.
    let Star { mut net, s, rs, .. } = star(1, ms(300));
    assert_eq!(net.recv(s), Err(RecvError::WrongState));
    net.send(s, "q").unwrap();
    assert_eq!(net.recv(s), Err(RecvError::WouldBlock));
    net.advance(ms(299));
    assert_eq!(net.recv(s), Err(RecvError::WouldBlock));
    net.advance(ms(1));
    assert_eq!(net.take_events(s), [Event::SurveyExpired]);
    assert_eq!(net.recv(s), Err(RecvError::TimedOut));
    assert_eq!(net.recv(s), Err(RecvError::WrongState));
    assert_eq!(net.recv(s), Err(RecvError::WrongState));
    // The respondent answers late: nothing is delivered, the state is unchanged.
    answer(&mut net, rs[0], "late");
    assert_eq!(net.recv(s), Err(RecvError::WrongState));
    // A new survey resets the sequence.
    net.send(s, "q2").unwrap();
    assert_eq!(net.recv(s), Err(RecvError::WouldBlock));
    answer(&mut net, rs[0], "a2");
    assert_eq!(net.recv(s).unwrap().body, "a2");
}

#[test]
fn expiry_is_seen_even_before_the_timer_fires() {
    // A driver may call recv after the deadline before handle_timeout: same answer.
    let mut s = surveyor_with_deadline(1, ms(10));
    let p = pipe(1);
    s.handle_pipe_added(Instant::ZERO, p, PipeInfo::default())
        .unwrap();
    s.send(Instant::ZERO, Message::from("q")).unwrap();
    let id = s.current_survey(surveyor::ContextId::DEFAULT).unwrap();
    let mut response = id.to_be_bytes().to_vec();
    response.extend_from_slice(b"a");
    s.handle_message(Instant::from_millis(5), p, Bytes::from(response.clone()));
    // Arriving exactly at the deadline is too late.
    s.handle_message(Instant::from_millis(10), p, Bytes::from(response));
    assert_eq!(s.stats().dropped(DropReason::SurveyExpired), 2);
    assert_eq!(s.poll_event(), Some(Event::SurveyExpired));
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(s.recv(Instant::from_millis(11)), Err(RecvError::TimedOut));

    let mut lazy = surveyor_with_deadline(1, ms(10));
    lazy.send(Instant::ZERO, Message::from("q")).unwrap();
    assert_eq!(
        lazy.recv(Instant::from_millis(10)),
        Err(RecvError::TimedOut)
    );
    assert_eq!(lazy.poll_event(), Some(Event::SurveyExpired));
    assert_eq!(
        lazy.recv(Instant::from_millis(10)),
        Err(RecvError::WrongState)
    );
}

#[test]
fn a_new_survey_cancels_the_old_one() {
    let Star { mut net, s, rs, .. } = star(2, ms(1000));
    net.send(s, "first").unwrap();
    let held = net.recv(rs[0]).unwrap(); // r0 holds the first survey unanswered
    assert_eq!(held.body, "first");
    answer(&mut net, rs[1], "r1 to first"); // queued at the surveyor, not collected
    net.send(s, "second").unwrap();
    assert_eq!(net.proto(s).stats().dropped(DropReason::Cancelled), 1);
    net.send(rs[0], "r0 to first").unwrap(); // late answer to the old id
    assert_eq!(net.proto(s).stats().dropped(DropReason::StaleId), 1);
    assert_eq!(answer(&mut net, rs[0], "r0 to second"), "second");
    assert_eq!(answer(&mut net, rs[1], "r1 to second"), "second");
    let mut got = net.recv_all(s);
    got.sort();
    assert_eq!(got, ["r0 to second", "r1 to second"]);
    assert_eq!(net.take_events(s), [], "a cancelled survey does not expire");
}

#[test]
fn a_back_pressured_pipe_misses_the_survey() {
    let Star {
        mut net,
        s,
        rs,
        links,
    } = star(2, ms(1000));
    let (slow, slow_r, fast_r) = (links[0], rs[0], rs[1]);
    net.block(s, slow);
    net.send(s, "one").unwrap(); // written to the slow link, which then stays busy
    net.send(s, "two").unwrap(); // the slow pipe is skipped
    assert_eq!(net.proto(s).stats().dropped(DropReason::PipeBusy), 1);
    assert_eq!(net.in_flight(s, slow), 1);
    assert!(net.recv_all(slow_r).is_empty());
    assert_eq!(net.recv_all(fast_r), ["one", "two"]);
    net.unblock(s, slow);
    // Only the first survey reaches the slow respondent; its answer is stale.
    assert_eq!(answer(&mut net, slow_r, "late"), "one");
    assert_eq!(net.recv(slow_r), Err(RecvError::WouldBlock));
    assert_eq!(net.proto(s).stats().dropped(DropReason::StaleId), 1);
}

#[test]
fn stacked_backtraces_through_a_raw_device() {
    // surveyor -> [raw respondent | raw surveyor] -> respondent, forwarded by hand.
    let mut net = TestNet::new();
    let s = net.add(Surveyor::new(Config::cooked(1)));
    let front = net.add(Respondent::new(Config::raw(2)));
    let back = net.add(Surveyor::new(Config::raw(3)));
    let r = net.add(Respondent::new(Config::cooked(4)));
    let (_, front_pipe) = net.connect(s, front).unwrap();
    net.connect(back, r).unwrap();

    net.send(s, "ping").unwrap();
    let id = surveyor_of(&mut net, s)
        .current_survey(surveyor::ContextId::DEFAULT)
        .unwrap();
    let fwd = net.recv(front).unwrap();
    assert_eq!(fwd.header.len(), 8);
    assert_eq!(
        word(&fwd.header),
        front_pipe.get(),
        "raw recv pushes the pipe id"
    );
    assert_eq!(word(&fwd.header[4..]), id);
    net.send(back, fwd).unwrap(); // the device forwards the header unchanged

    assert_eq!(answer(&mut net, r, "pong"), "ping");
    let last = net.trace().last().unwrap().payload.clone();
    assert_eq!(
        &last[..8],
        &[front_pipe.get().to_be_bytes(), id.to_be_bytes()].concat()[..],
        "the respondent echoes the whole stack"
    );
    let back_msg = net.recv(back).unwrap();
    assert_eq!(
        back_msg.header.len(),
        8,
        "raw surveyor keeps the whole stack"
    );
    net.send(front, back_msg).unwrap(); // pops the pipe id, sends [id] "pong"
    let got = net.recv(s).unwrap();
    assert_eq!(got.body, "pong");
    let hop = &net.trace()[net.trace().len() - 1].payload;
    assert_eq!(&hop[..], &[&id.to_be_bytes()[..], b"pong"].concat()[..]);
}

fn stack(words: usize, body: &[u8]) -> Bytes {
    let mut v = Vec::new();
    for i in 0..words - 1 {
        v.extend_from_slice(&(i as u32 + 1).to_be_bytes());
    }
    v.extend_from_slice(&0x8000_0042u32.to_be_bytes());
    v.extend_from_slice(body);
    Bytes::from(v)
}

#[test]
fn respondent_ttl_boundary_is_eight_words() {
    let now = Instant::ZERO;
    let p = pipe(9);
    let mut r = Respondent::new(Config::cooked(1));
    r.handle_pipe_added(now, p, PipeInfo::default()).unwrap();
    r.handle_message(now, p, stack(9, b"nine"));
    assert_eq!(r.stats().dropped(DropReason::TtlExceeded), 1);
    r.handle_message(now, p, stack(8, b"eight"));
    let m = r.recv(now).unwrap();
    assert_eq!((m.body.as_ref(), m.pipe), (&b"eight"[..], Some(p)));
    r.send(now, Message::from("ok")).unwrap();
    let t = r.poll_transmit().unwrap();
    assert_eq!(t.pipe, p);
    assert_eq!(t.msg.header, stack(8, b""), "the whole stack is echoed");
    assert_eq!(t.msg.body, "ok");

    // A larger TTL admits deeper stacks, also in raw mode.
    let mut cfg = Config::raw(1);
    cfg.options.set_max_ttl(9).unwrap();
    let mut raw = Respondent::new(cfg);
    raw.handle_pipe_added(now, p, PipeInfo::default()).unwrap();
    raw.handle_message(now, p, stack(9, b"nine"));
    raw.handle_message(now, p, stack(10, b"ten"));
    assert_eq!(raw.stats().dropped(DropReason::TtlExceeded), 1);
    let m = raw.recv(now).unwrap();
    assert_eq!(m.header.len(), 40, "pipe id + 9 words");
}

#[test]
fn malformed_surveys_and_responses_are_dropped_and_the_pipe_kept() {
    let now = Instant::ZERO;
    let p = pipe(3);
    let mut r = Respondent::new(Config::cooked(1));
    r.handle_pipe_added(now, p, PipeInfo::default()).unwrap();
    r.handle_message(now, p, Bytes::from_static(b"ab"));
    r.handle_message(
        now,
        p,
        Bytes::from_static(b"\x00\x00\x00\x01\x00\x00\x00\x02hi"),
    );
    r.handle_message(now, p, Bytes::new());
    assert_eq!(r.stats().dropped(DropReason::MalformedHeader), 3);
    assert_eq!(r.recv(now), Err(RecvError::WouldBlock));
    r.handle_message(now, p, stack(1, b"fine"));
    assert_eq!(r.recv(now).unwrap().body, "fine");
    assert!(r.poll_event().is_none(), "no pipe is paused or closed");

    let mut s = Surveyor::new(Config::cooked(1));
    s.handle_pipe_added(now, p, PipeInfo::default()).unwrap();
    s.send(now, Message::from("q")).unwrap();
    let id = s.current_survey(surveyor::ContextId::DEFAULT).unwrap();
    s.handle_message(now, p, Bytes::from_static(b"\x80\x00"));
    s.handle_message(now, p, Bytes::from_static(b"\x00\x00\x00\x05abc"));
    assert_eq!(s.stats().dropped(DropReason::MalformedHeader), 2);
    s.handle_message(now, p, Bytes::from(id.to_be_bytes().to_vec())); // empty body is fine
    assert_eq!(s.recv(now).unwrap().body, "");
}

#[test]
fn respondent_answer_rules() {
    let Star { mut net, s, rs, .. } = star(1, ms(1000));
    let r = rs[0];
    assert_eq!(
        net.send(r, "unasked").unwrap_err().kind,
        SendErrorKind::WrongState
    );
    net.send(s, "q1").unwrap();
    net.send(s, "q2").unwrap();
    net.recv(r).unwrap();
    // A new recv forgets the unanswered survey, even when nothing else is waiting.
    assert_eq!(net.recv(r).unwrap().body, "q2");
    assert_eq!(net.recv(r), Err(RecvError::WouldBlock));
    assert_eq!(
        net.send(r, "too late").unwrap_err().kind,
        SendErrorKind::WrongState
    );
    assert!(net.recv_all(s).is_empty());

    // The surveyor's pipe goes away while the survey is being answered: dropped.
    net.send(s, "q3").unwrap();
    net.recv(r).unwrap();
    net.disconnect_all(s);
    net.send(r, "gone").unwrap();
    assert_eq!(net.proto(r).stats().dropped(DropReason::PipeGone), 1);

    // A back-pressured pipe: the response is dropped, not queued (nanomsg).
    let now = Instant::ZERO;
    let mut r = Respondent::new(Config::cooked(1));
    let p = pipe(4);
    r.handle_pipe_added(now, p, PipeInfo::default()).unwrap();
    r.handle_message(now, p, stack(1, b"a"));
    r.handle_message(now, p, stack(1, b"b"));
    r.recv(now).unwrap();
    r.send(now, Message::from("A")).unwrap();
    assert!(r.poll_transmit().is_some());
    r.recv(now).unwrap();
    r.send(now, Message::from("B")).unwrap();
    assert!(r.poll_transmit().is_none());
    assert_eq!(r.stats().dropped(DropReason::PipeBusy), 1);
}

#[test]
fn raw_surveyor_header_rules() {
    let now = Instant::ZERO;
    let p = pipe(2);
    let mut s = Surveyor::new(Config::raw(1));
    assert!(s.is_raw());
    assert_eq!(s.open_context(), Err(ContextError::Raw));
    s.handle_pipe_added(now, p, PipeInfo::default()).unwrap();
    refuses_headers(
        &mut s,
        &[
            b"",
            b"\x80\x00\x00",
            b"\x00\x00\x00\x07",
            b"\x80\x00\x00\x01\x80\x00\x00\x02",
        ],
    );
    assert_eq!(s.recv(now), Err(RecvError::WouldBlock), "no survey state");
    let header = Bytes::from_static(b"\x00\x00\x00\x07\x80\x00\x00\x01");
    s.send(now, Message::with_header(header.clone(), "x"))
        .unwrap();
    let t = s.poll_transmit().unwrap();
    assert_eq!((t.pipe, &t.msg.header), (p, &header), "sent verbatim");
    assert_eq!(s.poll_timeout(), None);
    // Any id is accepted; the header is the stack down to the bit-31 word.
    s.handle_message(now, p, stack(2, b"resp"));
    s.handle_message(now, p, Bytes::from_static(b"\x00\x00\x00\x01"));
    assert_eq!(s.stats().dropped(DropReason::MalformedHeader), 1);
    let m = s.recv(now).unwrap();
    assert_eq!(m.header, stack(2, b""));
    assert_eq!((m.body.as_ref(), m.pipe), (&b"resp"[..], Some(p)));
}

#[test]
fn raw_respondent_header_rules() {
    let now = Instant::ZERO;
    let p = pipe(0x1234);
    let mut r = Respondent::new(Config::raw(1));
    assert_eq!(r.open_context(), Err(ContextError::Raw));
    r.handle_pipe_added(now, p, PipeInfo::default()).unwrap();
    assert_eq!(r.recv(now), Err(RecvError::WouldBlock));
    r.handle_message(now, p, stack(1, b"q"));
    let m = r.recv(now).unwrap();
    assert_eq!(&m.header[..], b"\x00\x00\x12\x34\x80\x00\x00\x42");
    refuses_headers(
        &mut r,
        &[
            b"\x00\x00\x12\x34",
            b"\x00\x00\x12\x34\x80\x00\x00",
            b"\x80\x00\x12\x34\x80\x00\x00\x42",
            b"\x00\x00\x00\x00\x80\x00\x00\x42",
        ],
    );
    // No pending state in raw mode: any well-formed header is routed.
    r.send(now, Message::with_header(m.header.clone(), "a"))
        .unwrap();
    let t = r.poll_transmit().unwrap();
    assert_eq!((t.pipe, &t.msg.header[..]), (p, &b"\x80\x00\x00\x42"[..]));
    r.send(
        now,
        Message::with_header(Bytes::from_static(b"\x00\x00\x00\x09\x80\x00\x00\x42"), "b"),
    )
    .unwrap();
    assert_eq!(r.stats().dropped(DropReason::PipeGone), 1);
}

#[test]
fn contexts_run_concurrent_surveys() {
    let Star { mut net, s, rs, .. } = star(1, ms(100));
    let r = rs[0];
    let ctx = surveyor_of(&mut net, s).open_context().unwrap();
    let dflt = surveyor::ContextId::DEFAULT;
    let now = net.now();
    surveyor_of(&mut net, s)
        .send_in(dflt, now, Message::from("default survey"))
        .unwrap();
    net.run();
    net.advance(ms(30));
    let now = net.now();
    surveyor_of(&mut net, s)
        .send_in(ctx, now, Message::from("ctx survey"))
        .unwrap();
    net.run();
    let sv = surveyor_of(&mut net, s);
    assert_ne!(sv.current_survey(dflt), sv.current_survey(ctx));
    assert_eq!(sv.poll_timeout(), Some(Instant::from_millis(100)));
    assert_eq!(sv.deadline(ctx), Some(Instant::from_millis(130)));

    // The respondent answers both from two contexts, in reverse order.
    let rc = respondent_of(&mut net, r).open_context().unwrap();
    let rd = respondent::ContextId::DEFAULT;
    let now = net.now();
    let first = respondent_of(&mut net, r).recv_in(rd, now).unwrap();
    let second = respondent_of(&mut net, r).recv_in(rc, now).unwrap();
    assert_eq!(
        (&first.body[..], &second.body[..]),
        (&b"default survey"[..], &b"ctx survey"[..])
    );
    let rp = respondent_of(&mut net, r);
    assert!(rp.is_pending(rd) && rp.is_pending(rc));
    rp.send_in(rc, now, Message::from("for ctx")).unwrap();
    net.run(); // the driver drains after every command, which frees the pipe again
    let rp = respondent_of(&mut net, r);
    rp.send_in(rd, now, Message::from("for default")).unwrap();
    net.run();
    assert_eq!(net.proto(r).stats().dropped_total(), 0);

    let now = net.now();
    let sv = surveyor_of(&mut net, s);
    assert_eq!(sv.recv_in(ctx, now).unwrap().body, "for ctx");
    assert_eq!(sv.recv_in(ctx, now), Err(RecvError::WouldBlock));
    assert_eq!(sv.recv_in(dflt, now).unwrap().body, "for default");

    // Each context expires on its own.
    net.advance(ms(70));
    let now = net.now();
    let sv = surveyor_of(&mut net, s);
    assert_eq!(sv.recv_in(dflt, now), Err(RecvError::TimedOut));
    assert_eq!(sv.recv_in(ctx, now), Err(RecvError::WouldBlock));
    assert_eq!(sv.poll_timeout(), Some(Instant::from_millis(130)));
    net.advance(ms(30));
    assert_eq!(
        net.take_events(s),
        [Event::SurveyExpired, Event::SurveyExpired]
    );

    // Closing contexts.
    let sv = surveyor_of(&mut net, s);
    assert!(!sv.close_context(dflt));
    assert!(sv.close_context(ctx));
    assert_eq!(sv.recv_in(ctx, now), Err(RecvError::NoSuchContext));
    assert_eq!(
        sv.send_in(ctx, now, Message::from("x")).unwrap_err().kind,
        SendErrorKind::NoSuchContext
    );
    let rp = respondent_of(&mut net, r);
    assert!(rp.close_context(rc));
    assert!(!rp.close_context(rc));
    assert_eq!(rp.recv_in(rc, now), Err(RecvError::NoSuchContext));
}

#[test]
fn one_respondent_answers_several_surveyors() {
    // wire-facts C8: the doc says one peer, the code (and we) take many.
    let mut net = TestNet::new();
    let a = net.add(Surveyor::new(Config::cooked(1)));
    let b = net.add(Surveyor::new(Config::cooked(2)));
    let r = net.add(Respondent::new(Config::cooked(3)));
    net.connect(a, r).unwrap();
    net.connect(b, r).unwrap();
    net.send(a, "from a").unwrap();
    net.send(b, "from b").unwrap();
    for _ in 0..2 {
        let q = net.recv(r).unwrap();
        let reply = [b"re: ", &q.body[..]].concat();
        net.send(r, reply).unwrap();
    }
    assert_eq!(net.recv_all(a), ["re: from a"]);
    assert_eq!(net.recv_all(b), ["re: from b"]);
}

#[test]
fn service_discovery() {
    // The pattern from the seed: ask "service query", services answer "name|address".
    let services = [
        ("auth", "tcp://10.0.0.1:5001"),
        ("store", "tcp://10.0.0.2:5002"),
        ("search", "tcp://10.0.0.3:5003"),
    ];
    let mut net = TestNet::new();
    let s = net.add(surveyor_with_deadline(1, ms(500)));
    let rs: Vec<_> = services
        .iter()
        .enumerate()
        .map(|(i, _)| net.add(Respondent::new(Config::cooked(10 + i as u64))))
        .collect();
    let links: Vec<PipeId> = rs.iter().map(|&r| net.connect(s, r).unwrap().0).collect();

    let round = |net: &mut TestNet, live: &[usize]| -> Vec<String> {
        net.send(s, "service query").unwrap();
        for &i in live {
            net.advance(ms(10));
            let (name, addr) = services[i];
            let q = answer(net, rs[i], format!("{name}|{addr}").into_bytes());
            assert_eq!(q, "service query");
        }
        let mut found = Vec::new();
        loop {
            match net.recv(s) {
                Ok(m) => found.push(String::from_utf8(m.body.to_vec()).unwrap()),
                Err(RecvError::WouldBlock) => net.advance(ms(100)),
                Err(RecvError::TimedOut) => break,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        found.sort();
        found
    };
    assert_eq!(
        round(&mut net, &[0, 1, 2]),
        [
            "auth|tcp://10.0.0.1:5001",
            "search|tcp://10.0.0.3:5003",
            "store|tcp://10.0.0.2:5002"
        ]
    );
    net.disconnect(s, links[1]);
    assert_eq!(
        round(&mut net, &[0, 2]),
        ["auth|tcp://10.0.0.1:5001", "search|tcp://10.0.0.3:5003"]
    );
    assert!(
        net.recv_all(rs[1]).is_empty(),
        "the departed service got nothing"
    );
    assert_eq!(net.proto(s).stats().dropped_total(), 0);
}

#[test]
fn survey_wire_trace() {
    let Star { mut net, s, rs, .. } = star(2, ms(100));
    net.send(s, "ping").unwrap();
    net.advance(ms(20));
    answer(&mut net, rs[0], "pong0");
    net.advance(ms(100));
    answer(&mut net, rs[1], "pong1");
    assert_eq!(net.recv(s), Err(RecvError::TimedOut));
    let stats = net.proto(s).stats();
    insta::assert_snapshot!(format!("{}{stats:?}", net.trace_text()));
}

// ---------------------------------------------------------------------------------------
// Model-checked: a surveyor and several respondents under random schedules.

const RESPONDENTS: usize = 3;
const DEADLINE_MS: u64 = 100;

#[derive(Clone, Debug)]
enum Step {
    /// The surveyor starts a new survey.
    Survey,
    /// Respondent `idx` takes its oldest survey and answers it.
    RespondentAnswer(usize),
    /// Virtual time advances.
    Tick(u64),
    /// Respondent `idx` loses its connection (for good).
    Disconnect(usize),
    /// The surveyor receives until it gets an error.
    Collect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Active { deadline_ms: u64 },
    TimedOut,
}

#[derive(Clone, Debug)]
struct Model {
    now_ms: u64,
    /// Surveys started so far; the current one is number `surveys`.
    surveys: u32,
    phase: Phase,
    connected: [bool; RESPONDENTS],
    /// Survey numbers each respondent has received and not yet answered.
    inbox: [VecDeque<u32>; RESPONDENTS],
    /// Responses (survey, respondent) waiting in the surveyor.
    queued: Vec<(u32, usize)>,
    /// What the last step should have shown the user.
    expect_answered: Option<u32>,
    expect_collect: (Vec<(u32, usize)>, Option<RecvError>),
    sent: u64,
    delivered: u64,
    cancelled: u64,
    expired: u64,
    stale: u64,
    pipe_gone: u64,
    expiries: u64,
}

struct SurveyModel;

impl ReferenceStateMachine for SurveyModel {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model {
            now_ms: 0,
            surveys: 0,
            phase: Phase::Idle,
            connected: [true; RESPONDENTS],
            inbox: Default::default(),
            queued: Vec::new(),
            expect_answered: None,
            expect_collect: (Vec::new(), None),
            sent: 0,
            delivered: 0,
            cancelled: 0,
            expired: 0,
            stale: 0,
            pipe_gone: 0,
            expiries: 0,
        })
        .boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Step> {
        prop_oneof![
            3 => Just(Step::Survey),
            5 => (0..RESPONDENTS).prop_map(Step::RespondentAnswer),
            3 => (1u64..80).prop_map(Step::Tick),
            1 => (0..RESPONDENTS).prop_map(Step::Disconnect),
            3 => Just(Step::Collect),
        ]
        .boxed()
    }

    fn apply(mut m: Model, step: &Step) -> Model {
        match *step {
            Step::Survey => {
                m.cancelled += m.queued.len() as u64;
                m.queued.clear();
                m.surveys += 1;
                m.phase = Phase::Active {
                    deadline_ms: m.now_ms + DEADLINE_MS,
                };
                for i in 0..RESPONDENTS {
                    if m.connected[i] {
                        m.inbox[i].push_back(m.surveys);
                    }
                }
            }
            Step::RespondentAnswer(i) => {
                m.expect_answered = m.inbox[i].pop_front();
                if let Some(n) = m.expect_answered {
                    m.sent += 1;
                    if !m.connected[i] {
                        m.pipe_gone += 1;
                    } else if n != m.surveys {
                        m.stale += 1;
                    } else if matches!(m.phase, Phase::Active { .. }) {
                        m.queued.push((n, i));
                    } else {
                        m.expired += 1;
                    }
                }
            }
            Step::Tick(ms) => {
                m.now_ms += ms;
                if let Phase::Active { deadline_ms } = m.phase {
                    if m.now_ms >= deadline_ms {
                        m.expired += m.queued.len() as u64;
                        m.queued.clear();
                        m.phase = Phase::TimedOut;
                        m.expiries += 1;
                    }
                }
            }
            Step::Disconnect(i) => m.connected[i] = false,
            Step::Collect => {
                m.expect_collect = match m.phase {
                    Phase::Idle => (Vec::new(), Some(RecvError::WrongState)),
                    Phase::Active { .. } => {
                        m.delivered += m.queued.len() as u64;
                        let mut got = std::mem::take(&mut m.queued);
                        got.sort();
                        (got, Some(RecvError::WouldBlock))
                    }
                    Phase::TimedOut => {
                        m.phase = Phase::Idle;
                        (Vec::new(), Some(RecvError::TimedOut))
                    }
                };
            }
        }
        m
    }
}

struct Net {
    net: TestNet,
    surveyor: NodeId,
    respondents: Vec<NodeId>,
    links: Vec<PipeId>,
    /// Survey number -> the id it went out with.
    survey_ids: Vec<u32>,
    expired_events: u64,
}

impl Net {
    fn survey_id(&mut self) -> Option<u32> {
        let s = self.surveyor;
        surveyor_of(&mut self.net, s).current_survey(surveyor::ContextId::DEFAULT)
    }
}

struct SurveyTest;

impl StateMachineTest for SurveyTest {
    type SystemUnderTest = Net;
    type Reference = SurveyModel;

    fn init_test(_: &Model) -> Net {
        let Star { net, s, rs, links } = star(RESPONDENTS, ms(DEADLINE_MS));
        Net {
            net,
            surveyor: s,
            respondents: rs,
            links,
            survey_ids: vec![0],
            expired_events: 0,
        }
    }

    fn apply(mut sut: Net, m: &Model, step: Step) -> Net {
        match step {
            Step::Survey => {
                let body = format!("s{}", m.surveys).into_bytes();
                sut.net.send(sut.surveyor, body).unwrap();
                let id = sut.survey_id().unwrap();
                sut.survey_ids.push(id);
            }
            Step::RespondentAnswer(i) => {
                let r = sut.respondents[i];
                match (sut.net.recv(r), m.expect_answered) {
                    (Ok(q), Some(n)) => {
                        assert_eq!(q.body, format!("s{n}").into_bytes());
                        sut.net.send(r, format!("{n}:{i}").into_bytes()).unwrap();
                    }
                    (Err(RecvError::WouldBlock), None) => {}
                    (got, want) => panic!("respondent {i}: got {got:?}, model {want:?}"),
                }
            }
            Step::Tick(ms) => sut.net.advance(Duration::from_millis(ms)),
            Step::Disconnect(i) => sut.net.disconnect(sut.surveyor, sut.links[i]),
            Step::Collect => {
                let (want, want_err) = &m.expect_collect;
                let mut got = Vec::new();
                let err = loop {
                    match sut.net.recv(sut.surveyor) {
                        Ok(msg) => {
                            let text = String::from_utf8(msg.body.to_vec()).unwrap();
                            let (n, i) = text.split_once(':').unwrap();
                            let (n, i): (u32, usize) = (n.parse().unwrap(), i.parse().unwrap());
                            // Delivered responses answer the survey in progress.
                            assert_eq!(Some(sut.survey_ids[n as usize]), sut.survey_id());
                            let Phase::Active { deadline_ms } = m.phase else {
                                panic!("a response was delivered with no survey in progress");
                            };
                            assert!(m.now_ms < deadline_ms, "delivered after the deadline");
                            got.push((n, i));
                        }
                        Err(e) => break e,
                    }
                };
                got.sort();
                assert_eq!(&got, want);
                assert_eq!(Some(err), *want_err);
                if err == RecvError::TimedOut {
                    assert_eq!(
                        sut.net.recv(sut.surveyor),
                        Err(RecvError::WrongState),
                        "nothing after TimedOut until a new survey"
                    );
                }
            }
        }
        for ev in sut.net.take_events(sut.surveyor) {
            assert_eq!(ev, Event::SurveyExpired);
            sut.expired_events += 1;
        }
        sut
    }

    fn check_invariants(sut: &Net, m: &Model) {
        let s = sut.net.proto(sut.surveyor).stats();
        assert_eq!(s.delivered, m.delivered, "delivered");
        assert_eq!(s.dropped(DropReason::Cancelled), m.cancelled, "cancelled");
        assert_eq!(s.dropped(DropReason::SurveyExpired), m.expired, "expired");
        assert_eq!(s.dropped(DropReason::StaleId), m.stale, "stale");
        assert_eq!(
            s.dropped_total(),
            m.cancelled + m.expired + m.stale,
            "no other drops at the surveyor: {s:?}"
        );
        let gone: u64 = sut
            .respondents
            .iter()
            .map(|&r| sut.net.proto(r).stats().dropped(DropReason::PipeGone))
            .sum();
        let respondent_drops: u64 = sut
            .respondents
            .iter()
            .map(|&r| sut.net.proto(r).stats().dropped_total())
            .sum();
        assert_eq!((gone, respondent_drops), (m.pipe_gone, m.pipe_gone));
        assert_eq!(
            m.sent,
            s.delivered + s.dropped_total() + respondent_drops + m.queued.len() as u64,
            "every response sent is delivered, queued or counted as dropped"
        );
        assert_eq!(sut.expired_events, m.expiries);
        let deadline = match m.phase {
            Phase::Active { deadline_ms } => Some(Instant::from_millis(deadline_ms)),
            _ => None,
        };
        assert_eq!(sut.net.proto(sut.surveyor).poll_timeout(), deadline);
    }
}

prop_state_machine! {
    #[test]
    fn surveyor_matches_the_model(sequential 1..40 => SurveyTest);
}
