//! Golden byte fixtures shared with the TypeScript SDK (`clients/ts`), both ways.
//!
//! - `clients/ts/test/fixtures/rust-frames.json`: a representative set of server
//!   and client frames encoded by this crate's encoders (the ones the server
//!   uses). The SDK's `test/sdk/codec.test.ts` decodes every one and compares it
//!   with the entry's `json`. Here the file is checked against what the encoders
//!   write now; `UPDATE_FIXTURES=1` rewrites it.
//! - `clients/ts/test/fixtures/sdk-frames.json`: client frames encoded by the
//!   SDK's `encodeFrame` (written by that codec test with `UPDATE_FIXTURES=1`).
//!   Here every one must decode with the server's decoder to exactly its `json`.
//!
//! Each entry is `{name, direction, hex, json}`: `direction` is `server` (server →
//! client) or `client`, `hex` the frame's bytes in lowercase hex, `json` the frame
//! as JSON with every binary field (`sync`/`awareness` `data`) written as
//! `{"$bin": "<lowercase hex>"}`. Integers in the fixtures stay at or below
//! 2^53 − 1, so JavaScript reads the JSON exactly.

use std::path::PathBuf;

use goonline_protocol::codes::ErrorCode;
use goonline_protocol::native::{
    AccessMode, CallError, ClientFrame, Limits, PresenceEntry, ServerFrame, encode_awareness_frame,
    encode_event_frame, encode_sync_frame,
};
use serde_json::{Value, json};

const REGENERATE_RUST: &str = "UPDATE_FIXTURES=1 cargo nextest run -p goonline-protocol --test sdk_fixtures \
     (then run the SDK's codec test: cd clients/ts && npx vitest run test/sdk/codec.test.ts)";
const REGENERATE_SDK: &str =
    "cd clients/ts && UPDATE_FIXTURES=1 npx vitest run test/sdk/codec.test.ts";

/// 2^53 − 1: the largest integer a JavaScript number holds exactly.
const MAX_SAFE: u64 = (1 << 53) - 1;
/// A real epoch-milliseconds value (2025-11-24T16:00:00Z).
const AT: u64 = 1_764_000_000_000;
const SESSION: &str = "01a20c58-138f-7041-a0fc-19951c6cad3e";
const USER: &str = "0193a4c2-7e11-7b3a-9c41-5d2f0e6a8b10";
const TOPIC: &str = "biz/0193a4c2-0000-7000-8000-000000000001/chat/general";
/// Client 1 inserting "hi" into the root text "t" (a v1 update).
const UPDATE: [u8; 12] = [
    0x01, 0x01, 0x01, 0x00, 0x04, 0x01, 0x01, 0x74, 0x02, 0x68, 0x69, 0x00,
];
/// Awareness: client 1, clock 1, `{"user":"ann"}`.
const AWARENESS: &[u8] = b"\x01\x01\x01\x0e{\"user\":\"ann\"}";

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../clients/ts/test/fixtures")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex `{s}`");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|e| panic!("hex `{s}`: {e}")))
        .collect()
}

/// A sync message carrying `UPDATE` (tag 2, varByteArray).
fn sync_update() -> Vec<u8> {
    let mut v = vec![0x02, UPDATE.len() as u8];
    v.extend_from_slice(&UPDATE);
    v
}

/// The frame as JSON, `data` bytes of `sync`/`awareness` as `{"$bin": hex}`.
fn frame_json<T: serde::Serialize>(frame: &T) -> Value {
    let mut v = serde_json::to_value(frame).expect("a frame serializes to JSON");
    let binary = matches!(v["type"].as_str(), Some("sync" | "awareness"));
    if binary && let Some(data) = v.get_mut("data") {
        let bytes: Vec<u8> = serde_json::from_value(data.clone()).expect("data is bytes");
        *data = json!({ "$bin": hex(&bytes) });
    }
    v
}

/// The inverse of [`frame_json`]'s marker: `{"$bin": hex}` becomes an array of
/// byte numbers (what serde reads into a byte buffer).
fn unmark_bin(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.len() == 1
                && let Some(Value::String(h)) = m.get("$bin")
            {
                *v = Value::Array(unhex(h).into_iter().map(Value::from).collect());
                return;
            }
            m.values_mut().for_each(unmark_bin);
        }
        Value::Array(a) => a.iter_mut().for_each(unmark_bin),
        _ => {}
    }
}

/// One fixture; a struct so the file lists `name` first.
#[derive(serde::Serialize)]
struct Entry {
    name: &'static str,
    direction: &'static str,
    hex: String,
    json: Value,
}

