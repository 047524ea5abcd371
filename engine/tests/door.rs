//! Taking a document out of service (a move or delete) on SQLite and
//! Postgres: a retired name is never loaded again until reinstated, writes to
//! its room are refused while it is out, a reinstated room carries on with
//! its sessions as if nothing happened, and a session left on a retired room
//! is closed at its re-check even when the name is allowed again.

mod support;

use std::sync::Arc;

use goonline_engine::EngineConfig;
use goonline_engine::error::EngineError;
use goonline_engine::testing::{TestDb, each_backend};
use support::{Client, engine};

const W: std::time::Duration = std::time::Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_name_stays_out_until_reinstated_and_its_editors_carry_on() {
    each_backend(|db: TestDb| async move {
        let l = db.label;
        let e = engine(Arc::new(db.store().await), EngineConfig::default());
        let mut a = Client::connect(&e);
        a.open("shop/plan").await;
        let id = a.type_text("shop/plan", "hello");
        assert!(
            a.until(W, |c: &Client| c.acks.contains(&Some(id))).await,
            "[{l}] ack"
        );

        e.retire_doc("shop/plan").await.expect("retire");
        // Nobody loads it meanwhile, by any door.
        let mut b = Client::connect(&e);
        let refused = b.session.open("shop/plan").await;
        assert!(
            matches!(refused, Err(EngineError::Forbidden(_))),
            "[{l}] {refused:?}"
        );
        assert!(
            e.hold_room("shop/plan").await.is_err(),
            "[{l}] REST door refused"
        );
        // Its editor's writes are refused (and kept by the client to resend).
        let upd = {
            use yrs::{Text, Transact};
            let t = a.doc.get_or_insert_text("t");
            let mut txn = a.doc.transact_mut();
            t.insert(&mut txn, 5, " world");
            txn.encode_update_v1()
        };
        let r = a.session.sync(
            "shop/plan",
            goonline_protocol::sync::SyncMessage::Update(&upd),
            Some(99),
        );
        assert!(matches!(r, Err(EngineError::Forbidden(_))), "[{l}] {r:?}");

        // The move did not happen: back in service, the same room and session.
        e.reinstate_doc("shop/plan");
        let r = a.session.sync(
            "shop/plan",
            goonline_protocol::sync::SyncMessage::Update(&upd),
            Some(100),
        );
        assert!(r.is_ok(), "[{l}] {r:?}");
        assert!(
            a.until(W, |c: &Client| c.acks.contains(&Some(100))).await,
            "[{l}] ack after reinstate"
        );
        b.open("shop/plan").await;
        assert!(
            b.until(W, |c: &Client| c.text() == "hello world").await,
            "[{l}] {}",
            b.text()
        );
        assert_eq!(e.load_count(), 1, "[{l}] never loaded twice");

        // Retired again and told to re-check: the session is closed even
        // though the name is allowed (AllowAll), and may open it afresh once
        // reinstated.
        e.retire_doc("shop/plan").await.expect("retire");
        e.recheck_doc_sessions("shop/plan");
        let changes = a.session.recheck_access().await;
        assert_eq!(changes.len(), 1, "[{l}] {changes:?}");
        assert_eq!(changes[0].grant, None, "[{l}] closed");
        assert!(!a.session.is_open("shop/plan"), "[{l}]");
        e.reinstate_doc("shop/plan");
        let mut c = Client::connect(&e);
        c.open("shop/plan").await;
        assert!(
            c.until(W, |c: &Client| c.text() == "hello world").await,
            "[{l}] {}",
            c.text()
        );
    })
    .await;
}
