//! Invitations: `member.invite` (fresh tokens at each door, normalized),
//! `invitation.accept` (twin invitations, one per twin and door),
//! `invitation.list`, `invitation.revoke` (twin invitations), and an
//! onboarding agent inviting the first owner of twin businesses.

use serde_json::{Value, json};

use crate::accounts::{Account, rest_ok};
use crate::runner::{Case, Parity, Side};
use crate::world::{Twins, World};

/// Makes an invitation to the shop as `who` (setup, not compared): (id, token).
async fn invitation(w: &World, who: &Account, role: &str) -> (String, String) {
    let r = rest_ok(
        w.addr,
        who.token(),
        "member.invite",
        w.shop(json!({ "role": role })),
    )
    .await;
    let s = |k: &str| r[k].as_str().expect(k).to_string();
    (s("invitation_id"), s("token"))
}

/// `member.invite`, `invitation.accept`, `invitation.list`,
/// `invitation.revoke`; leaves the twins viewers of the shop.
pub async fn invitations(p: &mut Parity, w: &World, twins: &Twins) {
    let (o, a, v, s, anon) = (
        &w.owner.who(),
        &w.admin.who(),
        &w.viewer.who(),
        &w.stranger.who(),
        &w.anon,
    );
    let invite = |role: &str| w.shop(json!({ "role": role }));
    // Each door gets its own token and id (compared as present).
    let staff = w.shop(json!({ "role": "viewer", "email": "Staff@Example.com" }));
    p.run(Case::same(
        "an admin invites a viewer",
        a,
        "member.invite",
        staff,
        "ok",
    ))
    .await;
    // Never replayed: the result holds a secret, so a key is ignored.
    p.run(Case::same("with a key", o, "member.invite", invite("agent"), "ok").key("invite-key"))
        .await;
    p.table(
        "member.invite",
        vec![
            ("an admin invites an owner", a, invite("owner"), "forbidden"),
            ("a viewer invites", v, invite("viewer"), "forbidden"),
            ("a stranger invites", s, invite("viewer"), "not_found"),
            ("anonymous", anon, invite("viewer"), "unauthorized"),
            ("an unknown role", o, invite("emperor"), "invalid_argument"),
            ("no role", o, w.shop(json!({})), "invalid_argument"),
            (
                "a malformed email",
                o,
                w.shop(json!({ "role": "viewer", "email": "x" })),
                "invalid_argument",
            ),
        ],
    )
    .await;

    // An onboarding agent invites the first owner of twin businesses made for
    // an owner without an account.
    let mut kiosks = Vec::new();
    for _ in 0..2 {
        let b = rest_ok(
            w.addr,
            w.stranger.token(),
            "business.create",
            json!({ "name": "Kiosk", "owner_email": "nobody@example.com" }),
        )
        .await;
        kiosks.push(b["id"].as_str().expect("id").to_string());
    }
    let owner_of = |i: usize| {
        Side::new(s, json!({ "business_id": kiosks[i], "role": "owner" }))
            .sub(&kiosks[i], "<kiosk>")
    };
    p.run(Case::twins(
        "the onboarding agent invites the owner",
        "member.invite",
        owner_of(0),
        owner_of(1),
        "ok",
    ))
    .await;
    p.table(
        "member.invite",
        vec![(
            "the onboarding agent invites an admin",
            s,
            json!({ "business_id": kiosks[0], "role": "admin" }),
            "forbidden",
        )],
    )
    .await;

    p.table(
        "invitation.list",
        vec![
            ("the pending ones", o, w.shop(json!({})), "ok"),
            ("the pending ones", a, w.shop(json!({})), "ok"),
            ("as a viewer", v, w.shop(json!({})), "forbidden"),
            ("as a stranger", s, w.shop(json!({})), "not_found"),
            ("anonymous", anon, w.shop(json!({})), "unauthorized"),
            (
                "an unknown param",
                o,
                w.shop(json!({ "all": true })),
                "invalid_argument",
            ),
        ],
    )
    .await;

    // Twin invitations, each accepted by its twin through its own door.
    let mut tokens = Vec::new();
    for _ in 0..2 {
        tokens.push(invitation(w, &w.admin, "viewer").await.1);
    }
    let index = |t: &Account| usize::from(t.id != twins.0[0].id);
    let accept = |t: &Account| json!({ "token": tokens[index(t)] });
    p.run(twins.case("accept", "invitation.accept", Account::who, accept, "ok"))
        .await;
    let (_, pending) = invitation(w, &w.admin, "viewer").await;
    let token = |t: &str| json!({ "token": t });
    p.table(
        "invitation.accept",
        vec![
            ("a used token", s, token(&tokens[0]), "not_found"),
            (
                "an unknown token",
                s,
                token("bm90LWEtcmVhbC10b2tlbg"),
                "not_found",
            ),
            ("a member, to the same role", v, token(&pending), "conflict"),
            ("anonymous", anon, token(&pending), "unauthorized"),
            ("an empty token", s, token(""), "invalid_argument"),
            (
                "a numeric token",
                s,
                json!({ "token": 7 }),
                "invalid_argument",
            ),
            ("no token", s, json!({}), "invalid_argument"),
        ],
    )
    .await;

    // Twin invitations, each revoked through its own door.
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(invitation(w, &w.owner, "agent").await.0);
    }
    let revoke = |id: &str| w.shop(json!({ "invitation_id": id }));
    let side = |i: usize| Side::new(a, revoke(&ids[i])).sub(&ids[i], "<invitation>");
    p.run(Case::twins(
        "revoke",
        "invitation.revoke",
        side(0),
        side(1),
        "ok",
    ))
    .await;
    let (owners, _) = invitation(w, &w.owner, "owner").await;
    p.table(
        "invitation.revoke",
        vec![
            ("revoked already", a, revoke(&ids[0]), "not_found"),
            ("an admin, an owner's", a, revoke(&owners), "forbidden"),
            ("a viewer", v, revoke(&pending), "forbidden"),
            ("a stranger", s, revoke(&pending), "not_found"),
            ("anonymous", anon, revoke(&pending), "unauthorized"),
            ("an unknown invitation", o, revoke("no-such"), "not_found"),
            (
                "a malformed id",
                o,
                revoke("not an id!"),
                "invalid_argument",
            ),
            (
                "no invitation",
                o,
                w.shop(Value::Object(Default::default())),
                "invalid_argument",
            ),
        ],
    )
    .await;
    p.table(
        "invitation.list",
        vec![("after accepting and revoking", o, w.shop(json!({})), "ok")],
    )
    .await;
}
