//! Token buckets shared by every node, in Redis: the sign-in attempt limits
//! must hold for the cluster, or an attacker spreading guesses over N nodes
//! would get N times the budget. Each bucket is a hash (tokens, last refill)
//! updated by one Lua script, so concurrent takes from several nodes cannot
//! both spend the last token. When Redis does not answer, callers fall back
//! to their node-local bucket.

use std::time::Duration;

use super::redis_link::RedisLink;

/// Refills the bucket for the time since its last use, then takes a token.
/// Returns 0, or the seconds until a token is back. Time is Redis's own
/// (`TIME`): nodes' clocks never disagree, and it never runs backwards here.
const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(b[1]) or cap
local ts = tonumber(b[2]) or now
if now > ts then tokens = math.min(cap, tokens + (now - ts) * cap / win) end
local wait = 0
if tokens < 1 then
  wait = math.max(1, math.ceil((1 - tokens) * win / cap / 1000))
else
  tokens = tokens - 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], win)
return wait
";

/// Buckets under one key prefix.
pub struct SharedBuckets {
    link: RedisLink,
}

impl SharedBuckets {
    /// Buckets in the Redis at `url`, keys under `prefix`.
    pub fn open(url: &str, prefix: &str) -> Result<SharedBuckets, String> {
        Ok(SharedBuckets {
            link: RedisLink::open(url, prefix)?,
        })
    }

    /// Takes a token from bucket `key` of `capacity` tokens refilled over
    /// `window`: `Ok(Ok(()))`, `Ok(Err(seconds to retry))`, or `Err` when
    /// Redis could not be asked.
    pub async fn take(
        &self,
        key: &str,
        capacity: u32,
        window: Duration,
    ) -> Result<Result<(), u64>, String> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(TAKE)
            .arg(1)
            .arg(self.link.key("bucket", key))
            .arg(capacity.max(1))
            .arg(window.as_millis().max(1) as u64);
        let wait: u64 = self.link.run(cmd).await?;
        Ok(if wait == 0 { Ok(()) } else { Err(wait) })
    }

    /// Empties bucket `key`'s history (it is full again).
    pub async fn reset(&self, key: &str) {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.link.key("bucket", key));
        let _ = self.link.run::<i64>(cmd).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redis_url() -> String {
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    #[tokio::test]
    async fn two_nodes_spend_one_budget_and_a_reset_refills_it() {
        let prefix = format!("gotest{}", uuid::Uuid::new_v4().simple());
        let a = SharedBuckets::open(&redis_url(), &prefix).expect("url");
        let b = SharedBuckets::open(&redis_url(), &prefix).expect("url");
        let window = Duration::from_secs(600);
        async fn take(n: &SharedBuckets) -> Result<Result<(), u64>, String> {
            n.take("login:email:ama@example.com", 3, Duration::from_secs(600))
                .await
        }
        assert_eq!(take(&a).await.expect("Redis reachable"), Ok(()));
        assert_eq!(take(&b).await.expect("Redis reachable"), Ok(()));
        assert_eq!(take(&a).await.expect("Redis reachable"), Ok(()));
        let refused = take(&b).await.expect("Redis reachable");
        assert!(
            matches!(refused, Err(s) if (1..=200).contains(&s)),
            "the fourth attempt on either node is refused with a wait: {refused:?}"
        );
        // Another account has its own budget.
        assert_eq!(
            a.take("login:email:kofi@example.com", 3, window)
                .await
                .expect("Redis reachable"),
            Ok(())
        );
        a.reset("login:email:ama@example.com").await;
        assert_eq!(take(&b).await.expect("Redis reachable"), Ok(()));
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_an_error_the_caller_can_fall_back_on() {
        let dead = SharedBuckets::open("redis://127.0.0.1:1", "gotest").expect("url");
        assert!(
            dead.take("k", 3, Duration::from_secs(60)).await.is_err(),
            "no answer is an error, not a verdict"
        );
    }
}
