//! The chat messages the topic scenarios send, and what a subscriber keeps
//! about them.
//!
//! A message's body carries its index and the writer's send time
//! (`m0000042 t000000123456789 xxxx…`, padded to the body size), so a
//! subscriber can time each delivery from the `event` frame alone, whatever
//! sequence number the server gave it. [`Track`] is one subscriber's record:
//! each message index seen once (duplicates counted), every `seq` exactly one
//! after the previous (anything else counted as out of order), and the latency
//! of each first delivery.

use goonline_protocol::native::ServerFrame;
use serde_json::Value;

use crate::histogram::Histogram;

/// The body of message `index` sent `sent_ns` after the run's base instant,
/// padded with `x` to `len` characters (never shorter than its two fields).
pub fn body(index: u64, sent_ns: u64, len: usize) -> String {
    let mut s = format!("m{index:07} t{sent_ns:015} ");
    while s.len() < len {
        s.push('x');
    }
    s
}

/// (index, send time in ns) read back from a body.
pub fn parse_body(b: &str) -> Option<(u64, u64)> {
    let mut parts = b.split_ascii_whitespace();
    let index = parts.next()?.strip_prefix('m')?.parse().ok()?;
    let sent = parts.next()?.strip_prefix('t')?.parse().ok()?;
    Some((index, sent))
}

/// The `event` frame's (seq, message body), if it is a chat `message.created`.
pub fn event_body(f: &ServerFrame) -> Option<(u64, &str)> {
    let ServerFrame::Event { seq, data, .. } = f else {
        return None;
    };
    let body = data.get("message")?.get("body")?.as_str()?;
    Some((*seq, body))
}

/// The `data` of a chat `message.created` event, shaped as GoOnline's (ids of
/// the same lengths), for the floor's writer to send a same-sized frame.
pub fn created_data(seq: u64, body: String, at_ms: i64) -> Value {
    const UUID: &str = "0193a5b0-0000-7000-8000-000000000000";
    serde_json::json!({
        "type": "message.created",
        "message": {
            "id": UUID, "chat_id": UUID, "sender_id": UUID, "body": body,
            "created_at": at_ms, "client_id": format!("w-{seq}"), "seq": seq,
        },
    })
}

/// One subscriber's record of the messages it expects (indices `0..expected`).
#[derive(Debug, Clone)]
pub struct Track {
    seen: Vec<u64>,
    expected: u64,
    last_seq: Option<u64>,
    ordered: bool,
    /// First deliveries.
    pub delivered: u64,
    /// Messages seen again.
    pub duplicates: u64,
    /// Events whose `seq` was not the previous one plus one.
    pub out_of_order: u64,
    /// Events that were not readable chat messages of this run.
    pub foreign: u64,
    /// Bytes of the frames that carried messages.
    pub bytes: u64,
    /// Latency of each first delivery, µs.
    pub latency: Histogram,
}

impl Track {
    /// A record expecting messages `0..expected`; `last_seq` is the sequence
    /// number the subscription started after (`None`: take the first as given).
    pub fn new(expected: u64, last_seq: Option<u64>) -> Track {
        Track {
            seen: vec![0; (expected as usize).div_ceil(64)],
            expected,
            last_seq,
            ordered: true,
            delivered: 0,
            duplicates: 0,
            out_of_order: 0,
            foreign: 0,
            bytes: 0,
            latency: Histogram::new(),
        }
    }

    /// A record that does not check `seq` (the floor with several writers:
    /// it relays frames in arrival order and numbers nothing).
    pub fn unordered(mut self) -> Track {
        self.ordered = false;
        self
    }

    /// Records one event frame of `frame_len` bytes, received `now_ns` after
    /// the base. Returns whether it was a first delivery.
    pub fn event(&mut self, seq: u64, body: &str, frame_len: usize, now_ns: u64) -> bool {
        if let Some(last) = self.last_seq
            && self.ordered
            && seq != last + 1
        {
            self.out_of_order += 1;
        }
        self.last_seq = Some(seq);
        let Some((index, sent_ns)) = parse_body(body) else {
            self.foreign += 1;
            return false;
        };
        if index >= self.expected {
            self.foreign += 1;
            return false;
        }
        self.bytes += frame_len as u64;
        let (w, bit) = (index as usize / 64, 1u64 << (index % 64));
        if self.seen[w] & bit != 0 {
            self.duplicates += 1;
            return false;
        }
        self.seen[w] |= bit;
        self.delivered += 1;
        self.latency.record(now_ns.saturating_sub(sent_ns) / 1000);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_are_padded() {
        let b = body(42, 123_456_789, 100);
        assert_eq!(b.len(), 100);
        assert_eq!(parse_body(&b), Some((42, 123_456_789)));
        assert!(body(1, 2, 0).len() > 20);
        assert_eq!(parse_body("hello"), None);
    }

    #[test]
    fn tracks_count_duplicates_gaps_and_strangers() {
        let mut t = Track::new(3, Some(10));
        assert!(t.event(11, &body(0, 0, 30), 80, 5_000));
        assert!(!t.event(12, &body(0, 0, 30), 80, 5_000)); // same message again
        assert!(t.event(14, &body(2, 1_000, 30), 80, 5_000)); // 13 skipped
        assert!(!t.event(15, "not ours", 80, 5_000));
        assert_eq!(
            (t.delivered, t.duplicates, t.out_of_order, t.foreign),
            (2, 1, 1, 1)
        );
        assert_eq!(t.latency.count(), 2);
        assert_eq!(t.bytes, 240);
    }

    #[test]
    fn the_floor_frame_reads_like_a_goonline_event() {
        let data = created_data(7, body(6, 99, 64), 1_764_000_000_000);
        let bytes = goonline_protocol::native::encode_event_frame("biz/x/chat/y", 7, 1, &data);
        let f = ServerFrame::decode(&bytes).unwrap();
        let (seq, b) = event_body(&f).unwrap();
        assert_eq!((seq, parse_body(b)), (7, Some((6, 99))));
    }
}
