//! Group commit: one writer task turns many rooms' pending updates into one
//! transaction.
//!
//! A room with something to write puts itself in the writer's queue once (a flag
//! keeps it from queueing twice). The writer takes everything pending from every
//! queued room, commits it in one transaction, then tells each room which sequence
//! is now durable, which releases the acknowledgements waiting for it. While a
//! commit is in flight, new updates pile up in the rooms and go in the next one, so
//! the number of transactions adapts to the store's speed instead of one per update.
//! Commits also start at most once per `commit_interval`: when updates trickle in
//! from many rooms (a thousand rooms at one edit a second each), a fast store would
//! otherwise commit each one alone, paying a transaction and a thread hand-off per
//! update; waiting up to a few milliseconds after the previous commit lets them
//! share one. An isolated update (none committed within the interval) goes at once.
//! A failed commit is retried with backoff, never dropped: acknowledged means stored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::metrics::{Metrics, add, inc};
use crate::room::Room;
use crate::store::{LogWrite, Store};

/// The handle rooms use to ask for a commit.
pub(crate) struct Persister {
    tx: mpsc::UnboundedSender<Arc<Room>>,
}

impl Persister {
    /// Starts the writer task.
    pub(crate) fn start(
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        max_batch_rooms: usize,
        commit_interval: Duration,
    ) -> (Persister, tokio::task::JoinHandle<()>) {
        // Unbounded is safe: a room is queued at most once until the writer takes it,
        // so the queue never holds more entries than there are rooms.
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(rx, store, metrics, max_batch_rooms, commit_interval));
        (Persister { tx }, task)
    }

    /// Queues a room for the next commit.
    pub(crate) fn notify(&self, room: Arc<Room>) {
        if self.tx.send(room).is_err() {
            tracing::error!("group-commit writer is gone; update stays pending");
        }
    }
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Arc<Room>>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    max_batch_rooms: usize,
    commit_interval: Duration,
) {
    let mut rooms: Vec<Arc<Room>> = Vec::new();
    let mut writes = Vec::new();
    let mut marks = Vec::new();
    let mut last_commit: Option<tokio::time::Instant> = None;
    while let Some(first) = rx.recv().await {
        if let Some(due) = last_commit.map(|t| t + commit_interval)
            && due > tokio::time::Instant::now()
        {
            tokio::time::sleep_until(due).await;
        }
        last_commit = Some(tokio::time::Instant::now());
        rooms.push(first);
        while rooms.len() < max_batch_rooms {
            match rx.try_recv() {
                Ok(r) => rooms.push(r),
                Err(_) => break,
            }
        }
        for room in rooms.drain(..) {
            let from = writes.len();
            let upto = room.take_pending(&mut writes);
            marks.push((room, upto, from..writes.len()));
        }
        let mut backoff = Duration::from_millis(10);
        let assigned = loop {
            let started = Instant::now();
            match store.commit(&writes).await {
                Ok(assigned) => {
                    metrics.store_commit_seconds.observe(started.elapsed());
                    add(&metrics.store_commit_writes, writes.len() as u64);
                    let snapshots = writes
                        .iter()
                        .filter(|w| matches!(w, LogWrite::Snapshot { .. }))
                        .count();
                    add(&metrics.snapshots, snapshots as u64);
                    break assigned;
                }
                Err(crate::store::StoreError::MovedAway(docs))
                    if marks
                        .iter()
                        .any(|(room, _, _)| docs.iter().any(|d| **d == *room.name)) =>
                {
                    // Another node moved these documents: their rooms stop
                    // (their sessions re-check and find the new name), and
                    // the rest of the batch is committed without them.
                    let mut kept = Vec::with_capacity(marks.len());
                    for (room, upto, range) in marks.drain(..) {
                        if docs.iter().any(|d| **d == *room.name) {
                            room.moved_away();
                        } else {
                            kept.push((room, upto, range));
                        }
                    }
                    let mut rebuilt = Vec::with_capacity(writes.len());
                    for (_, _, range) in kept.iter_mut() {
                        let from = rebuilt.len();
                        rebuilt.extend(writes[range.clone()].iter().cloned());
                        *range = from..rebuilt.len();
                    }
                    writes = rebuilt;
                    marks = kept;
                }
                Err(e) => {
                    inc(&metrics.store_commit_errors);
                    tracing::error!(error = %e, writes = writes.len(), retry_in_ms = backoff.as_millis() as u64, "group commit failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        };
        // The store numbered the appends in order: hand each room the
        // numbers of its own.
        let mut numbers = assigned.into_iter();
        for (room, upto, range) in marks.drain(..) {
            let committed: Vec<(u64, bytes::Bytes)> = writes[range]
                .iter()
                .filter_map(|w| match w {
                    LogWrite::Append { data, .. } => numbers.next().map(|seq| (seq, data.clone())),
                    LogWrite::Snapshot { .. } => None,
                })
                .collect();
            room.on_durable(upto, committed);
        }
        writes.clear();
    }
}
