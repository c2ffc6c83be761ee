//! Pipes and the shared scheduling mechanisms: pipe ids, priorities, the priority
//! round-robin ring that implements both load balancing (PUSH, REQ) and fair queueing
//! (PULL, REP, SUB, ...), and the fan-out set of the senders that write every message to
//! every pipe (PUB, BUS, SURVEYOR).

use alloc::collections::{BTreeMap, VecDeque};
use core::fmt;

use crate::message::Message;
use crate::proto::Core;
use crate::protocol::PipeRefused;
use crate::rng::Rng;
use crate::stats::DropReason;
use alloc::vec::Vec;

/// Identifies one pipe (one connection to one peer) within a socket.
///
/// Ids are non-zero and below 2^31, so REP and RESPONDENT can push them on a backtrace
/// (where bit 31 marks the request id) and raw BUS can carry them in a 4-byte header.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PipeId(u32);

impl PipeId {
    /// The largest valid id.
    pub const MAX: u32 = 0x7fff_ffff;

    /// Wraps `id` if it is a valid pipe id (1..=0x7fff_ffff).
    pub const fn new(id: u32) -> Option<Self> {
        if id == 0 || id > Self::MAX {
            None
        } else {
            Some(Self(id))
        }
    }

    /// The numeric id.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Debug for PipeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pipe#{}", self.0)
    }
}

impl fmt::Display for PipeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Hands out unique pipe ids: a seeded random start, then +1 per pipe (skipping 0 and
/// ids still in use), as nanomsg and NNG do, so that ids from different sockets rarely
/// collide in a device chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PipeIdAllocator {
    next: u32,
    in_use: alloc::collections::BTreeSet<u32>,
}

impl PipeIdAllocator {
    /// A new allocator whose first id comes from `rng`.
    pub fn new(rng: &mut Rng) -> Self {
        Self {
            next: rng.next_u32() & PipeId::MAX,
            in_use: Default::default(),
        }
    }

    /// A fresh id not currently in use.
    ///
    /// # Panics
    /// Never in practice: it would need 2^31 live pipes.
    pub fn allocate(&mut self) -> PipeId {
        loop {
            self.next = self.next.wrapping_add(1) & PipeId::MAX;
            if self.next != 0 && self.in_use.insert(self.next) {
                return PipeId(self.next);
            }
        }
    }

    /// Returns `id` to the pool.
    pub fn release(&mut self, id: PipeId) {
        self.in_use.remove(&id.0);
    }
}

/// A send or receive priority: 1 (highest) to 16 (lowest), default 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(u8);

impl Priority {
    /// The highest priority, 1.
    pub const HIGHEST: Self = Self(1);
    /// The lowest priority, 16.
    pub const LOWEST: Self = Self(16);
    /// The default priority, 8.
    pub const DEFAULT: Self = Self(8);

    /// Wraps `p` if it is in 1..=16.
    pub const fn new(p: u8) -> Option<Self> {
        if p >= 1 && p <= 16 {
            Some(Self(p))
        } else {
            None
        }
    }

    /// The numeric priority (1..=16).
    pub const fn get(self) -> u8 {
        self.0
    }

    const fn index(self) -> usize {
        (self.0 - 1) as usize
    }
}

impl Default for Priority {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What a driver says about a pipe when it attaches it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PipeInfo {
    /// Priority for sending (load-balanced senders: PUSH, REQ).
    pub send_priority: Priority,
    /// Priority for receiving (fair-queued receivers).
    pub recv_priority: Priority,
}

/// A map keyed by pipe id, kept as a vector sorted by id: lookups are a binary search
/// over one contiguous array, which for the few pipes of a typical socket costs less than
/// a B-tree's node walk, and that lookup happens on every load-balanced send.
/// Insertion and removal move the tail, which only pipe attach and detach do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PipeMap<V> {
    entries: Vec<(PipeId, V)>,
}

impl<V> Default for PipeMap<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<V> PipeMap<V> {
    fn find(&self, pipe: &PipeId) -> Result<usize, usize> {
        self.entries.binary_search_by_key(pipe, |(p, _)| *p)
    }

    fn insert(&mut self, pipe: PipeId, value: V) {
        match self.find(&pipe) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (pipe, value)),
        }
    }

    fn remove(&mut self, pipe: &PipeId) -> Option<V> {
        let i = self.find(pipe).ok()?;
        Some(self.entries.remove(i).1)
    }

    fn get(&self, pipe: &PipeId) -> Option<&V> {
        let i = self.find(pipe).ok()?;
        Some(&self.entries[i].1)
    }

    fn get_mut(&mut self, pipe: &PipeId) -> Option<&mut V> {
        let i = self.find(pipe).ok()?;
        Some(&mut self.entries[i].1)
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn keys(&self) -> impl Iterator<Item = PipeId> + '_ {
        self.entries.iter().map(|(p, _)| *p)
    }
}

