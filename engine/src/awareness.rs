//! The server's copy of a room's awareness (presence) states.
//!
//! Awareness is ephemeral: never stored, only relayed. The server keeps the latest
//! state of each client so a newcomer gets everyone at once, applies the y-protocols
//! ordering rule (newer clock wins; an equal clock wins only to remove), expires
//! states not renewed within the TTL (yrs has no timer for this), and removes the
//! states a session published when that session leaves.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use goonline_protocol::awareness::{AwarenessEntry, encode_awareness_update};

/// One client's awareness entry.
#[derive(Debug, Clone)]
struct ClientState {
    clock: u64,
    /// JSON text; `None` once removed (kept so stale re-deliveries lose on clock).
    state: Option<String>,
    updated: Instant,
    /// The session that published it, so its states go when it leaves.
    owner: u64,
}

/// Most clients (live or recently removed) one room tracks: a bound on what one
/// hostile frame full of made-up client ids can make the server hold.
pub const MAX_CLIENTS_PER_ROOM: usize = 10_000;

/// All awareness states of one room.
/// Largest awareness state kept for one client, in bytes of JSON.
pub const MAX_STATE_BYTES: usize = 32 * 1024;

#[derive(Debug, Default)]
pub struct AwarenessTable {
    clients: HashMap<u64, ClientState>,
}

impl AwarenessTable {
    /// Applies entries published by session `owner`; returns the encoded update to
    /// broadcast (only the entries that were accepted), or `None` if none were.
    pub fn apply(
        &mut self,
        owner: u64,
        entries: &[AwarenessEntry<'_>],
        now: Instant,
    ) -> Option<Vec<u8>> {
        let mut accepted: Vec<AwarenessEntry<'_>> = Vec::with_capacity(entries.len());
        for e in entries {
            let removal = e.is_removal();
            // Presence is a name, a colour, a cursor: a state past this is
            // refused, so one client cannot make every peer hold megabytes.
            if e.state.len() > MAX_STATE_BYTES {
                continue;
            }
            let take = match self.clients.get(&e.client_id) {
                None => self.clients.len() < MAX_CLIENTS_PER_ROOM,
                Some(cur) => {
                    cur.clock < e.clock || (cur.clock == e.clock && removal && cur.state.is_some())
                }
            };
            if !take {
                continue;
            }
            self.clients.insert(
                e.client_id,
                ClientState {
                    clock: e.clock,
                    state: if removal {
                        None
                    } else {
                        Some(e.state.to_string())
                    },
                    updated: now,
                    owner,
                },
            );
            accepted.push(AwarenessEntry {
                client_id: e.client_id,
                clock: e.clock,
                state: e.state,
            });
        }
        if accepted.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        encode_awareness_update(accepted, &mut out);
        Some(out)
    }

    /// The full current state (live clients only), or `None` when nobody is present.
    pub fn full_update(&self) -> Option<Vec<u8>> {
        self.update_where(|_| true)
    }

    /// The live states published by this node's sessions (not those learnt
    /// from other nodes, which have owner 0), or `None` if there are none.
    pub fn local_update(&self) -> Option<Vec<u8>> {
        self.update_where(|owner| owner != 0)
    }

    fn update_where(&self, keep: impl Fn(u64) -> bool) -> Option<Vec<u8>> {
        let live: Vec<AwarenessEntry<'_>> = self
            .clients
            .iter()
            .filter(|(_, c)| keep(c.owner))
            .filter_map(|(id, c)| {
                c.state.as_deref().map(|s| AwarenessEntry {
                    client_id: *id,
                    clock: c.clock,
                    state: s,
                })
            })
            .collect();
        if live.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        encode_awareness_update(live, &mut out);
        Some(out)
    }

    /// Removes every live state published by `owner` (a session leaving); returns
    /// the removal update to broadcast.
    pub fn remove_owner(&mut self, owner: u64, now: Instant) -> Option<Vec<u8>> {
        self.remove_where(now, |c| c.owner == owner)
    }

    /// Removes states not renewed within `ttl`, and forgets removal markers older
    /// than `ttl`; returns the removal update to broadcast.
    pub fn expire(&mut self, ttl: Duration, now: Instant) -> Option<Vec<u8>> {
        self.clients
            .retain(|_, c| c.state.is_some() || now.duration_since(c.updated) < ttl);
        self.remove_where(now, |c| now.duration_since(c.updated) >= ttl)
    }

    /// Number of live (non-removed) states.
    pub fn live_count(&self) -> usize {
        self.clients.values().filter(|c| c.state.is_some()).count()
    }

    fn remove_where(
        &mut self,
        now: Instant,
        pred: impl Fn(&ClientState) -> bool,
    ) -> Option<Vec<u8>> {
        let mut removed = Vec::new();
        for (id, c) in self.clients.iter_mut() {
            if c.state.is_some() && pred(c) {
                // Bump the clock so every client accepts the removal.
                c.clock += 1;
                c.state = None;
                c.updated = now;
                removed.push((*id, c.clock));
            }
        }
        if removed.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        encode_awareness_update(
            removed.iter().map(|(id, clock)| AwarenessEntry {
                client_id: *id,
                clock: *clock,
                state: "null",
            }),
            &mut out,
        );
        Some(out)
    }
}
