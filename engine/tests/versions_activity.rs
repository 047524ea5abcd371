//! Edit activity on SQLite and Postgres: an automatic version once a burst of
//! editing goes quiet; the `docs` row's last edit (when, by whom) and size;
//! `doc.changed` debounced per document.

mod support;

use std::time::Duration;

use goonline_engine::testing::{TestDb, each_backend};
use goonline_engine::versions::VersionsConfig;
use serde_json::json;
use sqlx::Row;
use support::versions_world::{
    WAIT, acked, eventually, last_edit, quick, versions_world, workspace_doc,
};
use support::{quick_config, text_of_state};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_version_is_taken_once_edits_go_quiet() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let cfg = VersionsConfig {
            auto_version_quiet: Some(Duration::from_secs(1)),
            ..quick()
        };
        let vw = versions_world(&db, quick_config(), cfg).await;
        let doc = vw.doc("notes");
        let mut c = vw.client(&vw.agent, &doc).await;
        let autos = || async {
            vw.list(&vw.owner, &doc)
                .await
                .into_iter()
                .filter(|v| v["kind"] == "auto")
                .collect::<Vec<_>>()
        };
        let mut last = 0;
        for word in ["a", "b", "c"] {
            last = c.type_text(&doc, word);
        }
        acked(&mut c, last).await;
        assert!(autos().await.is_empty(), "[{l}] a version before the quiet");

        let first = eventually(WAIT, || async { autos().await.pop() })
            .await
            .unwrap_or_else(|| panic!("[{l}] no automatic version"));
        assert_eq!(first["seq"], 3, "[{l}] {first}");
        assert!(first["author"].is_null(), "[{l}]");
        let content = vw
            .content(&vw.owner, &doc, first["id"].as_str().expect("id"))
            .await;
        assert_eq!(text_of_state(&content), "abc", "[{l}]");

        // No edits since: no other version.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(autos().await.len(), 1, "[{l}]");

        // A named version right after an edit leaves nothing to take.
        let id = c.type_text(&doc, "d");
        acked(&mut c, id).await;
        vw.create(&vw.agent, &doc, "Checked").await;
        tokio::time::sleep(Duration::from_millis(1800)).await;
        assert_eq!(autos().await.len(), 1, "[{l}]");

        // The next burst gets its own.
        let id = c.type_text(&doc, "e");
        acked(&mut c, id).await;
        let second = eventually(WAIT, || async {
            let a = autos().await;
            (a.len() == 2).then(|| a[0].clone())
        })
        .await
        .unwrap_or_else(|| panic!("[{l}] no second automatic version"));
        assert_eq!(second["seq"], 5, "[{l}] {second}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_row_shows_the_last_edit_and_the_size() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let vw = versions_world(&db, quick_config(), quick()).await;
        let doc = workspace_doc(&vw, "Spring campaign").await;
        assert_eq!(last_edit(&vw, &doc).await, (None, None, 0), "[{l}]");
        let before = goonline_engine::now_ms();
        let mut c = vw.client(&vw.agent, &doc).await;
        let id = c.type_text(&doc, "Posters in every shop");
        acked(&mut c, id).await;

        let (at, by, size) = eventually(WAIT, || async {
            let row = last_edit(&vw, &doc).await;
            row.0.is_some().then_some(row)
        })
        .await
        .unwrap_or_else(|| panic!("[{l}] last edit never written"));
        assert_eq!(by.as_deref(), Some(vw.agent.as_str()), "[{l}]");
        let at = at.expect("at");
        assert!(
            at >= before && at <= goonline_engine::now_ms(),
            "[{l}] {at}"
        );
        let stored =
            vw.w.engine
                .hold_room(&doc)
                .await
                .expect("room")
                .stored_bytes();
        assert_eq!(size as u64, stored, "[{l}]");
        assert!(size > 0, "[{l}]");

        // Another editor, later: the row follows.
        let mut o = vw.client(&vw.owner, &doc).await;
        let id = o.type_text(&doc, " and flyers");
        acked(&mut o, id).await;
        let (at2, by2, size2) = eventually(WAIT, || async {
            let row = last_edit(&vw, &doc).await;
            (row.1.as_deref() == Some(vw.owner.as_str())).then_some(row)
        })
        .await
        .unwrap_or_else(|| panic!("[{l}] second edit never written"));
        assert!(at2 >= Some(at), "[{l}]");
        assert!(size2 > size, "[{l}] {size2} after {size}");
        assert_eq!(by2.as_deref(), Some(vw.owner.as_str()), "[{l}]");

        // And who edited what is kept for diffs.
        let rows = sqlx::query(
            "SELECT user_id, root, first_seq, last_seq, edits FROM doc_activity \
             WHERE doc = $1 ORDER BY first_seq",
        )
        .bind(&doc)
        .fetch_all(vw.w.db.pool())
        .await
        .expect("activity");
        let rows: Vec<(String, String, i64, i64, i64)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        assert_eq!(
            rows,
            [
                (vw.agent.clone(), "t".to_string(), 1, 1, 1),
                (vw.owner.clone(), "t".to_string(), 2, 2, 1),
            ],
            "[{l}]"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doc_changed_is_debounced_per_document() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let vw = versions_world(&db, quick_config(), quick()).await;
        let doc = vw.doc("price-list");
        let other = vw.doc("orders");
        let personal = format!("user/{}/diary", vw.agent);
        let mut c = vw.client(&vw.agent, &doc).await;
        let mut o = vw.client(&vw.owner, &other).await;
        let mut p = vw.client(&vw.agent, &personal).await;
        let mut last = 0;
        for i in 0..5 {
            last = c.type_text(&doc, &format!("{i}"));
        }
        acked(&mut c, last).await;
        let id = o.type_text(&other, "x");
        acked(&mut o, id).await;
        let id = p.type_text(&personal, "dear diary");
        acked(&mut p, id).await;

        eventually(WAIT, || async {
            let e = vw.events("doc.changed").await;
            (e.len() >= 2).then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("[{l}] no doc.changed"));
        // Longer than the quiet period: nothing more comes.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let events = vw.events("doc.changed").await;
        assert_eq!(events.len(), 2, "[{l}] one per document: {events:?}");
        let of = |name: &str| {
            events
                .iter()
                .find(|e| e.0 == name)
                .unwrap_or_else(|| panic!("[{l}] no event for {name}: {events:?}"))
        };
        let (_, actor, data) = of(&doc);
        assert_eq!(actor.as_deref(), Some(vw.agent.as_str()), "[{l}]");
        assert_eq!(data["first_seq"], 1, "[{l}] {data}");
        assert_eq!(data["last_seq"], 5, "[{l}] {data}");
        assert_eq!(data["edits"], 5, "[{l}] {data}");
        assert_eq!(data["editors"], json!([vw.agent]), "[{l}]");
        assert_eq!(data["roots"], json!(["t"]), "[{l}]");
        assert_eq!(of(&other).2["editors"], json!([vw.owner]), "[{l}]");
        let _ = events
            .iter()
            .find(|e| e.0 == personal)
            .map(|e| panic!("[{l}] a personal document has no business events: {e:?}"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doc_changed_comes_at_most_once_per_interval_while_edits_go_on() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let cfg = VersionsConfig {
            changed_quiet: Duration::from_secs(30),
            changed_max_interval: Duration::from_millis(700),
            ..quick()
        };
        let vw = versions_world(&db, quick_config(), cfg).await;
        let doc = vw.doc("busy");
        let mut c = vw.client(&vw.agent, &doc).await;
        let started = tokio::time::Instant::now();
        let mut last = 0;
        let mut edits = 0;
        while started.elapsed() < Duration::from_millis(2000) {
            last = c.type_text(&doc, "x");
            edits += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        acked(&mut c, last).await;
        let elapsed = started.elapsed();
        // The edits made so far are all reported once the interval passes.
        let events = eventually(WAIT, || async {
            let e = vw.events("doc.changed").await;
            let n: i64 = e.iter().filter_map(|e| e.2["edits"].as_i64()).sum();
            (n == edits).then_some(e)
        })
        .await
        .unwrap_or_else(|| panic!("[{l}] not every edit reported"));
        let most = (elapsed.as_millis() / 700) as usize + 2;
        assert!(
            events.len() >= 2 && events.len() <= most,
            "[{l}] {} events for {edits} edits over {elapsed:?}",
            events.len()
        );
        // Consecutive, non-overlapping ranges of the log.
        let mut next = 1;
        for (_, _, data) in &events {
            assert_eq!(data["first_seq"], next, "[{l}] {events:?}");
            next = data["last_seq"].as_i64().expect("last_seq") + 1;
        }
        assert_eq!(next - 1, edits, "[{l}]");
    })
    .await;
}
