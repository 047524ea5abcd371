//! Fixed byte vectors for the Hocuspocus framing.
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

mod vectors;

use vectors::*;

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
