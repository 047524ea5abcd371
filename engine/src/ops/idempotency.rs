//! Idempotency keys for state-changing calls, with the semantics payments APIs
//! use: the first call with a key runs and its outcome (result or error) is
//! stored; a retry with the same key and the same params gets that outcome
//! replayed without running again; the same key with other params is a
//! `conflict` with no side effect; a retry that arrives while the first call
//! still runs waits for it and gets its outcome (or `conflict` if it takes too
//! long). Keys are scoped to the caller and kept for the retention period
//! (24 h by default), then purged. Transient failures (`unavailable`,
//! `rate_limited`) are not stored: they release the key, so a retry after the
//! pause runs.
//!
//! The claim is one `INSERT ... ON CONFLICT DO NOTHING`, so across connections
//! and nodes exactly one call executes per key.

use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::{ErrorBody, OpError};
use crate::clock::now_ms;
use crate::sql_store::SqlStore;

/// Longest accepted key, in bytes.
pub const MAX_KEY_BYTES: usize = 255;

/// How often a waiting retry looks at the key again.
const POLL: Duration = Duration::from_millis(20);

/// How long a retry waits for a call with its key that is still running.
const WAIT_FOR_PENDING: Duration = Duration::from_secs(10);

/// A key claimed but never completed for this long belongs to a call that died
/// with its node; it may be claimed again.
const ABANDONED_AFTER_MS: i64 = 5 * 60 * 1000;

/// The stored-outcome table.
#[derive(Clone)]
pub struct IdempotencyStore {
    db: SqlStore,
    keep: Duration,
}

/// What a claim found.
pub enum Claim {
    /// This call owns the key: run, then [`IdempotencyStore::finish`].
    Run,
    /// A finished call's outcome to replay.
    Replay(Result<Value, OpError>),
}

impl IdempotencyStore {
    /// Keys are kept for `keep` (at least 24 h is what clients may rely on).
    pub fn new(db: SqlStore, keep: Duration) -> IdempotencyStore {
        IdempotencyStore { db, keep }
    }

    /// Checks a key's shape.
    pub fn validate_key(key: &str) -> Result<(), OpError> {
        if key.is_empty() || key.len() > MAX_KEY_BYTES || key.chars().any(char::is_control) {
            return Err(OpError::invalid(
                "idempotency_key",
                format!("must be 1 to {MAX_KEY_BYTES} bytes without control characters"),
            ));
        }
        Ok(())
    }

    /// The fingerprint of a call: method plus params with object keys sorted.
    pub fn fingerprint(method: &str, params: &Value) -> String {
        let mut h = Sha256::new();
        h.update(method.as_bytes());
        h.update([0]);
        write_canonical(params, &mut h);
        hex(&h.finalize())
    }

