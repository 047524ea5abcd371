//! Signing in and out, each twin through its own door: `auth.login`,
//! `auth.refresh`, `auth.change_password`, `auth.logout`.

use serde_json::json;

use crate::accounts::{Account, Who};
use crate::runner::Parity;
use crate::world::{Twins, World};
use crate::{NEW_PASSWORD, PASSWORD};

/// `auth.login`, `auth.refresh`, `auth.change_password`, `auth.logout`: each
/// twin through its own door (the twins are signed out by their suspension).
pub async fn sign_in_and_out(p: &mut Parity, w: &World, twins: &Twins) {
    let anon = &w.anon;
    let login = |email: &str, password: &str| json!({ "email": email, "password": password });
    let (l1, l2) = p
        .run(twins.case(
            "sign in",
            "auth.login",
            |_| Who::anonymous(),
            |t| login(&t.email, PASSWORD),
            "ok",
        ))
        .await;
    let owner = &w.owner.email;
    p.table(
        "auth.login",
        vec![
            (
                "the same user at both doors",
                anon,
                login(owner, PASSWORD),
                "ok",
            ),
            (
                "a wrong password",
                anon,
                login(owner, "not the password"),
                "unauthorized",
            ),
            (
                "an unknown email",
                anon,
                login("nobody@example.com", PASSWORD),
                "unauthorized",
            ),
            (
                "a malformed email",
                anon,
                login("nobody", PASSWORD),
                "invalid_argument",
            ),
            (
                "no password",
                anon,
                json!({ "email": owner }),
                "invalid_argument",
            ),
        ],
    )
    .await;

    let refresh_of = [l1.str_at("/refresh_token"), l2.str_at("/refresh_token")];
    let refresh = |t: &Account| {
        let i = usize::from(t.id != twins.0[0].id);
        json!({ "refresh_token": refresh_of[i] })
    };
    let (f1, f2) = p
        .run(twins.case(
            "refresh",
            "auth.refresh",
            |_| Who::anonymous(),
            refresh,
            "ok",
        ))
        .await;
    p.table(
        "auth.refresh",
        vec![
            (
                "an unknown refresh token",
                anon,
                json!({ "refresh_token": "not-a-token" }),
                "unauthorized",
            ),
            (
                "an empty refresh token",
                anon,
                json!({ "refresh_token": "" }),
                "invalid_argument",
            ),
        ],
    )
    .await;

    let fresh = [f1.str_at("/access_token"), f2.str_at("/access_token")];
    let by_fresh = |t: &Account| t.with(&fresh[usize::from(t.id != twins.0[0].id)]);
    let change =
        |current: &str, new: &str| json!({ "current_password": current, "new_password": new });
    let t0 = &by_fresh(&twins.0[0]);
    p.table(
        "auth.change_password",
        vec![
            (
                "a wrong current password",
                t0,
                change("not the password", NEW_PASSWORD),
                "invalid_argument",
            ),
            (
                "a short new password",
                t0,
                change(PASSWORD, "short"),
                "invalid_argument",
            ),
            (
                "anonymous",
                anon,
                change(PASSWORD, NEW_PASSWORD),
                "unauthorized",
            ),
        ],
    )
    .await;
    let (c1, c2) = p
        .run(twins.case(
            "change the password",
            "auth.change_password",
            by_fresh,
            |_| change(PASSWORD, NEW_PASSWORD),
            "ok",
        ))
        .await;

    let changed = [c1.str_at("/access_token"), c2.str_at("/access_token")];
    let by_changed = |t: &Account| t.with(&changed[usize::from(t.id != twins.0[0].id)]);
    p.table(
        "auth.logout",
        vec![
            ("anonymous", anon, json!({}), "unauthorized"),
            (
                "an unknown param",
                &by_changed(&twins.0[0]),
                json!({ "all": true }),
                "invalid_argument",
            ),
        ],
    )
    .await;
    p.run(twins.case("sign out", "auth.logout", by_changed, |_| json!({}), "ok"))
        .await;
}
