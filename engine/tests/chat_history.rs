//! Chat history and read state on SQLite and Postgres: joining a channel of
//! 100,000 messages reads one page (the index walks backwards from the
//! newest), older pages follow each other with nothing skipped or repeated,
//! each member's unread counts cover others' messages only, drop to zero
//! once read, and never go back, and a page read while reactions change is
//! one snapshot (its counts are those as of its `topic_seq`).

mod support;

use goonline_engine::chat::{ChatLimits, HISTORY_PAGE_SQL};
use goonline_engine::now_ms;
use goonline_engine::ops::OpError;
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::{Value, json};
use sqlx::Row;
use support::WAIT;
use support::chat_world::chat_world;
use support::tenancy_world::{World, code, user};
use support::topic_client::{Follower, Seen};

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

async fn page(w: &World, who: &str, chat: &str, before: Option<u64>, limit: Option<u32>) -> Value {
    let mut p = json!({ "chat_id": chat });
    if let Some(b) = before {
        p["before"] = json!(b);
    }
    if let Some(n) = limit {
        p["limit"] = json!(n);
    }
    w.call(who, "chat.history", p).await.expect("history page")
}

fn seqs(page: &Value) -> Vec<u64> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["seq"].as_u64().expect("seq"))
        .collect()
}

/// Inserts messages `1..=n` of `chat` (seq = i, body `message {i}`) with
/// multi-row INSERTs, and the topic's head at `n` with its events past
/// retention (as for a channel older than 90 days).
async fn fill(w: &World, chat: &str, topic: &str, sender: &str, n: u64) {
    let at = now_ms() - 1_000_000;
    let mut tx = w.db.pool().begin().await.expect("begin");
    for start in (1..=n).step_by(1000) {
        let rows: Vec<String> = (start..=(start + 999).min(n))
            .map(|i| {
                format!(
                    "('{chat}-{i}', '{chat}', '{sender}', 'message {i}', {}, 'c{i}', {i})",
                    at + i as i64
                )
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO messages (id, chat_id, sender_id, body, created_at, client_id, seq) \
             VALUES {}",
            rows.join(", ")
        ))
        .persistent(false)
        .execute(&mut *tx)
        .await
        .expect("insert messages");
    }
    sqlx::query(
        "INSERT INTO topics (name, kind, last_seq, first_seq, created_at) \
         VALUES ($1, 'chat', $2, $3, $4)",
    )
    .bind(topic)
    .bind(n as i64)
    .bind(n as i64 + 1)
    .bind(at)
    .execute(&mut *tx)
    .await
    .expect("topic head");
    tx.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_channel_of_100k_messages_reads_one_page_and_pages_back() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = chat_world(&db, ChatLimits::default()).await;
        let owner = user(&w, "owner").await;
        let newcomer = user(&w, "newcomer").await;
        let b = w.shop(&owner, &[("newcomer", "viewer")]).await;
        let ch = w
            .call(
                &owner,
                "chat.channel.create",
                json!({ "business_id": b, "name": "general" }),
            )
            .await
            .expect("channel");
        let (chat, topic) = (s(&ch["id"]), s(&ch["topic"]));
        const N: u64 = 100_000;
        fill(&w, &chat, &topic, &owner, N).await;

        // Joining: the newest 50, newest first, and where to subscribe from.
        let first = page(&w, &newcomer, &chat, None, None).await;
        assert_eq!(
            seqs(&first),
            ((N - 49)..=N).rev().collect::<Vec<_>>(),
            "[{l}]"
        );
        assert_eq!(
            first["messages"][0]["body"],
            json!(format!("message {N}")),
            "[{l}]"
        );
        assert_eq!(
            first["messages"][0]["id"],
            json!(format!("{chat}-{N}")),
            "[{l}]"
        );
        assert_eq!(first["next_before"], json!(N - 49), "[{l}]");
        assert_eq!(first["topic_seq"], json!(N), "[{l}]");
        assert_eq!(first["last_read_seq"], json!(0), "[{l}]");
        // Subscribing from there replays nothing: joining cost one page.
        let mut f = Follower::connect(&w.engine, &newcomer);
        f.subscribe(&topic, Some(N)).await.expect("subscribe");
        assert_eq!(
            f.seen,
            [Seen::Live {
                topic: topic.clone(),
                seq: N
            }],
            "[{l}] nothing replayed"
        );

        // Older pages follow on exactly, across page boundaries.
        let mut walked = seqs(&first);
        let mut before = first["next_before"].as_u64();
        for _ in 0..3 {
            let p = page(&w, &newcomer, &chat, before, None).await;
            walked.extend(seqs(&p));
            before = p["next_before"].as_u64();
        }
        assert_eq!(
            walked,
            ((N - 199)..=N).rev().collect::<Vec<_>>(),
            "[{l}] 4 pages"
        );
        // ...down to the very first message, where there is no older page.
        let p = page(&w, &newcomer, &chat, Some(151), Some(100)).await;
        assert_eq!(seqs(&p), (51..=150).rev().collect::<Vec<_>>(), "[{l}]");
        assert_eq!(p["next_before"], json!(51), "[{l}]");
        let p = page(&w, &newcomer, &chat, Some(51), Some(100)).await;
        assert_eq!(seqs(&p), (1..=50).rev().collect::<Vec<_>>(), "[{l}]");
        assert_eq!(p["next_before"], Value::Null, "[{l}] the oldest page");
        let p = page(&w, &newcomer, &chat, Some(1), None).await;
        assert_eq!(seqs(&p), Vec::<u64>::new(), "[{l}]");
        for bad in [
            json!({ "limit": 0 }),
            json!({ "limit": 101 }),
            json!({ "before": 0 }),
        ] {
            let mut params = bad.clone();
            params["chat_id"] = json!(chat);
            let r = w.call(&newcomer, "chat.history", params).await;
            assert_eq!(code(&r), "invalid_argument", "[{l}] {bad}: {r:?}");
        }

        // The page is a backwards walk of the (chat_id, seq) index.
        let plan_sql = format!("EXPLAIN QUERY PLAN {HISTORY_PAGE_SQL}");
        let plan_pg = format!("EXPLAIN {HISTORY_PAGE_SQL}");
        if l == "sqlite" {
            let plan: Vec<String> = sqlx::query(&plan_sql)
                .bind(&chat)
                .bind(i64::MAX)
                .bind(51_i64)
                .fetch_all(w.db.pool())
                .await
                .expect("plan")
                .iter()
                .map(|r| r.try_get::<String, _>(3).expect("detail"))
                .collect();
            assert!(
                plan.iter()
                    .any(|d| d.contains("USING INDEX messages_chat_seq")),
                "[{l}] {plan:?}"
            );
            assert!(
                !plan.iter().any(|d| d.contains("TEMP B-TREE")),
                "[{l}] no sort: {plan:?}"
            );
        } else {
            sqlx::query("ANALYZE messages")
                .execute(w.db.pool())
                .await
                .expect("analyze");
            let plan: Vec<String> = sqlx::query(&plan_pg)
                .bind(&chat)
                .bind(i64::MAX)
                .bind(51_i64)
                .fetch_all(w.db.pool())
                .await
                .expect("plan")
                .iter()
                .map(|r| r.try_get::<String, _>(0).expect("line"))
                .collect();
            assert!(
                plan.iter()
                    .any(|d| d.contains("Index Scan Backward using messages_chat_seq")),
                "[{l}] {plan:?}"
            );
        }

        // A new message arrives live and heads the next first page.
        let sent = w
            .call(
                &owner,
                "chat.send",
                json!({ "chat_id": chat, "client_id": "new", "body": "welcome!" }),
            )
            .await
            .expect("send");
        assert_eq!(sent["seq"], json!(N + 1), "[{l}]");
        let live = f
            .until(WAIT, |seen| {
                seen.iter()
                    .any(|x| matches!(x, Seen::Event { seq, .. } if *seq == N + 1))
            })
            .await;
        assert!(live, "[{l}] the new message arrives live: {:?}", f.seen);
        assert_eq!(f.data(&topic)[0]["message"]["id"], sent["id"], "[{l}]");
        let first = page(&w, &newcomer, &chat, None, Some(1)).await;
        assert_eq!(first["messages"][0]["id"], sent["id"], "[{l}]");
        // Unread counts stop at 1000 however far behind the member is.
        let list = w
            .call(&newcomer, "chat.list", json!({ "business_id": b }))
            .await
            .expect("list");
        assert_eq!(list["chats"][0]["last_seq"], json!(N + 1), "[{l}]");
        assert_eq!(list["chats"][0]["unread"], json!(1000), "[{l}] capped");
    })
    .await;
}

