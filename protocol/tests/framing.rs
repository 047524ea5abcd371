//! Fixed byte vectors for the lib0, y-protocols, y-websocket and Hocuspocus codecs.
//!
//! Vectors marked "real" were produced by the npm packages themselves (lib0 0.2.120,
//! y-protocols 1.0.7, yjs 13.6.33, @hocuspocus/provider 4.8.0, @hocuspocus/server
//! 4.7.0) with small Node scripts: the provider driven through a fake WebSocket
//! (`new HocuspocusProvider({ name: "doc1", token: "secret", document })` with
//! `doc.clientID = 1`, then `attach()`, a `[9]` frame, `sendStateless("hi")` and
//! `detach()`), the server's `Hocuspocus.handleConnection` fed those frames through
//! a fake socket, and the server's exported `OutgoingMessage` builders. Each frame
//! was printed as hex and pasted here. The other vectors are derived by hand from
//! the layouts in `docs/hocuspocus-notes.md`.

use goonline_protocol::awareness::{
    AwarenessEntry, decode_awareness_update, encode_awareness_update,
};
use goonline_protocol::hocuspocus::{
    HocusAuth, HocusFrame, HocusMessage, address_doc_name, address_session_id,
};
use goonline_protocol::lib0::{
    DecodeError, Reader, write_var_bytes, write_var_string, write_var_uint,
};
use goonline_protocol::sync::{SyncMessage, encode_step1, encode_step2, encode_update};
use goonline_protocol::ywebsocket::YwsMessage;

/// Concatenates byte pieces so vectors can mix raw bytes and readable ASCII.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// ---------------------------------------------------------------------------
// lib0

/// (value, bytes) pairs; real: printed by lib0's `encoding.writeVarUint`.
const VAR_UINTS: &[(u64, &[u8])] = &[
    (0, &[0x00]),
    (127, &[0x7f]),
    (128, &[0x80, 0x01]),
    (300, &[0xac, 0x02]),
    (1 << 32, &[0x80, 0x80, 0x80, 0x80, 0x10]),
    (
        (1 << 53) - 1,
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f],
    ),
];

#[test]
fn var_uint_encodes_to_exact_bytes() {
    for &(v, bytes) in VAR_UINTS {
        let mut out = Vec::new();
        write_var_uint(&mut out, v);
        assert_eq!(out, bytes, "encoding {v}");
    }
}

#[test]
fn var_uint_decodes_exact_bytes() {
    for &(v, bytes) in VAR_UINTS {
        let mut r = Reader::new(bytes);
        assert_eq!(r.read_var_uint(), Ok(v), "decoding {bytes:x?}");
        assert_eq!(r.position(), bytes.len());
        assert!(r.is_empty());
        assert_eq!(r.finish(), Ok(()));
    }
}

#[test]
fn var_uint_accepts_non_minimal_encoding_like_lib0() {
    // lib0 does not insist on the shortest form; [0x80, 0x00] is 0.
    assert_eq!(Reader::new(&[0x80, 0x00]).read_var_uint(), Ok(0));
}

#[test]
fn truncated_var_uint_is_unexpected_end() {
    for bytes in [&[][..], &[0x80], &[0xff, 0xff], &[0xac]] {
        assert_eq!(
            Reader::new(bytes).read_var_uint(),
            Err(DecodeError::UnexpectedEnd),
            "{bytes:x?}"
        );
    }
}

#[test]
fn var_uint_above_53_bits_overflows() {
    // 2^53: one more than JavaScript can hold exactly.
    let two_pow_53 = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10];
    assert_eq!(
        Reader::new(&two_pow_53).read_var_uint(),
        Err(DecodeError::VarUintOverflow)
    );
    // Nine bytes: rejected at the eighth continuation byte, before reading more.
    let nine = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    assert_eq!(
        Reader::new(&nine).read_var_uint(),
        Err(DecodeError::VarUintOverflow)
    );
    // u64::MAX as written by write_var_uint (10 bytes) is not readable either.
    let mut out = Vec::new();
    write_var_uint(&mut out, u64::MAX);
    assert_eq!(out.len(), 10);
    assert_eq!(
        Reader::new(&out).read_var_uint(),
        Err(DecodeError::VarUintOverflow)
    );
}

