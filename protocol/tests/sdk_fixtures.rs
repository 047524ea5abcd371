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

use goonline_protocol::native::{ClientFrame, ServerFrame};
use serde_json::{Value, json};

#[path = "sdk_fixtures/catalogue.rs"]
mod catalogue;
use catalogue::*;

const REGENERATE_RUST: &str = "UPDATE_FIXTURES=1 cargo nextest run -p goonline-protocol --test sdk_fixtures \
     (then run the SDK's codec test: cd clients/ts && npx vitest run test/sdk/codec.test.ts)";
const REGENERATE_SDK: &str =
    "cd clients/ts && UPDATE_FIXTURES=1 npx vitest run test/sdk/codec.test.ts";

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
