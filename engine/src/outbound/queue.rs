//! A session's outbound queue: bounded, many senders (the session's memberships,
//! the rooms it joined, its pending acks), one receiver (its transport).
//!
//! Why not `tokio::sync::mpsc`: an idle connection must cost a few KB, and a tokio
//! channel costs ~2.6 KB before its first message (a cache-padded 512-byte channel
//! plus a first block of 32 slots, allocated eagerly). This queue is one small
//! allocation; its storage is a `VecDeque` that grows only when messages are queued
//! and that the transport gives back once the connection is quiet
//! ([`Receiver::shrink`]). Each slot is 24 bytes: the per-recipient hot path (an
//! update or awareness broadcast) is a pointer, and the rare large messages (sync
//! replies, acks) are boxed.
//!
//! Every operation takes a short mutex held for a push or a pop; wakers are woken
//! after the lock is released.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::{Broadcast, Delivery, Outbound};
use crate::topics::TopicBroadcast;

/// Why [`Receiver::try_recv`] returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is queued now.
    Empty,
    /// Nothing is queued and every sender is gone.
    Disconnected,
}

/// What a push did.
pub(crate) enum Pushed {
    /// Queued.
    Queued,
    /// The queue is full; `first` is whether this is the first time it overflowed.
    Full { first: bool },
    /// The receiver is gone.
    Closed,
}

/// A queued message as stored: 16 bytes plus the member id.
enum Item {
    Update(Arc<Broadcast>),
    /// Topic events: the other fan-out hot path.
    Topic(Arc<TopicBroadcast>),
    Awareness(Arc<Broadcast>),
    /// Sync replies and acks: once per open, step 1 or own update, so boxing them
    /// costs little and keeps every slot small.
    Other(Box<Outbound>),
}

struct Slot {
    member: u64,
    item: Item,
}

impl From<Delivery> for Slot {
    fn from(d: Delivery) -> Slot {
        let item = match d.msg {
            Outbound::Update(b) => Item::Update(b),
            Outbound::Awareness(b) => Item::Awareness(b),
            Outbound::TopicEvent(b) => Item::Topic(b),
            other => Item::Other(Box::new(other)),
        };
        Slot {
            member: d.member,
            item,
        }
    }
}

impl From<Slot> for Delivery {
    fn from(s: Slot) -> Delivery {
        let msg = match s.item {
            Item::Update(b) => Outbound::Update(b),
            Item::Awareness(b) => Outbound::Awareness(b),
            Item::Topic(b) => Outbound::TopicEvent(b),
            Item::Other(m) => *m,
        };
        Delivery {
            member: s.member,
            msg,
        }
    }
}

struct State {
    slots: VecDeque<Slot>,
    /// The receiver's waker while it waits on an empty queue.
    waker: Option<Waker>,
    receiver_gone: bool,
    /// Set by the first push that found the queue full.
    overflowed: bool,
}

