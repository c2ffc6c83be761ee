//! Model checks of the core's concurrency with loom. Each test drives the functions the
//! pipe tasks and user calls run ([`Shared::deliver`], [`Shared::wait_while_paused`],
//! [`Shared::take_batch`], [`Shared::next_batch`], the send and receive loops), never
//! copies of them.

use std::collections::VecDeque;

use bytes::Bytes;
use loom::future::block_on;
use loom::thread;
use sp_proto::{AnyProtocol, Config, DropReason, Message, PipeInfo, Protocol, SocketType};

use super::{ReadState, Shared};
use crate::error::Error;
use crate::sync::Arc;

fn socket(t: SocketType) -> Arc<Shared> {
    Shared::new(AnyProtocol::new(t, Config::cooked(1)), 1, 4)
}

fn recv(shared: &Shared) -> Result<Message, Error> {
    block_on(shared.recv_loop(|p, now| p.recv(now)))
}

#[test]
fn loom_delivery_wakes_a_blocked_receiver() {
    loom::model(|| {
        let shared = socket(SocketType::Pull);
        let (pipe, _, _) = shared
            .attach_pipe(PipeInfo::default(), "test", None, None)
            .unwrap();
        let s = shared.clone();
        let t = thread::spawn(move || s.deliver(pipe, &mut vec![Bytes::from_static(b"m")]));
        assert_eq!(recv(&shared).unwrap().body, "m");
        t.join().unwrap();
    });
}

#[test]
fn loom_two_pipes_deliver_while_one_thread_receives() {
    loom::model(|| {
        let shared = socket(SocketType::Pull);
        let mut senders = Vec::new();
        for body in [&b"a"[..], &b"b"[..]] {
            let (pipe, _, _) = shared
                .attach_pipe(PipeInfo::default(), "test", None, None)
                .unwrap();
            let s = shared.clone();
            senders.push(thread::spawn(move || {
                s.deliver(pipe, &mut vec![Bytes::from_static(body)])
            }));
        }
        let mut got = vec![recv(&shared).unwrap().body, recv(&shared).unwrap().body];
        got.sort();
        assert_eq!(got, ["a", "b"], "every message received once");
        for t in senders {
            t.join().unwrap();
        }
    });
}

#[test]
fn loom_close_wakes_a_blocked_receiver() {
    loom::model(|| {
        let shared = socket(SocketType::Pull);
        let s = shared.clone();
        let t = thread::spawn(move || s.shutdown());
        assert!(matches!(recv(&shared), Err(Error::Closed)));
        t.join().unwrap();
    });
}

#[test]
fn loom_close_wakes_a_blocked_sender() {
    loom::model(|| {
        // A PUSH with no pipe: send waits for a writable pipe that never comes.
        let shared = socket(SocketType::Push);
        let s = shared.clone();
        let t = thread::spawn(move || s.shutdown());
        let r = block_on(shared.send_loop(Message::from("x"), |p, now, m| p.send(now, m)));
        assert!(matches!(r, Err(Error::Closed)));
        t.join().unwrap();
    });
}

#[test]
fn loom_pipe_removal_racing_delivery_loses_nothing_silently() {
    loom::model(|| {
        let shared = socket(SocketType::Pull);
        let (pipe, _, _) = shared
            .attach_pipe(PipeInfo::default(), "test", None, None)
            .unwrap();
        let s1 = shared.clone();
        let deliverer =
            thread::spawn(move || s1.deliver(pipe, &mut vec![Bytes::from_static(b"m")]));
        let s2 = shared.clone();
        let remover = thread::spawn(move || s2.detach_pipe(pipe));
        deliverer.join().unwrap();
        remover.join().unwrap();
        let now = shared.now();
        let mut st = shared.lock();
        let received = usize::from(st.proto.recv(now).is_ok());
        let dropped = st.proto.stats().dropped(DropReason::PipeClosed) as usize;
        assert_eq!(
            received + dropped,
            1,
            "the message is either kept or counted as dropped"
        );
        assert!(st.pipes.is_empty());
    });
}

#[test]
fn loom_sender_blocked_on_a_full_pipe_wakes_when_the_writer_drains() {
    loom::model(|| {
        // Queue depth 1 per pipe: the second send waits until the writer takes the
        // first message and returns the pipe's writability.
        let shared = Shared::new(AnyProtocol::new(SocketType::Push, Config::cooked(1)), 1, 1);
        let (pipe, _, _) = shared
            .attach_pipe(PipeInfo::default(), "test", None, None)
            .unwrap();
        block_on(shared.send_loop(Message::from("1"), |p, now, m| p.send(now, m))).unwrap();
        let s = shared.clone();
        let writer = thread::spawn(move || {
            let mut batch = VecDeque::new();
            s.take_batch(pipe, &mut batch);
            batch.len()
        });
        block_on(shared.send_loop(Message::from("2"), |p, now, m| p.send(now, m))).unwrap();
        assert_eq!(writer.join().unwrap(), 1);
    });
}

#[test]
fn loom_a_send_wakes_an_idle_writer() {
    loom::model(|| {
        // The writer waits on its notifier with nothing queued; a user send queues a
        // message and must wake it, whichever runs first.
        let shared = socket(SocketType::Push);
        let (pipe, wake_writer, _) = shared
            .attach_pipe(PipeInfo::default(), "test", None, None)
            .unwrap();
        let s = shared.clone();
        let writer = thread::spawn(move || {
            let mut batch = VecDeque::new();
            let closing = block_on(s.next_batch(pipe, &mut batch, &wake_writer));
            (closing, batch.len())
        });
        block_on(shared.send_loop(Message::from("x"), |p, now, m| p.send(now, m))).unwrap();
        assert_eq!(writer.join().unwrap(), (Some(false), 1));
    });
}

#[test]
fn loom_close_wakes_an_idle_writer() {
    loom::model(|| {
        let shared = socket(SocketType::Push);
        let (pipe, wake_writer, _) = shared
            .attach_pipe(PipeInfo::default(), "test", None, None)
            .unwrap();
        let s = shared.clone();
        let closer = thread::spawn(move || s.shutdown());
        let mut batch = VecDeque::new();
        let closing = block_on(shared.next_batch(pipe, &mut batch, &wake_writer));
        assert_eq!(
            closing,
            Some(true),
            "the writer sees the close and ends the pipe"
        );
        closer.join().unwrap();
    });
}

#[test]
fn loom_a_receive_resumes_a_paused_reader() {
    loom::model(|| {
        // Receive queue of one: the first delivery pauses the pipe; the reader waits until
        // a user receive makes room, which must wake it whichever runs first.
        let mut config = Config::cooked(1);
        config.options.set_recv_queue(1).unwrap();
        let shared = Shared::new(AnyProtocol::new(SocketType::Pull, config), 1, 4);
        let (pipe, _, wake_reader) = shared
            .attach_pipe(PipeInfo::default(), "test", None, None)
            .unwrap();
        let state = shared.deliver(pipe, &mut vec![Bytes::from_static(b"m")]);
        assert_eq!(state, ReadState::Paused);
        let s = shared.clone();
        let reader = thread::spawn(move || block_on(s.wait_while_paused(pipe, &wake_reader)));
        assert_eq!(recv(&shared).unwrap().body, "m");
        assert_eq!(reader.join().unwrap(), ReadState::Read);
    });
}
