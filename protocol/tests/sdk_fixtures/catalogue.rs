//! The frames the fixtures hold: a representative set of every server and
//! client frame type, with the edge values the SDK must get right (ids past
//! 2^32, a presence client id past 2^52, epoch milliseconds).

use goonline_protocol::codes::ErrorCode;
use goonline_protocol::native::{
    AccessMode, CallError, ClientFrame, Limits, PresenceEntry, ServerFrame, encode_awareness_frame,
    encode_event_frame, encode_sync_frame,
};
use serde_json::{Value, json};

use super::hex;

/// 2^53 − 1: the largest integer a JavaScript number holds exactly.
pub const MAX_SAFE: u64 = (1 << 53) - 1;
/// A real epoch-milliseconds value (2025-11-24T16:00:00Z).
pub const AT: u64 = 1_764_000_000_000;
pub const SESSION: &str = "01a20c58-138f-7041-a0fc-19951c6cad3e";
pub const USER: &str = "0193a4c2-7e11-7b3a-9c41-5d2f0e6a8b10";
pub const TOPIC: &str = "biz/0193a4c2-0000-7000-8000-000000000001/chat/general";
/// Client 1 inserting "hi" into the root text "t" (a v1 update).
pub const UPDATE: [u8; 12] = [
    0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x02, 0x68, 0x69, 0x00,
];
/// Awareness: client 1, clock 1, `{"user":"ann"}`.
pub const AWARENESS: &[u8] = b"\x01\x01\x01\x0e{\"user\":\"ann\"}";

/// A sync message carrying `UPDATE` (tag 2, varByteArray).
pub fn sync_update() -> Vec<u8> {
    let mut v = vec![0x02, UPDATE.len() as u8];
    v.extend_from_slice(&UPDATE);
    v
}

pub fn limits() -> Limits {
    Limits {
        max_frame_bytes: 4_194_304,
        max_doc_bytes: 33_554_432,
        max_open_docs: 256,
    }
}