/// (chat id, seq) of a message `who` sends.
async fn send(w: &World, who: &str, chat: &str, client_id: &str) -> (String, u64) {
    let m = w
        .call(
            who,
            "chat.send",
            json!({ "chat_id": chat, "client_id": client_id, "body": format!("text {client_id}") }),
        )
        .await
        .expect("send");
    (s(&m["id"]), m["seq"].as_u64().expect("seq"))
}

/// `who`'s (last_seq, last_read_seq, unread) per channel name.
async fn unread(w: &World, who: &str, b: &str) -> Vec<(String, u64, u64, u64)> {
    let list = w
        .call(who, "chat.list", json!({ "business_id": b }))
        .await
        .expect("list");
    list["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .map(|c| {
            (
                s(&c["name"]),
                c["last_seq"].as_u64().expect("last_seq"),
                c["last_read_seq"].as_u64().expect("last_read_seq"),
                c["unread"].as_u64().expect("unread"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_counts_are_others_messages_after_the_read_mark_which_never_goes_back() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let w = chat_world(&db, ChatLimits::default()).await;
        let owner = user(&w, "owner").await;
        let agent = user(&w, "agent").await;
        let b = w.shop(&owner, &[("agent", "agent")]).await;
        let create = |name: &'static str| {
            let (w, owner, b) = (&w, owner.clone(), b.clone());
            async move {
                let c = w
                    .call(
                        &owner,
                        "chat.channel.create",
                        json!({ "business_id": b, "name": name }),
                    )
                    .await
                    .expect("channel");
                s(&c["id"])
            }
        };
        let general = create("general").await;
        let sales = create("sales").await;
        let (o1, _) = send(&w, &owner, &general, "o1").await;
        send(&w, &owner, &general, "o2").await;
        send(&w, &owner, &general, "o3").await;
        send(&w, &agent, &general, "a1").await;
        let (_, g_last) = send(&w, &agent, &general, "a2").await;
        let (_, s_last) = send(&w, &agent, &sales, "a3").await;
        w.call(&owner, "chat.delete", json!({ "message_id": o1 }))
            .await
            .expect("delete");
        // Channels by name; one's own and deleted messages are not unread.
        assert_eq!(
            unread(&w, &agent, &b).await,
            [
                ("general".into(), g_last, 0, 2),
                ("sales".into(), s_last, 0, 0)
            ],
            "[{l}] the agent"
        );
        assert_eq!(
            unread(&w, &owner, &b).await,
            [
                ("general".into(), g_last, 0, 2),
                ("sales".into(), s_last, 0, 1)
            ],
            "[{l}] the owner"
        );
        // Reading up to the newest event (the deletion's) clears the channel.
        let head = g_last + 1;
        let r = w
            .call(
                &agent,
                "chat.read",
                json!({ "chat_id": general, "seq": head }),
            )
            .await
            .expect("read");
        assert_eq!(
            (r["last_read_seq"].clone(), r["unread"].clone()),
            (json!(head), json!(0)),
            "[{l}]"
        );
        assert_eq!(
            unread(&w, &agent, &b).await[0],
            ("general".into(), g_last, head, 0),
            "[{l}]"
        );
        // An older mark (a second device behind) does not bring them back.
        let r = w
            .call(&agent, "chat.read", json!({ "chat_id": general, "seq": 2 }))
            .await
            .expect("read older");
        assert_eq!(r["last_read_seq"], json!(head), "[{l}] monotonic");
        assert_eq!(r["unread"], json!(0), "[{l}]");
        // A mark past the newest event is a client bug.
        let r = w
            .call(
                &agent,
                "chat.read",
                json!({ "chat_id": general, "seq": head + 1 }),
            )
            .await;
        assert!(
            matches!(&r, Err(OpError::InvalidArgument { field, .. }) if field == "seq"),
            "[{l}] {r:?}"
        );
        // Something new from the owner is unread again.
        let (_, newest) = send(&w, &owner, &general, "o4").await;
        assert_eq!(
            unread(&w, &agent, &b).await[0],
            ("general".into(), newest, head, 1),
            "[{l}]"
        );
        let p = page(&w, &agent, &general, None, None).await;
        assert_eq!(
            p["last_read_seq"],
            json!(head),
            "[{l}] the page says where the reader was"
        );
    })
    .await;
}