fn entry(name: &'static str, direction: &'static str, bytes: &[u8], json: Value) -> Entry {
    Entry {
        name,
        direction,
        hex: hex(bytes),
        json,
    }
}

fn limits() -> Limits {
    Limits {
        max_frame_bytes: 4_194_304,
        max_doc_bytes: 33_554_432,
        max_open_docs: 256,
    }
}

/// Server frames, each with the bytes the server writes for it.
fn server_frames() -> Vec<(&'static str, ServerFrame, Vec<u8>)> {
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
fn client_frames() -> Vec<(&'static str, ClientFrame)> {
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

/// What `rust-frames.json` must hold.
fn rust_fixtures() -> Vec<Entry> {
    let mut out = Vec::new();
    for (name, frame, bytes) in server_frames() {
        assert_eq!(
            ServerFrame::decode(&bytes).expect("decodes"),
            frame,
            "{name}: round trip"
        );
        out.push(entry(name, "server", &bytes, frame_json(&frame)));
    }
    for (name, frame) in client_frames() {
        let bytes = frame.encode();
        assert_eq!(
            ClientFrame::decode(&bytes),
            Ok(frame.clone()),
            "{name}: round trip"
        );
        out.push(entry(name, "client", &bytes, frame_json(&frame)));
    }
    out
}

fn read_json(path: &PathBuf, regenerate: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\nGenerate it with: {regenerate}",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{} is not JSON: {e}\nRegenerate it with: {regenerate}",
            path.display()
        )
    })
}

#[test]
fn rust_encoded_frames_match_the_checked_in_fixtures() {
    let path = fixtures_dir().join("rust-frames.json");
    let expected = rust_fixtures();
    if std::env::var_os("UPDATE_FIXTURES").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(fixtures_dir()).expect("fixtures dir");
        let mut text = serde_json::to_string_pretty(&expected).expect("JSON");
        text.push('\n');
        std::fs::write(&path, text).expect("write rust-frames.json");
        return;
    }
    let expected = serde_json::to_value(&expected).expect("JSON");
    let found = read_json(&path, REGENERATE_RUST);
    let (Value::Array(found), Value::Array(expected)) = (found, expected) else {
        panic!(
            "{} must hold an array\nRegenerate it with: {REGENERATE_RUST}",
            path.display()
        );
    };
    let names = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|e| e["name"].as_str().unwrap_or("?").to_string())
            .collect()
    };
    assert_eq!(
        names(&found),
        names(&expected),
        "the set of fixtures changed.\nRegenerate {} with: {REGENERATE_RUST}",
        path.display()
    );
    for (f, e) in found.iter().zip(&expected) {
        assert_eq!(
            f,
            e,
            "fixture `{}`: the crate's encoders no longer write what the SDK was tested \
             against. If the change is intended, regenerate {} with: {REGENERATE_RUST}",
            e["name"].as_str().unwrap_or("?"),
            path.display()
        );
    }
}

#[test]
fn sdk_encoded_frames_decode_to_their_json() {
    let path = fixtures_dir().join("sdk-frames.json");
    let Value::Array(entries) = read_json(&path, REGENERATE_SDK) else {
        panic!("{} must hold an array", path.display());
    };
    let mut types = std::collections::BTreeSet::new();
    for e in &entries {
        let name = e["name"].as_str().expect("name");
        assert_eq!(
            e["direction"], "client",
            "{name}: the SDK encodes client frames"
        );
        let bytes = unhex(e["hex"].as_str().expect("hex"));
        let decoded = ClientFrame::decode(&bytes).unwrap_or_else(|err| {
            panic!(
                "{name}: the server refuses the SDK's bytes {}: {err}",
                hex(&bytes)
            )
        });
        let mut json = e["json"].clone();
        unmark_bin(&mut json);
        let expected: ClientFrame = serde_json::from_value(json)
            .unwrap_or_else(|err| panic!("{name}: its json is not a client frame: {err}"));
        assert_eq!(
            decoded, expected,
            "{name}: the SDK's bytes decode to another frame than its json says"
        );
        types.insert(e["json"]["type"].as_str().expect("type").to_string());
    }
    let every: std::collections::BTreeSet<String> = [
        "hello",
        "auth",
        "call",
        "open",
        "close",
        "sync",
        "awareness",
        "sub",
        "unsub",
        "presence",
        "ping",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(
        types, every,
        "sdk-frames.json covers every client frame type"
    );
}
