//! Identity: accounts, passwords, access and refresh tokens, sign-in sessions,
//! external sign-in (OpenID Connect), and the `auth.*` / `me.*` operations.
//!
//! - [`secret`]: the token signing secret (configured, or generated once).
//! - [`password`]: argon2id hashing off the async workers, constant-time-ish
//!   sign-in for unknown emails.
//! - [`tokens`]: JWT access tokens and opaque refresh tokens.
//! - [`sessions`]: sign-in sessions (refresh-token families), rotation, reuse
//!   detection and revocation.
//! - [`accounts`]: the `users` table.
//! - [`attempts`]: sign-in and registration rate limits.
//! - `auth`, `me`, `admin`: what the operations do; [`ops`]: their params,
//!   results and registration.
//! - [`cli`]: `goonline user create`.
//! - [`purge`]: deleting expired tokens, sessions and pending sign-ins.
//!
//! The rest of the server uses [`Identity`]: [`Identity::authenticate`] for
//! every token, [`Identity::register_ops`] at start-up, [`Identity::routes`]
//! for the HTTP routes that are not operations.

pub mod accounts;
mod admin;
pub mod attempts;
mod auth;
pub mod cli;
mod live;
mod me;
pub mod oidc;
pub mod ops;
pub mod password;
pub mod purge;
pub mod secret;
pub mod sessions;
pub mod tokens;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use goonline_engine::Engine;
use goonline_engine::audit::{AuditEvent, AuditLog, Outcome};
use goonline_engine::ops::{OpError, OpsBuilder, UserRef};
use goonline_engine::sql_store::SqlStore;
use serde_json::Value;

use crate::config::SecurityArgs;
use crate::error::ServerError;
use goonline_engine::sql_store::begin_write;

pub use live::spawn_periodic_recheck;
pub use tokens::TokenPair;

/// A verified access token.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Who it names.
    pub user: UserRef,
    /// When it expires, epoch milliseconds.
    pub expires_at_ms: i64,
}

/// The identity service. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    inner: Arc<Inner>,
}

/// What the service holds; submodules reach it through `self.inner`.
struct Inner {
    db: SqlStore,
    engine: Engine,
    audit: AuditLog,
    keys: tokens::TokenKeys,
    refresh_ttl_ms: i64,
    passwords: password::Passwords,
    attempts: attempts::Attempts,
    public_url: String,
    /// "Sign in with" an OpenID Connect provider, when configured.
    oidc: Option<Arc<oidc::OidcClient>>,
}

impl Identity {
    /// Builds the service: loads or creates the signing secret.
    pub async fn new(
        db: SqlStore,
        engine: Engine,
        audit: AuditLog,
        cfg: &SecurityArgs,
        data_dir: &Path,
        public_url: String,
    ) -> Result<Identity, ServerError> {
        let secret = secret::load_or_create(cfg.jwt_secret.as_deref(), data_dir)?;
        let oidc = match oidc::OidcSettings::from_args(cfg, &public_url)? {
            Some(settings) => Some(Arc::new(oidc::OidcClient::new(
                db.clone(),
                audit.clone(),
                settings,
                oidc::OidcClient::http_client()?,
            ))),
            None => None,
        };
        let refresh_ttl_ms = i64::try_from(cfg.refresh_token_ttl_secs.max(1))
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        Ok(Identity {
            inner: Arc::new(Inner {
                db,
                engine,
                audit,
                keys: tokens::TokenKeys::new(&secret, cfg.access_token_ttl_secs),
                refresh_ttl_ms,
                passwords: password::Passwords::new(),
                attempts: attempts::Attempts::new(cfg),
                public_url,
                oidc,
            }),
        })
    }

    /// Counts sign-in attempts in the cluster's shared buckets (with Redis).
    pub fn share_attempt_limits(&self, buckets: Arc<crate::cluster::SharedBuckets>) {
        self.inner.attempts.share(buckets);
    }

