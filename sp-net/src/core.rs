//! The socket core shared by user handles and the driver tasks.
//!
//! One `Mutex<State>` per socket holds the sans-IO protocol and the per-pipe output
//! queues. User calls and pipe tasks lock it briefly, feed the protocol, drain its outputs
//! ([`State::drain`]) and wake whoever can now make progress. Nothing in here awaits while
//! holding the lock, and every `Notified` future is created before the lock is released,
//! so a wake-up between "nothing to do" and "wait" cannot be lost.
//!
//! The pipe tasks' critical sections live here too ([`Shared::deliver`] and
//! [`Shared::wait_while_paused`] for the reader, [`Shared::take_batch`] and
//! [`Shared::next_batch`] for the writer), so the loom model
//! checks (`core/loom_tests.rs`) run the very code the tasks run.

use crate::signal::Signal;
use crate::sync::{Arc, Mutex, MutexGuard, Notify};
use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use sp_proto::pipes::PipeIdAllocator;
use sp_proto::rng::Rng;
use sp_proto::{
    AnyProtocol, Drain, Event, Instant, Message, Output, PipeId, PipeInfo, Protocol, RecvError,
    SendError, SendErrorKind,
};

use crate::error::Error;

use crate::stats::{Count, PipeEvent, PipeStats, SocketStats};
use crate::transport::direct::{Direct, DirectWriter};
use crate::transport::tls::PeerCertificates;

/// What a pipe task needs to find its slot and be woken.
#[derive(Debug)]
pub(crate) struct PipeSlot {
    /// Messages the protocol transmitted, waiting for the writer task.
    pub(crate) out: VecDeque<Message>,
    /// The protocol's writability is withheld until the writer drains `out`.
    pub(crate) owed_writable: bool,
    /// The protocol asked to stop reading this pipe.
    pub(crate) paused: bool,
    /// Set when the socket closes or the pipe must go: tasks finish.
    pub(crate) closing: bool,
    /// Wakes the writer task.
    pub(crate) wake_writer: Arc<Notify>,
    /// Wakes the reader task (resume after pause, or close).
    pub(crate) wake_reader: Arc<Notify>,
    /// Traffic counters of this pipe.
    pub(crate) stats: PipeStats,
    /// The certificates the peer presented in a TLS handshake.
    pub(crate) peer_certificates: Option<PeerCertificates>,
    /// The connection's write half, for write-through (plain TCP and IPC only).
    pub(crate) direct: Option<std::sync::Arc<DirectWriter>>,
    /// A frame was written through in part: the writer task owes its rest.
    pub(crate) owed_rest: bool,
    /// Since when the writer task has been idle: it took an empty queue and waits, so
    /// nothing is being written (`None` while it writes; kept only with `direct`).
    pub(crate) idle_since: Option<std::time::Instant>,
    /// When the last write-through ended.
    pub(crate) last_write_through: Option<std::time::Instant>,
}

/// How long a pipe must have been quiet for a message to be written through: its writer
/// idle and no message written through for at least this long. A message that comes alone
/// (a request, a reply) is written at once by its sender, while a stream goes to the
/// writer task, which coalesces it into few system calls (a sender writing every message
/// itself would spend a system call on each).
pub(crate) const WRITE_THROUGH_GAP: std::time::Duration = std::time::Duration::from_micros(4);

