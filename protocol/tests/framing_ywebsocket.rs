//! Fixed byte vectors for the y-websocket framing.
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