    /// Claims `key` for a call, or returns what an earlier call with it decided.
    pub async fn claim(
        &self,
        scope: &str,
        key: &str,
        method: &str,
        fingerprint: &str,
    ) -> Result<Claim, OpError> {
        let started = tokio::time::Instant::now();
        loop {
            let now = now_ms();
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys \
                 (scope, idem_key, method, params_hash, state, outcome, created_at) \
                 VALUES ($1, $2, $3, $4, 'pending', NULL, $5) \
                 ON CONFLICT (scope, idem_key) DO NOTHING",
            )
            .bind(scope)
            .bind(key)
            .bind(method)
            .bind(fingerprint)
            .bind(now)
            .execute(self.db.pool())
            .await
            .map_err(|e| OpError::from_db("idempotency claim", e))?
            .rows_affected();
            if inserted == 1 {
                return Ok(Claim::Run);
            }
            let row: Option<(String, String, String, Option<String>, i64)> = sqlx::query_as(
                "SELECT method, params_hash, state, outcome, created_at FROM idempotency_keys \
                 WHERE scope = $1 AND idem_key = $2",
            )
            .bind(scope)
            .bind(key)
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| OpError::from_db("idempotency lookup", e))?;
            let Some((m, fp, state, outcome, created)) = row else {
                continue; // released meanwhile: claim again
            };
            let expired = now - created > self.keep.as_millis() as i64;
            let abandoned = state == "pending" && now - created > ABANDONED_AFTER_MS;
            if expired || abandoned {
                // Only the row just read: a retry that got here first may have
                // claimed the key afresh.
                self.release_if(scope, key, Some(created)).await;
                continue;
            }
            if m != method || fp != fingerprint {
                return Err(OpError::Conflict(format!(
                    "idempotency key `{key}` was already used with different parameters"
                )));
            }
            if state == "done" {
                return Ok(Claim::Replay(decode_outcome(outcome.as_deref())));
            }
            if started.elapsed() > WAIT_FOR_PENDING {
                return Err(OpError::Conflict(format!(
                    "a request with idempotency key `{key}` is still in progress; retry later"
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stores the outcome of the call that claimed `key`. A transient failure
    /// (`unavailable`, `rate_limited`) is not stored: the key is released so a
    /// retry runs again. Storing it would replay the refusal for the whole
    /// retention period, and a client that queued a call offline (a chat
    /// message) and retries it with its key after the pause could never
    /// deliver it.
    pub async fn finish(&self, scope: &str, key: &str, outcome: &Result<Value, OpError>) {
        if matches!(
            outcome,
            Err(OpError::Unavailable(_) | OpError::RateLimited { .. })
        ) {
            self.release(scope, key).await;
            return;
        }
        let stored = match outcome {
            Ok(v) => serde_json::json!({ "ok": v }),
            Err(e) => serde_json::json!({ "err": e.body() }),
        };
        let r = sqlx::query(
            "UPDATE idempotency_keys SET state = 'done', outcome = $1 \
             WHERE scope = $2 AND idem_key = $3",
        )
        .bind(stored.to_string())
        .bind(scope)
        .bind(key)
        .execute(self.db.pool())
        .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "cannot store an idempotent outcome; releasing the key");
            self.release(scope, key).await;
        }
    }

    async fn release(&self, scope: &str, key: &str) {
        self.release_if(scope, key, None).await;
    }

    /// Deletes the key's row (only the one created at `created`, when given).
    async fn release_if(&self, scope: &str, key: &str, created: Option<i64>) {
        let r = sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 \
             AND ($3 < 0 OR created_at = $3)",
        )
        .bind(scope)
        .bind(key)
        .bind(created.unwrap_or(-1))
        .execute(self.db.pool())
        .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "cannot release an idempotency key");
        }
    }

    /// Deletes keys older than the retention period; returns how many.
    pub async fn purge_expired(&self) -> Result<u64, sqlx::Error> {
        let cutoff = now_ms() - self.keep.as_millis() as i64;
        let r = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(cutoff)
            .execute(self.db.pool())
            .await?;
        Ok(r.rows_affected())
    }
}

fn decode_outcome(stored: Option<&str>) -> Result<Value, OpError> {
    let parsed: Option<Value> = stored.and_then(|s| serde_json::from_str(s).ok());
    match parsed {
        Some(Value::Object(mut m)) => {
            if let Some(v) = m.remove("ok") {
                Ok(v)
            } else if let Some(e) = m.remove("err") {
                match serde_json::from_value::<ErrorBody>(e) {
                    Ok(body) => Err(OpError::from_body(body)),
                    Err(_) => Err(OpError::Internal("stored outcome is unreadable".into())),
                }
            } else {
                Err(OpError::Internal("stored outcome is unreadable".into()))
            }
        }
        _ => Err(OpError::Internal("stored outcome is unreadable".into())),
    }
}

/// Feeds `v` to the hasher with object keys in sorted order, so the same params
/// sent with their keys in another order have the same fingerprint.
fn write_canonical(v: &Value, h: &mut Sha256) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            h.update(b"{");
            for k in keys {
                h.update(serde_json::to_string(k).unwrap_or_default().as_bytes());
                h.update(b":");
                write_canonical(&m[k], h);
                h.update(b",");
            }
            h.update(b"}");
        }
        Value::Array(a) => {
            h.update(b"[");
            for x in a {
                write_canonical(x, h);
                h.update(b",");
            }
            h.update(b"]");
        }
        other => h.update(other.to_string().as_bytes()),
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
