//! Workspace documents on SQLite and Postgres: archiving a document or its
//! workspace makes it read-only for everyone, live, and hidden from default
//! lists; a document does not move into a workspace archived while the move
//! was under way; owners see what each workspace stores.

mod support;

use goonline_engine::access::Grant;
use goonline_engine::testing::{TestDb, each_backend};
use goonline_protocol::sync::SyncMessage;
use serde_json::json;
use support::workspaces_world::*;
use yrs::{Text, Transact};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archiving_a_document_or_its_workspace_makes_it_read_only_live() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = ws_world(&db).await;
        let c = w.cast().await;
        let b = c.business.clone();
        let ws = w.workspace(&c.owner, &b, "Campaign").await;
        let name = s(&w.doc(&c.agent, &b, &ws, "Plan").await, "name");
        w.add_guest(&c.owner, &b, &ws, "partner", &c.guest_w, "write")
            .await;
        let mut editor = signed_in(&w.engine, &c.agent);
        editor.open(&name).await;
        let mut partner = signed_in(&w.engine, &c.guest_w);
        partner.open(&name).await;
        type_durably(&mut editor, &name, "draft").await;

        let doc = json!({ "doc": name });
        assert_eq!(
            code(&w.call(&c.viewer, "doc.archive", doc.clone()).await),
            "forbidden",
            "[{l}]"
        );
        let archived = w
            .call(&c.agent, "doc.archive", doc.clone())
            .await
            .expect("archive");
        assert!(archived["archived_at"].is_i64(), "[{l}]");
        for c in [&mut editor, &mut partner] {
            let changes = recheck(c).await;
            assert_eq!(changes.len(), 1, "[{l}] {changes:?}");
            assert_eq!(changes[0].1.as_deref(), Some("ReadOnly"), "[{l}]");
        }
        let refused = {
            let text = editor.doc.get_or_insert_text("t");
            let mut txn = editor.doc.transact_mut();
            text.insert(&mut txn, 0, "X");
            let update = txn.encode_update_v1();
            drop(txn);
            editor
                .session
                .sync(&name, SyncMessage::Update(&update), Some(99))
        };
        assert!(refused.is_err(), "[{l}] an archived document refuses edits");
        let mut reader = signed_in(&w.engine, &c.owner);
        reader.open(&name).await;
        assert!(reader.until(WAIT, |c| c.text() == "draft").await, "[{l}]");
        assert_eq!(
            reader.session.grant(&name),
            Some(Grant::ReadOnly),
            "[{l}] read-only for the owner too"
        );
        let list = |all: bool| {
            let (w, b, ws, owner) = (&w, b.clone(), ws.clone(), c.owner.clone());
            async move {
                w.call(
                    &owner,
                    "doc.list",
                    json!({ "business_id": b, "workspace_id": ws, "include_archived": all }),
                )
                .await
                .expect("list")["docs"]
                    .as_array()
                    .map(Vec::len)
            }
        };
        assert_eq!(list(false).await, Some(0), "[{l}] hidden by default");
        assert_eq!(list(true).await, Some(1), "[{l}]");
        let r = w
            .call(&c.agent, "doc.rename", json!({ "doc": name, "title": "Y" }))
            .await;
        assert_eq!(code(&r), "conflict", "[{l}]");
        w.call(&c.agent, "doc.unarchive", doc.clone())
            .await
            .expect("unarchive");
        for c in [&mut editor, &mut partner] {
            let changes = recheck(c).await;
            assert_eq!(
                changes[0].1.as_deref(),
                Some("ReadWrite"),
                "[{l}] {changes:?}"
            );
        }

        // The workspace's archive freezes every document in it.
        let wsref = json!({ "business_id": b, "workspace_id": ws });
        assert_eq!(
            code(&w.call(&c.agent, "workspace.archive", wsref.clone()).await),
            "forbidden",
            "[{l}]"
        );
        w.call(&c.admin, "workspace.archive", wsref.clone())
            .await
            .expect("archive workspace");
        for c in [&mut editor, &mut partner] {
            let changes = recheck(c).await;
            assert_eq!(
                changes[0].1.as_deref(),
                Some("ReadOnly"),
                "[{l}] {changes:?}"
            );
        }
        let r = w
            .call(
                &c.agent,
                "doc.create",
                json!({ "business_id": b, "workspace_id": ws, "title": "Z", "kind": "board" }),
            )
            .await;
        assert_eq!(code(&r), "conflict", "[{l}]");
        let spaces = w
            .call(&c.owner, "workspace.list", json!({ "business_id": b }))
            .await
            .expect("list");
        assert_eq!(
            spaces["workspaces"],
            json!([]),
            "[{l}] archived workspaces hidden by default"
        );
        w.call(&c.admin, "workspace.unarchive", wsref)
            .await
            .expect("unarchive workspace");
        let changes = recheck(&mut partner).await;
        assert_eq!(changes[0].1.as_deref(), Some("ReadWrite"), "[{l}]");
        assert!(partner.until(WAIT, |c| c.text() == "draft").await, "[{l}]");
        type_durably(&mut partner, &name, " final").await;
        assert!(
            reader.until(WAIT, |c| c.text() == "draft final").await,
            "[{l}] {}",
            reader.text()
        );

        for kind in [
            "doc.archived",
            "doc.unarchived",
            "workspace.archived",
            "workspace.unarchived",
        ] {
            assert_eq!(w.events(kind).await.len(), 1, "[{l}] {kind}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_see_what_each_workspace_stores() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = ws_world(&db).await;
        let c = w.cast().await;
        let b = c.business.clone();
        let full = w.workspace(&c.owner, &b, "Full").await;
        let empty = w.workspace(&c.owner, &b, "Empty").await;
        let a = s(&w.doc(&c.agent, &b, &full, "A").await, "name");
        w.doc(&c.agent, &b, &full, "B").await;
        let mut editor = signed_in(&w.engine, &c.agent);
        editor.open(&a).await;
        type_durably(&mut editor, &a, &"x".repeat(2000)).await;
        let inventory = format!("biz/{b}/inventory");
        editor.open(&inventory).await;
        type_durably(&mut editor, &inventory, "rice").await;
        sqlx::query(
            "INSERT INTO doc_versions (id, doc, seq, kind, created_at, size_bytes, data) \
             VALUES ('v1', $1, 1, 'named', 0, 1000, $2)",
        )
        .bind(&a)
        .bind(vec![0u8; 4])
        .execute(w.db.pool())
        .await
        .expect("version");

        assert_eq!(
            code(
                &w.call(&c.agent, "business.storage", json!({ "business_id": b }))
                    .await
            ),
            "forbidden",
            "[{l}]"
        );
        let st = w
            .call(&c.admin, "business.storage", json!({ "business_id": b }))
            .await
            .expect("storage");
        let spaces = st["workspaces"].as_array().expect("workspaces");
        assert_eq!(spaces.len(), 2, "[{l}] {st}");
        let (f, e) = (&spaces[0], &spaces[1]);
        assert_eq!(
            (f["workspace_id"].as_str(), e["workspace_id"].as_str()),
            (Some(full.as_str()), Some(empty.as_str())),
            "[{l}]"
        );
        assert_eq!(f["docs"], json!(2), "[{l}]");
        assert!(
            f["content_bytes"].as_i64().unwrap_or(0) >= 2000,
            "[{l}] {f}"
        );
        assert_eq!(f["version_bytes"], json!(1000), "[{l}]");
        assert_eq!(e["docs"], json!(0), "[{l}]");
        assert_eq!(e["total_bytes"], json!(0), "[{l}]");
        assert_eq!(
            st["other"]["docs"],
            json!(1),
            "[{l}] the inventory outside workspaces"
        );
        assert!(
            st["other"]["content_bytes"].as_i64().unwrap_or(0) > 0,
            "[{l}]"
        );
        let sum = |k: &str| f[k].as_i64().unwrap_or(0) + st["other"][k].as_i64().unwrap_or(0);
        for k in ["docs", "content_bytes", "version_bytes", "total_bytes"] {
            assert_eq!(st["total"][k].as_i64(), Some(sum(k)), "[{l}] total {k}");
        }
        assert_eq!(
            st["total"]["total_bytes"].as_i64(),
            Some(sum("content_bytes") + 1000),
            "[{l}]"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_does_not_move_into_a_workspace_archived_meanwhile() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = ws_world(&db).await;
        let c = w.cast().await;
        let b = c.business.clone();
        let drafts = w.workspace(&c.owner, &b, "Drafts").await;
        let live = w.workspace(&c.owner, &b, "Live").await;
        let name = s(&w.doc(&c.agent, &b, &drafts, "Plan").await, "name");
        let mut editor = signed_in(&w.engine, &c.agent);
        editor.open(&name).await;
        type_durably(&mut editor, &name, "draft").await;

        // "Live" is archived by a transaction that commits only once the move
        // has looked at it (and found it live): the move must see the archive.
        let mut archive = w.db.pool().begin().await.expect("begin");
        sqlx::query("UPDATE workspaces SET archived_at = $1 WHERE id = $2")
            .bind(goonline_engine::now_ms())
            .bind(&live)
            .execute(&mut *archive)
            .await
            .expect("archive");
        let mover = w.call(
            &c.agent,
            "doc.move",
            json!({ "doc": name, "workspace_id": live }),
        );
        let archiver = async {
            // The move writes its redirect after looking (on SQLite that
            // write waits for this transaction: give it time instead).
            let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
            while std::time::Instant::now() < deadline {
                let marked: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM doc_redirects WHERE old_name = $1")
                        .bind(&name)
                        .fetch_one(w.db.pool())
                        .await
                        .expect("redirects");
                if marked > 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            archive.commit().await.expect("commit");
        };
        let (moved, ()) = tokio::join!(mover, archiver);
        assert_eq!(code(&moved), "conflict", "[{l}] {}", message(&moved));
        assert!(
            message(&moved).contains("archived"),
            "[{l}] {}",
            message(&moved)
        );

        // It stayed where it was, and its open editor carries on.
        let info = w
            .call(&c.agent, "doc.info", json!({ "doc": name }))
            .await
            .expect("info");
        assert_eq!(info["workspace_id"], json!(drafts), "[{l}]");
        assert!(w.events("doc.moved").await.is_empty(), "[{l}]");
        let changes = recheck(&mut editor).await;
        assert!(changes.is_empty(), "[{l}] {changes:?}");
        assert_eq!(editor.session.grant(&name), Some(Grant::ReadWrite), "[{l}]");
        type_durably(&mut editor, &name, " and more").await;
        let mut reader = signed_in(&w.engine, &c.viewer);
        reader.open(&name).await;
        assert!(
            reader.until(WAIT, |c| c.text() == "draft and more").await,
            "[{l}] {}",
            reader.text()
        );
    })
    .await;
}
