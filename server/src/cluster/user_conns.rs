//! The per-user connection limit, counted across every node.
//!
//! With Redis, each signed-in connection is a member (`node:connection`) of
//! its user's sorted set, scored with the time it expires. Admission is one
//! Lua script (drop expired members, count, add), so two nodes admitting the
//! same user at once cannot both take the last place. A node renews its
//! members every [`RENEW_EVERY`] and removes one when its connection ends; the
//! members of a node that died expire within [`MEMBER_TTL`].
//!
//! When Redis cannot be reached the limit falls back to this node's own count
//! (fail open to the local limit): a Redis outage must not lock users out.

use std::sync::{Arc, Weak};
use std::time::Duration;

use goonline_engine::Engine;
use goonline_engine::metrics::inc;

use super::redis_link::RedisLink;

/// How long a member lives without renewal.
const MEMBER_TTL: Duration = Duration::from_secs(30);

/// How often a node renews its members.
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// Drops expired members, then adds ARGV[2] if fewer than ARGV[1] remain
/// (or it is already there), expiring ARGV[3] ms from now. Returns 1 when
/// admitted. Time is Redis's own (`TIME`), so nodes' clocks never disagree
/// about what has expired.
const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return 1
";

/// Extends ARGV[2..] (members still there only: one that ended meanwhile
/// stays removed) to ARGV[1] ms from Redis's now.
const RENEW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return 0
";

/// The outcome of [`UserConnections::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The connection may sign in.
    Admitted,
    /// The user already holds `limit` connections.
    Full,
}

/// Counts signed-in connections per user.
pub struct UserConnections {
    engine: Engine,
    limit: usize,
    ledger: Option<RedisLink>,
}

impl UserConnections {
    /// A limit of `limit` connections per user; counted in Redis when
    /// `redis_url` is given (members under `prefix`), on this node otherwise.
    pub fn start(
        engine: Engine,
        limit: usize,
        redis_url: Option<&str>,
        prefix: &str,
    ) -> Result<Arc<UserConnections>, String> {
        let ledger = match redis_url {
            None => None,
            Some(url) => Some(RedisLink::open(url, prefix)?),
        };
        let this = Arc::new(UserConnections {
            engine: engine.clone(),
            limit: limit.max(1),
            ledger,
        });
        if this.ledger.is_some() {
            let weak = Arc::downgrade(&this);
            engine.on_user_session_end(Arc::new(move |user: &str, id: u64| {
                if let Some(this) = weak.upgrade() {
                    let user = user.to_string();
                    tokio::spawn(async move { this.release(&user, id).await });
                }
            }));
            tokio::spawn(renew_loop(Arc::downgrade(&this)));
        }
        Ok(this)
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Takes a place for connection `id` of `user`, if one is free.
    pub async fn admit(&self, user: &str, id: u64) -> Admission {
        let local = self.engine.user_session_count(user);
        if local >= self.limit {
            return self.refused();
        }
        let Some(ledger) = &self.ledger else {
            return Admission::Admitted;
        };
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(ADMIT)
            .arg(1)
            .arg(ledger.key("conns", user))
            .arg(self.limit)
            .arg(self.member(id))
            .arg(MEMBER_TTL.as_millis() as u64);
        match ledger.run::<i64>(cmd).await {
            Ok(1) => Admission::Admitted,
            Ok(_) => self.refused(),
            Err(e) => {
                tracing::warn!(error = %e, "connection limit counted on this node only: Redis unreachable");
                Admission::Admitted
            }
        }
    }

    fn refused(&self) -> Admission {
        inc(&self.engine.metrics().user_connections_refused);
        Admission::Full
    }

    fn member(&self, id: u64) -> String {
        format!("{}:{id}", self.engine.node_id())
    }

    async fn release(&self, user: &str, id: u64) {
        if let Some(ledger) = &self.ledger {
            let mut cmd = redis::cmd("ZREM");
            cmd.arg(ledger.key("conns", user)).arg(self.member(id));
            // A member that cannot be removed now expires on its own.
            let _ = ledger.run::<i64>(cmd).await;
        }
    }

    /// Extends every live member of this node.
    async fn renew(&self) {
        let Some(ledger) = &self.ledger else { return };
        let sessions = self.engine.live_user_sessions();
        if sessions.is_empty() {
            return;
        }
        let mut by_user: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for (user, id) in &sessions {
            by_user.entry(user).or_default().push(self.member(*id));
        }
        let mut pipe = redis::pipe();
        for (user, members) in by_user {
            pipe.cmd("EVAL")
                .arg(RENEW)
                .arg(1)
                .arg(ledger.key("conns", user))
                .arg(MEMBER_TTL.as_millis() as u64)
                .arg(members)
                .ignore();
        }
        if let Err(e) = ledger.run_pipe(pipe).await {
            tracing::warn!(error = %e, "renewing connection counts in Redis failed");
        }
    }
}

async fn renew_loop(this: Weak<UserConnections>) {
    let mut tick = tokio::time::interval(RENEW_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(this) = this.upgrade() else { return };
        this.renew().await;
    }
}
