//! Identity: accounts, passwords, access and refresh tokens, sign-in sessions,
//! external sign-in (OpenID Connect), and the `auth.*` / `me.*` operations.
//!
//! (Being built: this is the interface the rest of the server uses.)

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use goonline_engine::Engine;
use goonline_engine::audit::AuditLog;
use goonline_engine::ops::{OpError, OpsBuilder, UserRef};
use goonline_engine::sql_store::SqlStore;

use crate::config::SecurityArgs;
use crate::error::ServerError;

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
    #[allow(dead_code)]
    inner: Arc<()>,
}

impl Identity {
    /// Builds the service: loads or creates the signing secret.
    pub async fn new(
        _db: SqlStore,
        _engine: Engine,
        _audit: AuditLog,
        _cfg: &SecurityArgs,
        _data_dir: &Path,
        _public_url: String,
    ) -> Result<Identity, ServerError> {
        Ok(Identity {
            inner: Arc::new(()),
        })
    }

    /// Verifies an access token: signature, algorithm, audience, expiry, and
    /// that its sign-in session and user are still active.
    pub async fn authenticate(&self, _token: &str) -> Result<Authenticated, OpError> {
        Err(OpError::Unauthorized("not implemented yet".into()))
    }

    /// Registers the identity operations.
    pub fn register_ops(&self, _ops: &mut OpsBuilder) {}

    /// HTTP routes that are not operations (OpenID Connect redirects).
    pub fn routes(&self) -> Router {
        Router::new()
    }
}
