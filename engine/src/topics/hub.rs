//! The live side of topics on this node: which sessions follow each topic, and
//! delivery of appended events to them in sequence order.
//!
//! A topic is *live* here while someone subscribes. Its [`LiveTopic`] knows the
//! newest sequence number delivered (`head`); events are offered to it after
//! their transaction commits, possibly out of order (two appenders commit 5 and
//! 6, the second publishes first): an early event waits in `pending` until the
//! ones before it arrive, and if they do not arrive soon (an appender that
//! committed and then was cancelled before publishing) they are read back from
//! the store. Subscribers therefore see every committed event once, in order.
//!
//! A subscriber first replays from the store (see `subscription.rs`) while not
//! yet live; it goes live under the topic's lock only once it has read
//! everything up to `head`, and from then on is skipped for events it already
//! has. That is what makes the switch from replay to live free of gaps and
//! duplicates.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashmap::DashMap;
use goonline_protocol::native::PresenceEntry;
use sqlx::AnyPool;
use tokio::sync::{Notify, OnceCell};

use super::TopicEvent;
use super::cluster::SharedLink;
use super::presence::{PresenceBroadcast, Presences, expiry};
use super::store;

mod remote;
mod repair;

use crate::metrics::{Metrics, add, inc};
use crate::outbound::{Outbound, SessionTx};
use repair::repair;

/// How long an early event waits for the ones before it before the hub reads
/// them from the store.
const REPAIR_AFTER: Duration = Duration::from_millis(100);

/// Most events read back per repair round.
const REPAIR_PAGE: u32 = 1000;

/// Most early events held per topic. Past it the oldest are dropped: they are
/// in the store, and the hole they leave is repaired from there.
const MAX_PENDING: usize = 10_000;

/// An event shared by every subscriber it is delivered to; the wire frame is
/// encoded once, by the first transport that sends it.
#[derive(Debug)]
pub struct TopicBroadcast {
    /// The event.
    pub event: TopicEvent,
    frame: OnceLock<Bytes>,
}

impl TopicBroadcast {
    /// Wraps `event`.
    pub fn new(event: TopicEvent) -> Arc<TopicBroadcast> {
        Arc::new(TopicBroadcast {
            event,
            frame: OnceLock::new(),
        })
    }

    /// The wire frame, encoded by `encode` the first time it is asked for.
    pub fn frame(&self, encode: impl FnOnce(&TopicEvent) -> Vec<u8>) -> Bytes {
        self.frame
            .get_or_init(|| Bytes::from(encode(&self.event)))
            .clone()
    }
}

/// A latest-value subscriber's one queued slot: newer values replace what the
/// transport has not sent yet, so a slow subscriber gets the newest value, not
/// a backlog.
#[derive(Debug, Default)]
pub struct LatestSlot {
    value: Mutex<Option<Arc<TopicBroadcast>>>,
}

