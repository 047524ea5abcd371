//! The engine: the registry of live rooms, the connection count, and the
//! background tasks (group-commit writer, housekeeping sweep).
//!
//! A room is loaded once however many sessions open it at the same moment: the
//! registry holds a once-cell per document name, and every opener waits on the
//! same load. A failed load leaves the cell empty and is returned as an error to
//! each waiter; it never becomes an empty document. Rooms without sessions are
//! evicted by the sweep once idle and fully flushed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::access::{AccessPolicy, Principal};
use crate::activity::DocActivity;
use crate::bus::{Bus, BusHandler, Channel};
use crate::cluster::NodeHandler;
use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::metrics::{Metrics, inc};
use crate::outbound::{KillSwitch, SessionTx};
use crate::persist::Persister;
use crate::room::Room;
use crate::session::{Session, SessionEvents};
use crate::store::{Store, StoreError};
use crate::topics::Topics;

/// A registry entry: the room once loaded.
pub(crate) type RoomSlot = Arc<OnceCell<Arc<Room>>>;

/// State shared by the engine, its rooms and its sessions.
pub(crate) struct Shared {
    pub config: EngineConfig,
    pub metrics: Arc<Metrics>,
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub access: Arc<dyn AccessPolicy>,
    pub persist: Persister,
    pub rooms: DashMap<Arc<str>, RoomSlot>,
    pub node_id: u64,
    pub next_session: AtomicU64,
    pub connections: AtomicU64,
    pub loads: AtomicU64,
    pub closing: AtomicBool,
    /// Live sessions of each signed-in user: (session tx id, sign-in session,
    /// the transport's kill switch). Lets a role change or a sign-out reach them.
    pub user_sessions: DashMap<String, Vec<(u64, String, Weak<KillSwitch>)>>,
    /// The topics service, once the server has attached it.
    pub topics: std::sync::OnceLock<Topics>,
    /// Where accepted edits are reported, once the server has attached it.
    pub activity: std::sync::OnceLock<Arc<dyn DocActivity>>,
    /// Rooms taken out of service whose sessions have not yet been asked to
    /// re-check (see `door.rs`).
    pub retired: DashMap<Arc<str>, Arc<Room>>,
    /// Names taken out of service (moved, deleted, being moved): never loaded
    /// again until reinstated (see `door.rs`).
    /// A name retired at another node's request carries when it lapses: if
    /// that node's reinstatement is lost on the bus, the name comes back by
    /// itself (a completed move is refused by the access policy and at
    /// commit anyway).
    pub tombstones: DashMap<Arc<str>, Option<Instant>>,
    /// Documents whose bus messages arrived while their room was loading:
    /// the room catches up from the store once loaded (see `cluster.rs`).
    pub missed_while_loading: DashMap<Arc<str>, ()>,
    /// Told when a signed-in session ends (user, connection id), once the
    /// server has attached it: a cluster-wide connection count is released.
    pub user_session_ended: std::sync::OnceLock<UserSessionEnded>,
    /// Bounds concurrent catch-ups from the store, so a reconnect with
    /// thousands of live rooms does not starve the group-commit writer of
    /// connections.
    pub catchups: tokio::sync::Semaphore,
    /// Run after the bus came back (see [`Engine::on_resync`]).
    pub resync_hook: std::sync::OnceLock<ResyncHook>,
}

/// See [`Engine::on_resync`].
pub type ResyncHook = Arc<dyn Fn() + Send + Sync>;

/// See [`Engine::on_user_session_end`].
pub type UserSessionEnded = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// The engine handle. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) shared: Arc<Shared>,
    tasks: Arc<EngineTasks>,
}

struct EngineTasks {
    stop_sweep: CancellationToken,
    writer: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for EngineTasks {
    fn drop(&mut self) {
        self.stop_sweep.cancel();
    }
}

/// Builder-style inputs for [`Engine::start`].
pub struct EngineParts {
    /// Settings.
    pub config: EngineConfig,
    /// Where documents are stored.
    pub store: Arc<dyn Store>,
    /// How updates reach other nodes.
    pub bus: Arc<dyn Bus>,
    /// Who may do what.
    pub access: Arc<dyn AccessPolicy>,
    /// Counters (shared with the server's own).
    pub metrics: Arc<Metrics>,
}

impl Engine {
    /// Starts an engine: the writer task, the sweep task, and bus attachment.
    /// Must be called inside a tokio runtime.
    pub fn start(parts: EngineParts) -> Engine {
        let (persist, writer) = Persister::start(
            parts.store.clone(),
            parts.metrics.clone(),
            parts.config.max_commit_batch,
            parts.config.commit_interval,
        );
        let shared = Arc::new(Shared {
            config: parts.config,
            metrics: parts.metrics,
            store: parts.store,
            bus: parts.bus,
            access: parts.access,
            persist,
            rooms: DashMap::new(),
            node_id: uuid::Uuid::new_v4().as_u64_pair().0,
            next_session: AtomicU64::new(1),
            connections: AtomicU64::new(0),
            loads: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            user_sessions: DashMap::new(),
            topics: std::sync::OnceLock::new(),
            activity: std::sync::OnceLock::new(),
            retired: DashMap::new(),
            tombstones: DashMap::new(),
            missed_while_loading: DashMap::new(),
            user_session_ended: std::sync::OnceLock::new(),
            catchups: tokio::sync::Semaphore::new(4),
            resync_hook: std::sync::OnceLock::new(),
        });
        let health = shared.bus.health();
        shared
            .metrics
            .bus_connected
            .store(i64::from(health.connected), Ordering::Relaxed);
        let handler: Arc<dyn BusHandler> = Arc::new(NodeHandler(Arc::downgrade(&shared)));
        shared.bus.attach(Arc::downgrade(&handler));
        let stop_sweep = CancellationToken::new();
        tokio::spawn(crate::cluster::audit_loop(
            Arc::downgrade(&shared),
            stop_sweep.clone(),
        ));
        tokio::spawn(sweep_loop(
            Arc::downgrade(&shared),
            stop_sweep.clone(),
            handler,
        ));
        Engine {
            shared,
            tasks: Arc::new(EngineTasks {
                stop_sweep,
                writer: std::sync::Mutex::new(Some(writer)),
            }),
        }
    }

