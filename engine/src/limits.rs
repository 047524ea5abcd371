//! Rate limits: token buckets keyed by whatever is limited (an account, an IP,
//! a connection). A bucket holds `burst` tokens and refills at `burst / window`;
//! an attempt takes one token or is refused with the seconds until one is back.
//!
//! Buckets live in memory on each node: a limit is per node, which is what
//! protects a node; the counts are small and a restart forgets them.

use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Most buckets kept before full (idle) ones are dropped.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A family of token buckets with one rate.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_sec: f64,
    buckets: DashMap<String, Bucket>,
    /// When the map was last pruned: a full map is scanned at most once per
    /// [`PRUNE_EVERY`], not on every attempt (many distinct keys, e.g. rotating
    /// IPv6 addresses, would otherwise make each check scan it).
    pruned_at: std::sync::Mutex<Instant>,
}

/// Shortest time between two prunes.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

impl RateLimiter {
    /// `burst` attempts, refilled evenly over `window`.
    pub fn new(burst: u32, window: Duration) -> RateLimiter {
        let burst = f64::from(burst.max(1));
        RateLimiter {
            burst,
            per_sec: burst / window.as_secs_f64().max(0.001),
            buckets: DashMap::new(),
            pruned_at: std::sync::Mutex::new(Instant::now()),
        }
    }

    /// Takes a token for `key`; `Err(seconds)` says when to retry.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.buckets.len() > PRUNE_AT
            && let Ok(mut at) = self.pruned_at.try_lock()
            && now.saturating_duration_since(*at) >= PRUNE_EVERY
        {
            *at = now;
            drop(at);
            self.prune(now);
        }
        let mut b = self.buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / self.per_sec).ceil().max(1.0) as u64)
        }
    }

    /// Gives back the token an attempt by `key` took, when the attempt turned
    /// out to do nothing (it lost a race to an identical one, or failed).
    pub fn refund(&self, key: &str) {
        if let Some(mut b) = self.buckets.get_mut(key) {
            b.tokens = (b.tokens + 1.0).min(self.burst);
        }
    }

    /// Forgets `key` (e.g. a successful sign-in clears the account's failures).
    pub fn reset(&self, key: &str) {
        self.buckets.remove(key);
    }

    /// Drops buckets that have refilled completely: they hold no information.
    fn prune(&self, now: Instant) {
        let full_after = self.burst / self.per_sec;
        self.buckets
            .retain(|_, b| now.saturating_duration_since(b.at).as_secs_f64() < full_after);
    }
}

/// A per-connection frame budget, kept inside the connection task (no map, no
/// lock): `burst` frames, refilled at `per_sec`.
#[derive(Debug, Clone, Copy)]
pub struct FrameBudget {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl FrameBudget {
    /// `per_sec` frames a second on average, bursts of twice that.
    pub fn new(per_sec: u32) -> FrameBudget {
        let per_sec = f64::from(per_sec.max(1));
        FrameBudget {
            per_sec,
            burst: per_sec * 2.0,
            tokens: per_sec * 2.0,
            at: Instant::now(),
        }
    }

    /// Takes one frame's token; `false` when the connection is over its budget.
    pub fn take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_the_burst_and_recovers_with_time() {
        let l = RateLimiter::new(3, Duration::from_secs(30));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.check_at("a", t0), Ok(()));
        }
        let retry = l.check_at("a", t0).expect_err("fourth attempt refused");
        assert_eq!(retry, 10, "one token comes back every 10 s");
        assert_eq!(l.check_at("b", t0), Ok(()), "other keys are independent");
        assert_eq!(l.check_at("a", t0 + Duration::from_secs(10)), Ok(()));
        l.reset("a");
        assert_eq!(l.check_at("a", t0 + Duration::from_secs(10)), Ok(()));
        // A refunded attempt costs nothing.
        let l = RateLimiter::new(1, Duration::from_secs(30));
        assert_eq!(l.check_at("a", t0), Ok(()));
        l.refund("a");
        assert_eq!(l.check_at("a", t0), Ok(()));
        assert!(l.check_at("a", t0).is_err());
    }
}
