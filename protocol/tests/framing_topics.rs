//! Topic frames byte for byte: the worked examples of `docs/protocol.md` §10.8
//! are exactly what the encoders write, and what the server writes decodes as
//! a client would read it.

use goonline_protocol::native::{ClientFrame, ServerFrame, encode_event_frame};
use serde_json::json;

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn sub_is_a_three_entry_map() {
    let sub = ClientFrame::Sub {
        topic: "biz/b1/chat/general".into(),
        since: Some(7),
        id: None,
    }
    .encode();
    assert_eq!(
        hex(&sub),
        "83 a4 74 79 70 65 a3 73 75 62 a5 74 6f 70 69 63 b3 62 69 7a 2f 62 31 2f 63 68 61 74 \
         2f 67 65 6e 65 72 61 6c a5 73 69 6e 63 65 07"
    );
    assert_eq!(
        ClientFrame::decode(&sub),
        Ok(ClientFrame::Sub {
            topic: "biz/b1/chat/general".into(),
            since: Some(7),
            id: None,
        })
    );
}

#[test]
fn an_event_carries_its_data_as_a_map_and_decodes_as_a_server_frame() {
    let data = json!({ "type": "message.created" });
    let event = encode_event_frame("biz/b1/chat/general", 8, 1_764_000_000_000, &data);
    assert_eq!(
        hex(&event),
        "85 a4 74 79 70 65 a5 65 76 65 6e 74 a5 74 6f 70 69 63 b3 62 69 7a 2f 62 31 2f 63 68 \
         61 74 2f 67 65 6e 65 72 61 6c a3 73 65 71 08 a2 61 74 cf 00 00 01 9a b6 97 e8 00 a4 \
         64 61 74 61 81 a4 74 79 70 65 af 6d 65 73 73 61 67 65 2e 63 72 65 61 74 65 64"
    );
    assert_eq!(
        ServerFrame::decode(&event).expect("decodes"),
        ServerFrame::Event {
            topic: "biz/b1/chat/general".into(),
            seq: 8,
            at: 1_764_000_000_000,
            data,
        }
    );
}
