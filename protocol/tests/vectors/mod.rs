//! Shared vectors and helpers for the framing tests (see each file's overview for
//! where the "real" vectors came from: docs/hocuspocus-notes.md and the npm packages).

#![allow(dead_code, unused_imports)]

pub use goonline_protocol::awareness::{
    AwarenessEntry, decode_awareness_update, encode_awareness_update,
};
pub use goonline_protocol::hocuspocus::{
    HocusAuth, HocusFrame, HocusMessage, address_doc_name, address_session_id,
};
pub use goonline_protocol::lib0::{
    DecodeError, Reader, write_var_bytes, write_var_string, write_var_uint,
};
pub use goonline_protocol::sync::{SyncMessage, encode_step1, encode_step2, encode_update};
pub use goonline_protocol::ywebsocket::YwsMessage;

/// Concatenates byte pieces so vectors can mix raw bytes and readable ASCII.
pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// real: `Y.encodeStateVector` of a doc with clientID 7 after `getText("t").insert(0, "x")`.
pub const SV: &[u8] = &[0x01, 0x07, 0x01];
/// real: `Y.encodeStateAsUpdate` of that doc.
pub const UPDATE: &[u8] = &[
    0x01, 0x01, 0x07, 0x00, 0x04, 0x01, 0x01, 0x74, 0x01, 0x78, 0x00,
];

/// real: y-protocols `encodeAwarenessUpdate` for client 1, clock 2, state {a: 1}.
pub const AWARENESS_ONE: &[u8] = &[
    0x01, 0x01, 0x02, 0x07, b'{', b'"', b'a', b'"', b':', b'1', b'}',
];

pub const DOC1: &[u8] = &[0x04, b'd', b'o', b'c', b'1'];