    /// Opens a new session (a connection). Fails at the connection limit or while
    /// shutting down. Returns the session and the receiving end its transport drains.
    pub fn connect(&self) -> Result<(Session, SessionEvents), EngineError> {
        let sh = &self.shared;
        if sh.closing.load(Ordering::Acquire) {
            return Err(EngineError::ShuttingDown);
        }
        let limit = sh.config.max_connections as u64;
        if sh
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_err()
        {
            inc(&sh.metrics.connections_refused);
            return Err(EngineError::TooManyConnections(sh.config.max_connections));
        }
        sh.metrics.connections.fetch_add(1, Ordering::Relaxed);
        inc(&sh.metrics.connections_total);
        let id = sh.next_session.fetch_add(1, Ordering::Relaxed);
        let kill = Arc::new(KillSwitch::default());
        let (stx, rx) = SessionTx::channel(
            id,
            sh.config.session_queue,
            kill.clone(),
            sh.metrics.clone(),
        );
        let principal = Principal {
            session_id: uuid::Uuid::now_v7().to_string(),
            user: None,
        };
        Ok((
            Session::new(self.clone(), stx, principal),
            SessionEvents { rx, kill },
        ))
    }

    /// Attaches the topics service sessions subscribe through (once; later
    /// calls are ignored).
    pub fn set_topics(&self, topics: Topics) {
        topics.attach_bus(self.shared.bus.clone(), self.shared.node_id);
        let _ = self.shared.topics.set(topics);
    }

    /// Attaches the receiver of every accepted edit (once; later calls are
    /// ignored).
    pub fn set_activity(&self, activity: Arc<dyn DocActivity>) {
        let _ = self.shared.activity.set(activity);
    }

    /// The topics service, if attached.
    pub fn topics(&self) -> Option<&Topics> {
        self.shared.topics.get()
    }

    pub(crate) fn release_connection(&self) {
        self.shared.connections.fetch_sub(1, Ordering::AcqRel);
        self.shared
            .metrics
            .connections
            .fetch_sub(1, Ordering::Relaxed);
    }

    /// The room for `doc`, loading it if needed (once, however many callers wait).
    /// A name taken out of service (moved or deleted) is refused, also to a
    /// caller whose load began before it was.
    pub async fn room(&self, doc: &str) -> Result<Arc<Room>, EngineError> {
        let retired = || {
            EngineError::Forbidden(format!(
                "document `{doc}` was moved or deleted; look it up again"
            ))
        };
        if self.shared.is_tombstoned(doc) {
            return Err(retired());
        }
        let slot = self
            .shared
            .rooms
            .entry(Arc::from(doc))
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        match slot.get_or_try_init(|| self.load_room(doc)).await {
            Ok(_) if self.shared.is_tombstoned(doc) => {
                self.shared
                    .rooms
                    .remove_if(doc, |_, s| Arc::ptr_eq(s, &slot));
                Err(retired())
            }
            Ok(room) => {
                if room.take_fresh() {
                    crate::cluster::room_loaded(&self.shared, room);
                }
                Ok(room.clone())
            }
            Err(e) => {
                // Leave no half-made entry behind: the next open tries again.
                self.shared
                    .rooms
                    .remove_if(doc, |_, s| Arc::ptr_eq(s, &slot) && s.get().is_none());
                Err(EngineError::LoadFailed(e))
            }
        }
    }

