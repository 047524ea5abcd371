//! Signing sockets in, keeping them signed in, and running operations on them.
//!
//! All three dialects verify tokens the same way ([`SocketAuth::sign_in`]): the
//! identity service checks the token, the connection-per-user limit is applied,
//! and the session learns its user (so role changes and sign-outs reach it).
//! Tokens expire while sockets live on: [`AuthClock`] tells the connection loop
//! when to ask the client for a fresh token (native `reauth`, Hocuspocus token
//! request) and when to give up and close with 4401.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use goonline_engine::Session;
use goonline_engine::now_ms;
use goonline_engine::ops::{Caller, OpError, Registry, Transport};
use goonline_protocol::native::CallError;

use crate::identity::{Authenticated, Identity};

/// What sockets need to sign in and run operations; one shared copy.
pub(crate) struct SocketAuth {
    pub identity: Identity,
    pub registry: Arc<Registry>,
    pub user_conns: Arc<crate::cluster::UserConnections>,
}

/// Why a token was not accepted on a socket.
#[derive(Debug)]
pub(crate) enum SignInError {
    /// Invalid, expired, revoked, or for another user than the socket's.
    Unauthorized(String),
    /// The user already holds the most connections allowed.
    TooManyConnections(usize),
}

impl SignInError {
    pub fn message(&self) -> String {
        match self {
            SignInError::Unauthorized(m) => m.clone(),
            SignInError::TooManyConnections(n) => {
                format!("this user already has {n} connections open on this server")
            }
        }
    }
}

impl SocketAuth {
    /// Verifies `token` and signs `session` in as its user. A socket keeps one
    /// user for its life: a token for someone else is refused.
    pub async fn sign_in(
        &self,
        session: &mut Session,
        token: &str,
    ) -> Result<Authenticated, SignInError> {
        let auth = self
            .identity
            .authenticate(token)
            .await
            .map_err(|e| SignInError::Unauthorized(e.to_string()))?;
        match session.user() {
            Some(current) if current.id != auth.user.id => {
                return Err(SignInError::Unauthorized(
                    "this token is for another user than the one signed in on this connection"
                        .into(),
                ));
            }
            Some(_) => {}
            None => {
                let admitted = self
                    .user_conns
                    .admit(&auth.user.id, session.connection_id())
                    .await;
                if admitted == crate::cluster::Admission::Full {
                    return Err(SignInError::TooManyConnections(self.user_conns.limit()));
                }
            }
        }
        session.set_user(auth.user.clone());
        // A sign-out that ran between the check above and the registration just
        // made could not reach this connection: check once more now that any
        // later one will.
        if let Err(e) = self.identity.current(&auth.user).await {
            session.sign_out();
            return Err(SignInError::Unauthorized(e.to_string()));
        }
        Ok(auth)
    }

    /// Runs an operation for the session's user (or anonymously).
    pub async fn call(
        &self,
        session: &Session,
        ip: Option<IpAddr>,
        method: &str,
        params: serde_json::Value,
        idempotency_key: Option<&str>,
    ) -> Result<serde_json::Value, CallError> {
        // The user as stored now, not as at sign-in (a demoted platform admin).
        let user = match session.user() {
            Some(u) => Some(self.identity.current(u).await.map_err(|e| call_error(&e))?),
            None => None,
        };
        let caller = Caller {
            user,
            ip,
            via: Transport::Socket,
        };
        self.registry
            .call(caller, method, params, idempotency_key)
            .await
            .map_err(|e| call_error(&e))
    }
}

/// An operation error as the socket carries it (the REST body's fields).
pub(crate) fn call_error(e: &OpError) -> CallError {
    let b = e.body();
    CallError {
        code: b.code,
        message: b.message,
        field: b.field,
        retry_after: b.retry_after,
    }
}

/// What the connection loop should do about the token's lifetime now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthDue {
    /// Nothing yet.
    Nothing,
    /// The token expired: ask the client for a fresh one (once).
    Ask {
        /// When it expired (epoch ms).
        expires_at: i64,
        /// The last moment a new one is accepted (epoch ms).
        deadline: i64,
    },
    /// The grace period passed without a new token: close with 4401.
    Close,
}

/// The signed-in token's lifetime on one connection.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AuthClock {
    expires_at: Option<i64>,
    asked: bool,
}

impl AuthClock {
    /// A (new) token expiring at `expires_at` (epoch ms) was accepted.
    pub fn renewed(&mut self, expires_at: i64) {
        self.expires_at = Some(expires_at);
        self.asked = false;
    }

    /// What is due at `now` (epoch ms), given the re-auth grace.
    pub fn due(&mut self, now: i64, grace: Duration) -> AuthDue {
        let Some(exp) = self.expires_at else {
            return AuthDue::Nothing;
        };
        let deadline = exp + grace.as_millis() as i64;
        if now >= deadline {
            AuthDue::Close
        } else if now >= exp && !self.asked {
            self.asked = true;
            AuthDue::Ask {
                expires_at: exp,
                deadline,
            }
        } else {
            AuthDue::Nothing
        }
    }

    /// Whether the grace after expiry has passed (checked on every frame too,
    /// so a client that never stops sending cannot outlive its token).
    pub fn past_grace(&self, now: i64, grace: Duration) -> bool {
        self.expires_at
            .is_some_and(|exp| now >= exp + grace.as_millis() as i64)
    }

    /// How long until something is due (for the loop's timer), if anything is.
    pub fn until_due(&self, grace: Duration) -> Option<Duration> {
        let exp = self.expires_at?;
        let at = if self.asked {
            exp + grace.as_millis() as i64
        } else {
            exp
        };
        Some(Duration::from_millis((at - now_ms()).max(0) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_once_at_expiry_then_closes_after_the_grace() {
        let grace = Duration::from_secs(30);
        let mut c = AuthClock::default();
        assert_eq!(
            c.due(1_000, grace),
            AuthDue::Nothing,
            "anonymous: never due"
        );
        c.renewed(10_000);
        assert_eq!(c.due(9_999, grace), AuthDue::Nothing);
        assert_eq!(
            c.due(10_000, grace),
            AuthDue::Ask {
                expires_at: 10_000,
                deadline: 40_000
            }
        );
        assert_eq!(c.due(20_000, grace), AuthDue::Nothing, "asked only once");
        assert_eq!(c.due(40_000, grace), AuthDue::Close);
        c.renewed(100_000);
        assert_eq!(
            c.due(40_000, grace),
            AuthDue::Nothing,
            "a new token resets it"
        );
    }
}
