//! The message queue of one direction of an in-process pipe: a bounded FIFO of wire
//! messages between two sockets' pipe tasks. Both sides move whole batches under one
//! lock (the sender appends what fits, the receiver takes everything), so a message
//! costs a few pointer moves rather than a lock and a wake-up of its own.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use sp_proto::Message;
use tokio::sync::Notify;

/// The other side is gone: nothing more can be sent or will arrive.
#[derive(Debug)]
pub(crate) struct Closed;

struct Queue {
    state: Mutex<State>,
    /// Messages beyond this count wait in the sender's batch.
    capacity: usize,
    /// Wakes the receiver: messages arrived in an empty queue, or the sender left.
    to_receiver: Notify,
    /// Wakes the sender: a full queue was emptied, or the receiver left.
    to_sender: Notify,
}

#[derive(Default)]
struct State {
    items: VecDeque<Bytes>,
    sender_gone: bool,
    receiver_gone: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Creates a queue holding at most `capacity` messages (at least one).
pub(crate) fn queue(capacity: usize) -> (QueueSender, QueueReceiver) {
    let q = Arc::new(Queue {
        state: Mutex::new(State::default()),
        capacity: capacity.max(1),
        to_receiver: Notify::new(),
        to_sender: Notify::new(),
    });
    (
        QueueSender(q.clone()),
        QueueReceiver {
            queue: q,
            taken: VecDeque::new(),
        },
    )
}

/// The sending end.
pub(crate) struct QueueSender(Arc<Queue>);

impl QueueSender {
    /// Moves every message of `batch` into the queue in order, waiting for room while it
    /// is full. Cancellation-safe: what was not moved stays in `batch`.
    pub(crate) async fn send_all(&mut self, batch: &mut VecDeque<Message>) -> Result<(), Closed> {
        let q = &*self.0;
        while !batch.is_empty() {
            let moved = {
                let mut st = q.lock();
                if st.receiver_gone {
                    return Err(Closed);
                }
                let n = q.capacity.saturating_sub(st.items.len()).min(batch.len());
                let was_empty = st.items.is_empty();
                st.items.extend(batch.drain(..n).map(|m| m.to_wire()));
                // The receiver waits only after finding the queue empty.
                if was_empty && n > 0 {
                    q.to_receiver.notify_one();
                }
                n
            };
            if moved == 0 {
                // `notify_one` keeps a permit, so room made since the check is not missed.
                q.to_sender.notified().await;
            }
        }
        Ok(())
    }
}

impl Drop for QueueSender {
    fn drop(&mut self) {
        self.0.lock().sender_gone = true;
        self.0.to_receiver.notify_one();
    }
}

/// The receiving end.
pub(crate) struct QueueReceiver {
    queue: Arc<Queue>,
    /// The batch taken under the lock, handed out after it is released.
    taken: VecDeque<Bytes>,
}

impl QueueReceiver {
    /// Waits for at least one message, then appends every queued message to `out`.
    /// Fails once the queue is empty and the sender is gone.
    pub(crate) async fn recv_all(&mut self, out: &mut Vec<Bytes>) -> Result<(), Closed> {
        let q = &*self.queue;
        loop {
            {
                let mut st = q.lock();
                if !st.items.is_empty() {
                    // The sender waits only after finding the queue full.
                    let was_full = st.items.len() >= q.capacity;
                    std::mem::swap(&mut self.taken, &mut st.items);
                    drop(st);
                    if was_full {
                        q.to_sender.notify_one();
                    }
                    out.extend(self.taken.drain(..));
                    return Ok(());
                }
                if st.sender_gone {
                    return Err(Closed);
                }
            }
            q.to_receiver.notified().await;
        }
    }
}

impl Drop for QueueReceiver {
    fn drop(&mut self) {
        let mut st = self.queue.lock();
        st.receiver_gone = true;
        st.items.clear();
        drop(st);
        self.queue.to_sender.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(range: std::ops::Range<u32>) -> VecDeque<Message> {
        range.map(|i| Message::from(i.to_string())).collect()
    }

    #[tokio::test]
    async fn delivers_in_order_across_a_full_queue() {
        let (mut tx, mut rx) = queue(3);
        let sender = tokio::spawn(async move {
            let mut b = batch(0..10);
            tx.send_all(&mut b).await.unwrap();
            assert!(b.is_empty());
        });
        let mut got = Vec::new();
        while got.len() < 10 {
            rx.recv_all(&mut got).await.unwrap();
        }
        sender.await.unwrap();
        let want: Vec<Bytes> = (0..10).map(|i| Bytes::from(i.to_string())).collect();
        assert_eq!(got, want);
        assert!(
            rx.recv_all(&mut got).await.is_err(),
            "sender gone, queue empty"
        );
    }

    #[tokio::test]
    async fn sending_to_a_dropped_receiver_fails_and_keeps_the_rest() {
        let (mut tx, rx) = queue(2);
        drop(rx);
        let mut b = batch(0..5);
        assert!(tx.send_all(&mut b).await.is_err());
        assert_eq!(b.len(), 5);
    }

    #[tokio::test]
    async fn a_receiver_blocked_on_an_empty_queue_wakes_when_the_sender_leaves() {
        let (tx, mut rx) = queue(2);
        let dropper = tokio::spawn(async move {
            tokio::task::yield_now().await;
            drop(tx);
        });
        let mut got = Vec::new();
        assert!(rx.recv_all(&mut got).await.is_err());
        dropper.await.unwrap();
    }
}