    /// Verifies an access token: signature, algorithm, audience, expiry, and
    /// that its sign-in session and user are still active.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated, OpError> {
        let claims = self.inner.keys.verify(token)?;
        let admin = sessions::active(self.inner.db.pool(), &claims.sid, &claims.sub)
            .await
            .map_err(|e| OpError::from_db("authenticate", e))?
            .ok_or_else(|| {
                OpError::Unauthorized(
                    "this sign-in session has ended (signed out, revoked, or the account is \
                     suspended); sign in again"
                        .into(),
                )
            })?;
        Ok(Authenticated {
            user: UserRef {
                id: claims.sub,
                // The stored flag, not the claim: a demotion applies at once.
                platform_admin: admin,
                session: claims.sid,
            },
            expires_at_ms: i64::try_from(claims.exp)
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000),
        })
    }

    /// `user` as stored now: a token's user re-read for a call on a long-lived
    /// socket, so a platform-admin demotion applies there at once too (as it does
    /// on REST, where every request is authenticated anew). `unauthorized` when
    /// the sign-in session has ended meanwhile.
    pub async fn current(&self, user: &UserRef) -> Result<UserRef, OpError> {
        let admin = sessions::active(self.inner.db.pool(), &user.session, &user.id)
            .await
            .map_err(|e| OpError::from_db("authenticate", e))?
            .ok_or_else(|| {
                OpError::Unauthorized("this sign-in session has ended; sign in again".into())
            })?;
        Ok(UserRef {
            platform_admin: admin,
            ..user.clone()
        })
    }

    /// Registers the identity operations.
    pub fn register_ops(&self, ops: &mut OpsBuilder) {
        ops::register(self, ops);
    }

    /// Deletes refresh tokens expired more than a day ago, the sign-in sessions
    /// left without any, and OpenID Connect sign-ins started over ten minutes
    /// ago and never finished; returns how many rows went. See [`purge`].
    pub async fn purge_expired(&self) -> Result<u64, sqlx::Error> {
        purge::expired(
            self.inner.db.pool(),
            goonline_engine::now_ms(),
            self.inner.refresh_ttl_ms,
        )
        .await
    }

    /// HTTP routes that are not operations: the OpenID Connect redirects, when
    /// a provider is configured.
    pub fn routes(&self) -> Router {
        match &self.inner.oidc {
            Some(client) => client.clone().routes(Arc::new(self.clone())),
            None => Router::new(),
        }
    }

    /// Starts a sign-in session for `user_id` (an active account) and returns
    /// its first token pair. For sign-in paths other than a password (OpenID
    /// Connect); they audit the sign-in themselves.
    pub async fn start_session(
        &self,
        user_id: &str,
        ip: Option<IpAddr>,
    ) -> Result<TokenPair, OpError> {
        let account = accounts::by_id(self.inner.db.pool(), user_id)
            .await
            .map_err(db_err("start session"))?
            .filter(accounts::Account::active)
            .ok_or_else(|| OpError::Unauthorized("this account cannot sign in".into()))?;
        let mut tx = begin_write(self.inner.db.pool())
            .await
            .map_err(db_err("start session"))?;
        let started = sessions::start(&mut tx, &account.id, self.inner.refresh_ttl_ms)
            .await
            .map_err(db_err("start session"))?;
        tx.commit().await.map_err(db_err("start session"))?;
        tracing::debug!(user = %account.id, ip = ?ip, "sign-in session started");
        self.pair(
            &account.id,
            &started.session,
            account.platform_admin,
            started.refresh_token,
        )
    }

    /// The URL clients reach this server at (for OpenID Connect redirects).
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// The pair for a session whose refresh token was just issued.
    fn pair(
        &self,
        user: &str,
        session: &str,
        admin: bool,
        refresh_token: String,
    ) -> Result<TokenPair, OpError> {
        Ok(TokenPair {
            access_token: self.inner.keys.issue(user, session, admin)?,
            refresh_token,
            expires_in: self.inner.keys.ttl_secs(),
            token_type: "Bearer",
        })
    }

    /// Closes `user`'s live sockets (all, or one sign-in session's) with 4401.
    pub(crate) fn close_sockets(&self, user: &str, session: Option<&str>, why: &str) {
        let n = self.inner.engine.end_user_sessions(
            user,
            session,
            goonline_protocol::codes::close::UNAUTHORIZED,
            why,
        );
        if n > 0 {
            tracing::info!(user, closed = n, reason = why, "closed live sessions");
        }
    }
}

/// An audit entry (no personal data in `detail`).
fn event<'a>(
    actor: Option<&'a str>,
    action: &'a str,
    target: Option<&'a str>,
    outcome: Outcome,
    detail: Value,
    ip: Option<IpAddr>,
) -> AuditEvent<'a> {
    AuditEvent {
        actor,
        action,
        target,
        outcome,
        detail,
        ip: ip.map(|i| i.to_string()),
    }
}

/// Maps database errors of `context` to the operation error (logged, hidden).
fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> OpError {
    move |e| OpError::from_db(context, e)
}

impl oidc::SessionStarter for Identity {
    fn start_session<'a>(
        &'a self,
        user_id: &'a str,
        ip: Option<IpAddr>,
    ) -> goonline_engine::ops::BoxFuture<'a, Result<Value, OpError>> {
        Box::pin(async move {
            let pair = Identity::start_session(self, user_id, ip).await?;
            serde_json::to_value(pair).map_err(|e| OpError::Internal(e.to_string()))
        })
    }
}
