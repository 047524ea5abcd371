//! Sign-in with an external OpenID Connect provider: the authorization code
//! flow with PKCE (S256).
//!
//! - `GET /api/auth/oidc/start` sends the browser to the provider's
//!   authorization endpoint (302), or with `?mode=json` hands the URL to an app
//!   that opens it itself (`{"authorize_url": ...}`).
//! - `GET /api/auth/oidc/callback?code=..&state=..` redeems the code, validates
//!   the id_token, finds or creates the account and starts a sign-in session,
//!   answering with its token pair.
//!
//! The parts:
//! - `provider`: discovery, the signing keys (JWKS) and the token endpoint,
//!   over HTTP with timeouts, cached.
//! - `id_token`: id_token validation (signature, issuer, audience, expiry,
//!   nonce).
//! - `pending`: the state, nonce and PKCE verifier kept between the two
//!   requests, in the database so the callback may land on any node.
//! - `accounts`: linking the provider's subject to an account.
//! - `routes`: the two routes, our JSON errors and the audit entries.
//!
//! Sessions are started through [`SessionStarter`], so this module does not
//! depend on how access and refresh tokens are made.

mod accounts;
mod id_token;
mod pending;

/// How long a started sign-in may take before its state expires.
pub use pending::TTL_MS as PENDING_TTL_MS;
mod provider;
mod routes;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use goonline_engine::audit::{AuditEvent, AuditLog, Outcome};
use goonline_engine::now_ms;
use goonline_engine::ops::{BoxFuture, OpError};
use goonline_engine::sql_store::SqlStore;
use serde::Deserialize;
use serde_json::Value;

use crate::config::SecurityArgs;
use crate::error::ServerError;

use self::accounts::{LinkError, Linked};
use self::provider::{ClientCredentials, Provider};

/// Where the flow starts.
pub const START_PATH: &str = "/api/auth/oidc/start";
/// Where the provider sends the browser back; `public_url` + this is the
/// `redirect_uri` registered at the provider.
pub const CALLBACK_PATH: &str = "/api/auth/oidc/callback";

/// Starts a sign-in session for a user the provider vouched for, returning the
/// token pair JSON (`{access_token, refresh_token, expires_in, token_type}`)
/// the callback answers with.
pub trait SessionStarter: Send + Sync + 'static {
    /// Creates a sign-in session for `user_id` (already checked to be active).
    fn start_session<'a>(
        &'a self,
        user_id: &'a str,
        ip: Option<IpAddr>,
    ) -> BoxFuture<'a, Result<Value, OpError>>;
}

/// What identifies this server at the provider.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The provider's issuer URL, exactly as its discovery document names it
    /// (a trailing `/` is tolerated when comparing).
    pub issuer: String,
    /// Our client id at the provider.
    pub client_id: String,
    /// Our client secret; `None` for a public client (PKCE only, no HS256).
    pub client_secret: Option<String>,
    /// Where the provider sends the browser back: `public_url` + [`CALLBACK_PATH`].
    pub redirect_uri: String,
}

impl OidcSettings {
    /// The settings the security flags describe, or `None` when no issuer is
    /// configured (external sign-in off). `public_url` is the URL clients reach
    /// this server at, e.g. `https://api.example.com`.
    pub fn from_args(
        cfg: &SecurityArgs,
        public_url: &str,
    ) -> Result<Option<OidcSettings>, ServerError> {
        let Some(issuer) = cfg.oidc_issuer.as_deref().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let client_id = cfg
            .oidc_client_id
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ServerError::Startup("--oidc-issuer needs --oidc-client-id as well".into())
            })?;
        reqwest::Url::parse(issuer)
            .map_err(|e| ServerError::Startup(format!("--oidc-issuer is not a URL: {e}")))?;
        Ok(Some(OidcSettings {
            issuer: issuer.to_string(),
            client_id,
            client_secret: cfg.oidc_client_secret.clone().filter(|s| !s.is_empty()),
            redirect_uri: format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/')),
        }))
    }
}

/// The OpenID Connect relying party: builds authorization requests and
/// completes callbacks.
pub struct OidcClient {
    settings: OidcSettings,
    db: SqlStore,
    audit: AuditLog,
    provider: Provider,
}

impl OidcClient {
    /// A client for the provider `settings` names; `http` makes the calls to it
    /// (see [`OidcClient::http_client`]).
    pub fn new(
        db: SqlStore,
        audit: AuditLog,
        settings: OidcSettings,
        http: reqwest::Client,
    ) -> OidcClient {
        let provider = Provider::new(settings.issuer.clone(), http);
        OidcClient {
            settings,
            db,
            audit,
            provider,
        }
    }

