//! Sign-in with an external OpenID Connect provider, end to end: a test provider
//! (common/oidc_provider.rs), our OIDC routes served on a real socket, and the
//! browser's redirects walked by hand; once through the real server, whose
//! identity service starts the session. Every test runs on SQLite and Postgres.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use common::auth::{jwt_payload, str_field};
use common::oidc_provider::{
    CLIENT_ID, CLIENT_SECRET, RawResponse, Tamper, TestProvider, TestUser, visit,
};
use common::{Peer, TestServer, http};
use goonline_engine::audit::AuditLog;
use goonline_engine::ops::{BoxFuture, OpError};
use goonline_engine::sql_store::SqlStore;
use goonline_engine::testing::{TestDb, each_backend};
use goonline_server::identity::oidc::{
    CALLBACK_PATH, OidcClient, OidcSettings, START_PATH, SessionStarter,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Records who got a session and hands out a fake token pair.
#[derive(Default)]
struct FakeSessions {
    started: Mutex<Vec<(String, Option<IpAddr>)>>,
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
    fn users(&self) -> Vec<String> {
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
struct Rig {
    provider: TestProvider,
    addr: SocketAddr,
    sessions: Arc<FakeSessions>,
    db: SqlStore,
    label: &'static str,
    server: tokio::task::JoinHandle<()>,
    _test_db: TestDb,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Rig {
    async fn start(test_db: TestDb, user: TestUser) -> Rig {
        let provider = TestProvider::start(user).await;
        let issuer = provider.issuer.clone();
        Rig::with_issuer(test_db, provider, issuer, CLIENT_SECRET).await
    }

    /// Our routes configured with `issuer` and `secret` (which may be wrong).
    async fn with_issuer(
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

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Start, then the provider's approval: the callback URL the browser is
    /// sent back to (not yet visited).
    async fn approved_callback(&self) -> String {
        approved_callback(&self.url(""), &self.provider.issuer, self.label).await
    }

    /// The whole flow: our callback's answer.
    async fn sign_in(&self) -> RawResponse {
        let callback = self.approved_callback().await;
        visit(&callback).await
    }

    /// A started sign-in's state, via the JSON mode an app would use.
    async fn started_state(&self) -> String {
        let r = visit(&self.url(&format!("{START_PATH}?mode=json"))).await;
        assert_eq!(r.status, 200, "[{}] {r:?}", self.label);
        let url = reqwest::Url::parse(r.json()["authorize_url"].as_str().expect("url"))
            .expect("authorize_url parses");
        query_param(&url, "state").expect("state")
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(self.db.pool())
            .await
            .unwrap_or_else(|e| panic!("[{}] {sql}: {e}", self.label))
    }

    async fn linked_user(&self, subject: &str) -> Option<String> {
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
    async fn insert_user(&self, id: &str, email: &str) {
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
    async fn logins(&self) -> Vec<(String, Value, Option<String>)> {
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
async fn approved_callback(base: &str, issuer: &str, label: &str) -> String {
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

fn query_param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Asserts our JSON error shape with `status` and `code`.
#[track_caller]
fn assert_error(r: &RawResponse, status: u16, code: &str, label: &str) -> Value {
    assert_eq!(r.status, status, "[{label}] {r:?}");
    let body = r.json();
    assert_eq!(body["error"]["code"], code, "[{label}] {body}");
    assert!(body["error"]["message"].is_string(), "[{label}] {body}");
    body
}

fn ann() -> TestUser {
    TestUser::verified("sub-ann", "Ann@Example.com", "Ann Lee")
}

#[tokio::test]
async fn a_new_user_is_created_and_linked() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        let r = rig.sign_in().await;
        assert_eq!(r.status, 200, "[{}] {r:?}", rig.label);
        let tokens = r.json();
        let user = rig.linked_user("sub-ann").await.expect("linked");
        assert_eq!(tokens["access_token"], format!("access-for-{user}"));
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(rig.sessions.users(), vec![user.clone()]);

        let (email, name, hash): (Option<String>, String, Option<String>) =
            sqlx::query_as("SELECT email, display_name, password_hash FROM users WHERE id = $1")
                .bind(&user)
                .fetch_one(rig.db.pool())
                .await
                .expect("user row");
        assert_eq!(email.as_deref(), Some("ann@example.com"), "lower-cased");
        assert_eq!(name, "Ann Lee");
        assert_eq!(hash, None, "external-only accounts have no password");
        assert_eq!(rig.count("SELECT COUNT(*) FROM oidc_pending").await, 0);

        let logins = rig.logins().await;
        assert_eq!(logins.len(), 1, "[{}] {logins:?}", rig.label);
        assert_eq!(logins[0].0, "ok");
        assert_eq!(logins[0].1["method"], "oidc");
        assert_eq!(logins[0].1["link"], "created");
        assert_eq!(logins[0].2.as_deref(), Some("127.0.0.1"));
        // client_secret_basic unless the provider asks otherwise.
        assert_eq!(rig.provider.client_auth_methods(), vec!["basic"]);
    })
    .await;
}

#[tokio::test]
async fn a_second_sign_in_finds_the_same_user_by_subject() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        assert_eq!(rig.sign_in().await.status, 200);
        // The address changed and is not verified now: the subject decides.
        rig.provider.set_user(TestUser {
            subject: "sub-ann".into(),
            email: Some("ann.new@example.com".into()),
            email_verified: false,
            name: None,
        });
        let r = rig.sign_in().await;
        assert_eq!(r.status, 200, "[{}] {r:?}", rig.label);
        let users = rig.sessions.users();
        assert_eq!(users.len(), 2);
        assert_eq!(users[0], users[1], "[{}] same account", rig.label);
        assert_eq!(rig.count("SELECT COUNT(*) FROM users").await, 1);
        assert_eq!(
            rig.count("SELECT COUNT(*) FROM external_identities").await,
            1
        );
        assert_eq!(rig.logins().await[1].1["link"], "subject");
    })
    .await;
}

#[tokio::test]
async fn a_verified_email_links_the_existing_password_account() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        rig.insert_user("existing-ann", "ann@example.com").await;
        let r = rig.sign_in().await;
        assert_eq!(r.status, 200, "[{}] {r:?}", rig.label);
        assert_eq!(rig.sessions.users(), vec!["existing-ann".to_string()]);
        assert_eq!(
            rig.linked_user("sub-ann").await.as_deref(),
            Some("existing-ann")
        );
        assert_eq!(
            rig.count("SELECT COUNT(*) FROM users").await,
            1,
            "not duplicated"
        );
        let hash: Option<String> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = 'existing-ann'")
                .fetch_one(rig.db.pool())
                .await
                .expect("user");
        assert!(hash.is_some(), "the password still works");
        assert_eq!(rig.logins().await[0].1["link"], "email");
    })
    .await;
}

#[tokio::test]
async fn an_unverified_email_without_a_link_is_refused() {
    each_backend(|db| async move {
        let unverified = TestUser {
            email_verified: false,
            ..ann()
        };
        let rig = Rig::start(db, unverified).await;
        // Neither to an existing account with that address...
        rig.insert_user("existing-ann", "ann@example.com").await;
        let r = rig.sign_in().await;
        assert_error(&r, 403, "forbidden", rig.label);
        // ...nor to a new one.
        rig.provider.set_user(TestUser {
            subject: "sub-bo".into(),
            email: Some("bo@example.com".into()),
            email_verified: false,
            name: None,
        });
        assert_error(&rig.sign_in().await, 403, "forbidden", rig.label);
        // No email at all is the same.
        rig.provider.set_user(TestUser {
            subject: "sub-cy".into(),
            email: None,
            email_verified: true,
            name: Some("Cy".into()),
        });
        assert_error(&rig.sign_in().await, 403, "forbidden", rig.label);

        assert!(rig.sessions.users().is_empty());
        assert_eq!(rig.count("SELECT COUNT(*) FROM users").await, 1);
        assert_eq!(
            rig.count("SELECT COUNT(*) FROM external_identities").await,
            0
        );
        let logins = rig.logins().await;
        assert_eq!(logins.len(), 3);
        for (outcome, detail, _) in logins {
            assert_eq!(outcome, "denied");
            assert_eq!(detail["reason"], "unverified_email");
        }
    })
    .await;
}

#[tokio::test]
async fn suspended_and_deleted_accounts_are_refused() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        assert_eq!(rig.sign_in().await.status, 200);
        let user = rig.linked_user("sub-ann").await.expect("linked");
        let set = |sql: &'static str| {
            let (db, user) = (rig.db.clone(), user.clone());
            async move {
                sqlx::query(sql)
                    .bind(user)
                    .execute(db.pool())
                    .await
                    .expect("update");
            }
        };
        set("UPDATE users SET suspended = 1 WHERE id = $1").await;
        assert_error(&rig.sign_in().await, 403, "forbidden", rig.label);
        set("UPDATE users SET suspended = 0, deleted = 1, email = NULL WHERE id = $1").await;
        assert_error(&rig.sign_in().await, 401, "unauthorized", rig.label);
        assert_eq!(rig.sessions.users().len(), 1, "only the first sign-in");
    })
    .await;
}

