//! The REST door to documents at both doors: `doc.get`, `doc.state_vector`
//! and `doc.apply`, with their refusals and bad input.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use yrs::{Doc, Text, Transact};

use crate::runner::Parity;
use crate::world::World;

/// Every `doc.*` door operation.
pub async fn door(p: &mut Parity, w: &World) {
    let (o, v, s, a) = (&w.owner.who(), &w.viewer.who(), &w.stranger.who(), &w.anon);
    let doc = format!("biz/{}/door", w.shop);
    let update = {
        let d = Doc::with_client_id(77);
        let t = d.get_or_insert_text("t");
        let mut txn = d.transact_mut();
        t.insert(&mut txn, 0, "hello");
        STANDARD.encode(txn.encode_update_v1())
    };
    // Applying the same update twice changes the document once: both doors
    // answer with the same sequence number.
    p.table(
        "doc.apply",
        vec![
            (
                "an update",
                o,
                json!({ "doc": doc, "update": update }),
                "ok",
            ),
            (
                "by a viewer",
                v,
                json!({ "doc": doc, "update": update }),
                "forbidden",
            ),
            (
                "by a stranger",
                s,
                json!({ "doc": doc, "update": update }),
                "not_found",
            ),
            (
                "signed out",
                a,
                json!({ "doc": doc, "update": update }),
                "unauthorized",
            ),
            (
                "malformed",
                o,
                json!({ "doc": doc, "update": STANDARD.encode([0xffu8, 0xff]) }),
                "invalid_argument",
            ),
            (
                "not base64",
                o,
                json!({ "doc": doc, "update": "***" }),
                "invalid_argument",
            ),
            (
                "an unknown field",
                o,
                json!({ "doc": doc, "update": update, "encoding": "v9" }),
                "invalid_argument",
            ),
            ("no update", o, json!({ "doc": doc }), "invalid_argument"),
        ],
    )
    .await;
    p.table(
        "doc.get",
        vec![
            ("as JSON", v, json!({ "doc": doc, "format": "json" }), "ok"),
            ("as a v1 update", o, json!({ "doc": doc }), "ok"),
            (
                "as a v2 update",
                o,
                json!({ "doc": doc, "format": "update_v2" }),
                "ok",
            ),
            ("by a stranger", s, json!({ "doc": doc }), "not_found"),
            ("signed out", a, json!({ "doc": doc }), "unauthorized"),
            (
                "bad format",
                o,
                json!({ "doc": doc, "format": "xml" }),
                "invalid_argument",
            ),
            (
                "bad state vector",
                o,
                json!({ "doc": doc, "state_vector": "/////w==" }),
                "invalid_argument",
            ),
            ("malformed name", o, json!({ "doc": "biz//x" }), "not_found"),
        ],
    )
    .await;
    p.table(
        "doc.state_vector",
        vec![
            ("by a viewer", v, json!({ "doc": doc }), "ok"),
            ("by a stranger", s, json!({ "doc": doc }), "not_found"),
            ("no doc", o, json!({}), "invalid_argument"),
        ],
    )
    .await;
}