#[test]
fn var_bytes_and_string_exact_bytes() {
    let mut out = Vec::new();
    write_var_bytes(&mut out, &[1, 2, 3]);
    // real: lib0 writeVarString(e, "ü") = [0x02, 0xc3, 0xbc]
    write_var_string(&mut out, "ü");
    write_var_string(&mut out, "");
    assert_eq!(out, [0x03, 1, 2, 3, 0x02, 0xc3, 0xbc, 0x00]);

    let mut r = Reader::new(&out);
    assert_eq!(r.read_var_bytes(), Ok(&[1u8, 2, 3][..]));
    assert_eq!(r.read_var_string(), Ok("ü"));
    assert_eq!(r.read_var_string(), Ok(""));
    assert_eq!(r.finish(), Ok(()));
}

#[test]
fn var_bytes_longer_than_input_is_unexpected_end() {
    // Length 5, only 2 bytes follow.
    let mut r = Reader::new(&[0x05, 0xaa, 0xbb]);
    assert_eq!(r.read_var_bytes(), Err(DecodeError::UnexpectedEnd));
    // Length 2^53 - 1: must fail by comparison, not by trying to allocate or slice.
    let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
    assert_eq!(
        Reader::new(&huge).read_var_bytes(),
        Err(DecodeError::UnexpectedEnd)
    );
    assert_eq!(
        Reader::new(&huge).read_var_string(),
        Err(DecodeError::UnexpectedEnd)
    );
}

#[test]
fn invalid_utf8_is_rejected() {
    // 0xc3 starts a two-byte sequence; 0x28 is not a continuation byte.
    assert_eq!(
        Reader::new(&[0x02, 0xc3, 0x28]).read_var_string(),
        Err(DecodeError::InvalidUtf8)
    );
    // A lone continuation byte.
    assert_eq!(
        Reader::new(&[0x01, 0x80]).read_var_string(),
        Err(DecodeError::InvalidUtf8)
    );
}

#[test]
fn reader_finish_reports_trailing_bytes() {
    let mut r = Reader::new(&[0x01, 0xaa, 0xbb]);
    assert_eq!(r.read_u8(), Ok(0x01));
    assert_eq!(r.remaining(), &[0xaa, 0xbb]);
    assert_eq!(r.finish(), Err(DecodeError::TrailingBytes(2)));
}

// ---------------------------------------------------------------------------
// y-protocols sync and awareness

/// real: `Y.encodeStateVector` of a doc with clientID 7 after `getText("t").insert(0, "x")`.
const SV: &[u8] = &[0x01, 0x07, 0x01];
/// real: `Y.encodeStateAsUpdate` of that doc.
const UPDATE: &[u8] = &[
    0x01, 0x01, 0x07, 0x00, 0x04, 0x01, 0x01, 0x74, 0x01, 0x78, 0x00,
];

#[test]
fn sync_messages_exact_bytes() {
    let mut out = Vec::new();
    encode_step1(SV, &mut out);
    assert_eq!(out, [0x00, 0x03, 0x01, 0x07, 0x01]);

    out.clear();
    encode_step2(&[0xaa], &mut out);
    assert_eq!(out, [0x01, 0x01, 0xaa]);

    out.clear();
    encode_update(UPDATE, &mut out);
    assert_eq!(out, cat(&[&[0x02, 0x0b], UPDATE]));
    assert_eq!(
        SyncMessage::decode_all(&out),
        Ok(SyncMessage::Update(UPDATE))
    );
    assert_eq!(SyncMessage::Update(UPDATE).to_vec(), out);
}

