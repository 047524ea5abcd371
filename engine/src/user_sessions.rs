//! Signed-in sessions by user on this node: how a role change, a sign-out or
//! a cluster-wide connection limit reaches a user's live connections (here,
//! and through the control channel on every other node).

use std::sync::Arc;

use crate::bus::Control;
use crate::engine::{Engine, UserSessionEnded};
use crate::outbound::KillSwitch;

impl Engine {
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
        if let Some(ended) = self.shared.user_session_ended.get() {
            ended(user, id);
        }
    }

    /// Calls `ended(user, connection id)` whenever a signed-in session ends
    /// or signs out (once; later calls are ignored).
    pub fn on_user_session_end(&self, ended: UserSessionEnded) {
        let _ = self.shared.user_session_ended.set(ended);
    }

    /// Every signed-in session on this node: (user, connection id).
    pub fn live_user_sessions(&self) -> Vec<(String, u64)> {
        self.each_user_session(|user, id, _| (user.to_string(), id))
    }

    /// Every sign-in session with a live connection on this node: (user,
    /// sign-in session), each once.
    pub fn live_sign_ins(&self) -> Vec<(String, String)> {
        let mut out =
            self.each_user_session(|user, _, session| (user.to_string(), session.to_string()));
        out.sort();
        out.dedup();
        out
    }

    /// `f(user, connection id, sign-in session)` for every signed-in session.
    fn each_user_session<T>(&self, f: impl Fn(&str, u64, &str) -> T) -> Vec<T> {
        let mut out = Vec::new();
        for e in self.shared.user_sessions.iter() {
            for (id, session, _) in e.value() {
                out.push(f(e.key(), *id, session));
            }
        }
        out
    }

    /// Calls `hook` whenever the bus came back after an outage (once;
    /// later calls are ignored): control messages sent meanwhile (a
    /// sign-out) may be lost, so the server re-checks what they would have
    /// changed. Roles and document access are re-checked by the engine.
    pub fn on_resync(&self, hook: crate::engine::ResyncHook) {
        let _ = self.shared.resync_hook.set(hook);
    }

    /// This node's id on the bus (random per start).
    pub fn node_id(&self) -> u64 {
        self.shared.node_id
    }

    /// Whether the bus to the other nodes can deliver now.
    pub fn bus_health(&self) -> crate::bus::BusHealth {
        self.shared.bus.health()
    }

    /// `user`'s roles changed: every live session of theirs re-checks its open
    /// documents now (losing write access or the document as the new role says).
    /// On every node.
    pub fn access_changed(&self, user: &str) {
        self.shared.access_changed_here(user);
        self.shared.publish_control(Control::AccessChanged {
            user: user.to_string(),
        });
    }

    /// Closes `user`'s live sessions (all of them, or those of one sign-in
    /// session) with `code`: sign-out, password change, suspension, erasure.
    /// On every node; returns how many were closed on this one.
    pub fn end_user_sessions(
        &self,
        user: &str,
        auth_session: Option<&str>,
        code: u16,
        reason: &str,
    ) -> usize {
        self.shared.publish_control(Control::EndSessions {
            user: user.to_string(),
            auth_session: auth_session.map(str::to_string),
            code,
            reason: reason.to_string(),
        });
        self.shared
            .end_user_sessions_here(user, auth_session, code, reason)
    }

    /// Live sessions of `user` on this node.
    pub fn user_session_count(&self, user: &str) -> usize {
        self.shared.user_sessions.get(user).map_or(0, |s| s.len())
    }
}
