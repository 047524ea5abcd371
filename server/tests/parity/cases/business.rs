//! A business read and changed: `business.get`, `member.list`,
//! `business.update`, `business.create` (with idempotency keys, and for another
//! owner, with or without an account), `agent.attributions` after onboarding.

use serde_json::{Value, json};

use crate::accounts::Who;
use crate::runner::{Case, Parity, Side};
use crate::world::World;

/// `business.get`, `member.list`, `business.update`, `business.create`,
/// `agent.attributions` after onboarding.
pub async fn business_reads_and_changes(p: &mut Parity, w: &World) {
    let (o, a, v, s, pa, anon) = (
        &w.owner.who(),
        &w.admin.who(),
        &w.viewer.who(),
        &w.stranger.who(),
        &w.padmin.who(),
        &w.anon,
    );
    for method in ["business.get", "member.list"] {
        let no_such = json!({ "business_id": "no-such-business" });
        let long = json!({ "business_id": "b".repeat(65) });
        p.table(
            method,
            vec![
                ("the shop", o, w.shop(json!({})), "ok"),
                ("the shop", a, w.shop(json!({})), "ok"),
                ("the shop", v, w.shop(json!({})), "ok"),
                ("the shop", s, w.shop(json!({})), "not_found"),
                ("the shop, not a member", pa, w.shop(json!({})), "not_found"),
                ("the shop", anon, w.shop(json!({})), "unauthorized"),
                ("an unknown business", o, no_such, "not_found"),
                (
                    "a numeric business id",
                    o,
                    json!({ "business_id": 42 }),
                    "invalid_argument",
                ),
                ("no business id", o, json!({}), "invalid_argument"),
                (
                    "a business id of 65 characters",
                    o,
                    long,
                    "invalid_argument",
                ),
                (
                    "an unknown param",
                    o,
                    w.shop(json!({ "limit": 3 })),
                    "invalid_argument",
                ),
            ],
        )
        .await;
    }

    let rename = |name: &str| w.shop(json!({ "name": name }));
    p.table(
        "business.update",
        vec![
            ("rename", a, rename("Parity Shop"), "ok"),
            ("rename", v, rename("Mine Now"), "forbidden"),
            ("rename", s, rename("Mine Now"), "not_found"),
            ("rename", anon, rename("Mine Now"), "unauthorized"),
            ("a blank name", o, rename("   "), "invalid_argument"),
            (
                "a name of 121 characters",
                o,
                rename(&"n".repeat(121)),
                "invalid_argument",
            ),
            (
                "a numeric name",
                o,
                w.shop(json!({ "name": 7 })),
                "invalid_argument",
            ),
        ],
    )
    .await;
    for (what, key) in [
        ("an empty idempotency key", String::new()),
        ("an idempotency key of 256 bytes", "k".repeat(256)),
    ] {
        let case = Case::same(
            what,
            a,
            "business.update",
            rename("Parity Shop"),
            "invalid_argument",
        );
        p.run(case.key(&key)).await;
    }

    let create = |name: &str| json!({ "name": name });
    let twin_create = |what: &str, who: &Who, params: Value| {
        Case::twins(
            what,
            "business.create",
            Side::new(who, params.clone()),
            Side::new(who, params),
            "ok",
        )
        .new_id("/id")
    };
    p.run(twin_create("create", o, create("Parity Co"))).await;
    // One key at both doors: the socket gets what REST created, replayed.
    let keyed = Case::same(
        "create with a key",
        o,
        "business.create",
        create("Keyed"),
        "ok",
    );
    p.run(keyed.key("parity-create-1")).await;
    let other = Case::same(
        "the same key with other params",
        o,
        "business.create",
        create("Other"),
        "conflict",
    );
    p.run(other.key("parity-create-1")).await;
    // An agent onboarding a business for its owner.
    let onboard = json!({ "name": "Onboarded", "owner_email": w.owner.email });
    p.run(twin_create("create for another owner", s, onboard))
        .await;
    p.table(
        "agent.attributions",
        vec![("after onboarding twice", s, json!({}), "ok")],
    )
    .await;
    // An owner without an account yet: the business has no owner until one
    // accepts an invitation (see `invitations`).
    let nobody = json!({ "name": "Kiosk", "owner_email": "nobody@example.com" });
    p.run(twin_create(
        "create for an owner without an account",
        s,
        nobody,
    ))
    .await;
    p.table(
        "business.create",
        vec![
            ("anonymous", anon, create("Nope"), "unauthorized"),
            ("no name", o, json!({}), "invalid_argument"),
            (
                "a numeric name",
                o,
                json!({ "name": 5 }),
                "invalid_argument",
            ),
            (
                "a malformed owner email",
                o,
                json!({ "name": "X", "owner_email": "x" }),
                "invalid_argument",
            ),
            ("no params at all", o, Value::Null, "invalid_argument"),
        ],
    )
    .await;
    p.table(
        "business.list",
        vec![("after creating", o, json!({}), "ok")],
    )
    .await;
}
