//! Memberships, the twins as targets: `member.add`, `member.set_role`,
//! `member.remove`, `member.leave`.

use serde_json::json;

use crate::accounts::{Account, rest_ok};
use crate::runner::Parity;
use crate::world::{Twins, World};

/// `member.add`, `member.set_role`, `member.remove`, `member.leave`, the twins
/// as targets.
pub async fn members(p: &mut Parity, w: &World, twins: &Twins) {
    let (o, a, v, s, anon) = (
        &w.owner.who(),
        &w.admin.who(),
        &w.viewer.who(),
        &w.stranger.who(),
        &w.anon,
    );
    let admin = |_: &Account| w.admin.who();
    let add = |email: &str, role: &str| w.shop(json!({ "email": email, "role": role }));
    p.run(twins.case(
        "add a twin",
        "member.add",
        admin,
        |t| add(&t.email, "agent"),
        "ok",
    ))
    .await;
    let se = &w.stranger.email;
    p.table(
        "member.add",
        vec![
            (
                "add a member again",
                o,
                add(&w.viewer.email, "viewer"),
                "conflict",
            ),
            (
                "add an unknown account",
                o,
                add("nobody@example.com", "viewer"),
                "invalid_argument",
            ),
            (
                "add a malformed email",
                o,
                add("x", "viewer"),
                "invalid_argument",
            ),
            (
                "add with an unknown role",
                o,
                add(se, "emperor"),
                "invalid_argument",
            ),
            (
                "add without a role",
                o,
                w.shop(json!({ "email": se })),
                "invalid_argument",
            ),
            ("admin adds an owner", a, add(se, "owner"), "forbidden"),
            ("viewer adds", v, add(se, "viewer"), "forbidden"),
            ("stranger adds", s, add(se, "viewer"), "not_found"),
            ("anonymous adds", anon, add(se, "viewer"), "unauthorized"),
        ],
    )
    .await;
    p.table(
        "member.list",
        vec![
            ("after adding", o, w.shop(json!({})), "ok"),
            ("after adding", v, w.shop(json!({})), "ok"),
        ],
    )
    .await;

    let role = |user: &str, role: &str| w.member(user, json!({ "role": role }));
    let set = |t: &Account| role(&t.id, "viewer");
    p.run(twins.case("demote a twin", "member.set_role", admin, set, "ok"))
        .await;
    p.table(
        "member.set_role",
        vec![
            (
                "a non-member",
                o,
                role(&w.stranger.id, "agent"),
                "not_found",
            ),
            (
                "an unknown user",
                o,
                role("no-such-user", "agent"),
                "not_found",
            ),
            (
                "an unknown role",
                o,
                role(&w.viewer.id, "boss"),
                "invalid_argument",
            ),
            (
                "no user",
                o,
                w.shop(json!({ "role": "agent" })),
                "invalid_argument",
            ),
            (
                "demote the last owner",
                o,
                role(&w.owner.id, "viewer"),
                "conflict",
            ),
            (
                "admin demotes the owner",
                a,
                role(&w.owner.id, "viewer"),
                "forbidden",
            ),
            (
                "viewer demotes the admin",
                v,
                role(&w.admin.id, "viewer"),
                "forbidden",
            ),
            (
                "stranger demotes the admin",
                s,
                role(&w.admin.id, "viewer"),
                "not_found",
            ),
        ],
    )
    .await;

    let remove = |t: &Account| w.member(&t.id, json!({}));
    p.run(twins.case("remove a twin", "member.remove", admin, remove, "ok"))
        .await;
    p.table(
        "member.remove",
        vec![
            (
                "a non-member",
                o,
                w.member(&w.stranger.id, json!({})),
                "not_found",
            ),
            (
                "the last owner",
                o,
                w.member(&w.owner.id, json!({})),
                "conflict",
            ),
            (
                "viewer removes the admin",
                v,
                w.member(&w.admin.id, json!({})),
                "forbidden",
            ),
            ("no user", o, w.shop(json!({})), "invalid_argument"),
            (
                "a malformed user id",
                o,
                w.member("not an id!", json!({})),
                "invalid_argument",
            ),
        ],
    )
    .await;

    // Each twin, a viewer again, leaves through its own door.
    for t in &twins.0 {
        rest_ok(
            w.addr,
            o.token.as_deref(),
            "member.add",
            add(&t.email, "viewer"),
        )
        .await;
    }
    let leave = |_: &Account| w.shop(json!({}));
    p.run(twins.case("leave", "member.leave", Account::who, leave, "ok"))
        .await;
    p.table(
        "member.leave",
        vec![
            ("the last owner", o, w.shop(json!({})), "conflict"),
            ("a stranger", s, w.shop(json!({})), "not_found"),
            ("anonymous", anon, w.shop(json!({})), "unauthorized"),
            (
                "an unknown param",
                v,
                w.shop(json!({ "why": "bored" })),
                "invalid_argument",
            ),
        ],
    )
    .await;
}