#[test]
fn sync_decode_rejects_unknown_tag_and_trailing_bytes() {
    assert_eq!(
        SyncMessage::decode_all(&[0x03, 0x00]),
        Err(DecodeError::UnknownMessageType {
            kind: "sync",
            value: 3
        })
    );
    assert_eq!(
        SyncMessage::decode_all(&[0x00, 0x00, 0xff]),
        Err(DecodeError::TrailingBytes(1))
    );
    // `decode` itself leaves what follows for the caller.
    let mut r = Reader::new(&[0x00, 0x00, 0xff]);
    assert_eq!(SyncMessage::decode(&mut r), Ok(SyncMessage::Step1(&[])));
    assert_eq!(r.remaining(), &[0xff]);
}

/// real: y-protocols `encodeAwarenessUpdate` for client 1, clock 2, state {a: 1}.
const AWARENESS_ONE: &[u8] = &[
    0x01, 0x01, 0x02, 0x07, b'{', b'"', b'a', b'"', b':', b'1', b'}',
];

#[test]
fn awareness_update_exact_bytes() {
    let entry = AwarenessEntry {
        client_id: 1,
        clock: 2,
        state: "{\"a\":1}",
    };
    let mut out = Vec::new();
    encode_awareness_update([entry], &mut out);
    assert_eq!(out, AWARENESS_ONE);
    assert_eq!(decode_awareness_update(AWARENESS_ONE), Ok(vec![entry]));
    assert!(!entry.is_removal());
}

#[test]
fn awareness_removal_and_multiple_entries() {
    let entries = [
        AwarenessEntry {
            client_id: 300,
            clock: 5,
            state: "null",
        },
        AwarenessEntry {
            client_id: 1,
            clock: 0,
            state: "{}",
        },
    ];
    let mut out = Vec::new();
    encode_awareness_update(entries, &mut out);
    assert_eq!(
        out,
        cat(&[
            &[0x02, 0xac, 0x02, 0x05, 0x04],
            b"null",
            &[0x01, 0x00, 0x02],
            b"{}"
        ])
    );
    let decoded = decode_awareness_update(&out).expect("valid update");
    assert_eq!(decoded, entries);
    assert!(decoded[0].is_removal());
    assert!(!decoded[1].is_removal());
}

#[test]
fn awareness_decode_errors() {
    // A claimed count of 2^53 - 1 with no entries: fails fast, no huge allocation.
    let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert_eq!(
        decode_awareness_update(&huge),
        Err(DecodeError::UnexpectedEnd)
    );
    // One entry whose state length points past the end.
    assert_eq!(
        decode_awareness_update(&[0x01, 0x01, 0x02, 0x09, b'{', b'}']),
        Err(DecodeError::UnexpectedEnd)
    );
    // Invalid UTF-8 state.
    assert_eq!(
        decode_awareness_update(&[0x01, 0x01, 0x02, 0x01, 0xff]),
        Err(DecodeError::InvalidUtf8)
    );
    // Leftover after the counted entries.
    assert_eq!(
        decode_awareness_update(&[0x00, 0x00]),
        Err(DecodeError::TrailingBytes(1))
    );
    assert_eq!(decode_awareness_update(&[0x00]), Ok(vec![]));
}

// ---------------------------------------------------------------------------
// y-websocket

#[test]
fn yws_sync_step1_exact_frame() {
    // real: y-protocols writeSyncStep1 after writeVarUint(messageSync = 0).
    let frame = [0x00, 0x00, 0x03, 0x01, 0x07, 0x01];
    let msg = YwsMessage::Sync(SyncMessage::Step1(SV));
    assert_eq!(msg.to_vec(), frame);
    assert_eq!(YwsMessage::decode(&frame), Ok(msg));
}

#[test]
fn yws_update_exact_frame() {
    // real: writeVarUint(0) then y-protocols writeUpdate(UPDATE).
    let frame = cat(&[&[0x00, 0x02, 0x0b], UPDATE]);
    let msg = YwsMessage::Sync(SyncMessage::Update(UPDATE));
    assert_eq!(msg.to_vec(), frame);
    assert_eq!(YwsMessage::decode(&frame), Ok(msg));
}

