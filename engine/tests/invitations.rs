//! Invitations on SQLite and Postgres, who is brought in how: an agent handing a
//! business to an owner who had no account, admins inviting staff, and who may
//! invite. The tokens themselves are in `invitation_tokens.rs`. Callers are
//! built directly, as in `operations.rs`.

mod support;

use goonline_engine::now_ms;
use goonline_engine::ops::OpError;
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::json;
use support::tenancy_world::{as_user, code, user, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_hands_a_new_business_to_an_owner_who_had_no_account() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = world(&db).await;
        let agent = user(&w, "agent").await;
        // The owner has no account: the business starts with its agent only.
        let b = w
            .call(
                &agent,
                "business.create",
                json!({ "name": "Kiosk", "owner_email": "New.Owner@example.com" }),
            )
            .await
            .expect("create for an owner without an account");
        assert_eq!(b["role"], json!("agent"), "[{l}]");
        assert_eq!(b["onboarding_agent"], json!(agent), "[{l}]");
        let b = b["id"].as_str().expect("id").to_string();
        let invited = w
            .call(
                &agent,
                "member.invite",
                json!({ "business_id": b, "role": "owner", "email": "New.Owner@example.com" }),
            )
            .await
            .expect("the onboarding agent invites the owner");
        assert_eq!(invited["role"], json!("owner"), "[{l}]");
        let token = invited["token"].as_str().expect("token").to_string();
        // The token is for the owner: the agent cannot use it to make itself owner.
        assert_eq!(
            code(&w.accept(&agent, &token).await),
            "not_found",
            "[{l}] the inviter accepting its own invitation"
        );
        // Until the owner joins, the agent is all the business has: it cannot leave.
        let r = w
            .call(&agent, "member.leave", json!({ "business_id": b }))
            .await;
        assert_eq!(
            code(&r),
            "conflict",
            "[{l}] the agent leaving an ownerless business"
        );
        assert_eq!(token.len(), 43, "[{l}] 32 bytes, base64url: {token}");
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "[{l}] {token}"
        );
        let week = 7 * 24 * 3600 * 1000;
        let expires = invited["expires_at"].as_i64().expect("expires_at");
        assert!(
            (expires - now_ms() - week).abs() < 60_000,
            "[{l}] valid 7 days: {expires}"
        );
        // A spare owner invitation the agent keeps for itself...
        let (_, spare) = w.invite(&agent, &b, "owner").await;

        // The owner registers later, with whatever email, and accepts.
        let owner = user(&w, "someone.else").await;
        let r = w.accept(&owner, &token).await.expect("accept");
        assert_eq!(r["id"], json!(b), "[{l}]");
        assert_eq!(r["role"], json!("owner"), "[{l}]");
        assert_eq!(r["onboarding_agent"], json!(agent), "[{l}]");
        assert_eq!(
            w.role_of(&owner, &b, &owner).await.as_deref(),
            Some("owner"),
            "[{l}]"
        );
        assert_eq!(
            w.role_of(&owner, &b, &agent).await.as_deref(),
            Some("agent"),
            "[{l}] the agent stays agent"
        );
        let mine = w
            .call(&owner, "business.list", json!({}))
            .await
            .expect("list");
        assert_eq!(mine["businesses"][0]["id"], json!(b), "[{l}]");
        assert_eq!(mine["businesses"][0]["role"], json!("owner"), "[{l}]");
        let attributions = w
            .call(&agent, "agent.attributions", json!({}))
            .await
            .expect("attributions");
        assert_eq!(attributions["businesses"][0]["id"], json!(b), "[{l}]");

        // ...is dead now the business has an owner, and no new one is allowed.
        let intruder = user(&w, "intruder").await;
        let r = w.accept(&intruder, &spare).await;
        assert_eq!(code(&r), "not_found", "[{l}] a spare owner invitation");
        let r = w
            .call(
                &agent,
                "member.invite",
                json!({ "business_id": b, "role": "owner" }),
            )
            .await;
        assert_eq!(
            code(&r),
            "forbidden",
            "[{l}] once the business has an owner"
        );
        // The owner runs the business as any other.
        let (_, t) = w.invite(&owner, &b, "admin").await;
        w.accept(&intruder, &t)
            .await
            .expect("the owner's invitation");
        assert_eq!(
            w.role_of(&owner, &b, &intruder).await.as_deref(),
            Some("admin"),
            "[{l}]"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_invites_a_viewer_who_has_no_account_yet() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = world(&db).await;
        let owner = user(&w, "owner").await;
        let admin = user(&w, "admin").await;
        let b = w.shop(&owner, &[("admin", "admin")]).await;
        // member.add still needs an account, and says what to do instead.
        let r = w
            .call(
                &admin,
                "member.add",
                json!({ "business_id": b, "email": "staff@example.com", "role": "viewer" }),
            )
            .await;
        match &r {
            Err(OpError::InvalidArgument { field, message }) => {
                assert_eq!(field, "email", "[{l}]");
                assert!(message.contains("member.invite"), "[{l}] {message}");
            }
            other => panic!("[{l}] member.add of an unknown email: {other:?}"),
        }
        let (_, token) = w.invite(&admin, &b, "viewer").await;
        let staff = user(&w, "staff").await;
        let r = w.accept(&staff, &token).await.expect("accept");
        assert_eq!(r["role"], json!("viewer"), "[{l}]");
        assert_eq!(
            w.role_of(&admin, &b, &staff).await.as_deref(),
            Some("viewer"),
            "[{l}]"
        );
        // A member accepting an invitation to a higher role is raised to it; to
        // the same or a lower role: conflict, and the invitation stays usable.
        let (_, up) = w.invite(&admin, &b, "agent").await;
        let r = w.accept(&staff, &up).await.expect("raise");
        assert_eq!(r["role"], json!("agent"), "[{l}]");
        let (_, down) = w.invite(&admin, &b, "viewer").await;
        let r = w.accept(&staff, &down).await;
        assert_eq!(code(&r), "conflict", "[{l}] a lower role");
        assert_eq!(
            w.role_of(&admin, &b, &staff).await.as_deref(),
            Some("agent"),
            "[{l}] unchanged"
        );
        let other = user(&w, "other").await;
        w.accept(&other, &down)
            .await
            .expect("a refused accept does not spend the token");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_invite() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = world(&db).await;
        let owner = user(&w, "owner").await;
        let admin = user(&w, "admin").await;
        let agent = user(&w, "agent").await;
        let viewer = user(&w, "viewer").await;
        let stranger = user(&w, "stranger").await;
        let b = w
            .shop(
                &owner,
                &[("admin", "admin"), ("agent", "agent"), ("viewer", "viewer")],
            )
            .await;
        // (role invited, what each of owner/admin/agent/viewer/stranger gets)
        let cases = [
            (
                "owner",
                ["ok", "forbidden", "forbidden", "forbidden", "not_found"],
            ),
            ("admin", ["ok", "ok", "forbidden", "forbidden", "not_found"]),
            ("agent", ["ok", "ok", "forbidden", "forbidden", "not_found"]),
            (
                "viewer",
                ["ok", "ok", "forbidden", "forbidden", "not_found"],
            ),
        ];
        let who = [&owner, &admin, &agent, &viewer, &stranger];
        for (role, expected) in cases {
            for (caller, want) in who.iter().zip(expected) {
                let r = w
                    .call(
                        caller,
                        "member.invite",
                        json!({ "business_id": b, "role": role }),
                    )
                    .await;
                assert_eq!(code(&r), want, "[{l}] invite as {role} by {caller}");
            }
        }
        // An onboarding agent: only the owner, only while there is none.
        let kiosk = w
            .call(
                &agent,
                "business.create",
                json!({ "name": "Kiosk", "owner_email": "later@example.com" }),
            )
            .await
            .expect("create");
        let kiosk = kiosk["id"].as_str().expect("id").to_string();
        for role in ["admin", "agent", "viewer"] {
            let r = w
                .call(
                    &agent,
                    "member.invite",
                    json!({ "business_id": kiosk, "role": role }),
                )
                .await;
            assert_eq!(code(&r), "forbidden", "[{l}] onboarding agent, {role}");
        }
        w.invite(&agent, &kiosk, "owner").await;
        // Another agent of an ownerless business cannot: it did not onboard it.
        let other_agent = user(&w, "other.agent").await;
        sqlx::query(
            "INSERT INTO business_members (business_id, user_id, role, created_at, updated_at) \
             VALUES ($1, $2, 'agent', $3, $3)",
        )
        .bind(&kiosk)
        .bind(&other_agent)
        .bind(now_ms())
        .execute(w.db.pool())
        .await
        .expect("a second agent");
        let r = w
            .call(
                &other_agent,
                "member.invite",
                json!({ "business_id": kiosk, "role": "owner" }),
            )
            .await;
        assert_eq!(code(&r), "forbidden", "[{l}] not the onboarding agent");
        // Once an owner accepts, the onboarding agent may invite no more owners.
        let (_, t) = w.invite(&agent, &kiosk, "owner").await;
        let new_owner = user(&w, "new.owner").await;
        w.accept(&new_owner, &t).await.expect("accept as owner");
        let r = w
            .call(
                &agent,
                "member.invite",
                json!({ "business_id": kiosk, "role": "owner", "email": "x@example.com" }),
            )
            .await;
        assert_eq!(code(&r), "forbidden", "[{l}] the business has an owner");
        // Invitations ignore idempotency keys: their result holds a secret.
        let me = as_user(&owner, false);
        let params = json!({ "business_id": b, "role": "viewer" });
        let a = w
            .registry
            .call(me.clone(), "member.invite", params.clone(), Some("k1"))
            .await
            .expect("first");
        let c = w
            .registry
            .call(me, "member.invite", params, Some("k1"))
            .await
            .expect("second");
        assert_ne!(a["token"], c["token"], "[{l}] never replayed");
        assert_ne!(a["invitation_id"], c["invitation_id"], "[{l}]");
        // Bad params name their field.
        for (params, field) in [
            (json!({ "business_id": b }), "role"),
            (json!({ "business_id": b, "role": "king" }), "role"),
            (
                json!({ "business_id": b, "role": "viewer", "email": "x" }),
                "email",
            ),
        ] {
            match w.call(&owner, "member.invite", params.clone()).await {
                Err(OpError::InvalidArgument { field: f, .. }) => {
                    assert_eq!(f, field, "[{l}] {params}")
                }
                other => panic!("[{l}] {params}: {other:?}"),
            }
        }
        let r = w.call(&owner, "invitation.accept", json!({})).await;
        assert!(
            matches!(&r, Err(OpError::InvalidArgument { field, .. }) if field == "token"),
            "[{l}] {r:?}"
        );
    })
    .await;
}
