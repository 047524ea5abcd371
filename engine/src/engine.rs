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
use crate::bus::{Bus, BusHandler, BusMessage, BusPayload};
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
    pub tombstones: DashMap<Arc<str>, ()>,
}

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
        });
        let handler: Arc<dyn BusHandler> = Arc::new(NodeHandler(Arc::downgrade(&shared)));
        shared.bus.attach(Arc::downgrade(&handler));
        let stop_sweep = CancellationToken::new();
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

    pub(crate) fn register_user_session(
        &self,
        user: &str,
        auth_session: &str,
        id: u64,
        kill: &Arc<KillSwitch>,
    ) {
        self.shared
            .user_sessions
            .entry(user.to_string())
            .or_default()
            .push((id, auth_session.to_string(), Arc::downgrade(kill)));
    }

    pub(crate) fn unregister_user_session(&self, user: &str, id: u64) {
        if let dashmap::Entry::Occupied(mut e) = self.shared.user_sessions.entry(user.to_string()) {
            e.get_mut().retain(|(i, _, _)| *i != id);
            if e.get().is_empty() {
                e.remove();
            }
        }
    }

    /// `user`'s roles changed: every live session of theirs re-checks its open
    /// documents now (losing write access or the document as the new role says).
    pub fn access_changed(&self, user: &str) {
        if let Some(sessions) = self.shared.user_sessions.get(user) {
            for (_, _, kill) in sessions.iter() {
                if let Some(k) = kill.upgrade() {
                    k.request_recheck();
                }
            }
        }
    }

    /// Closes `user`'s live sessions (all of them, or those of one sign-in
    /// session) with `code`: sign-out, password change, suspension, erasure.
    /// Returns how many were closed.
    pub fn end_user_sessions(
        &self,
        user: &str,
        auth_session: Option<&str>,
        code: u16,
        reason: &str,
    ) -> usize {
        let mut n = 0;
        if let Some(sessions) = self.shared.user_sessions.get(user) {
            for (_, s, kill) in sessions.iter() {
                if auth_session.is_none_or(|a| a == s)
                    && let Some(k) = kill.upgrade()
                {
                    k.kill(code, reason);
                    n += 1;
                }
            }
        }
        n
    }

    /// Attaches the topics service sessions subscribe through (once; later
    /// calls are ignored).
    pub fn set_topics(&self, topics: Topics) {
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

    /// Live sessions of `user` on this node.
    pub fn user_session_count(&self, user: &str) -> usize {
        self.shared.user_sessions.get(user).map_or(0, |s| s.len())
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
        if self.shared.tombstones.contains_key(doc) {
            return Err(retired());
        }
        let slot = self
            .shared
            .rooms
            .entry(Arc::from(doc))
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        match slot.get_or_try_init(|| self.load_room(doc)).await {
            Ok(_) if self.shared.tombstones.contains_key(doc) => {
                self.shared
                    .rooms
                    .remove_if(doc, |_, s| Arc::ptr_eq(s, &slot));
                Err(retired())
            }
            Ok(room) => Ok(room.clone()),
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
        let stored = match sh.store.load(doc).await {
            Ok(s) => s,
            Err(e) => {
                inc(&sh.metrics.room_load_failures);
                tracing::error!(doc, error = %e, "loading document failed");
                return Err(e);
            }
        };
        let room = Room::from_stored(Arc::from(doc), stored, sh.clone()).inspect_err(|e| {
            inc(&sh.metrics.room_load_failures);
            tracing::error!(doc, error = %e, "stored document does not decode");
        })?;
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

/// Receives bus messages for this node and hands them to the live room, if any.
struct NodeHandler(Weak<Shared>);

impl BusHandler for NodeHandler {
    fn node_id(&self) -> u64 {
        self.0.upgrade().map(|s| s.node_id).unwrap_or(0)
    }

    fn deliver(&self, msg: &BusMessage) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        let Some(room) = shared.rooms.get(&msg.doc).and_then(|s| s.get().cloned()) else {
            // Not live here: the store has it when someone opens it.
            return;
        };
        match &msg.payload {
            BusPayload::Update { data, .. } => room.apply_remote_update(data),
            BusPayload::Awareness(data) => room.apply_remote_awareness(data),
        }
    }
}

/// Housekeeping: expire awareness and evict idle rooms.
async fn sweep_loop(shared: Weak<Shared>, stop: CancellationToken, _handler: Arc<dyn BusHandler>) {
    let interval = match shared.upgrade() {
        Some(s) => s.config.sweep_interval,
        None => return,
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(sh) = shared.upgrade() else { return };
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