/// A page's reaction counts are those as of its `topic_seq`, even while
/// reactions change during the read: a client subscribing from `topic_seq`
/// then counts each later reaction once (before the page was one snapshot, a
/// reaction made between reading the head and the reactions was in both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_is_one_snapshot_while_reactions_change() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let limits = ChatLimits {
            action_burst: 100_000,
            ..ChatLimits::default()
        };
        let w = chat_world(&db, limits).await;
        let owner = user(&w, "owner").await;
        let b = w.shop(&owner, &[]).await;
        let ch = w
            .call(
                &owner,
                "chat.channel.create",
                json!({ "business_id": b, "name": "general" }),
            )
            .await
            .expect("channel");
        let chat = s(&ch["id"]);
        let (message, _) = send(&w, &owner, &chat, "m").await;
        let start = page(&w, &owner, &chat, None, None).await["topic_seq"]
            .as_u64()
            .expect("topic_seq");
        // One user toggles one reaction: each call appends one event, so the
        // count as of `seq` is 1 exactly when an odd number followed `start`.
        let done = std::cell::Cell::new(false);
        let toggle = async {
            for i in 0..300 {
                let on = i % 2 == 0;
                w.call(
                    &owner,
                    "chat.react",
                    json!({ "message_id": message, "emoji": "👍", "on": on }),
                )
                .await
                .expect("react");
            }
            done.set(true);
        };
        let read = async {
            let mut pages = 0;
            while !done.get() {
                let p = page(&w, &owner, &chat, None, None).await;
                let seq = p["topic_seq"].as_u64().expect("topic_seq");
                let counted = p["messages"][0]["reactions"]
                    .as_array()
                    .expect("reactions")
                    .iter()
                    .map(|r| r["count"].as_u64().expect("count"))
                    .sum::<u64>();
                assert_eq!(counted, (seq - start) % 2, "[{l}] page at topic_seq {seq}");
                pages += 1;
            }
            pages
        };
        let ((), pages) = tokio::join!(toggle, read);
        assert!(pages > 0, "[{l}]");
    })
    .await;
}