#[tokio::test]
async fn a_state_is_good_for_one_callback() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        let callback = rig.approved_callback().await;
        assert_eq!(visit(&callback).await.status, 200);
        let body = assert_error(&visit(&callback).await, 400, "invalid_argument", rig.label);
        assert_eq!(body["error"]["field"], "state");
        assert_eq!(rig.sessions.users().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn bad_callbacks_answer_json_errors() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        let callback = |query: &str| visit_owned(rig.url(&format!("{CALLBACK_PATH}{query}")));
        let label = rig.label;

        let body = assert_error(&callback("").await, 400, "invalid_argument", label);
        assert_eq!(body["error"]["field"], "state");
        let r = callback("?code=abc&state=never-issued").await;
        assert_eq!(
            assert_error(&r, 400, "invalid_argument", label)["error"]["field"],
            "state"
        );

        let state = rig.started_state().await;
        let r = callback(&format!("?state={state}")).await;
        assert_eq!(
            assert_error(&r, 400, "invalid_argument", label)["error"]["field"],
            "code"
        );
        // The state was spent by that attempt.
        let r = callback(&format!("?code=abc&state={state}")).await;
        assert_error(&r, 400, "invalid_argument", label);

        // The user said no at the provider.
        rig.provider.configure(|o| o.deny = true);
        let denied = visit(&rig.approved_callback().await).await;
        assert_error(&denied, 401, "unauthorized", label);
        rig.provider.configure(|o| o.deny = false);

        // Older than ten minutes.
        let state = rig.started_state().await;
        sqlx::query("UPDATE oidc_pending SET created_at = created_at - 660000 WHERE state = $1")
            .bind(&state)
            .execute(rig.db.pool())
            .await
            .expect("age the state");
        let r = callback(&format!("?code=abc&state={state}")).await;
        let body = assert_error(&r, 400, "invalid_argument", label);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expired"),
            "{body}"
        );

        let r = visit(&rig.url(&format!("{START_PATH}?mode=xml"))).await;
        assert_error(&r, 400, "invalid_argument", label);
        assert!(rig.sessions.users().is_empty());
    })
    .await;
}

