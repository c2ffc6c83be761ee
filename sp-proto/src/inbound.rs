//! The shared receive side: per-pipe queues served by fair queueing over receive
//! priorities, with pause/resume flow control towards the driver.

use alloc::collections::{BTreeMap, VecDeque};

use crate::message::Message;
use crate::pipes::{PipeId, Priority, PriorityRing};
use crate::protocol::{Event, PipeRefused};
use crate::stats::{DropReason, ProtoStats};

/// What to do when a pipe's queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum OnFull {
    /// Ask the driver to stop reading the pipe (back-pressure; nothing lost).
    Pause,
    /// Drop the oldest queued message of that pipe (best-effort receivers such as SUB).
    DropOldest,
    /// Drop the arriving message.
    DropNewest,
}

/// Per-pipe receive queues with fair, priority-ordered service.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Inbound {
    ring: PriorityRing,
    queues: BTreeMap<PipeId, PipeQueue>,
    capacity: usize,
    on_full: OnFull,
    len: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct PipeQueue {
    msgs: VecDeque<Message>,
    paused: bool,
    /// The pipe is gone; its queue is still served until empty (a message that fully
    /// arrived is not lost because its connection closed afterwards).
    removed: bool,
}

impl Inbound {
    /// Queues of `capacity` messages per pipe with the given overflow policy.
    pub(crate) fn new(capacity: usize, on_full: OnFull) -> Self {
        Self {
            ring: PriorityRing::new(),
            queues: BTreeMap::new(),
            capacity: capacity.max(1),
            on_full,
            len: 0,
        }
    }

