//! Accounts and a business for tests of signed-in sockets: registration and
//! sign-in over the native socket (an anonymous connection may call public
//! operations), a shop with an owner, an editor and a viewer, and tokens that
//! must be refused.

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use goonline_engine::testing::TestDb;
use serde_json::{Value, json};

use super::{Peer, TestServer};

/// A signed-in account.
pub struct Account {
    pub id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

/// Registers an account over the native socket (an anonymous connection may call
/// public operations).
pub async fn register(addr: SocketAddr, name: &str) -> Account {
    let mut p = Peer::native_at(addr).await;
    let email = format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple());
    let r = p
        .call(
            "auth.register",
            json!({ "email": email, "password": "correct horse battery", "display_name": name }),
            None,
        )
        .await
        .expect("register");
    Account {
        id: r["user"]["id"].as_str().expect("user id").to_string(),
        email,
        access: r["access_token"]
            .as_str()
            .expect("access token")
            .to_string(),
        refresh: r["refresh_token"].as_str().expect("refresh").to_string(),
    }
}

/// A fresh access token for `who`.
pub async fn login(addr: SocketAddr, who: &Account) -> String {
    let mut p = Peer::native_at(addr).await;
    let r = p
        .call(
            "auth.login",
            json!({ "email": who.email, "password": "correct horse battery" }),
            None,
        )
        .await
        .expect("login");
    r["access_token"].as_str().expect("token").to_string()
}

/// A business owned by a new account, with an agent (editor) and a viewer.
pub struct Shop {
    pub owner: Account,
    pub editor: Account,
    pub viewer: Account,
    pub business: String,
}

impl Shop {
    pub async fn open(addr: SocketAddr) -> Shop {
        let owner = register(addr, "owner").await;
        let editor = register(addr, "editor").await;
        let viewer = register(addr, "viewer").await;
        let mut p = Peer::native_signed_in(addr, Some(&owner.access)).await;
        let b = p
            .call("business.create", json!({ "name": "Shop" }), None)
            .await
            .expect("create");
        let business = b["id"].as_str().expect("id").to_string();
        for (who, role) in [(&editor, "agent"), (&viewer, "viewer")] {
            p.call(
                "member.add",
                json!({ "business_id": business, "email": who.email, "role": role }),
                None,
            )
            .await
            .expect("add");
        }
        Shop {
            owner,
            editor,
            viewer,
            business,
        }
    }

    pub fn doc(&self, name: &str) -> String {
        format!("biz/{}/{name}", self.business)
    }

    pub async fn owner_call(&self, addr: SocketAddr, method: &str, params: Value) -> Value {
        let mut p = Peer::native_signed_in(addr, Some(&self.owner.access)).await;
        p.call(method, params, None).await.expect(method)
    }
}

pub async fn server(db: TestDb) -> TestServer {
    TestServer::start(db, |a| a.security.allow_anonymous_docs = false).await
}

/// Tokens that must be refused: wrong signature, `alg: none`, and a payload
/// edited to claim platform admin.
pub fn forged_tokens(real: &str) -> Vec<(&'static str, String)> {
    let parts: Vec<&str> = real.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&B64.decode(parts[1]).expect("payload b64")).expect("payload");
    payload["adm"] = json!(true);
    let edited = B64.encode(payload.to_string());
    let none = B64.encode(r#"{"alg":"none","typ":"JWT"}"#);
    vec![
        (
            "bad signature",
            format!(
                "{}.{}.{}AAAA",
                parts[0],
                parts[1],
                &parts[2][..parts[2].len() - 4]
            ),
        ),
        ("alg none", format!("{none}.{}.", parts[1])),
        (
            "edited payload",
            format!("{}.{edited}.{}", parts[0], parts[2]),
        ),
        ("garbage", "not-a-token".to_string()),
    ]
}
