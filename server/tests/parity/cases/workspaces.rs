//! Workspaces, documents, guests and storage at both doors: every
//! `workspace.*`, `doc.*` (of the workspaces service), `guest.*` operation and
//! `business.storage`. Creations and changes with a fresh outcome run on twin
//! targets (two workspaces, two documents, two guests); changes that are the
//! same whoever repeats them (archive, delete, a guest's access) run as the
//! same call at both doors, the second finding the first's outcome.

use serde_json::{Value, json};

use crate::accounts::rest_ok;
use crate::runner::{Case, Parity, Side};
use crate::world::{World, params};

use super::str_at;

mod guests;

use guests::guests;

/// Twin targets: this door's id (`r` for REST, `s` for the socket).
struct Pair {
    r: String,
    s: String,
}

impl Pair {
    fn get(&self, side: &str) -> &str {
        if side == "r" { &self.r } else { &self.s }
    }
}

/// Every workspace, document, guest and storage operation. (Each part
/// boxed: one future this size overflows the test thread's stack.)
pub async fn workspaces(p: &mut Parity, w: &World) {
    let ws = Box::pin(workspace_cases(p, w)).await;
    Box::pin(doc_cases(p, w, &ws)).await;
    Box::pin(guests(p, w, &ws)).await;
    Box::pin(archive_and_storage(p, w, &ws)).await;
}

/// `workspace.create`, `.rename` and `.list`; returns the twin workspaces.
async fn workspace_cases(p: &mut Parity, w: &World) -> Pair {
    let (o, a, v, s) = (
        &w.owner.who(),
        &w.admin.who(),
        &w.viewer.who(),
        &w.stranger.who(),
    );
    let shop = |extra: Value| w.shop(extra);

    // Workspaces: twins, then the same calls.
    let (r, s_out) = p
        .run(
            Case::twins(
                "a new workspace",
                "workspace.create",
                Side::new(o, shop(json!({ "name": "Campaign" }))),
                Side::new(o, shop(json!({ "name": "Campaign" }))),
                "ok",
            )
            .new_id("/id"),
        )
        .await;
    let ws = Pair {
        r: str_at(r.value().expect("workspace"), "/id"),
        s: str_at(s_out.value().expect("workspace"), "/id"),
    };
    let on_ws = |who, side: &str, extra: Value| {
        let id = ws.get(side);
        Side::new(who, shop(params("workspace_id", id, extra))).sub(id, "<ws>")
    };
    p.table(
        "workspace.create",
        vec![
            ("by a viewer", v, shop(json!({ "name": "X" })), "forbidden"),
            (
                "by a stranger",
                s,
                shop(json!({ "name": "X" })),
                "not_found",
            ),
        ],
    )
    .await;
    let rename = json!({ "name": "Campaign 2025" });
    p.run(Case::twins(
        "rename",
        "workspace.rename",
        on_ws(a, "r", rename.clone()),
        on_ws(a, "s", rename.clone()),
        "ok",
    ))
    .await;
    p.table(
        "workspace.rename",
        vec![(
            "by a viewer",
            v,
            shop(params("workspace_id", &ws.r, rename)),
            "forbidden",
        )],
    )
    .await;
    p.table(
        "workspace.list",
        vec![
            ("by a viewer", v, shop(json!({})), "ok"),
            ("by a stranger", s, shop(json!({})), "not_found"),
        ],
    )
    .await;
    ws
}