    async fn load_room(&self, doc: &str) -> Result<Arc<Room>, StoreError> {
        let sh = &self.shared;
        sh.loads.fetch_add(1, Ordering::Relaxed);
        let name: Arc<str> = Arc::from(doc);
        // Subscribed before reading: an update committed after the read is
        // then either heard on the bus or found by the catch-up that follows
        // a message heard while loading.
        // The guard gives the subscription back if the load fails or its
        // caller goes away mid-load; the room takes it over once built.
        let mut guard =
            crate::cluster::SubscriptionGuard::new(&*sh.bus, Channel::Doc(name.clone()));
        if guard.is_armed() {
            sh.bus.subscribe(Channel::Doc(name.clone())).await;
        }
        let subscribed = guard.is_armed();
        let forget_missed = || {
            sh.missed_while_loading.remove(doc);
        };
        let stored = match sh.store.load(doc).await {
            Ok(s) => s,
            Err(e) => {
                inc(&sh.metrics.room_load_failures);
                tracing::error!(doc, error = %e, "loading document failed");
                forget_missed();
                return Err(e);
            }
        };
        let room =
            Room::from_stored(name.clone(), stored, sh.clone(), subscribed).inspect_err(|e| {
                inc(&sh.metrics.room_load_failures);
                tracing::error!(doc, error = %e, "stored document does not decode");
                forget_missed();
            })?;
        guard.disarm();
        sh.metrics.rooms_loaded.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(room))
    }

    /// The room for `doc` if it is live in memory.
    pub fn live_room(&self, doc: &str) -> Option<Arc<Room>> {
        self.shared.rooms.get(doc).and_then(|s| s.get().cloned())
    }

    /// How many times a document has been loaded from the store since start.
    pub fn load_count(&self) -> u64 {
        self.shared.loads.load(Ordering::Relaxed)
    }

    /// Number of rooms in memory.
    pub fn room_count(&self) -> usize {
        self.shared.rooms.len()
    }

    /// Open connections.
    pub fn connection_count(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// Stops accepting new connections (drain).
    pub fn stop_accepting(&self) {
        self.shared.closing.store(true, Ordering::Release);
    }

    /// Whether the engine is draining.
    pub fn is_closing(&self) -> bool {
        self.shared.closing.load(Ordering::Acquire)
    }

    /// Waits until every update sequenced before this call, in every room, is
    /// committed, or `timeout` passes; returns whether it was. Updates arriving
    /// meanwhile do not extend the wait (clients still typing cannot hold a drain).
    pub async fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let targets: Vec<(Arc<Room>, u64)> = self
            .shared
            .rooms
            .iter()
            .filter_map(|e| e.value().get().cloned())
            .map(|r| {
                let (last, _) = r.seqs();
                (r, last)
            })
            .collect();
        loop {
            if targets.iter().all(|(r, target)| r.seqs().1 >= *target) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Flushes, then stops the background tasks.
    pub async fn shutdown(&self, timeout: Duration) -> bool {
        self.stop_accepting();
        let flushed = self.flush(timeout).await;
        self.tasks.stop_sweep.cancel();
        let writer = self.tasks.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(w) = writer {
            w.abort();
        }
        // Rooms point back at the shared state; dropping them breaks the cycle so
        // the store pool and every document are freed with the engine.
        self.shared.rooms.clear();
        flushed
    }
}

/// Housekeeping: expire awareness and evict idle rooms.
async fn sweep_loop(shared: Weak<Shared>, stop: CancellationToken, _handler: Arc<dyn BusHandler>) {
    let Some(mut ticker) = Ticker::new(shared, stop, |c| c.sweep_interval) else {
        return;
    };
    while let Some(sh) = ticker.next().await {
        let now = Instant::now();
        let rooms: Vec<Arc<Room>> = sh
            .rooms
            .iter()
            .filter_map(|e| e.value().get().cloned())
            .collect();
        for room in rooms {
            if room.sweep(now) {
                let removed = sh.rooms.remove_if(&room.name, |_, s| {
                    s.get().is_some_and(|r| Arc::ptr_eq(r, &room))
                });
                if removed.is_some() {
                    sh.metrics.rooms_loaded.fetch_sub(1, Ordering::Relaxed);
                    inc(&sh.metrics.rooms_evicted);
                    tracing::debug!(doc = %room.name, "idle room evicted");
                }
            }
        }
    }
}

/// The clock of a background loop: ticks every interval (missed ticks delay
/// the next, they do not pile up) and yields the engine's state, until `stop`
/// fires or the engine is gone.
pub(crate) struct Ticker {
    tick: tokio::time::Interval,
    shared: Weak<Shared>,
    stop: CancellationToken,
}

impl Ticker {
    /// A ticker at the interval `every` reads from the config; `None` if the
    /// engine is already gone.
    pub(crate) fn new(
        shared: Weak<Shared>,
        stop: CancellationToken,
        every: impl Fn(&EngineConfig) -> Duration,
    ) -> Option<Ticker> {
        let interval = every(&shared.upgrade()?.config);
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Some(Ticker { tick, shared, stop })
    }

    /// Waits for the next tick; `None` when the loop should end.
    pub(crate) async fn next(&mut self) -> Option<Arc<Shared>> {
        tokio::select! {
            _ = self.stop.cancelled() => return None,
            _ = self.tick.tick() => {}
        }
        self.shared.upgrade()
    }
}