struct Queue {
    capacity: usize,
    /// Live [`Sender`]s; outside the mutex so cloning a sender never locks.
    senders: AtomicUsize,
    state: Mutex<State>,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; if something did, the queue is
        // still consistent (every operation is a single push, pop or swap).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A new queue holding at most `capacity` messages.
pub(crate) fn queue(capacity: usize) -> (Sender, Receiver) {
    let q = Arc::new(Queue {
        capacity,
        senders: AtomicUsize::new(1),
        state: Mutex::new(State {
            slots: VecDeque::new(),
            waker: None,
            receiver_gone: false,
            overflowed: false,
        }),
    });
    (Sender(q.clone()), Receiver(q))
}

/// The sending side; cloning it adds a sender.
pub(crate) struct Sender(Arc<Queue>);

impl Sender {
    /// Queues `d` unless the queue is full or the receiver is gone.
    pub(crate) fn push(&self, d: Delivery) -> Pushed {
        let slot = Slot::from(d);
        let mut st = self.0.lock();
        if st.receiver_gone {
            drop(st);
            return Pushed::Closed;
        }
        if st.slots.len() >= self.0.capacity {
            let first = !st.overflowed;
            st.overflowed = true;
            drop(st);
            return Pushed::Full { first };
        }
        st.slots.push_back(slot);
        let waker = st.waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Pushed::Queued
    }
}

impl Clone for Sender {
    fn clone(&self) -> Sender {
        self.0.senders.fetch_add(1, Ordering::Relaxed);
        Sender(self.0.clone())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last sender: a waiting receiver must see the end of the queue.
            let waker = self.0.lock().waker.take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// The receiving side of a session's queue, owned by its transport.
pub struct Receiver(Arc<Queue>);

impl Receiver {
    /// The next message; `None` once the queue is empty and every sender is gone.
    pub async fn recv(&mut self) -> Option<Delivery> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next message (see [`Receiver::recv`]).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        let mut st = self.0.lock();
        if let Some(slot) = st.slots.pop_front() {
            drop(st);
            return Poll::Ready(Some(slot.into()));
        }
        // Read under the lock: a last sender dropping now takes the lock after us
        // and wakes the waker stored below.
        if self.0.senders.load(Ordering::Acquire) == 0 {
            return Poll::Ready(None);
        }
        match &mut st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next message if one is queued.
    pub fn try_recv(&mut self) -> Result<Delivery, TryRecvError> {
        let mut st = self.0.lock();
        match st.slots.pop_front() {
            Some(slot) => {
                drop(st);
                Ok(slot.into())
            }
            None if self.0.senders.load(Ordering::Acquire) == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Number of queued messages.
    pub fn len(&self) -> usize {
        self.0.lock().slots.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gives back the storage an earlier burst left behind, if nothing is queued.
    /// Transports call it when the connection is quiet: a burst of a full queue
    /// would otherwise keep 24 bytes per slot for the life of the connection.
    pub fn shrink(&mut self) {
        let mut st = self.0.lock();
        if st.slots.is_empty() && st.slots.capacity() > 0 {
            let old = std::mem::take(&mut st.slots);
            drop(st);
            drop(old);
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.receiver_gone = true;
        st.waker = None;
        let queued = std::mem::take(&mut st.slots);
        drop(st);
        // Queued messages (and the broadcasts they share) are freed outside the lock.
        drop(queued);
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.0.capacity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn update(member: u64) -> Delivery {
        Delivery {
            member,
            msg: Outbound::Update(Arc::new(Broadcast::new(
                Arc::from("d"),
                Bytes::from_static(b"u"),
            ))),
        }
    }

    fn sync(member: u64) -> Delivery {
        Delivery {
            member,
            msg: Outbound::Sync {
                doc: Arc::from("d"),
                data: Bytes::from_static(&[0, 1, 0]),
            },
        }
    }

    #[test]
    fn slots_stay_small() {
        assert_eq!(std::mem::size_of::<Slot>(), 24);
    }

    #[test]
    fn fifo_with_every_kind_and_the_bound() {
        let (tx, mut rx) = queue(3);
        assert!(matches!(tx.push(update(1)), Pushed::Queued));
        assert!(matches!(tx.push(sync(2)), Pushed::Queued));
        assert!(matches!(tx.push(update(3)), Pushed::Queued));
        assert!(matches!(tx.push(update(4)), Pushed::Full { first: true }));
        assert!(matches!(tx.push(update(5)), Pushed::Full { first: false }));
        assert_eq!(rx.len(), 3);
        let got: Vec<(u64, bool)> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|d| (d.member, matches!(d.msg, Outbound::Sync { .. })))
            .collect();
        assert_eq!(got, vec![(1, false), (2, true), (3, false)]);
        assert_eq!(rx.try_recv().err(), Some(TryRecvError::Empty));
        rx.shrink();
        assert!(matches!(tx.push(update(6)), Pushed::Queued));
        assert_eq!(rx.try_recv().map(|d| d.member).ok(), Some(6));
    }

    #[test]
    fn ends_when_the_last_sender_goes_and_refuses_after_the_receiver_goes() {
        let (tx, mut rx) = queue(4);
        let tx2 = tx.clone();
        drop(tx);
        assert!(matches!(tx2.push(update(1)), Pushed::Queued));
        drop(tx2);
        assert_eq!(rx.try_recv().map(|d| d.member).ok(), Some(1));
        assert_eq!(rx.try_recv().err(), Some(TryRecvError::Disconnected));

        let (tx, rx) = queue(4);
        drop(rx);
        assert!(matches!(tx.push(update(1)), Pushed::Closed));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_receiver_is_woken_by_a_push_and_by_the_last_drop() {
        let (tx, mut rx) = queue(4);
        let waiter = tokio::spawn(async move {
            let first = rx.recv().await.map(|d| d.member);
            let end = rx.recv().await.map(|d| d.member);
            (first, end)
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(matches!(tx.push(update(9)), Pushed::Queued));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(tx);
        let (first, end) = waiter.await.expect("receiver task");
        assert_eq!(first, Some(9));
        assert_eq!(end, None);
    }
}
