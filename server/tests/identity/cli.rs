//! `goonline user create`, run as the real binary: a platform admin who can
//! sign in, generated passwords, promotion, refusals, and the default SQLite
//! database in the data dir.

use std::process::Stdio;
use std::time::Duration;

use goonline_engine::testing::each_backend;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::common::auth::{ip, temp_dir, world};
use crate::support::audit_rows;

/// Runs `goonline user create` with `base` and `args`, feeding `stdin`; returns success,
/// stdout and stderr.
async fn user_create(base: &[&str], args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_goonline"))
        .args(["user", "create"])
        .args(base)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn goonline");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.expect("write stdin");
    }
    drop(input);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the command finishes")
        .expect("output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

pub async fn cli_user_create_makes_a_platform_admin_who_can_sign_in() {
    each_backend(|db| async move {
        let dir = temp_dir("cli");
        let dir_s = dir.display().to_string();
        let base = [
            "--data-dir",
            dir_s.as_str(),
            "--database-url",
            db.url.as_str(),
        ];
        let (ok, out, err) = user_create(
            &base,
            &[
                "--email",
                "Root@Example.com",
                "--name",
                "Root",
                "--platform-admin",
                "--password-stdin",
            ],
            Some("root password 1\n"),
        )
        .await;
        assert!(ok, "[{}] user create: {err}", db.label);
        let root_id = out.lines().next().expect("the id").trim().to_string();
        assert_eq!(root_id.len(), 36, "a UUID: {out}");
        assert!(
            !out.contains("root password 1"),
            "a given password is not echoed"
        );

        let w = world(&db, |_| {}).await;
        let root = w
            .login(ip(2), "root@example.com", "root password 1")
            .await
            .expect("the admin signs in");
        assert_eq!(root.user_id, root_id);
        assert_eq!(root.body["user"]["platform_admin"], true);
        assert_eq!(root.body["user"]["display_name"], "Root");
        assert!(
            w.identity
                .authenticate(&root.access)
                .await
                .expect("token")
                .user
                .platform_admin
        );
        w.with_token(&root.access, "audit.list", json!({}))
            .await
            .expect("admins read the audit log");

        let (ok, _, err) = user_create(&base, &["--email", "root@example.com"], None).await;
        assert!(!ok, "an existing email without --platform-admin is refused");
        assert!(err.contains("already exists"), "{err}");

        // A generated password, printed once; then promoted.
        let (ok, out, err) = user_create(&base, &["--email", "gen@example.com"], None).await;
        assert!(ok, "{err}");
        let mut lines = out.lines();
        let gen_id = lines.next().expect("id").trim().to_string();
        let password = lines
            .next()
            .and_then(|l| l.strip_prefix("password: "))
            .expect("the generated password")
            .to_string();
        let generated = w
            .login(ip(3), "gen@example.com", &password)
            .await
            .expect("the generated password works");
        assert_eq!(generated.body["user"]["platform_admin"], false);
        assert_eq!(generated.body["user"]["display_name"], "gen");
        let (ok, out, err) = user_create(
            &base,
            &["--email", "gen@example.com", "--platform-admin"],
            None,
        )
        .await;
        assert!(ok, "{err}");
        assert_eq!(out.lines().next().map(str::trim), Some(gen_id.as_str()));
        assert!(
            w.identity
                .authenticate(&generated.access)
                .await
                .expect("still valid")
                .user
                .platform_admin,
            "promoted"
        );

        let (ok, _, _) = user_create(
            &base,
            &["--email", "weak@example.com", "--password-stdin"],
            Some("short\n"),
        )
        .await;
        assert!(!ok, "a short password is refused");
        let (ok, _, _) = user_create(&base, &["--email", "not-an-email"], None).await;
        assert!(!ok, "a bad email is refused");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(w.db.pool())
            .await
            .expect("count");
        assert_eq!(n, 2, "nothing else was created");
        let created = audit_rows(&w, "user.created").await;
        assert_eq!(created.len(), 2);
        assert_eq!(audit_rows(&w, "user.promoted").await.len(), 1);
        let _ = std::fs::remove_dir_all(dir);
    })
    .await;
}

pub async fn cli_user_create_defaults_to_sqlite_in_the_data_dir() {
    let dir = temp_dir("cli-default");
    let dir_s = dir.display().to_string();
    let (ok, out, err) = user_create(
        &["--data-dir", &dir_s],
        &["--email", "solo@example.com", "--password-stdin"],
        Some("solo password\n"),
    )
    .await;
    assert!(ok, "{err}");
    let id = out.lines().next().expect("id").trim().to_string();
    let db = goonline_engine::sql_store::SqlStore::connect(&format!(
        "sqlite://{}?mode=rw",
        dir.join("goonline.db").display()
    ))
    .await
    .expect("the database is in the data dir");
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(&id)
        .fetch_one(db.pool())
        .await
        .expect("user");
    assert_eq!(email.as_deref(), Some("solo@example.com"));
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