#[test]
fn yws_step2_frame() {
    let frame = [0x00, 0x01, 0x02, 0x00, 0x00];
    let msg = YwsMessage::Sync(SyncMessage::Step2(&[0x00, 0x00]));
    assert_eq!(msg.to_vec(), frame);
    assert_eq!(YwsMessage::decode(&frame), Ok(msg));
}

#[test]
fn yws_awareness_exact_frame() {
    // real: writeVarUint(1), writeVarUint8Array(encodeAwarenessUpdate(...)).
    let frame = cat(&[&[0x01, 0x0b], AWARENESS_ONE]);
    let msg = YwsMessage::Awareness(AWARENESS_ONE);
    assert_eq!(msg.to_vec(), frame);
    let decoded = YwsMessage::decode(&frame).expect("valid frame");
    assert_eq!(decoded, msg);
    let YwsMessage::Awareness(inner) = decoded else {
        panic!("not awareness: {decoded:?}");
    };
    assert_eq!(
        decode_awareness_update(inner),
        Ok(vec![AwarenessEntry {
            client_id: 1,
            clock: 2,
            state: "{\"a\":1}"
        }])
    );
}

#[test]
fn yws_query_awareness_and_auth_exact_frames() {
    assert_eq!(YwsMessage::QueryAwareness.to_vec(), [0x03]);
    assert_eq!(YwsMessage::decode(&[0x03]), Ok(YwsMessage::QueryAwareness));

    // real: writeVarUint(2), y-protocols auth.writePermissionDenied(e, "ro").
    let frame = [0x02, 0x00, 0x02, b'r', b'o'];
    let msg = YwsMessage::Auth {
        denied_reason: "ro",
    };
    assert_eq!(msg.to_vec(), frame);
    assert_eq!(YwsMessage::decode(&frame), Ok(msg));
}

