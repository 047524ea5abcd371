//! Webhook endpoints at both doors: every `webhook.*` operation, on twin
//! endpoints of the shop (one per door). The endpoints listen to a type no
//! feature emits and point at a closed port, so no delivery but the test
//! events exists, and what each call answers does not depend on how far
//! their attempts got.

use serde_json::{Value, json};

use crate::runner::{Case, Parity, Side};
use crate::world::{World, params};

use super::str_at;

/// Nothing listens there: attempts fail at once.
const URL: &str = "http://127.0.0.1:9/hooks";

/// Every `webhook.*` operation, on twin endpoints.
pub async fn webhooks(p: &mut Parity, w: &World) {
    let (o, a, v, s) = (
        &w.owner.who(),
        &w.admin.who(),
        &w.viewer.who(),
        &w.stranger.who(),
    );
    let new = w.shop(json!({ "url": URL, "events": ["webhook.parity"], "description": "CRM" }));
    let (r, s_out) = p
        .run(
            Case::twins(
                "a new endpoint",
                "webhook.create",
                Side::new(a, new.clone()),
                Side::new(a, new.clone()),
                "ok",
            )
            .new_id("/id")
            .new_id("/secret"),
        )
        .await;
    let with = |extra: Value| w.shop(extra);
    p.table(
        "webhook.create",
        vec![
            ("by a viewer", v, new.clone(), "forbidden"),
            ("by a stranger", s, new.clone(), "not_found"),
            (
                "an ftp URL",
                o,
                with(json!({ "url": "ftp://example.com/", "events": ["*"] })),
                "invalid_argument",
            ),
            (
                "a malformed event pattern",
                o,
                with(json!({ "url": URL, "events": ["Doc.Created"] })),
                "invalid_argument",
            ),
            (
                "no events",
                o,
                with(json!({ "url": URL, "events": [] })),
                "invalid_argument",
            ),
        ],
    )
    .await;
    let (r_id, s_id) = (
        str_at(r.value().expect("endpoint"), "/id"),
        str_at(s_out.value().expect("endpoint"), "/id"),
    );
    // A call naming this door's endpoint.
    let endpoint = |who, side: &str, extra: Value| {
        let id = if side == "r" { &r_id } else { &s_id };
        let m = w.shop(params("endpoint_id", id, extra));
        Side::new(who, m).sub(id, "<endpoint>")
    };
    let both = |what: &str, method: &'static str, who, extra: Value, expect: &'static str| {
        Case::twins(
            what,
            method,
            endpoint(who, "r", extra.clone()),
            endpoint(who, "s", extra),
            expect,
        )
    };
    let listed = p
        .run(Case::same(
            "the endpoints",
            a,
            "webhook.list",
            w.shop(json!({})),
            "ok",
        ))
        .await;
    let names = listed.0.value().map(|v| v["endpoints"].to_string());
    if !names.is_some_and(|n| n.contains(&r_id) && n.contains(&s_id) && !n.contains("secret")) {
        p.problems.push(format!(
            "[{}] webhook.list should list both endpoints without secrets: {:?}",
            p.label, listed.0
        ));
    }
    p.table(
        "webhook.list",
        vec![
            ("by a viewer", v, w.shop(json!({})), "forbidden"),
            ("by a stranger", s, w.shop(json!({})), "not_found"),
        ],
    )
    .await;

    let change = json!({ "events": ["webhook.parity", "webhook.other"], "description": "" });
    p.run(both(
        "events and note",
        "webhook.update",
        a,
        change.clone(),
        "ok",
    ))
    .await;
    p.run(both(
        "by a viewer",
        "webhook.update",
        v,
        change,
        "forbidden",
    ))
    .await;
    p.run(both(
        "a URL with credentials",
        "webhook.update",
        o,
        json!({ "url": "https://u:p@example.com/" }),
        "invalid_argument",
    ))
    .await;
    let unknown = w.shop(json!({ "endpoint_id": "no-such-endpoint", "active": false }));
    p.run(Case::same(
        "an unknown endpoint",
        o,
        "webhook.update",
        unknown,
        "not_found",
    ))
    .await;

    p.run(both("rotate", "webhook.rotate_secret", o, json!({}), "ok").new_id("/secret"))
        .await;
    p.run(
        both(
            "rotate, the old secret retired now",
            "webhook.rotate_secret",
            a,
            json!({ "keep_previous_hours": 0 }),
            "ok",
        )
        .new_id("/secret"),
    )
    .await;
    p.run(both(
        "an overlap of 73 hours",
        "webhook.rotate_secret",
        o,
        json!({ "keep_previous_hours": 73 }),
        "invalid_argument",
    ))
    .await;
    p.run(both(
        "by a viewer",
        "webhook.rotate_secret",
        v,
        json!({}),
        "forbidden",
    ))
    .await;

    // The logs are empty until the test events.
    p.run(both(
        "an empty log",
        "webhook.deliveries",
        a,
        json!({}),
        "ok",
    ))
    .await;
    p.run(both(
        "failed ones, 5 at most",
        "webhook.deliveries",
        a,
        json!({ "status": "failed", "limit": 5 }),
        "ok",
    ))
    .await;
    p.run(both(
        "a limit of 0",
        "webhook.deliveries",
        a,
        json!({ "limit": 0 }),
        "invalid_argument",
    ))
    .await;
    p.run(both(
        "by a viewer",
        "webhook.deliveries",
        v,
        json!({}),
        "forbidden",
    ))
    .await;

    let (r_test, s_test) = p
        .run(
            both("a test event", "webhook.test", a, json!({}), "ok")
                .new_id("/delivery_id")
                .new_id("/event_id"),
        )
        .await;
    p.run(both(
        "by a viewer",
        "webhook.test",
        v,
        json!({}),
        "forbidden",
    ))
    .await;
    let delivery = |out: &crate::doors::Outcome| {
        let v = out.value().expect("queued");
        (str_at(v, "/delivery_id"), str_at(v, "/event_id"))
    };
    let ((r_del, r_ev), (s_del, s_ev)) = (delivery(&r_test), delivery(&s_test));
    let on_delivery = |who, side: &str| {
        let (d, e) = if side == "r" {
            (&r_del, &r_ev)
        } else {
            (&s_del, &s_ev)
        };
        Side::new(who, w.shop(json!({ "delivery_id": d })))
            .sub(d, "<delivery>")
            .sub(e, "<event>")
    };
    p.run(Case::twins(
        "a test delivery, again",
        "webhook.redeliver",
        on_delivery(a, "r"),
        on_delivery(a, "s"),
        "ok",
    ))
    .await;
    p.run(Case::twins(
        "by a viewer",
        "webhook.redeliver",
        on_delivery(v, "r"),
        on_delivery(v, "s"),
        "forbidden",
    ))
    .await;
    let unknown = w.shop(json!({ "delivery_id": "no-such-delivery" }));
    p.run(Case::same(
        "an unknown delivery",
        o,
        "webhook.redeliver",
        unknown,
        "not_found",
    ))
    .await;

    p.run(both(
        "by a viewer",
        "webhook.delete",
        v,
        json!({}),
        "forbidden",
    ))
    .await;
    p.run(both("delete", "webhook.delete", a, json!({}), "ok"))
        .await;
    p.run(both(
        "delete again",
        "webhook.delete",
        a,
        json!({}),
        "not_found",
    ))
    .await;
}