    /// Changes the per-pipe capacity (applies to later arrivals).
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
    }

    /// Changes the overflow policy (applies to later arrivals) and resumes every paused
    /// pipe that no longer has to wait: all of them under a drop policy, and under
    /// [`OnFull::Pause`] those whose queue is below the (possibly new) capacity.
    pub(crate) fn set_on_full(&mut self, on_full: OnFull, events: &mut VecDeque<Event>) {
        self.on_full = on_full;
        for (pipe, q) in &mut self.queues {
            if q.paused && (on_full != OnFull::Pause || q.msgs.len() < self.capacity) {
                q.paused = false;
                events.push_back(Event::ResumePipe(*pipe));
            }
        }
    }

    /// Registers a pipe with its receive priority.
    pub(crate) fn add_pipe(&mut self, pipe: PipeId, priority: Priority) {
        // An id can come back while messages of its previous pipe are still queued: keep
        // them (they arrived whole) and serve them first.
        let leftover = self
            .queues
            .remove(&pipe)
            .map(|q| q.msgs)
            .unwrap_or_default();
        self.ring.add(pipe, priority);
        if !leftover.is_empty() {
            self.ring.activate(pipe);
        }
        self.queues.insert(
            pipe,
            PipeQueue {
                msgs: leftover,
                ..PipeQueue::default()
            },
        );
    }

    /// Registers a pipe not registered yet, with its receive priority; one already
    /// registered (and not removed) is refused as a duplicate. The pipe handling of a
    /// socket that receives from every pipe alike (PULL, SUB: see `receive_only_pipes!`).
    pub(crate) fn add_new_pipe(
        &mut self,
        pipe: PipeId,
        priority: Priority,
    ) -> Result<(), PipeRefused> {
        PipeRefused::if_attached(self.contains(pipe), pipe)?;
        self.add_pipe(pipe, priority);
        Ok(())
    }

    /// Forgets a pipe. Messages it already queued stay deliverable; later arrivals for it
    /// are dropped as [`DropReason::PipeClosed`].
    pub(crate) fn remove_pipe(&mut self, pipe: PipeId) {
        let Some(q) = self.queues.get_mut(&pipe) else {
            return;
        };
        if q.msgs.is_empty() {
            self.queues.remove(&pipe);
            self.ring.remove(pipe);
        } else {
            q.removed = true;
            q.paused = false;
        }
    }

    /// Queues a message that arrived on `pipe`. Unknown pipes are ignored (counted as
    /// [`DropReason::PipeClosed`]).
    pub(crate) fn push(
        &mut self,
        pipe: PipeId,
        msg: Message,
        stats: &mut ProtoStats,
        events: &mut VecDeque<Event>,
    ) {
        let Some(q) = self.queues.get_mut(&pipe).filter(|q| !q.removed) else {
            stats.drop_one(DropReason::PipeClosed);
            return;
        };
        if q.msgs.len() >= self.capacity {
            match self.on_full {
                OnFull::Pause => {}
                OnFull::DropOldest => {
                    q.msgs.pop_front();
                    self.len -= 1;
                    stats.drop_one(DropReason::QueueFull);
                }
                OnFull::DropNewest => {
                    stats.drop_one(DropReason::QueueFull);
                    return;
                }
            }
        }
        // A pipe with queued messages is already active in the ring.
        if q.msgs.is_empty() {
            self.ring.activate(pipe);
        }
        q.msgs.push_back(msg);
        self.len += 1;
        if self.on_full == OnFull::Pause && q.msgs.len() >= self.capacity && !q.paused {
            q.paused = true;
            events.push_back(Event::PausePipe(pipe));
        }
    }

    /// Takes the next message: highest receive priority first, round-robin among pipes of
    /// the same priority.
    pub(crate) fn pop(&mut self, events: &mut VecDeque<Event>) -> Option<(PipeId, Message)> {
        let pipe = self.ring.rotate()?;
        let q = self.queues.get_mut(&pipe)?;
        let msg = q.msgs.pop_front()?;
        self.len -= 1;
        if q.msgs.is_empty() {
            if q.removed {
                self.queues.remove(&pipe);
                self.ring.remove(pipe);
                return Some((pipe, msg));
            }
            self.ring.deactivate(pipe);
        }
        if q.paused && q.msgs.len() < self.capacity {
            q.paused = false;
            events.push_back(Event::ResumePipe(pipe));
        }
        Some((pipe, msg))
    }

    /// Drops every queued message (counting them under `reason`), resuming paused pipes.
    pub(crate) fn clear(
        &mut self,
        reason: DropReason,
        stats: &mut ProtoStats,
        events: &mut VecDeque<Event>,
    ) {
        self.queues.retain(|pipe, q| {
            if q.removed {
                stats.drop_many(reason, q.msgs.len() as u64);
                self.ring.remove(*pipe);
            }
            !q.removed
        });
        for (pipe, q) in &mut self.queues {
            stats.drop_many(reason, q.msgs.len() as u64);
            q.msgs.clear();
            self.ring.deactivate(*pipe);
            if q.paused {
                q.paused = false;
                events.push_back(Event::ResumePipe(*pipe));
            }
        }
        self.len = 0;
    }

    /// Total queued messages.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `pipe` is registered (and not removed).
    pub(crate) fn contains(&self, pipe: PipeId) -> bool {
        self.queues.get(&pipe).is_some_and(|q| !q.removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipes::tests::p;

    #[test]
    fn fair_priority_and_backpressure() {
        let mut stats = ProtoStats::default();
        let mut ev = VecDeque::new();
        let mut q = Inbound::new(2, OnFull::Pause);
        q.add_pipe(p(1), Priority::new(8).unwrap());
        q.add_pipe(p(2), Priority::new(8).unwrap());
        q.add_pipe(p(3), Priority::new(16).unwrap());
        q.push(p(3), Message::from("low"), &mut stats, &mut ev);
        for i in 0..2 {
            q.push(
                p(1),
                Message::new(format!("a{i}").into_bytes()),
                &mut stats,
                &mut ev,
            );
            q.push(
                p(2),
                Message::new(format!("b{i}").into_bytes()),
                &mut stats,
                &mut ev,
            );
        }
        assert_eq!(
            ev.drain(..).collect::<Vec<_>>(),
            [Event::PausePipe(p(1)), Event::PausePipe(p(2))]
        );
        let order: Vec<_> = core::iter::from_fn(|| q.pop(&mut ev))
            .map(|(_, m)| m.body)
            .collect();
        assert_eq!(order, ["a0", "b0", "a1", "b1", "low"]);
        assert_eq!(
            ev.drain(..).collect::<Vec<_>>(),
            [Event::ResumePipe(p(1)), Event::ResumePipe(p(2))]
        );
        assert!(q.is_empty());
    }

    #[test]
    fn re_added_id_keeps_leftover_messages_and_counts() {
        let mut stats = ProtoStats::default();
        let mut ev = VecDeque::new();
        let mut q = Inbound::new(4, OnFull::Pause);
        q.add_pipe(p(1), Priority::DEFAULT);
        q.push(p(1), Message::from("old"), &mut stats, &mut ev);
        q.remove_pipe(p(1));
        q.add_pipe(p(1), Priority::DEFAULT);
        q.push(p(1), Message::from("new"), &mut stats, &mut ev);
        assert_eq!(q.len(), 2);
        let got: Vec<_> = core::iter::from_fn(|| q.pop(&mut ev))
            .map(|(_, m)| m.body)
            .collect();
        assert_eq!(got, ["old", "new"]);
        assert!(q.is_empty() && q.contains(p(1)));
    }

    #[test]
    fn drop_policies_count() {
        let mut stats = ProtoStats::default();
        let mut ev = VecDeque::new();
        let mut q = Inbound::new(1, OnFull::DropOldest);
        q.add_pipe(p(1), Priority::DEFAULT);
        q.push(p(1), Message::from("old"), &mut stats, &mut ev);
        q.push(p(1), Message::from("new"), &mut stats, &mut ev);
        assert_eq!(stats.dropped(DropReason::QueueFull), 1);
        assert_eq!(q.pop(&mut ev).unwrap().1.body, "new");
        q.push(p(1), Message::from("x"), &mut stats, &mut ev);
        q.remove_pipe(p(1));
        assert!(!q.contains(p(1)));
        q.push(p(1), Message::from("y"), &mut stats, &mut ev);
        assert_eq!(
            stats.dropped(DropReason::PipeClosed),
            1,
            "arrivals after removal are dropped"
        );
        assert_eq!(
            q.pop(&mut ev).unwrap().1.body,
            "x",
            "what arrived before removal is kept"
        );
        assert!(q.pop(&mut ev).is_none());
        assert!(ev.is_empty());
    }
}
