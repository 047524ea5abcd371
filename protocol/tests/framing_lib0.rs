//! Fixed byte vectors for lib0 and the y-protocols sync and awareness messages.
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
