//! Rooms of the floor: a broadcast ring per room that grows on demand, the
//! registry of rooms, and the guard that makes a connection leave its room.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::broadcast;

/// Slots a new room's ring starts with (capped by `--ring-capacity`).
const INITIAL_RING_CAPACITY: usize = 64;

/// A publish checks the ring's backlog every this many sends. `Sender::len` is
/// a binary search over slot locks, cheap but not free, and a quarter-ring
/// threshold leaves plenty of room for the sends between two checks.
const GROWTH_CHECK_INTERVAL: u64 = 8;

/// What travels through a room's ring.
#[derive(Clone)]
pub(crate) enum Event {
    /// A frame to relay, with the id of the connection that sent it (which
    /// skips it: nothing is echoed).
    Frame(u64, Bytes),
    /// Last message of a ring that has been replaced by a larger one. Holds one
    /// receiver of the new ring per member at the time of the swap, all created
    /// before anything was sent on it; each member takes one and carries on.
    Switch(Arc<Mutex<Vec<broadcast::Receiver<Event>>>>),
}

/// Mutable state of one room, behind the room's lock. Publishes and joins take
/// this lock so that a ring swap is ordered with every send: nothing is sent on
/// a ring after its `Switch`.
pub(crate) struct Ring {
    tx: broadcast::Sender<Event>,
    capacity: usize,
    members: usize,
    sends: u64,
}

impl Ring {
    /// Replaces the ring with one of `capacity` slots. The old ring's last
    /// message is the `Switch` carrying the new receivers, so every member reads
    /// the old ring to its end and continues on the new one at exactly the next
    /// message: no loss, no duplicate, no reordering.
    pub(crate) fn grow(&mut self, capacity: usize) {
        let (tx, _) = broadcast::channel(capacity);
        let receivers: Vec<_> = (0..self.members).map(|_| tx.subscribe()).collect();
        // Cannot fail: the publisher itself holds a receiver of the old ring.
        let _ = self.tx.send(Event::Switch(Arc::new(Mutex::new(receivers))));
        self.tx = tx;
        self.capacity = capacity;
    }
}

pub(crate) struct Room {
    name: String,
    ring: Mutex<Ring>,
}

impl Room {
    /// Relays `data` to the room's other members.
    pub(crate) fn publish(&self, from: u64, data: Bytes, max_capacity: usize) {
        let mut ring = lock(&self.ring);
        if ring.members < 2 {
            return; // nobody else to tell
        }
        // Err only without receivers, impossible while the sender is a member.
        let _ = ring.tx.send(Event::Frame(from, data));
        if ring.capacity < max_capacity {
            ring.sends += 1;
            if ring.sends.is_multiple_of(GROWTH_CHECK_INTERVAL)
                && ring.tx.len() >= ring.capacity / 4
            {
                let capacity = (ring.capacity * 4).min(max_capacity);
                ring.grow(capacity);
            }
        }
    }
}

pub(crate) struct State {
    pub(crate) rooms: Mutex<HashMap<String, Arc<Room>>>,
    pub(crate) max_ring_capacity: usize,
    pub(crate) next_conn_id: AtomicU64,
}

impl State {
    /// Joins (creating if needed) the room `name`. Lock order: rooms, then room.
    pub(crate) fn join(&self, name: String) -> (Arc<Room>, broadcast::Receiver<Event>) {
        let mut rooms = lock(&self.rooms);
        let room = rooms
            .entry(name)
            .or_insert_with_key(|name| {
                let capacity = INITIAL_RING_CAPACITY.min(self.max_ring_capacity);
                Arc::new(Room {
                    name: name.clone(),
                    ring: Mutex::new(Ring {
                        tx: broadcast::channel(capacity).0,
                        capacity,
                        members: 0,
                        sends: 0,
                    }),
                })
            })
            .clone();
        let rx = {
            let mut ring = lock(&room.ring);
            ring.members += 1;
            ring.tx.subscribe()
        };
        (room, rx)
    }

    /// Leaves `room`, dropping it from the map with its last member. Holding
    /// the map lock while counting keeps this atomic with respect to `join`.
    pub(crate) fn leave(&self, room: &Arc<Room>) {
        let mut rooms = lock(&self.rooms);
        let empty = {
            let mut ring = lock(&room.ring);
            ring.members -= 1;
            ring.members == 0
        };
        if empty && rooms.get(&room.name).is_some_and(|r| Arc::ptr_eq(r, room)) {
            rooms.remove(&room.name);
        }
    }
}

/// Locks a mutex, ignoring poisoning: nothing here panics while holding one,
/// and a relay should keep relaying rather than cascade panics if it did.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Membership guard: the connection leaves its room however its task ends
/// (close, error, slow-consumer close, or cancellation at shutdown).
pub(crate) struct Membership<'a> {
    pub(crate) state: &'a State,
    pub(crate) room: Arc<Room>,
}

impl Drop for Membership<'_> {
    fn drop(&mut self) {
        self.state.leave(&self.room);
    }
}