/// A set of active pipes, grouped by priority, served in strict priority order and
/// round-robin within a priority level.
///
/// The same structure serves load balancing (the active pipes are the writable ones; the
/// sender takes the next one and re-activates it when it becomes writable again) and fair
/// queueing (the active pipes are those with a message waiting). A lower-priority pipe is
/// chosen only while no higher-priority pipe is active, which gives nanomsg's strict
/// failover.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PriorityRing {
    levels: [VecDeque<PipeId>; 16],
    /// Bit i set when level i is non-empty.
    nonempty: u16,
    /// Priority of every known pipe, and whether it is currently active.
    pipes: PipeMap<(Priority, bool)>,
}

impl PriorityRing {
    /// An empty ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `pipe` at `priority`, initially inactive. Re-adding updates the priority.
    pub fn add(&mut self, pipe: PipeId, priority: Priority) {
        self.remove(pipe);
        self.pipes.insert(pipe, (priority, false));
    }

    /// Registers a new pipe at `priority`, active at once (a pipe attaches writable);
    /// refuses an id already registered.
    pub(crate) fn attach_writable(
        &mut self,
        pipe: PipeId,
        priority: Priority,
    ) -> Result<(), PipeRefused> {
        PipeRefused::if_attached(self.contains(pipe), pipe)?;
        self.add(pipe, priority);
        self.activate(pipe);
        Ok(())
    }

    /// Forgets `pipe` entirely.
    pub fn remove(&mut self, pipe: PipeId) {
        if let Some((prio, active)) = self.pipes.remove(&pipe) {
            if active {
                let level = &mut self.levels[prio.index()];
                level.retain(|p| *p != pipe);
                if level.is_empty() {
                    self.nonempty &= !(1 << prio.index());
                }
            }
        }
    }

    /// Whether `pipe` is registered.
    pub fn contains(&self, pipe: PipeId) -> bool {
        self.pipes.get(&pipe).is_some()
    }

    /// Whether `pipe` is registered and active.
    pub fn is_active(&self, pipe: PipeId) -> bool {
        self.pipes.get(&pipe).is_some_and(|(_, a)| *a)
    }

    /// Marks a registered pipe active (it joins the back of its level). No-op if the pipe
    /// is unknown or already active.
    pub fn activate(&mut self, pipe: PipeId) {
        if let Some((prio, active)) = self.pipes.get_mut(&pipe) {
            if !*active {
                *active = true;
                self.levels[prio.index()].push_back(pipe);
                self.nonempty |= 1 << prio.index();
            }
        }
    }

    /// Marks a pipe inactive without forgetting it.
    pub fn deactivate(&mut self, pipe: PipeId) {
        if let Some((prio, active)) = self.pipes.get_mut(&pipe) {
            if *active {
                *active = false;
                let idx = prio.index();
                self.levels[idx].retain(|p| *p != pipe);
                if self.levels[idx].is_empty() {
                    self.nonempty &= !(1 << idx);
                }
            }
        }
    }

    /// The next active pipe in priority/round-robin order, without changing anything.
    pub fn peek(&self) -> Option<PipeId> {
        if self.nonempty == 0 {
            return None;
        }
        let idx = self.nonempty.trailing_zeros() as usize;
        self.levels[idx].front().copied()
    }

    /// Takes the next active pipe and marks it inactive (load balancing: the pipe is busy
    /// until [`activate`](Self::activate)d again).
    pub fn take(&mut self) -> Option<PipeId> {
        if self.nonempty == 0 {
            return None;
        }
        // The chosen pipe is the front of its level: pop it there rather than searching
        // the level as `deactivate` must.
        let idx = self.nonempty.trailing_zeros() as usize;
        let level = &mut self.levels[idx];
        let pipe = level.pop_front()?;
        if level.is_empty() {
            self.nonempty &= !(1 << idx);
        }
        if let Some((_, active)) = self.pipes.get_mut(&pipe) {
            *active = false;
        }
        Some(pipe)
    }

    /// Returns the next active pipe and moves it to the back of its level, leaving it
    /// active (fair queueing over pipes that stay ready).
    pub fn rotate(&mut self) -> Option<PipeId> {
        let pipe = self.peek()?;
        let idx = self.nonempty.trailing_zeros() as usize;
        let level = &mut self.levels[idx];
        level.rotate_left(1);
        Some(pipe)
    }

    /// Number of registered pipes.
    pub fn len(&self) -> usize {
        self.pipes.len()
    }

    /// Whether no pipe is registered.
    pub fn is_empty(&self) -> bool {
        self.pipes.is_empty()
    }

    /// Whether any registered pipe is active.
    pub fn any_active(&self) -> bool {
        self.nonempty != 0
    }

    /// The priority of the level that would be served next, if any pipe is active.
    pub fn current_priority(&self) -> Option<Priority> {
        (self.nonempty != 0).then(|| Priority(self.nonempty.trailing_zeros() as u8 + 1))
    }

    /// All registered pipes in id order.
    pub fn pipes(&self) -> impl Iterator<Item = PipeId> + '_ {
        self.pipes.keys()
    }
}

