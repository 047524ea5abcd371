//! Bad input over every dialect gets the documented error frame or close code;
//! the server stays up and other clients of the same document are unaffected.

mod common;

use std::time::Duration;

use common::{Arrival, Peer, TestServer, WAIT};
use goonline_engine::testing::TestDb;
use goonline_protocol::codes::{ErrorCode, close};
use goonline_protocol::hocuspocus::{HocusFrame, HocusMessage};
use goonline_protocol::native::{ClientFrame, ServerFrame};
use goonline_protocol::sync::SyncMessage;

const SMALL_FRAME: usize = 64 * 1024;

async fn server() -> TestServer {
    TestServer::start(TestDb::sqlite(), |a| {
        a.max_frame_bytes = SMALL_FRAME;
        a.max_doc_bytes = 200 * 1024;
    })
    .await
}

/// Waits for the next error frame on a native peer.
async fn next_error(p: &mut Peer) -> (ErrorCode, Option<u64>, Option<String>) {
    let before = p.errors.len();
    assert!(
        p.until(WAIT, |p| p.errors.len() > before).await,
        "an error frame arrives"
    );
    match p.errors.last().cloned() {
        Some(ServerFrame::Error { code, re, doc, .. }) => (code, re, doc),
        other => panic!("not an error: {other:?}"),
    }
}

/// Proves a native peer's connection still works: ping gets pong.
async fn still_alive(p: &mut Peer) {
    let before = p.pongs;
    p.send(ClientFrame::Ping { ts: Some(1) }.encode()).await;
    assert!(
        p.until(WAIT, |p| p.pongs > before).await,
        "connection still serves"
    );
}