async fn visit_owned(url: String) -> RawResponse {
    visit(&url).await
}

#[tokio::test]
async fn json_mode_hands_out_a_pkce_authorization_url() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        let r = visit(&rig.url(&format!("{START_PATH}?mode=json"))).await;
        assert_eq!(r.status, 200, "{r:?}");
        let url = reqwest::Url::parse(r.json()["authorize_url"].as_str().unwrap()).unwrap();
        assert!(
            url.as_str()
                .starts_with(&format!("{}/authorize?", rig.provider.issuer))
        );
        let p = |k| query_param(&url, k).unwrap_or_default();
        assert_eq!(p("response_type"), "code");
        assert_eq!(p("client_id"), CLIENT_ID);
        assert_eq!(p("redirect_uri"), rig.url(CALLBACK_PATH));
        assert_eq!(p("scope"), "openid email profile");
        assert_eq!(p("code_challenge_method"), "S256");
        assert_eq!(p("code_challenge").len(), 43);
        assert!(p("nonce").len() >= 43 && p("state").len() >= 43);
        let (verifier, nonce): (String, String) =
            sqlx::query_as("SELECT verifier, nonce FROM oidc_pending WHERE state = $1")
                .bind(p("state"))
                .fetch_one(rig.db.pool())
                .await
                .expect("pending row");
        assert_eq!(nonce, p("nonce"));
        assert_ne!(verifier, p("code_challenge"), "only the challenge leaves");
    })
    .await;
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_by_the_provider() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        let callback = rig.approved_callback().await;
        let state = query_param(&reqwest::Url::parse(&callback).unwrap(), "state").unwrap();
        sqlx::query("UPDATE oidc_pending SET verifier = $1 WHERE state = $2")
            .bind("x".repeat(43))
            .bind(&state)
            .execute(rig.db.pool())
            .await
            .expect("swap the verifier");
        let body = assert_error(&visit(&callback).await, 401, "unauthorized", rig.label);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("invalid_grant"),
            "{body}"
        );
        assert!(rig.sessions.users().is_empty());
        assert_eq!(rig.count("SELECT COUNT(*) FROM users").await, 0);
    })
    .await;
}

