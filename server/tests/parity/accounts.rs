//! Accounts and callers, and the setup calls (over REST, never compared) that
//! register them, promote them and make businesses.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::PASSWORD;
use crate::common::TestServer;
use crate::doors::{Outcome, rest};

/// A signed-in account.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub id: String,
    pub email: String,
    pub access: String,
}

impl Account {
    pub fn token(&self) -> Option<&str> {
        Some(&self.access)
    }

    /// This account as a caller.
    pub fn who(&self) -> Who {
        Who {
            name: self.name.clone(),
            token: Some(self.access.clone()),
        }
    }

    /// This account as a caller with another of its tokens.
    pub fn with(&self, token: &str) -> Who {
        Who {
            name: self.name.clone(),
            token: Some(token.to_string()),
        }
    }
}

/// Who calls: a name for messages, and the access token (none: anonymous).
#[derive(Debug, Clone)]
pub struct Who {
    pub name: String,
    pub token: Option<String>,
}

impl Who {
    pub fn anonymous() -> Who {
        Who {
            name: "anonymous".into(),
            token: None,
        }
    }
}

/// A call that must succeed (setup, not a compared case).
pub async fn rest_ok(addr: SocketAddr, token: Option<&str>, method: &str, params: Value) -> Value {
    match rest(addr, token, method, &params, None).await {
        (200, Outcome::Ok(v)) => v,
        (status, other) => panic!("{method} {params}: {status} {other:?}"),
    }
}

/// An account from an `auth.register` / `auth.login` result.
pub fn account(name: &str, r: &Value) -> Account {
    Account {
        name: name.to_string(),
        id: r["user"]["id"].as_str().expect("user id").to_string(),
        email: r["user"]["email"].as_str().expect("email").to_string(),
        access: r["access_token"].as_str().expect("token").to_string(),
    }
}

pub fn register_params(email: &str) -> Value {
    json!({ "email": email, "password": PASSWORD, "display_name": "Someone" })
}

/// Registers `name@example.com` over REST.
pub async fn register(addr: SocketAddr, name: &str) -> Account {
    let email = format!("{name}@example.com");
    let r = rest_ok(addr, None, "auth.register", register_params(&email)).await;
    account(name, &r)
}

/// Makes `user` a platform admin in the database (read at each request).
pub async fn promote(server: &TestServer, user: &str) {
    let store = server.db.store().await;
    sqlx::query("UPDATE users SET platform_admin = 1 WHERE id = $1")
        .bind(user)
        .execute(store.pool())
        .await
        .expect("promote");
}

pub async fn create_business(addr: SocketAddr, owner: &Account, name: &str) -> String {
    let b = rest_ok(
        addr,
        owner.token(),
        "business.create",
        json!({ "name": name }),
    )
    .await;
    b["id"].as_str().expect("business id").to_string()
}
