//! The endings: `me.delete` (the twins), `business.delete` (the throwaways),
//! the whole audit log, and an unknown method.

use serde_json::json;

use crate::NEW_PASSWORD;
use crate::accounts::{Account, account, rest_ok};
use crate::runner::{Case, Parity, Side};
use crate::world::{Twins, World};

/// `me.delete` (the twins), `business.delete` (the throwaways), the whole
/// audit log, and an unknown method.
pub async fn endings(p: &mut Parity, w: &World, twins: &Twins) {
    let (o, a, s, pa, anon) = (
        &w.owner.who(),
        &w.admin.who(),
        &w.stranger.who(),
        &w.padmin.who(),
        &w.anon,
    );
    p.table(
        "me.delete",
        vec![
            ("the last owner of a business", o, json!({}), "conflict"),
            ("anonymous", anon, json!({}), "unauthorized"),
            (
                "an unknown param",
                s,
                json!({ "now": true }),
                "invalid_argument",
            ),
        ],
    )
    .await;
    let mut signed = Vec::new();
    for t in &twins.0 {
        let login = json!({ "email": t.email, "password": NEW_PASSWORD });
        let r = rest_ok(w.addr, None, "auth.login", login).await;
        signed.push(account(&t.name, &r));
    }
    let by_signed = |t: &Account| signed[usize::from(t.id != twins.0[0].id)].who();
    p.run(twins.case("erase oneself", "me.delete", by_signed, |_| json!({}), "ok"))
        .await;

    p.table(
        "business.delete",
        vec![
            ("as admin", a, w.shop(json!({})), "forbidden"),
            ("as a stranger", s, w.shop(json!({})), "not_found"),
            ("anonymous", anon, w.shop(json!({})), "unauthorized"),
            (
                "an unknown param",
                o,
                w.shop(json!({ "force": true })),
                "invalid_argument",
            ),
        ],
    )
    .await;
    let delete = |i: usize| {
        Side::new(o, json!({ "business_id": w.throwaway[i] })).sub(&w.throwaway[i], "<throwaway>")
    };
    p.run(Case::twins(
        "delete",
        "business.delete",
        delete(0),
        delete(1),
        "ok",
    ))
    .await;
    p.table(
        "business.get",
        vec![(
            "a deleted business",
            o,
            json!({ "business_id": w.throwaway[0] }),
            "not_found",
        )],
    )
    .await;

    // What the platform saw, once everything happened.
    p.table(
        "audit.list",
        vec![("the whole log", pa, json!({ "limit": 500 }), "ok")],
    )
    .await;
    let case = Case::same(
        "an unknown method",
        o,
        "business.explode",
        json!({}),
        "not_found",
    );
    p.run(case).await;
    // (Not an operation: keep it out of the coverage check.)
    p.covered.remove("business.explode");
}
