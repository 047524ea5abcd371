//! The `guest.*` operations at both doors, on the twin workspaces: twin
//! invitations, acceptances, removals and revocations; the same call at both
//! doors for reads and a guest's access.

use serde_json::{Value, json};

use super::Pair;
use crate::accounts::{Account, Who, register, rest_ok};
use crate::cases::str_at;
use crate::runner::{Case, Parity, Side};
use crate::world::{World, params};

/// The `guest.*` operations on the twin workspaces.
pub(super) async fn guests(p: &mut Parity, w: &World, ws: &Pair) {
    let (o, v, s) = (&w.owner.who(), &w.viewer.who(), &w.stranger.who());
    let guest = [
        register(w.addr, "ws-guest-r").await,
        register(w.addr, "ws-guest-s").await,
    ];
    let pending = [
        register(w.addr, "ws-pending-r").await,
        register(w.addr, "ws-pending-s").await,
    ];
    let side_of = |side: &str| if side == "r" { 0 } else { 1 };
    // A call about this side's workspace and guest (or future guest).
    let about = |who: &Who, side: &str, g: &Account, extra: Value| {
        let id = ws.get(side);
        Side::new(who, w.shop(params("workspace_id", id, extra)))
            .sub(id, "<ws>")
            .sub(&g.id, "<guest id>")
            .sub(&g.email, "<guest email>")
    };
    let invite =
        |side: &str, g: &Account| about(o, side, g, json!({ "email": g.email, "access": "write" }));
    let (r, s_out) = p
        .run(Case::twins(
            "an invitation",
            "guest.invite",
            invite("r", &guest[0]),
            invite("s", &guest[1]),
            "ok",
        ))
        .await;
    let tokens = [
        str_at(r.value().expect("invitation"), "/token"),
        str_at(s_out.value().expect("invitation"), "/token"),
    ];
    let in_r = |extra: Value| w.shop(params("workspace_id", &ws.r, extra));
    p.table(
        "guest.invite",
        vec![
            (
                "by a viewer",
                v,
                in_r(json!({ "email": "x@example.com", "access": "read" })),
                "forbidden",
            ),
            (
                "of a member",
                o,
                in_r(json!({ "email": w.admin.email, "access": "read" })),
                "conflict",
            ),
        ],
    )
    .await;
    let accept = |side: &str| {
        let (i, g) = (side_of(side), &guest[side_of(side)]);
        Side::new(&g.who(), json!({ "token": tokens[i] }))
            .sub(ws.get(side), "<ws>")
            .sub(&g.id, "<guest id>")
    };
    p.run(Case::twins(
        "accept",
        "guest.accept",
        accept("r"),
        accept("s"),
        "ok",
    ))
    .await;
    let mut pending_ids = Vec::new();
    for (i, side) in ["r", "s"].into_iter().enumerate() {
        let inv = rest_ok(
            w.addr,
            w.owner.token(),
            "guest.invite",
            w.shop(json!({ "workspace_id": ws.get(side), "email": pending[i].email, "access": "read" })),
        )
        .await;
        pending_ids.push((str_at(&inv, "/invitation_id"), str_at(&inv, "/token")));
    }
    p.table(
        "guest.accept",
        vec![
            (
                "a used token",
                &guest[0].who(),
                json!({ "token": tokens[0] }),
                "not_found",
            ),
            (
                "by another account than the invited one",
                s,
                json!({ "token": pending_ids[0].1 }),
                "forbidden",
            ),
        ],
    )
    .await;
    p.table(
        "guest.list",
        vec![
            ("by a viewer", v, in_r(json!({})), "forbidden"),
            ("by the owner", o, in_r(json!({})), "ok"),
        ],
    )
    .await;
    let g0 = |extra: Value| in_r(params("user_id", &guest[0].id, extra));
    p.table(
        "guest.set_access",
        vec![
            (
                "by a viewer",
                v,
                g0(json!({ "access": "read" })),
                "forbidden",
            ),
            (
                "read only (again at the second door)",
                o,
                g0(json!({ "access": "read" })),
                "ok",
            ),
        ],
    )
    .await;
    let remove = |side: &str| {
        let i = side_of(side);
        about(o, side, &guest[i], json!({ "user_id": guest[i].id }))
    };
    p.run(Case::twins(
        "remove",
        "guest.remove",
        remove("r"),
        remove("s"),
        "ok",
    ))
    .await;
    p.table(
        "guest.remove",
        vec![("not a guest any more", o, g0(json!({})), "not_found")],
    )
    .await;
    let revoke = |side: &str| {
        let id = &pending_ids[side_of(side)].0;
        Side::new(o, w.shop(json!({ "invitation_id": id }))).sub(id, "<invitation>")
    };
    p.run(Case::twins(
        "revoke",
        "guest.invitation.revoke",
        revoke("r"),
        revoke("s"),
        "ok",
    ))
    .await;
    p.table(
        "guest.invitation.revoke",
        vec![
            (
                "revoked already",
                o,
                w.shop(json!({ "invitation_id": pending_ids[0].0 })),
                "not_found",
            ),
            (
                "by a viewer",
                v,
                w.shop(json!({ "invitation_id": pending_ids[1].0 })),
                "forbidden",
            ),
        ],
    )
    .await;
}
