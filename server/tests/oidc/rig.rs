//! The rig the in-process tests run on: the test provider, our OIDC routes on a
//! real socket in front of a fresh database, and fake sessions recording who
//! got one; plus the browser's walk through a sign-in and the error-shape
//! check.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use goonline_engine::audit::AuditLog;
use goonline_engine::ops::{BoxFuture, OpError};
use goonline_engine::sql_store::SqlStore;
use goonline_engine::testing::TestDb;
use goonline_server::identity::oidc::{
    CALLBACK_PATH, OidcClient, OidcSettings, START_PATH, SessionStarter,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::common::oidc_provider::{
    CLIENT_ID, CLIENT_SECRET, RawResponse, TestProvider, TestUser, visit,
};

/// Records who got a session and hands out a fake token pair.
#[derive(Default)]
pub struct FakeSessions {
    pub started: Mutex<Vec<(String, Option<IpAddr>)>>,
}

impl SessionStarter for FakeSessions {
    fn start_session<'a>(
        &'a self,
        user_id: &'a str,
        ip: Option<IpAddr>,
    ) -> BoxFuture<'a, Result<Value, OpError>> {
        Box::pin(async move {
            self.started.lock().unwrap().push((user_id.to_string(), ip));
            Ok(json!({
                "access_token": format!("access-for-{user_id}"),
                "refresh_token": "refresh",
                "expires_in": 900,
                "token_type": "Bearer",
            }))
        })
    }
}

impl FakeSessions {
    pub fn users(&self) -> Vec<String> {
        self.started
            .lock()
            .unwrap()
            .iter()
            .map(|(u, _)| u.clone())
            .collect()
    }
}

/// The provider, our routes in front of a fresh database, and the sessions
/// they started.
pub struct Rig {
    pub provider: TestProvider,
    pub addr: SocketAddr,
    pub sessions: Arc<FakeSessions>,
    pub db: SqlStore,
    pub label: &'static str,
    pub server: tokio::task::JoinHandle<()>,
    pub _test_db: TestDb,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Rig {
    pub async fn start(test_db: TestDb, user: TestUser) -> Rig {
        let provider = TestProvider::start(user).await;
        let issuer = provider.issuer.clone();
        Rig::with_issuer(test_db, provider, issuer, CLIENT_SECRET).await
    }

    /// Our routes configured with `issuer` and `secret` (which may be wrong).
    pub async fn with_issuer(
        test_db: TestDb,
        provider: TestProvider,
        issuer: String,
        secret: &str,
    ) -> Rig {
        let db = test_db.store().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let settings = OidcSettings {
            issuer,
            client_id: CLIENT_ID.into(),
            client_secret: Some(secret.into()),
            redirect_uri: format!("http://{addr}{CALLBACK_PATH}"),
        };
        let http = OidcClient::http_client().expect("http client");
        let client = Arc::new(OidcClient::new(
            db.clone(),
            AuditLog::new(db.clone()),
            settings,
            http,
        ));
        let sessions = Arc::new(FakeSessions::default());
        let app = client.routes(sessions.clone());
        let server = tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, service).await;
        });
        Rig {
            provider,
            addr,
            sessions,
            db,
            label: test_db.label,
            server,
            _test_db: test_db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Start, then the provider's approval: the callback URL the browser is
    /// sent back to (not yet visited).
    pub async fn approved_callback(&self) -> String {
        approved_callback(&self.url(""), &self.provider.issuer, self.label).await
    }

    /// The whole flow: our callback's answer.
    pub async fn sign_in(&self) -> RawResponse {
        let callback = self.approved_callback().await;
        visit(&callback).await
    }

    /// A started sign-in's state, via the JSON mode an app would use.
    pub async fn started_state(&self) -> String {
        let r = visit(&self.url(&format!("{START_PATH}?mode=json"))).await;
        assert_eq!(r.status, 200, "[{}] {r:?}", self.label);
        let url = reqwest::Url::parse(r.json()["authorize_url"].as_str().expect("url"))
            .expect("authorize_url parses");
        query_param(&url, "state").expect("state")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(self.db.pool())
            .await
            .unwrap_or_else(|e| panic!("[{}] {sql}: {e}", self.label))
    }

    pub async fn linked_user(&self, subject: &str) -> Option<String> {
        sqlx::query_scalar(
            "SELECT user_id FROM external_identities WHERE issuer = $1 AND subject = $2",
        )
        .bind(&self.provider.issuer)
        .bind(subject)
        .fetch_optional(self.db.pool())
        .await
        .expect("query external_identities")
    }

    /// A password account, as registration would make it.
    pub async fn insert_user(&self, id: &str, email: &str) {
        sqlx::query(
            "INSERT INTO users (id, email, display_name, password_hash, created_at, updated_at) \
             VALUES ($1, $2, 'Existing', '$argon2id$fake', 1, 1)",
        )
        .bind(id)
        .bind(email)
        .execute(self.db.pool())
        .await
        .expect("insert user");
    }

    /// The outcomes and details of the `auth.login` entries, oldest first.
    pub async fn logins(&self) -> Vec<(String, Value, Option<String>)> {
        let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT outcome, detail, ip FROM audit_log WHERE action = 'auth.login' ORDER BY id",
        )
        .fetch_all(self.db.pool())
        .await
        .expect("audit");
        rows.into_iter()
            .map(|(o, d, ip)| (o, serde_json::from_str(&d).expect("detail"), ip))
            .collect()
    }
}

/// The browser's part of a sign-in at the server `base` (`http://host:port`)
/// with the provider `issuer`: start, then the provider's approval. Returns
/// the callback URL it is sent back to (not yet visited).
pub async fn approved_callback(base: &str, issuer: &str, label: &str) -> String {
    let start = visit(&format!("{base}{START_PATH}")).await;
    assert_eq!(start.status, 302, "[{label}] start: {start:?}");
    let authorize = start.location.expect("start redirects");
    assert!(authorize.starts_with(issuer), "{authorize}");
    let approved = visit(&authorize).await;
    assert_eq!(approved.status, 302, "[{label}] authorize: {approved:?}");
    let callback = approved.location.expect("provider redirects back");
    assert!(
        callback.starts_with(&format!("{base}{CALLBACK_PATH}")),
        "{callback}"
    );
    callback
}

pub fn query_param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Asserts our JSON error shape with `status` and `code`.
#[track_caller]
pub fn assert_error(r: &RawResponse, status: u16, code: &str, label: &str) -> Value {
    assert_eq!(r.status, status, "[{label}] {r:?}");
    let body = r.json();
    assert_eq!(body["error"]["code"], code, "[{label}] {body}");
    assert!(body["error"]["message"].is_string(), "[{label}] {body}");
    body
}

pub fn ann() -> TestUser {
    TestUser::verified("sub-ann", "Ann@Example.com", "Ann Lee")
}