#[test]
fn yws_decode_errors() {
    assert_eq!(YwsMessage::decode(&[]), Err(DecodeError::UnexpectedEnd));
    assert_eq!(
        YwsMessage::decode(&[0x04]),
        Err(DecodeError::UnknownMessageType {
            kind: "y-websocket",
            value: 4
        })
    );
    assert_eq!(
        YwsMessage::decode(&[0x00, 0x07, 0x00]),
        Err(DecodeError::UnknownMessageType {
            kind: "sync",
            value: 7
        })
    );
    assert_eq!(
        YwsMessage::decode(&[0x02, 0x01, 0x00]),
        Err(DecodeError::UnknownMessageType {
            kind: "y-websocket auth",
            value: 1
        })
    );
    // One message per frame: anything after it is an error.
    assert_eq!(
        YwsMessage::decode(&[0x03, 0x03]),
        Err(DecodeError::TrailingBytes(1))
    );
    assert_eq!(
        YwsMessage::decode(&[0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
        Err(DecodeError::TrailingBytes(3))
    );
    // Awareness whose wrapper length exceeds the frame.
    assert_eq!(
        YwsMessage::decode(&[0x01, 0x0c, 0x01]),
        Err(DecodeError::UnexpectedEnd)
    );
    assert_eq!(
        YwsMessage::decode(&[0x02, 0x00, 0x01, 0xff]),
        Err(DecodeError::InvalidUtf8)
    );
}

// ---------------------------------------------------------------------------
// Hocuspocus

const DOC1: &[u8] = &[0x04, b'd', b'o', b'c', b'1'];

fn doc1(message: HocusMessage<'_>) -> HocusFrame<'_> {
    HocusFrame::Doc {
        address: "doc1",
        message,
    }
}

/// Asserts that `frame` decodes to `expected` and that encoding gives `frame` back.
fn assert_hocus(frame: &[u8], expected: HocusFrame<'_>) {
    assert_eq!(
        HocusFrame::decode(frame),
        Ok(expected),
        "decoding {frame:x?}"
    );
    assert_eq!(expected.to_vec(), frame, "encoding {expected:?}");
}

#[test]
fn hocus_provider_auth_token_frame() {
    // real: first frame @hocuspocus/provider 4.8.0 sends for name "doc1",
    // token "secret": varString(name), 2, 0, varString(token), varString(version).
    let frame = cat(&[DOC1, &[0x02, 0x00, 0x06], b"secret", &[0x05], b"4.8.0"]);
    assert_hocus(
        &frame,
        doc1(HocusMessage::Auth(HocusAuth::Token {
            token: "secret",
            provider_version: Some("4.8.0"),
        })),
    );
    // Older providers omit the version; the server accepts that too.
    let old = cat(&[DOC1, &[0x02, 0x00, 0x06], b"secret"]);
    assert_hocus(
        &old,
        doc1(HocusMessage::Auth(HocusAuth::Token {
            token: "secret",
            provider_version: None,
        })),
    );
}

#[test]
fn hocus_session_aware_address() {
    // real: the same provider with `sessionAwareness: true` and sessionId "s1".
    let frame = cat(&[
        &[0x07],
        b"doc1\0s1",
        &[0x02, 0x00, 0x06],
        b"secret",
        &[0x05],
        b"4.8.0",
    ]);
    let decoded = HocusFrame::decode(&frame).expect("valid frame");
    let HocusFrame::Doc { address, .. } = decoded else {
        panic!("not a doc frame: {decoded:?}");
    };
    assert_eq!(address, "doc1\0s1");
    assert_eq!(address_doc_name(address), "doc1");
    assert_eq!(address_session_id(address), Some("s1"));
    assert_eq!(address_doc_name("doc1"), "doc1");
    assert_eq!(address_session_id("doc1"), None);
    // The reply must carry the address verbatim, separator and all.
    assert_eq!(decoded.to_vec(), frame);
}

#[test]
fn hocus_sync_step1_frames() {
    // real: the provider's SyncStep1 for an empty doc (state vector = [0x00]).
    let frame = cat(&[DOC1, &[0x00, 0x00, 0x01, 0x00]]);
    assert_hocus(
        &frame,
        doc1(HocusMessage::Sync(SyncMessage::Step1(&[0x00]))),
    );
    // real: the server's SyncStep2 answer for an empty doc.
    let frame = cat(&[DOC1, &[0x00, 0x01, 0x02, 0x00, 0x00]]);
    assert_hocus(
        &frame,
        doc1(HocusMessage::Sync(SyncMessage::Step2(&[0x00, 0x00]))),
    );
    // SyncReply (type 4) has the same body.
    let frame = cat(&[DOC1, &[0x04, 0x00, 0x01, 0x00]]);
    assert_hocus(
        &frame,
        doc1(HocusMessage::SyncReply(SyncMessage::Step1(&[0x00]))),
    );
}

#[test]
fn hocus_awareness_frame_is_wrapped() {
    // real: the provider's initial awareness, client 1, clock 0, state {}.
    let inner = [0x01, 0x01, 0x00, 0x02, b'{', b'}'];
    let frame = cat(&[DOC1, &[0x01, 0x06], &inner]);
    assert_hocus(&frame, doc1(HocusMessage::Awareness(&inner)));
}

#[test]
fn hocus_server_auth_answers() {
    // real: server OutgoingMessage.writeAuthenticated(false / true).
    let rw = cat(&[DOC1, &[0x02, 0x02, 0x0a], b"read-write"]);
    assert_hocus(
        &rw,
        doc1(HocusMessage::Auth(HocusAuth::authenticated(false))),
    );
    let ro = cat(&[DOC1, &[0x02, 0x02, 0x08], b"readonly"]);
    assert_hocus(
        &ro,
        doc1(HocusMessage::Auth(HocusAuth::authenticated(true))),
    );
    // real: writePermissionDenied("nope").
    let denied = cat(&[DOC1, &[0x02, 0x01, 0x04], b"nope"]);
    assert_hocus(
        &denied,
        doc1(HocusMessage::Auth(HocusAuth::PermissionDenied {
            reason: "nope",
        })),
    );
    // real: writeTokenSyncRequest(): sub-type 0 with no body.
    let request = cat(&[DOC1, &[0x02, 0x00]]);
    assert_hocus(&request, doc1(HocusMessage::Auth(HocusAuth::TokenRequest)));
}

#[test]
fn hocus_sync_status_frames() {
    // real: writeSyncStatus(true) / (false).
    assert_hocus(
        &cat(&[DOC1, &[0x08, 0x01]]),
        doc1(HocusMessage::SyncStatus(true)),
    );
    assert_hocus(
        &cat(&[DOC1, &[0x08, 0x00]]),
        doc1(HocusMessage::SyncStatus(false)),
    );
    assert_eq!(
        HocusFrame::decode(&cat(&[DOC1, &[0x08, 0x02]])),
        Err(DecodeError::InvalidValue {
            field: "hocuspocus sync status",
            value: 2
        })
    );
}

#[test]
fn hocus_ping_pong_are_bare_frames() {
    assert_hocus(&[0x09], HocusFrame::Ping);
    // real: what the provider sends after receiving [9].
    assert_hocus(&[0x0a], HocusFrame::Pong);
    // A longer frame starting with 9 is a 9-byte address, not a Ping.
    let frame = cat(&[&[0x09], b"ninebytes", &[0x03]]);
    assert_hocus(
        &frame,
        HocusFrame::Doc {
            address: "ninebytes",
            message: HocusMessage::QueryAwareness,
        },
    );
    // Ping/Pong types inside a document frame are not messages.
    assert_eq!(
        HocusFrame::decode(&cat(&[DOC1, &[0x09]])),
        Err(DecodeError::UnknownMessageType {
            kind: "hocuspocus",
            value: 9
        })
    );
}

#[test]
fn hocus_close_frames() {
    // real: the provider's CloseMessage on detach has no body.
    assert_hocus(
        &cat(&[DOC1, &[0x07]]),
        doc1(HocusMessage::Close { reason: None }),
    );
    // real: server writeCloseMessage("bye").
    assert_hocus(
        &cat(&[DOC1, &[0x07, 0x03], b"bye"]),
        doc1(HocusMessage::Close {
            reason: Some("bye"),
        }),
    );
}

#[test]
fn hocus_stateless_frames() {
    // real: provider sendStateless("hi").
    assert_hocus(
        &cat(&[DOC1, &[0x05, 0x02], b"hi"]),
        doc1(HocusMessage::Stateless("hi")),
    );
    // real: server writeBroadcastStateless("hi").
    assert_hocus(
        &cat(&[DOC1, &[0x06, 0x02], b"hi"]),
        doc1(HocusMessage::BroadcastStateless("hi")),
    );
}

#[test]
fn hocus_query_awareness_and_update_frames() {
    assert_hocus(&cat(&[DOC1, &[0x03]]), doc1(HocusMessage::QueryAwareness));
    // real: update from client 7 as the provider sends it, echoed by the server.
    assert_hocus(
        &cat(&[DOC1, &[0x00, 0x02, 0x0b], UPDATE]),
        doc1(HocusMessage::Sync(SyncMessage::Update(UPDATE))),
    );
}

#[test]
fn hocus_decode_errors() {
    assert_eq!(HocusFrame::decode(&[]), Err(DecodeError::UnexpectedEnd));
    // Address only, no type.
    assert_eq!(HocusFrame::decode(DOC1), Err(DecodeError::UnexpectedEnd));
    assert_eq!(
        HocusFrame::decode(&cat(&[DOC1, &[0x0b]])),
        Err(DecodeError::UnknownMessageType {
            kind: "hocuspocus",
            value: 11
        })
    );
    assert_eq!(
        HocusFrame::decode(&cat(&[DOC1, &[0x02, 0x03]])),
        Err(DecodeError::UnknownMessageType {
            kind: "hocuspocus auth",
            value: 3
        })
    );
    assert_eq!(
        HocusFrame::decode(&cat(&[DOC1, &[0x03, 0x00]])),
        Err(DecodeError::TrailingBytes(1))
    );
    // Token, version, then a stray byte.
    assert_eq!(
        HocusFrame::decode(&cat(&[DOC1, &[0x02, 0x00, 0x00, 0x00, 0x07]])),
        Err(DecodeError::TrailingBytes(1))
    );
    // Address that is not UTF-8.
    assert_eq!(
        HocusFrame::decode(&[0x01, 0xff, 0x03]),
        Err(DecodeError::InvalidUtf8)
    );
    // Address length beyond the frame.
    assert_eq!(
        HocusFrame::decode(&[0x20, b'd', 0x03]),
        Err(DecodeError::UnexpectedEnd)
    );
}

// ---------------------------------------------------------------------------
// Garbage never panics

/// xorshift64: deterministic pseudo-random bytes without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A byte that is often small, so tags and lengths are often valid and the
    /// decoders get past the first field.
    fn byte(&mut self) -> u8 {
        let r = self.next();
        if r & 3 == 0 {
            (r >> 8) as u8
        } else {
            ((r >> 8) % 12) as u8
        }
    }
}

/// Runs every decoder on `bytes`; whatever decodes must re-encode to something
/// that decodes to the same value (bytes may differ for non-minimal varUints).
fn decode_everything(bytes: &[u8]) {
    if let Ok(m) = YwsMessage::decode(bytes) {
        assert_eq!(YwsMessage::decode(&m.to_vec()), Ok(m), "{bytes:x?}");
    }
    if let Ok(f) = HocusFrame::decode(bytes) {
        assert_eq!(HocusFrame::decode(&f.to_vec()), Ok(f), "{bytes:x?}");
    }
    if let Ok(m) = SyncMessage::decode_all(bytes) {
        assert_eq!(SyncMessage::decode_all(&m.to_vec()), Ok(m), "{bytes:x?}");
    }
    if let Ok(entries) = decode_awareness_update(bytes) {
        let mut out = Vec::new();
        encode_awareness_update(entries.iter().copied(), &mut out);
        assert_eq!(decode_awareness_update(&out), Ok(entries), "{bytes:x?}");
    }
    let mut r = Reader::new(bytes);
    while !r.is_empty() {
        if r.read_var_string().is_err() {
            break;
        }
    }
}

#[test]
fn decoders_never_panic_on_garbage() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut decoded_some = 0;
    for _ in 0..50_000 {
        let len = (rng.next() % 40) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        decode_everything(&bytes);
        if HocusFrame::decode(&bytes).is_ok() || YwsMessage::decode(&bytes).is_ok() {
            decoded_some += 1;
        }
    }
    // The generator must reach the success paths too, or the round-trip checks
    // above test nothing.
    assert!(decoded_some > 100, "only {decoded_some} frames decoded");
}

#[test]
fn decoders_never_panic_on_mutated_real_frames() {
    let seeds = [
        cat(&[DOC1, &[0x02, 0x00, 0x06], b"secret", &[0x05], b"4.8.0"]),
        cat(&[DOC1, &[0x01, 0x06, 0x01, 0x01, 0x00, 0x02], b"{}"]),
        cat(&[&[0x01, 0x0b], AWARENESS_ONE]),
        cat(&[&[0x00, 0x02, 0x0b], UPDATE]),
    ];
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for seed in &seeds {
        for _ in 0..5_000 {
            let mut bytes = seed.clone();
            match rng.next() % 3 {
                0 => {
                    let i = (rng.next() as usize) % bytes.len();
                    bytes[i] = rng.next() as u8;
                }
                1 => bytes.truncate((rng.next() as usize) % bytes.len()),
                _ => {
                    let i = (rng.next() as usize) % (bytes.len() + 1);
                    bytes.insert(i, rng.byte());
                }
            }
            decode_everything(&bytes);
        }
    }
}
