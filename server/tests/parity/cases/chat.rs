//! Chat at both doors: every `chat.*` operation, then `topic.events` on a
//! chat's topic. State-changing calls run on twin channels (one per door) so
//! both doors start from the same state.

use serde_json::{Value, json};

use crate::accounts::rest_ok;
use crate::runner::{Case, Parity, Side};
use crate::world::{World, params};

use super::str_at;

/// Makes a channel as the owner (setup, not compared): (id, topic).
async fn channel(w: &World, name: &str) -> (String, String) {
    let c = rest_ok(
        w.addr,
        w.owner.token(),
        "chat.channel.create",
        w.shop(json!({ "name": name })),
    )
    .await;
    let s = |k: &str| c[k].as_str().expect(k).to_string();
    (s("id"), s("topic"))
}

/// Every `chat.*` operation, then `topic.events` on a chat's topic.
pub async fn chat(p: &mut Parity, w: &World) {
    let (o, a, v, s, anon) = (
        &w.owner.who(),
        &w.admin.who(),
        &w.viewer.who(),
        &w.stranger.who(),
        &w.anon,
    );
    // Channels: one per door, named alike.
    let twin = |name: &str, side: &str| w.shop(json!({ "name": format!("{name}-{side}") }));
    p.run(
        Case::twins(
            "a new channel",
            "chat.channel.create",
            Side::new(a, twin("plan", "r")).sub("plan-r", "<plan>"),
            Side::new(a, twin("plan", "s")).sub("plan-s", "<plan>"),
            "ok",
        )
        .new_id("/id"),
    )
    .await;
    p.table(
        "chat.channel.create",
        vec![
            (
                "a taken name",
                o,
                w.shop(json!({ "name": "plan-r" })),
                "conflict",
            ),
            (
                "a viewer",
                v,
                w.shop(json!({ "name": "mine" })),
                "forbidden",
            ),
            (
                "a stranger",
                s,
                w.shop(json!({ "name": "mine" })),
                "not_found",
            ),
            (
                "anonymous",
                anon,
                w.shop(json!({ "name": "mine" })),
                "unauthorized",
            ),
            (
                "a name with spaces",
                o,
                w.shop(json!({ "name": "a b" })),
                "invalid_argument",
            ),
        ],
    )
    .await;

    let (r_chat, r_topic) = channel(w, "twin-r").await;
    let (s_chat, s_topic) = channel(w, "twin-s").await;
    let side = |who, chat: &str, extra: Value, other: &str| {
        let m = params("chat_id", chat, extra);
        Side::new(who, m).sub(chat, "<chat>").sub(other, "<twin>")
    };
    let twins = |what: &str, method: &'static str, who, extra: Value, expect: &'static str| {
        Case::twins(
            what,
            method,
            side(who, &r_chat, extra.clone(), "twin-r"),
            side(who, &s_chat, extra, "twin-s"),
            expect,
        )
    };
    let body = json!({ "client_id": "c-1", "body": "Stock count at 5pm\n<b>not html</b>" });
    let (sent, _) = p
        .run(twins("a first message", "chat.send", o, body.clone(), "ok").new_id("/id"))
        .await;
    p.run(twins("resent with its client id", "chat.send", o, body, "ok").new_id("/id"))
        .await;
    let r_msg = str_at(sent.value().expect("sent"), "/id");
    let s_msg = {
        let page = rest_ok(
            w.addr,
            w.owner.token(),
            "chat.history",
            json!({ "chat_id": s_chat }),
        )
        .await;
        str_at(&page, "/messages/0/id")
    };
    let message = |who, extra: Value, what: &str, method: &'static str, expect: &'static str| {
        let mk = |id: &str, extra: Value| {
            let m = params("message_id", id, extra);
            Side::new(who, m)
                .sub(id, "<message>")
                .sub(&r_chat, "<chat>")
                .sub(&s_chat, "<chat>")
        };
        Case::twins(
            what,
            method,
            mk(&r_msg, extra.clone()),
            mk(&s_msg, extra),
            expect,
        )
    };
    p.run(message(
        o,
        json!({ "body": "Stock count at 6pm" }),
        "the sender edits",
        "chat.edit",
        "ok",
    ))
    .await;
    p.run(message(
        a,
        json!({ "body": "mine now" }),
        "another member edits",
        "chat.edit",
        "forbidden",
    ))
    .await;
    p.run(message(
        a,
        json!({ "emoji": "👍", "on": true }),
        "a reaction",
        "chat.react",
        "ok",
    ))
    .await;
    p.run(message(
        v,
        json!({ "emoji": "👍", "on": true }),
        "a viewer reacts",
        "chat.react",
        "forbidden",
    ))
    .await;
    p.run(twins(
        "read up to the message",
        "chat.read",
        a,
        json!({ "seq": 1 }),
        "ok",
    ))
    .await;
    p.run(twins(
        "read past the end",
        "chat.read",
        a,
        json!({ "seq": 99 }),
        "invalid_argument",
    ))
    .await;
    p.run(Case::twins(
        "a page of history",
        "chat.history",
        side(v, &r_chat, json!({ "limit": 10 }), "twin-r").sub(&r_msg, "<message>"),
        side(v, &s_chat, json!({ "limit": 10 }), "twin-s").sub(&s_msg, "<message>"),
        "ok",
    ))
    .await;
    p.run(message(
        a,
        json!({}),
        "a moderator deletes",
        "chat.delete",
        "ok",
    ))
    .await;
    p.table(
        "chat.send",
        vec![
            (
                "a viewer",
                v,
                json!({ "chat_id": r_chat, "client_id": "v", "body": "hi" }),
                "forbidden",
            ),
            (
                "a stranger",
                s,
                json!({ "chat_id": r_chat, "client_id": "x", "body": "hi" }),
                "not_found",
            ),
            (
                "anonymous",
                anon,
                json!({ "chat_id": r_chat, "client_id": "x", "body": "hi" }),
                "unauthorized",
            ),
            (
                "a body of 4001 characters",
                o,
                json!({ "chat_id": r_chat, "client_id": "x", "body": "x".repeat(4001) }),
                "invalid_argument",
            ),
            (
                "no client id",
                o,
                json!({ "chat_id": r_chat, "body": "hi" }),
                "invalid_argument",
            ),
        ],
    )
    .await;
    p.table(
        "chat.history",
        vec![
            ("a stranger", s, json!({ "chat_id": r_chat }), "not_found"),
            (
                "an unknown chat",
                o,
                json!({ "chat_id": "no-such-chat" }),
                "not_found",
            ),
            (
                "a limit of 0",
                o,
                json!({ "chat_id": r_chat, "limit": 0 }),
                "invalid_argument",
            ),
        ],
    )
    .await;
    p.table(
        "chat.list",
        vec![
            ("the owner's chats", o, w.shop(json!({})), "ok"),
            ("a stranger", s, w.shop(json!({})), "not_found"),
        ],
    )
    .await;
    p.table(
        "chat.direct.open",
        vec![
            (
                "with a member",
                o,
                w.shop(json!({ "user_id": w.admin.id })),
                "ok",
            ),
            (
                "with a stranger",
                o,
                w.shop(json!({ "user_id": w.stranger.id })),
                "not_found",
            ),
            (
                "with oneself",
                o,
                w.shop(json!({ "user_id": w.owner.id })),
                "invalid_argument",
            ),
        ],
    )
    .await;
    p.table(
        "chat.settings.get",
        vec![
            ("a viewer reads them", v, w.shop(json!({})), "ok"),
            ("a stranger", s, w.shop(json!({})), "not_found"),
        ],
    )
    .await;
    p.table(
        "chat.settings.update",
        vec![
            (
                "an admin keeps viewers reading",
                a,
                w.shop(json!({ "viewers_can_send": false })),
                "ok",
            ),
            (
                "a viewer",
                v,
                w.shop(json!({ "viewers_can_send": true })),
                "forbidden",
            ),
            (
                "not a boolean",
                a,
                w.shop(json!({ "viewers_can_send": "yes" })),
                "invalid_argument",
            ),
        ],
    )
    .await;

    // History without a socket: the same page at both doors.
    p.run(Case::twins(
        "a page of a chat's events",
        "topic.events",
        Side::new(v, json!({ "topic": r_topic, "limit": 2 }))
            .sub(&r_topic, "<topic>")
            .sub(&r_chat, "<chat>")
            .sub(&r_msg, "<message>"),
        Side::new(v, json!({ "topic": s_topic, "limit": 2 }))
            .sub(&s_topic, "<topic>")
            .sub(&s_chat, "<chat>")
            .sub(&s_msg, "<message>"),
        "ok",
    ))
    .await;
    p.table(
        "topic.events",
        vec![
            ("a stranger", s, json!({ "topic": r_topic }), "forbidden"),
            (
                "anonymous",
                anon,
                json!({ "topic": r_topic }),
                "unauthorized",
            ),
            (
                "after the end",
                o,
                json!({ "topic": r_topic, "after": 999 }),
                "invalid_argument",
            ),
            (
                "a malformed name",
                o,
                json!({ "topic": "no-namespace" }),
                "invalid_argument",
            ),
            (
                "an unknown kind",
                o,
                json!({ "topic": format!("biz/{}/nope/x", w.shop) }),
                "not_found",
            ),
        ],
    )
    .await;
}