impl PipeSlot {
    /// Writes `msg` through to the connection when the writer task is idle, nothing is
    /// queued before it, it is small and the pipe was quiet (see [`WRITE_THROUGH_GAP`]).
    /// `false`: queue it as usual.
    fn write_through(&mut self, msg: &Message) -> bool {
        if self.direct.is_none()
            || self.idle_since.is_none()
            || !self.out.is_empty()
            || !DirectWriter::fits(msg)
        {
            return false;
        }
        let now = std::time::Instant::now();
        let quiet_since = |t: Option<std::time::Instant>| {
            t.is_none_or(|t| now.saturating_duration_since(t) >= WRITE_THROUGH_GAP)
        };
        if !quiet_since(self.idle_since) {
            return false;
        }
        if !quiet_since(self.last_write_through) {
            return false;
        }
        let Some(written) = self.direct.as_ref().map(|d| d.try_write(msg)) else {
            return false;
        };
        // Timed from the end of the write, which may take long (over loopback the kernel
        // delivers to the receiving socket inside the call): the sender's next message,
        // whatever the write cost it, is quiet only after a gap of its own.
        self.last_write_through = Some(std::time::Instant::now());
        match written {
            Direct::Written => {}
            Direct::Partial => {
                self.idle_since = None;
                self.owed_rest = true;
                self.wake_writer.notify_one();
            }
            Direct::NotNow => return false,
        }
        self.stats.msgs_written_through += 1;
        true
    }
}

/// The mutable state of one socket.
pub(crate) struct State {
    pub(crate) proto: AnyProtocol,
    /// The drain loop over `proto` (its credit buffer is reused).
    drain: Drain,
    /// Boxed: a map node holds up to 11 entries, and a socket with one pipe (every
    /// dialer) would otherwise pay for 11 slots.
    pub(crate) pipes: BTreeMap<PipeId, Box<PipeSlot>>,
    pub(crate) alloc: PipeIdAllocator,
    pub(crate) closed: bool,
    /// Output queue length per pipe at which the protocol sees the pipe as busy.
    pub(crate) pipe_queue: usize,
    pub(crate) stats: SocketStats,
    /// Deadline the timer task is sleeping towards.
    pub(crate) armed: Option<Instant>,
}

/// Who to wake after a state change.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Wake {
    pub(crate) timer: bool,
    /// The protocol produced output: blocked users may now make progress.
    pub(crate) users: bool,
}

impl State {
    /// The protocol, to feed it an input or a command: the drain rule says its outputs
    /// were all taken since the last one (debug-asserted). A batch of messages from one
    /// pipe may follow this with `handle_message` calls on `proto` directly.
    pub(crate) fn input(&mut self) -> &mut AnyProtocol {
        debug_assert!(
            self.proto.is_drained(),
            "protocol fed an input before its outputs were drained"
        );
        &mut self.proto
    }

    /// Drains every output of the protocol into the pipe queues; must follow every
    /// protocol call.
    pub(crate) fn drain(&mut self, now: Instant) -> Wake {
        let mut users = false;
        while let Some(output) = self.drain.next(&mut self.proto, now) {
            users = true;
            match output {
                Output::Transmit(t) => {
                    let Some(slot) = self.pipes.get_mut(&t.pipe) else {
                        continue;
                    };
                    slot.stats.msgs_out += 1;
                    slot.stats.bytes_out += t.msg.wire_len() as u64;
                    if slot.write_through(&t.msg) {
                        self.drain.credit(t.pipe);
                        continue;
                    }
                    // The writer takes the whole queue each time it looks, so it needs a
                    // wake-up only when the queue was empty (it may be waiting then).
                    if slot.out.is_empty() {
                        slot.wake_writer.notify_one();
                    }
                    slot.out.push_back(t.msg);
                    if slot.out.len() < self.pipe_queue {
                        self.drain.credit(t.pipe);
                    } else {
                        slot.owed_writable = true;
                    }
                }
                Output::Event(Event::PausePipe(p)) => {
                    if let Some(slot) = self.pipes.get_mut(&p) {
                        slot.paused = true;
                    }
                }
                Output::Event(Event::ResumePipe(p)) => {
                    if let Some(slot) = self.pipes.get_mut(&p) {
                        slot.paused = false;
                        slot.wake_reader.notify_one();
                    }
                }
                Output::Event(other) => tracing::debug!(event = ?other, "protocol event"),
            }
        }
        let deadline = self.proto.poll_timeout();
        let timer =
            deadline != self.armed && deadline.is_some_and(|d| self.armed.is_none_or(|a| d < a));
        if timer {
            self.armed = deadline;
        }
        Wake { timer, users }
    }
}

