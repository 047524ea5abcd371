//! Workspaces, documents and guests on SQLite and Postgres: who may create,
//! rename, list and open what (owner, admin, agent, viewer, read guest, write
//! guest, stranger), guest invitations bound to an email and dying with the
//! inviter's right to manage the business, guests seeing one workspace and
//! nothing else of the business, live changes of a guest's
//! access, and the domain events and audit entries every change writes.

mod support;

use goonline_engine::access::{Grant, Principal};
use goonline_engine::ops::UserRef;
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::json;
use support::tenancy_world::user;
use support::workspaces_world::*;

fn principal(user: &str) -> Principal {
    Principal {
        session_id: String::new(),
        user: Some(UserRef {
            id: user.to_string(),
            platform_admin: false,
            session: "s".into(),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspaces_and_documents_follow_roles() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = ws_world(&db).await;
        let c = w.cast().await;
        let b = c.business.clone();

        // Workspaces: owners and admins create and rename them.
        let campaign = w.workspace(&c.owner, &b, "Campaign").await;
        let stock = w.workspace(&c.admin, &b, "Stock").await;
        for (who, expect) in [(&c.agent, "forbidden"), (&c.viewer, "forbidden"), (&c.stranger, "not_found")] {
            let r = w
                .call(who, "workspace.create", json!({ "business_id": b, "name": "X" }))
                .await;
            assert_eq!(code(&r), expect, "[{l}] {}", message(&r));
        }
        let rename = json!({ "business_id": b, "workspace_id": campaign, "name": "Campaign 2025" });
        assert_eq!(code(&w.call(&c.agent, "workspace.rename", rename.clone()).await), "forbidden", "[{l}]");
        let renamed = w.call(&c.admin, "workspace.rename", rename).await.expect("rename");
        assert_eq!(renamed["name"], json!("Campaign 2025"), "[{l}]");
        let list = w
            .call(&c.viewer, "workspace.list", json!({ "business_id": b }))
            .await
            .expect("viewer lists");
        let names: Vec<&str> = list["workspaces"]
            .as_array()
            .expect("workspaces")
            .iter()
            .filter_map(|x| x["name"].as_str())
            .collect();
        assert_eq!(names, ["Campaign 2025", "Stock"], "[{l}] members see every workspace");
        let r = w.call(&c.stranger, "workspace.list", json!({ "business_id": b })).await;
        assert_eq!(code(&r), "not_found", "[{l}]");

        // Documents: members who edit create them; the kind is checked.
        let doc = w
            .call(
                &c.agent,
                "doc.create",
                json!({ "business_id": b, "workspace_id": campaign, "title": "Price list", "kind": "table" }),
            )
            .await
            .unwrap_or_else(|e| panic!("[{l}] agent creates: {e:?}"));
        let name = s(&doc, "name");
        assert_eq!(name, format!("biz/{b}/ws/{campaign}/{}", s(&doc, "id")), "[{l}]");
        assert_eq!(doc["kind"], json!("table"), "[{l}]");
        assert_eq!(doc["created_by"], json!(c.agent), "[{l}]");
        let create = |who: &str, kind: &str| {
            let (w, b, campaign, who, kind) = (&w, b.clone(), campaign.clone(), who.to_string(), kind.to_string());
            async move {
                w.call(&who, "doc.create", json!({ "business_id": b, "workspace_id": campaign, "title": "X", "kind": kind }))
                    .await
            }
        };
        assert_eq!(code(&create(&c.viewer, "text").await), "forbidden", "[{l}]");
        assert_eq!(code(&create(&c.stranger, "text").await), "not_found", "[{l}]");
        let bad = create(&c.owner, "spreadsheet").await;
        assert_eq!(code(&bad), "invalid_argument", "[{l}]");
        assert_eq!(bad.err().and_then(|e| e.body().field).as_deref(), Some("kind"), "[{l}]");

        // Listing shows what people need to find their work.
        let listed = w
            .call(&c.viewer, "doc.list", json!({ "business_id": b, "workspace_id": campaign }))
            .await
            .expect("viewer lists docs");
        let docs = listed["docs"].as_array().expect("docs");
        assert_eq!(docs.len(), 1, "[{l}]");
        for key in ["title", "kind", "created_by", "created_at", "last_edited_at", "last_edited_by", "size_bytes"] {
            assert!(docs[0].get(key).is_some(), "[{l}] {key} in {}", docs[0]);
        }
        let empty = w
            .call(&c.owner, "doc.list", json!({ "business_id": b, "workspace_id": stock }))
            .await
            .expect("empty list");
        assert_eq!(empty["docs"], json!([]), "[{l}]");
        let r = w.call(&c.stranger, "doc.list", json!({ "business_id": b, "workspace_id": campaign })).await;
        assert_eq!(code(&r), "not_found", "[{l}]");
        assert_eq!(code(&w.call(&c.viewer, "doc.info", json!({ "doc": name })).await), "ok", "[{l}]");
        assert_eq!(code(&w.call(&c.stranger, "doc.info", json!({ "doc": name })).await), "not_found", "[{l}]");

        // Renaming needs edit rights.
        let r = w.call(&c.viewer, "doc.rename", json!({ "doc": name, "title": "Mine" })).await;
        assert_eq!(code(&r), "forbidden", "[{l}]");
        let r = w
            .call(&c.agent, "doc.rename", json!({ "doc": name, "title": "Prices 2025" }))
            .await
            .expect("rename");
        assert_eq!(r["title"], json!("Prices 2025"), "[{l}]");

        // Opening follows the same rule; a made-up name under a workspace is
        // nobody's document, not even the owner's.
        let grant = |who: String, doc: String| {
            let engine = w.engine.clone();
            async move { engine.grant_for(&principal(&who), &doc).await }
        };
        assert_eq!(grant(c.agent.clone(), name.clone()).await.ok(), Some(Grant::ReadWrite), "[{l}]");
        assert_eq!(grant(c.viewer.clone(), name.clone()).await.ok(), Some(Grant::ReadOnly), "[{l}]");
        assert!(grant(c.stranger.clone(), name.clone()).await.is_err(), "[{l}]");
        let made_up = format!("biz/{b}/ws/{campaign}/made-up");
        let refused = grant(c.owner.clone(), made_up).await.expect_err("made-up name");
        assert!(refused.to_string().contains("doc.create"), "[{l}] {refused}");
        let mut editor = signed_in(&w.engine, &c.agent);
        editor.open(&name).await;
        let id = editor.type_text(&name, "rice 2500");
        assert!(editor.until(WAIT, |c| c.acks.contains(&Some(id))).await, "[{l}] edit durable");

        // Every change wrote its event, about the right subject, by its actor.
        let created = w.events("workspace.created").await;
        assert_eq!(created.len(), 2, "[{l}]");
        assert_eq!(created[0].0, campaign, "[{l}]");
        assert_eq!(w.events("workspace.renamed").await.len(), 1, "[{l}]");
        let doc_created = w.events("doc.created").await;
        assert_eq!(doc_created.len(), 1, "[{l}]");
        assert_eq!(doc_created[0].0, name, "[{l}]");
        assert_eq!(doc_created[0].1.as_deref(), Some(c.agent.as_str()), "[{l}]");
        assert_eq!(doc_created[0].2["title"], json!("Price list"), "[{l}]");
        let doc_renamed = w.events("doc.renamed").await;
        assert_eq!(doc_renamed[0].2["previous_title"], json!("Price list"), "[{l}]");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_invitations_work_once_for_the_invited_email_only() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = ws_world(&db).await;
        let c = w.cast().await;
        let b = c.business.clone();
        let ws = w.workspace(&c.owner, &b, "Campaign").await;
        let accept = |who: &str, token: &str| {
            let (w, who, token) = (&w, who.to_string(), token.to_string());
            async move { w.call(&who, "guest.accept", json!({ "token": token })).await }
        };

        // Only owners and admins invite; members need no guest access.
        let invite = |who: &str, email: &str| {
            let (w, who, b, ws) = (&w, who.to_string(), b.clone(), ws.clone());
            let email = email.to_string();
            async move {
                w.call(&who, "guest.invite", json!({ "business_id": b, "workspace_id": ws, "email": email, "access": "write" }))
                    .await
            }
        };
        assert_eq!(code(&invite(&c.agent, "partner@example.com").await), "forbidden", "[{l}]");
        assert_eq!(code(&invite(&c.owner, "viewer@example.com").await), "conflict", "[{l}]");
        let r = w
            .call(&c.owner, "guest.invite", json!({ "business_id": b, "workspace_id": ws, "email": "partner@example.com", "access": "write", "expires_in_hours": 721 }))
            .await;
        assert_eq!(code(&r), "invalid_argument", "[{l}] more than 30 days");

        // Bound to the email: another account's acceptance is refused and the
        // token still works for the invited one, once.
        let inv = invite(&c.owner, "Partner@Example.com").await.expect("invite");
        assert_eq!(inv["email"], json!("partner@example.com"), "[{l}]");
        let token = s(&inv, "token");
        assert_eq!(code(&accept(&c.stranger, &token).await), "forbidden", "[{l}]");
        let joined = accept(&c.guest_w, &token).await.expect("partner accepts");
        assert_eq!(joined["id"], json!(ws), "[{l}]");
        assert_eq!(joined["guest_access"], json!("write"), "[{l}]");
        assert_eq!(code(&accept(&c.guest_w, &token).await), "not_found", "[{l}] used");
        assert_eq!(code(&accept(&c.guest_w, "no-such-token").await), "not_found", "[{l}]");
        assert_eq!(code(&invite(&c.owner, "partner@example.com").await), "conflict", "[{l}] already a guest");

        // Revoked and expired invitations are unknown too.
        let t = w.invite(&c.admin, &b, &ws, "reader", "read").await;
        let pending = w
            .call(&c.admin, "guest.list", json!({ "business_id": b, "workspace_id": ws }))
            .await
            .expect("guest.list");
        assert_eq!(pending["guests"].as_array().map(Vec::len), Some(1), "[{l}]");
        assert_eq!(pending["guests"][0]["access"], json!("write"), "[{l}]");
        let invitations = pending["invitations"].as_array().expect("invitations");
        assert_eq!(invitations.len(), 1, "[{l}]");
        let id = s(&invitations[0], "invitation_id");
        let r = w
            .call(&c.agent, "guest.invitation.revoke", json!({ "business_id": b, "invitation_id": id }))
            .await;
        assert_eq!(code(&r), "forbidden", "[{l}]");
        w.call(&c.admin, "guest.invitation.revoke", json!({ "business_id": b, "invitation_id": id }))
            .await
            .expect("revoke");
        assert_eq!(code(&accept(&c.guest_r, &t).await), "not_found", "[{l}] revoked");
        let t = w.invite(&c.admin, &b, &ws, "reader", "read").await;
        w.advance(std::time::Duration::from_secs(7 * 24 * 3600 + 60));
        assert_eq!(code(&accept(&c.guest_r, &t).await), "not_found", "[{l}] expired");

        // A member accepting is told they need no guest access.
        let newbie = user(&w, "newbie").await;
        let t = w.invite(&c.owner, &b, &ws, "newbie", "read").await;
        w.call(&c.owner, "member.add", json!({ "business_id": b, "email": "newbie@example.com", "role": "viewer" }))
            .await
            .expect("member.add");
        let r = accept(&newbie, &t).await;
        assert_eq!(code(&r), "conflict", "[{l}]");
        assert!(message(&r).contains("member"), "[{l}] {}", message(&r));

        // Guest changes are audited and write their events.
        assert_eq!(w.audited("workspace.guest_added").await, 1, "[{l}]");
        assert_eq!(w.audited("workspace.guest_invitation_revoked").await, 1, "[{l}]");
        let added = w.events("workspace.guest_added").await;
        assert_eq!(added.len(), 1, "[{l}]");
        assert_eq!(added[0].2["user_id"], json!(c.guest_w), "[{l}]");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_see_their_workspace_only_and_lose_it_live() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = ws_world(&db).await;
        let c = w.cast().await;
        let b = c.business.clone();
        let campaign = w.workspace(&c.owner, &b, "Campaign").await;
        let stock = w.workspace(&c.owner, &b, "Stock").await;
        let plan = s(&w.doc(&c.agent, &b, &campaign, "Plan").await, "name");
        let count = s(&w.doc(&c.agent, &b, &stock, "Count").await, "name");
        w.add_guest(&c.owner, &b, &campaign, "partner", &c.guest_w, "write").await;
        w.add_guest(&c.owner, &b, &campaign, "reader", &c.guest_r, "read").await;

        // They see their workspace, not the others.
        let list = w
            .call(&c.guest_w, "workspace.list", json!({ "business_id": b }))
            .await
            .expect("guest lists");
        let spaces = list["workspaces"].as_array().expect("workspaces");
        assert_eq!(spaces.len(), 1, "[{l}] {list}");
        assert_eq!(spaces[0]["id"], json!(campaign), "[{l}]");
        assert_eq!(spaces[0]["guest_access"], json!("write"), "[{l}]");
        let r = w.call(&c.guest_w, "doc.list", json!({ "business_id": b, "workspace_id": stock })).await;
        assert_eq!(code(&r), "not_found", "[{l}]");
        assert_eq!(code(&w.call(&c.guest_w, "doc.info", json!({ "doc": count })).await), "not_found", "[{l}]");
        for (method, params) in [
            ("business.get", json!({ "business_id": b })),
            ("member.list", json!({ "business_id": b })),
            ("guest.list", json!({ "business_id": b, "workspace_id": campaign })),
            ("doc.trash", json!({ "business_id": b })),
            ("business.storage", json!({ "business_id": b })),
            ("comment.list", json!({ "doc": count })),
        ] {
            let r = w.call(&c.guest_w, method, params).await;
            assert_eq!(code(&r), "not_found", "[{l}] {method}: {}", message(&r));
        }

        // Write guests edit and create documents there; read guests read.
        let mut partner = signed_in(&w.engine, &c.guest_w);
        partner.open(&plan).await;
        assert_eq!(partner.session.grant(&plan), Some(Grant::ReadWrite), "[{l}]");
        let id = partner.type_text(&plan, "launch in May");
        assert!(partner.until(WAIT, |c| c.acks.contains(&Some(id))).await, "[{l}]");
        let mut reader = signed_in(&w.engine, &c.guest_r);
        reader.open(&plan).await;
        assert!(reader.until(WAIT, |c| c.text() == "launch in May").await, "[{l}] reader reads");
        assert_eq!(reader.session.grant(&plan), Some(Grant::ReadOnly), "[{l}]");
        let new_doc = w.doc(&c.guest_w, &b, &campaign, "Brief").await;
        assert_eq!(new_doc["created_by"], json!(c.guest_w), "[{l}]");
        let r = w
            .call(&c.guest_r, "doc.create", json!({ "business_id": b, "workspace_id": campaign, "title": "X", "kind": "text" }))
            .await;
        assert_eq!(code(&r), "forbidden", "[{l}]");
        assert_eq!(code(&w.call(&c.guest_w, "doc.rename", json!({ "doc": plan, "title": "Plan B" })).await), "ok", "[{l}]");
        for (method, params) in [
            ("doc.archive", json!({ "doc": plan })),
            ("doc.move", json!({ "doc": plan, "workspace_id": stock })),
            ("doc.delete", json!({ "doc": plan })),
        ] {
            assert_eq!(code(&w.call(&c.guest_w, method, params).await), "forbidden", "[{l}] {method}");
        }
        // Nothing else of the business opens.
        let mut other = signed_in(&w.engine, &c.guest_w);
        for doc in [count.clone(), format!("biz/{b}/inventory")] {
            assert!(other.session.open(&doc).await.is_err(), "[{l}] {doc} refused");
        }

        // Changing and removing access is live for open documents.
        let r = w
            .call(&c.agent, "guest.set_access", json!({ "business_id": b, "workspace_id": campaign, "user_id": c.guest_w, "access": "read" }))
            .await;
        assert_eq!(code(&r), "forbidden", "[{l}]");
        let g = w
            .call(&c.admin, "guest.set_access", json!({ "business_id": b, "workspace_id": campaign, "user_id": c.guest_w, "access": "read" }))
            .await
            .expect("set_access");
        assert_eq!(g["access"], json!("read"), "[{l}]");
        let changes = recheck(&mut partner).await;
        assert_eq!(changes.len(), 1, "[{l}] {changes:?}");
        assert_eq!(changes[0].1.as_deref(), Some("ReadOnly"), "[{l}]");
        w.call(&c.owner, "guest.remove", json!({ "business_id": b, "workspace_id": campaign, "user_id": c.guest_r }))
            .await
            .expect("remove");
        let changes = recheck(&mut reader).await;
        assert_eq!(changes.len(), 1, "[{l}] {changes:?}");
        assert_eq!(changes[0].0, plan, "[{l}]");
        assert_eq!(changes[0].1, None, "[{l}] closed");
        assert!(!reader.session.is_open(&plan), "[{l}]");
        let r = w.call(&c.guest_r, "workspace.list", json!({ "business_id": b })).await;
        assert_eq!(code(&r), "not_found", "[{l}]");
        let r = w
            .call(&c.owner, "guest.remove", json!({ "business_id": b, "workspace_id": campaign, "user_id": c.guest_r }))
            .await;
        assert_eq!(code(&r), "not_found", "[{l}] not a guest any more");

        let removed = w.events("workspace.guest_removed").await;
        assert_eq!(removed.len(), 1, "[{l}]");
        assert_eq!(removed[0].0, campaign, "[{l}]");
        assert_eq!(w.events("workspace.guest_access_changed").await.len(), 1, "[{l}]");
        assert_eq!(w.audited("workspace.guest_removed").await, 1, "[{l}]");
        assert_eq!(w.audited("workspace.guest_access_changed").await, 1, "[{l}]");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_invitations_die_with_the_inviters_right_to_manage() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = ws_world(&db).await;
        let c = w.cast().await;
        let b = c.business.clone();
        let ws = w.workspace(&c.owner, &b, "Campaign").await;
        let by_admin = w.invite(&c.admin, &b, &ws, "reader", "read").await;
        let by_owner = w.invite(&c.owner, &b, &ws, "partner", "write").await;

        // The admin is demoted: their pending invitation stops working, for
        // the invited account and anyone else alike.
        w.call(
            &c.owner,
            "member.set_role",
            json!({ "business_id": b, "user_id": c.admin, "role": "agent" }),
        )
        .await
        .expect("demote");
        for who in [&c.guest_r, &c.stranger] {
            let r = w
                .call(who, "guest.accept", json!({ "token": by_admin }))
                .await;
            assert_eq!(code(&r), "not_found", "[{l}] {}", message(&r));
        }
        let r = w
            .call(&c.guest_r, "workspace.list", json!({ "business_id": b }))
            .await;
        assert_eq!(code(&r), "not_found", "[{l}] not a guest");

        // The owner's invitation still works; once the owner is no longer
        // one, theirs would not either.
        let joined = w
            .call(&c.guest_w, "guest.accept", json!({ "token": by_owner }))
            .await
            .expect("owner's invitation");
        assert_eq!(joined["guest_access"], json!("write"), "[{l}]");
        let later = w.invite(&c.owner, &b, &ws, "newbie", "read").await;
        let newbie = user(&w, "newbie").await;
        w.call(
            &c.owner,
            "member.set_role",
            json!({ "business_id": b, "user_id": c.admin, "role": "owner" }),
        )
        .await
        .expect("promote");
        w.call(
            &c.admin,
            "member.set_role",
            json!({ "business_id": b, "user_id": c.owner, "role": "viewer" }),
        )
        .await
        .expect("demote the first owner");
        let r = w
            .call(&newbie, "guest.accept", json!({ "token": later }))
            .await;
        assert_eq!(code(&r), "not_found", "[{l}] {}", message(&r));
        assert_eq!(w.events("workspace.guest_added").await.len(), 1, "[{l}]");
    })
    .await;
}