/// Server frames, each with the bytes the server writes for it.
pub fn server_frames() -> Vec<(&'static str, ServerFrame, Vec<u8>)> {
    let mut frames: Vec<(&'static str, ServerFrame)> = vec![
        (
            "welcome_anonymous",
            ServerFrame::Welcome {
                version: 1,
                session: SESSION.into(),
                server: "goonline 0.1.0".into(),
                heartbeat_ms: 15_000,
                limits: limits(),
                user: None,
                expires_at: None,
            },
        ),
        (
            "welcome_signed_in",
            ServerFrame::Welcome {
                version: 1,
                session: SESSION.into(),
                server: "goonline 0.1.0".into(),
                heartbeat_ms: 15_000,
                limits: limits(),
                user: Some(USER.into()),
                expires_at: Some(AT + 900_000),
            },
        ),
        (
            "authenticated",
            ServerFrame::Authenticated {
                user: USER.into(),
                expires_at: AT + 900_000,
            },
        ),
        (
            "reauth",
            ServerFrame::Reauth {
                expires_at: AT + 900_000,
                deadline: AT + 930_000,
            },
        ),
        (
            "reply_result",
            ServerFrame::Reply {
                id: 7,
                result: Some(json!({
                    "id": "0193a4c2-0000-7000-8000-000000000001",
                    "name": "Mama's Shop ☕",
                    "role": "owner",
                    "created_at": AT,
                    "tags": ["a", 1, -2, 2.5, true, null],
                    "nested": { "empty": {}, "list": [], "deep": { "x": [{ "y": 4_294_967_296_u64 }] } },
                    "max_safe": MAX_SAFE,
                    "negative_wide": -1_099_511_627_776_i64,
                })),
                error: None,
            },
        ),
        (
            "reply_error_invalid_argument",
            ServerFrame::Reply {
                id: 8,
                result: None,
                error: Some(CallError {
                    code: "invalid_argument".into(),
                    message: "must be an email address like name@example.com".into(),
                    field: Some("email".into()),
                    retry_after: None,
                }),
            },
        ),
        (
            "reply_error_rate_limited",
            ServerFrame::Reply {
                id: 9,
                result: None,
                error: Some(CallError {
                    code: "rate_limited".into(),
                    message: "too many messages; retry in 3 s".into(),
                    field: None,
                    retry_after: Some(3),
                }),
            },
        ),
        (
            "access_read_only",
            ServerFrame::Access {
                doc: "biz/b1/notes".into(),
                mode: AccessMode::ReadOnly,
                reason: Some("your role allows reading only".into()),
            },
        ),
        (
            "access_none",
            ServerFrame::Access {
                doc: "biz/b1/notes".into(),
                mode: AccessMode::None,
                reason: None,
            },
        ),
        (
            "access_read_write",
            ServerFrame::Access {
                doc: "biz/b1/notes".into(),
                mode: AccessMode::ReadWrite,
                reason: Some("your role changed".into()),
            },
        ),
        (
            "sync_step1_empty",
            ServerFrame::Sync {
                doc: "notes".into(),
                data: vec![0x00, 0x01, 0x00],
            },
        ),
        (
            "sync_update",
            ServerFrame::Sync {
                doc: "notes".into(),
                data: sync_update(),
            },
        ),
        (
            "awareness",
            ServerFrame::Awareness {
                doc: "notes".into(),
                data: AWARENESS.to_vec(),
            },
        ),
        (
            "ack",
            ServerFrame::Ack {
                doc: "notes".into(),
                id: 2,
            },
        ),
        ("pong_max_safe", ServerFrame::Pong { ts: Some(MAX_SAFE) }),
        ("pong_empty", ServerFrame::Pong { ts: None }),
        (
            "error_re_doc",
            ServerFrame::Error {
                code: ErrorCode::DocNotOpen,
                message: "document `other` is not open on this connection".into(),
                re: Some(7),
                doc: Some("other".into()),
                topic: None,
            },
        ),
        (
            "error_re_topic",
            ServerFrame::Error {
                code: ErrorCode::UnknownTopic,
                message: "no topic kind `nope`".into(),
                re: Some(3),
                doc: None,
                topic: Some("biz/b1/nope/x".into()),
            },
        ),
        (
            "error_without_re",
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                message: "too many frames per second; this frame was dropped".into(),
                re: None,
                doc: None,
                topic: None,
            },
        ),
        (
            "event_message_created",
            ServerFrame::Event {
                topic: TOPIC.into(),
                seq: 8,
                at: AT as i64,
                data: json!({
                    "type": "message.created",
                    "message": {
                        "id": "0193a4c2-0000-7000-8000-0000000000aa",
                        "chat_id": "0193a4c2-0000-7000-8000-0000000000cc",
                        "sender_id": USER,
                        "body": "héllo 👋\nsecond line",
                        "created_at": AT,
                        "client_id": "c-1",
                        "seq": 8,
                    },
                }),
            },
        ),
        (
            "event_nested_data",
            ServerFrame::Event {
                topic: "biz/b1/metrics/orders".into(),
                seq: 1 << 40,
                at: AT as i64 + 1,
                data: json!({
                    "type": "tile",
                    "values": [1, 2.5, -3, null, "x", { "deep": [true, false] }],
                    "meta": { "updates_per_sec": 12.25, "node": 4_503_599_627_370_501_u64 },
                }),
            },
        ),
        (
            "gap",
            ServerFrame::Gap {
                topic: TOPIC.into(),
                from: 1,
                to: 16,
            },
        ),
        (
            "subscribed",
            ServerFrame::Subscribed {
                topic: TOPIC.into(),
                seq: 120,
            },
        ),
        (
            "subscribed_empty_topic",
            ServerFrame::Subscribed {
                topic: TOPIC.into(),
                seq: 0,
            },
        ),
        (
            "unsubscribed",
            ServerFrame::Unsubscribed {
                topic: TOPIC.into(),
                reason: "unsubscribed at your request".into(),
            },
        ),
        (
            "presence",
            ServerFrame::Presence {
                topic: TOPIC.into(),
                entries: vec![
                    PresenceEntry {
                        // A connection on another node of a cluster.
                        client: (1 << 52) + 5,
                        user: USER.into(),
                        state: json!({ "typing": true }),
                    },
                    PresenceEntry {
                        client: 3,
                        user: "0193a4c2-7e11-7b3a-9c41-5d2f0e6a8b11".into(),
                        state: Value::Null,
                    },
                ],
            },
        ),
    ];
    frames
        .drain(..)
        .map(|(name, frame)| {
            // The borrowed encoders are what the server writes on its hot
            // paths; they must agree with the frame types byte for byte.
            let bytes = match &frame {
                ServerFrame::Sync { doc, data } => encode_sync_frame(doc, data),
                ServerFrame::Awareness { doc, data } => encode_awareness_frame(doc, data),
                ServerFrame::Event {
                    topic,
                    seq,
                    at,
                    data,
                } => encode_event_frame(topic, *seq, *at, data),
                other => other.encode(),
            };
            assert_eq!(
                hex(&bytes),
                hex(&frame.encode()),
                "{name}: hot-path encoder"
            );
            (name, frame, bytes)
        })
        .collect()
}

