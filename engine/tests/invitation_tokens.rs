//! Invitation tokens on SQLite and Postgres: they work once, expire and can be
//! revoked (all refused alike, as `not_found`), concurrent accepts admit one,
//! the pending list never shows them, only their hash is stored, and the audit
//! trail.

mod support;

use goonline_engine::now_ms;
use goonline_engine::ops::OpError;
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::tenancy_world::{code, user, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_work_once_until_they_expire_unless_revoked() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = world(&db).await;
        let owner = user(&w, "owner").await;
        let admin = user(&w, "admin").await;
        let a = user(&w, "a").await;
        let c = user(&w, "c").await;
        let b = w.shop(&owner, &[("admin", "admin")]).await;
        let mut refusals: Vec<(String, OpError)> = Vec::new();
        let mut refused = |what: &str, r: Result<Value, OpError>| match r {
            Err(e) => refusals.push((what.to_string(), e)),
            Ok(v) => panic!("[{l}] {what} accepted: {v}"),
        };

        // Single use.
        let (_, once) = w.invite(&admin, &b, "viewer").await;
        w.accept(&a, &once).await.expect("first use");
        refused("a used token, by another", w.accept(&c, &once).await);
        w.call(&a, "member.leave", json!({ "business_id": b }))
            .await
            .expect("leave");
        refused("a used token, again", w.accept(&a, &once).await);

        // Expired (aged in the database).
        let (id, old) = w.invite(&admin, &b, "viewer").await;
        sqlx::query("UPDATE invitations SET expires_at = $1 WHERE id = $2")
            .bind(now_ms() - 1)
            .bind(&id)
            .execute(w.db.pool())
            .await
            .expect("age");
        refused("an expired token", w.accept(&c, &old).await);
        let r = w
            .call(
                &admin,
                "invitation.revoke",
                json!({ "business_id": b, "invitation_id": id }),
            )
            .await;
        assert_eq!(code(&r), "not_found", "[{l}] revoking an expired one");

        // Revoked.
        let (id, gone) = w.invite(&admin, &b, "viewer").await;
        let revoke = json!({ "business_id": b, "invitation_id": id });
        w.call(&admin, "invitation.revoke", revoke.clone())
            .await
            .expect("revoke");
        refused("a revoked token", w.accept(&c, &gone).await);
        let r = w.call(&admin, "invitation.revoke", revoke).await;
        assert_eq!(code(&r), "not_found", "[{l}] revoking twice");

        // Made up, and of a deleted business.
        refused(
            "an unknown token",
            w.accept(&c, "bm90LWEtcmVhbC10b2tlbi1ub3QtYS1yZWFsLXRva2Vu")
                .await,
        );
        let doomed = w.shop(&owner, &[]).await;
        let (_, orphan) = w.invite(&owner, &doomed, "viewer").await;
        w.call(&owner, "business.delete", json!({ "business_id": doomed }))
            .await
            .expect("delete");
        refused("a deleted business's token", w.accept(&c, &orphan).await);

        // Every refusal is the same `not_found`: tokens cannot be probed.
        let first = &refusals[0].1;
        for (what, e) in &refusals {
            assert_eq!(e.code(), "not_found", "[{l}] {what}: {e:?}");
            assert_eq!(e, first, "[{l}] {what} is told apart");
        }
        assert_eq!(
            w.role_of(&owner, &b, &c).await,
            None,
            "[{l}] c never joined"
        );

        // Who may revoke: admins below owner, owners anything.
        let (id, _) = w.invite(&owner, &b, "owner").await;
        let revoke = json!({ "business_id": b, "invitation_id": id });
        let r = w.call(&admin, "invitation.revoke", revoke.clone()).await;
        assert_eq!(
            code(&r),
            "forbidden",
            "[{l}] an admin, an owner's invitation"
        );
        let r = w.call(&a, "invitation.revoke", revoke.clone()).await;
        assert_eq!(code(&r), "not_found", "[{l}] a non-member");
        w.call(&owner, "invitation.revoke", revoke)
            .await
            .expect("the owner revokes");
        // An invitation of another business is not found through this one.
        let other = w.shop(&owner, &[]).await;
        let (id, _) = w.invite(&owner, &other, "viewer").await;
        let r = w
            .call(
                &admin,
                "invitation.revoke",
                json!({ "business_id": b, "invitation_id": id }),
            )
            .await;
        assert_eq!(code(&r), "not_found", "[{l}] through another business");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_accepts_of_one_token_admit_one() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = world(&db).await;
        let owner = user(&w, "owner").await;
        let b = w.shop(&owner, &[]).await;
        let (_, token) = w.invite(&owner, &b, "admin").await;
        let mut users = Vec::new();
        for i in 0..6 {
            users.push(user(&w, &format!("u{i}")).await);
        }
        let results =
            futures_util::future::join_all(users.iter().map(|u| w.accept(u, &token))).await;
        let codes: Vec<&str> = results.iter().map(code).collect();
        assert_eq!(
            codes.iter().filter(|c| **c == "ok").count(),
            1,
            "[{l}] {codes:?}"
        );
        assert!(
            codes.iter().all(|c| *c == "ok" || *c == "not_found"),
            "[{l}] {codes:?}"
        );
        let members = w
            .call(&owner, "member.list", json!({ "business_id": b }))
            .await
            .expect("list");
        assert_eq!(
            members["members"].as_array().map(Vec::len),
            Some(2),
            "[{l}]"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_pending_invitations_and_tokens_are_stored_hashed() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = world(&db).await;
        let owner = user(&w, "owner").await;
        let viewer = user(&w, "viewer").await;
        let joiner = user(&w, "joiner").await;
        let b = w.shop(&owner, &[("viewer", "viewer")]).await;
        let (_, accepted) = w.invite(&owner, &b, "agent").await;
        w.accept(&joiner, &accepted).await.expect("accept");
        let (revoked_id, revoked) = w.invite(&owner, &b, "agent").await;
        w.call(
            &owner,
            "invitation.revoke",
            json!({ "business_id": b, "invitation_id": revoked_id }),
        )
        .await
        .expect("revoke");
        let (expired_id, expired) = w.invite(&owner, &b, "agent").await;
        sqlx::query("UPDATE invitations SET expires_at = $1 WHERE id = $2")
            .bind(now_ms() - 1000)
            .bind(&expired_id)
            .execute(w.db.pool())
            .await
            .expect("age");
        let pending = w
            .call(
                &owner,
                "member.invite",
                json!({ "business_id": b, "role": "admin", "email": "Staff@Example.com" }),
            )
            .await
            .expect("invite");
        let pending_id = pending["invitation_id"].as_str().expect("id");
        let pending_token = pending["token"].as_str().expect("token");

        let list = w
            .call(&owner, "invitation.list", json!({ "business_id": b }))
            .await
            .expect("list");
        let items = list["invitations"].as_array().expect("invitations");
        assert_eq!(items.len(), 1, "[{l}] pending only: {list}");
        let item = &items[0];
        assert_eq!(item["invitation_id"], json!(pending_id), "[{l}]");
        assert_eq!(
            item["email"],
            json!("staff@example.com"),
            "[{l}] lower-cased"
        );
        assert_eq!(item["role"], json!("admin"), "[{l}]");
        assert_eq!(item["invited_by"], json!(owner), "[{l}]");
        assert_eq!(item["expires_at"], pending["expires_at"], "[{l}]");
        assert!(item.get("token").is_none(), "[{l}] {item}");
        let text = list.to_string();
        for t in [&accepted, &revoked, &expired, &pending_token.to_string()] {
            assert!(!text.contains(t.as_str()), "[{l}] a token listed: {text}");
        }
        let r = w
            .call(&viewer, "invitation.list", json!({ "business_id": b }))
            .await;
        assert_eq!(code(&r), "forbidden", "[{l}] a viewer");

        // Stored: the SHA-256 of the token, never the token.
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, token_hash FROM invitations ORDER BY id")
                .fetch_all(w.db.pool())
                .await
                .expect("rows");
        assert_eq!(rows.len(), 4, "[{l}]");
        let stored: String = rows
            .iter()
            .find(|(id, _)| id == pending_id)
            .map(|(_, h)| h.clone())
            .expect("the pending row");
        let digest = Sha256::digest(pending_token.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(stored, hex, "[{l}]");
        let found: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM invitations WHERE token_hash = $1 OR id = $1 \
             OR email = $1 OR invited_by = $1 OR role = $1 OR business_id = $1",
        )
        .bind(pending_token)
        .fetch_one(w.db.pool())
        .await
        .expect("search");
        assert_eq!(found, 0, "[{l}] the token itself is nowhere");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_audited() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = world(&db).await;
        let owner = user(&w, "owner").await;
        let joiner = user(&w, "joiner").await;
        let b = w.shop(&owner, &[]).await;
        let (revoked, _) = w.invite(&owner, &b, "viewer").await;
        w.call(
            &owner,
            "invitation.revoke",
            json!({ "business_id": b, "invitation_id": revoked }),
        )
        .await
        .expect("revoke");
        let invited = w
            .call(
                &owner,
                "member.invite",
                json!({ "business_id": b, "role": "agent", "email": "joiner@example.com" }),
            )
            .await
            .expect("invite");
        let id = invited["invitation_id"].as_str().expect("id");
        let token = invited["token"].as_str().expect("token");
        w.accept(&joiner, token).await.expect("accept");
        let entries = w.audit.list(None, 100, None).await.expect("audit");
        let actions: Vec<&str> = entries.iter().rev().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "business.created",
                "member.invited",
                "member.invitation_revoked",
                "member.invited",
                "member.invitation_accepted"
            ],
            "[{l}]"
        );
        let find = |action: &str| {
            entries
                .iter()
                .find(|e| e.action == action)
                .unwrap_or_else(|| panic!("[{l}] no {action}"))
        };
        let e = find("member.invited");
        assert_eq!(e.actor.as_deref(), Some(owner.as_str()), "[{l}]");
        assert_eq!(e.target.as_deref(), Some(b.as_str()), "[{l}]");
        assert_eq!(e.detail["invitation"], json!(id), "[{l}]");
        assert_eq!(e.detail["role"], json!("agent"), "[{l}]");
        let e = find("member.invitation_revoked");
        assert_eq!(e.actor.as_deref(), Some(owner.as_str()), "[{l}]");
        assert_eq!(e.detail["invitation"], json!(revoked), "[{l}]");
        let e = find("member.invitation_accepted");
        assert_eq!(e.actor.as_deref(), Some(joiner.as_str()), "[{l}]");
        assert_eq!(e.target.as_deref(), Some(b.as_str()), "[{l}]");
        assert_eq!(e.detail["invitation"], json!(id), "[{l}]");
        assert_eq!(e.detail["user"], json!(joiner), "[{l}]");
        assert_eq!(e.detail["role"], json!("agent"), "[{l}]");
        assert_eq!(e.detail["invited_by"], json!(owner), "[{l}]");
        // No personal data, and never a token.
        for e in &entries {
            let d = e.detail.to_string();
            assert!(!d.contains("@example.com"), "[{l}] an email in {d}");
            assert!(!d.contains(token), "[{l}] the token in {d}");
        }
    })
    .await;
}