/// A counted reference to a socket's [`Shared`] core.
pub(crate) type SharedRef = Arc<Shared>;

/// The state plus the notifiers, shared by every handle and task of one socket.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Woken whenever a user's recv may now succeed.
    pub(crate) readable: Signal,
    /// Woken whenever a user's send may now succeed.
    pub(crate) writable: Signal,
    /// Woken when the earliest protocol deadline moved earlier, or on close.
    pub(crate) timer: Notify,
    /// The number of attached pipes, observable by users waiting for connections.
    pub(crate) pipe_count: tokio::sync::watch::Sender<usize>,
    /// Pipe events (added, removed, failed handshakes) for users who subscribed.
    /// Created by the first subscriber (its 256-slot buffer is most of an idle socket's
    /// memory); before that, events have no receiver and are not sent.
    pipe_events: std::sync::OnceLock<tokio::sync::broadcast::Sender<PipeEvent>>,
    epoch: tokio::time::Instant,
    /// The protocol never reads the time (`Protocol::uses_clock` is false): [`now`]
    /// skips the clock read, a measurable share of each message's cost.
    ///
    /// [`now`]: Self::now
    clock_free: bool,
}

impl Shared {
    pub(crate) fn new(proto: AnyProtocol, seed: u64, pipe_queue: usize) -> Arc<Self> {
        let mut rng = Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15);
        let clock_free = !proto.uses_clock();
        Arc::new(Self {
            state: Mutex::new(State {
                proto,
                drain: Drain::new(),
                pipes: BTreeMap::new(),
                alloc: PipeIdAllocator::new(&mut rng),
                closed: false,
                pipe_queue: pipe_queue.max(1),
                stats: SocketStats::default(),
                armed: None,
            }),
            readable: Signal::new(),
            writable: Signal::new(),
            timer: Notify::new(),
            pipe_count: tokio::sync::watch::Sender::new(0),
            pipe_events: std::sync::OnceLock::new(),
            epoch: tokio::time::Instant::now(),
            clock_free,
        })
    }

    /// The protocol clock: time since this socket was created. A protocol that never
    /// reads the time gets [`Instant::ZERO`] without a clock read.
    pub(crate) fn now(&self) -> Instant {
        if self.clock_free {
            return Instant::ZERO;
        }
        Instant::from_nanos(u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// Converts a protocol instant back to a tokio instant.
    pub(crate) fn to_tokio(&self, t: Instant) -> tokio::time::Instant {
        self.epoch + std::time::Duration::from_nanos(t.as_nanos())
    }

    /// Locks the state. A poisoned lock means a panic already happened under it; the
    /// state is still structurally valid, so continue rather than cascade.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes users and the timer after a change.
    pub(crate) fn wake(&self, w: Wake) {
        if w.users {
            self.readable.notify_all();
            self.writable.notify_all();
        }
        if w.timer {
            self.timer.notify_one();
        }
    }

    /// One attempt of a user send under the lock: `Ok(None)` when the protocol took the
    /// message, `Ok(Some(msg))` with the message back when it would block.
    pub(crate) fn send_once(
        &self,
        msg: Message,
        op: &mut impl FnMut(&mut AnyProtocol, Instant, Message) -> Result<(), SendError>,
    ) -> Result<Option<Message>, Error> {
        let now = self.now();
        let mut st = self.lock();
        if st.closed {
            return Err(Error::Closed);
        }
        let r = op(st.input(), now, msg);
        let mut w = st.drain(now);
        drop(st);
        // A send that did not block may have changed the state (readiness watchers).
        w.users |= !matches!(&r, Err(e) if e.kind == SendErrorKind::WouldBlock);
        self.wake(w);
        match r {
            Ok(()) => Ok(None),
            Err(e) if e.kind == SendErrorKind::WouldBlock => Ok(Some(e.msg)),
            Err(e) => Err(Error::from_send(e.kind)),
        }
    }

    /// Runs `op` (a user send) until it is accepted: on `WouldBlock`, waits for a change
    /// and retries. Fails with [`Error::Closed`] once the socket closes.
    pub(crate) async fn send_loop(
        &self,
        mut msg: Message,
        mut op: impl FnMut(&mut AnyProtocol, Instant, Message) -> Result<(), SendError>,
    ) -> Result<(), Error> {
        // The first attempt goes without a ticket; a ticket is taken (and the operation
        // retried under it) only once it would block.
        let mut ticket = None;
        loop {
            match self.send_once(msg, &mut op)? {
                None => return Ok(()),
                Some(back) => msg = back,
            }
            match ticket.take() {
                Some(changed) => changed.await,
                None => ticket = Some(self.writable.listen()),
            }
        }
    }

    /// One attempt of a user receive under the lock: `Ok(None)` when nothing is ready.
    pub(crate) fn recv_once(
        &self,
        op: &mut impl FnMut(&mut AnyProtocol, Instant) -> Result<Message, RecvError>,
    ) -> Result<Option<Message>, Error> {
        let now = self.now();
        let mut st = self.lock();
        if st.closed {
            return Err(Error::Closed);
        }
        let r = op(st.input(), now);
        let mut w = st.drain(now);
        drop(st);
        // A receive that did not block may have changed the state (a survey's expiry is
        // reported once): readiness watchers look again.
        w.users |= !matches!(r, Err(RecvError::WouldBlock));
        self.wake(w);
        match r {
            Ok(m) => Ok(Some(m)),
            Err(RecvError::WouldBlock) => Ok(None),
            Err(e) => Err(Error::from_recv(e)),
        }
    }

    /// Runs `op` (a user receive) until it yields a message: on `WouldBlock`, waits for a
    /// change and retries. Cancellation-safe: nothing is taken from the protocol unless
    /// it is returned.
    pub(crate) async fn recv_loop(
        &self,
        mut op: impl FnMut(&mut AnyProtocol, Instant) -> Result<Message, RecvError>,
    ) -> Result<Message, Error> {
        // The first attempt goes without a ticket; a ticket is taken (and the operation
        // retried under it) only once it would block.
        let mut ticket = None;
        loop {
            if let Some(m) = self.recv_once(&mut op)? {
                return Ok(m);
            }
            match ticket.take() {
                Some(changed) => changed.await,
                None => ticket = Some(self.readable.listen()),
            }
        }
    }

    /// Marks the socket closed: user operations fail with `Closed`, pipes flush and end.
    pub(crate) fn shutdown(&self) {
        let now = self.now();
        let mut st = self.lock();
        if !st.closed {
            // What the user did not read is discarded and counted (sp-overview §14.3);
            // a pipe the discard resumes wakes its reader, which sees the pipe closing.
            st.input().close(now);
            let _ = st.drain(now);
        }
        st.closed = true;
        for slot in st.pipes.values_mut() {
            slot.closing = true;
            slot.wake_reader.notify_one();
            slot.wake_writer.notify_one();
        }
        drop(st);
        self.readable.notify_all();
        self.writable.notify_all();
        self.timer.notify_one();
    }

    /// Attaches a pipe whose handshake completed; returns its id and wakers, or `None`
    /// if the protocol refused it or the socket is closed.
    pub(crate) fn attach_pipe(
        &self,
        info: PipeInfo,
        peer: &str,
        peer_certificates: Option<PeerCertificates>,
        direct: Option<std::sync::Arc<DirectWriter>>,
    ) -> Result<(PipeId, Arc<Notify>, Arc<Notify>), AttachError> {
        let now = self.now();
        let mut st = self.lock();
        if st.closed {
            return Err(AttachError::Closed);
        }
        let id = st.alloc.allocate();
        if let Err(e) = st.input().handle_pipe_added(now, id, info) {
            st.alloc.release(id);
            return Err(AttachError::Refused(e));
        }
        let wake_writer = Arc::new(Notify::new());
        let wake_reader = Arc::new(Notify::new());
        st.pipes.insert(
            id,
            Box::new(PipeSlot {
                out: VecDeque::new(),
                owed_writable: false,
                paused: false,
                closing: false,
                wake_writer: wake_writer.clone(),
                wake_reader: wake_reader.clone(),
                stats: PipeStats {
                    pipe: id,
                    peer: peer.to_owned(),
                    ..PipeStats::default()
                },
                peer_certificates: peer_certificates.clone(),
                direct,
                owed_rest: false,
                // Until the writer task first finds the queue empty.
                idle_since: None,
                last_write_through: None,
            }),
        );
        st.stats.pipes_added += 1;
        let mut w = st.drain(now);
        w.users = true;
        let count = st.pipes.len();
        drop(st);
        self.pipe_count.send_replace(count);
        self.send_pipe_event(PipeEvent::Added {
            pipe: id,
            peer: peer.to_owned(),
            peer_certificates,
        });
        self.wake(w);
        Ok((id, wake_writer, wake_reader))
    }

    /// Detaches a pipe (its connection ended). Idempotent.
    pub(crate) fn detach_pipe(&self, id: PipeId) {
        let now = self.now();
        let mut st = self.lock();
        let Some(slot) = st.pipes.remove(&id) else {
            return;
        };
        slot.wake_writer.notify_one();
        slot.wake_reader.notify_one();
        st.stats.pipes_removed += 1;
        st.alloc.release(id);
        st.input().handle_pipe_removed(now, id);
        let mut w = st.drain(now);
        w.users = true;
        let count = st.pipes.len();
        drop(st);
        self.pipe_count.send_replace(count);
        self.send_pipe_event(PipeEvent::Removed { stats: slot.stats });
        self.wake(w);
    }

    /// Whether the socket is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Counts one connection event in the socket's statistics.
    pub(crate) fn count(&self, event: Count) {
        self.lock().stats.count(event);
    }

    /// What the reader of pipe `id` should do next.
    pub(crate) fn read_state(&self, id: PipeId) -> ReadState {
        ReadState::of(&self.lock(), id)
    }

    /// The reader's wait while pipe `id` is paused: returns its state once that is no
    /// longer [`ReadState::Paused`]. Resume, close and removal all notify `wake` (the
    /// pipe's reader notifier) after changing the state, and the wait is taken before
    /// the state is read, so no such change is missed.
    pub(crate) async fn wait_while_paused(&self, id: PipeId, wake: &Notify) -> ReadState {
        loop {
            let notified = wake.notified();
            let state = self.read_state(id);
            if state != ReadState::Paused {
                return state;
            }
            notified.await;
        }
    }

    /// Hands a batch of payloads received on pipe `id` to the protocol, wakes whoever can
    /// progress, and tells the reader what to do next.
    pub(crate) fn deliver(&self, id: PipeId, frames: &mut Vec<Bytes>) -> ReadState {
        let now = self.now();
        let mut st = self.lock();
        if frames.is_empty() {
            return ReadState::of(&st, id);
        }
        if let Some(slot) = st.pipes.get_mut(&id) {
            slot.stats.msgs_in += frames.len() as u64;
            slot.stats.bytes_in += frames.iter().map(|f| f.len() as u64).sum::<u64>();
        }
        // One batch of messages from this pipe, then one drain (the drain rule's exception).
        let proto = st.input();
        for f in frames.drain(..) {
            proto.handle_message(now, id, f);
        }
        let mut w = st.drain(now);
        w.users = true;
        let next = ReadState::of(&st, id);
        drop(st);
        self.wake(w);
        next
    }

    /// The writer's locked section: moves pipe `id`'s whole output queue into `batch`
    /// (empty on entry) and gives the protocol the writability it is owed. `None` when
    /// the pipe is gone, else whether the pipe is closing and whether the writer owes the
    /// rest of a frame written through in part. With neither and an empty batch, the
    /// writer is idle from here until it is given work.
    pub(crate) fn take_batch(
        &self,
        id: PipeId,
        batch: &mut VecDeque<Message>,
    ) -> Option<(bool, bool)> {
        let now = self.now();
        let mut st = self.lock();
        let slot = st.pipes.get_mut(&id)?;
        // The batch is empty here (the last write drained it): take the whole queue in
        // O(1), leaving the batch's buffer in its place.
        std::mem::swap(batch, &mut slot.out);
        if batch.is_empty() {
            // Going idle: give both queue buffers back rather than keep them for the life
            // of a quiet pipe (a busy one does not come here between batches).
            *batch = VecDeque::new();
            slot.out = VecDeque::new();
        }
        let closing = slot.closing;
        let rest = std::mem::take(&mut slot.owed_rest);
        let idle = batch.is_empty() && !rest && !closing;
        if !idle {
            slot.idle_since = None;
        } else if slot.idle_since.is_none() && slot.direct.is_some() {
            slot.idle_since = Some(std::time::Instant::now());
        }
        if slot.owed_writable {
            slot.owed_writable = false;
            st.input().handle_writable(now, id);
            let mut w = st.drain(now);
            w.users = true;
            drop(st);
            self.wake(w);
        }
        Some((closing, rest))
    }

    /// The writer's wait: [`take_batch`](Self::take_batch) until there is something to
    /// write (a batch, or the rest of a frame written through in part: the batch is empty
    /// then) or the pipe is closing (`Some(closing)`), or the pipe is gone (`None`).
    /// `wake` is the pipe's writer notifier; `notify_one` stores a permit, so a wake-up
    /// between the check and the wait is not lost.
    pub(crate) async fn next_batch(
        &self,
        id: PipeId,
        batch: &mut VecDeque<Message>,
        wake: &Notify,
    ) -> Option<bool> {
        loop {
            let (closing, rest) = self.take_batch(id, batch)?;
            if closing || rest || !batch.is_empty() {
                return Some(closing);
            }
            wake.notified().await;
        }
    }

    /// Subscribes to pipe events, creating the channel on first use.
    pub(crate) fn subscribe_pipe_events(&self) -> tokio::sync::broadcast::Receiver<PipeEvent> {
        self.pipe_events
            .get_or_init(|| tokio::sync::broadcast::Sender::new(256))
            .subscribe()
    }

    /// Sends a pipe event if anyone ever subscribed.
    pub(crate) fn send_pipe_event(&self, event: PipeEvent) {
        if let Some(tx) = self.pipe_events.get() {
            let _ = tx.send(event);
        }
    }
}

/// Why a pipe could not be attached.
#[derive(Debug)]
pub(crate) enum AttachError {
    Closed,
    Refused(sp_proto::PipeRefused),
}

/// What the reader of a pipe should do next, read under the lock with each delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadState {
    /// Keep reading.
    Read,
    /// The protocol paused this pipe: wait for it to resume.
    Paused,
    /// The socket is closing: the writer flushes and ends the pipe; stop reading.
    Closing,
    /// The pipe is gone.
    Gone,
}

impl ReadState {
    fn of(st: &State, id: PipeId) -> Self {
        match st.pipes.get(&id) {
            None => Self::Gone,
            Some(s) if s.closing => Self::Closing,
            Some(s) if s.paused => Self::Paused,
            Some(_) => Self::Read,
        }
    }
}

/// Model checks of the core's concurrency with loom: run with
/// `RUSTFLAGS="--cfg sp_net_loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p sp-net --lib --profile loom loom`.
/// A lost wake-up shows up as a deadlock, which loom reports as a failure.
#[cfg(all(test, sp_net_loom))]
mod loom_tests;
