//! Presence entries of other nodes' subscribers in a live topic. Their
//! `client` numbers are unique only on their own node, so each is kept under
//! an id derived from (origin node, client) with bit 52 set: never equal to a
//! local session id (those count up from 1), and below 2^53 so JavaScript
//! clients read it exactly.

use std::time::{Duration, Instant};

use goonline_protocol::native::PresenceEntry;

use super::LiveTopic;
use super::expiry;

/// Marks ids of entries learnt from other nodes.
const REMOTE: u64 = 1 << 52;

/// This node's id for `client` of node `origin`.
fn remote_member(origin: u64, client: u64) -> u64 {
    // A 64-bit mix (splitmix64's finaliser) of the pair: distinct pairs
    // collide with negligible probability among a topic's few members.
    let mut z = origin ^ client.rotate_left(32) ^ 0x9E37_79B9_7F4A_7C15;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) & (REMOTE - 1)) | REMOTE
}

impl LiveTopic {
    /// Applies presence changes another node published; they expire after
    /// `ttl` here unless renewed.
    pub(crate) fn apply_remote_presence(
        &self,
        origin: u64,
        entries: &[PresenceEntry],
        ttl: Duration,
    ) {
        let mut st = self.lock();
        for e in entries {
            let member = remote_member(origin, e.client);
            let change = if e.state.is_null() {
                st.presence.remove(member)
            } else {
                st.presence
                    .set(member, &e.user, e.state.clone(), expiry(ttl))
            };
            if let Some(change) = change {
                self.send_presence(&st, change);
            }
        }
    }

    /// The presence states of this node's own subscribers.
    pub(crate) fn local_presence(&self) -> Vec<PresenceEntry> {
        self.lock()
            .presence
            .snapshot(Instant::now())
            .into_iter()
            .filter(|e| e.client & REMOTE == 0)
            .collect()
    }
}