impl LatestSlot {
    /// Takes the newest value not yet sent.
    pub fn take(&self) -> Option<Arc<TopicBroadcast>> {
        self.value.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Stores `b`; returns whether the slot was empty (so it must be queued).
    fn put(&self, b: Arc<TopicBroadcast>) -> bool {
        self.value
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(b)
            .is_none()
    }
}

struct Sub {
    tx: SessionTx,
    /// Receives live events (false while replaying).
    live: bool,
    /// Events up to this one were already sent by the replay.
    after: u64,
    latest: Option<Arc<LatestSlot>>,
}

#[derive(Default)]
struct LiveState {
    /// Newest sequence number delivered; `None` until read from the store.
    head: Option<u64>,
    pending: BTreeMap<u64, TopicEvent>,
    subs: Vec<Sub>,
    presence: Presences,
    /// Evicted: joiners must look the topic up again.
    closed: bool,
    repairing: bool,
}

/// What [`LiveTopic::go_live`] found.
pub(crate) enum GoLive {
    /// Live from now on; the current presence entries of the others.
    Live(Vec<PresenceEntry>),
    /// Events up to `head` were delivered that the replay has not read yet.
    Behind,
}

/// One topic that someone on this node follows.
pub struct LiveTopic {
    pub(crate) name: Arc<str>,
    state: Mutex<LiveState>,
    init: OnceCell<()>,
    /// Fired whenever `head` moves.
    pub(crate) advanced: Notify,
    pool: AnyPool,
    metrics: Arc<Metrics>,
    me: Weak<LiveTopic>,
    /// How events and presence reach other nodes.
    link: SharedLink,
    /// Whether this topic holds a bus subscription, given back on drop.
    subscribed: std::sync::atomic::AtomicBool,
}

impl Drop for LiveTopic {
    fn drop(&mut self) {
        if self.subscribed.load(std::sync::atomic::Ordering::Acquire) {
            self.link.unsubscribe(&self.name);
        }
    }
}

impl LiveTopic {
    fn lock(&self) -> MutexGuard<'_, LiveState> {
        // No code panics while holding it; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads `head` from the store once (concurrent callers share the read).
    pub(crate) async fn ensure_init(&self) -> Result<(), sqlx::Error> {
        self.init
            .get_or_try_init(|| async {
                // Subscribed before reading: events committed after the read
                // arrive on the bus and wait in `pending` meanwhile.
                // Once per live topic, however many times the read is retried
                // or its caller goes away mid-way: `Drop` gives it back once.
                if !self
                    .subscribed
                    .swap(true, std::sync::atomic::Ordering::AcqRel)
                    && self.link.subscribe(&self.name).await
                {
                    self.link.query_presence(&self.name);
                }
                let (_, last) = store::bounds(&self.pool, &self.name).await?;
                let mut st = self.lock();
                st.head = Some(last);
                st.pending.retain(|seq, _| *seq > last);
                self.drain(&mut st);
                self.advanced.notify_waiters();
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// Adds a subscriber that is not live yet; `false` if the topic was evicted.
    pub(crate) fn add_sub(&self, tx: SessionTx, latest_value: bool) -> bool {
        let mut st = self.lock();
        if st.closed {
            return false;
        }
        st.subs.push(Sub {
            tx,
            live: false,
            after: 0,
            latest: latest_value.then(Arc::default),
        });
        self.metrics
            .topic_subscriptions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        true
    }

    /// Makes subscriber `member` live if it has read everything up to `head`.
    pub(crate) fn go_live(&self, member: u64, cursor: u64) -> GoLive {
        let mut st = self.lock();
        match st.head {
            Some(head) if head <= cursor => {}
            _ => return GoLive::Behind,
        }
        if let Some(sub) = st.subs.iter_mut().find(|s| s.tx.id == member) {
            sub.live = true;
            sub.after = cursor;
        }
        // The others only: a state the subscriber set during its replay is
        // its own, which it is never sent (nor could it tell it apart).
        let mut others = st.presence.snapshot(Instant::now());
        others.retain(|p| p.client != member);
        GoLive::Live(others)
    }

    /// Removes subscriber `member` and its presence.
    pub(crate) fn remove_sub(&self, member: u64) {
        let mut st = self.lock();
        let before = st.subs.len();
        st.subs.retain(|s| s.tx.id != member);
        if st.subs.len() < before {
            self.metrics
                .topic_subscriptions
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(change) = st.presence.remove(member) {
            self.send_presence(&st, change.clone());
            drop(st);
            // Outside the lock: a bus may deliver synchronously into another
            // node's topic.
            self.link.publish_presence(&self.name, vec![change]);
        }
    }

    /// Sets (or with `Null` clears) `member`'s presence and tells the others.
    pub(crate) fn set_presence(
        &self,
        member: u64,
        user: &str,
        state: serde_json::Value,
        ttl: Duration,
    ) {
        let mut st = self.lock();
        if let Some(change) = st.presence.set(member, user, state, expiry(ttl)) {
            self.send_presence(&st, change.clone());
            drop(st);
            self.link.publish_presence(&self.name, vec![change]);
        }
    }

    /// Tells the topic's other live subscribers about `change`.
    fn send_presence(&self, st: &LiveState, change: PresenceEntry) {
        let member = change.client;
        let b = Arc::new(PresenceBroadcast {
            topic: self.name.clone(),
            entries: vec![change],
        });
        for s in st.subs.iter().filter(|s| s.live && s.tx.id != member) {
            s.tx.send(Outbound::TopicPresence(b.clone()));
        }
    }

    /// Offers an event committed to the store.
    pub(crate) fn offer(&self, event: TopicEvent) {
        let mut st = self.lock();
        if st.head.is_some_and(|head| event.seq <= head) {
            return;
        }
        st.pending.insert(event.seq, event);
        if st.pending.len() > MAX_PENDING {
            st.pending.pop_first();
        }
        if st.head.is_some() {
            self.drain(&mut st);
            self.advanced.notify_waiters();
        }
    }

    /// Delivers the pending events that follow `head`; if one is missing,
    /// schedules a repair.
    fn drain(&self, st: &mut LiveState) {
        let Some(mut head) = st.head else { return };
        while st
            .pending
            .first_key_value()
            .is_some_and(|(seq, _)| *seq <= head)
        {
            st.pending.pop_first();
        }
        while let Some(event) = st.pending.remove(&(head + 1)) {
            head += 1;
            add(
                &self.metrics.topic_events_delivered,
                deliver(&st.subs, event),
            );
        }
        st.head = Some(head);
        if !st.pending.is_empty() && !st.repairing {
            st.repairing = true;
            if let Some(me) = self.me.upgrade() {
                tokio::spawn(repair(me));
            }
        }
    }

    /// The head, if the topic has live subscribers and nothing in flight (no
    /// early event waiting, no repair running): a topic the audit may check.
    fn settled_head(&self) -> Option<u64> {
        let st = self.lock();
        let settled = !st.repairing && st.pending.is_empty() && st.subs.iter().any(|s| s.live);
        st.head.filter(|_| settled)
    }

    /// Expires presence entries; returns whether the topic can be evicted
    /// (nobody follows it: what it holds is in the store), and if so marks it
    /// closed.
    fn sweep(&self, now: Instant) -> bool {
        let mut st = self.lock();
        for change in st.presence.expire(now) {
            self.send_presence(&st, change);
        }
        if st.subs.is_empty() {
            st.closed = true;
            st.pending.clear();
            return true;
        }
        false
    }
}

/// Queues `event` to every live subscriber that does not have it yet; returns
/// how many.
fn deliver(subs: &[Sub], event: TopicEvent) -> u64 {
    let seq = event.seq;
    let b = TopicBroadcast::new(event);
    let mut n = 0;
    for s in subs.iter().filter(|s| s.live && s.after < seq) {
        n += 1;
        match &s.latest {
            Some(slot) => {
                if slot.put(b.clone()) {
                    s.tx.send(Outbound::TopicLatest(slot.clone()));
                }
            }
            None => {
                s.tx.send(Outbound::TopicEvent(b.clone()));
            }
        }
    }
    n
}

/// Every live topic on this node.
pub(crate) struct Hub {
    topics: DashMap<Arc<str>, Arc<LiveTopic>>,
    pool: AnyPool,
    metrics: Arc<Metrics>,
    pub(crate) link: SharedLink,
}

impl Hub {
    pub(crate) fn new(pool: AnyPool, metrics: Arc<Metrics>) -> Hub {
        Hub {
            topics: DashMap::new(),
            pool,
            metrics,
            link: SharedLink::default(),
        }
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The live topic `name`, created if needed (not yet initialized).
    pub(crate) fn topic(&self, name: &str) -> Arc<LiveTopic> {
        if let Some(t) = self.topics.get(name) {
            return t.clone();
        }
        self.topics
            .entry(Arc::from(name))
            .or_insert_with(|| {
                Arc::new_cyclic(|me| LiveTopic {
                    name: Arc::from(name),
                    state: Mutex::new(LiveState::default()),
                    init: OnceCell::new(),
                    advanced: Notify::new(),
                    pool: self.pool.clone(),
                    metrics: self.metrics.clone(),
                    me: me.clone(),
                    link: self.link.clone(),
                    subscribed: std::sync::atomic::AtomicBool::new(false),
                })
            })
            .clone()
    }

    /// The live topic `name`, if someone on this node follows it.
    pub(crate) fn live(&self, name: &str) -> Option<Arc<LiveTopic>> {
        self.topics.get(name).map(|t| t.clone())
    }

    /// Offers a committed event to its topic, if it is live here.
    pub(crate) fn publish(&self, event: TopicEvent) {
        inc(&self.metrics.topic_events_published);
        if let Some(t) = self.topics.get(&*event.topic).map(|t| t.clone()) {
            t.offer(event);
        }
    }

    /// Expires presence and evicts topics nobody follows.
    pub(crate) fn sweep(&self) {
        let now = Instant::now();
        let live: Vec<Arc<LiveTopic>> = self.topics.iter().map(|e| e.value().clone()).collect();
        for t in live {
            if t.sweep(now) {
                self.topics.remove_if(&t.name, |_, v| Arc::ptr_eq(v, &t));
            }
        }
    }

    /// Finds live topics whose store is ahead of what was delivered here (an
    /// event committed by a call that was cancelled before announcing it, with
    /// no later event to reveal the hole) and delivers what they miss. One
    /// query per 500 topics.
    pub(crate) async fn audit(&self) -> Result<(), sqlx::Error> {
        let settled: Vec<(Arc<LiveTopic>, u64)> = self
            .topics
            .iter()
            .filter_map(|e| e.value().settled_head().map(|h| (e.value().clone(), h)))
            .collect();
        for chunk in settled.chunks(500) {
            let sql = format!(
                "SELECT name, last_seq FROM topics WHERE name IN ({})",
                crate::sql_store::placeholders(chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
            for (t, _) in chunk {
                query = query.bind(&*t.name);
            }
            let rows = query.fetch_all(&self.pool).await?;
            for (name, last) in rows {
                let Some((topic, head)) = chunk.iter().find(|(t, _)| *t.name == *name) else {
                    continue;
                };
                if last.max(0) as u64 > *head {
                    inc(&self.metrics.topic_repairs);
                    for e in store::read_after(&self.pool, &topic.name, *head, REPAIR_PAGE).await? {
                        topic.offer(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Topics live on this node.
    pub(crate) fn len(&self) -> usize {
        self.topics.len()
    }
}
