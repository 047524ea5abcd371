//! Comment threads at both doors: every `comment.*` operation, on twin
//! documents (one per door) so both doors start from the same state.

use serde_json::{Value, json};

use crate::runner::{Case, Parity, Side};
use crate::world::{World, params};

use super::str_at;

/// Every `comment.*` operation, on twin documents.
pub async fn comments(p: &mut Parity, w: &World) {
    let (o, a, v, s) = (
        &w.owner.who(),
        &w.admin.who(),
        &w.viewer.who(),
        &w.stranger.who(),
    );
    let doc = |side: &str| format!("biz/{}/plan-{side}", w.shop);
    let on_doc = |who, side: &str, extra: Value| {
        let m = params("doc", &doc(side), extra);
        Side::new(who, m).sub(&format!("plan-{side}"), "<doc>")
    };
    let body = json!({ "body": "Check the <i>prices</i>", "anchor": "AQIDBA==" });
    let (r, s_out) = p
        .run(
            Case::twins(
                "a new thread",
                "comment.thread.create",
                on_doc(a, "r", body.clone()),
                on_doc(a, "s", body.clone()),
                "ok",
            )
            .new_id("/id")
            .new_id("/comments/0/id"),
        )
        .await;
    p.run(Case::same(
        "by a viewer",
        v,
        "comment.thread.create",
        json!({ "doc": doc("r"), "body": "x" }),
        "forbidden",
    ))
    .await;
    p.run(Case::same(
        "by a stranger",
        s,
        "comment.thread.create",
        json!({ "doc": doc("r"), "body": "x" }),
        "not_found",
    ))
    .await;
    p.run(Case::same(
        "outside the namespaces",
        o,
        "comment.thread.create",
        json!({ "doc": "notes", "body": "x" }),
        "invalid_argument",
    ))
    .await;
    let ids = |out: &crate::doors::Outcome| {
        let v = out.value().expect("thread");
        (str_at(v, "/id"), str_at(v, "/comments/0/id"))
    };
    let ((r_thread, r_comment), (s_thread, s_comment)) = (ids(&r), ids(&s_out));
    // A call naming this side's thread (`thread_id`) or first comment
    // (`comment_id`), both standing for the same thing at each door.
    let target = |key: &str, who, side: &str, extra: Value| {
        let (t, c) = if side == "r" {
            (&r_thread, &r_comment)
        } else {
            (&s_thread, &s_comment)
        };
        let id = if key == "thread_id" { t } else { c };
        Side::new(who, params(key, id, extra))
            .sub(t, "<thread>")
            .sub(c, "<comment>")
            .sub(&format!("plan-{side}"), "<doc>")
    };
    let thread = |who, side: &str, extra: Value| target("thread_id", who, side, extra);
    let comment = |who, side: &str, extra: Value| target("comment_id", who, side, extra);
    let reply = json!({ "body": "Done" });
    let (r_reply, s_reply) = p
        .run(
            Case::twins(
                "a reply",
                "comment.reply",
                thread(o, "r", reply.clone()),
                thread(o, "s", reply),
                "ok",
            )
            .new_id("/id"),
        )
        .await;
    let (r_reply, s_reply) = (
        str_at(r_reply.value().expect("reply"), "/id"),
        str_at(s_reply.value().expect("reply"), "/id"),
    );
    // Later results list the reply too: its id is each side's own.
    let thread = |who, side: &str, extra: Value| {
        let reply = if side == "r" { &r_reply } else { &s_reply };
        thread(who, side, extra).sub(reply, "<reply>")
    };
    let edit = json!({ "body": "Check the prices today" });
    p.run(Case::twins(
        "the author edits",
        "comment.edit",
        comment(a, "r", edit.clone()),
        comment(a, "s", edit.clone()),
        "ok",
    ))
    .await;
    p.run(Case::twins(
        "another member edits",
        "comment.edit",
        comment(o, "r", edit.clone()),
        comment(o, "s", edit),
        "forbidden",
    ))
    .await;
    p.run(Case::twins(
        "resolve",
        "comment.resolve",
        thread(o, "r", json!({})),
        thread(o, "s", json!({})),
        "ok",
    ))
    .await;
    p.run(Case::twins(
        "a viewer reopens",
        "comment.reopen",
        thread(v, "r", json!({})),
        thread(v, "s", json!({})),
        "forbidden",
    ))
    .await;
    p.run(Case::twins(
        "reopen",
        "comment.reopen",
        thread(a, "r", json!({})),
        thread(a, "s", json!({})),
        "ok",
    ))
    .await;
    p.run(Case::twins(
        "the author deletes",
        "comment.delete",
        comment(a, "r", json!({})),
        comment(a, "s", json!({})),
        "ok",
    ))
    .await;
    p.run(Case::twins(
        "the threads of a document",
        "comment.list",
        on_doc(v, "r", json!({ "include_resolved": true }))
            .sub(&r_thread, "<thread>")
            .sub(&r_comment, "<comment>")
            .sub(&r_reply, "<reply>"),
        on_doc(v, "s", json!({ "include_resolved": true }))
            .sub(&s_thread, "<thread>")
            .sub(&s_comment, "<comment>")
            .sub(&s_reply, "<reply>"),
        "ok",
    ))
    .await;
    p.run(Case::same(
        "by a stranger",
        s,
        "comment.list",
        json!({ "doc": doc("r") }),
        "not_found",
    ))
    .await;
}
