//! Invitations on SQLite and Postgres: an agent handing a business to an owner
//! who had no account, admins inviting staff, who may invite, tokens that work
//! once, expire and can be revoked (all refused alike, as `not_found`), the
//! pending list, tokens stored only hashed, and the audit trail. Callers are
//! built directly, as in `operations.rs`.

mod support;

use goonline_engine::now_ms;
use goonline_engine::ops::OpError;
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::tenancy_world::{World, as_user, code, user, world};

impl World {
    /// `who` invites to `business` as `role`: (invitation id, token).
    async fn invite(&self, who: &str, business: &str, role: &str) -> (String, String) {
        let r = self
            .call(
                who,
                "member.invite",
                json!({ "business_id": business, "role": role }),
            )
            .await
            .unwrap_or_else(|e| panic!("invite as {role}: {e:?}"));
        (
            r["invitation_id"].as_str().expect("id").to_string(),
            r["token"].as_str().expect("token").to_string(),
        )
    }

    async fn accept(&self, who: &str, token: &str) -> Result<Value, OpError> {
        self.call(who, "invitation.accept", json!({ "token": token }))
            .await
    }

    /// `user`'s role in `business`, as `member.list` shows it to `asker`.
    async fn role_of(&self, asker: &str, business: &str, user: &str) -> Option<String> {
        let list = self
            .call(asker, "member.list", json!({ "business_id": business }))
            .await
            .expect("member.list");
        list["members"]
            .as_array()
            .expect("members")
            .iter()
            .find(|m| m["user_id"] == json!(user))
            .and_then(|m| m["role"].as_str().map(str::to_string))
    }
}

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
