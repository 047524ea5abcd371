//! Presence in a topic: each subscribed connection's small ephemeral state
//! (typing, "who is here"), renewed by the client and expiring otherwise. Held
//! per live topic on the node the connection is on; a change is sent to the
//! topic's other live subscribers as one shared [`PresenceBroadcast`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use goonline_protocol::native::PresenceEntry;

/// A presence change shared by every subscriber it is sent to.
#[derive(Debug)]
pub struct PresenceBroadcast {
    /// The topic.
    pub topic: Arc<str>,
    /// The changed entries.
    pub entries: Vec<PresenceEntry>,
}

struct Presence {
    member: u64,
    user: String,
    state: serde_json::Value,
    expires: Instant,
}

/// The presence states of one topic.
#[derive(Default)]
pub(crate) struct Presences(Vec<Presence>);

fn gone(member: u64, user: String) -> PresenceEntry {
    PresenceEntry {
        client: member,
        user,
        state: serde_json::Value::Null,
    }
}

impl Presences {
    /// Every state not expired at `now`.
    pub(crate) fn snapshot(&self, now: Instant) -> Vec<PresenceEntry> {
        self.0
            .iter()
            .filter(|p| p.expires > now)
            .map(|p| PresenceEntry {
                client: p.member,
                user: p.user.clone(),
                state: p.state.clone(),
            })
            .collect()
    }

    /// Sets (or with `Null` clears) `member`'s state; returns the change to
    /// announce, if any.
    pub(crate) fn set(
        &mut self,
        member: u64,
        user: &str,
        state: serde_json::Value,
        expires: Instant,
    ) -> Option<PresenceEntry> {
        let existing = self.0.iter().position(|p| p.member == member);
        match (existing, state.is_null()) {
            (None, true) => return None,
            (Some(i), true) => {
                self.0.swap_remove(i);
            }
            (Some(i), false) => {
                self.0[i].state = state.clone();
                self.0[i].expires = expires;
            }
            (None, false) => self.0.push(Presence {
                member,
                user: user.to_string(),
                state: state.clone(),
                expires,
            }),
        }
        Some(PresenceEntry {
            client: member,
            user: user.to_string(),
            state,
        })
    }

    /// Removes `member`'s state; returns the change to announce, if it had one.
    pub(crate) fn remove(&mut self, member: u64) -> Option<PresenceEntry> {
        let i = self.0.iter().position(|p| p.member == member)?;
        let p = self.0.swap_remove(i);
        Some(gone(p.member, p.user))
    }

    /// Removes the states expired at `now`; returns the changes to announce.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<PresenceEntry> {
        let mut expired = Vec::new();
        self.0.retain(|p| {
            let keep = p.expires > now;
            if !keep {
                expired.push(gone(p.member, p.user.clone()));
            }
            keep
        });
        expired
    }
}

/// When a state set now with `ttl` expires.
pub(crate) fn expiry(ttl: Duration) -> Instant {
    Instant::now() + ttl
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_are_set_renewed_cleared_and_expire() {
        let mut p = Presences::default();
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(30);
        assert!(
            p.set(1, "u1", serde_json::Value::Null, later).is_none(),
            "clearing nothing"
        );
        let set = p
            .set(1, "u1", json!({ "typing": true }), later)
            .expect("set");
        assert_eq!(
            (set.client, set.state.clone()),
            (1, json!({ "typing": true }))
        );
        p.set(
            2,
            "u2",
            json!({ "here": true }),
            t0 + Duration::from_secs(5),
        );
        assert_eq!(p.snapshot(t0).len(), 2);
        let expired = p.expire(t0 + Duration::from_secs(10));
        assert_eq!(expired.len(), 1);
        assert_eq!((expired[0].client, expired[0].state.is_null()), (2, true));
        let cleared = p
            .set(1, "u1", serde_json::Value::Null, later)
            .expect("cleared");
        assert!(cleared.state.is_null());
        assert!(p.snapshot(t0).is_empty());
        assert!(p.remove(1).is_none());
    }
}
