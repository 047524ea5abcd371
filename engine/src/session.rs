//! A session: one client connection's view of the engine, whatever its dialect.
//!
//! Transport adapters decode their dialect's frames into calls on [`Session`]
//! (`open`, `sync`, `awareness`, `close_doc`) and drain [`SessionEvents`] to send
//! what the engine produces. Each opened document is a *membership* named by a key
//! the adapter chooses: the document name for the native and y-websocket dialects,
//! the frame address for Hocuspocus, where one socket may carry the same document
//! twice (two providers with session-aware addresses). Dropping the session leaves
//! every room, removes its awareness states and frees its connection slot.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use goonline_protocol::awareness::decode_awareness_update;
use goonline_protocol::sync::SyncMessage;

use crate::access::{Grant, Principal, Refusal};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ops::UserRef;
use crate::outbound::{Broadcast, KillSwitch, Outbound, Receiver, SessionTx};
use crate::room::Room;
use crate::topics::subscription::Subscription;

mod topics;

/// How soon a re-check that could not reach the store is tried again.
const RECHECK_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Longest document name accepted, in bytes.
pub const MAX_DOC_NAME_BYTES: usize = 512;

/// The receiving side of a session, owned by its transport.
pub struct SessionEvents {
    /// Messages to send, in order, each tagged with its membership.
    pub rx: Receiver,
    /// Fires when the engine wants the connection closed (e.g. slow consumer).
    pub kill: Arc<KillSwitch>,
}

/// One opened document.
struct Membership {
    /// The key it was opened under (shares the room's name when they are equal).
    key: Arc<str>,
    room: Arc<Room>,
    tx: SessionTx,
    /// What the access policy allowed when it was opened (or last re-checked).
    grant: Grant,
}

/// What an [`AccessChange`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessTarget {
    /// An open document (the key is its membership key).
    Doc,
    /// A topic subscription (the key is the topic; it has been ended).
    Topic,
}

/// How a re-check changed an open document's access, or ended a subscription
/// (see [`Session::recheck_access`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessChange {
    /// Document or topic.
    pub target: AccessTarget,
    /// The membership key, or the topic.
    pub key: Arc<str>,
    /// The new grant; `None` when the document was closed because access is gone.
    pub grant: Option<Grant>,
    /// Why, for the client.
    pub reason: String,
}

/// One connection's session.
pub struct Session {
    engine: Engine,
    tx: SessionTx,
    principal: Principal,
    /// A list, not a map: almost every connection has one document open (y-websocket
    /// always does) and at most `max_open_docs`; a `HashMap` holding one entry
    /// costs ~300 bytes per connection, a one-slot `Vec` ~70.
    members: Vec<Membership>,
    /// Topic subscriptions (see `session/topics.rs`).
    subs: Vec<Subscription>,
}

impl Session {
    pub(crate) fn new(engine: Engine, tx: SessionTx, principal: Principal) -> Session {
        Session {
            engine,
            tx,
            principal,
            members: Vec::new(),
            subs: Vec::new(),
        }
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.members.iter().position(|m| &*m.key == key)
    }

    /// The session's public id (UUIDv7 text).
    pub fn id(&self) -> &str {
        &self.principal.session_id
    }

    /// This connection's number on this node.
    pub fn connection_id(&self) -> u64 {
        self.tx.id
    }