/// A bystander on the same doc keeps working: an edit from `writer` reaches it.
async fn bystander_unaffected(writer: &mut Peer, bystander: &mut Peer, doc: &str, marker: &str) {
    writer.append_text(doc, marker).await;
    assert!(
        bystander
            .until(WAIT, |p| p.text(doc).contains(marker))
            .await,
        "bystander still gets edits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_bad_frames_get_error_frames_and_the_connection_goes_on() {
    let server = server().await;
    let mut bystander = Peer::native(&server).await;
    bystander.open("shared").await;
    let mut p = Peer::native(&server).await;
    p.open("shared").await;
    assert!(
        p.until(WAIT, |p| p.synced.get("shared") == Some(&true))
            .await
    );

    // Garbage bytes.
    p.send(vec![0xc1, 0xff, 0x00, 0x13]).await;
    assert_eq!(next_error(&mut p).await.0, ErrorCode::BadFrame);
    // A map without a valid type.
    p.send(rmp_map_type_only("launch_rockets", Some(5))).await;
    assert_eq!(
        next_error(&mut p).await,
        (ErrorCode::UnknownType, Some(5), None)
    );
    // A topic subscription without its topic.
    p.send(rmp_map_type_only("sub", Some(6))).await;
    assert_eq!(
        next_error(&mut p).await,
        (ErrorCode::BadFrame, Some(6), None)
    );
    // A known type with a missing field.
    p.send(rmp_map_type_only("open", Some(7))).await;
    assert_eq!(
        next_error(&mut p).await,
        (ErrorCode::BadFrame, Some(7), None)
    );
    // An update that does not decode: refused, with the frame's id.
    let bad_update = SyncMessage::Update(&[9, 9, 9, 9, 250]).to_vec();
    p.send(
        ClientFrame::Sync {
            doc: "shared".into(),
            data: bad_update,
            id: Some(42),
        }
        .encode(),
    )
    .await;
    assert_eq!(
        next_error(&mut p).await,
        (ErrorCode::InvalidUpdate, Some(42), Some("shared".into()))
    );
    // A sync payload whose varint is truncated.
    p.send(
        ClientFrame::Sync {
            doc: "shared".into(),
            data: vec![2, 0xff],
            id: Some(43),
        }
        .encode(),
    )
    .await;
    assert_eq!(next_error(&mut p).await.0, ErrorCode::InvalidUpdate);
    // A doc that was never opened.
    let upd = SyncMessage::Update(&[0, 0]).to_vec();
    p.send(
        ClientFrame::Sync {
            doc: "never-opened".into(),
            data: upd,
            id: Some(44),
        }
        .encode(),
    )
    .await;
    assert_eq!(
        next_error(&mut p).await,
        (ErrorCode::DocNotOpen, Some(44), Some("never-opened".into()))
    );
    // An oversized frame: dropped whole, answered, connection kept.
    p.send(vec![0u8; SMALL_FRAME + 1]).await;
    assert_eq!(next_error(&mut p).await.0, ErrorCode::FrameTooLarge);
    // A text frame.
    p.send_text("hello?").await;
    assert_eq!(next_error(&mut p).await.0, ErrorCode::BadFrame);
    // A second hello.
    p.send(
        ClientFrame::Hello {
            version: 1,
            client: None,
            token: None,
        }
        .encode(),
    )
    .await;
    assert_eq!(next_error(&mut p).await.0, ErrorCode::HelloRequired);
    // An invalid doc name.
    p.send(
        ClientFrame::Open {
            doc: "bad\u{7}name".into(),
            id: Some(8),
        }
        .encode(),
    )
    .await;
    assert_eq!(
        next_error(&mut p).await,
        (
            ErrorCode::InvalidDocName,
            Some(8),
            Some("bad\u{7}name".into())
        )
    );

    still_alive(&mut p).await;
    // The document is untouched by all of that and still edits fine both ways.
    bystander_unaffected(&mut p, &mut bystander, "shared", "after-garbage").await;
    assert_eq!(bystander.text("shared"), "after-garbage");
    assert_eq!(server.http_get("/healthz").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_handshake_violations_close_with_4400() {
    let server = server().await;
    // No hello first.
    let mut p = raw_native(&server).await;
    p.send(
        ClientFrame::Open {
            doc: "x".into(),
            id: None,
        }
        .encode(),
    )
    .await;
    assert_eq!(
        p.closed_with(WAIT).await,
        Some(close::NATIVE_PROTOCOL_VIOLATION)
    );
    // Garbage first.
    let mut p = raw_native(&server).await;
    p.send(vec![1, 2, 3]).await;
    assert_eq!(
        p.closed_with(WAIT).await,
        Some(close::NATIVE_PROTOCOL_VIOLATION)
    );
    // Unsupported version.
    let mut p = raw_native(&server).await;
    p.send(
        ClientFrame::Hello {
            version: 99,
            client: None,
            token: None,
        }
        .encode(),
    )
    .await;
    assert_eq!(
        p.closed_with(WAIT).await,
        Some(close::NATIVE_PROTOCOL_VIOLATION)
    );
    let mut q = Peer::native(&server).await;
    still_alive(&mut q).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn y_websocket_bad_input() {
    let server = server().await;
    let mut bystander = Peer::yws(server.addr, "yb").await;
    let mut writer = Peer::yws(server.addr, "yb").await;
    assert!(
        bystander
            .until(WAIT, |p| p.synced.get("yb") == Some(&true))
            .await
    );

    // An update that does not decode: refused with permission-denied, socket kept.
    let mut p = Peer::yws(server.addr, "yb").await;
    assert!(p.until(WAIT, |p| p.synced.get("yb") == Some(&true)).await);
    p.send(vec![0, 2, 5, 9, 9, 9, 9, 250]).await;
    assert!(
        p.until(WAIT, |p| !p.errors.is_empty()).await,
        "permission-denied message"
    );
    assert!(p.closed.is_none());
    // Truncated varint: the framing is broken, close 1002.
    p.send(vec![0, 2, 0xff]).await;
    assert_eq!(p.closed_with(WAIT).await, Some(close::PROTOCOL_ERROR));
    // Garbage: unknown message type.
    let mut p = Peer::yws(server.addr, "yb").await;
    p.send(vec![77, 1, 2]).await;
    assert_eq!(p.closed_with(WAIT).await, Some(close::PROTOCOL_ERROR));
    // Oversized frame: 1009.
    let mut p = Peer::yws(server.addr, "yb").await;
    p.send(vec![0u8; SMALL_FRAME + 10]).await;
    assert_eq!(p.closed_with(WAIT).await, Some(close::MESSAGE_TOO_BIG));
    // Text frame: 1002.
    let mut p = Peer::yws(server.addr, "yb").await;
    p.send_text("hi").await;
    assert_eq!(p.closed_with(WAIT).await, Some(close::PROTOCOL_ERROR));
    // A document grown past its size limit: the update is refused, nothing changes.
    let mut p = Peer::yws(server.addr, "yb").await;
    assert!(p.until(WAIT, |p| p.synced.get("yb") == Some(&true)).await);
    for _ in 0..6 {
        p.append_text("yb", &"z".repeat(40 * 1024)).await;
    }
    assert!(
        p.until(WAIT, |p| !p.errors.is_empty()).await,
        "doc-too-large refusal"
    );
    assert!(p.closed.is_none(), "socket kept");

    bystander_unaffected(&mut writer, &mut bystander, "yb", "still-fine").await;
    assert!(
        bystander.text("yb").len() < 200 * 1024,
        "the refused update was not applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hocuspocus_bad_input() {
    let server = server().await;
    let mut bystander = Peer::hocus(server.addr).await;
    bystander.open("hb").await;
    let mut writer = Peer::hocus(server.addr).await;
    writer.open("hb").await;
    assert!(
        bystander
            .until(WAIT, |p| p.synced.get("hb") == Some(&true))
            .await
    );
    assert!(
        writer
            .until(WAIT, |p| p.synced.get("hb") == Some(&true))
            .await
    );

    // An update that does not decode: SyncStatus 0, connection kept.
    let before = writer.sync_status.len();
    writer
        .send(
            HocusFrame::Doc {
                address: "hb",
                message: HocusMessage::Sync(SyncMessage::Update(&[9, 9, 9, 250])),
            }
            .to_vec(),
        )
        .await;
    assert!(
        writer
            .until(WAIT, |p| p.sync_status[before..].contains(&false))
            .await,
        "SyncStatus 0"
    );
    // BroadcastStateless from a client: refused with a Close for that doc.
    let mut p = Peer::hocus(server.addr).await;
    p.open("other").await;
    p.send(
        HocusFrame::Doc {
            address: "other",
            message: HocusMessage::BroadcastStateless("x"),
        }
        .to_vec(),
    )
    .await;
    let closed_doc = loop {
        match p.next_arrival(WAIT).await {
            Some(Arrival::Frame(f)) => {
                if let Ok(HocusFrame::Doc {
                    message: HocusMessage::Close { reason },
                    ..
                }) = HocusFrame::decode(&f)
                {
                    break reason.map(str::to_string);
                }
            }
            other => panic!("expected a Close message, got {other:?}"),
        }
    };
    assert!(closed_doc.is_some());
    // Truncated address varint: close 1002.
    p.send(vec![0xff]).await;
    assert_eq!(p.closed_with(WAIT).await, Some(close::PROTOCOL_ERROR));
    // Oversized: 1009.
    let mut p = Peer::hocus(server.addr).await;
    p.send(vec![1u8; SMALL_FRAME + 1]).await;
    assert_eq!(p.closed_with(WAIT).await, Some(close::MESSAGE_TOO_BIG));

    bystander_unaffected(&mut writer, &mut bystander, "hb", "ok-after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_answers_503_and_frees_slots() {
    let server = TestServer::start(TestDb::sqlite(), |a| a.max_connections = 2).await;
    let a = Peer::native(&server).await;
    let _b = Peer::native(&server).await;
    let refused = tokio_tungstenite::connect_async(server.url("/v1/ws")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 503)
        }
        other => panic!("expected HTTP 503, got {other:?}"),
    }
    drop(a);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if tokio_tungstenite::connect_async(server.url("/v1/ws"))
            .await
            .is_ok()
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "slot freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn raw_native(server: &TestServer) -> Peer {
    Peer::raw_at(&server.url("/v1/ws"), common::Dialect::Native).await
}

/// `{type: kind, id}` as MessagePack, with nothing else.
fn rmp_map_type_only(kind: &str, id: Option<u64>) -> Vec<u8> {
    let mut out = vec![if id.is_some() { 0x82 } else { 0x81 }, 0xa4];
    out.extend_from_slice(b"type");
    out.push(0xa0 | kind.len() as u8);
    out.extend_from_slice(kind.as_bytes());
    if let Some(id) = id {
        out.push(0xa2);
        out.extend_from_slice(b"id");
        out.push(id as u8);
    }
    out
}