#[tokio::test]
async fn tampered_id_tokens_are_refused() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        // Each refused for its own reason, not some other.
        for (tamper, why) in [
            (Tamper::ForeignKey, "bad signature"),
            (Tamper::WrongAudience, "another client"),
            (Tamper::WrongNonce, "nonce"),
            (Tamper::WrongIssuer, "another issuer"),
            (Tamper::Expired, "expired"),
            (Tamper::Unsigned, "malformed"),
            (Tamper::HmacWrongSecret, "bad signature"),
            (Tamper::NoIdToken, "no id_token"),
        ] {
            rig.provider.set_tamper(tamper);
            let r = rig.sign_in().await;
            let body = assert_error(&r, 401, "unauthorized", rig.label);
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(why),
                "[{}] {tamper:?}: {message}",
                rig.label
            );
        }
        assert!(rig.sessions.users().is_empty());
        assert_eq!(rig.count("SELECT COUNT(*) FROM users").await, 0);
        let logins = rig.logins().await;
        assert!(logins.iter().all(|(o, _, _)| o == "denied"), "{logins:?}");
    })
    .await;
}

#[tokio::test]
async fn an_id_token_signed_with_the_client_secret_is_accepted() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        rig.provider.set_tamper(Tamper::HmacClientSecret);
        let r = rig.sign_in().await;
        assert_eq!(r.status, 200, "[{}] {r:?}", rig.label);
    })
    .await;
}

