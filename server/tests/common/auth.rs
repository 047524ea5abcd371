//! Identity test support: the identity service and the operation registry built
//! in-process on a test database (no HTTP), callers with and without tokens,
//! and hand-made JWTs for the refusal tests.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use goonline_engine::audit::AuditLog;
use goonline_engine::ops::idempotency::IdempotencyStore;
use goonline_engine::ops::{Caller, OpError, OpsBuilder, Registry, Transport};
use goonline_engine::sql_store::SqlStore;
use goonline_engine::tenancy::Tenancy;
use goonline_engine::testing::{TestDb, start_engine};
use goonline_engine::{Engine, EngineConfig};
use goonline_server::config::{SecurityArgs, ServeArgs};
use goonline_server::identity::Identity;
use serde_json::{Value, json};

/// The signing secret the test worlds use (so tests can forge tokens with it).
pub const SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// A password every test account uses unless it says otherwise.
pub const PASSWORD: &str = "correct horse battery";

/// The identity service with the tenancy operations, on one test database.
pub struct IdWorld {
    pub registry: Arc<Registry>,
    pub identity: Identity,
    pub db: SqlStore,
    pub engine: Engine,
    pub audit: AuditLog,
    pub data_dir: PathBuf,
    pub label: &'static str,
}

impl Drop for IdWorld {
    fn drop(&mut self) {
        // The data dir only holds a generated signing secret, if anything.
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Default security settings with the known [`SECRET`].
pub fn security() -> SecurityArgs {
    let mut s = ServeArgs::defaults().security;
    s.jwt_secret = Some(SECRET.into());
    s
}

/// A fresh temporary directory path (not created).
pub fn temp_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("goonline-{tag}-{}", uuid::Uuid::new_v4().simple()))
}

/// Builds the world on `db` with `tweak`ed security settings.
pub async fn world(db: &TestDb, tweak: impl FnOnce(&mut SecurityArgs)) -> IdWorld {
    let mut sec = security();
    tweak(&mut sec);
    world_with(db, &sec, temp_dir("identity-data")).await
}

/// Builds the world on `db` with these settings and data dir.
pub async fn world_with(db: &TestDb, sec: &SecurityArgs, data_dir: PathBuf) -> IdWorld {
    let store = db.store().await;
    let engine = start_engine(Arc::new(store.clone()), EngineConfig::default());
    let audit = AuditLog::new(store.clone());
    let identity = Identity::new(
        store.clone(),
        engine.clone(),
        audit.clone(),
        sec,
        &data_dir,
        "http://localhost:8080".into(),
    )
    .await
    .unwrap_or_else(|e| panic!("[{}] identity starts: {e}", db.label));
    let tenancy = Tenancy::new(store.clone(), audit.clone(), engine.clone());
    let mut ops = OpsBuilder::new();
    identity.register_ops(&mut ops);
    tenancy.register_ops(&mut ops);
    let registry = Arc::new(ops.build(
        Arc::new(tenancy),
        IdempotencyStore::new(store.clone(), Duration::from_secs(24 * 3600)),
    ));
    IdWorld {
        registry,
        identity,
        db: store,
        engine,
        audit,
        data_dir,
        label: db.label,
    }
}

/// An IP address for anonymous callers (`n` keeps tests' limits apart).
pub fn ip(n: u8) -> IpAddr {
    IpAddr::from([10, 0, 0, n])
}

/// Tokens and user from an `auth.register` / `auth.login` answer.
#[derive(Debug, Clone)]
pub struct Signed {
    pub user_id: String,
    pub access: String,
    pub refresh: String,
    pub body: Value,
}

impl Signed {
    pub fn from(body: Value) -> Signed {
        Signed {
            user_id: body["user"]["id"].as_str().expect("user.id").to_string(),
            access: str_field(&body, "access_token"),
            refresh: str_field(&body, "refresh_token"),
            body,
        }
    }
}

/// A string field of a JSON answer.
pub fn str_field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("`{name}` in {v}"))
        .to_string()
}

impl IdWorld {
    /// Calls `method` anonymously from `ip`.
    pub async fn anon(&self, from: IpAddr, method: &str, params: Value) -> Result<Value, OpError> {
        self.registry
            .call(
                Caller::anonymous(Some(from), Transport::Rest),
                method,
                params,
                None,
            )
            .await
    }

    /// Calls `method` as the bearer of `token` (verified as a transport would).
    pub async fn with_token(
        &self,
        token: &str,
        method: &str,
        params: Value,
    ) -> Result<Value, OpError> {
        let auth = self.identity.authenticate(token).await?;
        let caller = Caller {
            user: Some(auth.user),
            ip: Some(ip(200)),
            via: Transport::Rest,
        };
        self.registry.call(caller, method, params, None).await
    }

    /// Registers `email` with [`PASSWORD`]; panics on failure.
    pub async fn register(&self, email: &str, name: &str) -> Signed {
        let body = self
            .anon(
                ip(1),
                "auth.register",
                json!({ "email": email, "password": PASSWORD, "display_name": name }),
            )
            .await
            .unwrap_or_else(|e| panic!("[{}] register {email}: {e:?}", self.label));
        Signed::from(body)
    }

    /// Signs `email` in with `password`.
    pub async fn login(
        &self,
        from: IpAddr,
        email: &str,
        password: &str,
    ) -> Result<Signed, OpError> {
        self.anon(
            from,
            "auth.login",
            json!({ "email": email, "password": password }),
        )
        .await
        .map(Signed::from)
    }

    /// Makes `user` a platform admin directly in the database.
    pub async fn make_admin(&self, user: &str) {
        sqlx::query("UPDATE users SET platform_admin = 1 WHERE id = $1")
            .bind(user)
            .execute(self.db.pool())
            .await
            .expect("promote");
    }

    /// A registered platform admin, signed in.
    pub async fn admin(&self, email: &str) -> Signed {
        let s = self.register(email, "Admin").await;
        self.make_admin(&s.user_id).await;
        s
    }
}

/// The JSON payload of a JWT (not verified).
pub fn jwt_payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON payload")
}

/// Signs `claims` with `secret` and `alg`.
pub fn sign(claims: &Value, secret: &[u8], alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

/// An unsigned token: header `{"alg":"none","typ":"JWT"}`, the claims, and an
/// empty signature.
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// The current time in epoch seconds.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}
