//! Sign-ins between `start` and `callback`: the state that names one, with its
//! nonce and PKCE verifier, in `oidc_pending` (the database, not memory, so the
//! callback may land on another node than the start).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use goonline_engine::now_ms;
use goonline_engine::ops::OpError;
use goonline_engine::sql_store::SqlStore;
use sha2::{Digest, Sha256};

/// How long a started sign-in may take to come back, in milliseconds.
pub const TTL_MS: i64 = 10 * 60 * 1000;

/// A started sign-in's secrets.
pub(super) struct PendingRequest {
    /// Names the sign-in in the callback (and defeats cross-site request forgery).
    pub state: String,
    /// Ties the id_token to this sign-in (no replay of another's token).
    pub nonce: String,
    /// The PKCE code verifier: only we can redeem the code.
    pub verifier: String,
}

impl PendingRequest {
    /// Fresh random values.
    pub fn generate() -> PendingRequest {
        PendingRequest {
            state: random_token(),
            nonce: random_token(),
            verifier: random_token(),
        }
    }
}

/// A remembered sign-in, as the callback finds it.
pub(super) struct Pending {
    pub verifier: String,
    pub nonce: String,
    /// Epoch milliseconds.
    pub created_at: i64,
}

/// 256 random bits, base64url: unguessable, and within the 43-128 characters
/// of the PKCE verifier alphabet.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The S256 code challenge for `verifier`: base64url(SHA-256(verifier)).
pub(super) fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Remembers `request`, first dropping sign-ins that were never finished (the
/// start endpoint is open to anyone, so the table must not only grow).
pub(super) async fn insert(db: &SqlStore, request: &PendingRequest) -> Result<(), OpError> {
    let now = now_ms();
    sqlx::query("DELETE FROM oidc_pending WHERE created_at < $1")
        .bind(now - TTL_MS)
        .execute(db.pool())
        .await
        .map_err(|e| OpError::from_db("oidc.purge_pending", e))?;
    sqlx::query(
        "INSERT INTO oidc_pending (state, verifier, nonce, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&request.state)
    .bind(&request.verifier)
    .bind(&request.nonce)
    .bind(now)
    .execute(db.pool())
    .await
    .map_err(|e| OpError::from_db("oidc.start", e))?;
    Ok(())
}

/// Removes and returns the sign-in `state` names, if any. One statement, so
/// two callbacks racing with the same state cannot both get it.
pub(super) async fn take(db: &SqlStore, state: &str) -> Result<Option<Pending>, OpError> {
    // Our states are 43 characters; anything much longer is not one of ours.
    if state.len() > 128 {
        return Ok(None);
    }
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "DELETE FROM oidc_pending WHERE state = $1 RETURNING verifier, nonce, created_at",
    )
    .bind(state)
    .fetch_optional(db.pool())
    .await
    .map_err(|e| OpError::from_db("oidc.callback", e))?;
    Ok(row.map(|(verifier, nonce, created_at)| Pending {
        verifier,
        nonce,
        created_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_is_unpadded_base64url_of_sha256() {
        // SHA-256("abc") = ba7816bf...f20015ad, which has `-`, `_` and would
        // need one `=` of padding.
        assert_eq!(
            challenge("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn tokens_are_long_enough_for_pkce_and_distinct() {
        let a = PendingRequest::generate();
        assert_eq!(a.verifier.len(), 43);
        assert_ne!(a.state, a.nonce);
        assert_ne!(a.verifier, PendingRequest::generate().verifier);
    }
}