    /// The engine this session belongs to.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether a membership named `key` is open.
    pub fn is_open(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Number of open memberships.
    pub fn open_count(&self) -> usize {
        self.members.len()
    }

    /// Opens `doc` under the key `doc`; see [`Session::open_as`].
    pub async fn open(&mut self, doc: &str) -> Result<u64, EngineError> {
        self.open_as(doc, doc).await
    }

    /// Opens `doc` as membership `key`: checks access, loads the room (once,
    /// shared with concurrent openers), joins it, and queues the server's sync step
    /// 1 and the current awareness. Returns the member id that tags this
    /// membership's messages.
    pub async fn open_as(&mut self, key: &str, doc: &str) -> Result<u64, EngineError> {
        validate_doc_name(doc)?;
        if self.is_open(key) {
            return Err(EngineError::DocAlreadyOpen(key.to_string()));
        }
        let max = self.engine.config().max_open_docs;
        if self.members.len() >= max {
            return Err(EngineError::TooManyDocs(max));
        }
        let grant = self
            .engine
            .shared
            .access
            .grant(&self.principal, doc)
            .await
            .map_err(refusal_error)?;
        if self.engine.is_closing() {
            return Err(EngineError::ShuttingDown);
        }
        let member = self
            .engine
            .shared
            .next_session
            .fetch_add(1, Ordering::Relaxed);
        let tx = self.tx.for_member(member);
        // A room evicted between lookup and join is loaded again.
        let room = loop {
            // Boxed: the load (store read, once-cell wait) is a large future, and
            // inline it would size every connection task for it for its whole life.
            let room = Box::pin(self.engine.room(doc)).await?;
            if room.join(tx.clone()) {
                break room;
            }
            tokio::task::yield_now().await;
        };
        let key = if key == doc {
            room.name.clone()
        } else {
            Arc::from(key)
        };
        if self.members.is_empty() {
            // Exactly one slot for the usual single document (a push would reserve 4).
            self.members.reserve_exact(1);
        }
        self.members.push(Membership {
            key,
            room,
            tx,
            grant,
        });
        Ok(member)
    }

    /// The grant membership `key` holds.
    pub fn grant(&self, key: &str) -> Option<Grant> {
        self.position(key).map(|i| self.members[i].grant)
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<&UserRef> {
        self.principal.user.as_ref()
    }

    /// Records the user a verified token names. The session is then reached by
    /// [`Engine::access_changed`] and [`Engine::end_user_sessions`]. Open
    /// documents keep their grants until the next re-check.
    pub fn set_user(&mut self, user: UserRef) {
        if self.principal.user.as_ref().map(|u| (&u.id, &u.session))
            == Some((&user.id, &user.session))
        {
            self.principal.user = Some(user);
            return;
        }
        if let Some(old) = self.principal.user.take() {
            self.engine.unregister_user_session(&old.id, self.tx.id);
        }
        self.engine.register_user_session(
            &user.id,
            &user.session,
            self.tx.id,
            self.tx.kill_switch(),
        );
        self.principal.user = Some(user);
    }

    /// Asks the policy again about every open document and subscription (after
    /// the user's roles changed, or the user changed). Documents no longer
    /// allowed are closed (their awareness removed for everyone), subscriptions
    /// no longer allowed are ended; returns every change. A failed check keeps
    /// the current grant.
    pub async fn recheck_access(&mut self) -> Vec<AccessChange> {
        let mut changes = Vec::new();
        let mut unsure = false;
        let mut i = 0;
        while i < self.members.len() {
            let doc = self.members[i].room.name.clone();
            let grant = match self.engine.shared.access.grant(&self.principal, &doc).await {
                // Moved or deleted under this session: whatever the policy
                // says about the name now, this room is out of service.
                Ok(_) if self.members[i].room.is_retired() => Err(Refusal::Forbidden(format!(
                    "document `{doc}` was moved or deleted; open it again"
                ))),
                other => other,
            };
            match grant {
                Ok(grant) if grant == self.members[i].grant => i += 1,
                Ok(grant) => {
                    self.members[i].grant = grant;
                    changes.push(AccessChange {
                        target: AccessTarget::Doc,
                        key: self.members[i].key.clone(),
                        grant: Some(grant),
                        reason: match grant {
                            Grant::ReadOnly => "your access now allows reading only (your role changed, or the document or its workspace was archived)".into(),
                            Grant::ReadWrite => "your access now allows editing".into(),
                        },
                    });
                    i += 1;
                }
                Err(Refusal::Unavailable(_)) => {
                    unsure = true;
                    i += 1;
                }
                Err(Refusal::Unauthorized(reason) | Refusal::Forbidden(reason)) => {
                    let m = self.members.swap_remove(i);
                    m.room.leave(m.tx.id);
                    changes.push(AccessChange {
                        target: AccessTarget::Doc,
                        key: m.key,
                        grant: None,
                        reason,
                    });
                }
            }
        }
        unsure |= self.recheck_subscriptions(&mut changes).await;
        if unsure {
            // The check could not be made (store down): the access change that
            // asked for it must not be lost, so ask again shortly.
            let kill = self.tx.kill_switch().clone();
            tokio::spawn(async move {
                tokio::time::sleep(RECHECK_RETRY).await;
                kill.request_recheck();
            });
        }
        changes
    }

    /// Forgets the signed-in user (a sign-in that turned out to be revoked).
    pub fn sign_out(&mut self) {
        if let Some(user) = self.principal.user.take() {
            self.engine.unregister_user_session(&user.id, self.tx.id);
        }
    }

    /// Leaves membership `key`; its awareness states are removed for everyone.
    pub fn close_doc(&mut self, key: &str) -> Result<(), EngineError> {
        match self.position(key) {
            Some(i) => {
                let m = self.members.swap_remove(i);
                m.room.leave(m.tx.id);
                Ok(())
            }
            None => Err(EngineError::DocNotOpen(key.to_string())),
        }
    }

    fn member(&self, key: &str) -> Result<&Membership, EngineError> {
        self.members
            .iter()
            .find(|m| &*m.key == key)
            .ok_or_else(|| EngineError::DocNotOpen(key.to_string()))
    }

    /// Whether this session may write through membership `m` (checked before
    /// every write).
    fn can_write(m: &Membership) -> Result<(), EngineError> {
        match m.grant {
            Grant::ReadWrite => Ok(()),
            Grant::ReadOnly => Err(EngineError::ReadOnly(m.room.name.to_string())),
        }
    }

    /// Handles a y-protocols sync message for membership `key`. Step 1 is answered
    /// with step 2; step 2 and updates are applied, broadcast and logged, and
    /// acknowledged (with `ack_id`) once durable.
    pub fn sync(
        &mut self,
        key: &str,
        msg: SyncMessage<'_>,
        ack_id: Option<u64>,
    ) -> Result<(), EngineError> {
        let m = self.member(key)?;
        match msg {
            SyncMessage::Step1(sv) => {
                let step2 = m.room.step2_for(sv)?;
                m.tx.send(Outbound::Sync {
                    doc: m.room.name.clone(),
                    data: step2,
                });
                Ok(())
            }
            SyncMessage::Step2(update) | SyncMessage::Update(update) => {
                Self::can_write(m)?;
                let editor = self.principal.user.as_ref().map(|u| u.id.as_str());
                m.room
                    .apply_client_update(&m.tx, update, ack_id, editor)
                    .map(|_| ())
            }
        }
    }

    /// Handles an awareness update (bytes as y-protocols encodes them). Allowed
    /// with a read-only grant: a viewer's presence is shown like anyone's.
    pub fn awareness(&mut self, key: &str, update: &[u8]) -> Result<(), EngineError> {
        // Presence is not content: read-only members (viewers) show up too.
        let m = self.member(key)?;
        let entries = decode_awareness_update(update).map_err(|e| {
            EngineError::InvalidUpdate(format!("awareness update does not decode: {e}"))
        })?;
        m.room.apply_awareness(m.tx.id, &entries);
        Ok(())
    }

    /// Queues the full awareness state of membership `key` (QueryAwareness).
    pub fn query_awareness(&mut self, key: &str) -> Result<(), EngineError> {
        let m = self.member(key)?;
        if let Some(aw) = m.room.awareness_snapshot() {
            m.tx.send(Outbound::Awareness(Arc::new(Broadcast::new(
                m.room.name.clone(),
                aw,
            ))));
        }
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for m in self.members.drain(..) {
            m.room.leave(m.tx.id);
        }
        if let Some(user) = &self.principal.user {
            self.engine.unregister_user_session(&user.id, self.tx.id);
        }
        self.engine.release_connection();
    }
}

/// The engine error for a policy refusal.
pub(crate) fn refusal_error(r: Refusal) -> EngineError {
    match r {
        Refusal::Unauthorized(m) => EngineError::Unauthorized(m),
        Refusal::Forbidden(m) => EngineError::Forbidden(m),
        Refusal::Unavailable(m) => EngineError::AccessUnavailable(m),
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