/// The `doc.*` operations, on twin documents in the twin workspaces.
async fn doc_cases(p: &mut Parity, w: &World, ws: &Pair) {
    let (o, a, v, s) = (
        &w.owner.who(),
        &w.admin.who(),
        &w.viewer.who(),
        &w.stranger.who(),
    );
    let shop = |extra: Value| w.shop(extra);
    let on_ws = |who, side: &str, extra: Value| {
        let id = ws.get(side);
        Side::new(who, shop(params("workspace_id", id, extra))).sub(id, "<ws>")
    };
    let kind = json!({ "title": "Plan", "kind": "table" });
    let (r, s_out) = p
        .run(
            Case::twins(
                "a new document",
                "doc.create",
                on_ws(a, "r", kind.clone()),
                on_ws(a, "s", kind.clone()),
                "ok",
            )
            .new_id("/id"),
        )
        .await;
    let docs = Pair {
        r: str_at(r.value().expect("doc"), "/name"),
        s: str_at(s_out.value().expect("doc"), "/name"),
    };
    let in_r = |extra: Value| shop(params("workspace_id", &ws.r, extra));
    p.table(
        "doc.create",
        vec![
            ("by a viewer", v, in_r(kind.clone()), "forbidden"),
            ("by a stranger", s, in_r(kind), "not_found"),
            (
                "of an unknown kind",
                o,
                in_r(json!({ "title": "Plan", "kind": "spreadsheet" })),
                "invalid_argument",
            ),
        ],
    )
    .await;
    p.table(
        "doc.list",
        vec![
            ("by a viewer", v, in_r(json!({})), "ok"),
            ("by a stranger", s, in_r(json!({})), "not_found"),
        ],
    )
    .await;
    let doc_r = |extra: Value| params("doc", &docs.r, extra);
    p.table(
        "doc.info",
        vec![
            ("by a viewer", v, doc_r(json!({})), "ok"),
            ("by a stranger", s, doc_r(json!({})), "not_found"),
        ],
    )
    .await;
    // A call naming this side's document (its name holds its workspace and id).
    let on_doc = |who, side: &str, name: &str, extra: Value| {
        let id = name.rsplit('/').next().unwrap_or_default().to_string();
        Side::new(who, params("doc", name, extra))
            .sub(&id, "<doc id>")
            .sub(ws.get(side), "<ws>")
    };
    let title = json!({ "title": "Plan B" });
    p.run(Case::twins(
        "rename",
        "doc.rename",
        on_doc(a, "r", &docs.r, title.clone()),
        on_doc(a, "s", &docs.s, title.clone()),
        "ok",
    ))
    .await;
    p.table(
        "doc.rename",
        vec![("by a viewer", v, doc_r(title), "forbidden")],
    )
    .await;
    p.table(
        "doc.archive",
        vec![
            ("by a viewer", v, doc_r(json!({})), "forbidden"),
            (
                "archive (again at the second door)",
                a,
                doc_r(json!({})),
                "ok",
            ),
        ],
    )
    .await;
    p.table(
        "doc.unarchive",
        vec![
            ("by a stranger", s, doc_r(json!({})), "not_found"),
            (
                "unarchive (again at the second door)",
                a,
                doc_r(json!({})),
                "ok",
            ),
        ],
    )
    .await;

    // Moves: both documents to one other workspace.
    let stock = str_at(
        &rest_ok(
            w.addr,
            w.owner.token(),
            "workspace.create",
            shop(json!({ "name": "Stock" })),
        )
        .await,
        "/id",
    );
    let to_stock = json!({ "workspace_id": stock });
    p.table(
        "doc.move",
        vec![("by a viewer", v, doc_r(to_stock.clone()), "forbidden")],
    )
    .await;
    let (r, s_out) = p
        .run(Case::twins(
            "move",
            "doc.move",
            on_doc(a, "r", &docs.r, to_stock.clone()),
            on_doc(a, "s", &docs.s, to_stock.clone()),
            "ok",
        ))
        .await;
    p.table(
        "doc.move",
        vec![(
            "from a name it moved away from",
            a,
            doc_r(to_stock),
            "not_found",
        )],
    )
    .await;
    let docs = Pair {
        r: str_at(r.value().expect("moved"), "/name"),
        s: str_at(s_out.value().expect("moved"), "/name"),
    };
    let doc_s = |extra: Value| params("doc", &docs.s, extra);
    p.table(
        "doc.delete",
        vec![
            ("by a viewer", v, doc_s(json!({})), "forbidden"),
            (
                "delete (again at the second door)",
                o,
                doc_s(json!({})),
                "ok",
            ),
        ],
    )
    .await;
    p.table(
        "doc.trash",
        vec![
            ("by a viewer", v, shop(json!({})), "forbidden"),
            ("the trash", o, shop(json!({})), "ok"),
        ],
    )
    .await;
    p.table(
        "doc.undelete",
        vec![
            (
                "by a viewer (a deleted document is not theirs to see)",
                v,
                doc_s(json!({})),
                "not_found",
            ),
            (
                "undelete (again at the second door)",
                a,
                doc_s(json!({})),
                "ok",
            ),
        ],
    )
    .await;
}

/// `workspace.archive`, `.unarchive` and `business.storage`.
async fn archive_and_storage(p: &mut Parity, w: &World, ws: &Pair) {
    let (o, a, v, s) = (
        &w.owner.who(),
        &w.admin.who(),
        &w.viewer.who(),
        &w.stranger.who(),
    );
    let shop = |extra: Value| w.shop(extra);
    let ws_r = |extra: Value| shop(params("workspace_id", &ws.r, extra));
    p.table(
        "workspace.archive",
        vec![
            ("by a viewer", v, ws_r(json!({})), "forbidden"),
            (
                "archive (again at the second door)",
                o,
                ws_r(json!({})),
                "ok",
            ),
        ],
    )
    .await;
    p.table(
        "workspace.unarchive",
        vec![
            ("by a stranger", s, ws_r(json!({})), "not_found"),
            (
                "unarchive (again at the second door)",
                a,
                ws_r(json!({})),
                "ok",
            ),
        ],
    )
    .await;
    p.table(
        "business.storage",
        vec![
            ("by a viewer", v, shop(json!({})), "forbidden"),
            ("by the owner", o, shop(json!({})), "ok"),
        ],
    )
    .await;
}
