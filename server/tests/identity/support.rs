//! Helpers the identity tests share: an outcome's code, the invalid-argument
//! check, live engine sessions and how they are closed, refreshing, and audit
//! rows.

use std::time::Duration;

use goonline_engine::ops::{OpError, UserRef};
use goonline_engine::{Session, SessionEvents};
use serde_json::{Value, json};

use crate::common::auth::{IdWorld, ip, jwt_payload, str_field};

/// The code of an operation's outcome (`ok` for success).
pub fn code(r: &Result<Value, OpError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

/// Asserts `r` is `invalid_argument` naming `field`.
#[track_caller]
pub fn assert_invalid(r: &Result<Value, OpError>, field: &str, what: &str) {
    match r {
        Err(OpError::InvalidArgument { field: f, .. }) => {
            assert_eq!(f, field, "{what}: the error names the field")
        }
        other => panic!("{what}: expected invalid_argument on `{field}`, got {other:?}"),
    }
}

/// A live engine session (as a socket would hold) signed in as `user` in
/// sign-in session `sid`.
pub fn live(w: &IdWorld, user: &str, sid: &str) -> (Session, SessionEvents) {
    let (mut s, ev) = w.engine.connect().expect("connect");
    s.set_user(UserRef {
        id: user.to_string(),
        platform_admin: false,
        session: sid.to_string(),
    });
    (s, ev)
}

/// Waits until `ev` is killed; returns the close code.
pub async fn closed_with(ev: &SessionEvents) -> u16 {
    tokio::time::timeout(Duration::from_secs(5), ev.kill.killed())
        .await
        .expect("the live session is closed")
        .0
}

pub fn sid(token: &str) -> String {
    str_field(&jwt_payload(token), "sid")
}

pub async fn refresh(w: &IdWorld, token: &str) -> Result<Value, OpError> {
    w.anon(ip(9), "auth.refresh", json!({ "refresh_token": token }))
        .await
}

/// Audit rows `(actor, action, target, outcome, detail)` with `action`.
pub async fn audit_rows(
    w: &IdWorld,
    action: &str,
) -> Vec<(Option<String>, String, Option<String>, String, String)> {
    sqlx::query_as(
        "SELECT actor, action, target, outcome, detail FROM audit_log WHERE action = $1 ORDER BY id",
    )
    .bind(action)
    .fetch_all(w.db.pool())
    .await
    .expect("audit rows")
}
