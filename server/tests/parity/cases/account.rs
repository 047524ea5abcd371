//! Registration (which makes the twins) and the caller's own account:
//! `auth.register`, `me.get`, `me.export`, `business.list`,
//! `agent.attributions`, and params that are not an object.

use serde_json::{Value, json};

use crate::PASSWORD;
use crate::accounts::{account, register_params};
use crate::runner::{Case, Parity, Side};
use crate::world::{Twins, World};

/// `auth.register`: the twins, one through each door; refused registrations.
pub async fn registration(p: &mut Parity, w: &World) -> Twins {
    let anon = &w.anon;
    let emails = ["twin.rest@example.com", "twin.socket@example.com"];
    let side = |e: &str| Side::new(anon, register_params(e)).sub(e, "<twin email>");
    let case = Case::twins(
        "register the twins",
        "auth.register",
        side(emails[0]),
        side(emails[1]),
        "ok",
    )
    .new_id("/user/id");
    let (a, b) = p.run(case).await;
    let twins = Twins([
        account("twin (REST)", a.value().expect("registered")),
        account("twin (socket)", b.value().expect("registered")),
    ]);
    p.table(
        "auth.register",
        vec![
            (
                "an email already registered",
                anon,
                register_params(&w.owner.email),
                "conflict",
            ),
            (
                "a malformed email",
                anon,
                register_params("nope"),
                "invalid_argument",
            ),
            (
                "a short password",
                anon,
                json!({ "email": "s@example.com", "password": "short", "display_name": "S" }),
                "invalid_argument",
            ),
            (
                "no display name",
                anon,
                json!({ "email": "n@example.com", "password": PASSWORD }),
                "invalid_argument",
            ),
        ],
    )
    .await;
    // A signed-in caller may register others (a public operation).
    let o = &w.owner.who();
    let side = |e: &str| Side::new(o, register_params(e)).sub(e, "<other email>");
    let case = Case::twins(
        "a signed-in caller registers someone",
        "auth.register",
        side("other.rest@example.com"),
        side("other.socket@example.com"),
        "ok",
    )
    .new_id("/user/id");
    p.run(case).await;
    twins
}

/// `me.get`, `me.export`, `business.list`, `agent.attributions`, and params
/// that are not an object.
pub async fn own_account(p: &mut Parity, w: &World) {
    let (o, v, pa, s, anon) = (
        &w.owner.who(),
        &w.viewer.who(),
        &w.padmin.who(),
        &w.stranger.who(),
        &w.anon,
    );
    for method in ["me.get", "me.export", "business.list", "agent.attributions"] {
        p.table(
            method,
            vec![
                ("own", o, json!({}), "ok"),
                ("own, no params at all", v, Value::Null, "ok"),
                ("own", pa, json!({}), "ok"),
                ("own", anon, json!({}), "unauthorized"),
                (
                    "an unknown param",
                    s,
                    json!({ "page": 2 }),
                    "invalid_argument",
                ),
            ],
        )
        .await;
    }
    p.run(Case::same("a read ignores a key", o, "business.list", json!({}), "ok").key("read-key"))
        .await;
    p.table(
        "me.get",
        vec![
            ("params that are an array", o, json!([]), "invalid_argument"),
            (
                "params that are a string",
                o,
                json!("me"),
                "invalid_argument",
            ),
            (
                "params that are an array",
                anon,
                json!(["x"]),
                "invalid_argument",
            ),
        ],
    )
    .await;
    p.table(
        "business.get",
        vec![(
            "params that are an array",
            o,
            json!([w.shop]),
            "invalid_argument",
        )],
    )
    .await;
}
