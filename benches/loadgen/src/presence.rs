//! Awareness traffic as y-protocols clients make it: every client publishes its
//! state when it joins and renews it periodically (y-protocols: every 15 s), and
//! some clients move a cursor once a second.

use std::time::Duration;

use goonline_protocol::awareness::{AwarenessEntry, encode_awareness_update};
use tokio::time::Instant;

use crate::swarm::rand_u32;

/// Presence settings of a run.
#[derive(Debug, Clone, Copy)]
pub struct Presence {
    /// How often every client renews its state.
    pub renew: Duration,
    /// Percent of clients that move a cursor once a second.
    pub movers_pct: u32,
}

impl Presence {
    /// The awareness role of client number `n` of the run.
    pub fn client(&self, n: u32) -> PresenceClient {
        let mover = self.movers_pct > 0 && n % 100 < self.movers_pct;
        let period = if mover {
            Duration::from_secs(1)
        } else {
            self.renew
        };
        PresenceClient {
            id: u64::from(rand_u32()),
            clock: 0,
            name: format!("user-{n}"),
            mover,
            period,
            // The first state goes out at once (as a provider does on connect),
            // then on a random phase so clients don't renew in lockstep.
            next: Instant::now(),
            phase: Duration::from_secs_f64(
                period.as_secs_f64() * f64::from(rand_u32() % 1000) / 1000.0,
            ),
            first: true,
        }
    }
}

/// One client's awareness: its id, clock and schedule.
#[derive(Debug)]
pub struct PresenceClient {
    id: u64,
    clock: u64,
    name: String,
    mover: bool,
    period: Duration,
    next: Instant,
    phase: Duration,
    first: bool,
}

impl PresenceClient {
    /// When the first state is due.
    pub fn first_at(&self) -> Instant {
        self.next
    }

    /// The next state to publish, as an awareness update (one entry, clock + 1).
    pub fn next_state(&mut self) -> Vec<u8> {
        self.clock += 1;
        let state = if self.mover {
            let pos = self.clock % 500;
            format!(
                r##"{{"user":{{"name":"{}","color":"#30bced"}},"cursor":{{"anchor":{pos},"head":{pos}}}}}"##,
                self.name
            )
        } else {
            format!(
                r##"{{"user":{{"name":"{}","color":"#30bced"}}}}"##,
                self.name
            )
        };
        let mut out = Vec::with_capacity(state.len() + 16);
        encode_awareness_update(
            [AwarenessEntry {
                client_id: self.id,
                clock: self.clock,
                state: &state,
            }],
            &mut out,
        );
        out
    }

    /// When the state after the one just sent is due.
    pub fn next_at(&mut self) -> Instant {
        self.next = if self.first {
            self.first = false;
            Instant::now() + self.phase
        } else {
            self.next + self.period
        };
        self.next
    }
}
