//! Document versions at both doors: every `version.*` operation, on twin
//! documents (one per door) so both doors start from the same state.

use serde_json::{Value, json};

use crate::runner::{Case, Parity, Side};
use crate::world::{World, params};

use super::str_at;

/// Every `version.*` operation, on twin documents.
pub async fn versions(p: &mut Parity, w: &World) {
    let (a, v, s) = (&w.admin.who(), &w.viewer.who(), &w.stranger.who());
    let doc = |side: &str| format!("biz/{}/notes-{side}", w.shop);
    let on_doc = |who, side: &str, extra: Value| {
        Side::new(who, params("doc", &doc(side), extra)).sub(&format!("notes-{side}"), "<doc>")
    };
    let label = json!({ "label": "Before the price change" });
    let (r, s_out) = p
        .run(
            Case::twins(
                "a named version",
                "version.create",
                on_doc(a, "r", label.clone()),
                on_doc(a, "s", label.clone()),
                "ok",
            )
            .new_id("/id"),
        )
        .await;
    let mut refused = json!({ "doc": doc("r") });
    if let (Value::Object(m), Value::Object(x)) = (&mut refused, label) {
        m.extend(x);
    }
    p.table(
        "version.create",
        vec![
            ("by a viewer", v, refused.clone(), "forbidden"),
            ("by a stranger", s, refused, "not_found"),
            (
                "outside the namespaces",
                a,
                json!({ "doc": "notes", "label": "x" }),
                "invalid_argument",
            ),
        ],
    )
    .await;
    let (r_id, s_id) = (
        str_at(r.value().expect("version"), "/id"),
        str_at(s_out.value().expect("version"), "/id"),
    );
    // A call naming this side's version.
    let version = |who, side: &str, key: &str, extra: Value| {
        let id = if side == "r" { &r_id } else { &s_id };
        on_doc(who, side, params(key, id, extra)).sub(id, "<version>")
    };
    p.run(Case::twins(
        "the versions of a document",
        "version.list",
        on_doc(v, "r", json!({})).sub(&r_id, "<version>"),
        on_doc(v, "s", json!({})).sub(&s_id, "<version>"),
        "ok",
    ))
    .await;
    p.run(Case::same(
        "by a stranger",
        s,
        "version.list",
        json!({ "doc": doc("r") }),
        "not_found",
    ))
    .await;
    for format in ["json", "update", "update_v2"] {
        p.run(Case::twins(
            &format!("a version's content as {format}"),
            "version.get",
            version(v, "r", "version_id", json!({ "format": format })),
            version(v, "s", "version_id", json!({ "format": format })),
            "ok",
        ))
        .await;
    }
    p.run(Case::same(
        "an unknown version",
        v,
        "version.get",
        json!({ "doc": doc("r"), "version_id": "no-such-version" }),
        "not_found",
    ))
    .await;
    p.run(Case::twins(
        "a version against the current document",
        "version.diff",
        version(v, "r", "from", json!({ "to": "current" })),
        version(v, "s", "from", json!({ "to": "current" })),
        "ok",
    ))
    .await;
    p.run(Case::same(
        "by a stranger",
        s,
        "version.diff",
        json!({ "doc": doc("r"), "from": r_id }),
        "not_found",
    ))
    .await;
    p.run(Case::twins(
        "by a viewer",
        "version.restore",
        version(v, "r", "version_id", json!({})),
        version(v, "s", "version_id", json!({})),
        "forbidden",
    ))
    .await;
    p.run(Case::twins(
        "content already equal: nothing changes",
        "version.restore",
        version(a, "r", "version_id", json!({})),
        version(a, "s", "version_id", json!({})),
        "ok",
    ))
    .await;
}
