//! Document lifecycle on SQLite and Postgres: a move keeps content and
//! comments and the old name says where the document went (only to those
//! who may open it there; everyone else learns nothing); deletion closes
//! it for open editors, undelete brings it back within the grace period, and
//! the purge after it removes everything stored. (Archiving and storage are
//! in `workspaces_archive.rs`.)

mod support;

use std::time::Duration;

use goonline_engine::comments::comment_topic;
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::json;
use support::workspaces_world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_document_keeps_content_and_comments_and_its_old_name_says_where() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = ws_world(&db).await;
        let c = w.cast().await;
        let b = c.business.clone();
        let drafts = w.workspace(&c.owner, &b, "Drafts").await;
        let live = w.workspace(&c.owner, &b, "Live").await;
        let doc = w.doc(&c.agent, &b, &drafts, "Price list").await;
        let old = s(&doc, "name");
        let mut editor = signed_in(&w.engine, &c.agent);
        editor.open(&old).await;
        type_durably(&mut editor, &old, "rice 2500").await;
        let thread = w
            .call(
                &c.owner,
                "comment.thread.create",
                json!({ "doc": old, "body": "Check rice" }),
            )
            .await
            .expect("thread");
        w.call(
            &c.agent,
            "comment.reply",
            json!({ "thread_id": s(&thread, "id"), "body": "Checked" }),
        )
        .await
        .expect("reply");

        let to_live = json!({ "doc": old, "workspace_id": live });
        assert_eq!(
            code(&w.call(&c.viewer, "doc.move", to_live.clone()).await),
            "forbidden",
            "[{l}]"
        );
        assert_eq!(
            code(&w.call(&c.stranger, "doc.move", to_live.clone()).await),
            "not_found",
            "[{l}]"
        );
        let r = w
            .call(
                &c.agent,
                "doc.move",
                json!({ "doc": old, "workspace_id": "nope" }),
            )
            .await;
        assert_eq!(code(&r), "not_found", "[{l}]");
        let moved = w.call(&c.agent, "doc.move", to_live).await.expect("move");
        let new = s(&moved, "name");
        assert_eq!(new, format!("biz/{b}/ws/{live}/{}", s(&doc, "id")), "[{l}]");
        assert_eq!(moved["id"], doc["id"], "[{l}] the id never changes");
        assert_eq!(moved["workspace_id"], json!(live), "[{l}]");

        // The open editor is told where it went; the old name says so too.
        let changes = recheck(&mut editor).await;
        assert_eq!(changes.len(), 1, "[{l}] {changes:?}");
        assert_eq!(changes[0].1, None, "[{l}] closed");
        assert!(
            changes[0].2.contains(&new),
            "[{l}] reason names the new name: {}",
            changes[0].2
        );
        let refused = editor
            .session
            .open(&old)
            .await
            .expect_err("old name refused");
        assert!(refused.to_string().contains(&new), "[{l}] {refused}");
        let info = w.call(&c.viewer, "doc.info", json!({ "doc": old })).await;
        assert_eq!(code(&info), "not_found", "[{l}]");
        assert!(message(&info).contains(&new), "[{l}] {}", message(&info));

        // Content and comments came along.
        let mut reader = signed_in(&w.engine, &c.viewer);
        reader.open(&new).await;
        assert!(
            reader.until(WAIT, |c| c.text() == "rice 2500").await,
            "[{l}] content kept"
        );
        let threads = w
            .call(&c.viewer, "comment.list", json!({ "doc": new }))
            .await
            .expect("comments");
        assert_eq!(
            threads["threads"][0]["comments"].as_array().map(Vec::len),
            Some(2),
            "[{l}]"
        );
        let topic = comment_topic(&new).expect("topic");
        assert_eq!(threads["topic"], json!(topic), "[{l}]");
        assert_eq!(
            w.topics.bounds(&topic).await.expect("bounds").1,
            2,
            "[{l}] comment events kept"
        );
        assert_eq!(
            w.rows("doc_updates", &old).await + w.rows("doc_snapshots", &old).await,
            0,
            "[{l}]"
        );
        let listed = w
            .call(
                &c.viewer,
                "doc.list",
                json!({ "business_id": b, "workspace_id": live }),
            )
            .await
            .expect("list");
        assert_eq!(listed["docs"][0]["name"], json!(new), "[{l}]");

        // Edits go on under the new name; moving back restores the old one,
        // and the name in between now points there.
        let mut editor = signed_in(&w.engine, &c.agent);
        editor.open(&new).await;
        type_durably(&mut editor, &new, " rice 2600").await;
        let back = w
            .call(
                &c.agent,
                "doc.move",
                json!({ "doc": new, "workspace_id": drafts }),
            )
            .await
            .expect("move back");
        assert_eq!(back["name"], json!(old), "[{l}]");
        recheck(&mut editor).await;
        let refused = editor
            .session
            .open(&new)
            .await
            .expect_err("middle name refused");
        assert!(refused.to_string().contains(&old), "[{l}] {refused}");
        let mut again = signed_in(&w.engine, &c.agent);
        again.open(&old).await;
        assert!(
            again
                .until(WAIT, |c| c.text() == "rice 2500 rice 2600")
                .await,
            "[{l}] {}",
            again.text()
        );

        let events = w.events("doc.moved").await;
        assert_eq!(events.len(), 2, "[{l}]");
        assert_eq!(events[0].0, new, "[{l}]");
        assert_eq!(events[0].2["previous_name"], json!(old), "[{l}]");
        assert_eq!(events[0].2["from_workspace_id"], json!(drafts), "[{l}]");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_documents_close_at_once_come_back_within_the_grace_and_are_purged_after() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = ws_world(&db).await;
        let c = w.cast().await;
        let b = c.business.clone();
        let ws = w.workspace(&c.owner, &b, "Campaign").await;
        let name = s(&w.doc(&c.agent, &b, &ws, "Plan").await, "name");
        let mut editor = signed_in(&w.engine, &c.agent);
        editor.open(&name).await;
        type_durably(&mut editor, &name, "launch").await;
        w.call(
            &c.owner,
            "comment.thread.create",
            json!({ "doc": name, "body": "When?" }),
        )
        .await
        .expect("thread");
        let del = json!({ "doc": name });
        assert_eq!(
            code(&w.call(&c.agent, "doc.delete", del.clone()).await),
            "forbidden",
            "[{l}]"
        );
        let deleted = w
            .call(&c.admin, "doc.delete", del.clone())
            .await
            .expect("delete");
        let at = deleted["deleted_at"].as_i64().expect("deleted_at");
        assert_eq!(
            deleted["purge_at"].as_i64(),
            Some(at + GRACE.as_millis() as i64),
            "[{l}]"
        );

        let changes = recheck(&mut editor).await;
        assert_eq!(changes.len(), 1, "[{l}] {changes:?}");
        assert_eq!(changes[0].1, None, "[{l}] closed live");
        assert!(
            editor.session.open(&name).await.is_err(),
            "[{l}] cannot reopen"
        );
        let listed = w
            .call(
                &c.owner,
                "doc.list",
                json!({ "business_id": b, "workspace_id": ws }),
            )
            .await
            .expect("list");
        assert_eq!(listed["docs"], json!([]), "[{l}]");
        assert_eq!(
            code(&w.call(&c.agent, "doc.info", del.clone()).await),
            "not_found",
            "[{l}]"
        );
        assert_eq!(
            code(
                &w.call(&c.agent, "doc.trash", json!({ "business_id": b }))
                    .await
            ),
            "forbidden",
            "[{l}]"
        );
        let trash = w
            .call(&c.owner, "doc.trash", json!({ "business_id": b }))
            .await
            .expect("trash");
        assert_eq!(trash["docs"][0]["name"], json!(name), "[{l}]");
        assert_eq!(trash["docs"][0]["purge_at"], deleted["purge_at"], "[{l}]");

        // Undeleted, it opens again with its content.
        // (To members below admin a deleted document does not exist.)
        assert_eq!(
            code(&w.call(&c.agent, "doc.undelete", del.clone()).await),
            "not_found",
            "[{l}]"
        );
        let back = w
            .call(&c.owner, "doc.undelete", del.clone())
            .await
            .expect("undelete");
        assert_eq!(back["deleted_at"], json!(null), "[{l}]");
        let mut reader = signed_in(&w.engine, &c.viewer);
        reader.open(&name).await;
        assert!(
            reader.until(WAIT, |c| c.text() == "launch").await,
            "[{l}] content kept"
        );
        reader.session.close_doc(&name).expect("close");

        // Deleted again and past the grace period: no undelete, and the purge
        // removes everything stored for it.
        w.call(&c.owner, "doc.delete", del.clone())
            .await
            .expect("delete again");
        for (table, column) in [
            (
                "doc_versions",
                "id, doc, seq, kind, created_at, size_bytes, data",
            ),
            (
                "doc_activity",
                "doc, user_id, root, first_seq, last_seq, edits, last_at",
            ),
        ] {
            let sql = if table == "doc_versions" {
                format!("INSERT INTO {table} ({column}) VALUES ('v1', $1, 1, 'named', 0, 3, $2)")
            } else {
                format!("INSERT INTO {table} ({column}) VALUES ($1, 'u', 't', 1, 1, 1, 0)")
            };
            let q = sqlx::query(&sql).bind(&name);
            let q = if table == "doc_versions" {
                q.bind(vec![1u8, 2, 3])
            } else {
                q
            };
            q.execute(w.db.pool()).await.expect("seed");
        }
        assert_eq!(
            w.workspaces.purge_expired().await.expect("purge"),
            0,
            "[{l}] within the grace"
        );
        w.advance(GRACE + Duration::from_secs(60));
        let r = w.call(&c.owner, "doc.undelete", del.clone()).await;
        assert_eq!(code(&r), "conflict", "[{l}] {}", message(&r));
        assert_eq!(
            w.workspaces.purge_expired().await.expect("purge"),
            1,
            "[{l}]"
        );
        for table in [
            "doc_updates",
            "doc_snapshots",
            "doc_versions",
            "doc_activity",
            "comment_threads",
        ] {
            assert_eq!(w.rows(table, &name).await, 0, "[{l}] {table} purged");
        }
        let topic = comment_topic(&name).expect("topic");
        let topic_rows: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM topic_events WHERE topic = $1")
                .bind(&topic)
                .fetch_one(w.db.pool())
                .await
                .expect("count");
        assert_eq!(topic_rows, 0, "[{l}] comment events purged");
        assert_eq!(
            code(&w.call(&c.owner, "doc.info", del).await),
            "not_found",
            "[{l}]"
        );
        let trash = w
            .call(&c.owner, "doc.trash", json!({ "business_id": b }))
            .await
            .expect("trash");
        assert_eq!(trash["docs"], json!([]), "[{l}]");

        assert_eq!(w.events("doc.deleted").await.len(), 2, "[{l}]");
        assert_eq!(w.events("doc.undeleted").await.len(), 1, "[{l}]");
        assert_eq!(w.events("doc.purged").await.len(), 1, "[{l}]");
        assert_eq!(w.audited("doc.deleted").await, 2, "[{l}]");
        assert_eq!(w.audited("doc.undeleted").await, 1, "[{l}]");
        assert_eq!(w.audited("doc.purged").await, 1, "[{l}]");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_who_may_open_a_moved_document_is_told_where_it_went() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = ws_world(&db).await;
        let c = w.cast().await;
        let b = c.business.clone();
        let campaign = w.workspace(&c.owner, &b, "Campaign").await;
        let stock = w.workspace(&c.owner, &b, "Stock").await;
        let old = s(&w.doc(&c.agent, &b, &campaign, "Plan").await, "name");
        // The reader is a guest of the old workspace only, the partner of the
        // new one only.
        w.add_guest(&c.owner, &b, &campaign, "reader", &c.guest_r, "read")
            .await;
        w.add_guest(&c.owner, &b, &stock, "partner", &c.guest_w, "write")
            .await;
        let moved = w
            .call(
                &c.agent,
                "doc.move",
                json!({ "doc": old, "workspace_id": stock }),
            )
            .await
            .expect("move");
        let new = s(&moved, "name");

        // The refusal `who` gets opening `doc`, with the name blanked.
        let refusal = |who: &str, doc: &str| {
            let (engine, who, doc) = (w.engine.clone(), who.to_string(), doc.to_string());
            async move {
                let mut c = signed_in(&engine, &who);
                let e = c.session.open(&doc).await.expect_err("refused");
                e.to_string().replace(&doc, "DOC")
            }
        };
        let missing = format!("biz/{b}/ws/{campaign}/{}", uuid::Uuid::now_v7());
        let generic = refusal(&c.stranger, &missing).await;
        assert!(!generic.contains("moved"), "[{l}] {generic}");

        // Those who may open it where it is now are told where that is.
        for who in [&c.viewer, &c.guest_w] {
            let told = refusal(who, &old).await;
            assert!(told.contains(&format!("moved to `{new}`")), "[{l}] {told}");
        }
        // Everyone else learns nothing: the same refusal as for a name that
        // never existed, whether the name moved, exists or not.
        for (who, doc) in [
            (&c.stranger, &old),
            (&c.stranger, &new),
            (&c.guest_r, &old),
            (&c.guest_r, &new),
        ] {
            assert_eq!(
                refusal(who, doc).await,
                generic,
                "[{l}] {who} opening {doc}"
            );
        }
        // A guest removed from the new workspace is no longer told either.
        w.call(
            &c.owner,
            "guest.remove",
            json!({ "business_id": b, "workspace_id": stock, "user_id": c.guest_w }),
        )
        .await
        .expect("remove");
        for doc in [&old, &new] {
            assert_eq!(refusal(&c.guest_w, doc).await, generic, "[{l}] {doc}");
        }

        // A move under way (its redirect written, the document not renamed
        // yet) is told the same way: by standing in the workspace it goes to.
        let brief = s(&w.doc(&c.agent, &b, &campaign, "Brief").await, "name");
        let to = brief.replace(&campaign, &stock);
        sqlx::query("INSERT INTO doc_redirects (old_name, new_name, at) VALUES ($1, $2, 0)")
            .bind(&brief)
            .bind(&to)
            .execute(w.db.pool())
            .await
            .expect("redirect");
        let told = refusal(&c.viewer, &brief).await;
        assert!(told.contains(&format!("moved to `{to}`")), "[{l}] {told}");
        for who in [&c.guest_r, &c.stranger] {
            assert_eq!(refusal(who, &brief).await, generic, "[{l}] {who}");
        }
    })
    .await;
}
