//! Sessions in a room: awareness relay and expiry, refused updates, slow
//! consumers and limits.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use goonline_engine::testing::TestDb;
use goonline_engine::{EngineConfig, EngineError};
use goonline_protocol::awareness::decode_awareness_update;
use goonline_protocol::codes::close;
use goonline_protocol::sync::SyncMessage;
use support::{Client, WAIT, awareness_update, engine, quick_config, text_of_state};

fn live_states(updates: &[Vec<u8>]) -> std::collections::HashMap<u64, String> {
    let mut states = std::collections::HashMap::new();
    for u in updates {
        for e in decode_awareness_update(u).expect("awareness decodes") {
            if e.is_removal() {
                states.remove(&e.client_id);
            } else {
                states.insert(e.client_id, e.state.to_string());
            }
        }
    }
    states
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awareness_is_relayed_expires_and_leaves_with_its_session() {
    let db = TestDb::sqlite();
    let config = EngineConfig {
        awareness_ttl: Duration::from_millis(300),
        ..quick_config()
    };
    let e = engine(Arc::new(db.store().await), config);
    let mut a = Client::connect(&e);
    let mut b = Client::connect(&e);
    a.open("room").await;
    b.open("room").await;
    a.session
        .awareness("room", &awareness_update(7, 1, r#"{"user":"ana"}"#))
        .expect("awareness");
    assert!(
        b.until(WAIT, |c| live_states(&c.awareness)
            .get(&7)
            .map(String::as_str)
            == Some(r#"{"user":"ana"}"#))
            .await
    );
    assert!(
        a.until(WAIT, |c| live_states(&c.awareness).contains_key(&7))
            .await,
        "echoed to the sender"
    );
    // A stale clock loses.
    a.session
        .awareness("room", &awareness_update(7, 0, r#"{"user":"old"}"#))
        .expect("awareness");
    // Not renewed: removed after the TTL.
    assert!(
        b.until(WAIT, |c| !c.awareness.is_empty()
            && !live_states(&c.awareness).contains_key(&7))
            .await,
        "expired"
    );

    // A newcomer gets current states; a leaving session's states go with it.
    b.session
        .awareness("room", &awareness_update(9, 1, r#"{"user":"ben"}"#))
        .expect("awareness");
    let mut c = Client::connect(&e);
    c.open("room").await;
    assert!(
        c.until(WAIT, |c| live_states(&c.awareness).contains_key(&9))
            .await,
        "newcomer sees ben"
    );
    drop(b);
    assert!(
        c.until(WAIT, |c| !live_states(&c.awareness).contains_key(&9))
            .await,
        "ben left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_updates_leave_the_doc_untouched() {
    let db = TestDb::sqlite();
    let config = EngineConfig {
        max_doc_bytes: 2_000,
        ..quick_config()
    };
    let e = engine(Arc::new(db.store().await), config);
    let mut a = Client::connect(&e);
    let mut b = Client::connect(&e);
    a.open("d").await;
    b.open("d").await;
    a.type_text("d", "ok");
    assert!(b.until(WAIT, |c| c.text() == "ok").await);
    let garbage = [1u8, 200, 3, 4, 5, 6, 7];
    assert!(matches!(
        a.session.sync("d", SyncMessage::Update(&garbage), Some(9)),
        Err(EngineError::InvalidUpdate(_))
    ));
    assert!(matches!(
        a.session.sync("d", SyncMessage::Step1(&[5, 1]), None),
        Err(EngineError::InvalidUpdate(_))
    ));
    let big = "x".repeat(3_000);
    let err = {
        let text = a.doc.get_or_insert_text("other");
        let mut txn = yrs::Transact::transact_mut(&a.doc);
        yrs::Text::insert(&text, &mut txn, 0, &big);
        let u = txn.encode_update_v1();
        drop(txn);
        a.session.sync("d", SyncMessage::Update(&u), Some(10))
    };
    assert!(
        matches!(err, Err(EngineError::DocTooLarge { .. })),
        "got {err:?}"
    );
    assert!(matches!(
        a.session.sync("nope", SyncMessage::Update(&[0, 0]), None),
        Err(EngineError::DocNotOpen(_))
    ));
    assert!(matches!(
        a.session.open("").await,
        Err(EngineError::InvalidDocName(_))
    ));
    let live = e.live_room("d").expect("room").encode_state();
    assert_eq!(text_of_state(&live), "ok", "doc untouched");
    b.type_text("d", "!");
    assert!(
        a.until(WAIT, |c| c.text() == "ok!").await,
        "the doc goes on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_killed_and_others_are_unaffected() {
    let db = TestDb::sqlite();
    let config = EngineConfig {
        session_queue: 32,
        ..quick_config()
    };
    let e = engine(Arc::new(db.store().await), config);
    let mut writer = Client::connect(&e);
    let mut reader = Client::connect(&e);
    let mut slow = Client::connect(&e);
    writer.open("fast").await;
    reader.open("fast").await;
    slow.open("fast").await;
    for i in 0..200 {
        writer.type_text("fast", &format!("{i},"));
        reader.pump();
        // The writer reads its acks as it goes: only `slow` stops reading.
        writer
            .until(Duration::from_millis(5), |c| c.acks.len() > i)
            .await;
    }
    let (code, _) = tokio::time::timeout(WAIT, slow.events.kill.killed())
        .await
        .expect("slow consumer killed");
    assert_eq!(code, close::SLOW_CONSUMER);
    assert!(e.metrics().slow_consumer_closes.load(Ordering::Relaxed) >= 1);
    assert!(
        reader.until(WAIT, |c| c.text() == writer.text()).await,
        "the reader got everything"
    );
    assert!(
        writer.until(WAIT, |c| c.acks.len() == 200).await,
        "the writer got every ack"
    );
    assert!(!reader.events.kill.is_killed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_on_docs_per_connection_and_connections() {
    let db = TestDb::sqlite();
    let config = EngineConfig {
        max_open_docs: 2,
        max_connections: 3,
        ..quick_config()
    };
    let e = engine(Arc::new(db.store().await), config);
    let mut a = Client::connect(&e);
    a.session.open("one").await.expect("one");
    a.session.open("two").await.expect("two");
    assert!(matches!(
        a.session.open("three").await,
        Err(EngineError::TooManyDocs(2))
    ));
    assert!(matches!(
        a.session.open("one").await,
        Err(EngineError::DocAlreadyOpen(_))
    ));
    let _b = Client::connect(&e);
    let _c = Client::connect(&e);
    assert!(matches!(
        e.connect(),
        Err(EngineError::TooManyConnections(3))
    ));
    drop(a);
    assert!(e.connect().is_ok(), "a freed slot is reusable");
}
