//! Document versions on SQLite and Postgres: create, list and read them with
//! the document's access; a version outlives the compaction of the log it was
//! taken from; a diff names the changed top-level types and who edited each;
//! a restore while two editors are connected brings both to the restored
//! content, and their later edits still merge.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use goonline_engine::EngineConfig;
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::json;
use support::tenancy_world::code;
use support::versions_world::{WAIT, acked, map_of, quick, s, set_key, versions_world};
use support::{quick_config, text_of_state};
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, Transact, Update};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_created_listed_and_read_with_the_documents_access() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let vw = versions_world(&db, quick_config(), quick()).await;
        let doc = vw.doc("price-list");
        let mut c = vw.client(&vw.agent, &doc).await;
        let id = c.type_text(&doc, "hello");
        acked(&mut c, id).await;

        let v1 = vw.create(&vw.agent, &doc, "  First draft ").await;
        assert_eq!(v1["kind"], "named", "[{l}]");
        assert_eq!(v1["label"], "First draft", "[{l}] trimmed");
        assert_eq!(v1["author"], json!(vw.agent), "[{l}]");
        assert_eq!(v1["seq"], 1, "[{l}]");
        let v1_id = s(&v1, "id");
        let id = c.type_text(&doc, " world");
        acked(&mut c, id).await;

        // Its content is the document as it was, in every format.
        assert_eq!(
            text_of_state(&vw.content(&vw.viewer, &doc, &v1_id).await),
            "hello",
            "[{l}]"
        );
        let v2 = vw
            .call(
                &vw.viewer,
                "version.get",
                json!({ "doc": doc, "version_id": v1_id, "format": "update_v2" }),
            )
            .await
            .expect("update_v2");
        let bytes = STANDARD
            .decode(v2["content"].as_str().expect("content"))
            .expect("base64");
        let d = Doc::new();
        d.transact_mut()
            .apply_update(Update::decode_v2(&bytes).expect("v2 decodes"))
            .expect("apply");
        assert_eq!(
            d.get_or_insert_text("t").get_string(&d.transact()),
            "hello",
            "[{l}]"
        );
        let as_json = vw
            .call(
                &vw.viewer,
                "version.get",
                json!({ "doc": doc, "version_id": v1_id }),
            )
            .await
            .expect("json");
        assert_eq!(as_json["format"], "json", "[{l}]");
        assert_eq!(as_json["version"]["id"], json!(v1_id), "[{l}]");
        assert_eq!(
            as_json["content"],
            json!({ "t": "hello" }),
            "[{l}] needs doc_tree::to_json"
        );

        // Who may do what: viewers read, outsiders see nothing.
        let create = json!({ "doc": doc, "label": "x" });
        let r = vw.call(&vw.viewer, "version.create", create.clone()).await;
        assert_eq!(code(&r), "forbidden", "[{l}]");
        let r = vw.call(&vw.outsider, "version.create", create).await;
        assert_eq!(code(&r), "not_found", "[{l}]");
        let r = vw
            .call(&vw.outsider, "version.list", json!({ "doc": doc }))
            .await;
        assert_eq!(code(&r), "not_found", "[{l}]");
        let get = vw
            .call(
                &vw.outsider,
                "version.get",
                json!({ "doc": doc, "version_id": v1_id }),
            )
            .await;
        assert_eq!(code(&get), "not_found", "[{l}]");
        let r = vw
            .call(&vw.owner, "version.list", json!({ "doc": "notes" }))
            .await;
        assert_eq!(code(&r), "invalid_argument", "[{l}]");
        // A version id is only found under its own document.
        let other = vw.doc("other");
        let r = vw
            .call(
                &vw.owner,
                "version.get",
                json!({ "doc": other, "version_id": v1_id }),
            )
            .await;
        assert_eq!(code(&r), "not_found", "[{l}]");

        // Listed newest first, in pages.
        vw.create(&vw.owner, &doc, "Second").await;
        vw.create(&vw.owner, &doc, "Third").await;
        let all = vw.list(&vw.viewer, &doc).await;
        let labels: Vec<&str> = all.iter().filter_map(|v| v["label"].as_str()).collect();
        assert_eq!(labels, ["Third", "Second", "First draft"], "[{l}]");
        assert_eq!(all[0]["seq"], 2, "[{l}]");
        let page = vw
            .call(
                &vw.viewer,
                "version.list",
                json!({ "doc": doc, "limit": 2 }),
            )
            .await
            .expect("page");
        assert_eq!(page["versions"].as_array().map(Vec::len), Some(2), "[{l}]");
        let next = s(&page, "next_before");
        let rest = vw
            .call(
                &vw.viewer,
                "version.list",
                json!({ "doc": doc, "limit": "2", "before": next }),
            )
            .await
            .expect("next page");
        assert_eq!(rest["versions"][0]["label"], "First draft", "[{l}]");
        assert!(rest["next_before"].is_null(), "[{l}] {rest}");

        // Each named version of a business document is a `doc.versioned` event.
        let events = vw.events("doc.versioned").await;
        assert_eq!(events.len(), 3, "[{l}] {events:?}");
        assert_eq!(events[0].0, doc, "[{l}]");
        assert_eq!(events[0].1.as_deref(), Some(vw.agent.as_str()), "[{l}]");
        assert_eq!(events[0].2["version_id"], json!(v1_id), "[{l}]");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_taken_before_compaction_is_still_readable_after_it() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let config = EngineConfig {
            snapshot_every_updates: 5,
            ..quick_config()
        };
        let vw = versions_world(&db, config, quick()).await;
        let doc = vw.doc("stock-take");
        let mut c = vw.client(&vw.agent, &doc).await;
        let id = c.type_text(&doc, "v1;");
        acked(&mut c, id).await;
        let v1 = vw.create(&vw.agent, &doc, "Before the big edit").await;
        let mut last = 0;
        for i in 0..23 {
            last = c.type_text(&doc, &format!("{i};"));
        }
        acked(&mut c, last).await;

        // The log the version was taken from is gone: compacted into a
        // later snapshot.
        let stats = vw.w.engine.store().log_stats(&doc).await.expect("stats");
        assert!(
            stats.snapshot_seq > v1["seq"].as_u64().expect("seq"),
            "[{l}] no compaction past the version: {stats:?}"
        );
        assert!(stats.updates < 24, "[{l}] {stats:?}");

        let versions = vw.list(&vw.viewer, &doc).await;
        assert_eq!(versions.len(), 1, "[{l}]");
        let content = vw.content(&vw.viewer, &doc, &s(&v1, "id")).await;
        assert_eq!(text_of_state(&content), "v1;", "[{l}]");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diff_names_the_changed_roots_and_who_edited_each() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let vw = versions_world(&db, quick_config(), quick()).await;
        let doc = vw.doc("campaign");
        let mut owner = vw.client(&vw.owner, &doc).await;
        let mut agent = vw.client(&vw.agent, &doc).await;
        // Before the first version: the owner writes both roots.
        set_key(&mut owner, &doc, "prices", "sku-1", 10);
        let id = owner.type_text(&doc, "Plan");
        acked(&mut owner, id).await;
        let v1 = s(&vw.create(&vw.owner, &doc, "v1").await, "id");

        // Between the versions: the agent changes a price (having seen it),
        // the owner the text.
        // Both of the owner's edits: a price set without having seen the old
        // one would be concurrent with it (either may win).
        assert!(
            agent
                .until(WAIT, |c| c.text() == "Plan"
                    && map_of(c, "prices") == vec![("sku-1".to_string(), 10)])
                .await,
            "[{l}]"
        );
        let id = set_key(&mut agent, &doc, "prices", "sku-1", 12);
        acked(&mut agent, id).await;
        let id = owner.type_text(&doc, " B");
        acked(&mut owner, id).await;
        // Not yet written to the store: the diff counts them anyway.
        let diff = vw
            .call(
                &vw.viewer,
                "version.diff",
                json!({ "doc": doc, "from": v1 }),
            )
            .await
            .expect("diff against current");
        assert!(diff["to"]["version_id"].is_null(), "[{l}] {diff}");
        let mut authors = vec![vw.agent.clone(), vw.owner.clone()];
        authors.sort();
        assert_eq!(diff["authors"], json!(authors), "[{l}] {diff}");

        vw.versions.flush_now().await;
        let v2 = s(&vw.create(&vw.owner, &doc, "v2").await, "id");
        let diff = vw
            .call(
                &vw.viewer,
                "version.diff",
                json!({ "doc": doc, "from": v1, "to": v2 }),
            )
            .await
            .expect("diff");
        assert_eq!(diff["from"]["version_id"], json!(v1), "[{l}]");
        assert_eq!(diff["to"]["version_id"], json!(v2), "[{l}]");
        assert_eq!(diff["authors"], json!(authors), "[{l}] {diff}");
        assert_eq!(
            diff["roots"],
            json!([
                { "root": "prices", "editors": [vw.agent] },
                { "root": "t", "editors": [vw.owner] },
            ]),
            "[{l}] needs doc_tree::diff: {diff}"
        );
        let changes = diff["changes"].as_array().expect("changes");
        assert!(
            changes
                .iter()
                .any(|c| c["root"] == "prices" && c["path"] == "/sku-1"),
            "[{l}] {diff}"
        );

        // Nothing changed since v2, by no one.
        let same = vw
            .call(
                &vw.viewer,
                "version.diff",
                json!({ "doc": doc, "from": v2, "to": "current" }),
            )
            .await
            .expect("diff");
        assert_eq!(same["changes"], json!([]), "[{l}] {same}");
        assert_eq!(same["authors"], json!([]), "[{l}] {same}");

        let r = vw
            .call(
                &vw.outsider,
                "version.diff",
                json!({ "doc": doc, "from": v1 }),
            )
            .await;
        assert_eq!(code(&r), "not_found", "[{l}]");
        let r = vw
            .call(
                &vw.viewer,
                "version.diff",
                json!({ "doc": doc, "from": "no-such-version" }),
            )
            .await;
        assert_eq!(code(&r), "not_found", "[{l}]");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_reaches_both_open_editors_and_their_later_edits_still_merge() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let vw = versions_world(&db, quick_config(), quick()).await;
        let doc = vw.doc("price-list");
        let mut a = vw.client(&vw.owner, &doc).await;
        let mut b = vw.client(&vw.agent, &doc).await;
        set_key(&mut a, &doc, "prices", "tea", 5);
        let id = a.type_text(&doc, "Hello");
        acked(&mut a, id).await;
        let v1 = s(&vw.create(&vw.owner, &doc, "Good prices").await, "id");

        assert!(b.until(WAIT, |c| c.text() == "Hello").await, "[{l}]");
        set_key(&mut b, &doc, "prices", "tea", 9);
        set_key(&mut b, &doc, "prices", "coffee", 7);
        let id = b.type_text(&doc, " world");
        acked(&mut b, id).await;
        assert!(a.until(WAIT, |c| c.text() == "Hello world").await, "[{l}]");

        let r = vw
            .call(
                &vw.viewer,
                "version.restore",
                json!({ "doc": doc, "version_id": v1 }),
            )
            .await;
        assert_eq!(code(&r), "forbidden", "[{l}]");
        let r = vw
            .call(
                &vw.owner,
                "version.restore",
                json!({ "doc": doc, "version_id": v1 }),
            )
            .await
            .expect("restore (needs doc_tree::restore_update)");
        assert_eq!(r["restored"], true, "[{l}] {r}");
        let before = s(&r, "before_restore_version_id");

        // Both open editors get the restored content.
        let restored = |c: &support::Client| {
            c.text() == "Hello" && map_of(c, "prices") == [("tea".to_string(), 5)]
        };
        assert!(
            a.until(WAIT, restored).await,
            "[{l}] a: {:?} {:?}",
            a.text(),
            map_of(&a, "prices")
        );
        assert!(
            b.until(WAIT, restored).await,
            "[{l}] b: {:?} {:?}",
            b.text(),
            map_of(&b, "prices")
        );

        // A later edit from one still merges into the other.
        let id = b.type_text(&doc, "!");
        acked(&mut b, id).await;
        assert!(
            a.until(WAIT, |c| c.text() == "Hello!").await,
            "[{l}] {:?}",
            a.text()
        );
        assert_eq!(b.text(), "Hello!", "[{l}]");

        // What the restore replaced is kept as a version.
        let versions = vw.list(&vw.viewer, &doc).await;
        let kinds: Vec<&str> = versions.iter().filter_map(|v| v["kind"].as_str()).collect();
        assert_eq!(kinds, ["before_restore", "named"], "[{l}]");
        assert_eq!(versions[0]["id"], json!(before), "[{l}]");
        let kept = vw.content(&vw.viewer, &doc, &before).await;
        assert_eq!(text_of_state(&kept), "Hello world", "[{l}]");

        // Restoring the content the document already has changes nothing.
        let v3 = s(&vw.create(&vw.owner, &doc, "Now").await, "id");
        let again = vw
            .call(
                &vw.owner,
                "version.restore",
                json!({ "doc": doc, "version_id": v3 }),
            )
            .await
            .expect("no-op restore");
        assert_eq!(again["restored"], false, "[{l}] {again}");
        assert!(again["before_restore_version_id"].is_null(), "[{l}]");

        let events = vw.events("doc.restored").await;
        assert_eq!(events.len(), 1, "[{l}] {events:?}");
        assert_eq!(events[0].2["version_id"], json!(v1), "[{l}]");
        assert_eq!(
            events[0].2["before_restore_version_id"],
            json!(before),
            "[{l}]"
        );
    })
    .await;
}
