//! The token signing secret: generated once into the data dir (owner-only),
//! read back on restart, usable as `--jwt-secret`, refused when too short; and
//! a real server that starts with identity and generates its own.

use goonline_engine::testing::TestDb;
use goonline_server::identity::Identity;

use crate::common;
use crate::common::auth::{Signed, security, temp_dir, world_with};

pub async fn the_signing_secret_is_generated_once_and_validated() {
    let db = TestDb::sqlite();
    let mut sec = security();
    sec.jwt_secret = None;
    let dir = temp_dir("secret").join("nested");
    let w1 = world_with(&db, &sec, dir.clone()).await;
    let file = dir.join("jwt-secret");
    let text = std::fs::read_to_string(&file).expect("generated into the data dir");
    assert!(text.trim().len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner-only");
    }
    let a: Signed = w1.register("quinn@example.com", "Quinn").await;

    let w2 = world_with(&db, &sec, dir.clone()).await;
    w2.identity
        .authenticate(&a.access)
        .await
        .expect("a restart reads the same secret back");
    assert_eq!(std::fs::read_to_string(&file).expect("file"), text);

    let elsewhere = world_with(&db, &sec, temp_dir("secret-other")).await;
    assert!(
        elsewhere.identity.authenticate(&a.access).await.is_err(),
        "another secret, another signer"
    );
    let mut configured = sec.clone();
    configured.jwt_secret = Some(text.trim().to_string());
    let w3 = world_with(&db, &configured, temp_dir("secret-configured")).await;
    w3.identity
        .authenticate(&a.access)
        .await
        .expect("the file's contents work as --jwt-secret on another node");

    let mut short = sec.clone();
    short.jwt_secret = Some("only-31-bytes-long-secret-value".into());
    assert_eq!(short.jwt_secret.as_deref().map(str::len), Some(31));
    let store = db.store().await;
    let engine = goonline_engine::testing::start_engine(
        std::sync::Arc::new(store.clone()),
        goonline_engine::EngineConfig::default(),
    );
    let refused = Identity::new(
        store.clone(),
        engine,
        goonline_engine::audit::AuditLog::new(store),
        &short,
        &temp_dir("secret-short"),
        "http://localhost".into(),
    )
    .await;
    assert!(refused.is_err(), "a short --jwt-secret is a startup error");
    for d in [
        dir.parent().map(|p| p.to_path_buf()).unwrap_or(dir),
        w1.data_dir.clone(),
    ] {
        let _ = std::fs::remove_dir_all(d);
    }
}

pub async fn a_server_starts_with_identity_and_generates_its_secret() {
    let dir = temp_dir("server-data");
    let data = dir.clone();
    let server = common::TestServer::start(TestDb::sqlite(), move |a| {
        a.data_dir = data;
    })
    .await;
    assert!(dir.join("jwt-secret").exists());
    let (status, _) = server.http_get("/healthz").await;
    assert_eq!(status, 200);
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