#[tokio::test]
async fn client_secret_post_when_the_provider_only_offers_that() {
    each_backend(|db| async move {
        let rig = Rig::start(db, ann()).await;
        rig.provider
            .configure(|o| o.auth_methods = vec!["client_secret_post"]);
        assert_eq!(rig.sign_in().await.status, 200);
        assert_eq!(rig.provider.client_auth_methods(), vec!["post"]);
    })
    .await;
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused() {
    each_backend(|db| async move {
        let provider = TestProvider::start(ann()).await;
        let issuer = provider.issuer.clone();
        let rig = Rig::with_issuer(db, provider, issuer, "not-the-secret").await;
        let body = assert_error(&rig.sign_in().await, 401, "unauthorized", rig.label);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("invalid_client"),
            "{body}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_or_mismatched_provider_is_unavailable() {
    each_backend(|db| async move {
        // Nobody listens on a port we bound and released.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let provider = TestProvider::start(ann()).await;
        let rig = Rig::with_issuer(db, provider, closed, CLIENT_SECRET).await;
        assert_error(
            &visit(&rig.url(START_PATH)).await,
            503,
            "unavailable",
            rig.label,
        );
        let r = visit(&rig.url(&format!("{START_PATH}?mode=json"))).await;
        assert_error(&r, 503, "unavailable", rig.label);
    })
    .await;
    each_backend(|db| async move {
        // Discovery that names another issuer is not trusted.
        let rig = Rig::start(db, ann()).await;
        rig.provider
            .configure(|o| o.advertised_issuer = Some("https://evil.example".into()));
        assert_error(
            &visit(&rig.url(START_PATH)).await,
            503,
            "unavailable",
            rig.label,
        );
        assert_eq!(rig.count("SELECT COUNT(*) FROM oidc_pending").await, 0);
    })
    .await;
}

/// A port on 127.0.0.1 that was free a moment ago: bound, read and released,
/// for a server whose public URL (and so the redirect URI it registers) must
/// be known before it starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `Authorization: Bearer <token>`.
fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn sign_in_with_the_provider_through_the_real_server() {
    each_backend(|db| async move {
        let label = db.label;
        let provider = TestProvider::start(ann()).await;
        let issuer = provider.issuer.clone();
        let port = free_port();
        let server = TestServer::start(db, move |a| {
            a.listen = SocketAddr::from(([127, 0, 0, 1], port));
            a.security.public_url = Some(format!("http://127.0.0.1:{port}"));
            a.security.oidc_issuer = Some(issuer);
            a.security.oidc_client_id = Some(CLIENT_ID.into());
            a.security.oidc_client_secret = Some(CLIENT_SECRET.into());
        })
        .await;
        let addr = server.addr;
        let sql = server.db.store().await;

        // start -> the provider's approval -> our callback, over HTTP.
        let callback = approved_callback(&format!("http://{addr}"), &provider.issuer, label).await;
        let r = visit(&callback).await;
        assert_eq!(r.status, 200, "[{label}] callback: {r:?}");
        let tokens = r.json();
        assert_eq!(tokens["token_type"], "Bearer", "[{label}] {tokens}");
        assert_eq!(tokens["expires_in"], 900, "[{label}] {tokens}");
        let access = str_field(&tokens, "access_token");
        let refresh = str_field(&tokens, "refresh_token");
        let user: String = sqlx::query_scalar(
            "SELECT user_id FROM external_identities WHERE issuer = $1 AND subject = 'sub-ann'",
        )
        .bind(&provider.issuer)
        .fetch_one(sql.pool())
        .await
        .expect("the account is linked");
        // A token of the real identity service, for a real sign-in session.
        let claims = jwt_payload(&access);
        assert_eq!(claims["sub"], user.as_str(), "[{label}] {claims}");
        let session = str_field(&claims, "sid");
        let sessions: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM auth_sessions WHERE id = $1 AND user_id = $2 \
             AND revoked_at IS NULL",
        )
        .bind(&session)
        .bind(&user)
        .fetch_one(sql.pool())
        .await
        .expect("sessions");
        assert_eq!(sessions, 1, "[{label}]");

        // The access token works over REST...
        let me = http::get(addr, "/api/me", &[("Authorization", &bearer(&access))]).await;
        assert_eq!(me.status, 200, "[{label}] {}", me.text());
        assert_eq!(me.json()["id"], user.as_str());
        assert_eq!(me.json()["email"], "ann@example.com");
        // ...and on a socket.
        let mut peer = Peer::native_signed_in(addr, Some(&access)).await;
        let me = peer.call("me.get", json!({}), None).await;
        assert_eq!(
            me.as_ref().map(|m| m["id"].clone()).ok(),
            Some(json!(user)),
            "[{label}] {me:?}"
        );

        // The refresh token rotates like a password sign-in's.
        let r = http::json(
            addr,
            "POST",
            "/api/auth/refresh",
            &[],
            &json!({ "refresh_token": refresh }),
        )
        .await;
        assert_eq!(r.status, 200, "[{label}] refresh: {}", r.text());
        let renewed = r.json();
        let access2 = str_field(&renewed, "access_token");
        assert_ne!(str_field(&renewed, "refresh_token"), refresh, "rotated");
        assert_eq!(
            jwt_payload(&access2)["sid"],
            session.as_str(),
            "same session"
        );

        // The sign-in is in the audit log, as a platform admin reads it.
        sqlx::query("UPDATE users SET platform_admin = 1 WHERE id = $1")
            .bind(&user)
            .execute(sql.pool())
            .await
            .expect("promote");
        let r = http::get(
            addr,
            "/api/audit?action=auth.login",
            &[("Authorization", &bearer(&access2))],
        )
        .await;
        assert_eq!(r.status, 200, "[{label}] audit.list: {}", r.text());
        let page = r.json();
        let entries = page["entries"].as_array().expect("entries");
        assert_eq!(entries.len(), 1, "[{label}] {page}");
        let entry = &entries[0];
        assert_eq!(entry["action"], "auth.login");
        assert_eq!(entry["actor"], user.as_str());
        assert_eq!(entry["target"], user.as_str());
        assert_eq!(entry["outcome"], "ok");
        assert_eq!(entry["detail"]["method"], "oidc", "[{label}] {entry}");
        assert_eq!(entry["detail"]["link"], "created", "[{label}] {entry}");
        assert_eq!(entry["ip"], "127.0.0.1");

        // The first refresh token again is reuse: the session ends.
        let r = http::json(
            addr,
            "POST",
            "/api/auth/refresh",
            &[],
            &json!({ "refresh_token": refresh }),
        )
        .await;
        assert_eq!(r.status, 401, "[{label}] reuse: {}", r.text());
        let me = http::get(addr, "/api/me", &[("Authorization", &bearer(&access2))]).await;
        assert_eq!(me.status, 401, "[{label}] {}", me.text());
        drop(peer);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn without_oidc_configured_its_paths_are_json_404s() {
    each_backend(|db| async move {
        let label = db.label;
        let server = TestServer::start(db, |_| {}).await;
        for path in [
            START_PATH.to_string(),
            format!("{START_PATH}?mode=json"),
            format!("{CALLBACK_PATH}?code=abc&state=xyz"),
        ] {
            let r = visit(&format!("http://{}{path}", server.addr)).await;
            assert_error(&r, 404, "not_found", &format!("{label} {path}"));
        }
        server.stop().await;
    })
    .await;
}
