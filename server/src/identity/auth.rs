//! The `auth.*` operations: register, login, refresh, logout, change password.
//!
//! Every path that checks a password is rate limited per account and per IP
//! before any work is done, and audited whichever way it ends. A failed sign-in
//! says the same thing, after the same amount of hashing, whether or not the
//! email has an account.

use goonline_engine::audit::{AuditLog, Outcome, email_pseudonym};
use goonline_engine::ops::{Ctx, OpError};
use serde_json::json;

use super::accounts::{self, NewAccount};
use super::attempts::{email_key, user_key};
use super::ops::{ChangePassword, Done, Login, Refresh, Register, SignedIn};
use super::sessions::{self, Rotation, reason};
use super::tokens::TokenPair;
use super::{Identity, db_err, event};
use goonline_engine::sql_store::begin_write;

/// The one answer to wrong credentials, known email or not.
pub const WRONG_CREDENTIALS: &str = "wrong email or password";

impl Identity {
    /// `auth.register`: a new account, signed in.
    pub(super) async fn register(&self, ctx: &Ctx, p: Register) -> Result<SignedIn, OpError> {
        let ip = ctx.caller.ip;
        let email = p.email.as_str();
        self.inner.attempts.take(&email_key(email), ip).await?;
        let hash = self.inner.passwords.hash(&p.password).await?;
        let err = db_err("auth.register");
        let mut tx = begin_write(self.inner.db.pool()).await.map_err(&err)?;
        let new = NewAccount {
            email,
            display_name: p.display_name.as_str(),
            password_hash: Some(&hash),
            platform_admin: false,
        };
        let account = match accounts::insert(&mut *tx, &new).await {
            Ok(a) => a,
            Err(e) if accounts::is_unique_violation(&e) => {
                // Ended before anything else runs: the audit entry below needs
                // the write lock SQLite's transaction holds.
                let _ = tx.rollback().await;
                let target = email_pseudonym(email);
                self.inner
                    .audit
                    .record(event(
                        None,
                        "auth.register",
                        Some(&target),
                        Outcome::Denied,
                        json!({ "reason": "email_taken" }),
                        ip,
                    ))
                    .await;
                return Err(OpError::Conflict(
                    "an account with this email already exists; sign in instead".into(),
                ));
            }
            Err(e) => return Err(err(e)),
        };
        self.signed_in(tx, account, "auth.register", ip).await
    }

    /// `auth.login`: email and password for a token pair.
    pub(super) async fn login(&self, ctx: &Ctx, p: Login) -> Result<SignedIn, OpError> {
        let ip = ctx.caller.ip;
        let email = p.email.as_str();
        let key = email_key(email);
        self.inner.attempts.take(&key, ip).await?;
        let err = db_err("auth.login");
        let (account, hash) = match accounts::with_hash_by_email(self.inner.db.pool(), email)
            .await
            .map_err(&err)?
        {
            Some((a, h)) => (Some(a), h),
            None => (None, None),
        };
        // Always verify, against the dummy hash when there is nothing to check.
        let matched = self.inner.passwords.verify(&p.password, hash).await;
        let account = match account {
            Some(a) if matched && a.active() => a,
            other => {
                let (target, reason) = match &other {
                    Some(a) if matched => (a.id.clone(), "suspended"),
                    Some(a) => (a.id.clone(), "wrong_password"),
                    None => (email_pseudonym(email), "unknown_email"),
                };
                self.inner
                    .audit
                    .record(event(
                        None,
                        "auth.login",
                        Some(&target),
                        Outcome::Denied,
                        json!({ "reason": reason }),
                        ip,
                    ))
                    .await;
                return Err(if reason == "suspended" {
                    // Only someone who knows the password learns this.
                    OpError::Forbidden("this account is suspended".into())
                } else {
                    OpError::Unauthorized(WRONG_CREDENTIALS.into())
                });
            }
        };
        self.inner.attempts.succeeded(&key).await;
        let tx = begin_write(self.inner.db.pool()).await.map_err(&err)?;
        self.signed_in(tx, account, "auth.login", ip).await
    }

    /// Ends a successful sign-in (`action`: register or login): starts its
    /// session and records it in `tx`, commits, and issues the first pair.
    async fn signed_in(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        account: accounts::Account,
        action: &'static str,
        ip: Option<std::net::IpAddr>,
    ) -> Result<SignedIn, OpError> {
        let err = db_err(action);
        let started = sessions::start(&mut tx, &account.id, self.inner.refresh_ttl_ms)
            .await
            .map_err(&err)?;
        let entry = event(
            Some(&account.id),
            action,
            Some(&account.id),
            Outcome::Ok,
            json!({ "session": started.session }),
            ip,
        );
        AuditLog::append_in(&mut tx, &entry).await.map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        let tokens = self.pair(
            &account.id,
            &started.session,
            account.platform_admin,
            started.refresh_token,
        )?;
        Ok(SignedIn {
            user: account.view(),
            tokens,
        })
    }

