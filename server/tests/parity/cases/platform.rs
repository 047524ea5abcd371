//! Platform administration: `business.verify`, `user.suspend`,
//! `user.unsuspend`, `audit.list`, and a platform admin demoted mid-session.

use serde_json::json;

use crate::accounts::Account;
use crate::common::TestServer;
use crate::runner::{Case, Parity, Side};
use crate::world::{Twins, World};

/// `business.verify`, `user.suspend`, `user.unsuspend`, `audit.list`.
pub async fn platform_admin(p: &mut Parity, w: &World, twins: &Twins) {
    let (o, v, pa, anon) = (&w.owner.who(), &w.viewer.who(), &w.padmin.who(), &w.anon);
    let verify = |i: usize| {
        Side::new(pa, json!({ "business_id": w.throwaway[i] })).sub(&w.throwaway[i], "<throwaway>")
    };
    p.run(Case::twins(
        "verify",
        "business.verify",
        verify(0),
        verify(1),
        "ok",
    ))
    .await;
    let no_such = json!({ "business_id": "no-such-business" });
    p.table(
        "business.verify",
        vec![
            ("not a platform admin", o, w.shop(json!({})), "forbidden"),
            ("anonymous", anon, w.shop(json!({})), "unauthorized"),
            ("an unknown business", pa, no_such, "not_found"),
            ("no business", pa, json!({}), "invalid_argument"),
        ],
    )
    .await;
    for method in ["user.suspend", "user.unsuspend"] {
        let user = |t: &Account| json!({ "user_id": t.id });
        p.run(twins.case("a twin", method, |_| w.padmin.who(), user, "ok"))
            .await;
        let viewer = json!({ "user_id": w.viewer.id });
        p.table(
            method,
            vec![
                ("not a platform admin", o, viewer.clone(), "forbidden"),
                ("anonymous", anon, viewer, "unauthorized"),
                (
                    "an unknown user",
                    pa,
                    json!({ "user_id": "no-such-user" }),
                    "not_found",
                ),
                (
                    "a numeric user id",
                    pa,
                    json!({ "user_id": 7 }),
                    "invalid_argument",
                ),
            ],
        )
        .await;
    }
    p.table(
        "audit.list",
        vec![
            ("the newest entries", pa, json!({}), "ok"),
            ("a page of 3", pa, json!({ "limit": 3 }), "ok"),
            ("a page of 2, as text", pa, json!({ "limit": "2" }), "ok"),
            ("one action", pa, json!({ "action": "auth.register" }), "ok"),
            ("before an id", pa, json!({ "before": 5, "limit": 2 }), "ok"),
            // (Out-of-range limits are clamped to 1..=500, not refused.)
            (
                "a limit of 0",
                pa,
                json!({ "limit": 0 }),
                "invalid_argument",
            ),
            (
                "a limit of 501",
                pa,
                json!({ "limit": 501 }),
                "invalid_argument",
            ),
            (
                "a limit that is not a number",
                pa,
                json!({ "limit": "many" }),
                "invalid_argument",
            ),
            ("not a platform admin", v, json!({}), "forbidden"),
            ("anonymous", anon, json!({}), "unauthorized"),
        ],
    )
    .await;
}

/// A platform admin demoted in the database: the flag is read at each call, so
/// both doors refuse at once (the socket signed in while the user was admin).
pub async fn demotion(p: &mut Parity, w: &World, server: &TestServer) {
    let pa = &w.padmin.who();
    p.sockets.ready(pa.token.as_deref()).await;
    let store = server.db.store().await;
    sqlx::query("UPDATE users SET platform_admin = 0 WHERE id = $1")
        .bind(&w.padmin.id)
        .execute(store.pool())
        .await
        .expect("demote");
    p.table(
        "audit.list",
        vec![("after a demotion", pa, json!({ "limit": 1 }), "forbidden")],
    )
    .await;
    p.table("me.get", vec![("after a demotion", pa, json!({}), "ok")])
        .await;
}