    /// An HTTP client suited to provider calls: bounded waits, so a slow
    /// provider costs a sign-in a few seconds rather than a stuck request, and
    /// no redirects, so credentials sent to the token endpoint go nowhere else.
    pub fn http_client() -> Result<reqwest::Client, ServerError> {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ServerError::Startup(format!("cannot build the OIDC HTTP client: {e}")))
    }

    /// The routes [`START_PATH`] and [`CALLBACK_PATH`]; `sessions` starts the
    /// session of whoever signs in.
    pub fn routes(self: Arc<Self>, sessions: Arc<dyn SessionStarter>) -> Router {
        routes::router(self, sessions)
    }

    /// A fresh authorization request: remembers its state, nonce and PKCE
    /// verifier, and returns the URL to send the user to.
    pub async fn authorize_url(&self) -> Result<String, OpError> {
        let meta = self.provider.metadata().await?;
        let request = pending::PendingRequest::generate();
        pending::insert(&self.db, &request).await?;
        let mut url = reqwest::Url::parse(&meta.authorization_endpoint).map_err(|_| {
            OpError::Unavailable("the provider's authorization URL is invalid".into())
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.settings.redirect_uri)
            .append_pair("scope", "openid email profile")
            .append_pair("state", &request.state)
            .append_pair("nonce", &request.nonce)
            .append_pair("code_challenge", &pending::challenge(&request.verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// Completes a callback: the user the provider vouched for, linked to an
    /// account (created if need be) and checked to be active.
    async fn complete(&self, q: CallbackQuery) -> Result<Linked, Refusal> {
        let state = q
            .state
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Refusal::new("state", OpError::invalid("state", "missing")))?;
        // Deleted before anything else, so a state is good for one attempt
        // whatever its outcome.
        let pending = pending::take(&self.db, &state)
            .await
            .map_err(|e| Refusal::new("store", e))?
            .ok_or_else(|| {
                Refusal::new(
                    "state",
                    OpError::invalid("state", "unknown or already used sign-in; start again"),
                )
            })?;
        if now_ms() - pending.created_at > pending::TTL_MS {
            return Err(Refusal::new(
                "state",
                OpError::invalid("state", "this sign-in has expired; start again"),
            ));
        }
        if let Some(error) = q.error {
            return Err(Refusal::new(
                "provider_error",
                OpError::Unauthorized(format!(
                    "the provider refused the sign-in ({})",
                    sanitize_code(&error)
                )),
            ));
        }
        let code = q
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Refusal::new("code", OpError::invalid("code", "missing")))?;
        let meta = self
            .provider
            .metadata()
            .await
            .map_err(|e| Refusal::new("provider", e))?;
        let creds = ClientCredentials {
            client_id: &self.settings.client_id,
            client_secret: self.settings.client_secret.as_deref(),
        };
        let raw = self
            .provider
            .exchange_code(
                &meta,
                &creds,
                &code,
                &self.settings.redirect_uri,
                &pending.verifier,
            )
            .await
            .map_err(|e| Refusal::new("token", e))?;
        let claims = id_token::validate(&self.provider, &meta, &creds, &raw, &pending.nonce)
            .await
            .map_err(|e| Refusal::new("id_token", e))?;
        accounts::link(&self.db, &meta.issuer, &claims)
            .await
            .map_err(Refusal::from_link)
    }

    async fn audit(&self, user: Option<&str>, outcome: Outcome, detail: Value, ip: Option<IpAddr>) {
        self.audit
            .record(AuditEvent {
                actor: user,
                action: "auth.login",
                target: user,
                outcome,
                detail,
                ip: ip.map(|i| i.to_string()),
            })
            .await;
    }
}

/// Why a callback was refused: the caller's error, a short reason for the
/// audit log (never personal data), and the account if one was identified.
struct Refusal {
    reason: &'static str,
    error: OpError,
    user: Option<String>,
}

impl Refusal {
    fn new(reason: &'static str, error: OpError) -> Refusal {
        Refusal {
            reason,
            error,
            user: None,
        }
    }

    fn from_link(e: LinkError) -> Refusal {
        match e {
            LinkError::NoVerifiedEmail => Refusal::new(
                "unverified_email",
                OpError::Forbidden(
                    "the provider has not verified an email address for this account, so it \
                     cannot be linked to one here"
                        .into(),
                ),
            ),
            LinkError::PasswordAccount => Refusal::new(
                "password_account",
                OpError::Conflict(
                    "an account with this email was registered with a password: sign in with \
                     the password (linking it to this provider is refused, because that email \
                     was never verified)"
                        .into(),
                ),
            ),
            LinkError::Suspended(user) => Refusal {
                reason: "suspended",
                error: OpError::Forbidden("this account is suspended".into()),
                user: Some(user),
            },
            LinkError::Deleted(user) => Refusal {
                reason: "deleted",
                error: OpError::Unauthorized("this account no longer exists".into()),
                user: Some(user),
            },
            LinkError::Store(e) => Refusal::new("store", e),
        }
    }
}

/// Keeps a provider's error code printable and short before echoing it.
fn sanitize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(64)
        .collect()
}

/// What the provider sends the browser back with.
#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}
