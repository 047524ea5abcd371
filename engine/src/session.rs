//! A session: one client connection's view of the engine, whatever its dialect.
//!
//! Transport adapters decode their dialect's frames into calls on [`Session`]
//! (`open`, `sync`, `awareness`, `close_doc`) and drain [`SessionEvents`] to send
//! what the engine produces. The session owns its document memberships: dropping it
//! leaves every room, removes its awareness states and frees its connection slot.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use goonline_protocol::awareness::decode_awareness_update;
use goonline_protocol::sync::SyncMessage;
use tokio::sync::mpsc;

use crate::access::{DocAccess, Principal};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::outbound::{KillSwitch, Outbound, SessionTx};
use crate::room::Room;

/// Longest document name accepted, in bytes.
pub const MAX_DOC_NAME_BYTES: usize = 512;

/// The receiving side of a session, owned by its transport.
pub struct SessionEvents {
    /// Messages to send, in order.
    pub rx: mpsc::Receiver<Outbound>,
    /// Fires when the engine wants the connection closed (e.g. slow consumer).
    pub kill: Arc<KillSwitch>,
}

/// One connection's session.
pub struct Session {
    engine: Engine,
    tx: SessionTx,
    principal: Principal,
    docs: HashMap<Arc<str>, Arc<Room>>,
}

impl Session {
    pub(crate) fn new(engine: Engine, tx: SessionTx, principal: Principal) -> Session {
        Session {
            engine,
            tx,
            principal,
            docs: HashMap::new(),
        }
    }

    /// The session's public id (UUIDv7 text).
    pub fn id(&self) -> &str {
        &self.principal.session_id
    }

    /// Engine-internal session number (also the owner of its awareness states).
    pub fn number(&self) -> u64 {
        self.tx.id
    }

    /// The engine this session belongs to.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether `doc` is open on this session.
    pub fn is_open(&self, doc: &str) -> bool {
        self.docs.contains_key(doc)
    }

    /// Names of the open documents.
    pub fn open_docs(&self) -> impl Iterator<Item = &Arc<str>> {
        self.docs.keys()
    }

    /// Opens `doc`: checks access, loads the room (once, shared with concurrent
    /// openers), joins it, and queues the server's sync step 1 and the current
    /// awareness for this session.
    pub async fn open(&mut self, doc: &str) -> Result<(), EngineError> {
        validate_doc_name(doc)?;
        if self.docs.contains_key(doc) {
            return Err(EngineError::DocAlreadyOpen(doc.to_string()));
        }
        let max = self.engine.config().max_open_docs;
        if self.docs.len() >= max {
            return Err(EngineError::TooManyDocs(max));
        }
        self.engine
            .shared
            .access
            .check(&self.principal, doc, DocAccess::Read)
            .map_err(EngineError::Forbidden)?;
        if self.engine.is_closing() {
            return Err(EngineError::ShuttingDown);
        }
        // A room evicted between lookup and join is loaded again.
        let (room, greeting) = loop {
            let room = self.engine.room(doc).await?;
            if let Some(g) = room.join(self.tx.clone()) {
                break (room, g);
            }
            tokio::task::yield_now().await;
        };
        let name = room.name.clone();
        self.tx.send(Outbound::Sync {
            doc: name.clone(),
            data: greeting.step1,
        });
        if let Some(aw) = greeting.awareness {
            self.tx.send(Outbound::Awareness(Arc::new(
                crate::outbound::Broadcast::new(name.clone(), aw),
            )));
        }
        self.docs.insert(name, room);
        Ok(())
    }

    /// Leaves `doc`; its awareness states are removed for everyone.
    pub fn close_doc(&mut self, doc: &str) -> Result<(), EngineError> {
        match self.docs.remove(doc) {
            Some(room) => {
                room.leave(self.tx.id);
                Ok(())
            }
            None => Err(EngineError::DocNotOpen(doc.to_string())),
        }
    }

    fn room(&self, doc: &str) -> Result<&Arc<Room>, EngineError> {
        self.docs
            .get(doc)
            .ok_or_else(|| EngineError::DocNotOpen(doc.to_string()))
    }

    /// Whether this session may write `doc` (checked before every write).
    pub fn can_write(&self, doc: &str) -> Result<(), EngineError> {
        self.engine
            .shared
            .access
            .check(&self.principal, doc, DocAccess::Write)
            .map_err(EngineError::Forbidden)
    }

    /// Handles a y-protocols sync message for an open document. Step 1 is answered
    /// with step 2; step 2 and updates are applied, broadcast and logged, and
    /// acknowledged (with `ack_id`) once durable.
    pub fn sync(
        &mut self,
        doc: &str,
        msg: SyncMessage<'_>,
        ack_id: Option<u64>,
    ) -> Result<(), EngineError> {
        let room = self.room(doc)?.clone();
        match msg {
            SyncMessage::Step1(sv) => {
                let step2 = room.step2_for(sv)?;
                self.tx.send(Outbound::Sync {
                    doc: room.name.clone(),
                    data: step2,
                });
                Ok(())
            }
            SyncMessage::Step2(update) | SyncMessage::Update(update) => {
                self.can_write(doc)?;
                room.apply_client_update(&self.tx, update, ack_id)
            }
        }
    }

    /// Handles an awareness update (bytes as y-protocols encodes them).
    pub fn awareness(&mut self, doc: &str, update: &[u8]) -> Result<(), EngineError> {
        let room = self.room(doc)?.clone();
        self.can_write(doc)?;
        let entries = decode_awareness_update(update).map_err(|e| {
            EngineError::InvalidUpdate(format!("awareness update does not decode: {e}"))
        })?;
        room.apply_awareness(self.tx.id, &entries);
        Ok(())
    }

    /// Queues the full awareness state of `doc` for this session (QueryAwareness).
    pub fn query_awareness(&mut self, doc: &str) -> Result<(), EngineError> {
        let room = self.room(doc)?.clone();
        if let Some(aw) = room.awareness_snapshot() {
            self.tx.send(Outbound::Awareness(Arc::new(
                crate::outbound::Broadcast::new(room.name.clone(), aw),
            )));
        }
        Ok(())
    }

    /// Queues raw bytes as a sync message to this session (used by adapters that
    /// must answer on the engine's queue to keep ordering).
    pub fn send_sync(&self, doc: Arc<str>, data: Bytes) {
        self.tx.send(Outbound::Sync { doc, data });
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for (_, room) in self.docs.drain() {
            room.leave(self.tx.id);
        }
        self.engine.release_connection();
    }
}

/// Checks a document name: 1..=512 bytes, no control characters.
pub fn validate_doc_name(doc: &str) -> Result<(), EngineError> {
    if doc.is_empty() || doc.len() > MAX_DOC_NAME_BYTES || doc.chars().any(char::is_control) {
        return Err(EngineError::InvalidDocName(format!(
            "document names are 1 to {MAX_DOC_NAME_BYTES} bytes with no control characters"
        )));
    }
    Ok(())
}