/// Every client frame type, with the edge values a JavaScript encoder gets wrong.
pub fn client_frames() -> Vec<(&'static str, ClientFrame)> {
    vec![
        (
            "hello_minimal",
            ClientFrame::Hello {
                version: 1,
                client: None,
                token: None,
            },
        ),
        (
            "hello_full",
            ClientFrame::Hello {
                version: 1,
                client: Some("@goonline/client 0.1.0".into()),
                token: Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl".into()),
            },
        ),
        (
            "auth",
            ClientFrame::Auth {
                token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.bmV3".into(),
            },
        ),
        (
            "call_nested_params",
            ClientFrame::Call {
                id: 7,
                method: "orders.create".into(),
                params: json!({
                    "business_id": "0193a4c2-0000-7000-8000-000000000001",
                    "lines": [
                        { "sku": "tea", "qty": 2, "price_minor": 4_294_967_296_u64 },
                        { "sku": "cake", "qty": 1, "price_minor": MAX_SAFE },
                    ],
                    "meta": { "note": null, "gift": true, "ratio": 0.25, "delta": -5, "wide_negative": -1_099_511_627_776_i64 },
                    "tags": [],
                }),
                idempotency_key: Some("3f1e2d4c-order-1".into()),
            },
        ),
        (
            "call_without_params",
            ClientFrame::Call {
                id: 8,
                method: "me.get".into(),
                params: Value::Null,
                idempotency_key: None,
            },
        ),
        (
            "open_with_id",
            ClientFrame::Open {
                doc: "biz/b1/notes".into(),
                id: Some(1),
            },
        ),
        (
            "open_without_id",
            ClientFrame::Open {
                doc: "notes".into(),
                id: None,
            },
        ),
        (
            "close",
            ClientFrame::Close {
                doc: "notes".into(),
            },
        ),
        (
            "sync_step1_empty",
            ClientFrame::Sync {
                doc: "notes".into(),
                data: vec![0x00, 0x01, 0x00],
                id: None,
            },
        ),
        (
            "sync_update_with_id",
            ClientFrame::Sync {
                doc: "notes".into(),
                data: sync_update(),
                id: Some(2),
            },
        ),
        (
            "awareness",
            ClientFrame::Awareness {
                doc: "notes".into(),
                data: AWARENESS.to_vec(),
            },
        ),
        (
            "sub_since_wide",
            ClientFrame::Sub {
                topic: TOPIC.into(),
                since: Some(1 << 40),
                id: Some(3),
            },
        ),
        (
            "sub_plain",
            ClientFrame::Sub {
                topic: TOPIC.into(),
                since: None,
                id: None,
            },
        ),
        (
            "unsub",
            ClientFrame::Unsub {
                topic: TOPIC.into(),
            },
        ),
        (
            "presence_set",
            ClientFrame::Presence {
                topic: TOPIC.into(),
                state: json!({ "typing": true, "name": "Ann" }),
            },
        ),
        (
            "presence_clear",
            ClientFrame::Presence {
                topic: TOPIC.into(),
                state: Value::Null,
            },
        ),
        ("ping_max_safe", ClientFrame::Ping { ts: Some(MAX_SAFE) }),
        ("ping_empty", ClientFrame::Ping { ts: None }),
    ]
}
