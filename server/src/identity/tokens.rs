//! Access and refresh tokens.
//!
//! - Access tokens are JWTs signed with HS256, valid for minutes. Their claims:
//!   `sub` (user id), `sid` (sign-in session, i.e. refresh-token family), `adm`
//!   (platform admin), `aud` and `iss` (both `goonline`), `iat`, `exp`, `jti`.
//!   Verification accepts HS256 only (so `alg: none` and algorithm swaps fail),
//!   requires our audience and issuer, and allows no leeway past `exp`.
//! - Refresh tokens are 32 random bytes in base64url, opaque to clients. Only
//!   their SHA-256 (hex) is stored, so a leaked table cannot be replayed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use goonline_engine::ops::OpError;
use goonline_engine::ops::idempotency::hex;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `aud` and `iss` of every access token.
pub const AUDIENCE: &str = "goonline";
/// See [`AUDIENCE`].
pub const ISSUER: &str = "goonline";

/// What a sign-in hands the client.
#[derive(Clone, Serialize, schemars::JsonSchema)]
pub struct TokenPair {
    /// A JWT (HS256) to present as `Authorization: Bearer …` or on sockets.
    pub access_token: String,
    /// Opaque, single use: exchange it with `auth.refresh` for a new pair.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: &'static str,
}

impl fmt::Debug for TokenPair {
    // Tokens are credentials: keep them out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The sign-in session (refresh-token family).
    pub sid: String,
    /// Whether the user was a platform admin when the token was issued.
    pub adm: bool,
    /// Always [`AUDIENCE`].
    pub aud: String,
    /// Always [`ISSUER`].
    pub iss: String,
    /// Issued at, epoch seconds.
    pub iat: u64,
    /// Expires at, epoch seconds.
    pub exp: u64,
    /// A unique id for this token.
    pub jti: String,
}

/// Signs and verifies access tokens with one secret.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: u64,
}

impl TokenKeys {
    /// Keys for `secret`; access tokens live `ttl_secs` (at least one second).
    pub fn new(secret: &[u8], ttl_secs: u64) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_secs: ttl_secs.max(1),
        }
    }

    /// Seconds an access token lives.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// A new access token for `user` in sign-in session `session`.
    pub fn issue(&self, user: &str, session: &str, admin: bool) -> Result<String, OpError> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user.to_string(),
            sid: session.to_string(),
            adm: admin,
            aud: AUDIENCE.into(),
            iss: ISSUER.into(),
            iat: now,
            exp: now + self.ttl_secs,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| {
            tracing::error!(error = %e, "signing an access token failed");
            OpError::Internal("could not issue an access token".into())
        })
    }

    /// The claims of `token` if it is ours, unaltered, HS256 and unexpired.
    pub fn verify(&self, token: &str) -> Result<Claims, OpError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => {
                    OpError::Unauthorized("the access token has expired; refresh it".into())
                }
                _ => OpError::Unauthorized("the access token is not valid".into()),
            })
    }
}

/// Bytes as unpadded base64url.
pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh refresh token: 32 random bytes, base64url.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64url(&bytes)
}

/// How a refresh token is stored: its SHA-256, hex.
pub fn refresh_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_others_do_not() {
        let keys = TokenKeys::new(&[7u8; 32], 60);
        let token = keys.issue("u1", "s1", true).expect("issued");
        let claims = keys.verify(&token).expect("verifies");
        assert_eq!((claims.sub.as_str(), claims.sid.as_str()), ("u1", "s1"));
        assert!(claims.adm);
        assert_eq!(claims.exp - claims.iat, 60);
        let other = TokenKeys::new(&[8u8; 32], 60);
        assert!(other.verify(&token).is_err(), "another secret");
        assert!(keys.verify("not.a.token").is_err());
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let a = new_refresh_token();
        let b = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "32 bytes in unpadded base64url");
        assert_eq!(refresh_hash(&a).len(), 64);
        assert_eq!(refresh_hash(&a), refresh_hash(&a));
    }
}