/// The pipes of a fan-out sender (PUB, BUS, SURVEYOR), each with its [`PipeInfo`] and
/// whether it can take a message now.
///
/// A send writes one clone of the message (a shared buffer) to every writable pipe, in
/// pipe id order, and uses up that pipe's writability; a pipe that cannot take it now
/// misses it, counted as [`DropReason::PipeBusy`]. Sending never blocks and never fails.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct FanOut {
    pipes: BTreeMap<PipeId, FanOutPipe>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FanOutPipe {
    info: PipeInfo,
    writable: bool,
}

impl FanOut {
    /// Attaches `pipe`, writable at once. Refuses an id already attached.
    pub(crate) fn add(&mut self, pipe: PipeId, info: PipeInfo) -> Result<(), PipeRefused> {
        PipeRefused::if_attached(self.pipes.contains_key(&pipe), pipe)?;
        let slot = FanOutPipe {
            info,
            writable: true,
        };
        self.pipes.insert(pipe, slot);
        Ok(())
    }

    /// Detaches `pipe`; returns whether it was attached.
    pub(crate) fn remove(&mut self, pipe: PipeId) -> bool {
        self.pipes.remove(&pipe).is_some()
    }

    /// `pipe` can take another message. Unknown pipes are ignored.
    pub(crate) fn set_writable(&mut self, pipe: PipeId) {
        if let Some(slot) = self.pipes.get_mut(&pipe) {
            slot.writable = true;
        }
    }

    /// Number of attached pipes.
    pub(crate) fn len(&self) -> usize {
        self.pipes.len()
    }

    /// The attached pipes with their info, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (PipeId, PipeInfo)> + '_ {
        self.pipes.iter().map(|(&pipe, slot)| (pipe, slot.info))
    }

    /// Queues `msg` for every writable pipe except `except`, counting each pipe that
    /// misses it as [`DropReason::PipeBusy`].
    pub(crate) fn send(&mut self, msg: &Message, except: Option<PipeId>, out: &mut Core) {
        for (&pipe, slot) in &mut self.pipes {
            if except == Some(pipe) {
                continue;
            }
            if slot.writable {
                slot.writable = false;
                out.transmit(pipe, msg.clone());
            } else {
                out.dropped(DropReason::PipeBusy);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The pipe with id `n` (a valid id).
    pub(crate) fn p(n: u32) -> PipeId {
        PipeId::new(n).unwrap()
    }

    #[test]
    fn pipe_id_range() {
        assert!(PipeId::new(0).is_none());
        assert!(PipeId::new(0x8000_0000).is_none());
        assert_eq!(PipeId::new(0x7fff_ffff).unwrap().get(), 0x7fff_ffff);
    }

    #[test]
    fn allocator_is_unique_and_seeded() {
        let mut a = PipeIdAllocator::new(&mut Rng::new(1));
        let mut b = PipeIdAllocator::new(&mut Rng::new(1));
        let ids: Vec<_> = (0..100).map(|_| a.allocate()).collect();
        let ids_b: Vec<_> = (0..100).map(|_| b.allocate()).collect();
        assert_eq!(ids, ids_b);
        let set: alloc::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(set.len(), 100);
        // Wrap-around skips 0 and live ids.
        let mut w = PipeIdAllocator {
            next: PipeId::MAX - 1,
            in_use: Default::default(),
        };
        assert_eq!(w.allocate().get(), PipeId::MAX);
        assert_eq!(w.allocate().get(), 1);
    }

    #[test]
    fn priority_range() {
        assert!(Priority::new(0).is_none());
        assert!(Priority::new(17).is_none());
        assert_eq!(Priority::default().get(), 8);
    }

    #[test]
    fn strict_priority_then_round_robin() {
        let mut r = PriorityRing::new();
        r.add(p(1), Priority::new(2).unwrap());
        r.add(p(2), Priority::new(1).unwrap());
        r.add(p(3), Priority::new(1).unwrap());
        assert_eq!(r.take(), None, "pipes start inactive");
        for i in 1..=3 {
            r.activate(p(i));
        }
        assert_eq!(r.current_priority(), Priority::new(1));
        // Level 1 round-robins between 2 and 3; pipe 1 is never picked while they're up.
        let picks: Vec<_> = (0..6).map(|_| r.rotate().unwrap().get()).collect();
        assert_eq!(picks, [2, 3, 2, 3, 2, 3]);
        // Load balancing: take deactivates; failover to level 2 when level 1 is busy.
        assert_eq!(r.take(), Some(p(2)));
        assert_eq!(r.take(), Some(p(3)));
        assert_eq!(r.take(), Some(p(1)));
        assert_eq!(r.take(), None);
        r.activate(p(1));
        r.activate(p(3));
        assert_eq!(r.take(), Some(p(3)), "higher priority returns at once");
        r.remove(p(1));
        assert!(!r.any_active());
        assert_eq!(r.len(), 2);
    }
}
