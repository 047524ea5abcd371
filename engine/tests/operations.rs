//! The operation registry with the tenancy operations, on SQLite and Postgres:
//! the role matrix, bad input naming its field, idempotency keys (replay,
//! conflicting params, concurrent retries), the last-owner rule and the audit
//! trail. Callers are built directly here; the server's tests cover the same
//! operations through REST and the socket with real tokens.

mod support;

use goonline_engine::ops::{Caller, OpError, Transport};
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::{Value, json};
use support::tenancy_world::{as_user, code, user, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_matrix_decides_every_tenancy_operation() {
    each_backend(|db: TestDb| async move {
        let w = world(&db).await;
        let owner = user(&w, "owner").await;
        let admin = user(&w, "admin").await;
        let agent = user(&w, "agent").await;
        let viewer = user(&w, "viewer").await;
        let stranger = user(&w, "stranger").await;
        let target = user(&w, "target").await;
        let b = w
            .shop(
                &owner,
                &[("admin", "admin"), ("agent", "agent"), ("viewer", "viewer")],
            )
            .await;
        // (operation, params, what each of owner/admin/agent/viewer/stranger gets)
        let cases: Vec<(&str, Value, [&str; 5])> = vec![
            (
                "business.get",
                json!({ "business_id": b }),
                ["ok", "ok", "ok", "ok", "not_found"],
            ),
            (
                "member.list",
                json!({ "business_id": b }),
                ["ok", "ok", "ok", "ok", "not_found"],
            ),
            (
                "business.update",
                json!({ "business_id": b, "name": "Renamed" }),
                ["ok", "ok", "forbidden", "forbidden", "not_found"],
            ),
            (
                "member.add",
                json!({ "business_id": b, "email": "target@example.com", "role": "viewer" }),
                ["ok", "ok", "forbidden", "forbidden", "not_found"],
            ),
        ];
        let who = [&owner, &admin, &agent, &viewer, &stranger];
        for (method, params, expected) in cases {
            for (caller, want) in who.iter().zip(expected) {
                let got = w.call(caller, method, params.clone()).await;
                // member.add succeeds once; later callers see `conflict`.
                let got = if method == "member.add" && code(&got) == "ok" {
                    w.call(
                        &owner,
                        "member.remove",
                        json!({ "business_id": b, "user_id": target }),
                    )
                    .await
                    .expect("reset");
                    "ok"
                } else {
                    code(&got)
                };
                assert_eq!(got, want, "[{}] {method} by {caller}", db.label);
            }
        }
        // Admins manage everyone below owner, never owners.
        let r = w
            .call(
                &admin,
                "member.set_role",
                json!({ "business_id": b, "user_id": owner, "role": "viewer" }),
            )
            .await;
        assert_eq!(
            code(&r),
            "forbidden",
            "[{}] admin demoting the owner",
            db.label
        );
        let r = w
            .call(
                &admin,
                "member.set_role",
                json!({ "business_id": b, "user_id": agent, "role": "owner" }),
            )
            .await;
        assert_eq!(code(&r), "forbidden", "[{}] admin granting owner", db.label);
        let r = w
            .call(
                &admin,
                "member.set_role",
                json!({ "business_id": b, "user_id": viewer, "role": "agent" }),
            )
            .await;
        assert_eq!(code(&r), "ok", "[{}] admin promoting a viewer", db.label);
        // Only the owner deletes; only platform admins verify.
        let r = w
            .call(&admin, "business.delete", json!({ "business_id": b }))
            .await;
        assert_eq!(code(&r), "forbidden", "[{}]", db.label);
        let r = w
            .call(&owner, "business.verify", json!({ "business_id": b }))
            .await;
        assert_eq!(code(&r), "forbidden", "[{}] owner cannot verify", db.label);
        let r = w
            .registry
            .call(
                as_user(&stranger, true),
                "business.verify",
                json!({ "business_id": b }),
                None,
            )
            .await
            .expect("platform admin verifies");
        assert_eq!(r["verified"], json!(true), "[{}]", db.label);
        // Anonymous callers are asked to sign in.
        let r = w
            .registry
            .call(
                Caller::anonymous(None, Transport::Rest),
                "business.list",
                json!({}),
                None,
            )
            .await;
        assert_eq!(code(&r), "unauthorized", "[{}]", db.label);
        let r = w
            .call(&owner, "business.delete", json!({ "business_id": b }))
            .await;
        assert_eq!(code(&r), "ok", "[{}]", db.label);
        let r = w
            .call(&admin, "business.get", json!({ "business_id": b }))
            .await;
        assert_eq!(
            code(&r),
            "not_found",
            "[{}] a deleted business is gone",
            db.label
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_onboards_a_business_for_its_owner() {
    each_backend(|db: TestDb| async move {
        let w = world(&db).await;
        let agent = user(&w, "agent").await;
        let owner = user(&w, "owner").await;
        let b = w
            .call(
                &agent,
                "business.create",
                json!({ "name": "Kiosk", "owner_email": "OWNER@example.com" }),
            )
            .await
            .expect("agent creates");
        assert_eq!(b["role"], json!("agent"), "[{}]", db.label);
        assert_eq!(b["onboarding_agent"], json!(agent), "[{}]", db.label);
        let mine = w
            .call(&owner, "business.list", json!({}))
            .await
            .expect("list");
        assert_eq!(
            mine["businesses"][0]["role"],
            json!("owner"),
            "[{}]",
            db.label
        );
        let attributions = w
            .call(&agent, "agent.attributions", json!({}))
            .await
            .expect("attributions");
        assert_eq!(
            attributions["businesses"].as_array().map(Vec::len),
            Some(1),
            "[{}]",
            db.label
        );
        let none = w
            .call(&owner, "agent.attributions", json!({}))
            .await
            .expect("attributions");
        assert_eq!(none["businesses"], json!([]), "[{}]", db.label);
        // An owner without an account yet: no owner until one accepts an
        // invitation (engine/tests/invitations.rs); the agent is its agent.
        let b = w
            .call(
                &agent,
                "business.create",
                json!({ "name": "Kiosk 2", "owner_email": "nobody@example.com" }),
            )
            .await
            .expect("agent creates for an owner without an account");
        assert_eq!(b["role"], json!("agent"), "[{}]", db.label);
        assert_eq!(b["onboarding_agent"], json!(agent), "[{}]", db.label);
        let members = w
            .call(&agent, "member.list", json!({ "business_id": b["id"] }))
            .await
            .expect("members");
        assert_eq!(
            members["members"].as_array().map(Vec::len),
            Some(1),
            "[{}] only the agent: {members}",
            db.label
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_always_keeps_an_owner() {
    each_backend(|db: TestDb| async move {
        let w = world(&db).await;
        let owner = user(&w, "owner").await;
        let second = user(&w, "second").await;
        let b = w.shop(&owner, &[]).await;
        let r = w
            .call(&owner, "member.leave", json!({ "business_id": b }))
            .await;
        assert_eq!(
            code(&r),
            "conflict",
            "[{}] the last owner cannot leave",
            db.label
        );
        let r = w
            .call(
                &owner,
                "member.set_role",
                json!({ "business_id": b, "user_id": owner, "role": "admin" }),
            )
            .await;
        assert_eq!(code(&r), "conflict", "[{}] nor step down", db.label);
        w.call(
            &owner,
            "member.add",
            json!({ "business_id": b, "email": "second@example.com", "role": "owner" }),
        )
        .await
        .expect("second owner");
        // Two owners demoting each other at once: at most one succeeds.
        let (a, c) = tokio::join!(
            w.call(
                &owner,
                "member.set_role",
                json!({ "business_id": b, "user_id": second, "role": "admin" })
            ),
            w.call(
                &second,
                "member.set_role",
                json!({ "business_id": b, "user_id": owner, "role": "admin" })
            ),
        );
        let oks = [&a, &c].iter().filter(|r| r.is_ok()).count();
        assert!(
            oks <= 1,
            "[{}] both demotions passed: {a:?} {c:?}",
            db.label
        );
        let members = w
            .call(&owner, "member.list", json!({ "business_id": b }))
            .await;
        let members = match members {
            Ok(m) => m,
            Err(_) => w
                .call(&second, "member.list", json!({ "business_id": b }))
                .await
                .expect("list"),
        };
        let owners = members["members"]
            .as_array()
            .expect("members")
            .iter()
            .filter(|m| m["role"] == json!("owner"))
            .count();
        assert!(owners >= 1, "[{}] no owner left", db.label);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_the_field() {
    each_backend(|db: TestDb| async move {
        let w = world(&db).await;
        let owner = user(&w, "owner").await;
        let b = w.shop(&owner, &[]).await;
        let long = "x".repeat(121);
        let cases = [
            ("business.create", json!({}), "name"),
            ("business.create", json!({ "name": 5 }), "name"),
            ("business.create", json!({ "name": long }), "name"),
            ("business.create", json!({ "name": "   " }), "name"),
            (
                "business.create",
                json!({ "name": "ok", "owner_email": "not-an-email" }),
                "owner_email",
            ),
            (
                "business.create",
                json!({ "name": "ok", "colour": "red" }),
                "colour",
            ),
            ("business.create", json!([1, 2]), ""),
            (
                "member.add",
                json!({ "business_id": b, "email": "a@b.co", "role": "emperor" }),
                "role",
            ),
            (
                "member.add",
                json!({ "email": "a@b.co", "role": "viewer" }),
                "business_id",
            ),
            (
                "member.set_role",
                json!({ "business_id": b, "user_id": 7, "role": "viewer" }),
                "user_id",
            ),
        ];
        for (method, params, field) in cases {
            match w.call(&owner, method, params.clone()).await {
                Err(OpError::InvalidArgument { field: f, message }) => {
                    assert_eq!(f, field, "[{}] {method} {params}: {message}", db.label);
                    assert!(!message.is_empty());
                }
                other => panic!(
                    "[{}] {method} {params}: expected invalid_argument, got {other:?}",
                    db.label
                ),
            }
        }
        let r = w.call(&owner, "no.such.method", json!({})).await;
        assert_eq!(code(&r), "not_found", "[{}]", db.label);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_are_audited() {
    each_backend(|db: TestDb| async move {
        let w = world(&db).await;
        let owner = user(&w, "owner").await;
        let viewer = user(&w, "viewer").await;
        let b = w.shop(&owner, &[("viewer", "viewer")]).await;
        w.call(
            &owner,
            "member.set_role",
            json!({ "business_id": b, "user_id": viewer, "role": "admin" }),
        )
        .await
        .expect("promote");
        w.call(
            &owner,
            "member.remove",
            json!({ "business_id": b, "user_id": viewer }),
        )
        .await
        .expect("remove");
        w.call(
            &owner,
            "business.update",
            json!({ "business_id": b, "name": "Renamed" }),
        )
        .await
        .expect("rename");
        let entries = w.audit.list(None, 100, None).await.expect("audit");
        let actions: Vec<&str> = entries.iter().rev().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "business.created",
                "member.added",
                "member.role_changed",
                "member.removed",
                "business.renamed"
            ],
            "[{}]",
            db.label
        );
        let changed = entries
            .iter()
            .find(|e| e.action == "member.role_changed")
            .expect("entry");
        assert_eq!(changed.actor.as_deref(), Some(owner.as_str()));
        assert_eq!(changed.target.as_deref(), Some(b.as_str()));
        assert_eq!(changed.detail["from"], json!("viewer"));
        assert_eq!(changed.detail["to"], json!("admin"));
        // Append-only: the database refuses to rewrite history.
        let r = sqlx::query("UPDATE audit_log SET outcome = 'ok'")
            .execute(w.db.pool())
            .await;
        assert!(r.is_err(), "[{}] audit rows cannot be updated", db.label);
        let r = sqlx::query("DELETE FROM audit_log")
            .execute(w.db.pool())
            .await;
        assert!(r.is_err(), "[{}] audit rows cannot be deleted", db.label);
    })
    .await;
}