    /// `auth.refresh`: a refresh token for the next pair of its family.
    pub(super) async fn refresh(&self, ctx: &Ctx, p: Refresh) -> Result<TokenPair, OpError> {
        let rotation = sessions::rotate(
            self.inner.db.pool(),
            p.refresh_token.as_str(),
            self.inner.refresh_ttl_ms,
        )
        .await
        .map_err(db_err("auth.refresh"))?;
        match rotation {
            Rotation::Rotated {
                user,
                session,
                platform_admin,
                refresh_token,
            } => self.pair(&user, &session, platform_admin, refresh_token),
            Rotation::Reused {
                user,
                session,
                revoked_now,
            } => {
                // Whoever presented it may not be the user: no actor.
                self.inner
                    .audit
                    .record(event(
                        None,
                        "auth.refresh_reuse",
                        Some(&session),
                        Outcome::Denied,
                        json!({ "user": user, "revoked_now": revoked_now }),
                        ctx.caller.ip,
                    ))
                    .await;
                tracing::warn!(%user, %session, "refresh token reuse: sign-in session revoked");
                self.close_sockets(&user, Some(&session), "signed out: refresh token reused");
                Err(OpError::Unauthorized(
                    "this refresh token was already used, so its sign-in session has been \
                     revoked; sign in again"
                        .into(),
                ))
            }
            Rotation::Refused => Err(OpError::Unauthorized(
                "the refresh token is not valid or has expired; sign in again".into(),
            )),
        }
    }

    /// `auth.logout`: ends the caller's sign-in session.
    pub(super) async fn logout(&self, ctx: &Ctx) -> Result<Done, OpError> {
        let me = ctx.user()?;
        let err = db_err("auth.logout");
        let mut tx = begin_write(self.inner.db.pool()).await.map_err(&err)?;
        let revoked = sessions::revoke(&mut tx, &me.session, reason::SIGNED_OUT)
            .await
            .map_err(&err)?;
        if revoked {
            let entry = event(
                Some(&me.id),
                "auth.logout",
                Some(&me.session),
                Outcome::Ok,
                json!({}),
                ctx.caller.ip,
            );
            AuditLog::append_in(&mut tx, &entry).await.map_err(&err)?;
        }
        tx.commit().await.map_err(&err)?;
        self.close_sockets(&me.id, Some(&me.session), "signed out");
        Ok(Done { ok: true })
    }

    /// `auth.change_password`: checks the current password, sets the new one,
    /// ends every sign-in session (closing their sockets) and starts a fresh one
    /// for the caller.
    pub(super) async fn change_password(
        &self,
        ctx: &Ctx,
        p: ChangePassword,
    ) -> Result<TokenPair, OpError> {
        let me = ctx.user()?;
        let ip = ctx.caller.ip;
        let key = user_key(&me.id);
        self.inner.attempts.take(&key, ip).await?;
        let err = db_err("auth.change_password");
        let current = accounts::password_hash(self.inner.db.pool(), &me.id)
            .await
            .map_err(&err)?;
        if !self
            .inner
            .passwords
            .verify(&p.current_password, current)
            .await
        {
            self.inner
                .audit
                .record(event(
                    Some(&me.id),
                    "auth.password_changed",
                    Some(&me.id),
                    Outcome::Denied,
                    json!({ "reason": "wrong_password" }),
                    ip,
                ))
                .await;
            return Err(OpError::invalid(
                "current_password",
                "is not the account's current password",
            ));
        }
        self.inner.attempts.succeeded(&key).await;
        let hash = self.inner.passwords.hash(&p.new_password).await?;
        let mut tx = begin_write(self.inner.db.pool()).await.map_err(&err)?;
        let changed = sqlx::query(
            "UPDATE users SET password_hash = $1, updated_at = $2 \
             WHERE id = $3 AND deleted = 0 AND suspended = 0",
        )
        .bind(&hash)
        .bind(goonline_engine::now_ms())
        .bind(&me.id)
        .execute(&mut *tx)
        .await
        .map_err(&err)?
        .rows_affected();
        if changed != 1 {
            let _ = tx.rollback().await;
            return Err(OpError::Unauthorized("this account cannot sign in".into()));
        }
        let revoked = sessions::revoke_all(&mut tx, &me.id, reason::PASSWORD_CHANGED)
            .await
            .map_err(&err)?;
        let started = sessions::start(&mut tx, &me.id, self.inner.refresh_ttl_ms)
            .await
            .map_err(&err)?;
        let entry = event(
            Some(&me.id),
            "auth.password_changed",
            Some(&me.id),
            Outcome::Ok,
            json!({ "sessions_revoked": revoked, "session": started.session }),
            ip,
        );
        AuditLog::append_in(&mut tx, &entry).await.map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        self.close_sockets(&me.id, None, "signed out: password changed");
        self.pair(
            &me.id,
            &started.session,
            me.platform_admin,
            started.refresh_token,
        )
    }
}
